"""Algebraic simplification and constant folding on the adjoint program.

Rules are written for any adjoint; seeded with `1.0` they produce `1.0 * ans`,
`x ** 1` and the like. This pass removes such identities so the generated
code reads like hand-written backprop. Every rewrite keeps values and shapes.
"""
from __future__ import annotations

import operator

import numpy as np

from ..analysis.activity import carries_gradient
from ..frontend.lower import static_value
from ..ir.core import Function, Op, Value

__all__ = ["simplify"]

_FOLDABLE = {operator.add, operator.sub, operator.mul, operator.truediv, operator.neg, operator.pow}


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


def _identity(op: Op, shapes: dict | None = None) -> Value | None:
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
    if callee in (operator.truediv, operator.pow) and len(args) == 2 and _is_number(args[1], 1) \
            and not static_value(args[0])[0] and _numeric(args[0]):
        return args[0]
    if callee is operator.neg:
        inner = args[0].owner
        if inner is not None and inner.kind == "call" and inner.attrs["callee"] is operator.neg:
            return inner.operands[0]
    return None


def _fold(op: Op) -> object:
    """The constant `op` computes, when it is arithmetic on constants; else a sentinel."""
    if op.kind != "call" or op.attrs["callee"] not in _FOLDABLE or op.attrs.get("kwnames"):
        return _NOT
    statics = [static_value(v) for v in op.operands]
    if not all(ok for ok, _ in statics) or not all(type(c) in (int, float) for _, c in statics):
        return _NOT
    if any(v.owner.attrs.get("spelling") is not None for v in op.operands):
        return _NOT  # a global's value is read when the gradient runs
    try:
        return op.attrs["callee"](*(c for _, c in statics))
    except (ArithmeticError, ValueError):
        return _NOT


_NOT = object()


def _shape_of(value: Value, shapes: dict) -> tuple | None:
    """A value's known shape; an adjoint has the shape of what it is the adjoint of; a number ()."""
    ok, constant = static_value(value)
    if ok and type(constant) in (int, float):
        return ()
    if value in shapes:
        return shapes[value]
    return shapes.get(value.adjoint_of) if value.adjoint_of is not None else None


def _scale_instead_of_broadcast(op: Op, shapes: dict) -> bool:
    """`np.broadcast_to(s, S) * v` for a scalar `s` and a `v` of shape S is `s * v`: rewrite the
    op in place (the broadcast array is never made)."""
    if op.kind != "call" or op.attrs.get("callee") is not operator.mul or op.attrs.get("kwnames") \
            or len(op.operands) != 2:
        return False
    for position, (spread, other) in enumerate(((op.operands[0], op.operands[1]), (op.operands[1], op.operands[0]))):
        owner = spread.owner
        if owner is None or owner.kind != "call" or owner.attrs.get("callee") is not np.broadcast_to \
                or len(owner.operands) != 2:
            continue
        ok, shape = static_value(owner.operands[1])
        scalar = owner.operands[0]
        if ok and isinstance(shape, tuple) and _shape_of(scalar, shapes) == () and \
                _shape_of(other, shapes) == shape and _numeric(other):
            op.operands = [scalar, other] if position == 0 else [other, scalar]
            return True
    return False


def simplify(function: Function) -> Function:
    """Rewrite identities and fold constant arithmetic, in place."""
    replaced: dict[Value, Value] = {}
    shapes = {v: f.shape for v, f in getattr(function, "facts", {}).items() if f.shape is not None}
    for op in function.walk():
        op.operands = [replaced.get(v, v) for v in op.operands]
        if len(op.results) != 1:
            continue
        if op.backward and shapes:
            _scale_instead_of_broadcast(op, shapes)
        # Only the backward's identities: in the forward, `y = x * 1.0` must stay a new array
        # (an in-place write into y must not reach x).
        same = _identity(op, shapes) if op.backward else None
        if same is not None:
            result = op.result
            replaced[result] = same
            backward = same.owner is not None and same.owner.backward
            if backward and same.hint is None and same.adjoint_of is None:
                same.adjoint_of = result.adjoint_of  # `dy = 1.0 * dz` is still the adjoint of y
            continue
        folded = _fold(op)
        if folded is not _NOT:
            op.kind, op.operands, op.attrs = "const", [], {"value": folded, "spelling": None}
    return function
