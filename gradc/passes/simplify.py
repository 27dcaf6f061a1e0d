"""Algebraic simplification and constant folding on the adjoint program.

Rules are written for any adjoint; seeded with `1.0` they produce `1.0 * ans`,
`x ** 1` and the like. This pass removes such identities so the generated
code reads like hand-written backprop. Every rewrite keeps values and shapes.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..analysis.activity import carries_gradient
from ..analysis.shapes import ARITHMETIC_OPERATORS, shape_of
from ..ir.core import Function, Op, Value, static_value, table_key

__all__ = ["simplify"]

_FOLDABLE = {operator.add, operator.sub, operator.mul, operator.truediv, operator.neg, operator.pow,
             math.prod}  # (`math.prod(np.shape(x))`, a count the rules take from a shape: Dask has no np.size)


def _is_number(value: Value, number: float) -> bool:
    ok, constant = static_value(value)
    spelled = ok and value.owner.attrs.get("spelling") is not None  # a global: read at run time
    return ok and not spelled and type(constant) in (int, float) and constant == number


def _numeric(value: Value) -> bool:
    """False for a comparison's result: `1.0 * mask` turns booleans into numbers and must stay."""
    return value.owner is None or carries_gradient(value.owner)


def _broadcast_one(value: Value, shapes: dict) -> tuple | None:
    """The shape S when `value` is `np.broadcast_to(1.0, S)` (the adjoint a sum hands down)."""
    op = value.owner
    if op is None or op.kind != "call" or op.attrs.get("callee") is not np.broadcast_to or len(op.operands) != 2:
        return None
    ok_one, one = static_value(op.operands[0])
    ok_shape, shape = static_value(op.operands[1])
    if ok_one and ok_shape and type(one) in (int, float) and one == 1 and isinstance(shape, tuple):
        return shape
    return None


def _identity(op: Op, shapes: dict | None = None, dtypes: dict | None = None) -> Value | None:
    """The operand `op` returns unchanged, if it is an identity such as `1.0 * x`, or
    `np.broadcast_to(1.0, S) * y` for a `y` of shape S."""
    if op.kind != "call" or op.attrs.get("kwnames"):
        return None
    callee, args = op.attrs["callee"], op.operands
    if callee is operator.mul and len(args) == 2 and shapes:
        for one, other in ((args[0], args[1]), (args[1], args[0])):
            shape = _broadcast_one(one, shapes)
            if shape is not None and other in shapes and shapes[other] == shape and _numeric(other):
                return other
    if callee is operator.mul and len(args) == 2:
        for one, other in ((args[0], args[1]), (args[1], args[0])):
            if _is_number(one, 1) and not static_value(other)[0] and _numeric(other):
                return other
            if _keeps_dtype(one, other, dtypes or {}) and not static_value(other)[0] and _numeric(other):
                return other  # (`np.float32(1.0) * x`, the seed of a float32 gradient, with x float32)
    if callee in (operator.truediv, operator.pow) and len(args) == 2 and _is_number(args[1], 1) \
            and not static_value(args[0])[0] and _numeric(args[0]):
        return args[0]
    if callee in (operator.add, operator.sub) and len(args) == 2 and _is_number(args[1], 0) \
            and not static_value(args[0])[0] and _numeric(args[0]) and _shape_of_result_is(op, args[0], shapes):
        return args[0]  # `x - 0.0` (what `sigmoid(x2 - x1)` is for `logaddexp(0.0, x)`)
    if callee is operator.add and len(args) == 2 and _is_number(args[0], 0) \
            and not static_value(args[1])[0] and _numeric(args[1]) and _shape_of_result_is(op, args[1], shapes):
        return args[1]
    if callee is operator.neg:
        inner = args[0].owner
        if inner is not None and inner.kind == "call" and inner.attrs["callee"] is operator.neg:
            return inner.operands[0]
    return None


def _keeps_dtype(one: Value, other: Value, dtypes: dict) -> bool:
    """Whether `one` is a NumPy scalar 1 whose product with `other` has `other`'s dtype."""
    ok, constant = static_value(one)
    return ok and isinstance(constant, np.generic) and constant == 1 and other in dtypes and \
        np.result_type(constant, dtypes[other]) == dtypes[other]


def _shape_of_result_is(op: Op, operand: Value, shapes: dict | None) -> bool:
    """Whether `x + 0.0` has x's shape, so that it can be x (the same numbers; an integer x stays
    an integer, which the arithmetic reading it promotes as it would have)."""
    if not shapes:
        return False
    shape = shape_of(operand, shapes)
    return shape is not None and shape_of(op.result, shapes) == shape


def _fold(op: Op) -> object:
    """The constant `op` computes, when it is arithmetic on constants; else a sentinel."""
    if op.kind != "call" or op.attrs["callee"] not in _FOLDABLE or op.attrs.get("kwnames"):
        return _NOT
    statics = [static_value(v) for v in op.operands]
    if op.attrs["callee"] is math.prod and len(statics) == 1 and statics[0][0] and \
            type(statics[0][1]) is tuple and all(type(n) is int for n in statics[0][1]):
        return math.prod(statics[0][1])  # (a shape's count of elements)
    if not all(ok for ok, _ in statics) or not all(type(c) in (int, float) for _, c in statics):
        return _NOT
    if any(v.owner.attrs.get("spelling") is not None for v in op.operands):
        return _NOT  # a global's value is read when the gradient runs
    try:
        return op.attrs["callee"](*(c for _, c in statics))
    except (ArithmeticError, ValueError):
        return _NOT


_NOT = object()

_SHAPE_QUERIES = {np.shape: lambda shape: shape, np.size: lambda shape: int(np.prod(shape, dtype=np.int64)),
                  np.ndim: len}


def _fold_shape(op: Op, shapes: dict) -> object:
    """`np.shape(x)`, `np.size(x)`, `np.ndim(x)` of an `x` whose shape is known: a constant."""
    if op.kind != "call" or op.attrs.get("kwnames") or len(op.operands) != 1:
        return _NOT
    query = _SHAPE_QUERIES.get(table_key(op.attrs["callee"]))
    shape = shape_of(op.operands[0], shapes) if query is not None else None
    return _NOT if shape is None else query(shape)


def _query_shape_of_operand(op: Op) -> None:
    """`np.shape(x ** 2)` is `np.shape(x)` (and `np.size`, `np.ndim`; `x ** c`, `-x`, `np.exp(x)`...):
    the elementwise result then need not be kept for its shape alone."""
    if op.kind != "call" or op.attrs.get("kwnames") or len(op.operands) != 1 or \
            table_key(op.attrs["callee"]) not in _SHAPE_QUERIES:
        return
    inner = op.operands[0].owner
    if inner is None or inner.kind != "call" or inner.attrs.get("kwnames"):
        return
    callee, args = table_key(inner.attrs["callee"]), inner.operands
    unary = callee in (operator.neg, operator.pos) or (isinstance(callee, np.ufunc) and callee.nin == callee.nout == 1)
    if unary and len(args) == 1:
        op.operands = [args[0]]
    elif callee is operator.pow and len(args) == 2 and type(static_value(args[1])[1]) in (int, float) \
            and static_value(args[1])[0] and not static_value(args[0])[0]:
        op.operands = [args[0]]


def _is_times_minus_one(op: Op) -> bool:
    """`x * -1.0` (what folding signs can leave), better spelled `-x`."""
    return op.kind == "call" and op.attrs.get("callee") is operator.mul and not op.attrs.get("kwnames") and \
        len(op.operands) == 2 and _is_number(op.operands[1], -1) and not static_value(op.operands[0])[0] \
        and _numeric(op.operands[0])


def _drop_broadcasts(op: Op, shapes: dict) -> bool:
    """`np.broadcast_to(s, S) * v` for a `v` of shape S is `s * v`, and so for `+`, `-`, `/`:
    rewrite the op in place (the broadcast array is never made, and arithmetic on a scalar or a
    smaller array is what NumPy does fastest)."""
    if op.kind != "call" or op.attrs.get("callee") not in ARITHMETIC_OPERATORS or op.attrs.get("kwnames") \
            or len(op.operands) != 2:
        return False
    for position in (0, 1):
        spread, other = op.operands[position], op.operands[1 - position]
        owner = spread.owner
        if owner is None or owner.kind != "call" or owner.attrs.get("callee") is not np.broadcast_to \
                or len(owner.operands) != 2 or owner.attrs.get("kwnames"):
            continue
        ok, shape = static_value(owner.operands[1])
        if not ok:
            shape = _fold_shape(owner.operands[1].owner, shapes) if owner.operands[1].owner else _NOT
            ok = shape is not _NOT
        source = owner.operands[0]
        if not (ok and isinstance(shape, tuple)) or shape_of(other, shapes) != shape or not _numeric(other):
            continue
        source_shape = shape_of(source, shapes)
        try:
            fits = source_shape is not None and tuple(np.broadcast_shapes(source_shape, shape)) == shape
        except ValueError:
            fits = False
        if fits:
            op.operands[position] = source
            _name_after(source, spread)
            return True
    return False


def _name_after(source: Value, spread: Value) -> None:
    """The array a dropped broadcast spread out reads as what the broadcast was: `dw = ...` (an
    adjoint's name, as a hint only: its shape stays its own, never the adjoint's)."""
    if source.hint is None and source.adjoint_of is None and spread.adjoint_of is not None \
            and source.owner is not None and source.owner.kind != "const":
        primal = spread.adjoint_of
        if primal.hint is not None and not primal.temp:
            source.hint, source.temp = "d" + primal.hint, True


def simplify(function: Function) -> Function:
    """Rewrite identities and fold constant arithmetic, in place."""
    replaced: dict[Value, Value] = {}
    shapes = {v: f.shape for v, f in getattr(function, "facts", {}).items() if f.shape is not None}
    dtypes = {v: f.dtype for v, f in getattr(function, "facts", {}).items() if f.dtype is not None}
    for op in function.walk():
        op.operands = [replaced.get(v, v) for v in op.operands]
        if len(op.results) != 1:
            continue
        if op.backward and shapes:
            _drop_broadcasts(op, shapes)
        # Only derivatives' identities: in the primal, `y = x * 1.0` must stay a new array
        # (an in-place write into y must not reach x).
        same = _identity(op, shapes, dtypes) if op.derivative else None
        if same is not None:
            result = op.result
            replaced[result] = same
            backward = same.owner is not None and same.owner.backward
            if backward and same.hint is None and same.adjoint_of is None:
                same.adjoint_of = result.adjoint_of  # `dy = 1.0 * dz` is still the adjoint of y
            continue
        folded = _fold(op)
        if folded is _NOT and op.backward and shapes:
            folded = _fold_shape(op, shapes)
        if op.derivative and folded is _NOT:
            _query_shape_of_operand(op)
        if op.derivative and folded is _NOT and _is_times_minus_one(op):
            op.attrs["callee"], op.operands = operator.neg, [op.operands[0]]
        if folded is not _NOT:
            op.kind, op.operands, op.attrs = "const", [], {"value": folded, "spelling": None}
    return function
