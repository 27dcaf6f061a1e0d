"""Reverse mode: the adjoint transform on IR.

`reverse(primal, wrt, mode)` returns a new IR function whose body is the primal
(the forward sweep) followed by the backward sweep: the active ops in reverse
order, each replaced by its rule's body with names substituted. Adjoints are
accumulated lazily: the first contribution to an adjoint is the adjoint, later
ones are added to it (absence means zero), and inactive values get none.

Modes: "grad" (seed 1.0, scalar output checked at run time), "value_and_grad"
(also returns the value), "vjp" (the seed is an extra parameter).
"""
from __future__ import annotations

import builtins
import functools
import inspect
import math
import operator
from typing import Any, Callable

import numpy as np

from .. import runtime
from ..analysis.activity import active_values, loop_items, rule_key
from ..analysis.scalars import scalar_values
from ..analysis.shapes import abstract_kind, infer_shapes, is_array_kind
from ..errors import NoGradientRuleError, NonScalarOutputError, UnsupportedSyntaxError
from ..frontend.records import gradient_structure
from ..frontend.lower import CannotInline, callee_name, inline_rule, is_structure, known_dtypes
from ..ir.core import (Function, Op, Region, Value, clone_function, describe_value, loop_parts, static_value,
                       table_key)
from ..rules.registry import Attr, Method, Rule, lookup

__all__ = ["reverse", "MODES"]

MODES = ("grad", "value_and_grad", "vjp")


def _describe_op(op: Op) -> str:
    key = rule_key(op)
    if isinstance(key, Method):
        return f"the method `.{key.name}()`"
    if isinstance(key, Attr):
        return f"the attribute `.{key.name}`"
    return f"`{callee_name(key)}`"


class _Scope:
    """The adjoints one backward region holds: of the values its forward region defines
    (`local`), and the contributions it makes to values defined outside it (`outer`),
    which the enclosing backward `if` or loop hands on."""

    def __init__(self, region: Region, forward: Region | None, sweep: "_Backward"):
        self.region = region
        self.forward = forward  # None for the function body: every value is local
        self.sweep = sweep
        self.local: dict[Value, Value] = {}
        self.outer: dict[Value, Value] = {}

    def _table(self, value: Value) -> dict[Value, Value]:
        local = self.forward is None or self.sweep.inside(value, self.forward)
        return self.local if local else self.outer

    def get(self, value: Value) -> Value | None:
        return self._table(value).get(value)

    def set(self, value: Value, adjoint: Value) -> None:
        self._table(value)[value] = adjoint


class _Context:
    """A forward region being reversed: a loop body (values it defines are saved on a tape)
    or a branch (values it defines leave through extra results of its `if`)."""

    def __init__(self, kind: str, op: Op, region: Region, branch: int = 0):
        self.kind, self.op, self.region, self.branch = kind, op, region, branch
        self.subst: dict[Value, Value] = {}
        self.saves: list[tuple[Value, Value]] = []
        self.tape: Value | None = None


class _Backward:
    """Builds the backward sweep, one primal op at a time, through branches and loops."""

    def __init__(self, function: Function, region: Region, active: set[Value]):
        self.active = active
        self.scope = _Scope(region, None, self)
        self.contexts: list[_Context] = []
        self.stmt = None
        self.loc = None
        self.def_region: dict[Value, Region] = {}
        self.shapes: dict[Value, Value] = {}
        self.parent_region: dict[int, Region | None] = {id(function.body): None}
        self.op_region: dict[int, Region] = {}
        self._index(function.body)

    def _index(self, region: Region) -> None:
        for arg in region.args:
            self.def_region[arg] = region
        for op in region.ops:
            self.op_region[id(op)] = region
            for result in op.results:
                self.def_region[result] = region
            for inner in op.regions:
                self.parent_region[id(inner)] = region
                self._index(inner)

    def inside(self, value: Value, region: Region) -> bool:
        """Whether `value` is defined in `region` or in a region nested in it."""
        current = self.def_region.get(value)
        while current is not None:
            if current is region:
                return True
            current = self.parent_region.get(id(current))
        return False

    @property
    def region(self) -> Region:
        return self.scope.region

    def emit(self, kind: str, operands: list[Value], hint: str | None = None, **attrs: Any) -> Value:
        result = Value(hint)
        self.region.append(Op(kind, operands, [result], attrs, [], self.loc, self.stmt))
        return result

    def const(self, value: Any) -> Value:
        return self.emit("const", [], value=value, spelling=None)

    def call(self, callee: Any, *args: Value) -> Value:
        return self.emit("call", list(args), callee=callee, spelling=None, kwnames=())

    # -- reading primal values from the backward sweep ------------------------------------------
    def primal(self, value: Value, depth: int | None = None) -> Value:
        """`value` as the backward sweep can read it: itself, or the copy a loop saved on its
        tape, or the result through which a branch handed it out."""
        depth = len(self.contexts) if depth is None else depth
        for level in range(depth - 1, -1, -1):
            context = self.contexts[level]
            if context.kind == "loop" and context.op.kind == "while" and self.inside(value, context.op.regions[0]):
                raise UnsupportedSyntaxError(
                    "the gradient needs a value computed in this `while` condition", context.op.loc,
                    "compute it in the loop body (or before the loop) and test a name in the condition")
            if not self.inside(value, context.region):
                continue
            if value in context.subst:
                return context.subst[value]
            if _is_constant(value):  # a constant is written again, never saved
                again = Value()
                attrs = {"value": value.owner.attrs["value"], "spelling": value.owner.attrs.get("spelling")}
                self.region.ops.insert(0, Op("const", [], [again], attrs, [], self.loc, self.stmt))
                return again
            if context.kind == "loop":
                copy = Value(value.hint or describe_value(value), temp=value.temp or value.hint is None)
                context.saves.append((value, copy))
            else:
                copy = self.primal(self.export(context, value), level)
            context.subst[value] = copy
            return copy
        return value

    def export(self, context: _Context, value: Value) -> Value:
        """A new result of the forward `if`: `value` from its branch, None from the other."""
        op = context.op
        result = Value(value.hint or describe_value(value), temp=value.temp or value.hint is None)
        result.owner = op
        op.results.append(result)
        for index, region in enumerate(op.regions):
            closing = region.ops[-1]
            if index == context.branch:
                closing.operands.append(value)
            else:
                none = Value()
                region.ops.insert(len(region.ops) - 1, Op("const", [], [none], {"value": None, "spelling": None},
                                                          [], op.loc, closing.stmt))
                self.def_region[none] = region
                closing.operands.append(none)
        self.def_region[result] = self.op_region[id(op)]
        return result

    def sum_to_shape(self, g: Value, target: Value, result: Value) -> Value:
        """`g` (shaped like `result`) summed back to `target`'s shape: nothing to do where the
        shapes are known equal, the exact axes where they are known, `unbroadcast` otherwise."""
        if target in self.facts and self.facts[target].seq_kind == "Adjoints":
            return g  # (gradc's adjoint containers, added item by item: a gradient differentiated again)
        target_shape = self.facts[target].shape if target in self.facts else None
        result_shape = self.facts[result].shape if result in self.facts else None
        if target_shape is not None and result_shape is not None:
            if target_shape == result_shape:
                return g
            axes = _reduction_axes(target_shape, result_shape)
            if axes is not None:
                lead, stretched = axes
                if lead:
                    g = self.emit("method", [g, self.const(lead[0] if len(lead) == 1 else lead)],
                                  name="sum", kwnames=("axis",))
                if stretched:
                    axis = self.const(stretched[0] if len(stretched) == 1 else stretched)
                    g = self.emit("method", [g, axis, self.const(True)], name="sum", kwnames=("axis", "keepdims"))
                return g
        return self.call(runtime.unbroadcast, g, target)

    def zeros_like(self, value: Value) -> Value:
        if value in self.scalars:
            return self.const(0.0)
        if value.owner is not None and value.owner.kind in ("tuple", "list", "dict"):
            return self.call(runtime.zeros_for, self.primal(value))  # a container's zero adjoint
        return self.call(np.zeros_like, self.primal(value))

    def accumulate(self, value: Value, contribution: Value) -> None:
        """Add one contribution to `value`'s adjoint (the first one is the adjoint)."""
        if value not in self.active:
            return
        previous = self.scope.get(value)
        if previous is None:
            if _is_constant(contribution) and value not in self.scalars:
                # a folded seed: give it the shape of what it is the adjoint of
                contribution = self.call(np.broadcast_to, contribution, self.call(np.shape, self.primal(value)))
            adjoint = contribution
        else:
            adjoint = self.call(operator.add, previous, contribution)
            adjoint.owner.attrs["accumulates"] = True  # (may become `dx += c`, see passes/bufferize.py)
        self.scope.set(value, adjoint)
        if adjoint.adjoint_of is None and (adjoint.hint is None or adjoint.temp):
            adjoint.adjoint_of = value  # the emitter names it d<name of value> (not a rule's local name)

    def reverse_ops(self, ops: list[Op]) -> None:
        for op in reversed(ops):
            if any(r in self.active for r in op.results):
                self.differentiate(op)

    # -- one primal op -----------------------------------------------------------------------
    def differentiate(self, op: Op) -> None:
        self.stmt, self.loc = op.stmt, op.loc
        if op.kind == "if":
            return self.reverse_if(op)
        if op.kind in ("for", "while"):
            return self.reverse_loop(op)
        g = self.scope.get(op.results[0]) if op.results else None
        if g is None or (op.kind == "getattr" and not any(v in self.active for v in op.operands)):
            return  # nothing flows back through this op (`p.w`, p a dataclass in wrt: w is a leaf)
        if op.kind in ("tuple", "list", "dict"):
            keys = op.attrs["keys"] if op.kind == "dict" else range(len(op.operands))
            for key, item in zip(keys, op.operands):
                if item in self.active:
                    self.accumulate(item, self.emit("getitem", [g, self.const(key)]))
            return
        rule = lookup(rule_key(op))
        if rule is None and op.attrs.get("recursive"):
            rule = self.recursion(op)
        if rule is None or rule.vjp is None:
            raise NoGradientRuleError(
                f"no gradient rule for {_describe_op(op)}, which is applied to a differentiable value",
                op.loc, _registration_hint(op))
        self.apply_rule(op, rule, g)

    def recursion(self, op: Op) -> Rule:
        if self.make_vjp is None:
            raise NoGradientRuleError(f"{_describe_op(op)} calls itself, and no vjp was given for it", op.loc)
        return recursive_rule(op.attrs["callee"], self.make_vjp)

    # -- branches and loops --------------------------------------------------------------------
    def child_scope(self, forward: Region, context: _Context) -> _Scope:
        scope = _Scope(Region(), forward, self)
        self.scope_stack.append(self.scope)
        self.contexts.append(context)
        self.scope = scope
        return scope

    def leave_scope(self) -> None:
        self.contexts.pop()
        self.scope = self.scope_stack.pop()

    def reverse_if(self, op: Op) -> None:
        """`if c:` reverses to `if c:` on the same (saved) condition, each branch reversed."""
        incoming = [(i, self.scope.get(r)) for i, r in enumerate(op.results)]
        incoming = [(i, g) for i, g in incoming if g is not None]
        if not incoming:
            return
        cond = self.primal(op.operands[0])
        children = []
        for index, forward in enumerate(op.regions):
            child = self.child_scope(forward, _Context("branch", op, forward, index))
            closing = forward.ops[-1]
            for i, g in incoming:
                self.accumulate(closing.operands[i], g)
            self.reverse_ops(forward.ops[:-1])
            self.leave_scope()
            children.append(child)
        outer = [v for child in children for v in child.outer if v in self.active]
        outer = list(dict.fromkeys(outer))
        if not outer:
            return
        for child in children:  # each branch hands out the adjoints of the values before the `if`
            saved, self.scope = self.scope, child
            self.scope_stack.append(saved)
            values = []
            for value in outer:
                before = self.scope_stack[-1].get(value)
                here = child.outer.get(value)
                if before is not None and here is not None:
                    values.append(self.call(operator.add, before, here))
                else:
                    values.append(here or before or self.zeros_like(value))
            child.region.append(Op("yield", values, [], {}, [], op.loc, op.stmt))
            self.scope = self.scope_stack.pop()
        results = [Value(adjoint_of=v) for v in outer]
        self.scope.region.append(Op("if", [cond], results, {}, [c.region for c in children], op.loc, op.stmt))
        for value, result in zip(outer, results):
            self.scope.set(value, result)

    def reverse_loop(self, op: Op) -> None:
        """A loop reverses to `while tape:`, popping what each iteration saved, last first."""
        parts = loop_parts(op)
        body, carried, inits, yielded = parts.body, parts.carried, parts.inits, parts.yielded
        sequences = self.active_item_sources(op) if op.kind == "for" else []
        if sequences:
            index = self.enumerate_forward(op)
        # A carried variable's adjoint flows between iterations only if the loop's result or the
        # next iteration reads it differentiably.
        moving = [i for i, r in enumerate(op.results) if r in self.active or carried[i] in self.active]
        incoming = {i: self.scope.get(op.results[i]) for i in moving}
        if not any(g is not None for g in incoming.values()) and not self.has_active_inside(body):
            return
        tape = Value("tape")
        parent = self.op_region[id(op)]
        parent.ops.insert(parent.ops.index(op), Op("list", [], [tape], {"tape": True}, [], op.loc, op.stmt))
        self.def_region[tape] = parent
        tape_here = self.primal(tape)
        starts = [incoming[i] if incoming[i] is not None else self.zeros_like(op.results[i]) for i in moving]

        context = _Context("loop", op, body)
        child = self.child_scope(body, context)
        carried_adjoints = [Value(adjoint_of=carried[i]) for i in moving]
        for i, adjoint in zip(moving, carried_adjoints):
            self.accumulate(yielded[i], adjoint)
        self.reverse_ops(body.ops[:-1])
        self.stmt, self.loc = op.stmt, op.loc
        next_adjoints = [child.local.get(carried[i]) or self.zeros_like(op.results[i]) for i in moving]
        outer = [v for v in child.outer if v in self.active]
        accumulators = [Value(adjoint_of=v) for v in outer]
        next_accumulators = [self.call(operator.add, a, child.outer[v]) for a, v in zip(accumulators, outer)]
        # The items' adjoints go back into the sequences, element by element, in place
        # (one accumulator per sequence, even when several items come from its elements).
        sequence_list = list(dict.fromkeys(sequence for _, sequence, _, _ in sequences))
        item_accumulators = [Value(adjoint_of=sequence) for sequence in sequence_list]
        current = dict(zip(sequence_list, item_accumulators))
        for item, sequence, reverse, path in sequences:
            adjoint = child.local.get(item)
            if adjoint is None:
                continue
            position = self.primal(index)
            if reverse:
                position = self.call(operator.sub, self.const(-1), position)
            if path:
                position = self.emit("tuple", [position] + [self.const(step) for step in path])
            current[sequence] = self.call(runtime.add_at, current[sequence], position, adjoint)
        next_accumulators += [current[sequence] for sequence in sequence_list]
        accumulators += item_accumulators
        child.region.append(Op("yield", next_adjoints + next_accumulators, [], {}, [], op.loc, op.stmt))
        self.leave_scope()

        self.save_and_restore(context, body, tape, tape_here, child.region)
        accumulator_starts = [self.scope.get(v) or self.zeros_like(v) for v in outer]
        for sequence in sequence_list:  # updated in place: a fresh array each (an allocation: never merged)
            accumulator_starts.append(self.call(runtime.zeros_for, self.primal(sequence)))
        condition = Region([Value(adjoint_of=v.adjoint_of) for v in carried_adjoints + accumulators])
        condition.append(Op("yield", [tape_here], [], {}, [], op.loc, op.stmt))
        child.region.args = carried_adjoints + accumulators
        results = [Value(adjoint_of=v.adjoint_of) for v in carried_adjoints + accumulators]
        self.scope.region.append(Op("while", starts + accumulator_starts, results, {},
                                    [condition, child.region], op.loc, op.stmt))
        for value, result in zip(outer, results[len(moving):]):
            self.scope.set(value, result)  # (the accumulators started from the adjoints so far)
        for i, result in zip(moving, results):
            self.accumulate(inits[i], result)  # after: an initial value may also be read in the loop
        for sequence, result in zip(sequence_list, results[len(moving) + len(outer):]):
            self.accumulate(sequence, result)

    def active_item_sources(self, op: Op) -> list[tuple[Value, Value, bool, tuple]]:
        """(item, sequence, reversed) for each differentiable loop item."""
        active = [(item, source, reverse, path) for item, source, reverse, _, path in loop_items(op)
                  if item in self.active]
        for item, source, _, _ in active:
            if source is None:
                raise NoGradientRuleError(
                    f"gradc cannot tell which element of the sequence the loop item `{item.hint}` is",
                    op.loc, "iterate over a sequence, or `enumerate`/`zip`/`reversed` of sequences")
        return active

    def enumerate_forward(self, op: Op) -> Value:
        """Make the forward loop count its iterations (`for k, x in enumerate(xs)`); return `k`."""
        parent = self.op_region[id(op)]
        counted = Value()
        parent.ops.insert(parent.ops.index(op), Op("call", [op.operands[0]], [counted],
                                                   {"callee": enumerate, "spelling": None, "kwnames": ()},
                                                   [], op.loc, op.stmt))
        self.def_region[counted] = parent
        op.operands[0] = counted
        body = op.regions[0]
        index = Value("k", temp=True)
        body.args.insert(0, index)
        self.def_region[index] = body
        op.attrs["n_items"] = op.attrs.get("n_items", 1) + 1
        op.attrs["pattern"] = (None, op.attrs.get("pattern"))
        return index

    def has_active_inside(self, region: Region) -> bool:
        return any(r in self.active for inner in region.walk() for r in inner.results)

    def save_and_restore(self, context: _Context, body: Region, tape: Value, tape_here: Value,
                         backward_body: Region) -> None:
        """Push each saved value right after it is computed; pop them, last first, at the top of
        the reversed iteration. With nothing to save, push None to count the iterations."""
        position = {id(op): index for index, op in enumerate(body.ops)}
        order = lambda pair: -1 if pair[0] in body.args else position[id(pair[0].owner)]  # noqa: E731
        saves = sorted(context.saves, key=order)
        loc, stmt = context.op.loc, context.op.stmt
        if not saves:
            marker = Value()
            body.ops.insert(0, Op("const", [], [marker], {"value": None, "spelling": None}, [], loc, stmt))
            saves = [(marker, Value())]
            position = {id(op): index for index, op in enumerate(body.ops)}
        pushes = {}
        for value, _ in reversed(saves):
            at = 0 if value in body.args else position[id(value.owner)] + 1
            owner_stmt = value.owner.stmt if value.owner is not None else stmt
            pushes[value] = Op("method", [tape, value], [Value()], {"name": "append", "kwnames": ()}, [], loc, owner_stmt)
            body.ops.insert(at, pushes[value])
        # (each pop names its push: what it gives back is what that push saved, see analysis/buffers.py)
        pops = [Op("method", [tape_here], [copy], {"name": "pop", "kwnames": (), "restores": pushes[value]}, [],
                   loc, stmt) for value, copy in reversed(saves)]
        for value, copy in saves:  # a saved value's copy has its shape
            if value in self.facts:
                self.facts[copy] = self.facts[value]
        backward_body.ops[0:0] = pops

    @staticmethod
    def operands_of(op: Op) -> list[Value]:
        """An op's positional operands as its rule sees them (the receiver of a method first)."""
        if op.kind == "getitem":
            return list(op.operands)
        receiver = [op.operands[0]] if op.kind in ("method", "getattr") else []
        return receiver + (op.positional() if op.kind != "getattr" else [])

    def apply_rule(self, op: Op, rule: Rule, g: Value) -> None:
        positional, keywords = self.operands_of(op), op.keywords()
        signature = _signature_of(rule.vjp)
        try:
            bound = signature.bind(g, op.results[0], *positional, **keywords)
        except TypeError as exc:
            raise NoGradientRuleError(
                f"the gradient rule of {_describe_op(op)} does not accept these arguments ({exc})",
                op.loc, "gradc's rule covers the common arguments; see docs/reference.md") from None
        targets = self.differentiable_targets(op, rule, bound)
        first_new = len(self.region.ops)  # (from here on, what the rule's code reads is localized)
        bindings = rule_bindings(signature, bound, self)
        try:
            ndims = {v: len(self.facts[v].shape) for v in bindings.values()
                     if v in self.facts and self.facts[v].shape is not None}
            returned = inline_rule(rule.vjp, bindings, self.region, self.stmt, self.loc, ndims,
                                   known_dtypes(self.facts, bindings.values()))
        except CannotInline:
            args = [bound.arguments[n] for n in list(signature.parameters)[:2]] + positional
            returned = self.emit("call", args + list(keywords.values()), callee=rule.vjp, spelling=None,
                                 kwnames=tuple(keywords), rule_call=True)
        contributions = self.distribute(op, rule, returned, targets)
        if getattr(self, "complex_mode", False):
            contributions = [(target, self.real_where_real(target, item)) for target, item in contributions]
        self.localize(self.region.ops[first_new:], [item for _, item in contributions])
        for target, item in _summed_per_operand(self, contributions):
            self.accumulate(target, item)

    def real_where_real(self, target: Value, item: Value) -> Value:
        """In a program with complex values, `item` (a contribution to `target`'s adjoint) as
        `match_complex(item, target)`: its real part where `target` is real, as autograd's
        convention has it (a real value's imaginary adjoint part must not flow on, multiplied by a
        complex number, into a complex value's adjoint)."""
        fact = self.facts.get(target)
        if fact is not None and (fact.seq is not None or (fact.dtype is not None and np.dtype(fact.dtype).kind == "c")):
            return item  # (a container's adjoint, or a value known to be complex)
        owner = target.owner
        if owner is not None and (owner.kind in ("tuple", "list", "dict") or
                                  owner.kind == "call" and table_key(owner.attrs.get("callee")) in _SEVERAL_RESULTS):
            return item  # (a container, a result of several arrays: its items' adjoints are matched)
        if _is_constant(item):
            return item
        return self.call(runtime.match_complex, item, self.primal(target))

    def localize(self, ops: list[Op], roots: list[Value]) -> None:
        """Make the rule code that computes `roots` read primal values as the backward sweep can
        (saved on a tape, handed out of a branch). Only what is used is saved: a rule's gradient
        for an inactive operand is left to dead-code elimination."""
        new = {id(op) for op in ops}
        needed, stack = set(), [v.owner for v in roots if v.owner is not None and id(v.owner) in new]
        while stack:
            op = stack.pop()
            if id(op) in needed:
                continue
            needed.add(id(op))
            stack.extend(v.owner for v in op.operands if v.owner is not None and id(v.owner) in new)
        live = [op for op in ops if id(op) in needed]
        dropped = self.save_shapes_only(live)
        for op in live:
            if id(op) in dropped:
                continue
            op.operands = [self.primal(v) if v in self.def_region else v for v in op.operands]

    def save_shapes_only(self, ops: list[Op]) -> set[int]:
        """Where the backward reads a loop's or branch's value only for its shape (`unbroadcast`,
        `np.shape`, `np.size`), read the shape instead: a loop then saves a tuple, not the array."""
        shape_uses: dict[Value, list[Op]] = {}
        other_uses: set[Value] = set()
        for op in ops:
            for index, value in enumerate(op.operands):
                if value not in self.def_region or _is_constant(value):
                    continue
                known = value in self.facts and self.facts[value].shape is not None
                if self.visible(value) and value not in self.scalars and not known:
                    continue
                callee = op.attrs.get("callee") if op.kind == "call" else None
                if _SHAPE_ONLY.get(table_key(callee)) == index == len(op.operands) - 1 and not op.kwnames:
                    shape_uses.setdefault(value, []).append(op)
                else:
                    other_uses.add(value)
        replaced: dict[Value, Value] = {}
        dropped: set[int] = set()
        for value, users in shape_uses.items():
            if value in other_uses and value not in self.scalars:
                continue
            if self.visible(value) and value not in self.scalars and value not in self.facts:
                continue
            known = self.facts[value].shape if value in self.facts else None
            if value in self.scalars:
                known = ()
            shape = self.known_shape(known) if known is not None else self.forward_shape(value)
            for op in users:
                callee = op.attrs["callee"]
                if known is not None and callee in (np.size, np.ndim):  # a number known now
                    number = math.prod(known) if callee is np.size else len(known)
                    op.kind, op.operands, op.attrs = "const", [], {"value": number, "spelling": None}
                    dropped.add(id(op))
                    continue
                if callee is np.shape:
                    replaced[op.results[0]] = shape
                    dropped.add(id(op))  # dead now: left to dead-code elimination
                    continue
                op.attrs["callee"] = {np.size: math.prod, np.ndim: len, runtime.unbroadcast: runtime.unbroadcast_to}[callee]
                op.operands = [shape if v is value else v for v in op.operands]
        for op in ops:
            op.operands = [replaced.get(v, v) for v in op.operands]
        return dropped

    def known_shape(self, shape_value: tuple) -> Value:
        """A shape known at compile time, as a constant at the top of the current backward region."""
        shape = Value()
        self.region.ops.insert(0, Op("const", [], [shape], {"value": shape_value, "spelling": None}, [],
                                     self.loc, self.stmt))
        return shape

    def visible(self, value: Value) -> bool:
        return not any(self.inside(value, context.region) for context in self.contexts)

    def forward_shape(self, value: Value) -> Value:
        """`np.shape(value)`, computed in the forward sweep right after `value` (once)."""
        if value in self.shapes:
            return self.shapes[value]
        region = self.def_region[value]
        at = 0 if value in region.args else region.ops.index(value.owner) + 1
        shape = Value(f"{value.hint or describe_value(value)}_shape", temp=True)
        stmt = value.owner.stmt if value.owner is not None else None
        region.ops.insert(at, Op("call", [value], [shape], {"callee": np.shape, "spelling": None, "kwnames": ()},
                                 [], self.loc, stmt))
        self.def_region[shape] = region
        self.op_region[id(shape.owner)] = region
        self.shapes[value] = shape
        return shape

    def differentiable_targets(self, op: Op, rule: Rule, bound: inspect.BoundArguments) -> list[Value | None]:
        """The operand bound to each differentiable rule parameter, in the order the rule returns them."""
        targets: list[Value | None] = [bound.arguments.get(name) for name in rule.diff_params]
        if rule.var_param:
            targets += list(bound.arguments.get(rule.var_param, ()))
        covered = {id(v) for v in targets if v is not None}
        cotangent_and_result = tuple(bound.signature.parameters)[:2]  # (`g, ans`, whatever the rule names them)
        for name, value in bound.arguments.items():
            values = value if isinstance(value, tuple) else (value,)
            for v in values:
                if _popped(v):
                    continue  # (an option read back from a tape, `unbroadcast_to(g, tape.pop())`: a shape)
                if isinstance(v, Value) and v in self.active and id(v) not in covered and name not in cotangent_and_result:
                    raise NoGradientRuleError(
                        f"argument `{name}` of {_describe_op(op)} is differentiable here, but gradc's rule "
                        "has no gradient for it", op.loc, _registration_hint(op))
        return targets

    def distribute(self, op: Op, rule: Rule, returned: Value,
                   targets: list[Value | None]) -> list[tuple[Value, Value]]:
        """Pair each active operand with the item the rule returned for it."""
        owner = returned.owner
        if len(targets) == 1:
            items: list[Value | None] = [returned]
        elif owner is not None and owner.kind == "tuple" and len(owner.operands) == len(targets):
            items = list(owner.operands)
        elif owner is not None and owner.kind == "const" and isinstance(owner.attrs["value"], tuple):
            items = [self.const(item) for item in owner.attrs["value"]]  # `return g, g` with g folded
        else:
            items = [self.emit("getitem", [returned, self.const(i)]) if t in self.active else None
                     for i, t in enumerate(targets)]
        pairs = []
        for target, item in zip(targets, items):
            if target is None or item is None or target not in self.active:
                continue
            if _is_constant(item) and item.owner.attrs["value"] is None:
                continue
            if rule.broadcasts and not _only_scalar_partners(op, target, self.scalars) and not _is_constant(item):
                item = self.sum_to_shape(item, target, op.results[0])
            pairs.append((target, item))
        return pairs


# Callees that read an operand only for its shape: callee → that operand's position.
_SHAPE_ONLY = {np.shape: 0, np.size: 0, np.ndim: 0, runtime.unbroadcast: 1}


#: Callees whose results may be complex although their arguments are real.
_COMPLEX_MAKERS = {np.fft.fft, np.fft.ifft, np.fft.fft2, np.fft.ifft2, np.fft.fftn, np.fft.ifftn, np.fft.rfft,
                   np.fft.rfft2, np.fft.rfftn, np.emath.sqrt, np.emath.log, np.emath.power, np.roots,
                   builtins.complex, np.vectorize}
if np.linalg.eigvals(np.eye(1)).dtype.kind == "c":  # (from NumPy 2.5 eig's results are complex arrays, even
    _COMPLEX_MAKERS |= {np.linalg.eig, np.linalg.eigvals}  # of a real spectrum; its rule refuses a complex one)


def may_be_complex(function: Function, kinds: tuple) -> bool:
    """Whether the program may compute with complex values: a complex argument, a complex
    constant or dtype, or a callee that makes complex values of real ones."""
    def complex_kind(kind: Any) -> bool:
        if is_array_kind(kind):
            return kind[1].kind == "c"
        if type(kind) is tuple:
            return any(complex_kind(k) for k in kind if isinstance(k, tuple) or k is complex)
        return kind is complex
    if any(complex_kind(k) for k in kinds):
        return True
    for op in function.walk():
        if op.kind == "const" and _complex_constant(op.attrs.get("value")):
            return True
        if op.kind == "call" and table_key(op.attrs.get("callee")) in _COMPLEX_MAKERS:
            return True
    return False


#: Callees returning several arrays (a tuple or a named tuple of them).
_SEVERAL_RESULTS = {np.linalg.svd, np.linalg.eig, np.linalg.eigh, np.linalg.slogdet, np.linalg.qr, np.split,
                    np.array_split, np.hsplit, np.vsplit, np.dsplit, np.divmod, np.modf, np.frexp,
                    np.broadcast_arrays, np.meshgrid, np.gradient, np.atleast_1d, np.atleast_2d, np.atleast_3d}


def _items_of_one_list(items: list[Value], primal_ops: set[int]) -> Value | None:
    """The list `s` when `items` are `s[0], s[1], ..., s[n - 1]`, and `s` is a list of adjoints the
    backward sweep made for the argument these items belong to (so it has exactly these n items)."""
    source = None
    for position, item in enumerate(items):
        owner = item.owner
        if owner is None or owner.kind != "getitem" or len(owner.operands) != 2:
            return None
        ok, index = static_value(owner.operands[1])
        if not ok or index != position or (source is not None and owner.operands[0] is not source):
            return None
        source = owner.operands[0]
    if source is None or source.owner is None or id(source.owner) in primal_ops:
        return None
    return source


def _complex_constant(value: Any) -> bool:
    if isinstance(value, (complex, np.complexfloating)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "c"
    if isinstance(value, np.dtype):
        return value.kind == "c"
    return isinstance(value, type) and value in (complex, np.complex64, np.complex128)


def _reduction_axes(target: tuple, result: tuple) -> tuple[tuple, tuple] | None:
    """The axes broadcasting added (leading) and stretched (size 1 in `target`), or None."""
    lead = len(result) - len(target)
    if lead < 0:
        return None
    stretched = tuple(i for i, (t, r) in enumerate(zip(target, result[lead:])) if t == 1 and r != 1)
    if any(t != r and t != 1 for t, r in zip(target, result[lead:])):
        return None
    return tuple(range(lead)), stretched


@functools.lru_cache(maxsize=1024)
def _signature_of(rule: Any) -> inspect.Signature:
    return inspect.signature(rule)


def _popped(value: Any) -> bool:
    """Whether `value` is `items.pop()`'s item: the activity of a list's items is the list's, so an
    option a tape hands back (a shape) looks differentiable; it is not."""
    op = value.owner if isinstance(value, Value) else None
    return op is not None and op.kind == "getitem" and _is_constant(op.operands[1]) and \
        op.operands[1].owner.attrs["value"] == -1


def rule_bindings(signature: inspect.Signature, bound: inspect.BoundArguments, sweep: Any) -> dict[str, Value]:
    """A rule's parameters bound to values, for `inline_rule`: `*args` as one tuple, options left out
    as their defaults (`sweep` emits the ops: the reverse or the forward transform)."""
    bindings = {}
    for name, param in signature.parameters.items():
        if name in bound.arguments:
            value = bound.arguments[name]
            if param.kind is param.VAR_POSITIONAL:
                value = sweep.emit("tuple", list(value))
            elif param.kind is param.VAR_KEYWORD:
                value = sweep.const({})
            bindings[name] = value
        elif param.kind is param.VAR_POSITIONAL:
            bindings[name] = sweep.const(())
        elif param.kind is param.VAR_KEYWORD:
            bindings[name] = sweep.const({})
        else:
            bindings[name] = sweep.const(param.default)
    return bindings


def _summed_per_operand(sweep: "_Backward", contributions: list[tuple[Value, Value]]) -> list[tuple[Value, Value]]:
    """One contribution per operand: an op reading a value twice (`v * v`) adds its two parts
    first, `dv + (p + p)` (which factor folding makes `dv + 2 * p`, exactly), not `(dv + p) + p`."""
    summed: dict[Value, Value] = {}
    for target, item in contributions:
        summed[target] = sweep.call(operator.add, summed[target], item) if target in summed else item
    return list(summed.items())


def _one_of(dtype: Any) -> Any:
    """The seed 1 in the output's dtype: a float32 output's adjoints are float32, as NumPy computes
    with them (a Python 1.0 broadcast into an array would be float64); 1.0 for float64 or unknown."""
    if isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.inexact) and dtype != np.float64:
        return dtype.type(1.0)
    return 1.0


def _is_constant(value: Value) -> bool:
    return value.owner is not None and value.owner.kind == "const"


def _only_scalar_partners(op: Op, target: Value, scalars: set[Value]) -> bool:
    """True when every other operand is a scalar (or `target` itself, as in `x * x`),
    so the result has `target`'s shape and needs no unbroadcast."""
    return all(v is target or v in scalars for v in op.operands)


@functools.lru_cache(maxsize=None)
def recursive_rule(function: Any, make_vjp: Callable) -> Rule:
    """The rule of a call a function makes to itself: the function's own vjp, compiled by gradc
    (`make_vjp(function, wrt)`, the api's `vjp`) and called at run time, which recurses as deep as
    the primal does. (Each level recomputes its forward: a depth-d recursion costs O(d²) operations.)"""
    vjps: dict[tuple, Any] = {}

    def rule(g, ans, *args):
        wrt = tuple(i for i, a in enumerate(args) if _differentiable_argument(a))
        if not wrt:
            return (None,) * len(args)
        if wrt not in vjps:
            vjps[wrt] = make_vjp(function, wrt)
        grads = dict(zip(wrt, vjps[wrt](*args, g)))
        if len(args) == 1:  # (a rule of one differentiable parameter returns its gradient alone)
            return grads.get(0)
        return tuple(grads.get(i) for i in range(len(args)))

    rule.__name__ = rule.__qualname__ = f"{function.__name__}_vjp"
    _register_second_order(rule, function, make_vjp, vjps)
    return Rule(function, vjp=rule, var_param="args", diff_params=())


def _register_second_order(rule: Callable, function: Any, make_vjp: Callable, vjps: dict) -> None:
    """`rule` (a recursive call's vjp, run at run time) gets a JVP, so that a gradient calling it can
    be differentiated again in forward mode (`hvp`, forward over reverse): the jvp of the function's
    compiled vjp, compiled by gradc when first run; `ans` only stands for the recomputed value and
    has no tangent of its own. (Reverse over reverse through a recursion is not built: its rule has
    no VJP, and `grad(grad(f))` says so.)"""
    make_jvp = getattr(make_vjp, "jvp", None)
    if make_jvp is None:
        return
    seconds: dict[tuple, Any] = {}

    def jvp_of_rule(t, ans, g, ans_in, *args):
        wrt = tuple(i for i, a in enumerate(args) if _differentiable_argument(a))
        if wrt not in vjps:
            vjps[wrt] = make_vjp(function, wrt)
        if wrt not in seconds:
            seconds[wrt] = make_jvp(vjps[wrt], tuple(wrt) + (len(args),))
        tg, tangents = t[0], t[2:]
        _, tangent = seconds[wrt](*args, g, tuple(tangents[i] for i in wrt) + (tg,))
        if len(args) == 1:
            return tangent
        by_arg = dict(zip(wrt, tangent if len(wrt) > 1 else (tangent,)))
        return tuple(by_arg.get(i, 0.0) for i in range(len(args)))

    jvp_of_rule.__name__ = f"{function.__name__}_vjp_jvp"
    from ..rules.registry import REGISTRY
    REGISTRY[rule] = Rule(rule, jvp=jvp_of_rule, diff_params=("g", "ans"), var_param="args", user=True)  # (made
    # at run time for one function, like a rule of the user's: not one of gradc's own)


def _differentiable_argument(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return False
    if isinstance(value, (float, np.floating)):
        return True
    return isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)


def _registration_hint(op: Op) -> str:
    why = op.attrs.get("not_inlined")
    if why:
        return f"gradc could not differentiate its source: {why}\n" + _registration_hint_plain(op)
    return _registration_hint_plain(op)


def _registration_hint_plain(op: Op) -> str:
    key = rule_key(op)
    if isinstance(key, Method) and not hasattr(np.ndarray, key.name):
        return (f"if `{key.name}` is a method of a class of yours, call it through the class so that gradc "
                f"reads its source: `ClassName.{key.name}(self, ...)` instead of `self.{key.name}(...)`")
    if isinstance(key, (Method, Attr)):
        return ("gradc knows the ndarray methods and attributes listed in docs/reference.md; "
                "call the NumPy function instead, or register a rule for it")
    name = getattr(key, "__name__", "f")
    spelling = op.attrs.get("spelling")
    import ast
    shown = ast.unparse(spelling) if spelling is not None else name
    return (f"register a rule with:\n\n    @gradc.defvjp({shown})\n    def {name}_vjp(g, ans, *args):\n"
            f"        return ...  # the gradient for each positional argument of {name}")


def reverse(primal: Function, wrt: list[int], mode: str = "grad", kinds: tuple = (),
            make_vjp: Callable | None = None) -> Function:
    """The gradient function of `primal` with respect to the parameters at `wrt`, specialized
    for arguments of these `kinds` (shapes, "s" for scalars, container structures). `primal` is
    left as it is (the transform works on a copy). A call the function makes to itself is
    differentiated at run time by `make_vjp(function, wrt)` (the api's `vjp`)."""
    assert mode in MODES, mode
    primal = clone_function(primal)
    body = primal.body
    return_op = body.ops[-1]
    output = return_op.operands[0]
    if output.hint is None and output not in primal.params:
        output.hint = primal.name  # `loss = ...` reads better than a temporary's name
    if mode != "vjp" and output.owner is not None and output.owner.kind in ("tuple", "list", "dict"):
        raise NonScalarOutputError(f"grad needs a function that returns a scalar, but `{primal.name}` returns "
                                   f"a {output.owner.kind}", return_op.loc,
                                   "use gradc.vjp(f) for a non-scalar output, passing the output's cotangent")
    wrt_values = [v for i in wrt for v in primal.leaves.get(i, [primal.params[i]])]
    active = active_values(primal, wrt_values, output)

    backward = Region()
    sweep = _Backward(primal, backward, active)
    sweep.make_vjp = make_vjp
    sweep.scope_stack = []
    arguments = {param: abstract_kind(kind) for param, kind in zip(primal.params, kinds)}
    sweep.facts = infer_shapes(primal, arguments) if kinds else {}
    scalar_params = {p for p, kind in zip(primal.params, kinds) if abstract_kind(kind).shape == ()}
    sweep.scalars = scalar_values(primal, scalar_params)
    sweep.scalars |= {v for v, fact in sweep.facts.items() if fact.shape == ()}
    sweep.complex_mode = may_be_complex(primal, kinds)
    sweep.stmt, sweep.loc = return_op.stmt, return_op.loc
    params = list(primal.params)
    if mode == "vjp":
        seed = Value("d" + (output.hint or "out"))
        params.append(seed)
    else:
        shape = sweep.facts[output].shape if output in sweep.facts else None
        if shape and int(np.prod(shape)) == 1:  # (one element, shape (1,) or (1, 1): seeded with ones, as autograd)
            seed = sweep.call(np.broadcast_to, sweep.const(_one_of(sweep.facts[output].dtype)), sweep.const(shape))
        elif output not in sweep.scalars:  # (a scalar known now needs no check at run time)
            backward.append(Op("call", [output], [Value()], {"callee": runtime.check_scalar, "spelling": None,
                                                             "kwnames": (), "effect": True},
                               [], return_op.loc, return_op.stmt))
        if not (shape and int(np.prod(shape)) == 1):
            seed = sweep.const(_one_of(sweep.facts[output].dtype if output in sweep.facts else None))
    if output in active:
        sweep.scope.set(output, seed)
        seed.adjoint_of = seed.adjoint_of or output
    body.ops.pop()  # the primal's return: the gradient returns gradients
    sweep.reverse_ops(list(body.ops))

    sweep.stmt = sweep.loc = None
    def gradient_of(value: Value) -> Value:
        grad = sweep.scope.get(value)
        if grad is None:  # the output does not depend on this argument
            grad = sweep.zeros_like(value)
            grad.adjoint_of = value
        return grad

    def rebuild(structure: Any, leaves: list[Value], name: str) -> Value:
        """A container argument's gradient: its leaves' gradients in its structure."""
        if not is_structure(structure):
            return gradient_of(leaves.pop(0))
        if structure[0] == "record":  # (a dict of its differentiated fields' gradients: see records.py)
            structure = gradient_structure(structure)
        kind, keys, subs = structure if structure[0] == "dict" else (structure[0], None, structure[1])
        items = [rebuild(sub, leaves, name) for sub in subs]
        whole = _items_of_one_list(items, primal_ops) if kind == "list" else None
        if whole is not None:
            return whole  # (the adjoints a loop over the list accumulated, item by item: that list)
        result = sweep.emit("dict", items, keys=keys) if kind == "dict" else sweep.emit(kind, items)
        return result

    grads = []
    primal_ops = {id(op) for op in body.walk()}  # (the forward sweep's ops: what the user's code made)
    for i in wrt:
        if i in primal.leaves:
            rebuilt = rebuild(primal.structures[i], list(primal.leaves[i]), primal.params[i].hint)
            rebuilt.hint = "d" + primal.params[i].hint
            grads.append(rebuilt)
        else:
            grads.append(gradient_of(primal.params[i]))
    result = grads[0] if len(grads) == 1 else sweep.emit("tuple", grads)
    if mode == "value_and_grad":
        result = sweep.emit("tuple", [output, result])
    backward.append(Op("return", [result], [], {}, [], None, None))
    for op in backward.walk():
        op.backward = True
    function = Function("d" + primal.name if mode != "vjp" else primal.name + "_vjp", params,
                        Region([], body.ops + backward.ops), primal.file, primal.lines)
    function.signature = primal.signature
    function.mode = mode
    function.facts = sweep.facts  # shapes, for the passes
    function.kinds = dict(zip(primal.params, kinds))  # (and the arguments' dtypes)
    return function
