"""Callables that are not plain functions, made into functions gradc can read.

`gradc.grad(model.loss)` (a bound method), `gradc.grad(functools.partial(loss, W))` and
`gradc.grad(model)` (an object with a `__call__` method) differentiate the function underneath
with some of its arguments already given. `as_function` makes such a callable into a small plain
function of the remaining parameters, whose body calls the underlying function with the given
values first; gradc reads it like any function (its source is registered with `linecache`) and
inlines the call, so the gradient is the underlying function's:

    # gradc.grad(model.loss), loss(self, x, y) a method of Model:
    def loss(x, y):
        self = _given[0]
        return _function(self, x, y)

The given values (`self`, a partial's arguments) are constants: `wrt` counts the remaining
parameters only. They are read from `_given`, a list, when the gradient runs; the compiler knows
nothing of them, so one compilation serves every instance and every partial of the same shape
(`model.w` replaced by an array of another shape between calls is read as it is then).
"""
from __future__ import annotations

import builtins
import functools
import inspect
import itertools
import linecache
import types
from typing import Any, Callable

import numpy as np

from ..errors import SourceUnavailableError

__all__ = ["as_function", "describe_callable", "not_a_function"]

_P = inspect.Parameter


def as_function(fun: Any) -> Any:
    """`fun` itself for a plain function (or anything else gradc will refuse, saying why); for a
    bound method, a `functools.partial` or an object with a `__call__` method, a plain function
    of the remaining parameters that calls the underlying function (see the module docstring)."""
    if isinstance(fun, types.FunctionType) or not callable(fun):
        return fun
    unbound = _unbind(fun)
    if unbound is None:
        return fun
    function, given, keywords = unbound
    try:
        signature = inspect.signature(fun)
    except (TypeError, ValueError):
        return fun
    varying = [p for p in signature.parameters.values() if p.kind in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD)]
    if varying:
        raise SourceUnavailableError(
            f"cannot differentiate {describe_callable(fun)}: its function takes `{varying[0]}`",
            hint="gradc differentiates functions with named parameters; write them out "
                 f"(`def {function.__name__}(self, x, y)`)")
    parameters = tuple(signature.parameters.values())
    layout = tuple((p.name, p.kind, p.default is not _P.empty) for p in parameters)
    code, function_name, given_name, defaults_name = _wrapper_code(function, len(given), tuple(keywords), layout)
    namespace = {"__builtins__": builtins, "__name__": function.__module__, function_name: function,
                 given_name: list(given) + list(keywords.values()),
                 defaults_name: {p.name: p.default for p in parameters if p.default is not _P.empty}}
    wrapper = types.FunctionType(code, namespace, function.__name__)
    positional = [p for p in signature.parameters.values() if p.kind != _P.KEYWORD_ONLY]
    defaults = [p.default for p in positional if p.default is not _P.empty]
    wrapper.__defaults__ = tuple(defaults) or None
    wrapper.__kwdefaults__ = {p.name: p.default for p in signature.parameters.values()
                              if p.kind == _P.KEYWORD_ONLY and p.default is not _P.empty} or None
    wrapper.__qualname__ = getattr(fun, "__qualname__", None) or function.__qualname__
    wrapper.__doc__ = function.__doc__
    return wrapper


def describe_callable(fun: Any) -> str:
    """How a callable reads in a message: `Model.loss`, `functools.partial(loss, ...)`."""
    if isinstance(fun, functools.partial):
        return f"functools.partial({describe_callable(fun.func)}, ...)"
    return getattr(fun, "__qualname__", None) or getattr(fun, "__name__", None) or type(fun).__name__


_WHAT_GRADC_TAKES = ("gradc differentiates Python functions (defined with `def`), bound methods (`model.loss`), "
                     "`functools.partial` of them and objects whose class defines `__call__` in Python")


def not_a_function(fun: Any) -> SourceUnavailableError:
    """The refusal of something that is not a function gradc can read, saying what to pass instead."""
    name = describe_callable(fun)
    if isinstance(fun, type):
        return SourceUnavailableError(
            f"cannot differentiate {name}: it is a class", hint=f"{_WHAT_GRADC_TAKES}; differentiate one "
            f"of its methods on an instance (`gradc.grad({name.lower()}.loss)`), or a function that builds one")
    if not callable(fun):
        return SourceUnavailableError(f"cannot differentiate {fun!r:.40}: it is a {type(fun).__name__}, not a function",
                                      hint=_WHAT_GRADC_TAKES)
    module = (getattr(fun, "__module__", None) or getattr(type(fun), "__module__", "") or "").split(".")[0]
    if isinstance(fun, (types.BuiltinFunctionType, types.BuiltinMethodType)) or module in ("numpy", "math", "builtins"):
        what = "a NumPy function" if module == "numpy" else "a builtin function"
        call = f"np.{fun.__name__}(x)" if module == "numpy" and hasattr(np, getattr(fun, "__name__", "")) else \
            f"{getattr(fun, '__name__', 'g')}(x)"
        return SourceUnavailableError(
            f"cannot differentiate {name} on its own: it is {what}, with no Python source for gradc to read",
            hint=f"call it inside a function of yours and differentiate that: `def f(x): return ... {call} ...`, "
                 "then `gradc.grad(f)`")
    return SourceUnavailableError(
        f"cannot differentiate {name}: it is a {type(fun).__name__}, not a Python function with source",
        hint=f"{_WHAT_GRADC_TAKES}; wrap it in one (`def f(x): return ...`)")


def _unbind(fun: Any) -> tuple[types.FunctionType, tuple, dict] | None:
    """The plain function underneath `fun`, the positional arguments given before the caller's
    and the keyword arguments given; None where there is no plain function underneath."""
    if isinstance(fun, types.FunctionType):
        return fun, (), {}
    if isinstance(fun, types.MethodType):
        found = _unbind(fun.__func__)
        return None if found is None else (found[0], found[1] + (fun.__self__,), found[2])
    if isinstance(fun, functools.partial):
        found = _unbind(fun.func)
        return None if found is None else (found[0], found[1] + fun.args, {**found[2], **fun.keywords})
    call = getattr(type(fun), "__call__", None)
    if isinstance(call, types.FunctionType):  # an instance of a class of the user's with `__call__`
        return _unbind(types.MethodType(call, fun))
    return None


@functools.lru_cache(maxsize=256)
def _wrapper_code(function: types.FunctionType, given: int, keywords: tuple,
                  layout: tuple) -> tuple[types.CodeType, str, str, str]:
    """The code of the wrapper for calls of `function` with `given` positional arguments and these
    `keywords` given, taking the parameters of `layout` ((name, kind, has a default) each), and the
    global names it reads the function, the given values and the defaults by. One per kind of
    call, so that compilations are shared."""
    names = {name for name, _, _ in layout} | set(inspect.signature(function).parameters)
    function_name, given_name, defaults_name = (_free(base, names) for base in ("_function", "_given", "_defaults"))
    heads, seen_keyword_only = [], False
    for position, (name, kind, has_default) in enumerate(layout):
        if kind == _P.KEYWORD_ONLY and not seen_keyword_only:
            heads.append("*")
            seen_keyword_only = True
        heads.append(f"{name}={defaults_name}[{name!r}]" if has_default else name)
        if kind == _P.POSITIONAL_ONLY and (position + 1 == len(layout) or layout[position + 1][1] != _P.POSITIONAL_ONLY):
            heads.append("/")
    given_names = list(inspect.signature(function).parameters)[:given]
    arguments = list(given_names)
    arguments += [name for name, kind, _ in layout if kind != _P.KEYWORD_ONLY]
    by_name = [name for name, kind, _ in layout if kind == _P.KEYWORD_ONLY]
    arguments += [f"{name}={name}" for name in by_name]
    arguments += [f"{name}={given_name}[{given + k}]" for k, name in enumerate(keywords) if name not in by_name]
    source = (f"def {function.__name__}({', '.join(heads)}):\n"
              + "".join(f"    {name} = {given_name}[{k}]\n" for k, name in enumerate(given_names))
              + f"    return {function_name}({', '.join(arguments)})\n")
    filename = f"<gradc wrapper of {function.__qualname__} {next(_serial)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # (inspect reads it)
    module = compile(source, filename, "exec")
    code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    return code, function_name, given_name, defaults_name


_serial = itertools.count(1)


def _free(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name = "_" + name
    return name
