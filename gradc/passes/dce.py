"""Dead-code elimination: drop ops whose results nobody reads, when the effect table says they
have no other effect (a tape push, a check, a random draw, an unknown callee all stay)."""
from __future__ import annotations

from ..ir.core import Function, Op, Region, Value, loop_parts
from ..ir.effects import has_effect

__all__ = ["eliminate_dead_code", "has_effect"]


def _sweep(region: Region, live: set[Value]) -> None:
    kept = []
    for op in reversed(region.ops):
        if has_effect(op) or any(r in live for r in op.results):
            if op.kind in ("for", "while"):
                _drop_dead_carried(op, live)
            kept.append(op)
            live.update(op.operands)
            for inner in op.regions:
                _sweep(inner, live)
    region.ops = kept[::-1]


def _reads(region: Region, live: set[Value]) -> set[Value]:
    """What the ops of `region` that are kept (given what is live after them) read, nested
    regions included; nothing is removed."""
    live = set(live)
    for op in reversed(region.ops):
        if op.kind == "yield":
            continue  # (what it hands on that is needed is in `live` already)
        if has_effect(op) or any(r in live for r in op.results):
            live.update(op.operands)
            for inner in op.regions:
                live |= _reads(inner, set(inner.ops[-1].operands) if inner.ops else set())
    return live


def _drop_dead_carried(op: Op, live: set[Value]) -> None:
    """Remove the values a loop carries only to compute themselves, when nothing reads them after
    the loop (a loss summed in a loop whose gradient alone is wanted)."""
    parts = loop_parts(op)
    stop = 1 if op.attrs.get("stop") else 0
    slots = range(len(parts.carried))
    needed = {i for i in slots if op.results[i] in live}
    cond = op.regions[0] if op.kind == "while" else None
    cond_reads = _reads(cond, set(cond.ops[-1].operands)) if cond is not None else set()
    while True:
        body_live = {parts.yielded[i] for i in needed} | set(parts.body.ops[-1].operands[:stop])
        reads = _reads(parts.body, body_live)
        grown = needed | {i for i in slots if parts.carried[i] in reads or
                          (cond is not None and cond.args[i] in cond_reads)}
        if grown == needed:
            break
        needed = grown
    dead = [i for i in slots if i not in needed]
    if not dead:
        return
    keep = [i for i in slots if i in needed]
    first = 1 if op.kind == "for" else 0
    n_items = len(parts.items)
    op.operands = op.operands[:first] + [op.operands[first + i] for i in keep]
    op.results = [op.results[i] for i in keep]
    parts.body.args = parts.body.args[:n_items] + [parts.carried[i] for i in keep]
    closing = parts.body.ops[-1]
    closing.operands = closing.operands[:stop] + [parts.yielded[i] for i in keep]
    if cond is not None:
        cond.args = [cond.args[i] for i in keep]


def eliminate_dead_code(function: Function) -> Function:
    """Remove, in place, every op that contributes neither to an effect nor to the returned value."""
    _sweep(function.body, set())
    return function
