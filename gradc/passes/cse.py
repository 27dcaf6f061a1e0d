"""Common-subexpression elimination: one op computes each pure expression once."""
from __future__ import annotations

import operator

from ..ir.core import Function, Op, Region, Value, static_value
from ..ir.effects import mergeable

__all__ = ["eliminate_common_subexpressions"]


def _is_pure(op: Op) -> bool:
    """Whether `op` may be merged with an equal op before it (the effect table decides: pure and
    not an allocation; `np.zeros_like(x)` twice is two arrays, `np.random.normal()` twice two draws)."""
    return mergeable(op)


def _operand_key(value: Value) -> object:
    ok, constant = static_value(value)
    if ok:
        try:
            key = ("const", type(constant), _hashable(constant))
            hash(key)
            return key
        except TypeError:
            pass
    return id(value)


def _hashable(constant: object) -> object:
    """A slice (unhashable before Python 3.12), or a tuple of them, as a hashable key."""
    if type(constant) is slice:
        return ("slice", _hashable(constant.start), _hashable(constant.stop), _hashable(constant.step))
    if type(constant) is tuple:
        return tuple((type(c), _hashable(c)) for c in constant)
    return constant


def _key(op: Op) -> tuple | None:
    try:
        attrs = tuple(sorted((k, v) for k, v in op.attrs.items() if k != "spelling"))
        operands = tuple(_operand_key(v) for v in op.operands)
        if _commutes(op):
            operands = tuple(sorted(operands, key=repr))
        key = (op.kind, attrs, operands)
        hash(key)
    except TypeError:
        return None
    return key


def _commutes(op: Op) -> bool:
    """`c * x` is `x * c` (and `c + x`, `x + c`) for a number c: whatever x is, as long as it can
    be multiplied by a number (strings and lists too); `x + y` in general is not (lists)."""
    return op.kind == "call" and op.attrs.get("callee") in (operator.add, operator.mul) and \
        len(op.operands) == 2 and not op.attrs.get("kwnames") and \
        any(static_value(v)[0] and type(static_value(v)[1]) in (int, float) for v in op.operands)


def eliminate_common_subexpressions(function: Function) -> Function:
    """Replace, in place, each repeated pure op by an earlier occurrence that dominates it.

    In structured IR an op dominates the ops after it in its own region and everything nested
    in those; so scopes nest like the regions (a loop body sees what was computed before the
    loop, and what its own iteration computed earlier, never what another branch computed).
    """
    _eliminate_in(function.body, {}, {})
    return function


def _eliminate_in(region: Region, seen: dict[tuple, Value], replaced: dict[Value, Value]) -> list[tuple]:
    """CSE in `region` given what dominates it (`seen`); returns the keys the region added to it."""
    added = []
    for op in region.ops:
        op.operands = [replaced.get(v, v) for v in op.operands]
        for inner in op.regions:
            for key in _eliminate_in(inner, seen, replaced):
                del seen[key]  # what a region computes is not seen outside it
        if len(op.results) != 1 or not _is_pure(op):
            continue
        key = _key(op)
        if key is None:
            continue
        first = seen.setdefault(key, op.result)
        if first is op.result:
            added.append(key)
        else:
            replaced[op.result] = first
    return added
