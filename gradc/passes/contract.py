"""Sums of products as one contraction: `(a * b).sum(axis=0)` becomes `np.einsum("ij,ij->j", a, b)`.

Backward sweeps are full of them: the gradient of `gamma * xhat` with respect to a
broadcast `gamma` is `(dy * xhat).sum(axis=0)`. NumPy makes the product as a new array
(a pass over memory and, for big arrays, fresh pages from the system) and then sums it;
`einsum` multiplies and adds in one pass with no temporary. This is what hand-written
backprop does. The forward sweep's sums are rewritten too when only the gradient is
returned (`grad`): `einsum` may add in another order, and `value_and_grad` must return the
very value the function computes. The two operands must have one known shape (einsum does
not broadcast here) and a known floating dtype.
"""
from __future__ import annotations

import math
import operator
import string

import numpy as np

from ..analysis.shapes import shape_of
from ..frontend.lower import static_value
from ..ir.core import Function, Insertions, Op, Value
from .inplace import Dtypes, use_counts

__all__ = ["contract_sums_of_products"]


def _sum_axes(op: Op) -> tuple[Value, object] | None:
    """(the summed value, its axis option) for `x.sum(axis=...)` or `np.sum(x, axis=...)` (and
    `mean`); None for any other op, or one with other options (keepdims, dtype, out)."""
    if op.kind == "method" and op.attrs.get("name") in ("sum", "mean"):
        positional, keywords = op.positional(), op.keywords()
        summed = op.operands[0]
    elif op.kind == "call" and op.attrs.get("callee") in (np.sum, np.mean):
        positional, keywords = op.positional(), op.keywords()
        if not positional:
            return None
        summed, positional = positional[0], positional[1:]
    else:
        return None
    if set(keywords) - {"axis"} or len(positional) > 1 or (positional and keywords):
        return None
    axis_value = positional[0] if positional else keywords.get("axis")
    if axis_value is None:
        return summed, None
    ok, axis = static_value(axis_value)
    return (summed, axis) if ok else None


_LETTERS = string.ascii_lowercase[8:]  # "ij,ij->j", as people write them


def _new_op(like: Op, kind: str, operands: list[Value], attrs: dict) -> Op:
    new = Op(kind, operands, [], attrs, [], like.loc, like.stmt)
    new.backward = like.backward
    new.results = [Value(owner=new)]
    return new


def _count(shape: tuple, axis: object) -> int:
    """How many elements a mean over `axis` divides by."""
    axes = range(len(shape)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    return math.prod(shape[a] for a in axes)


def _spec(ndim: int, axis: object) -> str | None:
    """The einsum subscripts of `(a * b).sum(axis)` for two operands of `ndim` dimensions."""
    if ndim > len(_LETTERS) or ndim == 0:
        return None
    axes = tuple(range(ndim)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    if not all(type(a) is int and -ndim <= a < ndim for a in axes):
        return None
    summed = {a % ndim for a in axes}
    if len(summed) != len(axes):
        return None
    letters = _LETTERS[:ndim]
    kept = "".join(letter for i, letter in enumerate(letters) if i not in summed)
    return f"{letters},{letters}->{kept}"


def contract_sums_of_products(function: Function) -> Function:
    """Rewrite, in place, each `(a * b).sum(axis)` whose product nothing else reads (in the
    backward sweep; in the forward too for `grad`, whose forward values are never returned)."""
    forward_too = getattr(function, "mode", None) == "grad"
    shapes = {v: f.shape for v, f in getattr(function, "facts", {}).items() if f.shape is not None}
    dtypes = Dtypes(getattr(function, "kinds", {}))
    uses = use_counts(function)
    insertions = Insertions()
    for op in list(function.walk()):
        if not (op.backward or forward_too) or len(op.results) != 1:
            continue
        found = _sum_axes(op)
        if found is None:
            continue
        summed, axis = found
        product = summed.owner
        if product is None or product.backward != op.backward or product.kind != "call" or uses.get(summed) != 1 \
                or product.attrs.get("callee") is not operator.mul or product.attrs.get("kwnames") \
                or len(product.operands) != 2:
            continue
        a, b = product.operands
        shape = shape_of(a, shapes)
        if shape is None or shape_of(b, shapes) != shape or shape_of(summed, shapes) != shape:
            continue
        if not all(isinstance(dtypes.of(v), np.dtype) and dtypes.of(v).kind == "f" for v in (a, b)):
            continue
        spec = _spec(len(shape), axis)
        if spec is None:
            continue
        mean = op.attrs.get("name") == "mean" or op.attrs.get("callee") is np.mean
        subscripts = _new_op(op, "const", [], {"value": spec, "spelling": None})
        insertions.before(op, subscripts)
        if mean:  # np.mean is the sum divided by the count: `np.einsum(...) / 256`
            contraction = _new_op(op, "call", [subscripts.result, a, b],
                                  {"callee": np.einsum, "spelling": None, "kwnames": ()})
            count = _new_op(op, "const", [], {"value": _count(shape, axis), "spelling": None})
            insertions.before(op, contraction)
            insertions.before(op, count)
            op.kind, op.operands = "call", [contraction.result, count.result]
            op.attrs = {"callee": operator.truediv, "spelling": None, "kwnames": ()}
        else:
            op.kind, op.operands = "call", [subscripts.result, a, b]
            op.attrs = {"callee": np.einsum, "spelling": None, "kwnames": ()}
    insertions.apply(function)
    return function
