"""Liveness on structured SSA: which values are still to be read just after an op.

Backward dataflow over the regions: a branch's results are its yields at the end of each
branch (a value read only in the other branch is not live after an op of this one); a loop's
body ends where the next iteration, or the code after the loop, begins, so a value defined
before the loop and read inside it is live through the whole body. Loops iterate to a fixed
point. Only the ops asked about get their sets recorded.
"""
from __future__ import annotations

from typing import Iterable

from ..ir.core import Function, Op, Region, Value

__all__ = ["live_after"]


def live_after(function: Function, ops: Iterable[Op]) -> dict[int, frozenset[Value]]:
    """For each op of `ops` (by id): the values read at some point after it runs."""
    wanted = {id(op) for op in ops}
    found: dict[int, frozenset[Value]] = {}
    if wanted:
        _Liveness(wanted, found).region(function.body, set())
    return found


class _Liveness:
    def __init__(self, wanted: set[int], found: dict[int, frozenset[Value]]):
        self.wanted = wanted
        self.found = found

    def region(self, region: Region, live_out: set[Value]) -> set[Value]:
        """The values live at the region's entry (its arguments excluded), given those live at its end."""
        live = set(live_out)
        for op in reversed(region.ops):
            if id(op) in self.wanted:
                self.found[id(op)] = frozenset(live)
            live = self.transfer(op, live)
        live.difference_update(region.args)
        return live

    def transfer(self, op: Op, after: set[Value]) -> set[Value]:
        if not op.regions:
            live = after - set(op.results)
            live.update(op.operands)
            return live
        rest = after - set(op.results)
        if op.kind in ("if", "boolop"):
            live = set(rest)
            for inner in op.regions:
                live |= self.region(inner, rest)
            live.update(op.operands)
            return live
        if op.kind == "for":
            body = op.regions[0]
            head: set[Value] = set()
            while True:
                new = self.region(body, rest | head)
                if new <= head:
                    break
                head |= new
            return rest | head | set(op.operands)
        cond, body = op.regions  # while: the condition, then the body, then the condition again
        head = set()
        while True:
            cond_in = self.region(cond, rest | head)
            new = self.region(body, cond_in)
            if new <= head:
                break
            head |= new
        return cond_in | head | set(op.operands)
