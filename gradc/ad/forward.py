"""Forward mode: the tangent (JVP) transform on IR.

`forward(primal, wrt, kinds)` returns a function of the primal's arguments and one tangent per
`wrt` argument (`x_dot`, shaped like `x`: the convention for tangents, apart from adjoints'
`dx`), which computes the primal's value and the tangent of its output along those tangents:
`(f(x), J(x) @ x_dot)`. Each op is followed by the ops computing its result's tangent, so the
generated code reads one `# line N:` block per primal statement, value and tangent together:

    # line 2: h = np.tanh(x @ W)
    mm = x @ W
    mm_dot = x @ W_dot
    h = np.tanh(mm)
    h_dot = mm_dot * (1.0 - h * h)

A value whose tangent is zero has none (no code). A tangent comes from the primitive's rule:
an explicit JVP (`@jvp`), or the primitive itself where it is linear (`x @ W_dot`), or its VJP
with `g` replaced by the argument's tangent where it is elementwise (`g * cos(x)` gives
`x_dot * cos(x)`). Branches hand out tangents as extra results, loops carry them as extra
carried values (no tape: forward mode runs alongside the primal), a `for` over a differentiable
sequence walks its tangent beside it (`for x, x_dot in zip(xs, xs_dot)`).
"""
from __future__ import annotations

import functools
import inspect
import operator
from typing import Any

import numpy as np

from .. import runtime
from ..analysis.activity import active_values, loop_items, rule_key
from ..analysis.scalars import scalar_values
from ..analysis.shapes import abstract_kind, infer_shapes
from ..errors import NoGradientRuleError, UnsupportedSyntaxError
from ..frontend.lower import CannotInline, inline_rule, known_dtypes
from ..frontend.records import gradient_structure
from ..ir.core import Function, Op, Region, Value, clone_function, describe_value, loop_parts
from ..rules.registry import Rule, lookup
from .reverse import _describe_op, rule_bindings

__all__ = ["forward"]


class _Forward:
    def __init__(self, primal: Function, active: set[Value], facts: dict, scalars: set[Value]) -> None:
        self.primal, self.active, self.facts, self.scalars = primal, active, facts, scalars
        self.tangent: dict[Value, Value] = {}
        self.out: list[Op] = []  # (where the ops being emitted go)
        self.make_jvp: Any = None  # (the api's jvp, for a call of the function to itself)
        self.loc = self.stmt = None

    # -- emitting --------------------------------------------------------------------------------
    def emit(self, kind: str, operands: list[Value], hint: str | None = None, **attrs: Any) -> Value:
        result = Value(hint)
        self.out.append(Op(kind, list(operands), [result], attrs, [], self.loc, self.stmt))
        return result

    def const(self, value: Any) -> Value:
        return self.emit("const", [], value=value, spelling=None)

    def call(self, callee: Any, *args: Value) -> Value:
        return self.emit("call", list(args), callee=callee, spelling=None, kwnames=())

    def set_tangent(self, value: Value, tangent: Value) -> None:
        self.tangent[value] = tangent
        if tangent.hint is None or tangent.temp:
            tangent.hint, tangent.temp = _dot_name(value), True
        if value in self.facts:
            self.facts.setdefault(tangent, self.facts[value])

    def zero(self, value: Value) -> Value:
        """The zero tangent of `value` (for a branch or an initial value that has none)."""
        if value in self.scalars:
            return self.const(0.0)
        fact = self.facts.get(value)
        if fact is not None and fact.shape is not None and fact.seq is None:
            return self.call(np.zeros_like, value)
        return self.call(runtime.zeros_for, value)  # (a container, or what is not known: zeros of its structure)

    def tangent_or_zero(self, value: Value) -> Value:
        return self.tangent[value] if value in self.tangent else self.zero(value)

    # -- regions ---------------------------------------------------------------------------------
    def region(self, region: Region) -> None:
        """Follow each op of `region` with the ops computing its tangent."""
        ops, region.ops = region.ops, []
        for op in ops:
            self.stmt, self.loc = op.stmt, op.loc
            saved, self.out = self.out, []
            if op.kind == "if":
                self.branch(op)
            elif op.kind in ("for", "while"):
                self.loop(op)
            before, self.out = self.out, []
            if op.kind not in ("if", "for", "while", "yield", "return") and any(r in self.active for r in op.results):
                self.differentiate(op)
            for new in before + self.out:
                new.tangent = True
            region.ops += before + [op] + self.out
            self.out = saved

    def differentiate(self, op: Op) -> None:
        if not any(v in self.tangent for v in op.operands):
            return
        if op.kind in ("tuple", "list", "dict"):
            attrs = {"keys": op.attrs["keys"]} if op.kind == "dict" else {}
            self.set_tangent(op.result, self.emit(op.kind, [self.tangent_or_zero(v) for v in op.operands], **attrs))
            return
        if op.kind in ("const", "boolop"):
            return
        if op.attrs.get("recursive") and self.make_jvp is not None:
            return self.set_tangent(op.result, self.recursion(op))
        rule = lookup(rule_key(op))
        if rule is not None and rule.zero:
            return
        if rule is None or rule.vjp is None and rule.jvp is None:
            what = "a call of the function to itself" if op.attrs.get("recursive") else _describe(op)
            raise NoGradientRuleError(f"no forward-mode (JVP) rule for {what}, which is applied to a value with "
                                      "a tangent", op.loc)
        tangent = self.apply(op, rule)
        if tangent is not None:
            self.set_tangent(op.result, tangent)

    def recursion(self, op: Op) -> Value:
        """A call of the function to itself: its own JVP, compiled by gradc and called at run time
        (each level computes its value again: a depth-d recursion costs O(d²) operations)."""
        if op.kwnames:
            raise UnsupportedSyntaxError("forward mode through a recursive call with keyword arguments", op.loc)
        wrt = tuple(k for k, v in enumerate(op.operands) if v in self.tangent)
        tangent_of = recursive_jvp(op.attrs["callee"], wrt, self.make_jvp)
        return self.emit("call", list(op.operands) + [self.tangent[op.operands[k]] for k in wrt], callee=tangent_of,
                         spelling=None, kwnames=())

    # -- rules -----------------------------------------------------------------------------------
    def positions(self, op: Op, rule: Rule) -> list[tuple[str, int]]:
        """(parameter, operand index) for each differentiable argument of `op`, in the rule's order."""
        receiver = 1 if op.kind in ("method", "getattr") else 0
        positional = list(range(receiver)) + [receiver + i for i in range(len(op.positional()))] \
            if op.kind != "getitem" else list(range(len(op.operands)))
        if op.kind == "getattr":
            positional = [0]
        keywords = {k: len(op.operands) - len(op.kwnames) + i for i, k in enumerate(op.kwnames)}
        signature = inspect.signature(rule.vjp if rule.vjp is not None else rule.jvp)
        try:
            bound = signature.bind(-1, -2, *positional, **keywords).arguments
        except TypeError as exc:
            raise NoGradientRuleError(f"the rule of {_describe(op)} does not accept these arguments ({exc})",
                                      op.loc) from None
        found = [(name, bound[name]) for name in rule.diff_params if name in bound]
        if rule.var_param and rule.var_param in bound:
            found += [(rule.var_param, k) for k in bound[rule.var_param]]
        return found

    def apply(self, op: Op, rule: Rule) -> Value | None:
        places = self.positions(op, rule)
        active = [(name, k) for name, k in places if op.operands[k] in self.tangent]
        if not active:
            return None
        if rule.jvp is not None:
            return self.explicit(op, rule, places)
        if rule.linear == "each":  # (an argument it is not linear in is read for its shape only)
            parts = [self.replaced(op, {k: self.tangent[op.operands[k]]}) for name, k in active
                     if name in rule.linear_in or name == rule.var_param]
            return self.total(parts) if parts else None
        if rule.linear == "joint":
            return self.replaced(op, {k: self.tangent_or_zero(op.operands[k]) for name, k in places
                                      if name in rule.linear_in or name == rule.var_param})
        if rule.elementwise:
            parts = [(self.vjp_part(op, rule, places, k), k) for _, k in active]
            parts = [(part, k) for part, k in parts if part is not None]
            if not parts:
                return None
            total = self.total([part for part, _ in parts])
            if len(places) == 1:
                return total  # (a function of one argument keeps its shape)
            return self.spread(total, op.result, [op.operands[k] for _, k in parts])
        raise NoGradientRuleError(f"no forward-mode (JVP) rule for {_describe(op)}: its reverse-mode rule is not "
                                  "elementwise or linear, and it has no JVP of its own", op.loc)

    def replaced(self, op: Op, replacements: dict[int, Value]) -> Value:
        """`op` again with some operands replaced (a linear primitive applied to tangents)."""
        operands = [replacements.get(k, v) for k, v in enumerate(op.operands)]
        attrs = {key: value for key, value in op.attrs.items() if key not in ("span", "recursive", "copies")}
        return self.emit(op.kind, operands, **attrs)

    def total(self, parts: list[Value]) -> Value:
        result = parts[0]
        for part in parts[1:]:
            result = self.call(operator.add, result, part)
        return result

    def spread(self, total: Value, result: Value, operands: list[Value]) -> Value:
        """The tangent of an elementwise op from the tangents of `operands` (`x_dot` of `x + c`),
        broadcast to the result's shape unless one of them is known to have it already."""
        if any(_adjoint_container(operand, self.facts) for operand in operands):
            return total  # (gradc's adjoint containers, added item by item: a gradient differentiated again)
        shape = self.facts[result].shape if result in self.facts else None
        if result in self.scalars or (shape is not None and any(
                operand in self.facts and self.facts[operand].shape == shape for operand in operands)):
            return total
        return self.call(np.broadcast_to, total, self.call(np.shape, result))

    def bindings(self, op: Op, rule_fn: Any, first: Value) -> dict[str, Value]:
        """The rule's parameters bound to `first` (g or t), the result and the op's operands."""
        receiver = [op.operands[0]] if op.kind in ("method", "getattr") else []
        positional = op.operands if op.kind == "getitem" else receiver + (op.positional() if op.kind != "getattr"
                                                                           else [])
        signature = inspect.signature(rule_fn)
        return rule_bindings(signature, signature.bind(first, op.result, *positional, **op.keywords()), self)

    def run_rule(self, rule_fn: Any, first: Value, op: Op) -> Value:
        """The rule's body inlined here (bound to `first`, the result and the op's operands), or a
        call of it where it cannot be."""
        bindings = self.bindings(op, rule_fn, first)
        ndims = {v: len(self.facts[v].shape) for v in bindings.values()
                 if v in self.facts and self.facts[v].shape is not None}
        region = Region()
        try:
            returned = inline_rule(rule_fn, bindings, region, self.stmt, self.loc, ndims,
                                   known_dtypes(self.facts, bindings.values()))
        except CannotInline:
            receiver = [op.operands[0]] if op.kind in ("method", "getattr") else []
            positional = op.operands if op.kind == "getitem" else receiver + (op.positional() if op.kind != "getattr"
                                                                               else [])
            keywords = op.keywords()
            return self.emit("call", [first, op.result] + positional + list(keywords.values()), callee=rule_fn,
                             spelling=None, kwnames=tuple(keywords), rule_call=True)
        self.out += region.ops
        return returned

    def vjp_part(self, op: Op, rule: Rule, places: list, k: int) -> Value:
        """The part of the tangent from operand k of an elementwise primitive: its VJP with `g`
        replaced by that operand's tangent, the item for that operand."""
        returned = self.run_rule(rule.vjp, self.tangent[op.operands[k]], op)
        if len(places) == 1:
            return returned
        index = [position for _, position in places].index(k)
        owner = returned.owner
        if owner is not None and owner.kind == "tuple" and len(owner.operands) == len(places):
            part = owner.operands[index]
            return None if part.owner is not None and part.owner.kind == "const" and \
                part.owner.attrs["value"] is None else part  # (a rule's None: no gradient, no tangent)
        if owner is not None and owner.kind == "const" and isinstance(owner.attrs["value"], tuple):
            part = owner.attrs["value"][index]
            return None if part is None else self.const(part)
        return self.emit("getitem", [returned, self.const(index)])

    def explicit(self, op: Op, rule: Rule, places: list) -> Value:
        if len(places) == 1:
            t = self.tangent[op.operands[places[0][1]]]
        else:
            t = self.emit("tuple", [self.tangent_or_zero(op.operands[k]) for _, k in places])
        return self.run_rule(rule.jvp, t, op)

    # -- branches and loops ----------------------------------------------------------------------
    def branch(self, op: Op) -> None:
        """Each branch computes its tangents; the `if` hands out those of its results as extra results."""
        for region in op.regions:
            saved, self.out = self.out, []
            self.region(region)
            self.out = saved
        needed = [i for i, r in enumerate(op.results) if r in self.active and
                  any(region.ops[-1].operands[i] in self.tangent for region in op.regions)]
        for i in needed:
            for region in op.regions:
                closing = region.ops.pop()
                saved, self.out = self.out, []
                value = closing.operands[i]
                closing.operands.append(self.tangent_or_zero(value))
                region.ops += self.out + [closing]
                self.out = saved
            result = Value()
            result.owner = op
            op.results.append(result)
            self.set_tangent(op.results[i], result)

    def loop(self, op: Op) -> None:
        """Carried values with tangents carry them too; a differentiable sequence is walked with its tangent."""
        parts = loop_parts(op)
        body = parts.body
        if op.kind == "for":
            self.walk_tangents(op)
        carried = [i for i, (arg, result) in enumerate(zip(parts.carried, op.results))
                   if arg in self.active or result in self.active or parts.inits[i] in self.tangent]
        new_args = []
        for i in carried:
            arg = Value()
            new_args.append(arg)
            self.set_tangent(parts.carried[i], arg)
            op.operands.append(self.tangent_or_zero(parts.inits[i]))  # (emitted before the loop)
            if op.kind == "while":
                cond_arg = Value()
                op.regions[0].args.append(cond_arg)
                self.set_tangent(op.regions[0].args[i], cond_arg)
        body.args += new_args
        saved, self.out = self.out, []
        self.region(body)
        self.out = saved
        closing = body.ops.pop()
        stop = 1 if op.attrs.get("stop") else 0
        saved, self.out = self.out, []
        for i in carried:
            closing.operands.append(self.tangent_or_zero(closing.operands[stop + i]))
        body.ops += self.out + [closing]
        self.out = saved
        for i in carried:
            result = Value()
            result.owner = op
            op.results.append(result)
            self.set_tangent(op.results[i], result)

    def walk_tangents(self, op: Op) -> None:
        """`for x in xs` over a sequence with a tangent: `for x, x_dot in zip(xs, xs_dot)` (the items'
        tangents, read where they sit in each element)."""
        items = [entry for entry in loop_items(op) if not entry[3] and entry[1] is not None]
        sources = list(dict.fromkeys(source for _, source, _, _, _ in items if source in self.tangent))
        if not sources:
            if any(not counter and source is None for _, source, _, counter, _ in loop_items(op)) and \
                    op.operands[0] in self.tangent:
                raise UnsupportedSyntaxError("forward mode through a loop over this differentiable sequence",
                                             op.loc, "iterate over the sequence itself, or over range(len(...))")
            return
        if any(reverse for _, source, reverse, _, _ in items if source in self.tangent):
            raise UnsupportedSyntaxError("forward mode through a loop walking a differentiable sequence in "
                                         "reverse", op.loc, "iterate over range(...) and index the sequence")
        tangent_items = [Value() for _ in sources]
        op.operands[0] = self.call(zip, op.operands[0], *[self.tangent[s] for s in sources])
        op.attrs["pattern"] = (op.attrs.get("pattern"),) + (None,) * len(sources)
        n_items = op.attrs.get("n_items", 1)
        body = op.regions[0]
        body.args[n_items:n_items] = tangent_items
        op.attrs["n_items"] = n_items + len(sources)
        reads = []
        for item, source, _, _, path in items:
            if source not in self.tangent:
                continue
            element = tangent_items[sources.index(source)]
            element.hint = _dot_name(source) + "_item"
            value = element
            for step in path:
                value_op = Op("getitem", [value, Value()], [Value()], {}, [], op.loc, op.stmt)
                const = Op("const", [], [value_op.operands[1]], {"value": step, "spelling": None}, [], op.loc,
                           op.stmt)
                value_op.operands[1].owner = const
                value_op.results[0].owner = value_op
                reads += [const, value_op]
                value = value_op.results[0]
            self.set_tangent(item, value)
        body.ops[0:0] = reads


@functools.lru_cache(maxsize=None)
def recursive_jvp(function: Any, wrt: tuple, make_jvp: Any) -> Any:
    """`function`'s JVP along tangents of the arguments at `wrt`, as a function of the arguments
    then those tangents, returning the output's tangent (`make_jvp` is the api's `jvp`)."""
    made: list = []

    def tangent(*arguments: Any) -> Any:
        if not made:
            made.append(make_jvp(function, wrt))
        count = len(arguments) - len(wrt)
        return made[0](*arguments[:count], tuple(arguments[count:]))[1]

    tangent.__name__ = tangent.__qualname__ = f"{function.__name__}_jvp"
    return tangent


def _dot_name(value: Value) -> str:
    """A tangent's name: its primal's, then `_dot` (`h_dot`; an adjoint is `dh`)."""
    return (value.hint if value.hint and not value.temp else describe_value(value)) + "_dot"


def _describe(op: Op) -> str:
    return _describe_op(op)


def forward(primal: Function, wrt: list[int], kinds: tuple = (), make_jvp: Any = None) -> Function:
    """The JVP function of `primal`: its arguments, then one tangent per `wrt` argument (shaped
    like it; a container's tangent has its structure); it returns `(value, output tangent)`.
    `primal` is left as it is."""
    primal = clone_function(primal)
    body = primal.body
    return_op = body.ops[-1]
    output = return_op.operands[0]
    if output.hint is None and output not in primal.params:
        output.hint = primal.name
    wrt_values = [v for i in wrt for v in primal.leaves.get(i, [primal.params[i]])]
    active = active_values(primal, wrt_values, output)
    arguments = {param: abstract_kind(kind) for param, kind in zip(primal.params, kinds)}
    facts = infer_shapes(primal, arguments) if kinds else {}
    scalar_params = {p for p, kind in zip(primal.params, kinds) if abstract_kind(kind).shape == ()}
    scalars = scalar_values(primal, scalar_params) | {v for v, fact in facts.items() if fact.shape == ()}
    sweep = _Forward(primal, active, facts, scalars)
    sweep.make_jvp = make_jvp
    tangent_params = []
    entry: list[Op] = []
    for i in wrt:
        param = primal.params[i]
        t = Value(param.hint + "_dot")
        tangent_params.append(t)
        if i in primal.leaves:  # (a container: its leaves' tangents read from the tangent's structure)
            sweep.out = entry
            _unpack_tangent(sweep, primal.structures[i], t, list(primal.leaves[i]))
            sweep.out = []
        else:
            sweep.set_tangent(param, t)
    body.ops.pop()
    sweep.region(body)
    sweep.stmt, sweep.loc = return_op.stmt, return_op.loc
    sweep.out = []
    out_tangent = sweep.tangent_or_zero(output) if output in sweep.tangent or output not in primal.params \
        else sweep.zero(output)
    result = sweep.emit("tuple", [output, out_tangent])
    ops = entry + body.ops + sweep.out + [Op("return", [result], [], {}, [], None, None)]
    function = Function(primal.name + "_jvp", list(primal.params) + tangent_params, Region([], ops),
                        primal.file, primal.lines)
    function.signature = primal.signature
    function.mode = "jvp"
    function.facts = facts
    function.kinds = dict(zip(primal.params, kinds))
    return function


def _adjoint_container(value: Value, facts: dict) -> bool:
    """Whether `value` is the adjoint of a tuple (`Adjoints`: from `scatter_add(g, t, i)`, `t` a
    tuple such as np.linalg.eigh's result), whose `+` adds item by item."""
    if value in facts and facts[value].seq_kind == "Adjoints":
        return True
    op = value.owner
    return op is not None and op.kind == "call" and op.attrs.get("callee") is runtime.scatter_add and \
        len(op.operands) > 1 and op.operands[1] in facts and facts[op.operands[1]].seq is not None


def _unpack_tangent(sweep: _Forward, structure: Any, tangent: Value, leaves: list[Value]) -> None:
    from ..frontend.lower import is_structure
    if not is_structure(structure):
        sweep.set_tangent(leaves.pop(0), tangent)
        return
    if structure[0] == "record":  # (the tangent is a record too: its differentiated fields, by name)
        for field, sub in zip(*gradient_structure(structure)[1:]):
            _unpack_tangent(sweep, sub, sweep.emit("getattr", [tangent], name=field), leaves)
        return
    kind, keys, subs = structure if structure[0] == "dict" else (structure[0], None, structure[1])
    for position, sub in enumerate(subs):
        key = keys[position] if keys is not None else position
        item = sweep.emit("getitem", [tangent, sweep.const(key)])
        _unpack_tangent(sweep, sub, item, leaves)
