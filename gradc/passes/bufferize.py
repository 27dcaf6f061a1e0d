"""Bufferization: the one place that decides which values share an array.

The IR is functional up to here: `y.3 = assign_item(y.2, i, v)` is a new value, and so is
`dx.2 = dx.1 + c`. The generated code has reference semantics. This pass turns values into
arrays, deciding for every update whether it writes into the array it updates:

- *updates that must write* (`assign_item`, `list_append`, `add_at`, `erase_item`) are written
  in place (`y[i] = v`, `items.append(x)`, `dv[k] += g`, `dy[i] = 0.0`), after a copy where the
  array is not this gradient's to write (an argument, a constant, a read-only view) or where
  another value in its alias class is read later. A copy goes where it costs least: at the
  container or tape push that keeps the old value, before the loop whose initial value is
  still needed, else just before the update.
- *updates that may write* are written in place only where that is safe and pays: a later
  contribution to an adjoint (`dx += c`, `dx[1:] += g`), and elementwise arithmetic on a big
  array that dies there (`a *= b`, `np.exp(t, out=t)`).

"Safe" is one test, `Bufferizer.safe`: the array is owned, and no other member of its alias
class (`analysis/buffers.py`), nor anything a live container holds, is live after the update
(`analysis/liveness.py`). A `Target` says what the array library allows: a library without
in-place writes (JAX, Dask) gets every update as a copy (`assign_item(y, i, v)`).

Decisions are attributes: `inplace` (the update writes its first operand), `out` (the operand
an arithmetic op writes into), `reuses`, `into` (a scatter added in place), and `buffer` (a note
the IR printer shows). `function.buffers` keeps the final alias classes for the emitter.
"""
from __future__ import annotations

import operator
import os
from dataclasses import dataclass

import numpy as np

from .. import runtime
from ..analysis.buffers import UPDATES, Buffers
from ..analysis.dtypes import Dtypes, python_number
from ..analysis.liveness import live_after
from ..analysis.shapes import shape_of
from ..ir.core import Function, Op, Region, Value, loop_parts, static_value, table_key, use_counts

__all__ = ["bufferize", "Target", "NUMPY", "REUSE_MIN_ELEMENTS", "UFUNC_OF"]

#: Arrays of at least this many elements are updated in place when they die in arithmetic: a new
#: array this big comes from the operating system page by page (glibc maps allocations of
#: 128 KiB and more), which costs more than the arithmetic. Smaller ones keep the plain expression.
REUSE_MIN_ELEMENTS = int(os.environ.get("GRADC_REUSE_MIN_ELEMENTS", 16_384))  # (tests set it to 1)

_ELEMENTWISE = {operator.add, operator.sub, operator.mul, operator.truediv}
_COMMUTATIVE = {operator.add, operator.mul}
#: The ufunc an operator's `out=` form calls.
UFUNC_OF = {operator.add: np.add, operator.sub: np.subtract, operator.mul: np.multiply,
            operator.truediv: np.divide, operator.neg: np.negative, operator.pow: np.power}


@dataclass(frozen=True)
class Target:
    """What the arrays the generated code runs on allow."""

    mutable_arrays: bool = True  # `y[i] = v`, `a += b` (NumPy, CuPy; not JAX or Dask)
    out_argument: bool = True    # ufuncs' `out=`
    einsum: bool = True          # `np.einsum` (the contraction pass makes it; the array API has none)
    #: The library whose arrays the code runs on through the array API standard's `xp` (backend/standard.py);
    #: "" for NumPy and the libraries that take NumPy's calls (Dask).
    namespace: str = ""


NUMPY = Target()


def bufferize(function: Function, optimize: bool = True, target: Target = NUMPY,
              min_elements: int = REUSE_MIN_ELEMENTS) -> Function:
    """Decide, in place, which updates write into an existing array (see the module docstring)."""
    if target.mutable_arrays:
        Bufferizer(function, optimize, target, min_elements).run()
    function.buffers = Buffers(function) if _has_updates(function) else None
    return function


def _has_updates(function: Function) -> bool:
    return any(op.attrs.get("inplace") or op.attrs.get("out") is not None for op in function.walk())


class Bufferizer:
    def __init__(self, function: Function, optimize: bool, target: Target, min_elements: int):
        self.function = function
        self.optimize = optimize
        self.target = target
        self.min_elements = min_elements
        self.shapes = {v: f.shape for v, f in getattr(function, "facts", {}).items() if f.shape is not None}
        self.dtypes = Dtypes(getattr(function, "kinds", {}))
        self.attempts: dict[int, int] = {}
        self.carriers: dict[Value, tuple[Op, int]] | None = None

    # -- the analyses ---------------------------------------------------------------------------
    def analyse(self, ops: list[Op]) -> None:
        self.buffers = Buffers(self.function)
        self.live = live_after(self.function, ops)

    def conflicts(self, op: Op, target: Value) -> set[Value]:
        """The values sharing `target`'s array that are read after `op`: directly (`op`'s own
        result excluded: it is the update), or through a live container, which may hold an earlier
        iteration's result (a tape of the loop's updated buffer)."""
        root = self.buffers.find(target)
        live = self.live[id(op)]
        direct = {v for v in live if v not in op.results}
        through = self.buffers.held(live) - live | self.buffers.held_items(live)
        return {v for v in direct | through if self.buffers.find(v) is root}

    def safe(self, op: Op, target: Value) -> bool:
        """Whether `op` may write into `target`'s array."""
        return self.buffers.owned(target) and not self.conflicts(op, target)

    # -- the pass -------------------------------------------------------------------------------
    def run(self) -> None:
        musts = [op for op in self.function.walk() if op.kind == "call" and
                 table_key(op.attrs.get("callee")) in UPDATES and op.results]
        for op in musts:
            op.attrs["inplace"] = True  # (an update is one array with what it updates, or a copy's)
        self.make_safe(musts)
        for op in musts:
            if op.attrs.get("inplace"):
                op.attrs.setdefault("buffer", "in place")
        if not self.optimize:
            return
        mays = self.may_write_candidates()
        if not mays:
            return
        self.analyse(mays)
        for op, decide in mays.items():
            decide(op)
        decided = [op for op in mays if op.attrs.get("inplace") or op.attrs.get("out") is not None]
        while decided:  # a decision joins classes: check them all again, revoke what is unsafe now
            self.analyse(musts + decided)
            unsafe = [op for op in decided if not self.safe(op, op.operands[_written(op)])]
            if not unsafe:
                break
            for op in unsafe:
                _revoke(op)
            decided = [op for op in decided if op not in unsafe]
        self.make_safe(musts)

    def make_safe(self, musts: list[Op]) -> None:
        """Copy what each update must not write into, until every update is safe."""
        while musts:
            self.analyse(musts)
            unsafe = [op for op in musts if op.attrs.get("inplace") and not self.safe(op, op.operands[0])]
            if not unsafe:
                return
            for op in unsafe:
                self.insert_copy(op)

    # -- where a copy goes ----------------------------------------------------------------------
    def insert_copy(self, op: Op) -> None:
        target = op.operands[0]
        tries = self.attempts.get(id(op), 0)
        self.attempts[id(op)] = tries + 1
        conflicts = self.conflicts(op, target)
        direct = conflicts & self.live[id(op)]
        if tries == 0 and conflicts and not direct and self.buffers.owned(target):
            if self.copy_where_held(conflicts):
                return
        if tries <= 1 and target.owner is None:
            loop = self.outermost_loop_carrying(target, conflicts)
            if loop is not None:
                why = "its first value is read after the loop" if conflicts else "not this gradient's to write"
                return self.copy_loop_init(*loop, why)
        # Else the update makes a new array (`y_2 = assign_item(y, i, v)`): right whatever shares `y`.
        op.attrs["inplace"] = False
        op.attrs["buffer"] = "copied: " + ("read later" if conflicts else "not this gradient's to write")

    def copy_where_held(self, conflicts: set[Value]) -> bool:
        """Copy each value a live container holds where it is put there (the tape keeps the value
        of the time, not the array that is written later)."""
        placed = False
        for holder in list(self.function.walk()):
            for index, operand in enumerate(holder.operands):
                if operand in conflicts and _puts_in_container(holder, index):
                    self.copy_before(holder, index, "kept while the array changes")
                    placed = True
        return placed

    def outermost_loop_carrying(self, target: Value, conflicts: set[Value]) -> tuple[Op, int] | None:
        """The outermost loop whose carried value `target` is (through the initial values of
        nested loops) with every conflict made outside it: copying its initial value suffices."""
        found = None
        value = target
        while True:
            loop = self.carrying_loop(value)
            if loop is None:
                return found
            op, slot = loop
            if any(_inside(c, op) for c in conflicts) or \
                    any(_inside(v, op) and v in self.buffers.foreign for v in self.buffers.members(target)):
                return found
            found = (op, slot)
            value = loop_parts(op).inits[slot]
            if value.owner is not None:
                return found

    def carrying_loop(self, value: Value) -> tuple[Op, int] | None:
        """The loop whose body (or condition) argument `value` is, and its slot."""
        if self.carriers is None:
            self.carriers = {}
            for op in self.function.walk():
                if op.kind in ("for", "while"):
                    for slot, arg in enumerate(loop_parts(op).carried):
                        self.carriers[arg] = (op, slot)
                    if op.kind == "while":
                        for slot, arg in enumerate(op.regions[0].args):
                            self.carriers[arg] = (op, slot)
        return self.carriers.get(value)

    def copy_loop_init(self, loop: Op, slot: int, why: str) -> None:
        position = (1 if loop.kind == "for" else 0) + slot
        self.copy_before(loop, position, why)

    def copy_before(self, op: Op, index: int, why: str) -> Value:
        """Insert `copy = operand.copy()` just before `op` and make `op` read the copy."""
        original = op.operands[index]
        spread = original.owner
        if spread is not None and spread.kind == "call" and spread.attrs.get("callee") is np.broadcast_to and \
                len(spread.operands) == 2 and not spread.kwnames and self.uses_of(original) == 1:
            # `np.broadcast_to(1.0, s)` read only here: make it `np.full(s, 1.0)`, an array to write into
            spread.attrs.update(callee=np.full, spelling=None, buffer="an array of its own: written in place")
            spread.operands = spread.operands[::-1]
            return original
        copy = Value(original.hint, temp=original.temp)
        copy.adjoint_of = original.adjoint_of
        array = bool(shape_of(original, self.shapes))
        if array and not _is_accumulator(op):
            new = Op("method", [original], [copy], {"name": "copy", "kwnames": ()}, [], op.loc, op.stmt)
        else:
            new = Op("call", [original], [copy], {"callee": runtime.copy_of, "spelling": None, "kwnames": ()},
                     [], op.loc, op.stmt)
        new.backward = op.backward
        new.attrs["buffer"] = f"copy: {why}"
        facts = getattr(self.function, "facts", None)
        if facts is not None and original in facts:
            facts[copy] = facts[original]
            self.shapes[copy] = self.shapes.get(original)
        region = _region_of(self.function.body, op)
        region.ops.insert(region.ops.index(op), new)
        op.operands[index] = copy
        return copy

    def uses_of(self, value: Value) -> int:
        return sum(op.operands.count(value) for op in self.function.walk())

    # -- updates that may write -------------------------------------------------------------------
    def may_write_candidates(self) -> dict[Op, object]:
        """The ops that would gain from writing into an operand, each with its deciding function."""
        self.uses = use_counts(self.function)
        found: dict[Op, object] = {}
        for op in self.function.walk():
            if op.kind != "call" or op.attrs.get("inplace") or op.attrs.get("kwnames") or len(op.results) != 1:
                continue
            if self.accumulation(op) is not None:
                found[op] = self.decide_accumulation
            elif self.target.out_argument and self.big_arithmetic(op):
                found[op] = self.decide_reuse
        return found

    def accumulation(self, op: Op) -> Value | None:
        """The adjoint `dx` of `dx = dx + c` (or `dx - c`, where folding signs made it one) when adding
        `c` into it in place keeps the values."""
        if op.attrs["callee"] not in (operator.add, operator.sub) or len(op.operands) != 2:
            return None
        previous, contribution = op.operands
        carried = previous.owner is None and self.starts_as_zeros(previous)
        if not (op.attrs.get("accumulates") or carried) or previous is contribution:
            return None
        shape = shape_of(previous, self.shapes)
        if not shape or shape_of(op.result, self.shapes) != shape:
            return None
        mine, result = self.dtypes.of(previous), self.dtypes.of(op.result)
        if carried:
            mine = self.dtypes.of(self.carried_init(previous))
            return previous if self.fits(mine, contribution) else None
        if mine is not None and result is not None and mine != result:
            return None  # (`dx += c` would round c's float64 into a float32 dx)
        return previous

    def starts_as_zeros(self, carried: Value) -> bool:
        init = self.carried_init(carried)
        owner = init.owner if init is not None else None
        return owner is not None and owner.kind == "call" and owner.attrs.get("callee") is np.zeros_like

    def carried_init(self, carried: Value) -> Value | None:
        loop = self.carrying_loop(carried)
        return loop_parts(loop[0]).inits[loop[1]] if loop is not None else None

    def fits(self, dtype: object, contribution: Value) -> bool:
        """Whether any contribution of this dtype added into a `dtype` accumulator keeps it exact."""
        if not isinstance(dtype, np.dtype) or dtype.kind != "f":
            return False
        theirs = self.dtypes.of(contribution)
        if theirs is None:
            return dtype == np.float64  # (any real contribution fits float64; float32 may widen)
        return np.result_type(dtype, theirs(1) if python_number(theirs) else theirs) == dtype

    def decide_accumulation(self, op: Op) -> None:
        previous, contribution = op.operands
        if not self.safe(op, previous):
            return
        op.attrs["inplace"] = True
        op.attrs["buffer"] = "in place"
        scatter = contribution.owner
        if op.attrs["callee"] is operator.add and scatter is not None and scatter.kind == "call" and \
                scatter.attrs["callee"] is runtime.scatter_add \
                and self.uses.get(contribution) == 1 and _basic_index(scatter.operands[2]) \
                and self.shapes.get(scatter.operands[1]) == shape_of(previous, self.shapes):
            op.attrs["into"] = scatter  # `dx[index] += g`

    def big_arithmetic(self, op: Op) -> bool:
        callee = op.attrs["callee"]
        unary = len(op.operands) == 1 and (callee is operator.neg or _unary_ufunc(callee))
        return (unary or (len(op.operands) == 2 and callee in _ELEMENTWISE)) and \
            any(self.dying_big(v, op) for v in op.operands)

    def dying_big(self, value: Value, op: Op) -> bool:
        """A big float array of the result's shape and dtype (its death is checked by `safe`)."""
        shape = shape_of(value, self.shapes)
        if shape is None or not shape or shape_of(op.result, self.shapes) != shape or \
                int(np.prod(shape)) < self.min_elements:
            return False
        dtype = self.dtypes.of(value)
        return isinstance(dtype, np.dtype) and dtype.kind == "f" and self.dtypes.of(op.result) == dtype

    def decide_reuse(self, op: Op) -> None:
        """`a *= b` where `a` is a temporary or an adjoint (for `+` and `*`, `b` the same way), else
        the ufunc with `out=` (`dy = np.add(y, y, out=y)`), which keeps the user's `y` meaning y."""
        def reusable(value: Value, reads: int = 1) -> bool:
            return op.operands.count(value) == reads and self.dying_big(value, op) and self.safe(op, value)

        if len(op.operands) == 1:
            if reusable(op.operands[0]):
                op.attrs["out"] = 0
            return
        first, second = op.operands
        callee = op.attrs["callee"]
        if first is second:
            if reusable(first, reads=2):
                op.attrs["out"] = 0
        elif reusable(first) and _unnamed(first, op):
            op.attrs["inplace"] = op.attrs["reuses"] = True
        elif callee in _COMMUTATIVE and reusable(second) and _unnamed(second, op):
            op.operands = [second, first]
            op.attrs["inplace"] = op.attrs["reuses"] = True
        elif reusable(first):
            op.attrs["out"] = 0
        elif reusable(second):
            op.attrs["out"] = 1
        if op.attrs.get("inplace") or op.attrs.get("out") is not None:
            op.attrs["buffer"] = "in place"


def _written(op: Op) -> int:
    return op.attrs["out"] if op.attrs.get("out") is not None else 0


def _revoke(op: Op) -> None:
    for key in ("inplace", "out", "reuses", "into", "buffer"):
        op.attrs.pop(key, None)


def _puts_in_container(op: Op, index: int) -> bool:
    """Whether `op` stores its operand `index` in a container (a display, an append, a tape push)."""
    if op.kind in ("tuple", "list", "dict"):
        return True
    if op.kind == "method" and op.attrs["name"] == "append" and index == 1:
        return True
    return op.kind == "call" and op.attrs.get("callee") is runtime.list_append and index == 1


def _is_accumulator(op: Op) -> bool:
    return op.kind == "call" and op.attrs.get("callee") is runtime.add_at


def _inside(value: Value, loop: Op) -> bool:
    """Whether `value` is defined in one of `loop`'s regions (or nested deeper)."""
    for region in loop.regions:
        if value in region.args:
            return True
        for op in region.walk():
            if value in op.results:
                return True
            if any(value in inner.args for inner in op.regions):
                return True
    return False


def _region_of(region: Region, target: Op) -> Region | None:
    """The region whose op list holds `target`."""
    for op in region.ops:
        if op is target:
            return region
        for inner in op.regions:
            found = _region_of(inner, target)
            if found is not None:
                return found
    return None


def _basic_index(value: Value) -> bool:
    ok, index = static_value(value)
    parts = index if isinstance(index, tuple) else (index,)
    return ok and all(isinstance(p, (slice, int, type(None))) or p is Ellipsis for p in parts)


def _unnamed(value: Value, op: Op) -> bool:
    """A temporary or an adjoint of the same sweep as `op`: `a *= b` may reuse its variable (the
    user's `a` keeps its meaning, and a forward line is not written with a backward name)."""
    same_sweep = value.owner is not None and value.owner.backward == op.backward
    return same_sweep and (value.hint is None or value.temp or value.adjoint_of is not None)


def _unary_ufunc(callee: object) -> bool:
    return isinstance(callee, np.ufunc) and callee.nin == 1 and callee.nout == 1
