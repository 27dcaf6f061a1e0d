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

import inspect
import operator
from typing import Any

import numpy as np

from .. import runtime
from ..analysis.activity import active_values, rule_key
from ..errors import NoGradientRuleError, UnsupportedSyntaxError
from ..frontend.lower import CannotInline, callee_name, inline_rule
from ..ir.core import Function, Op, Region, Value
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


class _Backward:
    """Builds the backward sweep into a region, one primal op at a time."""

    def __init__(self, region: Region, active: set[Value]):
        self.region = region
        self.active = active
        self.adjoint: dict[Value, Value] = {}
        self.stmt = None
        self.loc = None

    def emit(self, kind: str, operands: list[Value], hint: str | None = None, **attrs: Any) -> Value:
        result = Value(hint)
        self.region.append(Op(kind, operands, [result], attrs, [], self.loc, self.stmt))
        return result

    def const(self, value: Any) -> Value:
        return self.emit("const", [], value=value, spelling=None)

    def call(self, callee: Any, *args: Value) -> Value:
        return self.emit("call", list(args), callee=callee, spelling=None, kwnames=())

    def accumulate(self, value: Value, contribution: Value) -> None:
        """Add one contribution to `value`'s adjoint (the first one is the adjoint)."""
        if value not in self.active:
            return
        previous = self.adjoint.get(value)
        if previous is None:
            if _is_constant(contribution):  # a folded seed: give it the shape of what it is the adjoint of
                contribution = self.call(np.broadcast_to, contribution, self.call(np.shape, value))
            self.adjoint[value] = contribution
        else:
            self.adjoint[value] = self.call(operator.add, previous, contribution)
        adjoint = self.adjoint[value]
        if adjoint.hint is None and adjoint.adjoint_of is None:
            adjoint.adjoint_of = value  # the emitter names it d<name of value>

    # -- one primal op -----------------------------------------------------------------------
    def differentiate(self, op: Op) -> None:
        g = self.adjoint.get(op.results[0]) if op.results else None
        if g is None:
            return  # nothing flows back through this op
        self.stmt, self.loc = op.stmt, op.loc
        if op.kind in ("tuple", "list"):
            for i, item in enumerate(op.operands):
                if item in self.active:
                    self.accumulate(item, self.emit("getitem", [g, self.const(i)]))
            return
        rule = lookup(rule_key(op))
        if rule is None or rule.vjp is None:
            raise NoGradientRuleError(
                f"no gradient rule for {_describe_op(op)}, which is applied to a differentiable value",
                op.loc, _registration_hint(op))
        self.apply_rule(op, rule, g)

    def apply_rule(self, op: Op, rule: Rule, g: Value) -> None:
        receiver = [op.operands[0]] if op.kind in ("method", "getattr") else []
        positional = receiver + (op.positional() if op.kind != "getattr" else [])
        if op.kind == "getitem":
            positional = list(op.operands)
        keywords = op.keywords()
        signature = inspect.signature(rule.vjp)
        try:
            bound = signature.bind(g, op.results[0], *positional, **keywords)
        except TypeError as exc:
            raise NoGradientRuleError(
                f"the gradient rule of {_describe_op(op)} does not accept these arguments ({exc})",
                op.loc, "gradc's rule covers the common arguments; see docs/reference.md") from None
        targets = self.differentiable_targets(op, rule, bound)
        bindings = {}
        for name, param in signature.parameters.items():
            if name in bound.arguments:
                value = bound.arguments[name]
                if param.kind is param.VAR_POSITIONAL:
                    value = self.emit("tuple", list(value))
                elif param.kind is param.VAR_KEYWORD:
                    value = self.const({})
                bindings[name] = value
            elif param.kind is param.VAR_POSITIONAL:
                bindings[name] = self.const(())
            elif param.kind is param.VAR_KEYWORD:
                bindings[name] = self.const({})
            else:
                bindings[name] = self.const(param.default)
        try:
            returned = inline_rule(rule.vjp, bindings, self.region, self.stmt, self.loc)
        except CannotInline:
            args = [bound.arguments[n] for n in list(signature.parameters)[:2]] + positional
            returned = self.emit("call", args + list(keywords.values()), callee=rule.vjp, spelling=None,
                                 kwnames=tuple(keywords), rule_call=True)
        self.distribute(op, rule, returned, targets)

    def differentiable_targets(self, op: Op, rule: Rule, bound: inspect.BoundArguments) -> list[Value | None]:
        """The operand bound to each differentiable rule parameter, in the order the rule returns them."""
        targets: list[Value | None] = [bound.arguments.get(name) for name in rule.diff_params]
        if rule.var_param:
            targets += list(bound.arguments.get(rule.var_param, ()))
        covered = {id(v) for v in targets if v is not None}
        for name, value in bound.arguments.items():
            values = value if isinstance(value, tuple) else (value,)
            for v in values:
                if isinstance(v, Value) and v in self.active and id(v) not in covered and name not in ("g", "ans"):
                    raise NoGradientRuleError(
                        f"argument `{name}` of {_describe_op(op)} is differentiable here, but gradc's rule "
                        "has no gradient for it", op.loc, _registration_hint(op))
        return targets

    def distribute(self, op: Op, rule: Rule, returned: Value, targets: list[Value | None]) -> None:
        """Hand each item the rule returned to the operand it is the gradient of."""
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
        for target, item in zip(targets, items):
            if target is None or item is None or target not in self.active:
                continue
            if _is_constant(item) and item.owner.attrs["value"] is None:
                continue
            if rule.broadcasts and not _only_scalar_partners(op, target) and not _is_constant(item):
                item = self.call(runtime.unbroadcast, item, target)
            self.accumulate(target, item)


def _is_constant(value: Value) -> bool:
    return value.owner is not None and value.owner.kind == "const"


def _only_scalar_partners(op: Op, target: Value) -> bool:
    """True when every other operand is a Python number (or `target` itself, as in `x * x`),
    so the result has `target`'s shape and needs no unbroadcast."""
    others = [v for v in op.operands if v is not target]
    return all(
        v.owner is not None and v.owner.kind == "const" and type(v.owner.attrs["value"]) in (int, float)
        for v in others)


def _registration_hint(op: Op) -> str:
    key = rule_key(op)
    if isinstance(key, (Method, Attr)):
        return ("gradc knows the ndarray methods and attributes listed in docs/reference.md; "
                "call the NumPy function instead, or register a rule for it")
    name = getattr(key, "__name__", "f")
    spelling = op.attrs.get("spelling")
    import ast
    shown = ast.unparse(spelling) if spelling is not None else name
    return (f"register a rule with:\n\n    @gradc.defvjp({shown})\n    def {name}_vjp(g, ans, *args):\n"
            f"        return ...  # the gradient for each positional argument of {name}")


def reverse(primal: Function, wrt: list[int], mode: str = "grad") -> Function:
    """The gradient function of `primal` with respect to the parameters at `wrt`."""
    assert mode in MODES, mode
    for op in primal.walk():  # until control flow is differentiated, refuse it rather than guess
        if op.kind in ("if", "for", "while"):
            raise UnsupportedSyntaxError(f"`{op.kind}` is not differentiated yet", op.loc)
    body = primal.body
    return_op = body.ops[-1]
    output = return_op.operands[0]
    forward_ops = body.ops[:-1]
    if output.hint is None and output not in primal.params:
        output.hint = primal.name  # `loss = ...` reads better than a temporary's name
    wrt_values = [primal.params[i] for i in wrt]
    active = active_values(primal, wrt_values, output)

    backward = Region()
    sweep = _Backward(backward, active)
    sweep.stmt, sweep.loc = return_op.stmt, return_op.loc
    params = list(primal.params)
    if mode == "vjp":
        seed = Value("d" + (output.hint or "out"))
        params.append(seed)
    else:
        backward.append(Op("call", [output], [Value()], {"callee": runtime.check_scalar, "spelling": None,
                                                         "kwnames": (), "effect": True},
                           [], return_op.loc, return_op.stmt))
        seed = sweep.const(1.0)
    if output in active:
        sweep.adjoint[output] = seed
        seed.adjoint_of = seed.adjoint_of or output
    for op in reversed(forward_ops):
        if any(r in active for r in op.results):
            sweep.differentiate(op)

    sweep.stmt = sweep.loc = None
    grads = []
    for value in wrt_values:
        grad = sweep.adjoint.get(value)
        if grad is None:  # the output does not depend on this argument
            grad = sweep.call(np.zeros_like, value)
            grad.adjoint_of = value
        grads.append(grad)
    result = grads[0] if len(grads) == 1 else sweep.emit("tuple", grads)
    if mode == "value_and_grad":
        result = sweep.emit("tuple", [output, result])
    backward.append(Op("return", [result], [], {}, [], None, None))
    for op in backward.ops:
        op.backward = True
    function = Function("d" + primal.name if mode != "vjp" else primal.name + "_vjp", params,
                        Region([], forward_ops + backward.ops), primal.file, primal.lines)
    function.signature = primal.signature
    function.mode = mode
    return function
