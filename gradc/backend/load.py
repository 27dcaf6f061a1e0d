"""Stage 7: compile generated source into a function, registered with `linecache`.

The generated module is compiled under a filename like `<gradc dloss 1a2b3c4d>`
whose lines `linecache` serves, so tracebacks, `inspect.getsource` and `pdb`
show the generated code. The gradient runs in the primal's module globals.
"""
from __future__ import annotations

import hashlib
import linecache
import types
from typing import Callable

from dataclasses import dataclass
from typing import Any

from ..ir.printer import print_function
from .emit import FACTORY_NAME, Emitted

__all__ = ["Compiled", "compile_factory", "instantiate", "register_source"]


@dataclass
class Compiled:
    """Everything one compilation produced; cached per code object and options. The IR is
    kept as IR and printed only when asked for (printing costs as much as a pass)."""

    primal: Any  # the forward sweep's IR (a Function, or its printed text)
    adjoint: Any  # the gradient's IR (a Function, or its printed text)
    emitted: Emitted
    factory: Any  # the compiled factory's code object
    #: The arguments the function writes into, as (position, leaf): a call must not pass them twice.
    written_arguments: tuple = ()
    #: The names it resolved to objects whose identity it relies on (frontend/dependencies.py).
    dependencies: tuple = ()

    @property
    def primal_ir(self) -> str:
        """The forward sweep's IR: the primal as the transform left it (tapes included)."""
        if not isinstance(self.primal, str):
            self.primal = self.ir.split("  # backward")[0].rstrip() + "\n"
        return self.primal

    @property
    def ir(self) -> str:
        if not isinstance(self.adjoint, str):
            self.adjoint = print_function(self.adjoint)
        return self.adjoint



def register_source(filename: str, source: str) -> None:
    """Make `source` what `linecache` (tracebacks, inspect, pdb) shows for `filename`."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def compile_factory(emitted: Emitted) -> types.CodeType:
    """Compile the generated module; return the code of its factory function."""
    digest = hashlib.sha1(emitted.module_source.encode()).hexdigest()[:8]
    filename = f"<gradc {emitted.function_name} {digest}>"
    register_source(filename, emitted.module_source)
    module = compile(emitted.module_source, filename, "exec")
    return next(c for c in module.co_consts if isinstance(c, types.CodeType) and c.co_name == FACTORY_NAME)


def instantiate(factory: types.CodeType, emitted: Emitted, primal: Callable) -> Callable:
    """The gradient function for `primal`: its globals, gradc's bindings, and the primal's own
    closure cells, so that a closure variable rebound later (`nonlocal t; t = v`) is read with
    its value at the call, as the primal reads it."""
    make = types.FunctionType(factory, primal.__globals__, FACTORY_NAME)
    placeholders = [None] * len(emitted.closure_names)
    function = make(*[emitted.bindings[name] for name in sorted(emitted.bindings)], *placeholders)
    if emitted.closure_names:
        function = _sharing_cells(function, primal, emitted.closure_names)
    function.__qualname__ = function.__name__
    return function


def _sharing_cells(function: types.FunctionType, primal: Callable, names: list[str]) -> types.FunctionType:
    """`function` rebuilt so that its free variables named in `names` are the primal's cells."""
    primal_cells = dict(zip(primal.__code__.co_freevars, primal.__closure__ or ()))
    cells = tuple(primal_cells[name] if name in names and name in primal_cells else cell
                  for name, cell in zip(function.__code__.co_freevars, function.__closure__ or ()))
    shared = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                                function.__defaults__, cells)
    shared.__kwdefaults__ = function.__kwdefaults__
    return shared
