"""The few helpers that generated gradient code calls.

Each is plain NumPy, short, and has its own derivative rule (in
`gradc.rules.runtime_rules`) so that generated code can be differentiated again.
They are bound into the generated function's namespace by their own names
(``unbroadcast(dz, x)``), so the generated code reads like hand-written backprop.
"""
from __future__ import annotations

import sys

import numpy as np

from .errors import GradcError, NoGradientRuleError, NonScalarOutputError

__all__ = [
    "unbroadcast", "check_scalar", "scatter_add", "tie_step", "matmul_lhs", "matmul_rhs", "dot_lhs",
    "dot_rhs", "prod_adjoint", "split_like", "unstack", "untile", "unrepeat", "norm_adjoint",
    "inverse_axes", "einsum_adjoint", "einsum_adjoints", "trace_adjoint", "tensordot_lhs", "tensordot_rhs", "inner_lhs",
    "inner_rhs", "diag_adjoint", "solve_adjoint_b", "astype_adjoint", "reshape_like", "index_order",
    "sigmoid",
]


def is_lazy_array(value) -> bool:
    """Whether `value` is a Dask array: what a helper must build lazily, never compute nor write in
    place (Dask is not imported when it never was)."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(value, module.Array)


def unbroadcast(g, x):
    """Sum `g` over the axes NumPy broadcasting added, so it has the shape of `x`."""
    if isinstance(x, (Adjoints, AdjointDict)):
        return g  # (the tangent of a sum of adjoints of a list: they add item by item)
    return unbroadcast_to(g, np.shape(x))


def unbroadcast_to(g, shape):
    """`unbroadcast` given the shape only (what a loop saves of a value it needs the shape of)."""
    if isinstance(g, (list, tuple, dict)):  # (a container's adjoint: its `+` was a concatenation)
        raise GradcError("a list or tuple was used in arithmetic as if it were an array (`+` of lists "
                         "concatenates them): its gradient cannot be computed",
                         hint="build the list with `append`, or make an array of it with np.array or np.stack")
    if np.shape(g) == shape:
        return g
    if not is_lazy_array(g):
        g = np.asarray(g)
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    if g.shape != shape:  # a scalar adjoint of an array operand
        g = np.broadcast_to(g, shape)
    return g


def reshape_like(g, x):
    """`g` with the shape of `x` (a Python scalar for a Python scalar)."""
    return np.reshape(g, np.shape(x))


def index_order(x, order="C"):
    """The index order, "C" or "F", in which `np.reshape(x, shape, order)` or `x.ravel(order)` reads `x`."""
    if order in ("C", "F"):
        return order
    if order == "A" or np.asarray(x).flags.c_contiguous or np.asarray(x).flags.f_contiguous:
        return "F" if np.isfortran(x) else "C"
    raise NoGradientRuleError(f"gradc differentiates order={order!r} only for a contiguous array",
                     hint="pass order='C' or order='F'")


def check_scalar(value):
    """Refuse to seed the backward pass of `grad` with anything but a scalar."""
    if np.ndim(value) != 0:
        raise NonScalarOutputError(
            f"grad needs a function that returns a scalar, but it returned an array of shape {np.shape(value)}",
            hint="use gradc.vjp(f) for a non-scalar output, passing the output's cotangent",
        )
    if not np.issubdtype(value.dtype if is_lazy_array(value) else np.asarray(value).dtype, np.inexact):
        raise NonScalarOutputError(
            f"grad needs a floating-point output, but the function returned {type(value).__name__} {value!r}")


class Adjoints(list):
    """The adjoint of a list or tuple: a list whose `+` adds element by element (a Python list's
    `+` would concatenate, silently giving a wrong gradient)."""

    def __add__(self, other):
        if isinstance(other, dict):
            return NotImplemented
        return Adjoints(add_adjoints(a, b) for a, b in zip(self, other))

    __radd__ = __add__


class AdjointDict(dict):
    """The adjoint of a dict: `+` adds value by value (a key one side lacks counts as zero)."""

    def __add__(self, other):
        total = AdjointDict(self)
        for key, value in other.items():
            total[key] = add_adjoints(total[key], value) if key in total else value
        return total

    __radd__ = __add__


def add_adjoints(a, b):
    """`a + b` for adjoints of any structure (arrays, numbers, lists, tuples, dicts)."""
    if isinstance(a, dict):
        return AdjointDict(a) + b
    if isinstance(a, (list, tuple)) and not isinstance(b, np.ndarray):
        return Adjoints(a) + b
    return a + b


def _zeros_like_item(item):
    if isinstance(item, dict):
        return AdjointDict({key: _zeros_like_item(value) for key, value in item.items()})
    if isinstance(item, (list, tuple)):
        return Adjoints(_zeros_like_item(value) for value in item)
    if isinstance(item, np.ndarray):
        return np.zeros(item.shape, dtype=floating(item.dtype))
    if is_lazy_array(item):
        return np.zeros_like(item, dtype=floating(item.dtype))  # (Dask's own: lazy, chunked like it)
    return 0.0


def zeros_for(sequence):
    """A fresh adjoint accumulator for a sequence a loop iterates over: an array, or Adjoints."""
    return _zeros_like_item(sequence)


def add_at(accumulator, index, g):
    """`accumulator[index] += g` in place (the accumulator is gradc's own), returning it.
    A tuple index on Adjoints reaches into nested items (`for W, b in layers`)."""
    if isinstance(accumulator, np.ndarray):
        accumulator[index] += g
        return accumulator
    if isinstance(index, tuple):
        inner = accumulator
        for step in index[:-1]:
            inner = inner[step]
        inner[index[-1]] = add_adjoints(inner[index[-1]], g)
        return accumulator
    accumulator[index] = add_adjoints(accumulator[index], g)
    return accumulator


def assign_item(a, index, value):
    """`a[index] = value` without touching `a`: a copy with the item replaced, of `a`'s dtype as
    Python's write would keep it. (Generated code writes in place instead wherever bufferization
    finds nothing else reading the old array.)"""
    a = copy_of(a)
    a[index] = value
    return a


def copy_of(x):
    """A copy of `x` this gradient may write into: an array copied, a list, tuple or dict of
    adjoints copied with its arrays, a NumPy scalar as a 0-d array, anything else as it is."""
    if isinstance(x, np.ndarray) or is_lazy_array(x):
        return x.copy()  # (a Dask array's `copy` is a new array object: a write into it changes no other)
    if isinstance(x, AdjointDict):
        return AdjointDict({key: copy_of(value) for key, value in x.items()})
    if isinstance(x, Adjoints):
        return Adjoints(copy_of(value) for value in x)
    if isinstance(x, (list, dict)):
        return x.copy()
    if isinstance(x, np.generic):
        return np.array(x)
    return x


def added_at(accumulator, index, g):
    """`add_at` without touching `accumulator` (for arrays that cannot be written in place)."""
    return add_at(copy_of(accumulator), index, g)


def erase_item(g, index):
    """The adjoint of the array written into: `g` with zeros where the write replaced values."""
    g = g.copy() if is_lazy_array(g) else np.array(g)
    g[index] = 0
    return g


def assigned_part(g, index, value):
    """The adjoint of the value written by `a[index] = value`: what `g` holds there, summed to
    `value`'s shape; where an integer index repeats, only the last write counts."""
    part = g[index]
    if isinstance(part, np.ndarray) and np.shares_memory(part, g):
        part = part.copy()  # (a view of g would change when g's part is zeroed in place)
    last = _last_writes(g, index, part)
    return unbroadcast(part if last is None else part * last, value)


def _last_writes(g, index, part):
    """Where an integer index repeats, a mask (shaped to multiply `part`) of the positions whose
    write counts (the last); None for any other index."""
    if not (isinstance(index, (list, np.ndarray)) and np.asarray(index).dtype.kind in "iu" and np.ndim(index) == 1):
        return None
    positions = np.asarray(index) % np.shape(g)[0]
    last = np.zeros(len(positions), dtype=bool)
    last[len(positions) - 1 - np.unique(positions[::-1], return_index=True)[1]] = True
    return np.reshape(last, (-1,) + (1,) * (np.ndim(part) - 1))


def list_append(items, item):
    """`items.append(item)` without touching `items`: a new list. (Generated code appends in
    place instead wherever nothing reads the old list afterwards.)"""
    return [*items, item]


def repeat_items(items, n):
    """`items * n` (or `n * items`) of a list or tuple: its items, n times over (the same objects)."""
    return items * n


def unconcat(g, a):
    """The adjoints of `a` and `b` in `a + b` of two lists or tuples: g's first len(a) items, the rest."""
    return Adjoints(g[:len(a)]), Adjoints(g[len(a):])


def unrepeat_items(g, items):
    """The adjoint of `items` in `repeat_items(items, n)`: the sum of g's n runs of len(items) items."""
    size = len(items)
    total = Adjoints(g[:size])
    for start in range(size, len(g), size):
        total = total + Adjoints(g[start:start + size])
    return total if len(g) else Adjoints(_zeros_like_item(items))


def list_without_last(items):
    """`items.pop()` without touching `items`: a new list of all but the last item. (Generated code
    pops in place instead wherever nothing reads the old list afterwards.)"""
    return items[:-1]


def unpop(g, items):
    """The adjoint of `items` in `list_without_last(items)`: g's items, then a zero for the last."""
    return Adjoints(list(g) + [_zeros_like_item(items[-1])])


def unappend(g):
    """The adjoints of `items` and `item` in `list_append(items, item)`: all but the last, the last."""
    return Adjoints(g[:-1]), g[-1]


CHECKS = (check_scalar,)  # helpers called for their effect only (generated code may contain them)


def scatter_add(g, x, index):
    """The adjoint of `x[index]`: zeros shaped like `x` with `g` added at `index` (repeats accumulate).
    For a list, tuple or dict `x`, the same structure of zeros with `g` at `index`."""
    if isinstance(x, (list, tuple, dict)):
        dx = _zeros_like_item(x)
        if isinstance(index, slice):
            for position, item in zip(range(*index.indices(len(x))), g):
                dx[position] = add_adjoints(dx[position], item)
        else:
            dx[index] = add_adjoints(dx[index], g)
        return dx
    if is_lazy_array(g) or is_lazy_array(x):
        return _lazy_scatter_add(g, x, index)
    dx = np.zeros(np.shape(x), dtype=adjoint_dtype(g, x))
    if _is_basic(index):
        dx[index] = g  # slices and integers never repeat an element: no need for np.add.at
    else:
        np.add.at(dx, index, g)
    return dx


def _lazy_scatter_add(g, x, index):
    """`scatter_add` for Dask: zeros chunked like `x` (or in one chunk for a NumPy `x`), `g` written at
    `index`. An index that may repeat an element would need `np.add.at`, which Dask lacks."""
    da = sys.modules["dask.array"]
    if not _is_basic(index):
        raise GradcError(f"the gradient of indexing with {type(index).__name__} index needs `np.add.at` "
                         f"on a dask.array.Array, which Dask does not implement",
                         hint="index Dask arrays with slices and integers, or pass NumPy arrays")
    dtype = floating(np.result_type(g.dtype if hasattr(g, "dtype") else g,
                                    x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype))
    chunks = x.chunks if is_lazy_array(x) else "auto"
    dx = da.zeros(np.shape(x), dtype=dtype, chunks=chunks)
    parts = index if isinstance(index, tuple) else (index,)
    if any(p is None for p in parts):  # (Dask writes through no `None`: drop it, and g's axis of length 1)
        index = tuple(p for p in parts if p is not None)
        shape = np.broadcast_to(0.0, np.shape(x))[index].shape
        if np.ndim(g) and g.shape != shape and g.size == int(np.prod(shape)):
            g = g.reshape(shape)
    dx[index] = g
    return dx


def adjoint_dtype(g, like):
    """The dtype of an adjoint `g` spread over an array shaped like `like` (`x[index]`'s into `x`'s
    shape): NumPy's own promotion of the two, where a Python number is weak as in NumPy's
    arithmetic (a Python float `g` with a float32 `x` stays float32, with float64 float64), and
    float64 where that is not floating (an integer `g`)."""
    return floating(np.result_type(g, like))


def floating(dtype):
    """`dtype` if it is floating (or complex), else float64 (what NumPy's arithmetic with a float
    makes of integers and booleans)."""
    dtype = np.dtype(dtype)
    return dtype if np.issubdtype(dtype, np.inexact) else np.dtype(np.float64)


def _is_basic(index) -> bool:
    """An index that selects each element at most once (slices, integers, None, ...)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (slice, int, np.integer, type(None))) or p is Ellipsis for p in parts)


def sigmoid(x):
    """1 / (1 + exp(-x)), the derivative of logaddexp(0, x), without overflow for any x: exp
    only ever sees -|x|, and small values keep their relative precision."""
    e = np.exp(-np.abs(x))
    return np.where(np.greater_equal(x, 0), 1.0, e) / (1.0 + e)


def tie_step(x, y):
    """The weight `max(x, y)` gives `x`: 1 where x > y, 0 where x < y, and 1/2 at a tie."""
    return (np.greater(x, y) + 0.5 * np.equal(x, y)).astype(floating(np.result_type(x, y)))


def matmul_lhs(g, a, b):
    """The adjoint of `a` in `a @ b`, for any number of dimensions (1-D operands included)."""
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return g * b
    if np.ndim(b) == 1:
        return unbroadcast(np.expand_dims(g, -1) * b, a)
    if np.ndim(a) == 1:
        return unbroadcast((b @ np.expand_dims(g, -1))[..., 0], a)
    return unbroadcast(g @ np.swapaxes(b, -1, -2), a)


def matmul_rhs(g, a, b):
    """The adjoint of `b` in `a @ b`, for any number of dimensions (1-D operands included)."""
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return g * a
    if np.ndim(a) == 1:
        return unbroadcast(np.expand_dims(a, -1) * np.expand_dims(g, -2), b)
    if np.ndim(b) == 1:
        return unbroadcast((np.swapaxes(a, -1, -2) @ np.expand_dims(g, -1))[..., 0], b)
    return unbroadcast(np.swapaxes(a, -1, -2) @ g, b)


def dot_lhs(g, a, b):
    """The adjoint of `a` in `np.dot(a, b)` (dot equals matmul up to 2-D, and contracts a's last axis)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    if np.ndim(b) <= 2:
        return matmul_lhs(g, a, b)
    # N-D: a's last axis meets b's second-to-last.
    axes_g = list(range(np.ndim(a) - 1, np.ndim(g)))
    b_axes = [i for i in range(np.ndim(b)) if i != np.ndim(b) - 2]
    return np.tensordot(g, b, axes=(axes_g, b_axes))


def dot_rhs(g, a, b):
    """The adjoint of `b` in `np.dot(a, b)`."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    if np.ndim(b) <= 2:
        return matmul_rhs(g, a, b)
    lead = np.ndim(a) - 1
    gb = np.tensordot(a, g, axes=(list(range(lead)), list(range(lead))))
    # gb axes: (a_last, b_except_second_to_last...) → move a_last into b's position -2.
    return np.moveaxis(gb, 0, np.ndim(b) - 2)


def inner_lhs(g, a, b):
    """The adjoint of `a` in `np.inner(a, b)` (contracts the last axes)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    nb = np.ndim(b) - 1
    g_axes = list(range(np.ndim(g) - nb, np.ndim(g)))
    return np.tensordot(g, b, axes=(g_axes, list(range(nb))))


def inner_rhs(g, a, b):
    """The adjoint of `b` in `np.inner(a, b)`."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    na = np.ndim(a) - 1
    return np.tensordot(g, a, axes=(list(range(na)), list(range(na))))


def _tensordot_axes(axes, na, nb):
    if isinstance(axes, (int, np.integer)):
        return list(range(na - axes, na)), list(range(axes))
    a_axes, b_axes = axes
    a_axes = [a_axes] if isinstance(a_axes, (int, np.integer)) else list(a_axes)
    b_axes = [b_axes] if isinstance(b_axes, (int, np.integer)) else list(b_axes)
    return [i % na for i in a_axes], [i % nb for i in b_axes]


def tensordot_lhs(g, a, b, axes=2):
    """The adjoint of `a` in `np.tensordot(a, b, axes)`."""
    na, nb = np.ndim(a), np.ndim(b)
    a_axes, b_axes = _tensordot_axes(axes, na, nb)
    a_free = [i for i in range(na) if i not in a_axes]
    b_free = [i for i in range(nb) if i not in b_axes]
    g_b_axes = list(range(len(a_free), np.ndim(g)))
    ga = np.tensordot(g, b, axes=(g_b_axes, b_free))  # axes: a_free..., then b's contracted axes, ascending
    order = a_free + [a_axes[b_axes.index(j)] for j in sorted(b_axes)]
    return np.transpose(ga, np.argsort(order))


def tensordot_rhs(g, a, b, axes=2):
    """The adjoint of `b` in `np.tensordot(a, b, axes)`."""
    na, nb = np.ndim(a), np.ndim(b)
    a_axes, b_axes = _tensordot_axes(axes, na, nb)
    a_free = [i for i in range(na) if i not in a_axes]
    b_free = [i for i in range(nb) if i not in b_axes]
    gb = np.tensordot(a, g, axes=(a_free, list(range(len(a_free)))))  # a's contracted axes, ascending; b_free
    order = [b_axes[a_axes.index(i)] for i in sorted(a_axes)] + b_free
    return np.transpose(gb, np.argsort(order))


def _parse_einsum(subscripts, count):
    subscripts = subscripts.replace(" ", "")
    if "." in subscripts:
        raise NoGradientRuleError("gradc differentiates einsum without `...`; write the subscripts out")
    if "->" in subscripts:
        inputs, output = subscripts.split("->")
    else:
        inputs = subscripts
        letters = inputs.replace(",", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    inputs = inputs.split(",")
    if len(inputs) != count:
        raise GradcError(f"einsum subscripts {subscripts!r} name {len(inputs)} operands, got {count}")
    return inputs, output


def einsum_adjoint(position, g, subscripts, *operands):
    """The adjoint of operand `position` of `np.einsum(subscripts, *operands)`."""
    inputs, output = _parse_einsum(explicit_einsum(subscripts, operands), len(operands))
    target = inputs[position]
    if len(set(target)) != len(target):  # (a diagonal: 'ii->i')
        return einsum_diagonal_adjoint(position, g, inputs, output, operands)
    others = [(s, op) for i, (s, op) in enumerate(zip(inputs, operands)) if i != position]
    available = set(output).union(*(set(s) for s, _ in others))
    kept = "".join(c for c in target if c in available)
    spec = ",".join([output] + [s for s, _ in others]) + "->" + kept
    reduced = np.einsum(spec, g, *[op for _, op in others])
    if kept == target:
        return reduced
    shape = np.shape(operands[position])
    expanded = np.expand_dims(reduced, tuple(i for i, c in enumerate(target) if c not in available))
    return np.broadcast_to(expanded, shape)


def einsum_adjoints(g, subscripts, operands):
    """The adjoints of the arguments of `np.einsum(subscripts, *operands)`: None for the subscripts,
    then one per operand; in the operand/sublist form (`np.einsum(a, [0, 1], b, [1, 2])`), one for
    each argument, None for the sublists."""
    if not isinstance(subscripts, str):
        spec, arrays, positions = _sublist_form((subscripts,) + tuple(operands))
        adjoints = [None] * (1 + len(operands))
        for i, position in enumerate(positions):
            adjoints[position] = einsum_adjoint(i, g, spec, *arrays)
        return tuple(adjoints)
    return (None,) + tuple(einsum_adjoint(i, g, subscripts, *operands) for i in range(len(operands)))


def _sublist_form(arguments):
    """`np.einsum(a, [0, 1], b, [1, 2], [0, 2])`'s arguments as subscripts ('ab,bc->ac'), the
    arrays, and each array's position among the arguments."""
    def letters(sublist):
        return "".join("..." if k is Ellipsis else "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[k]
                       for k in sublist)
    count = len(arguments) // 2
    spec = ",".join(letters(arguments[2 * i + 1]) for i in range(count))
    if len(arguments) % 2:
        spec += "->" + letters(arguments[-1])
    return spec, [arguments[2 * i] for i in range(count)], [2 * i for i in range(count)]


def trace_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """The adjoint of `np.trace(a, offset, axis1, axis2)` for `a` of any number of dimensions: `g`
    spread along the diagonal of each (axis1, axis2) plane."""
    shape = np.shape(a)
    first, second = axis1 % len(shape), axis2 % len(shape)
    eye = np.eye(shape[first], shape[second], k=offset)
    rest = tuple(i for i in range(len(shape)) if i not in (first, second))
    plane = np.expand_dims(eye if first < second else eye.T, rest)
    return np.expand_dims(g, (first, second)) * plane


def prod_adjoint(g, a, axis=None, keepdims=False):
    """The adjoint of `np.prod(a, axis)`, correct where `a` has zeros (exclusive products)."""
    a = np.asarray(a)
    axes = tuple(range(a.ndim)) if axis is None else tuple(
        i % a.ndim for i in ((axis,) if isinstance(axis, (int, np.integer)) else axis))
    if not keepdims:
        g = np.expand_dims(g, axes)
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, rest + list(axes))
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
    others = (before * after).reshape(moved.shape)
    others = np.transpose(others, np.argsort(rest + list(axes)))
    return g * others


def split_like(g, arrays, axis=0):
    """The adjoints of the pieces of `np.concatenate(arrays, axis)`: `g` cut back into them."""
    if axis is None:
        sizes = [np.size(a) for a in arrays]
        pieces = np.split(np.ravel(g), np.cumsum(sizes)[:-1])
    else:
        sizes = [np.shape(a)[axis] for a in arrays]
        pieces = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
    return Adjoints([np.reshape(p, np.shape(a)) for p, a in zip(pieces, arrays)])


def unstack(g, arrays, axis=0):
    """The adjoints of the items of `np.stack(arrays, axis)`."""
    return Adjoints([np.reshape(p, np.shape(a)) for p, a in zip(np.moveaxis(g, axis, 0), arrays)])


def hstack_adjoint(g, arrays):
    """The adjoints of the items of `np.hstack(arrays)`."""
    axis = 0 if np.ndim(np.atleast_1d(arrays[0])) == 1 else 1
    sizes = [np.shape(np.atleast_1d(a))[axis] for a in arrays]
    return Adjoints([np.reshape(p, np.shape(a)) for p, a in zip(np.split(g, np.cumsum(sizes)[:-1], axis=axis), arrays)])


def vstack_adjoint(g, arrays):
    """The adjoints of the items of `np.vstack(arrays)`."""
    sizes = [np.shape(np.atleast_2d(a))[0] for a in arrays]
    return Adjoints([np.reshape(p, np.shape(a)) for p, a in zip(np.split(g, np.cumsum(sizes)[:-1], axis=0), arrays)])


def untile(g, a, reps):
    """The adjoint of `np.tile(a, reps)`: each tile's gradient summed onto `a`."""
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    shape = np.shape(a)
    n = max(len(shape), len(reps))
    shape_full = (1,) * (n - len(shape)) + shape
    reps_full = (1,) * (n - len(reps)) + reps
    split = [d for pair in zip(reps_full, shape_full) for d in pair]
    summed = np.reshape(g, split).sum(axis=tuple(range(0, 2 * n, 2)))
    return np.reshape(summed, shape)


def unrepeat(g, a, repeats, axis=None):
    """The adjoint of `np.repeat(a, repeats, axis)`: the copies' gradients summed."""
    shape = np.shape(a)
    if axis is None:
        source = np.ravel(a)
        axis = 0
    else:
        source = np.asarray(a)
        axis %= max(source.ndim, 1)
    n = source.shape[axis] if source.ndim else 1
    counts = np.broadcast_to(np.asarray(repeats), (n,))
    if not np.ndim(g):
        return np.reshape(g, shape)
    if np.all(counts > 0):  # (each copy a run of g: one sum per run)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
        return np.reshape(np.add.reduceat(g, starts, axis=axis), shape)
    summed = np.zeros((n,) + np.shape(np.moveaxis(g, axis, 0))[1:], dtype=adjoint_dtype(g, a))
    np.add.at(summed, np.repeat(np.arange(n), counts), np.moveaxis(g, axis, 0))  # (items repeated 0 times: 0)
    return np.reshape(np.moveaxis(summed, 0, axis), shape)


def norm_adjoint(g, ans, x, ord=None, axis=None, keepdims=False):
    """The adjoint of `np.linalg.norm(x, ord, axis, keepdims)` for the 2-norm, Frobenius and 1-norm.

    At a zero vector the 2-norm has no derivative; gradc returns 0 there (a subgradient).
    """
    x = np.asarray(x)
    if axis is not None and not keepdims:
        g, ans = np.expand_dims(g, axis), np.expand_dims(ans, axis)
    vector = axis is None and x.ndim == 1 or isinstance(axis, (int, np.integer))
    if ord is None or ord == "fro" or (ord == 2 and vector):
        safe = np.where(ans == 0, 1.0, ans)
        return g * np.where(ans == 0, 0.0, x / safe)
    if ord == 1 and vector:
        return g * np.sign(x)
    raise NoGradientRuleError(f"gradc has no rule for np.linalg.norm with ord={ord!r} on this shape",
                     hint="the 2-norm, Frobenius norm and vector 1-norm are supported")


def inverse_axes(axes, ndim):
    """The permutation that undoes `transpose(axes)` (also for `x.transpose(*axes)` forms)."""
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        axes = tuple(axes[0]) if axes[0] is not None else ()
    if not axes:
        return tuple(reversed(range(ndim)))
    return tuple(np.argsort([a % ndim for a in axes]).tolist())


def diag_adjoint(g, v, k=0):
    """The adjoint of `np.diag(v, k)`: a diagonal read back, or a diagonal placed back."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k)
    out = np.zeros(np.shape(v), dtype=adjoint_dtype(g, v))
    n = len(g)
    rows = np.arange(n) + max(-k, 0)
    cols = np.arange(n) + max(k, 0)
    out[rows, cols] = g
    return out


def solve_adjoint_b(g, a):
    """The adjoint of `b` in `np.linalg.solve(a, b)`: solve with aᵀ."""
    return np.linalg.solve(np.swapaxes(a, -1, -2), g)


def solve_adjoint_a(gb, ans, b):
    """The adjoint of `a` in `x = np.linalg.solve(a, b)`, given the adjoint of `b`."""
    if np.ndim(b) == 1:
        return -np.multiply.outer(gb, ans)
    return -(gb @ np.swapaxes(ans, -1, -2))


def astype_adjoint(g, x, ans):
    """The adjoint of `x.astype(dtype)`: back in x's dtype; zero when the cast went to integers."""
    if not np.issubdtype(np.asarray(ans).dtype, np.inexact):
        return np.zeros(np.shape(x), dtype=floating(np.result_type(x)))
    return np.asarray(g).astype(floating(np.result_type(x)))

def astype_tangent(t, ans):
    """The tangent of `x.astype(dtype)` (`ans`): `t` cast the same way; 0 where the cast went to integers."""
    if not np.issubdtype(np.asarray(ans).dtype, np.inexact):
        return np.zeros(np.shape(ans), dtype=np.float64)
    return np.asarray(t).astype(np.asarray(ans).dtype)

__all__ += ["hstack_adjoint", "vstack_adjoint", "solve_adjoint_a", "zeros_for", "add_at", "unbroadcast_to",
            "Adjoints", "AdjointDict", "add_adjoints", "assign_item", "erase_item", "assigned_part",
            "list_append", "unappend", "copy_of", "added_at", "adjoint_dtype", "floating"]


# -- the adjoints of the adjoint helpers above (their rules are in gradc/rules/runtime_rules.py) -------

def assigned_part_adjoint(h, g, index, value):
    """The adjoint of `g` in `assigned_part(g, index, value)`: `h` spread over the part, put back."""
    part = np.broadcast_to(h, np.shape(g[index]))
    last = _last_writes(g, index, part)
    return scatter_add(part if last is None else part * last, g, index)


def einsum_adjoints_adjoint(h, g, subscripts, operands):
    """The adjoints of `g`, `subscripts` (an array in the operand/sublist form) and the operands in
    `einsum_adjoints(g, subscripts, operands)`, given `h`, the adjoint of its result (one item per
    argument): each operand's adjoint is linear in `g` and in every other operand, so each term is
    an einsum with `h`'s item in that operand's place."""
    arguments = (subscripts,) + tuple(operands)
    if isinstance(subscripts, str):
        spec, arrays, positions = subscripts, list(operands), list(range(1, len(arguments)))
    else:
        spec, arrays, positions = _sublist_form(arguments)
    inputs, output = _parse_einsum(explicit_einsum(spec, arrays), len(arrays))
    explicit = ",".join(inputs) + "->" + output
    dg, d_arguments = 0.0, [0.0] * len(arguments)
    for i, position in enumerate(positions):
        if np.ndim(h[position]) == 0 and not np.any(h[position]):
            continue  # (an adjoint nothing was read of)
        placed = list(arrays)
        placed[i] = np.broadcast_to(h[position], np.shape(arrays[i]))
        dg = dg + np.einsum(explicit, *placed)
        for j, other in enumerate(positions):
            if j != i:
                d_arguments[other] = d_arguments[other] + einsum_adjoint(j, g, spec, *placed)
    return unbroadcast(dg, g), (None if isinstance(subscripts, str) else d_arguments[0]), Adjoints(d_arguments[1:])


def _exclusive_products(flat, tangent):
    """For each k along the last axis, the product of the other elements (`flat`), and its
    derivative in the direction `tangent`: prefix and suffix products with their tangents, so
    zeros are exact (no division)."""
    n = flat.shape[-1]
    prefix, d_prefix = np.ones_like(flat), np.zeros_like(flat)
    suffix, d_suffix = np.ones_like(flat), np.zeros_like(flat)
    for k in range(1, n):
        prefix[..., k] = prefix[..., k - 1] * flat[..., k - 1]
        d_prefix[..., k] = d_prefix[..., k - 1] * flat[..., k - 1] + prefix[..., k - 1] * tangent[..., k - 1]
    for k in range(n - 2, -1, -1):
        suffix[..., k] = suffix[..., k + 1] * flat[..., k + 1]
        d_suffix[..., k] = d_suffix[..., k + 1] * flat[..., k + 1] + suffix[..., k + 1] * tangent[..., k + 1]
    return prefix * suffix, d_prefix * suffix + prefix * d_suffix


def _others_and_their_tangent(a, t, axis):
    """The reduced axes of `np.prod(a, axis)`, each element's product of the others along them, and
    that product's derivative along `t` (shaped like `a`)."""
    a = np.asarray(a)
    axes = tuple(range(a.ndim)) if axis is None else tuple(
        i % a.ndim for i in ((axis,) if isinstance(axis, (int, np.integer)) else axis))
    rest = [i for i in range(a.ndim) if i not in axes]
    order = rest + list(axes)
    moved, t_moved = np.transpose(a, order), np.transpose(np.broadcast_to(t, a.shape), order)
    flat_shape = moved.shape[:len(rest)] + (-1,)
    others, d_others = _exclusive_products(moved.reshape(flat_shape), t_moved.reshape(flat_shape))
    back = np.argsort(order)
    return axes, np.transpose(others.reshape(moved.shape), back), np.transpose(d_others.reshape(moved.shape), back)


def prod_adjoint_adjoint(h, g, a, axis=None, keepdims=False):
    """The adjoints of `g` and `a` in `prod_adjoint(g, a, axis, keepdims)` (exact where `a` has zeros)."""
    axes, others, d_others = _others_and_their_tangent(a, h, axis)
    g_full = g if keepdims else np.expand_dims(g, axes)
    dg = np.sum(h * others, axis=axes, keepdims=keepdims)
    return np.reshape(dg, np.shape(g)), g_full * d_others


def norm_adjoint_adjoint(h, g, ans, x, ord=None, axis=None, keepdims=False):
    """The adjoints of `g`, `ans` and `x` in `norm_adjoint(g, ans, x, ...)`, taken as independent."""
    x = np.asarray(x)
    g_full, n = (np.expand_dims(g, axis), np.expand_dims(ans, axis)) if axis is not None and not keepdims \
        else (g, ans)
    reduce = dict(axis=axis, keepdims=keepdims)
    vector = axis is None and x.ndim == 1 or isinstance(axis, (int, np.integer))
    if ord == 1 and vector:
        return np.sum(h * np.sign(x), **reduce), np.zeros(np.shape(ans)), np.zeros(x.shape)
    safe = np.where(n == 0, 1.0, n)
    direction = np.where(n == 0, 0.0, x / safe)
    dg = np.sum(h * direction, **reduce)
    dans = -np.sum(h * g_full * direction / safe, **reduce)
    dx = h * np.where(n == 0, 0.0, g_full / safe)
    return np.reshape(dg, np.shape(g)), np.reshape(dans, np.shape(ans)), dx


def pieces_adjoint(h, g, arrays, how, axis=0):
    """The adjoint of `g` in a helper that cut `g` into pieces shaped like `arrays` (`split_like`,
    `unstack`, `hstack_adjoint`, `vstack_adjoint`): the pieces' adjoints `h` joined back (`how`)."""
    pieces = [np.broadcast_to(p, np.shape(a)) for p, a in zip(h, arrays)]
    if how == "stack":
        joined = np.stack(pieces, axis)
    elif how == "hstack":
        joined = np.hstack(pieces)
    elif how == "vstack":
        joined = np.vstack(pieces)
    elif axis is None:
        joined = np.concatenate([np.ravel(p) for p in pieces])
    else:
        joined = np.concatenate(pieces, axis)
    return np.reshape(joined, np.shape(g))


__all__ += ["assigned_part_adjoint", "einsum_adjoints_adjoint", "prod_adjoint_adjoint", "norm_adjoint_adjoint",
            "pieces_adjoint", "list_without_last", "unpop", "unconcat", "unrepeat_items", "repeat_items", "unappend"]


# -- the tangents of the adjoint helpers (their JVP rules are in gradc/rules/runtime_rules.py) -------

def prod_adjoint_tangent(tg, ta, g, a, axis=None, keepdims=False):
    """The tangent of `prod_adjoint(g, a, axis, keepdims)` along `tg` and `ta` (exact where `a` has zeros)."""
    axes, _, d_others = _others_and_their_tangent(a, ta, axis)
    g_full = g if keepdims else np.expand_dims(g, axes)
    return prod_adjoint(tg, a, axis, keepdims) + g_full * d_others


def norm_adjoint_tangent(t, g, ans, x, ord=None, axis=None, keepdims=False):
    """The tangent of `norm_adjoint(g, ans, x, ...)` along the tangents `t` of g, ans and x."""
    tg, tans, tx = t
    x = np.asarray(x)
    expand = axis is not None and not keepdims
    g_full, n = (np.expand_dims(g, axis), np.expand_dims(ans, axis)) if expand else (g, ans)
    tg_full, tn = (np.expand_dims(tg, axis), np.expand_dims(tans, axis)) if expand else (tg, tans)
    vector = axis is None and x.ndim == 1 or isinstance(axis, (int, np.integer))
    if ord == 1 and vector:
        return tg_full * np.sign(x)
    safe = np.where(n == 0, 1.0, n)
    return np.where(n == 0, 0.0, (tg_full * x + g_full * tx - g_full * x * tn / safe) / safe)


def einsum_adjoints_tangent(tg, t_subscripts, t_operands, g, subscripts, operands):
    """The tangent of `einsum_adjoints(g, subscripts, operands)`: it is linear in g and in each
    operand apart, so a sum of it with one of them replaced by its tangent (an operand's own adjoint
    does not read it: that item is left out of its term)."""
    total = einsum_adjoints(tg, subscripts, operands)
    arguments = (subscripts,) + tuple(operands)
    tangents = (t_subscripts,) + tuple(t_operands)
    positions = range(1, len(arguments)) if isinstance(subscripts, str) else range(0, len(arguments) - 1, 2)
    for position in positions:
        if np.ndim(tangents[position]) == 0 and not np.any(tangents[position]):
            continue
        replaced = list(arguments)
        replaced[position] = np.broadcast_to(tangents[position], np.shape(arguments[position]))
        part = einsum_adjoints(g, replaced[0], tuple(replaced[1:]))
        total = tuple(a if b is None or k == position else b if a is None else a + b
                      for k, (a, b) in enumerate(zip(total, part)))
    return total

__all__ += ["prod_adjoint_tangent", "norm_adjoint_tangent", "einsum_adjoints_tangent"]


# -- helpers of the numpy.linalg rules added for issue 13 ------------------------------------------
# (their rules: `zero_gradient` in gradc/rules/linalg.py, beside the rules that call them)

def real_spectrum_size(w):
    """The number of eigenvalues in `w`, a result of `np.linalg.eig` or `eigvals`, once it is checked
    that they are real (NumPy returns real arrays then, or from NumPy 2.5 complex ones with no
    imaginary part): gradc differentiates eig only there."""
    if np.iscomplexobj(w) and np.any(np.imag(w) != 0):
        raise NoGradientRuleError(
            "gradc differentiates np.linalg.eig and np.linalg.eigvals only where every eigenvalue is real, "
            "and this matrix has complex ones",
            hint="for a symmetric matrix use np.linalg.eigh or eigvalsh (they read one triangle of it)")
    return np.shape(w)[-1]


def refuse_linalg_option(what):
    """Raise gradc's error for an option of a numpy.linalg function whose gradient gradc does not
    compute (`what` names it); called where the rule would otherwise be used."""
    raise NoGradientRuleError(f"gradc has no gradient rule for {what}",
                              hint="see the numpy.linalg section of docs/rules.md for what is covered")


__all__ += ["real_spectrum_size", "refuse_linalg_option"]


# -- helpers of the NumPy rules added for issue 13 ------------------------------------------------
# (complex values, sorting, differences, padding, Kronecker products, diagonals, einsum's `...`
# and repeated indices; each has its rules in gradc/rules/runtime_rules.py)

def match_complex(g, x):
    """`g` as the adjoint of `x`: its real part where `x` is real (autograd's convention: the
    adjoint of a complex value is d/d(re) - i d/d(im), and a real value keeps the real part)."""
    if isinstance(x, (tuple, list, dict)) or isinstance(g, (tuple, list, dict)):
        return g  # (a container's adjoint, or a result of several arrays: its items are each matched)
    if np.iscomplexobj(x) or not np.iscomplexobj(g):
        return g
    return np.real(g)


def sinc_slope(x):
    """The derivative of `np.sinc` at `x`: (cos(pi x) - sinc(x)) / x, and 0 at 0."""
    return (np.cos(np.pi * x) - np.sinc(x)) / np.where(x == 0, 1.0, x)


def sinc_curvature(x):
    """The derivative of `sinc_slope`: -pi**2 sinc(x) - 2 sinc_slope(x) / x, and -pi**2 / 3 at 0."""
    return np.where(x == 0, -np.pi ** 2 / 3.0,
                    -np.pi ** 2 * np.sinc(x) - 2.0 * sinc_slope(x) / np.where(x == 0, 1.0, x))


def _mean_over_ties(v, values, axis):
    """`v` with each run of equal `values` along `axis` (values sorted there) replaced by its mean."""
    v, values = np.moveaxis(v, axis, -1), np.moveaxis(values, axis, -1)
    starts = np.ones(values.shape, dtype=bool)
    starts[..., 1:] = values[..., 1:] != values[..., :-1]
    if np.all(starts):
        return np.moveaxis(v, -1, axis)
    n = values.shape[-1]
    rows = np.arange(int(np.prod(values.shape[:-1]))).reshape(values.shape[:-1] + (1,))
    runs = (np.cumsum(starts, axis=-1) - 1 + rows * n).ravel()
    sums = np.zeros(runs[-1] + 1, dtype=v.dtype)
    np.add.at(sums, runs, v.ravel())
    counts = np.maximum(np.bincount(runs), 1)  # (ids a row does not reach: none)
    return np.moveaxis((sums / counts)[runs].reshape(v.shape), -1, axis)


def unpermute(g, a, ans, axis=-1):
    """The adjoint of `a` where `ans` holds `a`'s values rearranged along `axis` (`np.sort`,
    `np.partition`; axis None: flattened): each element of `a` gets `g` where `ans` holds its value,
    and elements of equal value share the mean of theirs (ties, as `max` splits them).
    With `a` and `ans` swapped it is the tangent: `unpermute(t, ans, a, axis)`."""
    shape = np.shape(a)
    g = np.broadcast_to(g, np.shape(ans))
    if axis is None:
        g, a, ans, axis = np.ravel(g), np.ravel(a), np.ravel(ans), -1
    from_ans = np.argsort(ans, axis=axis, kind="stable")
    to_a = np.argsort(a, axis=axis, kind="stable")
    shared = _mean_over_ties(np.take_along_axis(g, from_ans, axis), np.take_along_axis(ans, from_ans, axis), axis)
    out = np.empty(np.shape(a), dtype=adjoint_dtype(g, a))
    np.put_along_axis(out, to_a, shared, axis)
    return np.reshape(out, shape)


def _spacings(spacing, count):
    """np.gradient's `*varargs` as one spacing (a number or coordinates) per axis."""
    if len(spacing) == 0:
        return [1.0] * count
    if len(spacing) == 1 and np.ndim(spacing[0]) == 0:
        return [spacing[0]] * count
    return list(spacing)


def _gradient_axes(f, axis):
    n = np.ndim(f)
    if axis is None:
        return list(range(n))
    return [a % n for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis)]


def gradient_adjoint(g, f, spacing=(), axis=None, edge_order=1):
    """The adjoint of `f` in `np.gradient(f, *spacing, axis=axis, edge_order=edge_order)`: for each
    axis, its difference matrix D (np.gradient of the identity) transposed, applied to g's part."""
    axes = _gradient_axes(f, axis)
    parts = list(g) if len(axes) > 1 else [g]
    total = np.zeros(np.shape(f), dtype=adjoint_dtype(parts[0], f))
    for k, h, step in zip(axes, parts, _spacings(spacing, len(axes))):
        n = np.shape(f)[k]
        matrix = np.gradient(np.eye(n), step, axis=0, edge_order=edge_order)
        total = total + np.moveaxis(np.tensordot(np.broadcast_to(h, np.shape(f)), matrix, axes=([k], [0])), -1, k)
    return total


def gradient_of(h, spacing=(), axis=None, edge_order=1):
    """`np.gradient(h, *spacing, axis=axis, edge_order=edge_order)`, several axes' parts as Adjoints
    (the adjoint of `g` in `gradient_adjoint`)."""
    out = np.gradient(h, *spacing, axis=axis, edge_order=edge_order)
    return Adjoints(out) if isinstance(out, (list, tuple)) else out


def undiff(g, a, n=1, axis=-1, prepend=None, append=None):
    """The adjoint of `a` in `np.diff(a, n, axis, prepend=..., append=...)`: the first difference
    transposed n times (a zero beyond each end, negated), cut to `a`'s part."""
    for _ in range(n):
        g = -np.diff(g, axis=axis, prepend=0, append=0)
    before = 0 if prepend is None else 1 if np.ndim(prepend) == 0 else np.shape(prepend)[axis]
    return np.take(g, np.arange(before, before + np.shape(a)[axis]), axis=axis)


def diff_tangent(t, n=1, axis=-1, prepend=None, append=None):
    """The tangent of `np.diff(a, n, axis, prepend=..., append=...)` along `t` (prepend and
    append are constants: zeros in their place)."""
    keywords = {}
    if prepend is not None:
        keywords["prepend"] = np.zeros(np.shape(prepend))
    if append is not None:
        keywords["append"] = np.zeros(np.shape(append))
    return np.diff(t, n, axis, **keywords)


_INDEX_PADS = ("constant", "empty", "edge", "reflect", "symmetric", "wrap")


def _refuse_pad(mode, reflect_type):
    if callable(mode) or mode not in _INDEX_PADS or reflect_type != "even":
        raise NoGradientRuleError(f"gradc differentiates np.pad with mode {mode!r} only where each padded value "
                                  "copies one element (reflect_type='even')",
                                  hint="modes: " + ", ".join(_INDEX_PADS))


def pad_adjoint(g, array, pad_width, mode="constant", reflect_type="even"):
    """The adjoint of `array` in `np.pad(array, pad_width, mode)`: the inner part of g, and for the
    modes that copy elements (edge, reflect, symmetric, wrap) each copy's gradient added back."""
    _refuse_pad(mode, reflect_type)
    shape = np.shape(array)
    if mode in ("constant", "empty"):
        widths = np.broadcast_to(np.asarray(pad_width), (len(shape), 2))
        return g[tuple(slice(int(w), int(w) + n) for w, n in zip(widths[:, 0], shape))]
    source = np.pad(np.arange(int(np.prod(shape))).reshape(shape), pad_width, mode=mode)
    out = np.zeros(int(np.prod(shape)), dtype=adjoint_dtype(g, array))
    np.add.at(out, source.ravel(), np.ravel(g))
    return out.reshape(shape)


def pad_linear(t, pad_width, mode="constant", reflect_type="even"):
    """`np.pad` as the linear map it is in the padded array: the tangent of `np.pad(a, pad_width,
    mode)` (a constant padding is 0), and the adjoint of `pad_adjoint`."""
    _refuse_pad(mode, "even")
    if mode in ("constant", "empty"):
        return np.pad(t, pad_width)
    if mode in ("reflect", "symmetric"):
        return np.pad(t, pad_width, mode=mode, reflect_type=reflect_type)
    return np.pad(t, pad_width, mode=mode)


def _kron_blocks(g, a, b):
    """`g` (shaped like np.kron(a, b)) with each axis split in two: a's index, then b's."""
    n = max(np.ndim(a), np.ndim(b))
    shape_a = (1,) * (n - np.ndim(a)) + np.shape(a)
    shape_b = (1,) * (n - np.ndim(b)) + np.shape(b)
    return np.reshape(g, [d for pair in zip(shape_a, shape_b) for d in pair]), shape_a, shape_b, n


def kron_lhs(g, a, b):
    """The adjoint of `a` in `np.kron(a, b)`: each block of g contracted with b."""
    blocks, _, shape_b, n = _kron_blocks(g, a, b)
    da = np.tensordot(blocks, np.reshape(b, shape_b), axes=(list(range(1, 2 * n, 2)), list(range(n))))
    return np.reshape(da, np.shape(a))


def kron_rhs(g, a, b):
    """The adjoint of `b` in `np.kron(a, b)`: the blocks of g weighted by a's elements, summed."""
    blocks, shape_a, _, n = _kron_blocks(g, a, b)
    db = np.tensordot(blocks, np.reshape(a, shape_a), axes=(list(range(0, 2 * n, 2)), list(range(n))))
    return np.reshape(db, np.shape(b))


def diagonal_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """The adjoint of `np.diagonal(a, offset, axis1, axis2)`: zeros shaped like `a`, `g` on the diagonals."""
    shape = np.shape(a)
    first, second = axis1 % len(shape), axis2 % len(shape)
    rest = [shape[i] for i in range(len(shape)) if i not in (first, second)]
    out = np.zeros(rest + [shape[first], shape[second]], dtype=adjoint_dtype(g, a))
    length = np.shape(g)[-1]
    out[..., np.arange(length) + max(-offset, 0), np.arange(length) + max(offset, 0)] = g
    return np.moveaxis(out, (-2, -1), (first, second))


def column_stack_adjoint(g, arrays):
    """The adjoints of the items of `np.column_stack(arrays)`: g's columns cut back into them."""
    sizes = [np.shape(a)[1] if np.ndim(a) == 2 else 1 for a in arrays]
    pieces = np.split(g, np.cumsum(sizes)[:-1], axis=1)
    return Adjoints([np.reshape(p, np.shape(a)) for p, a in zip(pieces, arrays)])


def column_stack_of(h, arrays):
    """`np.column_stack` of adjoints `h` of items shaped like `arrays` (a zero may come as a number)."""
    return np.column_stack([np.broadcast_to(p, np.shape(a)) for p, a in zip(h, arrays)])


def select_adjoints(g, condlist, choicelist):
    """The adjoints of the choices of `np.select(condlist, choicelist, default)`: g where each is
    the one chosen (its condition the first that holds), summed to its shape."""
    chosen = np.select(condlist, list(range(len(choicelist))), -1)
    return Adjoints([unbroadcast(np.where(chosen == i, g, 0.0), c) for i, c in enumerate(choicelist)])


def explicit_einsum(subscripts, operands):
    """einsum's subscripts written out for these operands: each axis of `...` a letter of its own
    (an operand's axis of length 1 that broadcasts against a longer one gets another letter, so
    it is summed in its adjoint), and the output after `->` (in implicit mode: `...`, then the
    letters used once, sorted, as NumPy has it)."""
    subscripts = subscripts.replace(" ", "")
    inputs, output = subscripts.split("->") if "->" in subscripts else (subscripts, None)
    inputs = inputs.split(",")
    if output is None:
        letters = "".join(inputs).replace(".", "")
        output = ("..." if "." in subscripts else "") + "".join(sorted(c for c in set(letters)
                                                                      if letters.count(c) == 1))
    if "." not in subscripts:
        return ",".join(inputs) + "->" + output
    unused = iter(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in subscripts)
    spans = [(s.index("..."), np.ndim(op) - len(s) + 3) if "..." in s else (0, 0) for s, op in zip(inputs, operands)]
    width = max(count for _, count in spans)
    lengths = np.broadcast_shapes(*(np.shape(op)[start:start + count] for op, (start, count) in zip(operands, spans)))
    shared = [next(unused) for _ in range(width)]

    def written_out(s, op, start, count):
        axes = np.shape(op)[start:start + count]
        return s.replace("...", "".join(shared[width - count + i] if axes[i] == lengths[width - count + i]
                                        else next(unused) for i in range(count)))
    inputs = [written_out(s, op, *span) for s, op, span in zip(inputs, operands, spans)]
    return ",".join(inputs) + "->" + output.replace("...", "".join(shared))


def einsum_diagonal_adjoint(position, g, inputs, output, operands):
    """The adjoint of an einsum operand whose subscripts repeat an index ('ii->i', 'iij->j'): the
    adjoint of its diagonal (the index once), placed back on the diagonal (times an identity per
    repetition)."""
    target = inputs[position]
    once = "".join(dict.fromkeys(target))
    shape = np.shape(operands[position])
    sizes = {c: shape[target.index(c)] for c in once}
    stand_in = np.broadcast_to(np.zeros((), dtype=np.result_type(operands[position])), [sizes[c] for c in once])
    spec = ",".join(inputs[:position] + [once] + inputs[position + 1:]) + "->" + output
    on_diagonal = einsum_adjoint(position, g, spec, *operands[:position], stand_in, *operands[position + 1:])
    unused = iter(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in spec)
    seen, written, identities = set(), "", []
    for c in target:
        if c in seen:
            fresh = next(unused)
            written += fresh
            identities.append(c + fresh)
        else:
            seen.add(c)
            written += c
    eyes = [np.eye(sizes[pair[0]], dtype=np.result_type(on_diagonal)) for pair in identities]
    return np.einsum(",".join([once] + identities) + "->" + written, on_diagonal, *eyes)


def no_rule_for(what):
    """Raise gradc's error for a use of a NumPy function whose gradient gradc does not compute
    (`what` says which); a rule calls it where it would otherwise be wrong."""
    raise NoGradientRuleError(f"gradc has no gradient rule for {what}", hint="see docs/rules.md for what is covered")


__all__ += ["explicit_einsum", "einsum_diagonal_adjoint", "no_rule_for"]


def fft_plan(a, s=None, axes=None):
    """The axes `np.fft.fftn(a, s, axes)` (and its kin) transforms and their lengths after `s`
    cuts or pads them: `axes` None means all axes, or the last len(s)."""
    if axes is None:
        axes = range(np.ndim(a)) if s is None else range(-len(s), 0)
    axes = tuple(i % np.ndim(a) for i in axes)
    return axes, tuple(np.shape(a)[i] for i in axes) if s is None else tuple(s)


def resized(a, like, axes=None):
    """`a` cut, or padded with zeros, along `axes` (all when None) to the lengths `like` has there:
    what np.fft does to its input for `n` or `s`, and the adjoint of that, done back."""
    axes = range(np.ndim(like)) if axes is None else [i % np.ndim(like) for i in axes]
    for axis in axes:
        have, want = np.shape(a)[axis], np.shape(like)[axis]
        if have > want:
            a = np.take(a, np.arange(want), axis=axis)
        elif have < want:
            widths = [(0, 0)] * np.ndim(a)
            widths[axis] = (0, want - have)
            a = np.pad(a, widths)
    return a


def _half_weights(n, axis, ndim):
    """How many frequencies of a real signal's full spectrum of length n each of the first
    n // 2 + 1 stands for (1 for the first and, for an even n, the last; else 2), shaped to
    multiply along `axis`."""
    weights = np.full(n // 2 + 1, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    return np.reshape(weights, [-1 if i == axis else 1 for i in range(ndim)])


def half_spectrum(f, like, axes):
    """The adjoint of the half spectrum `like` in `np.fft.irfftn(like, s, axes)`, from `f`, the
    inverse transform (over the same axes) of the real result's adjoint: f's first n // 2 + 1
    frequencies along the last axis, each doubled that stands for two, cut or padded to `like`."""
    last = axes[-1] % np.ndim(f)
    n = np.shape(f)[last]
    kept = np.take(f, np.arange(n // 2 + 1), axis=last) * _half_weights(n, last, np.ndim(f))
    return resized(kept, like, axes)


def full_spectrum(h, f, axes):
    """The adjoint of `f` in `half_spectrum(f, like, axes)`: `h` cut or padded back to the first
    n // 2 + 1 frequencies, weighted the same, then padded with zeros to f's length n."""
    last = axes[-1] % np.ndim(f)
    n = np.shape(f)[last]
    shape = list(np.shape(f))
    shape[last] = n // 2 + 1
    kept = resized(h, np.broadcast_to(0.0, shape), axes) * _half_weights(n, last, np.ndim(f))
    return resized(kept, f, axes)


__all__ += ["fft_plan", "resized", "half_spectrum", "full_spectrum"]
__all__ += ["match_complex", "sinc_slope", "sinc_curvature", "unpermute", "gradient_adjoint", "gradient_of", "undiff",
            "diff_tangent", "pad_adjoint", "pad_linear", "kron_lhs", "kron_rhs", "diagonal_adjoint",
            "column_stack_adjoint", "column_stack_of", "select_adjoints"]


# -- `np.r_[...]` and `np.c_[...]` (issue 13: lowered to these calls; rules in rules/runtime_rules.py) -------

def r_of(*items):
    """`np.r_[a, b, ...]`: the items joined along the first axis (a number as one element)."""
    return np.r_[items]


def c_of(*items):
    """`np.c_[a, b, ...]`: the items joined along the last axis (a vector as one column)."""
    return np.c_[items]


def joined_parts(g, shapes, axis):
    """The part of `g`, the adjoint of `r_of(*items)` (axis 0) or `c_of(*items)` (axis -1), that
    each item, of shape `shapes[k]`, became, in its shape: a number's part is one element, a
    vector's in `c_of` a column. One item: its part alone."""
    parts, start = [], 0
    for shape in shapes:
        grown = shape if len(shape) >= (1 if axis == 0 else 2) else \
            ((1,) if axis == 0 else (shape[0] if shape else 1, 1))
        width = grown[axis]
        part = g[start:start + width] if axis == 0 else g[..., start:start + width]
        parts.append(np.reshape(part, shape))
        start += width
    return tuple(parts) if len(parts) != 1 else parts[0]  # (a rule's one gradient is itself, not a tuple)


def join_back(parts, shapes, axis):
    """The adjoint of `joined_parts`: the parts joined again as `r_of` or `c_of` joined the items."""
    parts = (parts,) if len(shapes) == 1 else tuple(parts)
    return r_of(*parts) if axis == 0 else c_of(*parts)


def shapes_of(items):
    """The shape of each item (a constant of the gradient)."""
    return tuple(np.shape(item) for item in items)


__all__ += ["r_of", "c_of", "joined_parts", "join_back", "shapes_of"]
