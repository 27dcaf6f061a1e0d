"""What a compiled gradient assumed about the names it resolved when it was compiled.

gradc resolves a callee by object when it compiles (`op(x)` with `op` a closure variable or a
global bound to `np.sin`) and writes that callee's rule, or inlines that helper's body, into the
gradient. If the name is later bound to another object (a closure made again by a factory with
another function, a global rebound, a helper redefined in a notebook), the compiled gradient is
stale: it must not be used. `Dependencies` records, for each name or attribute chain resolved to
an object whose identity matters (functions, classes, modules; not numbers, strings, arrays or
containers, which the gradient reads when it runs, nor the library modules' attributes), the
object it denoted; `stale` says whether any now denotes another.
"""
from __future__ import annotations

import builtins
import types
from typing import Any, Callable

__all__ = ["Dependencies", "stale", "current", "guard_checks", "is_value", "snapshot"]

_MISSING = object()
_LIBRARY_MODULES = ("numpy", "math", "cmath", "builtins", "operator", "functools", "gradc")

#: (owner, chain) → the object: `owner` None for the function compiled, else the helper whose
#: namespace resolves the chain; `chain` the name and the attributes read from it.
Dependencies = tuple


def is_value(obj: Any) -> bool:
    """Objects the gradient reads when it runs, never resolved into its code by identity."""
    return obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)) or \
        type(obj).__module__ == "numpy" and not callable(obj)


def _is_library_module(obj: Any) -> bool:
    return isinstance(obj, types.ModuleType) and obj.__name__.split(".")[0] in _LIBRARY_MODULES


def worth_recording(fn: Callable, chain: tuple, root: Any, obj: Any) -> bool:
    """Whether the resolution of `chain` for `fn` (its root name denoting `root`) to `obj` must be
    checked: not a library module's attribute (`np.sin`), not a value, not a builtin (a global
    shadowing one after the compilation aside)."""
    name = chain[0]
    if name not in fn.__globals__ and name not in fn.__code__.co_freevars:
        return False
    if not (callable(obj) or isinstance(obj, types.ModuleType)):
        return False  # (a list or dict of arrays a global holds is read when the gradient runs)
    return not _is_library_module(root) and not is_value(obj) and not _is_library_module(obj)


def current(fn: Callable, chain: tuple) -> Any:
    """What `chain` (a name, then attributes) denotes for `fn` now: closure, globals, builtins."""
    name = chain[0]
    code = fn.__code__
    if name in code.co_freevars and fn.__closure__:
        try:
            obj = fn.__closure__[code.co_freevars.index(name)].cell_contents
        except ValueError:
            return _MISSING
    elif name in fn.__globals__:
        obj = fn.__globals__[name]
    else:
        obj = getattr(builtins, name, _MISSING)
    for attr in chain[1:]:
        obj = getattr(obj, attr, _MISSING)
    return obj


def stale(dependencies: Dependencies, fn: Callable) -> bool:
    """Whether a name the compilation resolved now denotes another object (`fn`: the function
    compiled, whose own closure and globals are read; a helper's through the helper)."""
    return any(current(owner or fn, chain) is not obj for (owner, chain), obj in dependencies)


def guard_checks(dependencies: Dependencies, fn: Callable) -> tuple[list[str], dict[str, Any]] | None:
    """Inline tests (`expression is _dK`) of `dependencies` for a call guard, and their bindings;
    None where one cannot be written inline (an empty closure cell)."""
    checks, bindings = [], {"_dep_missing": _MISSING, "_dep_builtins": vars(builtins)}
    for k, ((owner, chain), obj) in enumerate(dependencies):
        owner = owner or fn
        name, code = chain[0], owner.__code__
        if name in code.co_freevars and owner.__closure__:
            expression = f"_dep_cell{k}.cell_contents"
            bindings[f"_dep_cell{k}"] = owner.__closure__[code.co_freevars.index(name)]
            try:
                bindings[f"_dep_cell{k}"].cell_contents
            except ValueError:
                return None
        else:
            expression = f"_dep_globals{k}.get({name!r}, _dep_builtins.get({name!r}, _dep_missing))"
            bindings[f"_dep_globals{k}"] = owner.__globals__
        for attr in chain[1:]:
            expression = f"getattr({expression}, {attr!r}, _dep_missing)"
        checks.append(f"{expression} is _dep{k}")
        bindings[f"_dep{k}"] = obj
    return checks, bindings


def snapshot(fn: Callable) -> Dependencies:
    """The dependencies of a gradient loaded from the disk cache (not lowered here): every global
    and closure name `fn`'s own code reads, as it is now (its key described them when stored)."""
    code = fn.__code__
    names = [n for n in code.co_names if n in fn.__globals__] + list(code.co_freevars)
    found = []
    for name in dict.fromkeys(names):
        obj = current(fn, (name,))
        if obj is not _MISSING and worth_recording(fn, (name,), obj, obj):
            found.append(((None, (name,)), obj))
    return tuple(found)
