"""Run-time helpers of gradients compiled for arrays of the array API standard (backend/standard.py).

They are `gradc.runtime`'s helpers of the same names, written with the standard's functions only,
so that they run on any library that implements it (array_api_strict, PyTorch through
array_api_compat, ...). Where the standard cannot express a helper's work (a scatter-add at indices
that may repeat), the helper raises GradcError naming it: never a silent conversion to NumPy.
"""
from __future__ import annotations

from typing import Any

from .errors import GradcError

__all__ = ["namespace_of", "unbroadcast", "unbroadcast_to", "reshape_like", "scatter_add", "assign_item",
           "erase_item", "copy_of", "added_at", "tie_step", "matmul_lhs", "matmul_rhs", "sigmoid", "norm_adjoint"]


def _is_array(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, (int, float, complex))


def _xp(*values: Any) -> Any:
    import array_api_compat
    return array_api_compat.array_namespace(*(v for v in values if _is_array(v)))


def namespace_of(*values: Any) -> Any:
    """The namespace of the arrays among `values`, inside lists, tuples and dicts too."""
    leaves, stack = [], list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        elif _is_array(value):
            leaves.append(value)
    return _xp(*leaves)


def _shape(value: Any) -> tuple:
    return tuple(value.shape) if _is_array(value) else ()


def unbroadcast(g: Any, x: Any) -> Any:
    """`g` summed over the axes broadcasting added, so that it has the shape of `x`."""
    return unbroadcast_to(g, _shape(x))


def unbroadcast_to(g: Any, shape: tuple) -> Any:
    if _shape(g) == tuple(shape) or not _is_array(g):
        return g
    xp = _xp(g)
    extra = g.ndim - len(shape)
    if extra > 0:
        g = xp.sum(g, axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = xp.sum(g, axis=stretched, keepdims=True)
    return g


def reshape_like(g: Any, x: Any) -> Any:
    if not _is_array(x):
        return g
    return _xp(g, x).reshape(g, tuple(x.shape)) if _is_array(g) else _xp(x).full(tuple(x.shape), g, dtype=x.dtype)


def _basic(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (slice, int, type(None))) or p is Ellipsis for p in parts)


def _full_index(index: Any, ndim: int) -> Any:
    """The standard wants an index for every axis (or an Ellipsis): `x[0]` of a matrix is `x[0, ...]`."""
    parts = index if isinstance(index, tuple) else (index,)
    if Ellipsis in parts or sum(p is not None for p in parts) >= ndim:
        return index
    return parts + (Ellipsis,)


def scatter_add(g: Any, x: Any, index: Any) -> Any:
    """The adjoint of `x[index]`: zeros shaped like `x` with `g` at `index`."""
    if not _basic(index):
        raise GradcError(f"the gradient of indexing with {type(index).__name__} index needs a scatter-add, which "
                         "the array API standard does not have", hint="index with slices and integers, or pass "
                         "NumPy arrays")
    xp = _xp(g, x)
    dtype = g.dtype if _is_array(g) else x.dtype
    dx = xp.zeros(tuple(x.shape), dtype=dtype, device=x.device)
    dx[_full_index(index, x.ndim)] = g
    return dx


def copy_of(x: Any) -> Any:
    if _is_array(x):
        return _xp(x).asarray(x, copy=True)
    if isinstance(x, (list, dict)):
        return x.copy()
    return x


def assign_item(a: Any, index: Any, value: Any) -> Any:
    """`a[index] = value` on a copy of `a`."""
    if not _basic(index):
        raise GradcError("a write at an index array into an array of the array API standard is not supported "
                         "by gradc", hint="write with slices and integers")
    a = copy_of(a)
    a[_full_index(index, a.ndim)] = value
    return a


def erase_item(g: Any, index: Any) -> Any:
    return assign_item(g, index, 0.0)


def added_at(accumulator: Any, index: Any, g: Any) -> Any:
    """`accumulator[index] += g` on a copy."""
    if not _is_array(accumulator):
        from .runtime import added_at as added_at_containers
        return added_at_containers(accumulator, index, g)
    if not _basic(index):
        raise GradcError("an adjoint added at an index array needs a scatter-add, which the array API standard "
                         "does not have", hint="index with slices and integers")
    accumulator = copy_of(accumulator)
    index = _full_index(index, accumulator.ndim)
    accumulator[index] = accumulator[index] + g
    return accumulator


def tie_step(x: Any, y: Any) -> Any:
    """The weight `maximum(x, y)` gives `x`: 1 where x > y, 0 where x < y, 1/2 at a tie."""
    xp = _xp(x, y)
    like = x if _is_array(x) else y
    return xp.where(xp.greater(x, y), 1.0, xp.where(xp.equal(x, y), 0.5, 0.0)) * xp.ones_like(like)


def matmul_lhs(g: Any, a: Any, b: Any) -> Any:
    xp = _xp(g, a, b)
    if a.ndim == 1 and b.ndim == 1:
        return g * b
    if b.ndim == 1:
        return unbroadcast(xp.expand_dims(g, axis=-1) * b, a)
    if a.ndim == 1:
        return unbroadcast((b @ xp.expand_dims(g, axis=-1))[..., 0], a)
    return unbroadcast(g @ xp.matrix_transpose(b), a)


def matmul_rhs(g: Any, a: Any, b: Any) -> Any:
    xp = _xp(g, a, b)
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    if a.ndim == 1:
        return unbroadcast(xp.expand_dims(a, axis=-1) * xp.expand_dims(g, axis=-2), b)
    if b.ndim == 1:
        return unbroadcast(xp.sum(a * xp.expand_dims(g, axis=-1), axis=-2), b)
    return unbroadcast(xp.matrix_transpose(a) @ g, b)


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)) without overflow."""
    xp = _xp(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def norm_adjoint(g: Any, ans: Any, x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """The adjoint of the 2-norm of vectors (`vector_norm`), 0 at a zero vector."""
    if ord not in (None, 2) or isinstance(axis, tuple) or (axis is None and x.ndim != 1):
        raise GradcError(f"the gradient of a norm with ord={ord!r}, axis={axis!r} of a {x.ndim}-D array is not "
                         "written for the array API standard", hint="use the 2-norm of vectors, or pass NumPy arrays")
    xp = _xp(g, ans, x)
    if axis is not None and not keepdims:
        g, ans = xp.expand_dims(g, axis=axis), xp.expand_dims(ans, axis=axis)
    return g * x / xp.where(ans == 0, 1.0, ans)
