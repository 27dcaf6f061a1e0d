"""A generated gradient as a module that needs only NumPy (`gradc FILE.py:FUNC --standalone`).

The module holds, in order: a docstring saying where it came from; the imports the gradient and
its helpers need (`import numpy as np`, `import math`, ...); plain constants they read; notes for
user names that cannot be copied (define or import them before calling); stand-ins for the gradc
exception classes the helpers raise; the source of every gradc runtime helper and rule function
the gradient calls, and of the helpers *they* call, transitively; then the gradient itself.

    from gradc.backend.standalone import standalone_module
    text = standalone_module(gradc.grad(loss, wrt=("W", "b")))
"""
from __future__ import annotations

import ast
import builtins
import dis
import inspect
import textwrap
import types
from dataclasses import dataclass, field
from typing import Any

from ..errors import GradcError
from . import check

__all__ = ["standalone_module"]

_SIMPLE = (int, float, complex, str, bytes, bool, type(None))
_CONVENTIONAL = {"numpy": "np"}


@dataclass
class _Module:
    """What the standalone module is assembled from."""

    imports: dict[str, str] = field(default_factory=dict)  # name → import statement
    constants: dict[str, str] = field(default_factory=dict)  # name → assignment
    notes: list[str] = field(default_factory=list)
    classes: dict[str, str] = field(default_factory=dict)  # name → class statement
    functions: dict[str, str] = field(default_factory=dict)  # name → def source
    owners: dict[str, Any] = field(default_factory=dict)  # name → the object it holds


def _global_names(code: types.CodeType) -> list[str]:
    """The global names `code` (and code nested in it) loads, in order of first use."""
    names: list[str] = []
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME") and instruction.argval not in names:
            names.append(instruction.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += [n for n in _global_names(const) if n not in names]
    return names


def _function_source(fn: types.FunctionType, name: str) -> str:
    """`fn`'s source without decorators, dedented, its `def` renamed to `name`."""
    lines, _ = inspect.getsourcelines(fn)
    text = textwrap.dedent("".join(lines))
    start = next(i for i, line in enumerate(text.splitlines(True)) if line.lstrip().startswith("def "))
    text = "".join(text.splitlines(True)[start:])
    return text.replace(f"def {fn.__name__}(", f"def {name}(", 1).rstrip() + "\n"


def _claim(module: _Module, name: str, obj: Any) -> bool:
    """Reserve `name` for `obj`; False if it is already there. Two objects under one name is an error."""
    if name in module.owners:
        if module.owners[name] is not obj:
            raise GradcError(f"cannot write a standalone module: two different objects are both called "
                             f"`{name}` ({module.owners[name]!r} and {obj!r})")
        return False
    module.owners[name] = obj
    return True


def _is_gradc(obj: Any) -> bool:
    name = getattr(obj, "__module__", "") or ""
    return name == "gradc" or name.startswith("gradc.")


def _add_error_class(module: _Module, name: str, cls: type) -> None:
    """A stand-in for a gradc exception class: same name and bases, message and hint in the text."""
    if not _claim(module, name, cls):
        return
    bases = []
    for base in cls.__bases__:
        if _is_gradc(base):
            _add_error_class(module, base.__name__, base)
        bases.append(base.__name__)
    if bases == ["Exception"]:
        body = ('    """Stand-in for gradc\'s error class of this name."""\n\n'
                '    def __init__(self, message, loc=None, hint=""):\n'
                '        super().__init__(f"{message}\\n{hint}" if hint else message)\n')
    else:
        body = '    """Stand-in for gradc\'s error class of this name."""\n'
    module.classes[name] = f"class {name}({', '.join(bases)}):\n{body}"


def _add_helper(module: _Module, name: str, fn: types.FunctionType) -> None:
    """Copy `fn` (a gradc helper or rule, or a user rule) and, transitively, what it reads."""
    if not _claim(module, name, fn):
        return
    module.functions[name] = _function_source(fn, name)
    for global_name in _global_names(fn.__code__):
        if global_name in fn.__globals__:
            _add_global(module, global_name, fn.__globals__[global_name], f"`{fn.__qualname__}`", copy=True)


def _add_class(module: _Module, name: str, cls: type) -> None:
    """Copy a gradc class (`Adjoints`) and, transitively, what its methods and decorators read."""
    if not _claim(module, name, cls):
        return
    text = textwrap.dedent(inspect.getsource(cls))
    module.classes[name] = text.replace(f"class {cls.__name__}", f"class {name}", 1).rstrip() + "\n"
    globals_ = vars(__import__("sys").modules[cls.__module__])
    read = [n.id for d in ast.parse(text).body[0].decorator_list for n in ast.walk(d) if isinstance(n, ast.Name)]
    read += [base.__name__ for base in cls.__bases__ if base.__module__ == cls.__module__]
    for member in vars(cls).values():
        if isinstance(member, types.FunctionType):
            read += _global_names(member.__code__)
    for global_name in dict.fromkeys(read):
        if global_name in globals_ and global_name != name:
            _add_global(module, global_name, globals_[global_name], f"`{cls.__qualname__}`", copy=True)


def _add_global(module: _Module, name: str, value: Any, reader: str, copy: bool) -> None:
    """Make `name` mean `value` in the standalone module: import, constant, copy, or a note."""
    if isinstance(value, types.ModuleType):
        if _claim(module, name, value):
            alias = value.__name__ if name == value.__name__ else f"{value.__name__} as {name}"
            module.imports[name] = f"import {alias}"
    elif isinstance(value, _SIMPLE) or (isinstance(value, tuple) and all(isinstance(v, _SIMPLE) for v in value)):
        if _claim(module, name, value):
            module.constants[name] = f"{name} = {value!r}"
    elif isinstance(value, type) and issubclass(value, BaseException) and _is_gradc(value):
        _add_error_class(module, name, value)
    elif isinstance(value, type) and _is_gradc(value):
        _add_class(module, name, value)
    elif isinstance(value, types.FunctionType) and (copy or _is_gradc(value)):
        _add_helper(module, name, value)
    elif _importable(value) and _claim(module, name, value):
        module.imports[name] = _import_statement(name, value)
    elif name not in module.owners:
        where = getattr(value, "__module__", None) or "its module"
        module.owners[name] = value
        module.notes.append(f"{reader} reads `{name}` ({type(value).__name__} from {where}): "
                            f"define or import it here")


def _importable(value: Any) -> bool:
    """True if `from module import qualname` gives `value` back in another process."""
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "." in qualname or "<" in qualname:
        return False
    if module == "__main__" or module.startswith("_gradc_cli_") or _is_gradc(value):
        return False
    imported = __import__("sys").modules.get(module)
    return imported is not None and getattr(imported, qualname, None) is value


def _import_statement(name: str, value: Any) -> str:
    qualname = value.__qualname__
    return f"from {value.__module__} import {qualname}" + ("" if name == qualname else f" as {name}")


def _gradient_code(emitted: Any) -> types.CodeType:
    """The code object of the generated gradient (inside the factory)."""
    module = compile(emitted.module_source, "<gradc standalone>", "exec")
    factory = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    return next(c for c in factory.co_consts if isinstance(c, types.CodeType) and c.co_name == emitted.function_name)


def _collect(gradient: Any) -> _Module:
    """Everything the gradient of `gradient` (a GradFunction) reads, made standalone."""
    emitted, primal = gradient.compiled.emitted, gradient.__wrapped__
    module = _Module()
    for name, obj in sorted(emitted.bindings.items()):
        if obj is check.BufferCheck or isinstance(obj, check.CheckTable):
            continue  # (the checker a GRADC_VERIFY=1 build calls: not part of the gradient shown)
        _add_global(module, name, obj, "the gradient", copy=True)
    closure = dict(zip(primal.__code__.co_freevars, primal.__closure__ or ()))
    for name in emitted.closure_names:
        _add_global(module, name, closure[name].cell_contents, "the gradient (closure)", copy=False)
    for name in _global_names(_gradient_code(emitted)):
        if name in primal.__globals__:
            _add_global(module, name, primal.__globals__[name], "the gradient", copy=False)
        elif not hasattr(builtins, name):
            module.notes.append(f"the gradient reads `{name}`, which is not defined yet: define it here")
    return module


def _header(gradient: Any, command: str) -> str:
    from .. import __version__
    primal = gradient.__wrapped__
    names = ", ".join(gradient._names[i] for i in gradient._wrt)
    try:
        where = f"{inspect.getsourcefile(primal)}:{primal.__code__.co_firstlineno}"
    except TypeError:
        where = primal.__code__.co_filename
    lines = [f'"""Gradient of `{primal.__qualname__}` with respect to {names}, generated by gradc {__version__}.',
             "", f"The primal is {where}." + (f" Regenerate with: {command}" if command else ""),
             "This module needs only NumPy: the gradc helpers the gradient calls are copied below.", '"""']
    return "\n".join(lines)


def standalone_module(gradient: Any, command: str = "") -> str:
    """The source of a module defining `gradient`'s generated function, runnable without gradc."""
    module = _collect(gradient)
    emitted = gradient.compiled.emitted
    parts = [_header(gradient, command)]
    if module.imports:
        parts.append("\n".join(sorted(module.imports.values())))
    if module.constants:
        parts.append("\n".join(module.constants.values()))
    if module.notes:
        parts.append("\n".join(f"# NOTE: {note}" for note in module.notes))
    parts += list(module.classes.values())
    if module.functions:
        parts.append("# -- gradc helpers (copied from gradc; plain NumPy) " + "-" * 40)
        parts += [module.functions[name] for name in sorted(module.functions)]
    parts.append("# -- the gradient " + "-" * 74 + "\n" + emitted.function_source.rstrip())
    return "\n\n\n".join(part.rstrip() for part in parts) + "\n"
