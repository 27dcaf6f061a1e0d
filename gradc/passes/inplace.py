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
import os

import numpy as np

from .. import runtime
from ..analysis.dtypes import Dtypes, python_number
from ..analysis.shapes import shape_of
from ..ir.core import Function, Value, loop_parts, static_value, table_key, use_counts

__all__ = ["accumulate_in_place", "reuse_dying_arrays", "REUSE_MIN_ELEMENTS", "UFUNC_OF"]

# Callees whose result is always a new array (or an immutable number).
_FRESH = {operator.add, operator.sub, operator.mul, operator.truediv, operator.neg, operator.pow,
          operator.matmul, runtime.scatter_add}


def _fresh(value: Value, uses: dict[Value, int]) -> bool:
    """A new array this gradient made, that only one op reads."""
    return uses.get(value, 0) == 1 and _new_array(value)


def _new_array(value: Value) -> bool:
    """The result of arithmetic: a new array (or number), never an argument or a view."""
    owner = value.owner
    if owner is None or owner.kind != "call":
        return False
    callee = owner.attrs["callee"]
    return callee in _FRESH or isinstance(callee, np.ufunc) or owner.attrs.get("inplace", False) or \
        owner.attrs.get("out") is not None


def _regions(region):
    yield region
    for op in region.ops:
        for inner in op.regions:
            yield from _regions(inner)


def _basic_index(value: Value) -> bool:
    ok, index = static_value(value)
    parts = index if isinstance(index, tuple) else (index,)
    return ok and all(isinstance(p, (slice, int, type(None))) or p is Ellipsis for p in parts)


def accumulate_in_place(function: Function) -> Function:
    """Mark the accumulations that may update their first operand in place (the emitter then
    writes `dx += c` or `dx[i] += g` where the two share a variable)."""
    shapes = {v: f.shape for v, f in getattr(function, "facts", {}).items() if f.shape is not None}
    uses = use_counts(function)
    region_of = {id(op): id(region) for region in _regions(function.body) for op in region.ops}
    _accumulate_carried_in_place(function, uses, shapes)
    for op in function.walk():
        if not op.attrs.get("accumulates") or len(op.operands) != 2:
            continue
        previous, contribution = op.operands
        if previous.owner is None or region_of.get(id(previous.owner)) != region_of[id(op)]:
            continue  # made outside this loop body, it would be updated again each iteration
        shape = shape_of(previous, shapes)
        if shape is None or not shape or shape_of(op.result, shapes) != shape or not _fresh(previous, uses):
            continue
        op.attrs["inplace"] = True
        scatter = contribution.owner
        if op.attrs["callee"] is operator.add and scatter is not None and scatter.kind == "call" and scatter.attrs["callee"] is runtime.scatter_add \
                and uses.get(contribution) == 1 and _basic_index(scatter.operands[2]) \
                and shapes.get(scatter.operands[1]) == shape:
            op.attrs["into"] = scatter  # `dx[index] += g`
    return function


def _accumulate_carried_in_place(function: Function, uses: dict[Value, int], shapes: dict) -> None:
    """`dW = dW + dW_2` in a loop whose carried `dW` starts as `np.zeros_like(W)`, read by nothing
    but this sum, which the iteration hands on: `dW += dW_2`, one array for the whole loop."""
    dtypes = Dtypes(getattr(function, "kinds", {}))
    for loop in function.walk():
        if loop.kind not in ("for", "while"):
            continue
        parts = loop_parts(loop)
        conditions = loop.regions[0].args if loop.kind == "while" else [None] * len(parts.carried)
        for carried, init, yielded, condition, result in zip(parts.carried, parts.inits, parts.yielded,
                                                             conditions, loop.results):
            op = yielded.owner
            if op is None or op.kind != "call" or op.attrs.get("callee") is not operator.add or \
                    op.attrs.get("kwnames") or len(op.operands) != 2 or op.operands[0] is not carried or \
                    op.operands[1] is carried or uses.get(carried) != 1 or uses.get(yielded) != 1 or \
                    (condition is not None and uses.get(condition)):
                continue
            start = init.owner
            if start is None or start.kind != "call" or start.attrs.get("callee") is not np.zeros_like or \
                    uses.get(init) != 1:
                continue
            shape, dtype = shape_of(carried, shapes), dtypes.of(init)
            contribution = dtypes.of(op.operands[1])
            # (the sum's shape: the loop's result's, the adjoint it is, of the carried value's primal)
            if not shape or shape_of(result, shapes) != shape or not isinstance(dtype, np.dtype) or dtype.kind != "f":
                continue
            if contribution is None and dtype != np.float64:
                continue  # (any real contribution fits a float64 accumulator; float32 may be widened)
            if contribution is not None and np.result_type(dtype, _stand_in(contribution)) != dtype:
                continue
            op.attrs["inplace"] = True


def _stand_in(dtype: object) -> object:
    return dtype(1) if python_number(dtype) else dtype


# -- reusing the memory of arrays that die ---------------------------------------------------------
#: Arrays of at least this many elements are updated in place when they die in arithmetic: a new
#: array this big comes from the operating system page by page (glibc maps allocations of
#: 128 KiB and more), which costs more than the arithmetic. Smaller ones keep the plain expression.
REUSE_MIN_ELEMENTS = int(os.environ.get("GRADC_REUSE_MIN_ELEMENTS", 16_384))  # (tests set it to 1)

_ELEMENTWISE = {operator.add, operator.sub, operator.mul, operator.truediv}
_COMMUTATIVE = {operator.add, operator.mul}
#: The ufunc an operator's `out=` form calls.
UFUNC_OF = {operator.add: np.add, operator.sub: np.subtract, operator.mul: np.multiply,
            operator.truediv: np.divide, operator.neg: np.negative, operator.pow: np.power}


def reuse_dying_arrays(function: Function, min_elements: int = REUSE_MIN_ELEMENTS) -> Function:
    """Let arithmetic on big arrays write into an operand that dies there (a big array this
    gradient made, read by nothing after, of the result's shape and dtype): `a *= b` where `a`
    is a temporary or an adjoint (for `+` and `*`, `b` the same way), else the ufunc with
    `out=` (`dy = np.add(y, y, out=y)`, `e = np.exp(t, out=t)`), which keeps the user's `y`
    meaning what it meant."""
    shapes = {v: f.shape for v, f in getattr(function, "facts", {}).items() if f.shape is not None}
    dtypes = Dtypes(getattr(function, "kinds", {}))
    region_of = {id(op): id(region) for region in _regions(function.body) for op in region.ops}
    position = {id(op): i for region in _regions(function.body) for i, op in enumerate(region.ops)}
    readers: dict[Value, list] = {}
    for op in function.walk():
        for value in op.operands:
            readers.setdefault(value, []).append(op)

    def last_reader(value: Value, op) -> bool:
        """Whether `op` is the last op to read `value`, every earlier reader in the same region
        and none of them keeping a view of it (a slice, a transpose, a tape push)."""
        earlier = [r for r in readers.get(value, ()) if r is not op]
        here = region_of[id(op)]
        return all(region_of.get(id(r)) == here and position[id(r)] < position[id(op)] and _copies(r)
                   for r in earlier)

    def reusable(value: Value, op, reads: int = 1) -> bool:
        if op.operands.count(value) != reads or not _new_array(value) or \
                region_of.get(id(value.owner)) != region_of[id(op)] or not last_reader(value, op):
            return False
        shape = shape_of(value, shapes)
        if shape is None or not shape or shape_of(op.result, shapes) != shape or \
                int(np.prod(shape)) < min_elements:
            return False
        dtype = dtypes.of(value)
        return isinstance(dtype, np.dtype) and dtype.kind == "f" and dtypes.of(op.result) == dtype

    for op in function.walk():
        if op.kind != "call" or op.attrs.get("inplace") or op.attrs.get("kwnames") or len(op.results) != 1:
            continue
        callee = op.attrs["callee"]
        if len(op.operands) == 1 and (callee is operator.neg or _unary_ufunc(callee)):
            if reusable(op.operands[0], op):
                op.attrs["out"] = 0
            continue
        if len(op.operands) != 2 or callee not in _ELEMENTWISE:
            continue
        first, second = op.operands
        if first is second:
            if reusable(first, op, reads=2):
                op.attrs["out"] = 0  # `dy = np.add(y, y, out=y)`
        elif reusable(first, op) and _unnamed(first, op):
            op.attrs["inplace"] = op.attrs["reuses"] = True
        elif callee in _COMMUTATIVE and reusable(second, op) and _unnamed(second, op):
            op.operands = [second, first]
            op.attrs["inplace"] = op.attrs["reuses"] = True
        elif reusable(first, op):
            op.attrs["out"] = 0
        elif reusable(second, op):
            op.attrs["out"] = 1
    return function


_COPYING_METHODS = {"sum", "mean", "max", "min", "prod", "dot"}
_COPYING_CALLS = {np.sum, np.mean, np.max, np.min, np.amax, np.amin, np.einsum, np.dot, np.vdot, np.inner,
                  runtime.scatter_add}


def _copies(reader) -> bool:
    """Whether what `reader` makes of its operands is new memory (arithmetic, a reduction), not
    a view that would see a later in-place update."""
    if reader.kind == "method":
        return reader.attrs["name"] in _COPYING_METHODS
    if reader.kind != "call":
        return False
    callee = reader.attrs["callee"]
    return callee in _FRESH or isinstance(callee, np.ufunc) or table_key(callee) in _COPYING_CALLS


def _unnamed(value: Value, op) -> bool:
    """A temporary or an adjoint of the same sweep as `op`: `a *= b` may reuse its variable (the
    user's `a` keeps its meaning, and a forward line is not written with a backward name)."""
    same_sweep = value.owner is not None and value.owner.backward == op.backward
    return same_sweep and (value.hint is None or value.temp or value.adjoint_of is not None)


def _unary_ufunc(callee: object) -> bool:
    return isinstance(callee, np.ufunc) and callee.nin == 1 and callee.nout == 1
