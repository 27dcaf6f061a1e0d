"""The public transforms: `grad`, `value_and_grad`, `vjp`, and `GradFunction`.

The whole compiler pipeline is `compile_gradient`, one stage per line:

    source ─► AST ─► normalized AST ─► IR ─► adjoint IR ─► optimized IR ─► Python source ─► function
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import inspect
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from . import rules  # noqa: F401  (registers every rule)
from .ad.forward import forward
from .ad.reverse import reverse
from .arrays import (DASK, dask_kind, is_dask, is_standard_array, library_of, match_dask, match_standard,
                     plain_kinds, refuse_writes_through_views, refusing_computes, standard_kind, target_for)
from .backend.emit import emit
from .backend.standard import emit_standard
from .backend import cache as disk_cache
from .backend import check as buffer_check
from .backend.load import Compiled, compile_factory, instantiate, register_source
from .debug import line_maps_of, note_primal_line
from .errors import GradcError, KindDependentError, NonDifferentiableArgumentError, UnresolvedNameError
from .frontend import dependencies
from .frontend.callables import as_function
from .frontend import records
from .analysis.shapes import is_array_kind
from .frontend.lower import is_structure, local_names, lower_function
from .frontend.standard_calls import refuse_numpy_calls
from .frontend.source import ParsedFunction, display_name, parse_function
from .ir.core import Function
from .ir.verify import verify
from .passes import optimize as run_passes
from .passes import NUMPY, Target, share_primal
from .rules.registry import _version as _rules_version
from .rules.registry import version as rules_version

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "source", "GradFunction", "JVPFunction", "compile_gradient",
           "Compiled"]


def compile_gradient(fn: Callable, wrt: tuple[int, ...], mode: str = "grad", optimize: bool = True,
                     parsed: ParsedFunction | None = None, primal: Function | None = None,
                     kinds: tuple = (), target: Target = NUMPY) -> Compiled:
    """Run the pipeline on `fn`: the stages, in order. `kinds` says what is known of each
    argument of the calls the gradient is for: an array's shape, "s" for a Python or NumPy
    scalar, a container's structure; None (or nothing) for any value. `target` says what the
    arrays allow (NumPy's may be written in place)."""
    with _no_garbage_collection():  # (the IR's many small cycles make the collector quadratic)
        return _compile_stages(fn, wrt, mode, optimize, parsed, primal, kinds, target)


@contextlib.contextmanager
def _no_garbage_collection():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _compile_stages(fn: Callable, wrt: tuple[int, ...], mode: str, optimize: bool,
                    parsed: ParsedFunction | None, primal: Function | None, kinds: tuple,
                    target: Target) -> Compiled:
    structures = {i: k for i, k in enumerate(kinds) if i in wrt and is_structure(k)}
    parsed = parsed or parse_function(fn)                     # source → AST
    if primal is None or primal.kind_dependent:  # (its arguments' kinds decide what some names see)
        primal = lower_function(parsed, structures, kinds or None)
        records.refuse_whole_uses(primal)                     # (a dataclass in wrt: field by field)
    primal = verify(primal)                                   # AST → normalized AST → IR
    if target.namespace:  # (another library's arrays: a NumPy function the user calls would not take them)
        refuse_numpy_calls(primal, target.namespace)
    if not target.mutable_arrays:  # (their views are not NumPy's)
        refuse_writes_through_views(primal, target.namespace or "Dask")
    if mode == "jvp":                                         # IR → tangent IR (forward mode)
        adjoint = forward(share_primal(primal, optimize), list(wrt), kinds, _jvp_of_callee)
    else:                                                     # IR → adjoint IR (reverse mode)
        adjoint = reverse(share_primal(primal, optimize), list(wrt), mode, kinds, _vjp_of_callee)
    adjoint = verify(run_passes(adjoint, optimize, target))   # → optimized IR, bufferized
    if target.namespace:                                      # → Python source
        emitted = emit_standard(adjoint, fn.__globals__, _closure(fn), _user_names(parsed, adjoint), target.namespace,
                                [name for name, kind in zip(_parameters(fn), kinds) if is_array_kind(kind)])
    else:
        emitted = emit(adjoint, fn.__globals__, _closure(fn), _user_names(parsed, adjoint))
    return Compiled(None, adjoint, emitted, compile_factory(emitted),  # → compiled function
                    getattr(primal, "written_arguments", ()), getattr(primal, "dependencies", ()))


def _refusing_shared_arguments(function: Callable, written: tuple, primal: Callable) -> Callable:
    """`function`, checking first that no argument the primal writes into shares memory with another
    argument: Python would see the write through both; the gradient follows each on its own."""
    names = _parameters(primal)

    def leaves(args: tuple) -> list[tuple[tuple, Any]]:
        found = []
        for position, value in enumerate(args):
            if isinstance(value, np.ndarray):
                found.append(((position, ()), value))
            elif type(value) in (list, tuple, dict) or records.is_record(value):
                items = list(value.values()) if type(value) is dict else \
                    [v for _, v in records.children(value)] if records.is_record(value) else list(value)
                found.extend(((position, k), item) for k, item in enumerate(_flat(items)) if
                             isinstance(item, np.ndarray))
        return found

    def checked(*args: Any, **kwargs: Any) -> Any:
        arrays = leaves(args)
        for where, array in arrays:
            if where not in written and (where[0], ()) not in written:
                continue
            for other, theirs in arrays:
                if other != where and np.shares_memory(array, theirs):
                    first, second = (names[w[0]] if w[0] < len(names) else str(w[0]) for w in (where, other))
                    raise GradcError(f"{primal.__name__} writes into its argument `{first}`, and this call passes "
                                     f"`{second}` sharing memory with it: Python would see the write through both",
                                     hint="pass a copy (`.copy()`) of one of them")
        return function(*args, **kwargs)

    checked.__wrapped__ = function
    checked.__name__ = function.__name__
    return checked


def _flat(items: list) -> list:
    flat = []
    for item in items:
        if type(item) in (list, tuple):
            flat.extend(_flat(list(item)))
        elif type(item) is dict:
            flat.extend(_flat(list(item.values())))
        elif records.is_record(item):
            flat.extend(_flat([v for _, v in records.children(item)]))
        else:
            flat.append(item)
    return flat


def _vjp_of_callee(function: Callable, wrt: tuple[int, ...]) -> Callable:
    """The vjp a recursive call is differentiated by at run time (see ad/reverse.recursive_rule)."""
    return VJPFunction(function, wrt=wrt)


def _jvp_of_callee(function: Callable, wrt: tuple[int, ...]) -> Callable:
    """The jvp a recursive call is differentiated by in forward mode (see ad/forward.recursive_jvp)."""
    return JVPFunction(function, wrt=wrt)


_vjp_of_callee.jvp = _jvp_of_callee  # (a recursive call's vjp is differentiated again by the jvp of it)


def _closure(fn: Callable) -> dict[str, Any]:
    """The primal's closure variables by name (empty cells left out)."""
    values = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            values[name] = cell.cell_contents
        except ValueError:
            pass
    return values


def _user_names(parsed: ParsedFunction, function: Function) -> set[str]:
    """The function's own variable names (arguments and assigned names)."""
    return local_names(parsed.node) | {p.hint for p in function.params}


class _CodeCache:
    """Compiled gradients per code object, by identity (equal code objects of two functions
    defined alike must not share an entry: comments name the lines). A redefined function has
    a new code object, so its old entries are never found again, and they go when it goes."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref, dict[tuple, Compiled]]] = {}

    def entries(self, code: Any) -> dict[tuple, Compiled] | None:
        found = self._entries.get(id(code))
        return found[1] if found is not None and found[0]() is code else None

    def get(self, fn: Callable, key: tuple) -> Compiled | None:
        """The compilation for `fn` with these options, unless a name it resolved now denotes
        another object for `fn` (a closure made again with another callee: same code object)."""
        entries = self.entries(fn.__code__)
        found = entries.get(key + (rules_version(),)) if entries else None
        return None if found is None or dependencies.stale(found.dependencies, fn) else found

    def put(self, fn: Callable, key: tuple, compiled: Compiled) -> None:
        code = fn.__code__
        if self.entries(code) is None:
            ident = id(code)
            self._entries[ident] = (weakref.ref(code, lambda _: self._entries.pop(ident, None)), {})
        self._entries[id(code)][1][key + (rules_version(),)] = compiled

    def clear(self) -> None:
        self._entries.clear()


_CACHE = _CodeCache()


def _cached(fn: Callable, key: tuple) -> Compiled | None:
    return _CACHE.get(fn, key)


def _store(fn: Callable, key: tuple, compiled: Compiled) -> None:
    _CACHE.put(fn, key, compiled)


def clear_cache() -> None:
    """Forget every compiled gradient (the next call compiles again)."""
    _CACHE.clear()


# Argument types that make a call's signature say "scalar" (exact types: a cheap test per call).
_SCALAR_TYPES = frozenset({float, int, bool, np.float64, np.float32, np.float16, np.int64, np.int32, np.bool_})


def _parameters(fn: Callable) -> list[str]:
    code = fn.__code__
    return list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])


def _normalize_wrt(fn: Callable, wrt: int | str | Sequence[int | str]) -> tuple[tuple[int, ...], bool]:
    """`wrt` as parameter indices, and whether the caller asked for a tuple."""
    names = _parameters(fn)
    as_tuple = isinstance(wrt, (tuple, list))
    items = list(wrt) if as_tuple else [wrt]
    if not items:
        raise GradcError("wrt is empty: name at least one argument to differentiate with respect to")
    indices = []
    for item in items:
        if isinstance(item, str):
            if item not in names:
                raise GradcError(f"wrt={item!r}: {fn.__name__} has no argument named {item!r} "
                                 f"(its arguments are {', '.join(names) or 'none'})")
            indices.append(names.index(item))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            index = int(item)
            if not -len(names) <= index < len(names):
                raise GradcError(f"wrt={index}: {fn.__name__} has {len(names)} argument(s)")
            indices.append(index % len(names))
        else:
            raise GradcError(f"wrt must be an argument index or name, or a tuple of them; got {item!r}")
    if len(set(indices)) != len(indices):
        raise GradcError(f"wrt names the same argument twice: {wrt!r}")
    return tuple(indices), as_tuple


def _check_differentiable(name: str, value: Any) -> None:
    if records.is_record(value):  # (its other fields are constants)
        for field, item in records.children(value):
            _check_differentiable(f"{name}.{field}", item)
        return
    if type(value) is dict:
        for key, item in value.items():
            _check_differentiable(f"{name}[{key!r}]", item)
        return
    if type(value) in (list, tuple):
        for index, item in enumerate(value):
            _check_differentiable(f"{name}[{index}]", item)
        return
    _check_leaf(name, value)


def _check_leaf(name: str, value: Any) -> None:
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (int, np.integer)):
        raise NonDifferentiableArgumentError(
            f"argument `{name}` is {type(value).__name__} {value!r}; an integer or boolean has no gradient",
            hint=f"pass a float (e.g. {float(value)!r}) or leave `{name}` out of wrt")
    if is_standard_array(value) and not np.issubdtype(standard_kind(value)[2], np.floating):
        raise NonDifferentiableArgumentError(
            f"argument `{name}` is an array of dtype {value.dtype}; gradc differentiates floating-point arrays",
            hint=f"convert it with `xp.astype({name}, xp.float64)` or leave `{name}` out of wrt")
    if (isinstance(value, np.ndarray) or is_dask(value)) and not np.issubdtype(value.dtype, np.floating):
        raise NonDifferentiableArgumentError(
            f"argument `{name}` is an array of dtype {value.dtype}; gradc differentiates floating-point arrays",
            hint=f"convert it with `{name}.astype(float)` or leave `{name}` out of wrt")
    if isinstance(value, complex) or np.iscomplexobj(value):
        raise NonDifferentiableArgumentError(f"argument `{name}` is complex; gradc differentiates real numbers")


_CONTAINER_TYPES = (list, tuple, dict)


def _kind(value: Any) -> Any:
    """What a compiled gradient depends on of an argument: an array's (shape, dtype), a scalar's
    type, a container's structure; None for anything else. Kinds key the compiled gradients,
    so the checks of `wrt` arguments run once per kind, not once per call."""
    kind = type(value)
    if kind is np.ndarray:
        return value.shape, value.dtype
    if kind in _SCALAR_TYPES:
        return kind
    if kind in _CONTAINER_TYPES:
        return _structure(value)
    if records.is_record(value):  # (a dataclass, named tuple, namespace: see frontend/records.py)
        return records.record_kind(value, _kind)
    if is_dask(value):  # (the library is part of the kind: NumPy and Dask gradients side by side)
        return dask_kind(value)
    if is_standard_array(value):  # (array_api_strict, PyTorch: reached through the array API's `xp`)
        return standard_kind(value)
    return None


def _structure(value: Any) -> Any:
    """The structure of a container argument, its leaves' kinds at the leaves (see `lower_function`)."""
    if type(value) is dict:
        return ("dict", tuple(value), tuple(_kind(v) for v in value.values()))
    return (type(value).__name__, tuple(_kind(v) for v in value))


def _argument_ids(args: tuple) -> set[int]:
    """The ids of the arrays among the arguments, inside lists, tuples and dicts too."""
    ids: set[int] = set()
    stack = list(args)
    while stack:
        value = stack.pop()
        if type(value) is np.ndarray or is_standard_array(value):
            ids.add(id(value))
        elif type(value) is dict:
            stack.extend(value.values())
        elif type(value) in (list, tuple):
            stack.extend(value)
        elif records.is_record(value):
            stack.extend(v for _, v in records.fields_of(value))
    return ids


def _distinct(gradients: Any, seen: set[int] | None = None) -> Any:
    """Gradients as separate arrays, within containers too, and none of them an argument's
    (`seen` starts with the arguments' arrays): `d(x * y)/dx` is `y`, and `d(x + y)` one array
    for both; updating a gradient in place (`dx *= 0.5`) must change nothing else."""
    seen = set() if seen is None else seen
    if type(gradients) is np.ndarray:
        if id(gradients) in seen:
            return gradients.copy()
        seen.add(id(gradients))
        return gradients
    if is_standard_array(gradients) and id(gradients) in seen:
        return match_standard(gradients, gradients)  # (a copy)
    if type(gradients) is dict:
        return {key: _distinct(value, seen) for key, value in gradients.items()}
    if type(gradients) in (list, tuple):
        return type(gradients)(_distinct(value, seen) for value in gradients)
    if records.is_record(gradients):
        return records.as_record({k: v for k, v in records.fields_of(gradients)}, gradients,
                                 lambda g, _: _distinct(g, seen) if g is not None else None, every_field=True)
    return gradients


def _to_float(gradient: Any, like: float) -> float:
    return gradient if type(gradient) is float else _real_float(gradient)


def _real_float(gradient: Any) -> float:
    """A float argument's gradient: of a complex intermediate, its real part (autograd's convention:
    the gradient of a real argument is real)."""
    return float(np.real(gradient)) if np.iscomplexobj(gradient) else float(gradient)


def _array_matcher(shape: tuple, dtype: np.dtype) -> Callable:
    """`_match` for an array argument of this shape and dtype: a fresh array of that kind, as
    the generated code usually returns, goes through as it is."""
    def match(gradient: Any, like: Any) -> Any:
        if type(gradient) is np.ndarray and gradient.dtype is dtype and gradient.shape == shape and \
                gradient.base is None and gradient.flags.writeable:
            return gradient
        return _match(gradient, like)
    return match


def _matcher(kind: Any) -> Callable:
    """The cheapest `_match` that is right for an argument of this kind (see `_kind`)."""
    if kind is float:
        return _to_float
    if is_array_kind(kind):
        return _array_matcher(*kind)
    return _match


def _floats(gradients: tuple, args: tuple) -> tuple:
    """Gradients with respect to several float arguments, as floats (NumPy scalars converted)."""
    if _FLOAT.issuperset(map(type, gradients)):
        return gradients
    return tuple(map(_real_float, gradients))


_FLOAT = frozenset({float})


def _match(gradient: Any, like: Any) -> Any:
    """The gradient in the structure, shape and floating dtype of its argument."""
    if type(like) is dict:
        return {key: _match(gradient[key], value) for key, value in like.items()}
    if type(like) in (list, tuple):
        return type(like)(_match(g, value) for g, value in zip(gradient, like))
    if records.is_record(like):  # (the generated code gives a dict of the differentiated fields)
        return records.as_record(gradient, like, _match)
    if is_standard_array(like) or is_standard_array(gradient):
        return match_standard(gradient, like)
    if isinstance(like, float):  # (one that depends on Dask data: a lazy 0-d Dask array)
        return match_dask(gradient, like) if is_dask(gradient) else _real_float(gradient)
    if isinstance(like, np.ndarray) and is_dask(gradient):
        return match_dask(gradient, like)  # (lazy: a NumPy argument's gradient that depends on Dask data)
    if is_dask(like):
        return match_dask(gradient, like)
    if isinstance(like, np.ndarray):
        if np.iscomplexobj(gradient) and not np.iscomplexobj(like):
            gradient = np.real(gradient)  # (a real argument's gradient is real: see `_real_float`)
        if not isinstance(gradient, np.ndarray) or gradient.dtype != like.dtype or \
                not gradient.flags.writeable or gradient.base is not None:
            gradient = np.array(gradient, dtype=like.dtype)
        if gradient.shape != like.shape:
            if gradient.ndim == 0:
                return np.full(like.shape, gradient, dtype=like.dtype)
            raise AssertionError(f"gradc bug: gradient of shape {gradient.shape} for an argument of "
                                 f"shape {like.shape}; please report it")
        return gradient
    if isinstance(like, np.generic):
        return type(like)(np.real(gradient) if np.iscomplexobj(gradient) and not np.iscomplexobj(like) else gradient)
    return gradient


def _guard(kinds: tuple, entry: tuple, accept: str, general: Callable, note: Callable,
           depends: tuple = (), fn: Callable | None = None) -> Callable | None:
    """A function taking the arguments of a call, that runs the gradient for `kinds` straight
    away when the arguments are of these kinds (positional, each its type, shape and dtype
    checked inline), and hands anything else to `general`. Generated, because a check written
    out per argument costs a fraction of a generic one: calls of a gradient of scalar code
    spend as long in the checks as in the gradient. None for kinds it does not check inline
    (containers and other objects: every call takes the general path)."""
    version, function, convert = entry
    names = [f"a{i}" for i in range(len(kinds))]
    checks, bindings = ["_version[0] == _V"], {"_version": _rules_version, "_V": version}
    if depends:  # (each name the compilation resolved to an object still denotes it)
        inline = dependencies.guard_checks(depends, fn)
        if inline is None:
            return None
        checks += inline[0]
        bindings.update(inline[1])
    for name, kind in zip(names, kinds):
        if isinstance(kind, type) and kind in _SCALAR_TYPES:
            checks.append(f"type({name}) is _{name}_type")
            bindings[f"_{name}_type"] = kind
        elif is_array_kind(kind):
            checks.append(f"type({name}) is _ndarray and {name}.shape == _{name}_shape and {name}.dtype is _{name}_dtype")
            bindings.update({f"_{name}_shape": kind[0], f"_{name}_dtype": kind[1], "_ndarray": np.ndarray})
        else:
            return None  # containers, other objects: the general path
    arguments = ", ".join(names)
    finish = "return _convert(result, (" + arguments + ",))"
    # Parameters default to a marker, so that a call with fewer positional arguments (keywords)
    # reaches `general` with exactly the arguments it was given.
    parameters = "".join(f"{name}=_MISSING, " for name in names)
    given = f"*[a for a in ({arguments}{',' if len(names) == 1 else ''}) if a is not _MISSING], " if names else ""
    source = (f"def _make({', '.join(bindings)}, _function, _convert, _general, _note, _MISSING):\n"
              f"    def guard({parameters}*rest, **kwargs):\n"
              f"        if rest or kwargs or not ({' and '.join(checks)}):\n"
              f"            return _general({given}*rest, **kwargs)\n"
              f"        try:\n"
              f"            result = _function({arguments})\n"
              f"        except Exception as exc:\n"
              f"            _note(exc)\n"
              f"            raise\n"
              f"{accept}"
              f"        {finish}\n"
              f"    return guard\n")
    namespace: dict[str, Any] = {}
    filename = f"<gradc call guard {hashlib.sha1(source.encode()).hexdigest()[:8]}>"
    register_source(filename, source)  # (tracebacks and pdb show it like any other code)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own text
    guard = namespace["_make"](*bindings.values(), function, convert, general, note, _MISSING)
    guard.entry = entry
    return guard


_MISSING = object()
_NO_GUARD = object()  # (kinds never seen; None: kinds the guard does not check)


def _accept_as_is(kinds: tuple, wrt: tuple, plain: bool) -> str:
    """Lines of a guard that return the generated function's result unconverted when it already is
    what the converter would make of it: floats for float arguments, fresh writeable arrays of the
    argument's shape and dtype (none of the arguments themselves) for arrays. `plain`: a `grad`
    whose result is the gradient, or the tuple of gradients, as they come."""
    if not plain:
        return ""
    arrays = [f"a{i}" for i, kind in enumerate(kinds) if type(kind) is tuple]
    checks = []
    for position, i in enumerate(wrt):
        item = "result" if len(wrt) == 1 else f"result[{position}]"
        kind = kinds[i]
        if kind is float:
            checks.append(f"type({item}) is float")
        elif type(kind) is tuple:
            checks.append(f"type({item}) is _ndarray and {item}.base is None and {item}.shape == _a{i}_shape "
                          f"and {item}.dtype is _a{i}_dtype and {item}.flags.writeable"
                          + "".join(f" and {item} is not {a}" for a in arrays))
        else:
            return ""
    if len(wrt) > 1:
        checks.insert(0, f"type(result) is tuple and len(result) == {len(wrt)}")
        arrays_out = [p for p, i in enumerate(wrt) if type(kinds[i]) is tuple]
        checks += [f"result[{p}] is not result[{q}]" for k, p in enumerate(arrays_out) for q in arrays_out[k + 1:]]
    return f"        if {' and '.join(checks)}:\n            return result\n"


class GradFunction:
    """The compiled gradient of a function: call it like the function.

    >>> import numpy as np, gradc
    >>> @gradc.grad
    ... def f(x):
    ...     return np.sum(np.tanh(x))
    >>> f(np.zeros(2))
    array([1., 1.])
    """

    def __init__(self, fun: Callable, wrt: int | str | Sequence[int | str] = 0, optimize: bool = True,
                 cache: bool | None = None, mode: str = "grad"):
        fun = as_function(_unwrap(fun))  # (a bound method, a partial: a function of the other parameters)
        self.__wrapped__ = fun
        self._mode, self._optimize, self._cache = mode, bool(optimize), cache
        self._functions: dict[tuple[bool, ...], tuple[int, Callable]] = {}
        self._parsed, self._primal = None, None
        if _CACHE.entries(getattr(fun, "__code__", None)) is None and not disk_cache.has_entries(fun, cache):
            # Refuse unsupported code now, at grad(f) time. If a name is not defined yet (a helper
            # defined below a decorated function), lowering waits for the first call.
            with _no_garbage_collection():
                self._parsed = parse_function(fun)
                try:
                    self._primal = lower_function(self._parsed)
                except (UnresolvedNameError, KindDependentError):
                    pass  # (lowered at the first call: a helper defined later, the arguments' kinds)
        self._wrt, self._as_tuple = _normalize_wrt(fun, wrt)
        self._names = _parameters(fun)
        self._key = (self._wrt, mode, bool(optimize)) + (("checked",) if buffer_check.enabled() else ())
        self._entries: dict[tuple, tuple] = {}  # kinds of a call → (rules version, function, converter)
        self._guards: dict[tuple, Callable] = {}  # kinds → the call's fast path for them (`_guard`)
        self._fast: Callable = self._dispatch
        self._max_wrt = max(self._wrt)
        self.__name__ = f"d{display_name(fun)}"
        self.__doc__ = f"Gradient of {getattr(fun, '__qualname__', fun)} (compiled by gradc)."

    # -- compilation --------------------------------------------------------------------------
    def _compile(self, kinds: tuple = ()) -> Compiled:
        """The gradient for calls whose arguments are of these `kinds` (see `_kind`), cached."""
        key = self._key + (kinds,)
        compiled = _cached(self.__wrapped__, key)
        if compiled is None:
            compiled = disk_cache.load(self.__wrapped__, key, self._cache)  # opt-in; None when off
            if compiled is not None:
                compiled.dependencies = dependencies.snapshot(self.__wrapped__)
            if compiled is None:
                reusable = not any(is_structure(k) for k in kinds)  # (the transform leaves it as it is)
                primal = self._primal if reusable else None
                if primal is not None and dependencies.stale(getattr(primal, "dependencies", ()), self.__wrapped__):
                    primal = self._primal = None  # (lowered when a name denoted another object)
                library = library_of(kinds, tuple(self._names))
                if library is None:
                    compiled = compile_gradient(self.__wrapped__, self._wrt, self._mode, self._optimize,
                                                self._parsed, primal, kinds)
                else:  # (Dask, the array API: the analyses see shapes and dtypes; nothing is written in place)
                    compiled = compile_gradient(self.__wrapped__, self._wrt, self._mode, self._optimize,
                                                self._parsed, primal, plain_kinds(kinds), target_for(library))
                disk_cache.store(self.__wrapped__, key, self._cache, compiled)
            _store(self.__wrapped__, key, compiled)
        return compiled

    @property
    def compiled(self) -> Compiled:
        """The compilation for arguments of any kind (what `source` and `ir` show)."""
        return self._compile(())

    def _function_for(self, kinds: tuple) -> Callable:
        """The generated function for a call whose arguments are of these `kinds`."""
        found = self._functions.get(kinds)
        if found is not None and found[0] == rules_version() and \
                not dependencies.stale(found[2], self.__wrapped__):
            return found[1]
        compiled = self._compile(kinds)
        function = instantiate(compiled.factory, compiled.emitted, self.__wrapped__)
        if compiled.written_arguments:
            function = _refusing_shared_arguments(function, compiled.written_arguments, self.__wrapped__)
        if library_of(kinds) is DASK:
            function = refusing_computes(function)  # (a Dask gradient is built lazily, computing nothing)
        self._functions[kinds] = (rules_version(), function, compiled.dependencies)
        return function

    @property
    def function(self) -> Callable:
        """The raw generated function for arguments of any kind (no argument checks, no conversion)."""
        return self._function_for(())

    def _as_callee(self) -> Callable:
        """What a function gradc differentiates calls when it calls this gradient: the generated
        function (read and inlined like a helper of the user's, so it is differentiable)."""
        return getattr(self.function, "__wrapped__", self.function)

    @property
    def source(self) -> str:
        """The generated Python source of the gradient, for arguments of any shape."""
        return self.compiled.emitted.function_source

    def source_for(self, *args: Any, **kwargs: Any) -> str:
        """The source of the gradient specialized for these arguments' shapes (what a call with
        them runs: no broadcasting bookkeeping where shapes agree, containers unpacked)."""
        return self._compile(self._signature(args, kwargs)).emitted.function_source

    @property
    def ir(self) -> str:
        """The SSA IR of the gradient (forward sweep, then backward sweep), printed."""
        return self.compiled.ir

    # -- calling ----------------------------------------------------------------------------
    def _wrt_arguments(self, args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
        if not kwargs and len(args) > max(self._wrt):
            return [(self._names[i], args[i]) for i in self._wrt]
        bound = inspect.signature(self.__wrapped__).bind(*args, **kwargs)
        bound.apply_defaults()
        return [(self._names[i], bound.arguments[self._names[i]]) for i in self._wrt]

    def _signature(self, args: tuple, kwargs: dict) -> tuple:
        """What the compiled code depends on: each argument's kind (see `_kind`)."""
        if kwargs:
            bound = inspect.signature(self.__wrapped__).bind(*args, **kwargs)
            args = tuple(bound.arguments.get(name) for name in self._names)
        return tuple(map(_kind, args))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fast(*args, **kwargs)  # the guard of the last kind of call, or `_dispatch`

    def _dispatch(self, *args: Any, **kwargs: Any) -> Any:
        """Any call: find (or compile) the gradient for the kinds of its arguments, run it, and
        make the guard for these kinds the next call's fast path."""
        if kwargs or len(args) <= self._max_wrt:
            return self._call_with_keywords(args, kwargs)
        kinds = tuple(map(type, args))  # all scalars: their types are their kinds (the fast path)
        if not _SCALAR_TYPES.issuperset(kinds):
            # `_kind`, with its array case inlined: a Python call per argument costs more than the test
            kinds = tuple([(a.shape, a.dtype) if type(a) is np.ndarray else _kind(a) for a in args])
        entry = self._entries.get(kinds)
        if entry is None or entry[0] != _rules_version[0] or \
                dependencies.stale(self._functions[kinds][2], self.__wrapped__):
            entry = self._prepare(args, kinds)
        guard = self._guards.get(kinds, _NO_GUARD)
        if guard is _NO_GUARD or (guard is not None and guard.entry is not entry):
            plain = self._mode == "grad" and not (self._as_tuple and len(self._wrt) == 1)
            guard = self._guards[kinds] = _guard(kinds, entry, _accept_as_is(kinds, self._wrt, plain),
                                                 self._dispatch, self._note,
                                                 self._functions[kinds][2], self.__wrapped__)
        self._fast = guard if guard is not None else self._dispatch
        try:
            result = entry[1](*args)
        except Exception as exc:  # name the primal line in the traceback (gradc/debug.py)
            self._note(exc)
            raise
        return entry[2](result, args)

    def _prepare(self, args: tuple, kinds: tuple) -> tuple:
        """Once per kind of call: check the `wrt` arguments, get the function, build the converter."""
        for name, value in self._wrt_arguments(args, {}):
            _check_differentiable(name, value)
        entry = (_rules_version[0], self._function_for(kinds), self._converter(kinds))
        self._entries[kinds] = entry
        return entry

    def _converter(self, kinds: tuple) -> Callable:
        """A function giving the generated function's result the structure and dtypes of the
        arguments, chosen once per kind of call (a float argument's gradient: just `float`)."""
        wrt, mode, as_tuple = self._wrt, self._mode, self._as_tuple
        lazy = library_of(kinds) is not None  # (Dask: even a float's gradient may be a Dask array; array API)
        if mode == "grad" and len(wrt) > 1 and all(kinds[i] is float for i in wrt) and not lazy:
            return _floats  # the scalar-code fast path: a tuple of floats needs nothing done
        matchers = [_match if lazy else _matcher(kinds[i]) for i in wrt]

        def convert(result: Any, args: tuple) -> Any:
            grads = result[1] if mode == "value_and_grad" else result
            if len(wrt) == 1:
                matched = _distinct(matchers[0](grads, args[wrt[0]]), _argument_ids(args))
                converted = (matched,) if as_tuple else matched
            else:
                converted = _distinct(tuple(m(g, args[i]) for m, g, i in zip(matchers, grads, wrt)),
                                      _argument_ids(args))
            return (result[0], converted) if mode == "value_and_grad" else converted

        return convert

    def _call_with_keywords(self, args: tuple, kwargs: dict) -> Any:
        function = self._function_for(self._signature(args, kwargs))
        wrt_args = self._wrt_arguments(args, kwargs)
        for name, value in wrt_args:
            _check_differentiable(name, value)
        try:
            result = function(*args, **kwargs)
        except Exception as exc:
            self._note(exc)
            raise
        if self._mode == "value_and_grad":
            value, grads = result
            return value, self._convert(grads, wrt_args)
        return self._convert(result, wrt_args)

    def _note(self, exc: BaseException) -> None:
        note_primal_line(exc, self.__wrapped__, line_maps_of(_CACHE.entries(self.__wrapped__.__code__)))

    def _convert(self, grads: Any, wrt_args: list[tuple[str, Any]]) -> Any:
        seen = _argument_ids(tuple(value for _, value in wrt_args))
        if len(wrt_args) == 1:
            matched = _distinct(_match(grads, wrt_args[0][1]), seen)
            return (matched,) if self._as_tuple else matched
        return _distinct(tuple(_match(g, value) for g, (_, value) in zip(grads, wrt_args)), seen)

    def __repr__(self) -> str:
        names = ", ".join(self._names[i] for i in self._wrt)
        return f"<gradc.GradFunction {self._mode} of {self.__wrapped__.__qualname__} with respect to {names}>"

    def _repr_html_(self) -> str:
        """Notebook view: primal and gradient side by side, linked line by line (gradc/display.py)."""
        from .display import html
        return html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython terminal view: a header, then the generated source."""
        from .display import pretty
        pretty(self, p, cycle)


class VJPFunction(GradFunction):
    """`vjp(f)(*args, cotangent)`: the gradients of `sum(cotangent * f(*args))`."""

    def __init__(self, fun: Callable, wrt: int | str | Sequence[int | str] = 0, optimize: bool = True):
        super().__init__(fun, wrt, optimize, mode="vjp")

    def __call__(self, *args: Any) -> Any:
        *primal_args, cotangent = args
        signature = self._signature(tuple(primal_args), {})
        library_of(signature + (_kind(cotangent),), tuple(self._names) + ("cotangent",))  # (mixed: refused)
        function = self._function_for(signature + (None,))
        wrt_args = self._wrt_arguments(tuple(primal_args), {})
        for name, value in wrt_args:
            _check_differentiable(name, value)
        try:
            result = function(*primal_args, cotangent)
        except Exception as exc:  # name the primal line in the traceback (gradc/debug.py)
            note_primal_line(exc, self.__wrapped__, line_maps_of(_CACHE.entries(self.__wrapped__.__code__)))
            raise
        return self._convert(result, wrt_args)


class JVPFunction(GradFunction):
    """`jvp(f)(*args, tangents)`: `(f(*args), the derivative of f at args along tangents)` (forward
    mode). `tangents` is one tangent when `wrt` names one argument, a tuple when it is a tuple;
    each has the structure, shape and floating dtype of its argument."""

    def __init__(self, fun: Callable, wrt: int | str | Sequence[int | str] = 0, optimize: bool = True):
        super().__init__(fun, wrt, optimize, mode="jvp")

    def __call__(self, *args: Any) -> Any:
        if not args:
            raise GradcError("jvp(f) takes f's arguments, then the tangents")
        *primal_args, tangents = args
        tangents = tuple(tangents) if self._as_tuple and isinstance(tangents, (tuple, list)) else \
            (tangents,) if not self._as_tuple else tangents
        if not isinstance(tangents, tuple) or len(tangents) != len(self._wrt):
            raise GradcError(f"jvp of {self.__wrapped__.__name__} with wrt={self._wrt if self._as_tuple else self._wrt[0]}"
                             f" takes a tuple of {len(self._wrt)} tangents, one per argument")
        wrt_args = self._wrt_arguments(tuple(primal_args), {})
        for (name, value), tangent in zip(wrt_args, tangents):
            _check_differentiable(name, value)
            _check_tangent(name, value, tangent)
        signature = self._signature(tuple(primal_args), {})
        library_of(signature + tuple(map(_kind, tangents)),  # (arrays of libraries that do not mix: refused)
                   tuple(self._names) + tuple(f"tangent of {self._names[i]}" for i in self._wrt))
        function = self._function_for(signature + (None,) * len(tangents))
        try:
            value, tangent = function(*primal_args, *tangents)
        except Exception as exc:
            self._note(exc)
            raise
        return value, _match_output(tangent, value)


def _check_tangent(name: str, value: Any, tangent: Any) -> None:
    """A tangent has its argument's structure and shape and a floating dtype."""
    if records.is_record(value):
        if type(tangent) is not type(value):
            raise GradcError(f"the tangent of `{name}` must be a {type(value).__name__} like it, "
                             f"not {type(tangent).__name__}")
        for field, item in records.children(value):
            _check_tangent(f"{name}.{field}", item, getattr(tangent, field))
        return
    if type(value) in (list, tuple, dict):
        if type(tangent) is not type(value) or len(tangent) != len(value) or \
                (type(value) is dict and set(tangent) != set(value)):
            raise GradcError(f"the tangent of `{name}` must be a {type(value).__name__} like it "
                             f"({len(value)} items{', keys ' + repr(sorted(value)) if type(value) is dict else ''}), "
                             f"not {type(tangent).__name__}")
        pairs = value.items() if type(value) is dict else enumerate(value)
        for key, item in pairs:
            _check_tangent(f"{name}[{key!r}]", item, tangent[key])
        return
    if is_standard_array(value) or is_standard_array(tangent):
        if type(tangent) is not type(value) or standard_kind(tangent)[1:] != standard_kind(value)[1:]:
            raise GradcError(f"the tangent of `{name}` must be an array of its library, shape and dtype "
                             f"({type(value).__name__} {standard_kind(value)[1]} of {value.dtype}), not {tangent!r}")
        return
    dtype = tangent.dtype if is_dask(tangent) else np.asarray(tangent).dtype  # (a Dask tangent: not computed)
    if isinstance(tangent, (bool, np.bool_)) or (np.ndim(tangent) >= 0 and not np.issubdtype(dtype, np.inexact)):
        raise GradcError(f"the tangent of `{name}` is {dtype}: tangents are floating-point "
                         f"(pass `{name}`'s tangent as floats)")
    if np.shape(tangent) != np.shape(value):
        raise GradcError(f"the tangent of `{name}` has shape {np.shape(tangent)}; `{name}` has shape "
                         f"{np.shape(value)}: a tangent is shaped like its argument")


def _match_output(tangent: Any, value: Any) -> Any:
    """The output tangent in the output's structure, shape and floating dtype (0 where f does not
    depend on the arguments differentiated: zeros shaped like the output)."""
    if type(value) in (list, tuple):
        return type(value)(_match_output(t, v) for t, v in zip(tangent, value))
    if type(value) is dict:
        return {key: _match_output(tangent[key], v) for key, v in value.items()}
    if isinstance(value, float):
        return float(tangent)
    if isinstance(value, (np.ndarray, np.generic)) and np.issubdtype(value.dtype, np.inexact):
        result = np.asarray(tangent, dtype=value.dtype)
        return np.array(np.broadcast_to(result, np.shape(value))) if result.shape != np.shape(value) else \
            (result if isinstance(value, np.ndarray) else value.dtype.type(result))
    return tangent


def _unwrap(fun: Callable) -> Callable:
    """A GradFunction's generated function, so gradients can be differentiated again."""
    if isinstance(fun, GradFunction):  # (the generated function itself: it writes into no argument, so
        return getattr(fun.function, "__wrapped__", fun.function)  # the primal's argument check is not its)
    return fun


def grad(fun: Callable | None = None, *, wrt: int | str | Sequence[int | str] = 0, optimize: bool = True,
         cache: bool | None = None) -> GradFunction | Callable[[Callable], GradFunction]:
    """The gradient of a scalar function, compiled to Python source ahead of time.

    Usable as `gradc.grad(f)`, `@gradc.grad` or `@gradc.grad(wrt="W")`. `wrt` is an argument
    index or name, or a tuple of them (the result is then a tuple of gradients).
    """
    if fun is None:
        return lambda f: GradFunction(f, wrt, optimize, cache)
    return GradFunction(fun, wrt, optimize, cache)


def value_and_grad(fun: Callable | None = None, *, wrt: int | str | Sequence[int | str] = 0,
                   optimize: bool = True) -> GradFunction | Callable[[Callable], GradFunction]:
    """Like `grad`, but the result returns `(value, gradient)`."""
    if fun is None:
        return lambda f: GradFunction(f, wrt, optimize, None, mode="value_and_grad")
    return GradFunction(fun, wrt, optimize, None, mode="value_and_grad")


def vjp(fun: Callable, *, wrt: int | str | Sequence[int | str] = 0) -> VJPFunction:
    """Vector-Jacobian product: `vjp(f)(*args, cotangent)` for a function with any output shape."""
    return VJPFunction(fun, wrt)


def jvp(fun: Callable, *, wrt: int | str | Sequence[int | str] = 0) -> JVPFunction:
    """Jacobian-vector product (forward mode): `jvp(f)(*args, tangents)` returns `(value, output tangent)`."""
    return JVPFunction(fun, wrt)


def source(fun: Callable, *, wrt: int | str | Sequence[int | str] = 0, mode: str = "reverse") -> str:
    """The generated source of `fun`'s derivative: `mode` "reverse" (the gradient, as
    `GradFunction.source`), "forward" (the JVP: value and output tangent) or "hvp" (the
    Hessian-vector product: forward over reverse), the CLI's `--mode` names."""
    if mode == "reverse":
        return grad(fun, wrt=wrt).source
    if mode == "forward":
        return jvp(fun, wrt=wrt).source
    if mode == "hvp":
        from .derived import hvp
        return hvp(fun, wrt=wrt).source
    raise GradcError(f"mode={mode!r}: gradc generates mode='reverse', 'forward' or 'hvp' source")
