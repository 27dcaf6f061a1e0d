"""In-place accumulation: `dx = dx + c` becomes `dx += c` (and `dx = dx - c`, `dx -= c`)
where nothing else can see `dx`.

A later contribution to an adjoint is added in place when the adjoint so far is an array
this gradient made (the result of arithmetic, never an argument or a view), nothing else
reads it, and its shape is known to be the sum's; `dx = dx + scatter_add(g, x, 1:)`
becomes `dx[1:] += g` the same way. Hand-written backprop does this; it saves an
allocation and a pass over memory per contribution.
"""
from __future__ import annotations

import operator

import numpy as np

from .. import runtime
from ..frontend.lower import static_value
from ..ir.core import Function, Value

__all__ = ["accumulate_in_place"]

# Callees whose result is always a new array (or an immutable number).
_FRESH = {operator.add, operator.sub, operator.mul, operator.truediv, operator.neg, operator.pow,
          operator.matmul, runtime.scatter_add}


def _fresh(value: Value, uses: dict[Value, int]) -> bool:
    owner = value.owner
    if owner is None or owner.kind != "call" or uses.get(value, 0) != 1:
        return False
    callee = owner.attrs["callee"]
    return callee in _FRESH or isinstance(callee, np.ufunc) or owner.attrs.get("inplace", False)


def _regions(region):
    yield region
    for op in region.ops:
        for inner in op.regions:
            yield from _regions(inner)


def _shape(value: Value, shapes: dict) -> tuple | None:
    """A value's known shape; an adjoint has the shape of what it is the adjoint of."""
    if value in shapes:
        return shapes[value]
    return shapes.get(value.adjoint_of) if value.adjoint_of is not None else None


def _basic_index(value: Value) -> bool:
    ok, index = static_value(value)
    parts = index if isinstance(index, tuple) else (index,)
    return ok and all(isinstance(p, (slice, int, type(None))) or p is Ellipsis for p in parts)


def accumulate_in_place(function: Function) -> Function:
    """Mark the accumulations that may update their first operand in place (the emitter then
    writes `dx += c` or `dx[i] += g` where the two share a variable)."""
    shapes = {v: f.shape for v, f in getattr(function, "facts", {}).items() if f.shape is not None}
    uses: dict[Value, int] = {}
    region_of: dict[int, int] = {}
    for region in _regions(function.body):
        for op in region.ops:
            region_of[id(op)] = id(region)
            for value in op.operands:
                uses[value] = uses.get(value, 0) + 1
    for op in function.walk():
        if not op.attrs.get("accumulates") or len(op.operands) != 2:
            continue
        previous, contribution = op.operands
        if previous.owner is None or region_of.get(id(previous.owner)) != region_of[id(op)]:
            continue  # made outside this loop body, it would be updated again each iteration
        shape = _shape(previous, shapes)
        if shape is None or not shape or _shape(op.result, shapes) != shape or not _fresh(previous, uses):
            continue
        op.attrs["inplace"] = True
        scatter = contribution.owner
        if op.attrs["callee"] is operator.add and scatter is not None and scatter.kind == "call" and scatter.attrs["callee"] is runtime.scatter_add \
                and uses.get(contribution) == 1 and _basic_index(scatter.operands[2]) \
                and shapes.get(scatter.operands[1]) == shape:
            op.attrs["into"] = scatter  # `dx[index] += g`
    return function
