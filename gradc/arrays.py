"""Array libraries other than NumPy that generated code runs on through NumPy's dispatch.

Dask arrays implement `__array_ufunc__` and `__array_function__`, so the generated code's
`np.tanh(x)` is a lazy Dask array when `x` is one. What differs from NumPy:

- the signature: an argument's kind names the library, `(DASK, shape, dtype)`, so that the
  NumPy and the Dask gradients of one function are compiled and cached side by side;
- the target: Dask arrays are not written in place (`Target(mutable_arrays=False,
  out_argument=False)`): every update is a copy (`assign_item(y, i, v)`);
- nothing is computed during a gradient call: a NumPy routine Dask does not implement (which
  Dask would run on computed NumPy arrays), or anything else that computes (`float(x)`,
  `if x.sum() > 0:`), raises `GradcError` before it computes (see `refusing_computes`).

Dask is imported only when an argument is a Dask array: NumPy calls never pay for this module.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from .errors import GradcError
from .passes.bufferize import Target
from .runtime import is_lazy_array

__all__ = ["DASK", "IMMUTABLE", "is_dask", "dask_kind", "plain_kinds", "library_of", "refusing_computes",
           "match_dask"]


class ArrayLibrary:
    """The marker a kind starts with for an array of this library (compared by identity)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:  # (the on-disk cache describes kinds by repr)
        return f"<array library {self.name}>"

    def __reduce__(self) -> str:
        return self.name.upper()


DASK = ArrayLibrary("dask")

#: What generated code for Dask arrays may do: no writes in place, no `out=`.
IMMUTABLE = Target(mutable_arrays=False, out_argument=False)


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


def _is_dask_kind(kind: Any) -> bool:
    return type(kind) is tuple and len(kind) == 3 and kind[0] is DASK


def library_of(kinds: tuple) -> ArrayLibrary | None:
    """DASK when any argument is, or contains, a Dask array; None for NumPy."""
    for kind in kinds:
        if _is_dask_kind(kind) or (type(kind) is tuple and library_of(kind) is not None):
            return DASK
    return None


def plain_kinds(kinds: tuple) -> tuple:
    """The kinds the compiler's analyses read: a Dask array's as a NumPy array's `(shape, dtype)`
    (the shapes and dtypes of the values are the same), or None where its shape is unknown."""
    def plain(kind: Any) -> Any:
        if _is_dask_kind(kind):
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
