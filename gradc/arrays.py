"""Array libraries other than NumPy: their arrays' kinds, what their generated code may do, and
how a call with them runs.

Two ways in. Dask arrays implement `__array_ufunc__` and `__array_function__`, so the generated
code's `np.tanh(x)` is a lazy Dask array when `x` is one. Arrays of the Python array API standard
(array_api_strict, PyTorch tensors through array_api_compat) are reached through their namespace:
the code is emitted with `xp.tanh(x)` (backend/standard.py). What differs from NumPy:

- the signature: an argument's kind names the library, `(DASK, shape, dtype)`, so that the
  NumPy, Dask and array-API gradients of one function are compiled and cached side by side;
- the target: these arrays are not written in place (`Target(mutable_arrays=False,
  out_argument=False)`): every update is a copy (`assign_item(y, i, v)`);
- nothing is computed during a Dask gradient call: a NumPy routine Dask does not implement (which
  Dask would run on computed NumPy arrays), or anything else that computes (`float(x)`,
  `if x.sum() > 0:`), raises `GradcError` before it computes (see `refusing_computes`);
- arguments of two libraries that do not mix (an array_api_strict array and a NumPy array) are
  refused before anything runs (`library_of`).

Dask and array_api_compat are imported only when an argument is such an array: NumPy calls never
pay for this module.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from .analysis.shapes import is_array_kind
from .errors import GradcError
from .standard_runtime import namespace_of
from .passes.bufferize import Target
from .runtime import is_lazy_array

__all__ = ["DASK", "IMMUTABLE", "is_dask", "dask_kind", "standard_kind", "plain_kinds", "library_of",
           "target_for", "refusing_computes", "match_dask", "match_standard", "is_standard_array", "to_numpy",
           "refuse_writes_through_views"]


class ArrayLibrary:
    """The marker a kind starts with for an array of this library (compared by identity).
    `standard`: reached through the array API standard's namespace (not NumPy's dispatch)."""

    def __init__(self, name: str, standard: bool = False) -> None:
        self.name = name
        self.standard = standard

    def __repr__(self) -> str:  # (the on-disk cache describes kinds by repr)
        return f"<array library {self.name}>"

    def __reduce__(self) -> Any:
        return (_library_named, (self.name, self.standard))


def _library_named(name: str, standard: bool) -> ArrayLibrary:
    if name == DASK.name:
        return DASK
    return _STANDARD_LIBRARIES.setdefault(name, ArrayLibrary(name, standard))


DASK = ArrayLibrary("dask")

#: What generated code for Dask arrays may do: no writes in place, no `out=`.
IMMUTABLE = Target(mutable_arrays=False, out_argument=False)

#: The libraries met through the array API standard, by the name of the array's top-level module.
_STANDARD_LIBRARIES: dict[str, ArrayLibrary] = {}


def target_for(library: ArrayLibrary) -> Target:
    """What the generated code for this library's arrays may do, and how it reaches them."""
    if library.standard:
        return Target(mutable_arrays=False, out_argument=False, einsum=False, namespace=library.name)
    return IMMUTABLE


def is_standard_array(value: Any) -> bool:
    """An array of the array API standard that is not NumPy's nor Dask's: it has
    `__array_namespace__`, or is a PyTorch tensor (whose namespace array_api_compat provides)."""
    kind = type(value)
    module = (kind.__module__ or "").split(".")[0]
    if module in ("numpy", "dask", "builtins"):
        return False
    return hasattr(kind, "__array_namespace__") or (module == "torch" and kind.__name__ == "Tensor") or \
        (module == "cupy" and kind.__name__ == "ndarray")


def standard_kind(value: Any) -> tuple:
    """An array API array's kind: `(library, shape, dtype)`, its dtype as NumPy's of the same name."""
    module = (type(value).__module__ or "").split(".")[0]
    library = _library_named(module, True)
    name = str(value.dtype).rsplit(".", 1)[-1]
    try:
        dtype = np.dtype(name)
    except TypeError:
        raise GradcError(f"a {module} array of dtype {value.dtype}, which has no NumPy twin") from None
    return library, tuple(int(n) for n in value.shape), dtype


#: Whether a value is a Dask array (without importing Dask when it was never imported).
is_dask = is_lazy_array


def dask_kind(value: Any) -> tuple:
    """A Dask array's kind: `(DASK, shape, dtype)`. One whose chunks' sizes are unknown (after a
    boolean mask) is refused: the gradient's shapes could not be built without computing them."""
    shape = value.shape
    if not all(isinstance(n, int) for n in shape):
        raise GradcError(f"a dask.array.Array of unknown chunk sizes (shape {shape}) has no gradient that "
                         f"gradc can build without computing", hint="call `x.compute_chunk_sizes()` first "
                         "(it computes the sizes), or index with slices so that sizes stay known")
    return DASK, shape, value.dtype


def _is_library_kind(kind: Any) -> bool:
    return type(kind) is tuple and len(kind) == 3 and isinstance(kind[0], ArrayLibrary)


def _libraries(kinds: tuple, path: str, found: dict[str, str]) -> None:
    """The library of each array among the arguments' kinds ("numpy" too), with where the first of
    each is (an argument's position, `[0]` inside a container)."""
    for position, kind in enumerate(kinds):
        where = f"{path}[{position}]" if path else str(position)
        if _is_library_kind(kind):
            found.setdefault(kind[0].name, where)
        elif is_array_kind(kind) or (isinstance(kind, type) and issubclass(kind, np.generic)):
            found.setdefault("numpy", where)  # (a NumPy scalar too: `np.float64(2) * x` makes x NumPy's)
        elif type(kind) is tuple:
            _libraries(kind, where, found)


def library_of(kinds: tuple, names: tuple = ()) -> ArrayLibrary | None:
    """The library whose arrays the arguments hold (DASK, an array API library), None for NumPy.
    Arrays of two libraries that do not mix in one computation (all but NumPy with Dask) are refused,
    naming the arguments (`names`: the parameters' names)."""
    found: dict[str, str] = {}
    _libraries(kinds, "", found)
    if not found or set(found) == {"numpy"}:
        return None
    standard = sorted(set(found) - {"numpy", DASK.name})
    if standard and len(found) > 1:
        library, other = standard[0], sorted(set(found) - {standard[0]})[0]
        raise GradcError(f"the arguments mix arrays of two libraries: {_argument(found[library], names)} is a "
                         f"{library} array and {_argument(found[other], names)} a {other} array, which {library} "
                         f"does not mix in one computation",
                         hint=f"convert them to one library first (`xp.asarray(...)` with `xp` the {library} "
                              f"arrays' namespace)")
    return _STANDARD_LIBRARIES[standard[0]] if standard else DASK


def _argument(where: str, names: tuple) -> str:
    head, _, rest = where.partition("[")
    name = names[int(head)] if head.isdigit() and int(head) < len(names) else f"argument {head}"
    return f"`{name}{'[' + rest if rest else ''}`"


def plain_kinds(kinds: tuple) -> tuple:
    """The kinds the compiler's analyses read: another library's array's as a NumPy array's
    `(shape, dtype)` (the shapes and dtypes of the values are the same)."""
    def plain(kind: Any) -> Any:
        if _is_library_kind(kind):
            return kind[1], kind[2]
        if type(kind) is tuple:
            return tuple(plain(k) for k in kind)
        return kind
    return tuple(plain(k) for k in kinds)


def _refuse_compute(*args: Any, **kwargs: Any) -> Any:
    raise GradcError("the gradient computed a Dask array while it was being built (a conversion to a "
                     "Python number or a NumPy array: `float(x)`, `bool(x)` in an `if`, `np.asarray(x)`)",
                     hint="gradc builds Dask gradients lazily and computes nothing: keep the function's "
                          "control flow independent of the Dask data, or pass NumPy arrays")


_NOT_IMPLEMENTED = "is not implemented by Dask array"


def refusing_computes(function: Callable) -> Callable:
    """`function`, run so that nothing is computed: a NumPy function Dask does not implement
    (which Dask would run on computed arrays) or any other compute raises GradcError first."""
    import dask

    def lazy(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(), dask.config.set(scheduler=_refuse_compute):
            warnings.filterwarnings("error", message=".*" + _NOT_IMPLEMENTED, category=FutureWarning)
            try:
                return function(*args, **kwargs)
            except FutureWarning as warning:
                message = str(warning)
                if _NOT_IMPLEMENTED not in message:
                    raise
                callee = message.split("`")[1] if "`" in message else "a NumPy function"
                raise GradcError(f"`{callee}` is called on a dask.array.Array, and Dask does not implement it "
                                 f"(it would compute the array and run NumPy's)",
                                 hint="gradc computes nothing while it builds a Dask gradient: use a function "
                                      "Dask implements, or pass NumPy arrays") from None

    lazy.__wrapped__ = getattr(function, "__wrapped__", function)
    lazy.__name__ = getattr(function, "__name__", "gradient")
    return lazy


def match_dask(gradient: Any, like: Any) -> Any:
    """A gradient for an argument `like` (a NumPy or Dask array) when Dask is involved, lazily:
    a Dask gradient keeps being one (of the argument's dtype and shape); a gradient for a Dask
    argument that does not depend on Dask data becomes a Dask array chunked like it."""
    import dask.array as da

    if np.iscomplexobj(gradient) and not np.iscomplexobj(like):
        gradient = np.real(gradient)
    if isinstance(like, float):
        return gradient.astype(np.float64) if gradient.dtype != np.float64 else gradient
    if not is_dask(gradient):
        if not is_dask(like):
            return None  # (NumPy's own conversion applies)
        gradient = da.from_array(np.broadcast_to(np.asarray(gradient, dtype=like.dtype), like.shape).copy(),
                                 chunks=like.chunks)
    if gradient.dtype != like.dtype:
        gradient = gradient.astype(like.dtype)
    if gradient.shape != like.shape:
        if gradient.ndim != 0:
            raise AssertionError(f"gradc bug: gradient of shape {gradient.shape} for an argument of "
                                 f"shape {like.shape}; please report it")
        gradient = da.broadcast_to(gradient, like.shape)
    return gradient


def match_standard(gradient: Any, like: Any) -> Any:
    """A gradient for an argument `like` of an array API library: an array of its shape and dtype
    (a number the gradient did not depend on, or a 0-d array, spread over the shape), a float for
    a float argument."""
    if isinstance(like, float):
        return float(gradient)
    if not is_standard_array(like):
        return gradient
    xp = namespace_of(like)
    if not is_standard_array(gradient):
        return xp.full(tuple(like.shape), gradient, dtype=like.dtype, device=like.device)
    if gradient.dtype != like.dtype:
        gradient = xp.astype(gradient, like.dtype)
    if tuple(gradient.shape) != tuple(like.shape):
        if gradient.ndim != 0:
            raise AssertionError(f"gradc bug: gradient of shape {gradient.shape} for an argument of "
                                 f"shape {like.shape}; please report it")
        return xp.asarray(xp.broadcast_to(gradient, tuple(like.shape)), copy=True)
    return xp.asarray(gradient, copy=True) if gradient is like else gradient


def to_numpy(value: Any) -> np.ndarray:
    """An array API library's array copied into a NumPy array (for `check_grad`'s differences only)."""
    module = (type(value).__module__ or "").split(".")[0]
    if module == "torch":
        return value.detach().cpu().numpy().copy()
    if module == "cupy":
        return value.get()
    return np.from_dlpack(value).copy()


def refuse_writes_through_views(primal: Any, library: str) -> None:
    """Refuse a write into a view (`y = x[0:2]; y[0] = v`) for arrays that are not NumPy's: gradc follows
    NumPy, where the write reaches `x`; Dask's arrays have no views, and the array API standard leaves
    it to each library (PyTorch's `flip` copies, its slices do not), so the gradient would follow a
    computation other than the one the library runs."""
    for op in primal.walk():
        what, loc = op.attrs.get("through_view", (None, None))
        if what is not None and not (loc is not None and loc.file.startswith("<gradc")):
            why = "Dask's arrays have no views (the write would leave that array as it was)" \
                if library == "Dask" else f"for {library} arrays the array API standard leaves that to the library"
            raise GradcError(f"a write into {what}: in NumPy, which gradc follows, the write reaches the array "
                             f"it views; {why}",
                             loc, hint="copy first (`xp.asarray(view, copy=True)`, `view.copy()`), or write "
                                          "into the array itself (`x[0] = v`)")
