"""Python's object semantics, followed at compile time: which names see which arrays.

The IR is functional (`y.3 = assign_item(y.2, i, v)` is a new value), Python is not: a name
refers to an object, and an update through one name is seen through every other name bound
to the same object, through the views of it (`z = y[1:]`), and by the lists, tuples and dicts
that hold it. The lowerer keeps a *heap* that says, at each point of the function:

- which object (`Obj`) each name refers to (each lowerer's `env`: the caller's and an inlined
  helper's are apart, their heap is one: a helper updates its caller's arrays);
- each object's *content*: the SSA value it holds now (`State.content`);
- for a view (`z = y[1:]`, `y.T`, `np.flip(y)`): its base and the recipe that makes it from the
  base. Its content is made again once the base has changed (`z.2 = y.2[1:]`), and a write
  through it is written back into the base (`y.3 = assign_item(y.2, 1:, z.2)`);
- for a list, tuple or dict: the objects it holds (`State.slots`). While they are known (a
  display), its content is a new display of their contents whenever one of them changed;
  once they are not (a list grown in a loop), it is a value of its own that may hold them.

Where the program text does not say which object a name refers to, its object is *ambiguous*
(`z = y if c else w`) or a *maybe* (`np.reshape(y)` is a view or a copy by the layout; a row of
a sequence a loop walks; what an unknown function returns).
Reading such an object is fine; writing through it is refused, and a write to an array it may
share memory with *poisons* it: reading it afterwards is refused, naming the write. An object
is *private* when nothing but its own names reaches it: then an augmented assignment may
rebind instead of writing, and two different ones may be merged into one after a branch.
"""
from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from .. import runtime
from ..ir.core import Op, Value, table_key
from ..ir.effects import effect_of

__all__ = ["Obj", "Recipe", "Slots", "State", "Heap", "classify", "describe"]

_ids = itertools.count()


@dataclass(eq=False)
class Recipe:
    """How a view's content is made from its base's (`make`), and how a new content of the view is
    written back into the base's (`write_back`; None where that cannot be followed); both emit IR."""

    make: Callable[[Value], Value]
    write_back: Callable[[Value, Value], Value] | None


@dataclass(eq=False)
class Obj:
    """An object the user's names may refer to. Kinds: "array" (a mutable object the program
    follows: made here, or an argument), "immutable" (a number, a string, a tuple of them),
    "global" (a module's or closure's array: never written), "view" (of `base`, by `recipe`),
    "maybe" (may share memory with `base`), "container" (a list, tuple or dict: what it holds is
    `State.slots`), "ambiguous" (one of `members`), "undefined" (a name unset on some path)."""

    kind: str
    base: "Obj | None" = None
    recipe: Recipe | None = None
    members: frozenset = frozenset()
    display: str = ""  # (a container's kind: "list", "tuple" or "dict")
    mutable: bool | None = None  # (an array, a list: True; a number: False; not known: None)
    label: str = ""  # (a name it was bound to, for messages)
    record: Any = None  # (a container standing for a dataclass, named tuple or namespace: its class)
    id: int = field(default_factory=lambda: next(_ids))

    def __repr__(self) -> str:
        return f"<{self.kind} {self.label or self.id}>"

    def roots(self) -> frozenset:
        """The objects whose memory this one may be part of."""
        if self.kind in ("view", "maybe"):
            return self.base.roots()
        if self.kind == "ambiguous":
            return frozenset().union(*(m.roots() for m in self.members))
        return frozenset({self})

    def followable(self) -> bool:
        """Whether a write through it can be followed: into an array or a container, or through
        views of known recipes down to one."""
        if self.kind == "view":
            return self.recipe is not None and self.recipe.write_back is not None and self.base.followable()
        return self.kind in ("array", "container")


@dataclass(frozen=True)
class Slots:
    """What a container holds: its `items` (objects) and, for a dict, their `keys`; `known` when
    they are its items in order (a display), else only what it may hold."""

    keys: tuple | None
    items: tuple
    known: bool = True

    def widened(self, more: Iterable[Obj]) -> "Slots":
        """These slots once paths that changed the container have joined: its items are not known
        any more, and it may hold what any of them held (`more`) as well."""
        items = list(self.items)
        items += [obj for obj in dict.fromkeys(more) if obj not in items]
        return Slots(self.keys, tuple(items), known=False)


@dataclass
class State:
    """What the heap holds at one point (copied at the start of each branch and loop body)."""

    content: dict = field(default_factory=dict)  # Obj → its value now
    made_from: dict = field(default_factory=dict)  # view, display → what its content was made of
    slots: dict = field(default_factory=dict)  # container → its Slots
    poisoned: dict = field(default_factory=dict)  # Obj → the write that poisoned it

    def copy(self) -> "State":
        return State(dict(self.content), dict(self.made_from), dict(self.slots), dict(self.poisoned))


class Heap:
    """The objects of one function and of the helpers inlined into it."""

    def __init__(self) -> None:
        self.state = State()
        self.obj_of: dict[Value, Obj] = {}  # a value → the object it is a content of, for good

    def new(self, value: Value, kind: str = "array", **fields: Any) -> Obj:
        obj = Obj(kind, **fields)
        self.obj_of.setdefault(value, obj)
        self.state.content[obj] = value
        return obj

    def set(self, obj: Obj, value: Value) -> None:
        self.state.content[obj] = value
        self.obj_of.setdefault(value, obj)

    def references(self, envs: Iterable[dict]) -> Iterable[tuple[Any, Obj]]:
        """Every (where, object) a name or a container holds; `where` is (env id, name) or
        (container, index)."""
        for env in envs:
            for name, obj in env.items():
                yield (id(env), name), obj
        for container, slots in self.state.slots.items():
            for index, obj in enumerate(slots.items):
                yield (container, index), obj

    def reachable(self, objs: Iterable[Obj]) -> frozenset:
        """`objs` and everything the containers among them hold, at any depth."""
        found, todo = set(), list(objs)
        while todo:
            obj = todo.pop()
            if obj not in found:
                found.add(obj)
                slots = self.state.slots.get(obj)
                todo.extend(slots.items if slots is not None else ())
        return frozenset(found)

    def private(self, obj: Obj, envs: list[dict], mine: set) -> bool:
        """Whether only the references `mine` reach `obj` (no other name, container or view)."""
        if obj.kind in ("global", "view", "maybe", "ambiguous"):
            return False
        if obj.kind in ("immutable", "undefined"):
            return True
        roots = obj.roots()
        return not any(where not in mine and other.roots() & roots for where, other in self.references(envs))

    def poison_all(self, obj: Obj, why: str, envs: list[dict]) -> None:
        """A change to `obj`'s memory that gradc cannot follow at all: `obj` and everything that may
        share its memory (names, views, containers holding it) are poisoned."""
        roots = obj.roots()
        self.state.poisoned.setdefault(obj, why)
        for where, other in list(self.references(envs)):
            if other.roots() & roots:
                self.state.poisoned.setdefault(other, why)
                if isinstance(where[0], Obj):
                    self.state.poisoned.setdefault(where[0], why)

    def poison(self, root: Obj, why: str, envs: list[dict]) -> None:
        """A write into `root` that the objects which may share its memory cannot follow: maybes
        and ambiguous objects reaching it, and containers that may hold it without saying where."""
        for where, obj in list(self.references(envs)):
            if obj.kind in ("maybe", "ambiguous") and root in obj.roots():
                self.state.poisoned.setdefault(obj, why)
            if isinstance(where[0], Obj) and not self.state.slots[where[0]].known and root in obj.roots():
                self.state.poisoned.setdefault(where[0], why)


def describe(obj: Obj) -> str:
    return f"`{obj.label}`" if obj.label else "another array"


# -- what a new value is ---------------------------------------------------------------------------
_IMMUTABLE_CALLS = {len, int, float, bool, range, slice, str, isinstance, np.shape, np.ndim, np.size}
_ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod,
               operator.pow, operator.neg, operator.pos, operator.abs, abs, pow, min, max, round}


def classify(lowerer: Any, value: Value) -> Obj:
    """The object a value the heap has not seen is: by what computes it (the effect table) and,
    where the call's argument kinds are known, by whether it is an array."""
    heap, op = lowerer.heap, value.owner
    if op is None:
        return heap.new(value, "array")
    if op.kind == "const":
        constant = op.attrs["value"]
        if op.attrs.get("undefined"):
            return heap.new(value, "undefined")
        if isinstance(constant, (np.ndarray, list, dict, set)):
            return heap.new(value, "global")
        return heap.new(value, "immutable", mutable=False)
    if op.kind in ("tuple", "list", "dict"):
        items = tuple(lowerer.obj(v) for v in op.operands)
        obj = heap.new(value, "container", display=op.kind, mutable=op.kind != "tuple", record=op.attrs.get("record"))
        heap.state.slots[obj] = Slots(op.attrs.get("keys"), items)
        heap.state.made_from[obj] = tuple(op.operands)
        return obj
    if op.kind == "getitem" or (op.kind == "call" and table_key(op.attrs.get("callee")) is operator.getitem):
        return _item(lowerer, value, op)
    if op.kind in ("if", "for", "while", "boolop"):
        return heap.new(value, "array", mutable=lowerer.is_array(value))
    effect = effect_of(op)
    operands = [lowerer.obj(v) for v in op.operands]
    if effect.result == "view" and op.operands:
        recipe = view_recipe(lowerer, op)
        return heap.new(value, "view" if recipe else "maybe", base=operands[effect.of[0]], recipe=recipe,
                        mutable=True)
    if effect.result == "maybe" and op.operands:
        bases = [operands[k] for k in effect.of if k < len(operands)]
        if len(bases) == 1:
            return heap.new(value, "maybe", base=bases[0], mutable=lowerer.is_array(value))
        return heap.new(value, "ambiguous", members=frozenset(bases), mutable=lowerer.is_array(value))
    if effect.result == "shared":
        return heap.new(value, "global")
    if effect.result == "unknown":
        fresh = Obj("array")
        return heap.new(value, "ambiguous", members=frozenset(operands) | {fresh})
    return heap.new(value, "array", mutable=_mutable(lowerer, value, op, operands))


def _mutable(lowerer: Any, value: Value, op: Op, operands: list[Obj]) -> bool | None:
    known = lowerer.is_array(value)
    if known is not None:
        return known
    callee = table_key(op.attrs.get("callee")) if op.kind == "call" else None
    if callee in _IMMUTABLE_CALLS or (op.kind == "getattr" and op.attrs["name"] in ("shape", "ndim", "size")):
        return False
    if callee in _ARITHMETIC or (callee is not None and getattr(callee, "__module__", "") == "math"):
        if all(o.mutable is False for o in operands):
            return False
        if any(o.mutable is True and o.kind != "container" for o in operands):
            return True
    if op.kind == "method" and op.attrs["name"] == "copy" and operands and operands[0].mutable:
        return True
    if callee is not None and effect_of(op).result == "alloc":
        return True
    return None


def _item(lowerer: Any, value: Value, op: Op) -> Obj:
    """`x[index]`: a view (basic index of an array), a new array (advanced index), a number (all
    integers, one per dimension), an item of a container; a maybe where that is not known."""
    heap = lowerer.heap
    container = lowerer.obj(op.operands[0])
    index = op.operands[1]
    if container.kind == "container":
        items = heap.state.slots[container].items
        return heap.new(value, "ambiguous", members=frozenset(items))  # (an index known only at run time)
    if container.kind == "immutable":
        return heap.new(value, "immutable", mutable=False)
    if container.kind not in ("array", "view"):
        return heap.new(value, "maybe", base=container, mutable=lowerer.is_array(value))
    parts = lowerer.index_parts(index)  # "slice", "int", "array" or None (not known) per part
    if parts is None or any(p is None for p in parts):
        return heap.new(value, "maybe", base=container, mutable=lowerer.is_array(value))
    if "array" in parts:
        return heap.new(value, "array", mutable=True)  # (advanced indexing copies)
    if "slice" in parts:
        return heap.new(value, "view", base=container, recipe=view_recipe(lowerer, op), mutable=True)
    array = lowerer.is_array(value)  # (all integers: a number for an index per dimension, else a view)
    if array is False:
        return heap.new(value, "immutable", mutable=False)
    if array is True:
        return heap.new(value, "view", base=container, recipe=view_recipe(lowerer, op), mutable=True)
    lowerer.root.kind_dependent = lowerer.facts is None
    return heap.new(value, "maybe", base=container)


# -- views: made again from a new base, written back into it ----------------------------------------
def view_recipe(lowerer: Any, op: Op) -> Recipe | None:
    """How to make `op`'s view again from a new base, and (where it can be followed) how to write a
    new content of the view back into its base."""
    rest = op.operands[1:]
    attrs = {k: v for k, v in op.attrs.items() if k not in ("span",)}

    def make(base: Value) -> Value:
        return lowerer.emit(op.kind, [base] + rest, None, **attrs)

    back = _write_back(lowerer, op)
    return Recipe(make, back)


def _write_back(lowerer: Any, op: Op) -> Callable[[Value, Value], Value] | None:
    emit, call = lowerer.emit, lowerer.call
    if op.kind == "getitem":
        index = op.operands[1]
        return lambda base, new: call(runtime.assign_item, [base, index, new], None)
    if op.kind == "getattr" and op.attrs["name"] in ("T", "mT"):
        name = op.attrs["name"]
        return lambda base, new: emit("getattr", [new], None, name=name)
    positional = op.positional()
    if op.kind == "method" and op.attrs["name"] == "transpose" and len(positional) == 1 and not op.kwnames:
        return lambda base, new: emit("getattr", [new], None, name="T")
    if op.kind == "method" and op.attrs["name"] == "swapaxes" and not op.kwnames:
        return lambda base, new: emit("method", [new] + positional[1:], None, name="swapaxes", kwnames=())
    if op.kind == "method" and op.attrs["name"] == "squeeze":
        return lambda base, new: call(np.reshape, [new, call(np.shape, [base], None)], None)
    if op.kind != "call":
        return None
    callee = table_key(op.attrs["callee"])
    args, keywords = op.positional(), op.keywords()
    if callee is np.transpose and len(args) == 1 and not keywords:
        return lambda base, new: emit("getattr", [new], None, name="T")
    if callee is np.swapaxes and not keywords:
        return lambda base, new: call(np.swapaxes, [new] + args[1:], None)
    if callee is np.moveaxis and len(args) == 3 and not keywords:
        return lambda base, new: call(np.moveaxis, [new, args[2], args[1]], None)
    if callee in (np.flip, np.fliplr, np.flipud):
        return lambda base, new: call(callee, [new] + args[1:], None, kwargs=keywords)
    if callee in (np.expand_dims, np.squeeze):
        return lambda base, new: call(np.reshape, [new, call(np.shape, [base], None)], None)
    return None
