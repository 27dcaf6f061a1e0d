"""Which values may share an array in the emitted code: alias classes, holders and ownership.

Two values are in one *class* when the generated code may hold one array for both:

- the values a branch or loop hands on (a loop's initial value, its body's argument, what the
  body yields and the loop's result are one Python variable, or copies of each other);
- a result and the operands the effect table says it may be or view (`x.T`, `np.reshape(x)`,
  `unbroadcast_to(g, s)`, an index of `x`, any operand of an unknown callee);
- an update and the value it updates, where it is written in place (`y[i] = v`, `dx += c`);
- a value popped from a tape and the value pushed there.

A container (a list, tuple or dict display, a list grown by `append`, a tape) *holds* its
items: while the container is live, so are they, and an item read back from it is in the
item's class. A class is *owned* when every array in it was made by this gradient: no
argument, no constant or global, no result of an unknown callee, no read-only view.
"""
from __future__ import annotations

import operator

import numpy as np

from .. import runtime
from ..ir.core import Function, Op, Region, Value, loop_parts, static_value, table_key
from ..ir.effects import effect_of

__all__ = ["Buffers", "UPDATES", "update_target"]

#: Callees whose result is their first operand updated: written in place where bufferization
#: decides so (`y[i] = v`, `items.append(x)`, `acc[i] += g`, `dy[i] = 0`), else copied first.
UPDATES = frozenset({runtime.assign_item, runtime.list_append, runtime.add_at, runtime.erase_item,
                     runtime.list_without_last})


def update_target(op: Op) -> int | None:
    """The operand whose array `op` writes when it runs in place (None: `op` writes nothing)."""
    if op.attrs.get("inplace"):
        return 0
    if op.attrs.get("out") is not None:
        return op.attrs["out"]
    return None


def _advanced(index: Value) -> bool:
    """An index known to select by integer or boolean arrays: the result is new memory."""
    ok, value = static_value(index)
    if not ok:
        return False
    parts = value if isinstance(value, tuple) else (value,)
    return any(isinstance(p, (list, np.ndarray)) for p in parts)


class Buffers:
    """Alias classes of one function's values (see the module docstring)."""

    def __init__(self, function: Function):
        self.function = function
        self._roots: dict[Value, list[Value]] | None = None
        self._holds_by_root: dict[Value, set[Value]] | None = None
        self.parent: dict[Value, Value] = {}
        self.holds: dict[Value, set[Value]] = {}  # container value → the values it may hold
        self.foreign: set[Value] = set()  # values whose array this gradient does not own
        self.container: set[Value] = set()  # values known to be lists, tuples or dicts
        self.foreign.update(function.params)
        for _ in range(4):  # (an item read from a loop's list before later appends: settle)
            before = (len(self.parent), sum(map(len, self.holds.values())))
            self._collect(function.body)
            if (len(self.parent), sum(map(len, self.holds.values()))) == before:
                break

    # -- union-find ---------------------------------------------------------------------------
    def find(self, value: Value) -> Value:
        root = value
        while self.parent.get(root, root) is not root:
            root = self.parent[root]
        while value is not root:
            self.parent[value], value = root, self.parent.get(value, root)
        return root

    def union(self, a: Value, b: Value) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra is not rb:
            self.parent[rb] = ra
            self.parent.setdefault(ra, ra)
            self._roots = self._holds_by_root = None

    def same(self, a: Value, b: Value) -> bool:
        return self.find(a) is self.find(b)

    def members(self, value: Value) -> list[Value]:
        """The values of `value`'s class."""
        if self._roots is None:
            self._roots = {}
            for member in self.parent:
                self._roots.setdefault(self.find(member), []).append(member)
        return self._roots.get(self.find(value), [value])

    def owned(self, value: Value) -> bool:
        """Whether this gradient may write into `value`'s array (see the module docstring)."""
        return not any(member in self.foreign for member in self.members(value))

    def hold(self, container: Value, items) -> None:
        self.holds.setdefault(container, set()).update(items)
        self._holds_by_root = None

    def held(self, values: set[Value] | frozenset[Value]) -> set[Value]:
        """`values` and everything the containers among them hold, transitively."""
        found, pending = set(values), list(values)
        while pending:
            for item in self._held_by(pending.pop()):
                if item not in found:
                    found.add(item)
                    pending.append(item)
        return found

    def held_items(self, values) -> set[Value]:
        """What the containers among `values` hold, transitively (not `values` themselves)."""
        found: set[Value] = set()
        pending = [item for v in values for item in self._held_by(v)]
        while pending:
            item = pending.pop()
            if item not in found:
                found.add(item)
                pending.extend(self._held_by(item))
        return found

    def _held_by(self, value: Value) -> set[Value]:
        """What the containers of `value`'s class hold."""
        if self._holds_by_root is None:
            self._holds_by_root = {}
            for container, items in self.holds.items():
                self._holds_by_root.setdefault(self.find(container), set()).update(items)
        return self._holds_by_root.get(self.find(value), set())

    # -- the edges ----------------------------------------------------------------------------
    def _collect(self, region: Region) -> None:
        for op in region.ops:
            for inner in op.regions:
                self._collect(inner)
            self._edges(op)

    def _edges(self, op: Op) -> None:
        kind = op.kind
        if kind == "if":
            for region in op.regions:
                for value, result in zip(region.ops[-1].operands, op.results):
                    self.union(result, value)
            return
        if kind in ("for", "while"):
            parts = loop_parts(op)
            held = self.held({op.operands[0]})  # (what iterating a list gives: its items)
            for item in parts.items:  # (`for row in X`: a row of X is a view of it)
                for source in held:
                    self.union(item, source)
            for i, carried in enumerate(parts.carried):
                for value in (parts.inits[i], parts.yielded[i], op.results[i]):
                    self.union(carried, value)
                if kind == "while":
                    self.union(carried, op.regions[0].args[i])
            return
        if kind == "boolop":
            for region in op.regions:
                self.union(op.result, region.ops[-1].operands[0])
            self.union(op.result, op.operands[0])
            return
        if not op.results:
            return
        result = op.results[0]
        self.parent.setdefault(result, result)
        if kind in ("tuple", "list", "dict"):
            self.container.add(result)
            self.hold(result, op.operands)
            return
        callee = table_key(op.attrs.get("callee")) if kind == "call" else None
        if callee is runtime.scatter_add:  # (into a list's zeros: the adjoints hold g itself)
            self.hold(result, [op.operands[0]])
        if callee in (operator.concat, runtime.repeat_items):  # (a new list of its operands' items)
            sequences = op.operands[:2] if callee is operator.concat else op.operands[:1]
            if all(self.is_container(s) for s in sequences):
                self.container.add(result)
                self.hold(result, set().union(*(self._held_by(s) for s in sequences)))
            else:  # (items not known: what is read from it may be any of theirs)
                for sequence in sequences:
                    self.union(result, sequence)
            return
        if callee is runtime.list_append:  # (the items so far, and one more)
            self.container.add(result)
            self.hold(result, [op.operands[1]] + list(self._held_by(op.operands[0])))
        if callee is runtime.list_without_last:  # (the items so far, but one)
            self.container.add(result)
            self.hold(result, list(self._held_by(op.operands[0])))
        if kind == "method" and op.attrs["name"] == "append" and len(op.operands) == 2:
            self.hold(op.operands[0], [op.operands[1]])  # a tape push
            return
        if kind == "method" and op.attrs["name"] == "pop" and op.attrs.get("restores") is not None:
            self.union(result, op.attrs["restores"].operands[1])  # what the push it undoes saved
            return
        target = update_target(op)
        if target is not None:
            self.union(result, op.operands[target])  # (decided in place: one array)
            if callee is runtime.assign_item and op.operands[0] in self.container:
                self.container.add(result)
                self.hold(result, [op.operands[2]])
            if callee not in UPDATES:
                return
        effect = effect_of(op)
        if effect.result == "shared" or effect.result == "unknown" or effect.read_only:
            self.foreign.add(result)
        if kind == "getitem" or callee is operator.getitem:
            container, index = op.operands[0], op.operands[1]
            known = self.is_container(container)
            ok, key = static_value(index)
            if known and ok and isinstance(key, slice):  # (a slice of a list: a new list of its items)
                self.container.add(result)
                self.hold(result, self._held_by(container))
                return
            for item in self._item_candidates(container, index):
                self.union(result, item)
            if not known and not _advanced(index):
                self.union(result, container)  # (an array's view; a list's slice)
            return
        if effect.result in ("view", "maybe") or (effect.result == "alloc" and effect.of):
            for k in effect.of:  # (an iterator or list made of an operand yields its rows: views)
                if k < len(op.operands):
                    self.union(result, op.operands[k])
        elif effect.result == "unknown":
            for operand in op.operands:
                self.union(result, operand)

    def is_container(self, value: Value) -> bool:
        """Whether `value` is known to be a list, tuple or dict (some member of its class is)."""
        return any(member in self.container for member in self.members(value))

    def _item_candidates(self, container: Value, index: Value) -> list[Value]:
        """What `container[index]` may be among the values the container's class holds."""
        owner = container.owner
        ok, key = static_value(index)
        if owner is not None and owner.kind in ("tuple", "list") and ok and isinstance(key, int):
            try:
                return [owner.operands[key]]
            except IndexError:
                return []
        if owner is not None and owner.kind == "dict" and ok and key in owner.attrs["keys"]:
            return [owner.operands[list(owner.attrs["keys"]).index(key)]]
        return list(self._held_by(container))
