"""Moving signs and constant factors to where they cost nothing.

Rules compose: the rule of `-a * a` hands down `dneg = g * a` and the caller adds
`-dneg`; the rule of `sqrt(1 + v * v)` gives `dz = g * 0.5 / s` and the product
rule adds `dz * v` twice. Written out, that is a negation or a doubling per
contribution, a pass over memory each for arrays. A person writes `dv = dv - t`
and `g / s * v`. This pass does the same by folding a factor of -1 or 2 into a
single-use expression of the backward sweep that can absorb it for free: a
constant operand of a product or a numerator, a negation it unwraps, through
sums, broadcasts and matrix products on the way:

    x + -y          ->  x - y            x - -y  ->  x + y
    (-x).sum()      ->  -x.sum()  (absorbed by whatever reads it)
    t + t           ->  t with its constant doubled (t = g * 0.5 / s * v: g / s * v)
    -np.broadcast_to(c, S)  ->  np.broadcast_to(-c, S)

Negation and multiplication by a power of two (2, 0.5, -2...; `x ** 2`'s rule, a mean's
1/n times 2) are exact in floating point, barring overflow, which is checked: values do
not change.
"""
from __future__ import annotations

import math
import operator
from typing import Callable

import numpy as np

from ..ir.core import Function, Insertions, Op, Value, static_value, use_counts

__all__ = ["fold_factors"]

_LINEAR_IN_FIRST = {np.sum, np.broadcast_to, np.expand_dims, np.reshape, np.transpose}
_LINEAR_METHODS = {"sum", "reshape", "transpose"}
_LINEAR_OPTIONS = {"axis", "keepdims", "shape", "newshape", "axes"}


class _Folder:
    def __init__(self, function: Function) -> None:
        self.facts = getattr(function, "facts", {})
        self.changed = False
        self.insertions = Insertions()
        self.uses = use_counts(function)

    # -- what can absorb a factor -------------------------------------------------------------
    def _private(self, value: Value, uses: int = 1) -> Op | None:
        """The op defining `value` when it is a backward call only its one reader sees."""
        op = value.owner
        if op is None or self.uses.get(value, 0) != uses or len(op.results) != 1 \
                or op.attrs.get("inplace"):
            return None
        if not op.backward and not (op.kind == "call" and _temporary(value)):
            return None  # a forward value the user named (or will see) keeps its value
        return op

    def gain(self, value: Value, factor: int, uses: int = 1) -> int | None:
        """How many operations multiplying `value` (read by one op, `uses` times) by `factor`
        in place saves (0: it costs nothing, saves nothing); None when it cannot absorb it."""
        op = self._private(value, uses)
        if op is None:
            return None
        found = self._slot(op, factor)
        return None if found is None else found[0]

    def _slot(self, op: Op, factor: int) -> tuple | None:
        """(gain, where) for the best place of the factor in `op`: ("unwrap",) for a negation it
        removes, ("const", i) for a constant operand it multiplies, ("divisor", i) for a constant
        it divides, ("inner", i) for an operand that absorbs it; None when there is none."""
        callee = op.attrs.get("callee") if op.kind == "call" else None
        kwnames = op.attrs.get("kwnames") or ()
        if kwnames and (set(kwnames) - _LINEAR_OPTIONS or (op.kind == "call" and (
                callee not in _LINEAR_IN_FIRST or len(op.operands) <= len(kwnames)))):
            return None  # (`dtype=int` would round: only the options that keep a sum linear)
        candidates = []
        if callee is operator.neg:
            candidates.append((1, ("unwrap",)) if factor == -1 else self._inner(op, 0, factor))
        elif callee in (operator.mul, operator.matmul) and len(op.operands) == 2:
            for i in (1, 0):
                if callee is operator.mul and _number(op.operands[i]) is not None:
                    candidates.append(_constant_slot(_number(op.operands[i]) * factor, factor, ("const", i)))
                candidates.append(self._inner(op, i, factor))
        elif callee is operator.truediv and len(op.operands) == 2:
            if _number(op.operands[0]) is not None:
                candidates.append(_constant_slot(_number(op.operands[0]) * factor, factor, ("const", 0)))
            if _number(op.operands[1]) not in (None, 0):
                candidates.append(_constant_slot(_number(op.operands[1]) / factor, 1 / factor, ("divisor", 1)))
            candidates.append(self._inner(op, 0, factor))
        elif _is_linear(op) and _number(op.operands[0]) is not None:  # np.broadcast_to(c, S)
            candidates.append(_constant_slot(_number(op.operands[0]) * factor, factor, ("const", 0)))
        elif _is_linear(op):
            candidates.append(self._inner(op, 0, factor))
        candidates = [c for c in candidates if c is not None]
        return max(candidates, key=lambda c: c[0]) if candidates else None

    def _inner(self, op: Op, i: int, factor: int) -> tuple | None:
        gain = self.gain(op.operands[i], factor)
        return None if gain is None else (gain, ("inner", i))

    # -- absorbing it --------------------------------------------------------------------------
    def scale(self, value: Value, factor: int) -> Value:
        """Multiply `value` by `factor` in place (after `gain` said it can); returns the value
        that now holds factor * value (another one when a negation was unwrapped)."""
        self.changed = True
        op = value.owner
        slot = self._slot(op, factor)[1]
        if slot[0] == "unwrap":
            return op.operands[0]
        i = slot[1]
        if slot[0] == "const":
            op.operands[i] = self._constant(_number(op.operands[i]) * factor, op)
        elif slot[0] == "divisor":
            op.operands[i] = self._constant(_number(op.operands[i]) / factor, op)
        else:
            op.operands[i] = self.scale(op.operands[i], factor)
        self._rename(value)
        return value

    def _rename(self, value: Value) -> None:
        """A value scaled in place is no longer the adjoint it was (nor the variable it was named
        after): it gets a temporary's name, and keeps its shape."""
        if value.adjoint_of is not None and value.adjoint_of in self.facts:
            self.facts.setdefault(value, self.facts[value.adjoint_of])
        if value.adjoint_of is not None or (value.hint is not None and not value.temp):
            value.adjoint_of, value.hint, value.temp = None, None, False

    def _constant(self, number: float, before: Op) -> Value:
        """A new constant, defined just before the op that reads it."""
        self.changed = True
        const = Op("const", [], [], {"value": number, "spelling": None}, [], before.loc, before.stmt)
        const.backward = True
        result = Value(hint=None, owner=const)
        const.results = [result]
        self.insertions.before(before, const)
        self.uses[result] = 1
        return result


def _number(value: Value) -> float | None:
    ok, constant = static_value(value)
    if ok and type(constant) in (int, float) and value.owner.attrs.get("spelling") is None:
        return constant
    return None


def _constant_slot(scaled: float, factor: float, slot: tuple) -> tuple | None:
    """(gain, slot) for a constant scaled to `scaled`: a constant that becomes 1 saves its
    product (simplify removes `x * 1.0`); None unless the scaling is exact (no overflow or
    lost bits: the factors are powers of two, but a constant may be huge or tiny)."""
    if not math.isfinite(scaled) or scaled == 0 or scaled / factor * factor != scaled:
        return None
    return (1 if scaled == 1 else 0, slot)


def is_power_of_two(number: object) -> bool:
    """±2**k: multiplying by it only moves the exponent (exact, barring overflow)."""
    return type(number) in (int, float) and number != 0 and math.isfinite(number) and \
        math.frexp(abs(number))[0] == 0.5


def _is_linear(op: Op) -> bool:
    """A sum, broadcast or reshape: scaling its (first) operand scales its result."""
    if op.kind == "call":
        return op.attrs.get("callee") in _LINEAR_IN_FIRST
    return op.kind == "method" and op.attrs.get("name") in _LINEAR_METHODS


def _temporary(value: Value) -> bool:
    """A forward value no variable of the user's holds (`100.0 * a` inside a bigger expression)."""
    return (value.hint is None or value.temp) and value.adjoint_of is None


def _is_call(op: Op, callee: Callable) -> bool:
    return op.kind == "call" and op.attrs.get("callee") is callee and not op.attrs.get("kwnames")


def fold_factors(function: Function) -> bool:
    """Fold negations and doublings of the backward sweep into expressions that absorb them, in
    place; whether anything changed."""
    folder = _Folder(function)
    replaced: dict[Value, Value] = {}
    for op in list(function.walk()):
        op.operands = [replaced.get(v, v) for v in op.operands]
        if not op.backward or len(op.results) != 1:
            continue
        if _is_call(op, operator.add) and len(op.operands) == 2:
            a, b = op.operands
            if a is b and folder.gain(a, 2, uses=2) is not None:      # t + t
                doubled = replaced[op.result] = folder.scale(a, 2)
                folder.uses[doubled] += folder.uses.get(op.result, 0) - 2  # its readers are the sum's
                _keep_adjoint(op.result, doubled)
            elif folder.gain(b, -1):                                   # x + -y
                op.attrs["callee"], op.operands = operator.sub, [a, folder.scale(b, -1)]
            elif folder.gain(a, -1):                                   # -y + x
                op.attrs["callee"], op.operands = operator.sub, [b, folder.scale(a, -1)]
                op.attrs.pop("accumulates", None)  # (b is not the adjoint so far: no `+=` into it)
        elif _is_call(op, operator.sub) and len(op.operands) == 2 and folder.gain(op.operands[1], -1):
            op.attrs["callee"] = operator.add                          # x - -y
            op.operands = [op.operands[0], folder.scale(op.operands[1], -1)]
        elif _is_call(op, operator.neg) and folder.gain(op.operands[0], -1):
            replaced[op.result] = folder.scale(op.operands[0], -1)     # -(-x * y)
            folder.uses[replaced[op.result]] += folder.uses.get(op.result, 0) - 1  # (its readers are -x's:
            _keep_adjoint(op.result, replaced[op.result])                       # it is not private now)
        elif _is_call(op, operator.neg):
            _negate_broadcast(folder, op)
        elif _is_call(op, operator.mul) and _absorb_power_of_two(folder, op, replaced):
            pass                                                       # (g * 0.5) * 2 -> g
        elif _is_call(op, operator.mul) or _is_call(op, operator.truediv):
            _sign_into_constant(folder, op)                            # (-x) * 0.5 -> x * -0.5
        if _is_reduction(op) and folder.gain(op.operands[0], -1):
            replaced[op.result] = _negate_after(folder, op)            # (-x).sum() -> -x.sum()
    folder.insertions.apply(function)
    return folder.changed


def _absorb_power_of_two(folder: _Folder, op: Op, replaced: dict[Value, Value]) -> bool:
    """`x * 2` (a power of two) where x can take the factor in a constant of its own: x scaled."""
    if len(op.operands) != 2:
        return False
    for i in (1, 0):
        factor, other = _number(op.operands[i]), op.operands[1 - i]
        if is_power_of_two(factor) and _number(other) is None and folder.gain(other, factor) is not None:
            replaced[op.result] = folder.scale(other, factor)
            folder.uses[replaced[op.result]] += folder.uses.get(op.result, 0) - 1
            _keep_adjoint(op.result, replaced[op.result])
            return True
    return False


def _sign_into_constant(folder: _Folder, op: Op) -> None:
    """A product or quotient reading a negation, only it, and a constant: the constant takes the sign."""
    if len(op.operands) != 2:
        return
    for i, j in ((0, 1), (1, 0)):
        neg = folder._private(op.operands[i])
        number = _number(op.operands[j])
        if neg is not None and _is_call(neg, operator.neg) and number not in (None, 0):
            op.operands[i] = neg.operands[0]
            op.operands[j] = folder._constant(-number, op)
            return


def _is_reduction(op: Op) -> bool:
    return (op.kind == "call" and op.attrs.get("callee") is np.sum) or \
        (op.kind == "method" and op.attrs.get("name") == "sum")


def _negate_after(folder: _Folder, op: Op) -> Value:
    """Take the negation out of a sum's operand and apply it to the (smaller) sum instead."""
    op.operands[0] = folder.scale(op.operands[0], -1)
    neg = Op("call", [op.result], [], {"callee": operator.neg, "spelling": None, "kwnames": ()}, [],
             op.loc, op.stmt)
    neg.backward = True
    result = Value(hint=op.result.hint, owner=neg, adjoint_of=op.result.adjoint_of, temp=op.result.temp)
    neg.results = [result]
    folder._rename(op.result)  # (the sum is the adjoint's negative now: it must not carry its name)
    folder.insertions.after(op, neg)
    folder.uses[result] = folder.uses.get(op.result, 0)
    folder.uses[op.result] = 1
    return result


def _negate_broadcast(folder: _Folder, op: Op) -> None:
    """`-np.broadcast_to(c, S)` for a constant c becomes `np.broadcast_to(-c, S)`."""
    spread = op.operands[0].owner
    if spread is None or not _is_call(spread, np.broadcast_to) or len(spread.operands) != 2:
        return
    number = _number(spread.operands[0])
    if number is None:
        return
    op.attrs = dict(spread.attrs)
    op.operands = [folder._constant(-number, op), spread.operands[1]]


def _keep_adjoint(old: Value, new: Value) -> None:
    if new.adjoint_of is None and new.hint is None:
        new.adjoint_of = old.adjoint_of
