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

__all__ = ["rule_key", "active_values", "carries_gradient", "dependence_edges", "loop_items"]


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
    if op.kind in ("tuple", "list", "dict"):
        return True
    rule = lookup(rule_key(op))
    return not (rule is not None and rule.zero)


def loop_items(op: Op) -> list[tuple[Value, Value | None, bool, bool, tuple]]:
    """For each item of a `for` loop: (item, the sequence it is part of an element of or None,
    whether that sequence is walked reversed, whether the item is a counter, and where in the
    element it sits: `()` for the element itself, `(1,)` for `b` in `for a, b in pairs`).

    `for x in xs`, `for i, x in enumerate(xs)`, `for a, b in zip(xs, ys)`, `reversed(...)` of
    these and unpacking are understood; `range` gives counters (integers, never differentiable).
    """
    body = op.regions[0]
    args = list(body.args[:op.attrs.get("n_items", 1)])
    found: list[tuple[Value, Value | None, bool, bool, tuple]] = []

    def leaves(pattern: object) -> int:
        return 1 if pattern is None else sum(leaves(p) for p in pattern)

    def element(sequence: Value | None, pattern: object, reverse: bool, path: tuple) -> None:
        if pattern is None:
            found.append((args.pop(0), sequence, reverse, False, path))
        else:
            for position, sub in enumerate(pattern):
                element(sequence, sub, reverse, path + (position,))

    def walk(value: Value, pattern: object, reverse: bool) -> None:
        owner = value.owner
        callee = owner.attrs.get("callee") if owner is not None and owner.kind == "call" else None
        plain = callee is not None and not owner.kwnames
        if plain and callee is reversed and len(owner.operands) == 1:
            return walk(owner.operands[0], pattern, not reverse)
        if plain and callee is range:
            found.extend((args.pop(0), None, reverse, True, ()) for _ in range(leaves(pattern)))
        elif plain and callee is enumerate and pattern is not None and len(pattern) == 2 \
                and len(owner.operands) == 1:
            found.append((args.pop(0), None, reverse, True, ()))
            walk(owner.operands[0], pattern[1], reverse)
        elif plain and callee is zip and pattern is not None and len(pattern) == len(owner.operands):
            for operand, sub in zip(owner.operands, pattern):
                walk(operand, sub, reverse)
        elif callee in (enumerate, zip):
            element(None, pattern, reverse, ())
        else:
            element(value, pattern, reverse, ())

    walk(op.operands[0], op.attrs.get("pattern"), False)
    return found


def dependence_edges(function: Function) -> list[tuple[Value, Value]]:
    """(source, target) pairs: `target` depends differentiably on `source`.

    Through an op with a rule, every result depends on every operand. Structured ops
    pass values on: an `if`'s result depends on what either branch yields; a loop's
    carried value depends on its initial value and on what the body yields, and the
    items of a `for` loop depend on the sequence it iterates over.
    """
    edges: list[tuple[Value, Value]] = []
    for op in function.walk():
        if op.kind == "if":
            for region in op.regions:
                edges += [(v, r) for v, r in zip(region.ops[-1].operands, op.results)]
        elif op.kind in ("for", "while"):
            body = op.regions[-1]
            yielded = body.ops[-1].operands[1 if op.attrs.get("stop") else 0:]
            if op.kind == "for":
                n_items = op.attrs.get("n_items", 1)
                for item, source, _, counter, _ in loop_items(op):
                    if not counter:
                        edges.append((source or op.operands[0], item))
                inits, argument_lists = op.operands[1:], [body.args[n_items:]]
            else:
                inits, argument_lists = op.operands, [op.regions[0].args, body.args]
            for i, (init, result) in enumerate(zip(inits, op.results)):
                for target in [result] + [args[i] for args in argument_lists]:
                    edges += [(init, target), (yielded[i], target)]
        elif op.kind not in ("const", "boolop", "yield", "return") and carries_gradient(op):
            edges += [(v, r) for v in op.operands for r in op.results]
    return edges


def _closure(start: set[Value], edges: dict[Value, list[Value]]) -> set[Value]:
    reached, stack = set(start), list(start)
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in reached:
                reached.add(nxt)
                stack.append(nxt)
    return reached


def active_values(function: Function, wrt: list[Value], output: Value) -> set[Value]:
    """The values that depend on `wrt` and on which `output` depends (through loops and branches)."""
    forward: dict[Value, list[Value]] = {}
    backward: dict[Value, list[Value]] = {}
    for source, target in dependence_edges(function):
        forward.setdefault(source, []).append(target)
        backward.setdefault(target, []).append(source)
    varied = _closure(set(wrt), forward)
    useful = _closure({output}, backward)
    _refuse_differentiable_boolops(list(function.walk()), varied, useful)
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
