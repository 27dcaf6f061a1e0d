"""Activity analysis: which values need an adjoint.

A value is *varied* when it depends on a `wrt` input through differentiable
operations, *useful* when the output depends on it, and *active* when both.
Only active values get adjoints; everything else is left out of the backward
pass (no code for inactive values).
"""
from __future__ import annotations

import operator

from ..errors import UnsupportedSyntaxError
from ..ir.core import Function, Op, Value
from ..rules.registry import Attr, Method, lookup

__all__ = ["rule_key", "active_values", "carries_gradient"]


def rule_key(op: Op):
    """The registry key for an op: its callee object, `Method(name)` or `Attr(name)`."""
    if op.kind == "call":
        return op.attrs["callee"]
    if op.kind == "method":
        return Method(op.attrs["name"])
    if op.kind == "getattr":
        return Attr(op.attrs["name"])
    if op.kind == "getitem":
        return operator.getitem
    return None


def carries_gradient(op: Op) -> bool:
    """False for ops whose results never carry a gradient (constants, comparisons, `.shape` ...)."""
    if op.kind in ("const", "boolop", "yield", "return"):
        return False
    if op.kind in ("tuple", "list"):
        return True
    rule = lookup(rule_key(op))
    return not (rule is not None and rule.zero)


def active_values(function: Function, wrt: list[Value], output: Value) -> set[Value]:
    """The values that depend on `wrt` and on which `output` depends."""
    ops = list(function.walk())
    varied: set[Value] = set(wrt)
    for op in ops:
        if carries_gradient(op) and any(v in varied for v in op.operands):
            varied.update(op.results)
    useful: set[Value] = {output}
    for op in reversed(ops):
        if any(r in useful for r in op.results):
            useful.update(op.operands)
            for region in op.regions:
                for inner in region.walk():
                    useful.update(inner.operands)
    _refuse_differentiable_boolops(ops, varied, useful)
    return varied & useful


def _refuse_differentiable_boolops(ops: list[Op], varied: set[Value], useful: set[Value]) -> None:
    """`a or b` returns one of its operands; on differentiable operands that would need a branch."""
    for op in ops:
        if op.kind != "boolop" or op.result not in useful:
            continue
        yielded = [region.ops[-1].operands[0] for region in op.regions]
        if any(v in varied for v in [op.operands[0]] + yielded):
            raise UnsupportedSyntaxError(
                f"`{op.attrs['op']}` on a differentiable value is not supported",
                op.loc, "`and`/`or`/`not` are only supported on conditions (comparisons)")
