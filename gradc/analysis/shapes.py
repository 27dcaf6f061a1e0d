"""Shapes of values, given the shapes of the arguments of a call.

A gradient is compiled per *signature*: the shape of each array argument (and which
arguments are Python scalars). Knowing every value's shape lets the backward pass
skip `unbroadcast` where an operand already has the result's shape, sum over the
exact axes where it does not (`db = dz.sum(axis=0)`), write `g @ W.T` for a 2-D
matmul, and save no shapes on loop tapes.

Shapes are found by *running* each primitive on stand-ins: a zero-filled array of
the known shape for an array, the value itself for a constant. Only primitives
with a derivative rule (pure NumPy functions, operators, math) and array
constructors are run; anything else, or anything that raises, is unknown (None),
and the compiler then falls back to code that works for any shape. Values that
follow from shapes alone (`x.shape`, `x.ndim`, `len(x)`) are known exactly; values
computed from the stand-ins' data are not (only their shapes are).
"""
from __future__ import annotations

import builtins
import operator
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import runtime
from ..ir.core import Function, Op, Region, Value, loop_parts, static_value, table_key
from ..rules.registry import lookup
from .activity import rule_key

__all__ = ["Abstract", "UNKNOWN", "Inference", "infer_shapes", "abstract_argument", "abstract_kind", "widen",
           "shape_of", "ARITHMETIC_OPERATORS"]

#: Updates whose result is their first operand with items replaced: of its shape and kind.
_SAME_SHAPE_UPDATES = {runtime.assign_item, runtime.erase_item}

# Stand-ins above this many elements are not built: such shapes stay unknown.
_MAX_ELEMENTS = 2_000_000

_CONSTRUCTORS = {np.zeros, np.ones, np.empty, np.full, np.eye, np.identity, np.arange, np.linspace,
                 np.zeros_like, np.ones_like, np.full_like, np.empty_like, np.array, np.asarray}
_SHAPE_ONLY_CALLS = {np.shape, np.ndim, np.size, builtins.len}
_SHAPE_ONLY_ATTRS = {"shape", "ndim", "size", "dtype"}
_VALUE_OPERATORS = {operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod, operator.neg,
                    operator.getitem, operator.eq, operator.ne, operator.lt, operator.le, operator.gt,
                    operator.ge, operator.not_, builtins.len, builtins.int, builtins.tuple}


@dataclass(frozen=True)
class Abstract:
    """What is known of a value: an array's `shape`, or an exact small `value`, or a `seq`uence."""

    shape: tuple | None = None  # an array (or number) of this shape, data unknown
    value: Any = None           # known exactly (a shape, an int, a constant)
    known: bool = False         # `value` is meaningful
    seq: tuple | None = None    # a list/tuple/dict of abstract values
    seq_kind: str = ""
    keys: tuple = ()
    integer: bool = False       # an integer of unknown value (a loop counter): stands in as 0
    array: bool | None = None   # an ndarray (True), a number (False: a 0-d array is an array), or not known
    dtype: Any = None           # an array's or NumPy scalar's dtype (None: a Python number, or not known)


UNKNOWN = Abstract()


def abstract_argument(value: Any) -> Abstract:
    """The abstraction of a run-time argument: its shape (never its data)."""
    if type(value) is np.ndarray:
        return Abstract(shape=value.shape, dtype=value.dtype) if np.issubdtype(value.dtype, np.number) else UNKNOWN
    if type(value) in (float, int, bool) or isinstance(value, np.generic):
        return Abstract(shape=())
    if type(value) in (list, tuple):
        return Abstract(seq=tuple(abstract_argument(v) for v in value), seq_kind=type(value).__name__)
    if type(value) is dict:
        return Abstract(seq=tuple(abstract_argument(v) for v in value.values()), seq_kind="dict",
                        keys=tuple(value))
    return UNKNOWN


def is_array_kind(kind: Any) -> bool:
    """Whether an argument's kind (api._kind) is a NumPy array's: `(shape, dtype)`."""
    return type(kind) is tuple and len(kind) == 2 and type(kind[0]) is tuple and isinstance(kind[1], np.dtype)


def abstract_kind(kind: Any) -> Abstract:
    """What an argument's kind (from the call's signature, see api._kind) says of its value."""
    if isinstance(kind, type) and (issubclass(kind, (int, float)) or issubclass(kind, np.generic)):
        return Abstract(shape=(), integer=issubclass(kind, (int, np.integer)), array=False,
                        dtype=np.dtype(kind) if issubclass(kind, np.generic) else None)
    if is_array_kind(kind):
        return Abstract(shape=kind[0], array=True, dtype=kind[1])
    if type(kind) is tuple and kind and kind[0] in ("list", "tuple"):
        return Abstract(seq=tuple(abstract_kind(k) for k in kind[1]), seq_kind=kind[0])
    if type(kind) is tuple and kind and kind[0] == "dict":
        return Abstract(seq=tuple(abstract_kind(k) for k in kind[2]), seq_kind="dict", keys=kind[1])
    if type(kind) is tuple and len(kind) == 4 and kind[0] == "record":  # (a dataclass: its fields, by name)
        return Abstract(seq=tuple(abstract_kind(k[1] if type(k) is tuple and k[:1] == ("const",) else k)
                                  for k in kind[3]), seq_kind="record", keys=kind[2])
    return UNKNOWN


def _stand_in(abstract: Abstract) -> Any:
    if abstract.known:
        return abstract.value
    if abstract.shape is not None:
        dtype = abstract.dtype if abstract.dtype is not None else np.float64
        if abstract.shape == () and abstract.array:
            return np.full((), 0.5, dtype=dtype)
        if abstract.shape == () and abstract.dtype is not None:
            return dtype.type(0 if abstract.integer else 0.5)  # (a NumPy scalar)
        if abstract.shape == ():
            return 0 if abstract.integer else 0.5
        if int(np.prod(abstract.shape)) > _MAX_ELEMENTS:
            raise _Unknown
        return np.full(abstract.shape, 0.5, dtype=dtype)
    if abstract.seq is not None:
        items = [_stand_in(a) for a in abstract.seq]
        if abstract.seq_kind == "dict":
            return dict(zip(abstract.keys, items))
        return tuple(items) if abstract.seq_kind == "tuple" else items
    raise _Unknown


class _Unknown(Exception):
    pass


def _dtype(value: Any) -> Any:
    """An array's or NumPy scalar's dtype; None for a Python number (weak in NumPy's promotion)."""
    return value.dtype if isinstance(value, (np.ndarray, np.generic)) else None


def widen(abstract: Abstract) -> Abstract:
    """A known number as just its shape: a loop's `s = 0.0` and the `s + x` it becomes agree."""
    if abstract.known and isinstance(abstract.value, (int, float, np.generic, np.ndarray)) \
            and not isinstance(abstract.value, bool):
        return Abstract(shape=np.shape(abstract.value), integer=isinstance(abstract.value, (int, np.integer)),
                        array=isinstance(abstract.value, np.ndarray), dtype=_dtype(abstract.value))
    return abstract



def _abstract_result(result: Any, exact: bool) -> Abstract:
    if exact and isinstance(result, (int, bool, tuple, type(None), np.dtype, np.integer)):
        return Abstract(value=result, known=True)
    if isinstance(result, (np.ndarray, np.generic, float, int, bool)):
        return Abstract(shape=np.shape(result), array=isinstance(result, np.ndarray), dtype=_dtype(result))
    if isinstance(result, (list, tuple)):
        return Abstract(seq=tuple(_abstract_result(r, False) for r in result), seq_kind=type(result).__name__)
    return UNKNOWN


class Inference:
    """Shapes found op by op (`run`): for a whole function (`infer_shapes`) or as the lowerer emits."""

    def __init__(self, facts: dict[Value, Abstract] | None = None) -> None:
        self.facts: dict[Value, Abstract] = {} if facts is None else facts

    def get(self, value: Value) -> Abstract:
        return self.facts.get(value, UNKNOWN)

    def run(self, op: Op) -> None:
        kind = op.kind
        if kind == "const":
            value = op.attrs["value"]
            if isinstance(value, (int, float, bool, tuple, slice, type(None), str, np.dtype, type)) \
                    or value is Ellipsis or isinstance(value, np.generic):
                self.facts[op.result] = Abstract(value=value, known=True)
            elif isinstance(value, np.ndarray) and value.size <= _MAX_ELEMENTS:
                self.facts[op.result] = Abstract(value=value, known=True)
            return
        if kind in ("tuple", "list"):
            items = tuple(self.get(v) for v in op.operands)
            if all(a.known for a in items):  # `m[:, 0]`'s index, a shape, `x[[0, 2]]`'s index
                values = tuple(a.value for a in items)
                self.facts[op.result] = Abstract(value=values if kind == "tuple" else list(values), known=True)
                return
            self.facts[op.result] = Abstract(seq=items, seq_kind=kind)
            return
        if kind == "dict":
            self.facts[op.result] = Abstract(seq=tuple(self.get(v) for v in op.operands), seq_kind="dict",
                                             keys=op.attrs["keys"])
            return
        if kind == "if":
            for region in op.regions:
                self.region(region)
            for i, result in enumerate(op.results):
                found = [widen(self.get(r.ops[-1].operands[i])) for r in op.regions]
                found = [f for f in found if not (f.known and f.value is None)]  # a name unset on a path
                if found and all(f == found[0] for f in found):
                    self.facts[result] = found[0]
            return
        if kind in ("for", "while"):
            return self.loop(op)
        if kind == "getattr" and op.attrs.get("field") and self.get(op.operands[0]).seq_kind == "record":
            record = self.get(op.operands[0])  # (a field of a dataclass argument: frontend/records.py)
            self.facts[op.results[0]] = record.seq[record.keys.index(op.attrs["name"])]
            return
        if kind in ("call", "method", "getattr", "getitem"):
            self.facts[op.results[0]] = self.evaluate(op)

    def evaluate(self, op: Op) -> Abstract:
        key = rule_key(op)
        operands = [self.get(v) for v in op.operands]
        if table_key(key) in _SAME_SHAPE_UPDATES and operands:  # (`y[i] = v` keeps y's shape and type)
            first = widen(operands[0])
            return Abstract(shape=first.shape, array=first.array, dtype=first.dtype) if first.shape is not None \
                else first
        if op.kind == "getattr" and op.attrs["name"] in _SHAPE_ONLY_ATTRS:
            exact = True
        elif op.kind == "call" and table_key(key) in _SHAPE_ONLY_CALLS:
            exact = True
        else:
            exact = table_key(key) in _VALUE_OPERATORS and all(a.known for a in operands)
            if not exact and not (lookup(key) is not None or table_key(key) in _CONSTRUCTORS):
                return UNKNOWN
            if not exact and not _shape_follows_from_shapes(op, key, operands):
                return UNKNOWN
        if op.kind == "getitem" and operands[1].integer and not operands[1].known:
            shape = operands[0].shape  # `x[i]`, i an integer known only at run time
            return Abstract(shape=shape[1:], array=len(shape) > 1, dtype=operands[0].dtype) if shape else UNKNOWN
        try:
            args = [_stand_in(self.get(v)) for v in op.operands]
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                result = _call(op, args)
        except Exception:  # noqa: BLE001 - whatever fails on stand-ins is simply unknown
            return UNKNOWN
        return _abstract_result(result, exact)

    def loop(self, op: Op) -> None:
        parts = loop_parts(op)
        carried, inits = parts.carried, parts.inits
        if op.kind == "for":
            self.loop_items(op, parts.items)
        # A carried value's fact: its initial value's, kept while every iteration yields the same;
        # a name first assigned in the loop starts as the first iteration's. Facts only ever
        # weaken to UNKNOWN, so this settles.
        assumed = {i: widen(self.get(init)) for i, init in enumerate(inits)}
        fresh = {i for i, init in enumerate(inits) if self.get(init).known and self.get(init).value is None}
        for _ in range(len(assumed) + 2):
            for i, fact in assumed.items():
                self.facts[carried[i]] = fact
                if op.kind == "while":
                    self.facts[op.regions[0].args[i]] = fact
            for region in op.regions:
                self.region(region)
            yielded = [widen(self.get(v)) for v in parts.yielded]
            changed = False
            for i in assumed:
                if i in fresh:
                    fresh.discard(i)
                    changed = changed or assumed[i] != yielded[i]
                    assumed[i] = yielded[i]
                elif assumed[i] != UNKNOWN and yielded[i] != assumed[i]:
                    assumed[i], changed = UNKNOWN, True
            if not changed:
                break
        for i, result in enumerate(op.results):
            self.facts[result] = assumed[i]

    def loop_items(self, op: Op, items: list[Value]) -> None:
        from .activity import loop_items  # (activity imports nothing from here)
        for item, sequence, _, counter, path in loop_items(op):
            if counter:
                self.facts[item] = Abstract(shape=(), integer=True, array=False)
                continue
            fact = self.get(sequence) if sequence is not None else UNKNOWN
            element = UNKNOWN
            if fact.shape and len(fact.shape) >= 1:
                element = Abstract(shape=fact.shape[1:], array=len(fact.shape) > 1, dtype=fact.dtype)
            elif fact.seq:
                first = fact.seq[0]
                element = first if all(f == first for f in fact.seq) else UNKNOWN
            for step in path:
                if element.seq is not None and step < len(element.seq):
                    element = element.seq[step]
                elif element.shape and len(element.shape) >= 1:
                    element = Abstract(shape=element.shape[1:], array=len(element.shape) > 1, dtype=element.dtype)
                else:
                    element = UNKNOWN
            self.facts[item] = element

    def region(self, region: Region) -> None:
        for op in region.ops:
            self.run(op)


# Functions whose result's shape depends on the data (stand-ins would give a wrong shape).
#: Callees whose result's shape depends on the data of their array operands.
_DATA_SHAPED = {np.nonzero, np.flatnonzero, np.argwhere, np.unique, np.extract, np.compress, np.trim_zeros,
                np.where}
#: ... and those whose result's shape depends on the values of their other operands (counts, shapes,
#: indices): a stand-in for the first operand is right when the others are known exactly.
_SHAPED_BY_OPTIONS = {np.arange, np.linspace, np.full, np.zeros, np.ones, np.empty, np.eye, np.identity,
                      np.repeat, np.tile, np.reshape, np.broadcast_to, np.take, np.diag, np.split, np.array_split}


def _shape_follows_from_shapes(op: Op, key: Any, operands: list[Abstract]) -> bool:
    """Whether running `op` on stand-ins gives the true shape: every input that could change the
    result's shape (an option, an index, a size) must be known exactly, not stood in for."""
    stood_in = [a for a in operands if not a.known]
    if not stood_in:
        return True
    if op.kind == "getitem":
        return operands[1].known or (operands[1].integer and not operands[1].known)
    if op.kind == "method" and op.attrs["name"] in ("nonzero", "reshape", "repeat", "take", "compress"):
        return False
    if table_key(key) is np.where and len(op.operands) == 3 and not op.kwnames:
        return all(a.shape is not None for a in stood_in)  # (where(c, x, y): elementwise)
    if table_key(key) in _DATA_SHAPED:
        return False
    if table_key(key) in _SHAPED_BY_OPTIONS:
        return all(a.known for a in operands[1:]) and operands[0].shape not in (None, ())
    elementwise = op.kind == "call" and (isinstance(key, np.ufunc) or table_key(key) in _ELEMENTWISE_CALLEES
                                         or getattr(key, "__module__", None) == "math")
    if elementwise or (lookup(key) is not None and lookup(key).broadcasts):
        return all(a.shape is not None for a in stood_in)  # a broadcast of the shapes
    # Anything else may read a stood-in scalar as an option (`axis=k`): only arrays may be stood in.
    return all(a.shape not in (None, ()) or (a.seq is not None) for a in stood_in)


_ELEMENTWISE_CALLEES = {operator.add, operator.sub, operator.mul, operator.truediv, operator.pow, operator.neg,
                        operator.pos, operator.mod, operator.floordiv, operator.lt, operator.le, operator.gt,
                        operator.ge, operator.eq, operator.ne, operator.matmul, builtins.abs, builtins.min,
                        builtins.max, builtins.pow, builtins.float}


def _call(op: Op, args: list) -> Any:
    if op.kind == "getitem":
        return args[0][args[1]]
    if op.kind == "getattr":
        return getattr(args[0], op.attrs["name"])
    n = len(op.kwnames)
    positional, keywords = args[: len(args) - n], dict(zip(op.kwnames, args[len(args) - n:]))
    if op.kind == "method":
        receiver = positional[0]
        if not isinstance(receiver, np.ndarray):
            receiver = np.asarray(receiver)
        return getattr(receiver, op.attrs["name"])(*positional[1:], **keywords)
    return op.attrs["callee"](*positional, **keywords)


def infer_shapes(function: Function, arguments: dict[Value, Abstract]) -> dict[Value, Abstract]:
    """What is known of every value, given what is known of the parameters."""
    inference = Inference()
    inference.facts.update(arguments)
    inference.region(function.body)
    return inference.facts


#: Elementwise arithmetic whose result has the broadcast shape of its operands.
ARITHMETIC_OPERATORS = {operator.add, operator.sub, operator.mul, operator.truediv, operator.neg}


def shape_of(value: Value, shapes: dict) -> tuple | None:
    """A value's known shape; an adjoint has the shape of what it is the adjoint of; a number ();
    a rule's `np.expand_dims(g, axis)` or `g * c` the shape following from g's."""
    ok, constant = static_value(value)
    if ok and type(constant) in (int, float):
        return ()
    if value in shapes:
        return shapes[value]
    if value.adjoint_of is not None and value.adjoint_of in shapes:
        return shapes[value.adjoint_of]
    op = value.owner
    if op is None or op.kind != "call" or op.attrs.get("kwnames") or not op.backward:
        return None
    callee = op.attrs["callee"]
    if callee is np.expand_dims and len(op.operands) == 2:
        inner, (ok, axis) = shape_of(op.operands[0], shapes), static_value(op.operands[1])
        if inner is not None and ok and type(axis) is int and -len(inner) - 1 <= axis <= len(inner):
            axis = axis if axis >= 0 else axis + len(inner) + 1
            return inner[:axis] + (1,) + inner[axis:]
        return None
    if (callee in ARITHMETIC_OPERATORS or isinstance(callee, np.ufunc) or callee is runtime.sigmoid) and len(op.operands) <= 2:
        operand_shapes = [shape_of(v, shapes) for v in op.operands]
        if None not in operand_shapes:
            try:
                return tuple(np.broadcast_shapes(*operand_shapes))
            except ValueError:
                return None
    return None
