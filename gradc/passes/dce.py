"""Dead-code elimination: drop ops whose results nobody reads (pure ops only)."""
from __future__ import annotations

from ..ir.core import Function, Op, Region, Value

__all__ = ["eliminate_dead_code", "has_effect"]


def has_effect(op: Op) -> bool:
    """Ops that must run even when nothing reads their results: a loop that pushes onto a
    tape must run although a vjp reads none of its results (the backward pops the tape)."""
    if op.kind in ("return", "yield") or op.attrs.get("effect", False):
        return True
    return any(has_effect(inner) and inner.kind != "yield" for region in op.regions for inner in region.ops)


def _sweep(region: Region, live: set[Value]) -> None:
    kept = []
    for op in reversed(region.ops):
        if has_effect(op) or any(r in live for r in op.results):
            kept.append(op)
            live.update(op.operands)
            for inner in op.regions:
                _sweep(inner, live)
    region.ops = kept[::-1]


def eliminate_dead_code(function: Function) -> Function:
    """Remove, in place, every op that contributes neither to an effect nor to the returned value."""
    _sweep(function.body, set())
    return function
