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

from ..analysis.dtypes import Dtypes
from ..analysis.shapes import shape_of
from ..ir.core import Function, Insertions, Op, Value, static_value, use_counts

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
    backward sweep; in the forward too for `grad`, whose forward values are never returned);
    first take out of the sum a factor that does not vary along the summed axes."""
    contractor = _Contractor(function)
    forward_too = getattr(function, "mode", None) == "grad"
    for op in list(function.walk()):
        if (op.backward or forward_too) and len(op.results) == 1:
            contractor.visit(op)
    contractor.insertions.apply(function)
    return function


class _Contractor:
    def __init__(self, function: Function) -> None:
        self.shapes = {v: f.shape for v, f in getattr(function, "facts", {}).items() if f.shape is not None}
        self.dtypes = Dtypes(getattr(function, "kinds", {}))
        self.uses = use_counts(function)
        self.insertions = Insertions()

    def visit(self, op: Op) -> None:
        found = _sum_axes(op)
        if found is not None and not self.factor_out(op, *found):
            self.contract(op, *found)

    def _floating(self, value: Value) -> bool:
        dtype = self.dtypes.of(value)
        return isinstance(dtype, np.dtype) and dtype.kind == "f"

    def _private_call(self, value: Value, op: Op, callees: tuple) -> Op | None:
        """The op making `value`, a call of one of `callees` that only `op` reads, of op's sweep."""
        inner = value.owner
        if inner is None or inner.backward != op.backward or inner.kind != "call" or self.uses.get(value) != 1 \
                or inner.attrs.get("callee") not in callees or inner.attrs.get("kwnames") or len(inner.operands) != 2:
            return None
        return inner

    def factor_out(self, op: Op, summed: Value, axis: object) -> bool:
        """`(x / c).sum(axis=0)` for a `c` constant along axis 0 (shape (n,) against x's (m, n))
        becomes `x.sum(axis=0) / c`: the division runs on the small result."""
        inner = self._private_call(summed, op, (operator.mul, operator.truediv))
        shape = shape_of(summed, self.shapes)
        if inner is None or shape is None or not self._floating(summed):
            return False
        positions = (1,) if inner.attrs["callee"] is operator.truediv else (1, 0)
        for i in positions:
            factor, x = inner.operands[i], inner.operands[1 - i]
            factor_shape = shape_of(factor, self.shapes)
            if factor_shape is None or shape_of(x, self.shapes) != shape or not self._floating(x) or \
                    not (self._floating(factor) or self.dtypes.of(factor) is float):
                continue
            lead = len(shape) - len(factor_shape)
            axes = range(len(shape)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
            if not all(type(a) is int and 0 <= a % len(shape) < lead for a in axes):
                continue
            new_sum = _new_op(op, op.kind, [x] + op.operands[1:], dict(op.attrs))
            self.insertions.before(op, new_sum)
            self.uses[new_sum.result] = 1
            operands = [new_sum.result, factor] if i == 1 else [factor, new_sum.result]
            op.kind, op.operands = "call", operands
            op.attrs = {"callee": inner.attrs["callee"], "spelling": None, "kwnames": ()}
            self.shapes[new_sum.result] = shape_of(op.result, self.shapes) or None
            self.visit(new_sum)
            return True
        return False

    def contract(self, op: Op, summed: Value, axis: object) -> None:
        product = self._private_call(summed, op, (operator.mul,))
        if product is None:
            return
        a, b = product.operands
        shape = shape_of(a, self.shapes)
        if shape is None or shape_of(b, self.shapes) != shape or shape_of(summed, self.shapes) != shape:
            return
        if not (self._floating(a) and self._floating(b)):
            return
        spec = _spec(len(shape), axis)
        if spec is None:
            return
        mean = op.attrs.get("name") == "mean" or op.attrs.get("callee") is np.mean
        subscripts = _new_op(op, "const", [], {"value": spec, "spelling": None})
        self.insertions.before(op, subscripts)
        if mean:  # np.mean is the sum divided by the count: `np.einsum(...) / 256`
            contraction = _new_op(op, "call", [subscripts.result, a, b],
                                  {"callee": np.einsum, "spelling": None, "kwnames": ()})
            count = _new_op(op, "const", [], {"value": _count(shape, axis), "spelling": None})
            self.insertions.before(op, contraction)
            self.insertions.before(op, count)
            op.kind, op.operands = "call", [contraction.result, count.result]
            op.attrs = {"callee": operator.truediv, "spelling": None, "kwnames": ()}
        else:
            op.kind, op.operands = "call", [subscripts.result, a, b]
            op.attrs = {"callee": np.einsum, "spelling": None, "kwnames": ()}
