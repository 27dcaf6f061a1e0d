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
from ..analysis.shapes import shape_of
from ..frontend.lower import static_value
from ..ir.core import Function, Value, loop_parts, table_key

__all__ = ["accumulate_in_place", "reuse_dying_arrays", "REUSE_MIN_ELEMENTS", "Dtypes", "use_counts", "UFUNC_OF"]

# Callees whose result is always a new array (or an immutable number).
_FRESH = {operator.add, operator.sub, operator.mul, operator.truediv, operator.neg, operator.pow,
          operator.matmul, runtime.scatter_add}


def use_counts(function: Function) -> dict[Value, int]:
    """How many times each value is read, in the whole function."""
    uses: dict[Value, int] = {}
    for op in function.walk():
        for value in op.operands:
            uses[value] = uses.get(value, 0) + 1
    return uses


def _fresh(value: Value, uses: dict[Value, int]) -> bool:
    owner = value.owner
    if owner is None or owner.kind != "call" or uses.get(value, 0) != 1:
        return False
    callee = owner.attrs["callee"]
    return callee in _FRESH or isinstance(callee, np.ufunc) or owner.attrs.get("inplace", False) or \
        owner.attrs.get("out") is not None


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
    _accumulate_carried_in_place(function, uses, shapes)
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
            shape, dtype = _shape(carried, shapes), dtypes.of(init)
            contribution = dtypes.of(op.operands[1])
            # (the sum's shape: the loop's result's, the adjoint it is, of the carried value's primal)
            if not shape or _shape(result, shapes) != shape or not isinstance(dtype, np.dtype) or dtype.kind != "f":
                continue
            if contribution is None and dtype != np.float64:
                continue  # (any real contribution fits a float64 accumulator; float32 may be widened)
            if contribution is not None and np.result_type(dtype, _stand_in(contribution)) != dtype:
                continue
            op.attrs["inplace"] = True


def _stand_in(dtype: object) -> object:
    return dtype(1) if _python_number(dtype) else dtype


# -- reusing the memory of arrays that die ---------------------------------------------------------
#: Arrays of at least this many elements are updated in place when they die in arithmetic: a new
#: array this big comes from the operating system page by page (glibc maps allocations of
#: 128 KiB and more), which costs more than the arithmetic. Smaller ones keep the plain expression.
REUSE_MIN_ELEMENTS = int(os.environ.get("GRADC_REUSE_MIN_ELEMENTS", 16_384))  # (tests set it to 1)

_ELEMENTWISE = {operator.add, operator.sub, operator.mul, operator.truediv}
_COMMUTATIVE = {operator.add, operator.mul}
_SAME_DTYPE_METHODS = {"reshape", "transpose", "copy", "ravel", "squeeze"}
_SAME_DTYPE_CALLS = {np.broadcast_to, np.expand_dims, np.reshape, np.transpose, np.squeeze, np.zeros_like}
_REDUCTION_METHODS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}
_REDUCTIONS = {np.sum, np.mean, np.max, np.min, np.amax, np.amin}
_COMPARISONS = {operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge}


class Dtypes:
    """The dtype of values, as far as it follows from the arguments' dtypes by NumPy's own
    promotion (run on one-element stand-ins). A Python number's is its type (`float`, `int`:
    "weak" in NumPy's promotion); None when unknown."""

    def __init__(self, kinds: dict) -> None:
        self.known: dict[Value, object] = {}
        for param, kind in kinds.items():
            if kind is float or kind is int:
                self.known[param] = kind
            elif type(kind) is tuple and len(kind) == 2 and isinstance(kind[1], np.dtype):
                self.known[param] = kind[1]

    def of(self, value: Value) -> object:
        if value not in self.known:
            self.known[value] = None  # (no cycles in SSA, but be safe)
            self.known[value] = self._infer(value)
        return self.known[value]

    def _infer(self, value: Value) -> object:
        op = value.owner
        if op is None:
            return None
        ok, constant = static_value(value)
        if ok:
            return type(constant) if type(constant) in (int, float) else None
        if op.kind == "getitem" or (op.kind == "method" and op.attrs["name"] in _SAME_DTYPE_METHODS):
            return self._array_dtype(op.operands[0])
        if op.kind == "getattr" and op.attrs["name"] == "T":
            return self._array_dtype(op.operands[0])
        if op.kind == "method" and op.attrs["name"] in _REDUCTION_METHODS and "dtype" not in op.kwnames:
            return self._reduced(_REDUCTION_METHODS[op.attrs["name"]], op.operands[0])
        if op.kind != "call":
            return None
        callee = op.attrs["callee"]
        if table_key(callee) in _SAME_DTYPE_CALLS:
            return self._array_dtype(op.operands[0])
        if table_key(callee) in _REDUCTIONS and op.positional() and "dtype" not in op.kwnames:
            return self._reduced(callee, op.operands[0])
        if callee is np.einsum and not op.attrs.get("kwnames") and len(op.operands) >= 2:
            dtypes = [self._array_dtype(v) for v in op.operands[1:]]
            return None if any(d is None for d in dtypes) else np.result_type(*dtypes)  # (dtype == None holds)
        if callee is runtime.scatter_add:  # zeros of at least float32, with g added
            dtype = self._array_dtype(op.operands[0])
            return None if dtype is None else np.result_type(dtype, np.float32)
        arithmetic = callee in _ELEMENTWISE or callee in _COMPARISONS or isinstance(callee, np.ufunc) or \
            callee in (operator.neg, operator.matmul, operator.pow, runtime.sigmoid)
        if op.attrs.get("kwnames") or not arithmetic:
            return None
        stand_ins = []
        for operand in op.operands:
            dtype = self.of(operand)
            if dtype is None:
                return None
            stand_ins.append(dtype(1) if _python_number(dtype) else np.ones((1, 1), dtype))
        try:
            with np.errstate(all="ignore"):
                result = callee(*stand_ins)
        except Exception:  # noqa: BLE001 - whatever NumPy refuses is simply unknown
            return None
        return type(result) if type(result) in (int, float) else np.asarray(result).dtype

    def _reduced(self, reduction, value: Value) -> object:
        """The dtype of a sum (mean, max...) of `value` (a sum of booleans is an integer)."""
        dtype = self._array_dtype(value)
        return None if dtype is None else np.asarray(reduction(np.ones((1, 1), dtype))).dtype

    def _array_dtype(self, value: Value) -> object:
        """The dtype of an array made of `value` (a Python float makes float64, an int int64)."""
        dtype = self.of(value)
        return np.asarray(dtype(1)).dtype if _python_number(dtype) else dtype


def _python_number(dtype: object) -> bool:
    return dtype is int or dtype is float  # (`np.dtype("int64") == int` holds: no `in`)


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
    uses = use_counts(function)
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
        if op.operands.count(value) != reads or not _fresh(value, {value: 1}) or \
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
