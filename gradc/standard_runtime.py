"""Run-time helpers of gradients compiled for arrays of the array API standard (backend/standard.py).

They are `gradc.runtime`'s helpers of the same names, written with the standard's functions only,
so that they run on any library that implements it (array_api_strict, PyTorch through
array_api_compat, ...). Where the standard cannot express a helper's work (a scatter-add at indices
that may repeat), the helper raises GradcError naming it: never a silent conversion to NumPy.
"""
from __future__ import annotations

import math
from typing import Any

from . import runtime
from .errors import GradcError, NonScalarOutputError
from .runtime import (Adjoints, _tensordot_axes, add_adjoints, inverse_axes, list_append, list_without_last,
                      repeat_items, unappend, unconcat, unrepeat_items)

__all__ = ["namespace_of", "unbroadcast", "unbroadcast_to", "reshape_like", "scatter_add", "assign_item",
           "erase_item", "copy_of", "added_at", "tie_step", "matmul_lhs", "matmul_rhs", "sigmoid", "norm_adjoint",
           "check_scalar", "unstack", "split_like", "prod_adjoint", "trace_adjoint", "tensordot_lhs",
           "tensordot_rhs", "untile", "zeros_for", "diagonal_adjoint", "solve_adjoint_a", "solve_adjoint_b",
           "astype_adjoint", "shape_of", "ndim_of", "is_complex", "array_of", "assigned_part",
           # (the runtime's helpers that compute on Python values and lists only, the same for every library)
           "inverse_axes", "add_adjoints", "Adjoints", "unappend", "unrepeat_items", "list_append", "list_without_last",
           "repeat_items", "unconcat", "unpop"]


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


def _array(xp: Any, g: Any, like: Any) -> Any:
    """An adjoint `g` as an array (the seed of a sum is the number 1.0), of `like`'s dtype if a number."""
    return g if _is_array(g) else xp.asarray(g, dtype=like.dtype, device=like.device)


def unbroadcast(g: Any, x: Any) -> Any:
    """`g` summed over the axes broadcasting added, so that it has the shape of `x`."""
    return unbroadcast_to(g, shape_of(x))


def unbroadcast_to(g: Any, shape: tuple) -> Any:
    if shape_of(g) == tuple(shape) or not _is_array(g):
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
    """The adjoint of `x[index]`: zeros shaped like `x` with `g` at `index` (for a list, tuple or dict `x`,
    the runtime's: the same structure of zeros, with `g` at `index`)."""
    if isinstance(x, (list, tuple, dict)):
        return runtime.scatter_add(g, x, index)
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


def assigned_part(g: Any, index: Any, value: Any) -> Any:
    """The adjoint of the value written by `a[index] = value`: what `g` holds there, summed to `value`'s
    shape (slices and integers write each element once)."""
    if not _basic(index):
        raise GradcError("the gradient of a write at an index array into an array of the array API standard is "
                         "not supported by gradc", hint="write with slices and integers")
    return unbroadcast(g[_full_index(index, g.ndim)], value)


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
    dtype = xp.result_type(*(v.dtype if _is_array(v) else v for v in (x, y)))
    dtype = dtype if xp.isdtype(dtype, "real floating") else xp.float64
    return xp.astype(xp.greater(x, y), dtype) + 0.5 * xp.astype(xp.equal(x, y), dtype)


def matmul_lhs(g: Any, a: Any, b: Any) -> Any:
    """The adjoint of `a` in `a @ b`, for any number of dimensions."""
    xp = _xp(g, a, b)
    g = _array(xp, g, a)
    if a.ndim == 1 and b.ndim == 1:
        return g * b
    if b.ndim == 1:
        return unbroadcast(xp.expand_dims(g, axis=-1) * b, a)
    if a.ndim == 1:
        return unbroadcast((b @ xp.expand_dims(g, axis=-1))[..., 0], a)
    return unbroadcast(g @ xp.matrix_transpose(b), a)


def matmul_rhs(g: Any, a: Any, b: Any) -> Any:
    """The adjoint of `b` in `a @ b`, for any number of dimensions."""
    xp = _xp(g, a, b)
    g = _array(xp, g, b)
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
    """The adjoint of the 2-norm of vectors (`vector_norm`) or the Frobenius norm of matrices
    (`matrix_norm`): x / |x| times g, 0 at a zero vector."""
    frobenius = ord in (None, "fro") and (axis is None or isinstance(axis, tuple) and len(axis) == 2)
    if not (ord in (None, 2) and not isinstance(axis, tuple)) and not frobenius:
        raise GradcError(f"the gradient of a norm with ord={ord!r}, axis={axis!r} is not written for the array API "
                         "standard", hint="use the 2-norm of vectors or the Frobenius norm, or pass NumPy arrays")
    xp = _xp(g, ans, x)
    if axis is not None and not keepdims:
        axes = tuple(sorted(a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,))))
        kept = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        g = xp.reshape(g, kept) if _is_array(g) else g
        ans = xp.reshape(ans, kept)
    return g * x / xp.where(ans == 0, xp.ones_like(ans), ans)


def check_scalar(value: Any) -> None:
    """Refuse to seed the backward pass of `grad` with anything but a floating-point scalar."""
    if isinstance(value, float):
        return
    if not _is_array(value) or value.ndim != 0:
        raise NonScalarOutputError(f"grad needs a function that returns a scalar, but it returned "
                                   f"{'an array of shape ' + str(tuple(value.shape)) if _is_array(value) else repr(value)}",
                                   hint="use gradc.vjp(f) for a non-scalar output, passing the output's cotangent")
    if not _xp(value).isdtype(value.dtype, ("real floating", "complex floating")):
        raise NonScalarOutputError(f"grad needs a floating-point output, but the function returned {value!r}")


def zeros_for(sequence: Any) -> Any:
    """A fresh adjoint accumulator for a sequence a loop iterates over."""
    if isinstance(sequence, (list, tuple)):
        return Adjoints(zeros_for(item) for item in sequence)
    if _is_array(sequence):
        return _xp(sequence).zeros_like(sequence)
    return 0.0


def unpop(g: Any, items: Any) -> Adjoints:
    """The adjoint of `items` in `list_without_last(items)`: g's items, then a zero for the last."""
    return Adjoints(list(g) + [zeros_for(items[-1])])


def unstack(g: Any, arrays: Any, axis: int = 0) -> Adjoints:
    """The adjoints of the items of `stack(arrays, axis)`."""
    return Adjoints(_xp(g).unstack(g, axis=axis))


def split_like(g: Any, arrays: Any, axis: int | None = 0) -> Adjoints:
    """The adjoints of the pieces of `concat(arrays, axis)`: `g` cut back into them."""
    xp = _xp(g)
    if axis is None:
        g = xp.reshape(g, (-1,))
    pieces, start = [], 0
    for a in arrays:
        size = (math.prod(a.shape) if axis is None else a.shape[axis]) if _is_array(a) else 1
        index = (slice(None),) * ((axis or 0) % g.ndim) + (slice(start, start + size), Ellipsis)
        piece = g[index]
        pieces.append(xp.reshape(piece, tuple(a.shape)) if _is_array(a) else piece)
        start += size
    return Adjoints(pieces)


def prod_adjoint(g: Any, a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The adjoint of `prod(a, axis)`, correct where `a` has zeros (exclusive products)."""
    xp = _xp(g, a)
    g = _array(xp, g, a)
    axes = tuple(range(a.ndim)) if axis is None else tuple(i % a.ndim for i in (axis if isinstance(axis, tuple)
                                                                               else (axis,)))
    if not keepdims:
        g = xp.reshape(g, tuple(1 if i in axes else n for i, n in enumerate(a.shape)))
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = xp.permute_dims(a, tuple(rest + list(axes)))
    flat = xp.reshape(moved, tuple(moved.shape[:len(rest)]) + (-1,))
    ones = xp.ones(tuple(flat.shape[:-1]) + (1,), dtype=flat.dtype, device=flat.device)
    before = xp.cumulative_prod(xp.concat([ones, flat[..., :-1]], axis=-1), axis=-1)
    reversed_ = xp.flip(flat, axis=-1)
    after = xp.flip(xp.cumulative_prod(xp.concat([ones, reversed_[..., :-1]], axis=-1), axis=-1), axis=-1)
    others = xp.reshape(before * after, tuple(moved.shape))
    order = rest + list(axes)
    return g * xp.permute_dims(others, tuple(order.index(i) for i in range(a.ndim)))


def trace_adjoint(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The adjoint of `trace(a, offset, axis1, axis2)`: `g` spread along each plane's diagonal."""
    xp = _xp(g, a)
    shape = tuple(a.shape)
    first, second = axis1 % len(shape), axis2 % len(shape)
    eye = xp.eye(shape[first], shape[second], k=offset, dtype=a.dtype, device=a.device)
    if first > second:
        eye = xp.matrix_transpose(eye)
    plane = xp.reshape(eye, tuple(n if i in (first, second) else 1 for i, n in enumerate(shape)))
    g = g if not _is_array(g) else xp.reshape(g, tuple(1 if i in (first, second) else n
                                                        for i, n in enumerate(shape)))
    return g * plane


def _tensordot_parts(g: Any, a: Any, b: Any, axes: Any) -> tuple:
    """The namespace, `g` as an array, the contracted axes of `a` and `b`, and their free axes."""
    xp = _xp(g, a, b)
    a_axes, b_axes = _tensordot_axes(axes, a.ndim, b.ndim)
    a_free = [i for i in range(a.ndim) if i not in a_axes]
    b_free = [i for i in range(b.ndim) if i not in b_axes]
    return xp, _array(xp, g, a), a_axes, b_axes, a_free, b_free


def tensordot_lhs(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    """The adjoint of `a` in `tensordot(a, b, axes)`."""
    xp, g, a_axes, b_axes, a_free, b_free = _tensordot_parts(g, a, b, axes)
    ga = xp.tensordot(g, b, axes=(list(range(len(a_free), g.ndim)), b_free))
    order = a_free + [a_axes[b_axes.index(j)] for j in sorted(b_axes)]
    return xp.permute_dims(ga, tuple(order.index(i) for i in range(a.ndim)))


def tensordot_rhs(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    """The adjoint of `b` in `tensordot(a, b, axes)`."""
    xp, g, a_axes, b_axes, a_free, b_free = _tensordot_parts(g, a, b, axes)
    gb = xp.tensordot(a, g, axes=(a_free, list(range(len(a_free)))))
    order = [b_axes[a_axes.index(i)] for i in sorted(a_axes)] + b_free
    return xp.permute_dims(gb, tuple(order.index(i) for i in range(b.ndim)))


def untile(g: Any, a: Any, reps: Any) -> Any:
    """The adjoint of `tile(a, reps)`: each tile's gradient summed onto `a`."""
    xp = _xp(g, a)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    shape = tuple(a.shape)
    n = max(len(shape), len(reps))
    shape_full = (1,) * (n - len(shape)) + shape
    reps_full = (1,) * (n - len(reps)) + reps
    split = tuple(d for pair in zip(reps_full, shape_full) for d in pair)
    return xp.reshape(xp.sum(xp.reshape(g, split), axis=tuple(range(0, 2 * n, 2))), shape)


def diagonal_adjoint(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The adjoint of the diagonal over the last two axes of `a`: `g` placed on that diagonal."""
    xp = _xp(g, a)
    if (axis1 % a.ndim, axis2 % a.ndim) != (a.ndim - 2, a.ndim - 1):
        raise GradcError("the gradient of a diagonal over axes other than the last two is not written for the "
                         "array API standard", hint="move the axes last first (`xp.moveaxis`)")
    g = _array(xp, g, a)
    n, m = a.shape[-2], a.shape[-1]
    plane = xp.eye(n, m, k=offset, dtype=g.dtype, device=a.device)
    along = n if offset >= 0 else m  # (the diagonal's i-th element is in row i, or column i below the diagonal)
    missing = along - g.shape[-1]
    if missing:
        g = xp.concat([g, xp.zeros(tuple(g.shape[:-1]) + (missing,), dtype=g.dtype, device=a.device)], axis=-1)
    return xp.expand_dims(g, axis=-1 if offset >= 0 else -2) * plane


def solve_adjoint_b(g: Any, a: Any) -> Any:
    """The adjoint of `b` in `solve(a, b)`: solve with aᵀ."""
    xp = _xp(g, a)
    return xp.linalg.solve(xp.matrix_transpose(a), g)


def solve_adjoint_a(gb: Any, ans: Any, b: Any) -> Any:
    """The adjoint of `a` in `x = solve(a, b)`, given the adjoint of `b`."""
    xp = _xp(gb, ans)
    if b.ndim == 1:
        return -xp.linalg.outer(gb, ans)
    return -(gb @ xp.matrix_transpose(ans))


def astype_adjoint(g: Any, x: Any, ans: Any) -> Any:
    """The adjoint of `astype(x, dtype)`: back in x's dtype (float64 for an integer x); zero when the cast
    went to integers."""
    xp = _xp(g, x, ans)
    dtype = x.dtype if xp.isdtype(x.dtype, ("real floating", "complex floating")) else xp.float64
    if not xp.isdtype(ans.dtype, ("real floating", "complex floating")):
        return xp.zeros(tuple(x.shape), dtype=dtype, device=x.device)
    return xp.astype(g, dtype)


def shape_of(x: Any) -> tuple:
    """`x`'s shape; a Python number's is `()`."""
    return tuple(x.shape) if _is_array(x) else ()


def ndim_of(x: Any) -> int:
    return x.ndim if _is_array(x) else 0


def is_complex(x: Any) -> bool:
    if _is_array(x):
        return _xp(x).isdtype(x.dtype, "complex floating")
    return isinstance(x, complex)


def array_of(xp: Any, value: Any) -> Any:
    """`value` as an array of `xp`'s: an array as it is, a Python float as NumPy's would be, float64."""
    if _is_array(value):
        return value
    return xp.asarray(value, dtype=xp.float64 if isinstance(value, float) else None)
