"""Sums of products as one contraction: `(a * b).sum(axis=0)` becomes `np.einsum("ij,ij->j", a, b)`.

Backward sweeps are full of them: the gradient of `gamma * xhat` with respect to a
broadcast `gamma` is `(dy * xhat).sum(axis=0)`. NumPy makes the product as a new array
(a pass over memory and, for big arrays, fresh pages from the system) and then sums it;
`einsum` multiplies and adds in one pass with no temporary. This is what hand-written
backprop does. Only backward expressions are rewritten (the primal's own sums keep the
user's code and its summation order); the two operands must have one known shape (einsum
does not broadcast here) and a known floating dtype.
"""
from __future__ import annotations

import operator
import string

import numpy as np

from ..analysis.shapes import shape_of
from ..frontend.lower import static_value
from ..ir.core import Function, Insertions, Op, Value
from .inplace import Dtypes, use_counts

__all__ = ["contract_sums_of_products"]


def _sum_axes(op: Op) -> tuple[Value, object] | None:
    """(the summed value, its axis option) for `x.sum(axis=...)` or `np.sum(x, axis=...)`; None
    for any other op, or a sum with other options (keepdims, dtype, out)."""
    if op.kind == "method" and op.attrs.get("name") == "sum":
        positional, keywords = op.positional(), op.keywords()
        summed = op.operands[0]
    elif op.kind == "call" and op.attrs.get("callee") is np.sum:
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
    """Rewrite, in place, each backward `(a * b).sum(axis)` whose product nothing else reads."""
    shapes = {v: f.shape for v, f in getattr(function, "facts", {}).items() if f.shape is not None}
    dtypes = Dtypes(getattr(function, "kinds", {}))
    uses = use_counts(function)
    insertions = Insertions()
    for op in list(function.walk()):
        if not op.backward or len(op.results) != 1:
            continue
        found = _sum_axes(op)
        if found is None:
            continue
        summed, axis = found
        product = summed.owner
        if product is None or not product.backward or product.kind != "call" or uses.get(summed) != 1 \
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
        subscripts = Op("const", [], [], {"value": spec, "spelling": None}, [], op.loc, op.stmt)
        subscripts.backward = True
        subscripts.results = [Value(owner=subscripts)]
        op.kind, op.operands = "call", [subscripts.result, a, b]
        op.attrs = {"callee": np.einsum, "spelling": None, "kwnames": ()}
        op.regions = []
        insertions.before(op, subscripts)
    insertions.apply(function)
    return function
