"""Names and the objects they refer to, for the lowerer: reading a name, binding it, writing
into what it refers to (`y[i] = v`, `x += e`, `items.append(v)`), and what a loop binds.

The heap (`objects.py`) says which object each name refers to and what it holds; this is
the lowerer's side of it: where a read must make a view again from its base, where a write
goes (through views into their bases, into every name and container that reaches the array),
where Python's answer depends on whether a value is an array (`s = x[1]; s += 1.0`), and what
to refuse, saying why, where the program text does not say which array a name is.
"""
from __future__ import annotations

import ast
import operator
from typing import Any

import numpy as np

from .. import runtime
from ..analysis.shapes import UNKNOWN, Abstract
from ..ir.core import Value, static_value, table_key
from .objects import Obj, Slots, classify, describe

__all__ = ["Binding"]


class Binding:
    """Reading, binding and writing names, for `_Lowerer` (lower.py)."""

    def envs(self) -> list[dict]:
        """This lowerer's names, then its callers' (an inlined helper's caller sees its writes)."""
        found, lowerer = [], self
        while lowerer is not None:
            found.append(lowerer.env)
            lowerer = lowerer.parent
        return found

    def obj(self, value: Value) -> Obj:
        """The object `value` is (the content of)."""
        found = self.heap.obj_of.get(value)
        if found is not None:
            return found
        if self.rule_mode:  # (a derivative rule writes nothing: its values need no more than this)
            return self.heap.new(value, "array")
        return classify(self, value)

    def peek(self, obj: Obj) -> Value:
        """`obj`'s content now: a view's or a display's made again if what it is made of changed."""
        state = self.heap.state
        if obj.kind == "view":
            base = self.peek(obj.base)
            if state.made_from.get(obj) is not base:
                self.heap.set(obj, obj.recipe.make(base))
                state.made_from[obj] = base
        elif obj.kind == "container" and state.slots[obj].known:
            slots = state.slots[obj]
            items = tuple(self.peek(o) for o in slots.items)
            made = state.made_from.get(obj)
            if made is None or len(made) != len(items) or any(a is not b for a, b in zip(made, items)):
                attrs = {"keys": slots.keys} if obj.display == "dict" else {}
                if obj.record is not None:
                    attrs["record"] = obj.record  # (a dataclass's fields: see records.py)
                self.heap.set(obj, self.emit(obj.display, list(items), None, **attrs))
                state.made_from[obj] = items
        return state.content[obj]

    def read(self, obj: Obj, node: ast.AST, name: str = "") -> Value:
        """`obj`'s content, read by the program at `node` (refused if it may have been overwritten)."""
        why = self.heap.state.poisoned.get(obj)
        if why is not None:
            raise self.error(node, f"`{name or obj.label}` may share memory with an array {why}, which "
                             "gradc cannot follow into it", "make a copy (`.copy()`) before the update, "
                             "or bind the name again after it")
        return self.peek(obj)

    def is_array(self, value: Value) -> bool | None:
        """Whether `value` is an ndarray (not a number), when the call's argument kinds say so."""
        if self.facts is None:
            return None
        return self.facts.get(value, UNKNOWN).array

    def index_parts(self, index: Value) -> list[str | None] | None:
        """What each part of an index is: "slice" (a slice, None, ...), "int", "array" (an integer
        or boolean array, a list), None where that is not known."""
        ok, constant = static_value(index)
        if ok:
            parts = constant if isinstance(constant, tuple) else (constant,)
            return [_index_part(p) for p in parts]
        owner = index.owner
        if owner is not None and owner.kind == "tuple":
            found = []
            for part in owner.operands:
                sub = self.index_parts(part)
                found.append(sub[0] if sub is not None and len(sub) == 1 else None)
            return found
        if self.is_int(index):
            return ["int"]
        if owner is not None and owner.kind == "call" and owner.attrs["callee"] is slice:
            return ["slice"]  # (`y[i:]`: bounds only the run knows, still a view)
        if owner is not None and owner.kind == "list":
            return ["array"]  # (`y[[0, i]]`: advanced indexing, a copy)
        fact = self.facts.get(index, UNKNOWN) if self.facts is not None else UNKNOWN
        if fact.array:
            return ["array"]
        return [None]

    def is_int(self, value: Value) -> bool:
        """Whether `value` is certainly a Python integer (a `range` loop's counter, `i + 1`, `len(x)`)."""
        ok, constant = static_value(value)
        if ok:
            return type(constant) is int
        if self.facts is not None and self.facts.get(value, UNKNOWN).integer:
            return True
        if value in self.root.counters or value in self.counters:
            return True
        owner = value.owner
        if owner is not None and owner.kind == "call" and table_key(owner.attrs["callee"]) in (len,) + _INT_ARITHMETIC:
            return all(self.is_int(v) for v in owner.operands) if owner.attrs["callee"] is not len else True
        return False

    def write(self, obj: Obj, value: Value, node: ast.AST, what: str) -> None:
        """`obj` now holds `value` (its content written in place): followed through views into
        their bases; objects that may share its memory in ways gradc cannot follow are poisoned."""
        if obj in self.heap.state.poisoned or not obj.followable():
            raise self.error(node, f"{what}, which {self.why_unfollowable(obj)}: gradc cannot tell which "
                             "arrays the update changes", "make a copy first (`.copy()`), or give the "
                             "array its own name")
        if obj.kind == "view":
            base = self.peek(obj.base)
            written = obj.recipe.write_back(base, value)
            if written.owner is not None:  # (refused for arrays with no NumPy views: refuse_writes_through_views)
                written.owner.attrs["through_view"] = (f"{describe(obj)}, a view of {describe(obj.base)}",
                                                       self.parsed.loc(node))
            self.write(obj.base, written, node, what)
            self.heap.set(obj, value)
            self.heap.state.made_from[obj] = self.heap.state.content[obj.base]
            return
        self.heap.set(obj, value)
        self.heap.poison(obj, f"written at line {getattr(node, 'lineno', '?')}", self.envs())
        if obj in self.root.arguments:  # (an argument written: the call must not pass it twice, see api)
            self.root.written.add(self.root.arguments[obj])

    def why_unfollowable(self, obj: Obj) -> str:
        if obj in self.heap.state.poisoned:
            return f"may share memory with an array {self.heap.state.poisoned[obj]}"
        if obj.kind == "global":
            return "is an array of the module or closure (the gradient never changes it)"
        if obj.kind == "ambiguous":
            named = sorted({f"`{m.label}`" for m in obj.members if m.label} |
                           {f"`{r.label}`" for m in obj.members for r in m.roots() if r.label and r is not m})
            which = f"may be {' or '.join(named)} or another array" if named else "may be one of several arrays"
            return which + " (a branch, a loop or an index decides which when it runs)"
        if obj.kind == "view":
            return f"is a view of {describe(obj.base)} that gradc does not write back into"
        if obj.kind == "maybe":
            return f"may be a view of {describe(obj.base)} or a copy (NumPy decides by the layout when it runs)"
        return "is not an array gradc follows"

    def bind_name(self, name: str, value: Value) -> None:
        generated = getattr(self.stmt, "flag", False) or getattr(self.stmt, "returns", False)
        if value.hint is None or (value.temp and not generated):
            value.hint, value.temp = name, generated  # the user's name beats a helper's
        obj = self.obj(value)
        if not obj.label:
            obj.label = name
        self.env[name] = obj

    def augmented(self, target: ast.Name, value: Value, symbol: str = "+") -> None:
        """`x op= e` (lowered as `x = x op e`): a new binding of `x` where no other name, container or
        view sees its object or where it is a number; a write into it where it is an array others
        see (they see the update, as in Python)."""
        obj = self.env.get(target.id)
        if obj is None or obj.kind in ("immutable", "undefined") or \
                self.heap.private(obj, self.envs(), {(id(self.env), target.id)}):
            return self.bind_name(target.id, value)
        mutable = obj.mutable if obj.mutable is not None else self.is_array(self.peek(obj))
        if mutable is False:
            return self.bind_name(target.id, value)
        if mutable is None:  # (an array: they all see it; a number: none does): they may not read it
            if self.facts is None:
                self.root.kind_dependent = True
            for _, other in self.heap.references(self.envs()):
                if other.roots() & obj.roots():
                    self.heap.state.poisoned.setdefault(
                        other, f"updated by `{target.id} {symbol}=` at line {target.lineno} "
                        "(in place if it is an array, not if it is a number)")
            return self.bind_name(target.id, value)
        update = self.call(runtime.assign_item, [self.peek(obj), self.const(Ellipsis), value], target)
        self.write(obj, update, target, f"augmented assignment to `{target.id}`")

    def loop_items(self, stmt: ast.For, iterable: Value, state, env: dict) -> tuple[list[Value], Any]:
        """The region arguments a `for` loop binds each iteration, bound to their names in `env`:
        a `range`'s counters are numbers; an element of a display is one of its items; a row of an
        array a view of it whose index only the iteration knows (a maybe: written through, refused)."""
        items, pattern = _target_args(stmt.target)
        kinds: list[tuple[str, Value | None, tuple]] = []  # (kind, sequence, path of the leaf in an item)

        def element(sequence: Value | None, sub: Any) -> None:
            kinds.extend(("element", sequence, path) for path in _leaf_paths(sub))

        def walk(value: Value, sub: Any) -> None:
            owner = value.owner
            callee = owner.attrs.get("callee") if owner is not None and owner.kind == "call" and \
                not owner.kwnames else None
            if callee is reversed and len(owner.operands) == 1:
                return walk(owner.operands[0], sub)
            if callee is range:
                return kinds.extend(("counter", None, ()) for _ in _leaf_paths(sub))
            if callee is enumerate and isinstance(sub, tuple) and len(sub) == 2 and len(owner.operands) == 1:
                kinds.append(("counter", None, ()))
                return walk(owner.operands[0], sub[1])
            if callee is zip and isinstance(sub, tuple) and len(sub) == len(owner.operands):
                for operand, part in zip(owner.operands, sub):
                    walk(operand, part)
                return
            element(None if callee in (enumerate, zip) else value, sub)

        walk(iterable, pattern)
        saved = self.heap.state
        self.heap.state = state
        try:
            for item, (kind, sequence, path) in zip(items, kinds):
                if self.facts is not None:
                    self.facts[item] = self.element_fact(kind, sequence, path)
                if kind == "counter":
                    env[item.hint] = self.heap.new(item, "immutable", mutable=False, label=item.hint)
                    self.counters.add(item)
                    continue
                source = self.obj(sequence) if sequence is not None else None
                slots = state.slots.get(source) if source is not None else None
                if slots is not None and slots.known:  # (a leaf of an unpacked item: anything the items hold)
                    members = self.heap.reachable(slots.items) if path else frozenset(slots.items)
                    self.heap.new(item, "ambiguous", members=members, label=item.hint)
                elif source is None:
                    self.heap.new(item, "ambiguous", members=frozenset(), label=item.hint)
                elif source.kind == "immutable" or self.is_array(item) is False:
                    self.heap.new(item, "immutable", mutable=False, label=item.hint)
                else:
                    self.heap.new(item, "maybe", base=source, label=item.hint, mutable=self.is_array(item))
                env[item.hint] = self.heap.obj_of[item]
        finally:
            self.heap.state = saved
        return items, pattern

    def element_fact(self, kind: str, sequence: Value | None, path: tuple = ()) -> Abstract:
        """What is known of the leaf at `path` of each item of `sequence` (`W` in `for W, b in layers`)."""
        if kind == "counter":
            return Abstract(shape=(), integer=True, array=False)
        fact = self.facts.get(sequence, UNKNOWN) if sequence is not None else UNKNOWN
        if fact.shape:
            fact = Abstract(shape=fact.shape[1:], array=len(fact.shape) > 1, dtype=fact.dtype)
        elif fact.seq and all(f == fact.seq[0] for f in fact.seq):
            fact = fact.seq[0]
        else:
            return UNKNOWN
        for index in path:
            if fact.shape:
                fact = Abstract(shape=fact.shape[1:], array=len(fact.shape) > 1, dtype=fact.dtype)
            elif fact.seq is not None and index < len(fact.seq):
                fact = fact.seq[index]
            else:
                return UNKNOWN
        return fact

    def append(self, target: ast.Name, item: Value, node: ast.AST) -> None:
        """`items.append(x)`: one more item for a display; a new content for any other list."""
        obj = self.env[target.id]
        self.read(obj, target, target.id)
        slots = self.heap.state.slots.get(obj)
        if obj.kind == "container" and slots is not None and slots.known and obj.display == "list":
            self.heap.state.slots[obj] = Slots(None, slots.items + (self.obj(item),))
            return
        grown = self.emit("call", [self.peek(obj), item], node, hint=target.id, callee=runtime.list_append,
                          spelling=None, kwnames=())
        # (a list whose items are not known, an argument's among them: it may hold the item now)
        self.heap.state.slots[obj] = Slots(None, (slots.items if slots is not None else ()) + (self.obj(item),),
                                           known=False)
        self.write(obj, grown, target, f"appending to `{target.id}`")

    def pop_item(self, target: ast.Name, node: ast.AST) -> Value:
        """`items.pop()`: the last item (read first), and the list without it as the list's new content."""
        obj = self.env[target.id]
        current = self.read(obj, target, target.id)
        item = self.emit("getitem", [current, self.const(-1)], node)
        shorter = self.emit("call", [current], node, hint=target.id, callee=runtime.list_without_last, spelling=None,
                            kwnames=())
        slots = self.heap.state.slots.get(obj)
        if slots is not None and slots.known and slots.items:
            self.heap.state.slots[obj] = Slots(slots.keys, slots.items[:-1])
        self.write(obj, shorter, target, f"popping from `{target.id}`")
        return item

    def bind_item(self, target: ast.Subscript, value: Value) -> None:
        """`y[i] = v`: a new content of `y`'s object (written in place by the generated code where
        bufferization finds nothing reading the old one), seen by every name, container and view
        that reaches it; for a display, a new item (`items[0] = v`, `d["k"] = v`)."""
        name = target.value.id
        if name not in self.env:
            raise self.error(target, f"`{name}` is assigned an element before it is defined")
        obj = self.env[name]
        current = self.read(obj, target.value, name)
        index = self.lower_expr(target.slice)
        slots = self.heap.state.slots.get(obj)
        if obj.kind == "container" and slots is not None and slots.known:
            return self.set_item(obj, slots, index, value, target)
        update = self.call(runtime.assign_item, [current, index, value], target)
        update.hint = name
        self.write(obj, update, target, f"assigning to an element of `{name}`")

    def set_item(self, obj: Obj, slots: Slots, index: Value, value: Value, target: ast.Subscript) -> None:
        """`items[0] = v` or `d["k"] = v` on a list or dict display: the display with the item
        replaced (its items are then read statically, as from any display)."""
        ok, key = static_value(index)
        items = list(slots.items)
        if obj.record is not None:
            raise self.error(target, f"assigning to an item of `{obj.label}`, a {obj.record.__name__}, which has "
                             "fields, not items", "bind the new value to a name of its own and use that name")
        if obj.display == "dict":
            if not ok:
                raise self.error(target, "assigning to a dict item whose key is not a constant")
            keys = list(slots.keys)
            if key in keys:
                items[keys.index(key)] = self.obj(value)
            else:
                keys.append(key)
                items.append(self.obj(value))
            self.heap.state.slots[obj] = Slots(tuple(keys), tuple(items))
        elif obj.display == "list":
            if not ok or not isinstance(key, int) or not -len(items) <= key < len(items):
                raise self.error(target, "assigning to a list item whose index is not a constant within the list")
            items[key] = self.obj(value)
            self.heap.state.slots[obj] = Slots(None, tuple(items))
        else:
            raise self.error(target, "assigning to an item of a tuple")
        self.heap.poison(obj, f"changed at line {target.lineno}", self.envs())

    def bind(self, target: ast.expr, value: Value) -> None:
        if isinstance(target, ast.Subscript):
            return self.bind_item(target, value)
        if isinstance(target, ast.Name):
            return self.bind_name(target.id, value)
        assert isinstance(target, (ast.Tuple, ast.List))
        obj = self.obj(value)
        slots = self.heap.state.slots.get(obj)
        if slots is not None and slots.known and obj.display in ("tuple", "list") and \
                len(slots.items) == len(target.elts):
            items = [self.peek(o) for o in slots.items]  # unpack a display statically
        else:
            items = [self.emit("getitem", [value, self.const(i)], target) for i in range(len(target.elts))]
        for element, item in zip(target.elts, items):
            self.bind(element, item)

    # -- `+` and `*` of lists and tuples ----------------------------------------------------------
    def sequence_arithmetic(self, node: ast.BinOp, left: Value, right: Value) -> Value | None:
        """`a + b` of two lists or tuples, and `a * n` of one and an int: a new sequence holding the
        same objects (Python copies the list, not its items). Where the items and `n` are known
        here, a new display of them; else `operator.concat` or `repeat_items`, whose rules split the
        adjoint. None where this is arithmetic (no list, or a list with an array: NumPy's)."""
        if not isinstance(node.op, (ast.Add, ast.Mult)):
            return None
        objs = [self.obj(v) for v in (left, right)]
        kinds = [self.operand_kind(v, o) for v, o in zip((left, right), objs)]
        if "sequence" not in kinds:
            return None
        other = kinds[1] if kinds[0] == "sequence" else kinds[0]
        if other is None:  # (the arithmetic rules would take a list for an array: a wrong gradient)
            if self.facts is None:
                return None  # (compiled for any kinds, never run: `runtime.unbroadcast_to` refuses a list)
            unknown = ast.unparse(node.right if kinds[0] == "sequence" else node.left)
            raise self.error(node, f"`{ast.unparse(node)}` joins a list or tuple with `{unknown}`, which gradc "
                                   "cannot tell to be a list or an array here (a list rebound in a loop, or "
                                   "returned by a call)", "build the list with `append` instead")
        if isinstance(node.op, ast.Add):
            if other != "sequence":
                return None
            items = [self.known_items(o) for o in objs]
            if items[0] is not None and items[1] is not None and objs[0].display == objs[1].display:
                return self.new_display(objs[0].display, items[0] + items[1], node)
            return self.new_sequence(self.call(operator.concat, [left, right], node), objs)
        if other != "int":
            return None
        sequence, count = (0, right) if kinds[0] == "sequence" else (1, left)
        items = self.known_items(objs[sequence])
        ok, n = static_value(count)
        fact = self.facts.get(count, UNKNOWN) if self.facts is not None else UNKNOWN
        ok, n = (True, fact.value) if not ok and fact.known else (ok, n)
        if items is not None and ok:
            return self.new_display(objs[sequence].display, items * max(n, 0), node)
        value = self.call(runtime.repeat_items, [(left, right)[sequence], count], node)
        return self.new_sequence(value, [objs[sequence]])

    def operand_kind(self, value: Value, obj: Obj) -> str | None:
        """"sequence" (a list or tuple), "int", "array" (an array or another number), or None where
        that is not known here."""
        if self.is_sequence(value, obj):
            return "sequence"
        ok, constant = static_value(value)
        fact = self.facts.get(value, UNKNOWN) if self.facts is not None else UNKNOWN
        if ok or fact.known:  # (`fact.value`: exact for this call's argument kinds, `len(x)`)
            return _constant_kind(constant if ok else fact.value)
        if fact.integer and fact.shape == () and not fact.array:
            return "int"
        if fact.shape is not None or fact.array:
            return "array"
        return None

    def is_sequence(self, value: Value, obj: Obj) -> bool:
        if obj.kind == "container":
            return obj.display in ("list", "tuple")
        fact = self.facts.get(value, UNKNOWN) if self.facts is not None else UNKNOWN
        return fact.seq is not None and fact.seq_kind in ("list", "tuple")

    def known_items(self, obj: Obj) -> tuple | None:
        """The objects a list or tuple display holds, in order (None where they are not known)."""
        slots = self.heap.state.slots.get(obj)
        if obj.kind != "container" or slots is None or not slots.known:
            return None
        return slots.items

    def new_sequence(self, value: Value, operands: list[Obj]) -> Value:
        """`value`, a new list or tuple made at run time of the items of `operands`: it may hold
        whatever they hold (a write to one of those poisons it)."""
        held = [item for o in operands for item in self.heap.state.slots.get(o, Slots(None, ())).items]
        obj = self.heap.new(value, "container", display=operands[0].display or "list", mutable=True)
        self.heap.state.slots[obj] = Slots(None, tuple(dict.fromkeys(held)), known=False)
        return value

    def new_display(self, kind: str, items: tuple, node: ast.AST) -> Value:
        """A new list or tuple display holding the objects `items`."""
        value = self.emit(kind, [self.peek(o) for o in items], node)
        obj = self.heap.new(value, "container", display=kind, mutable=kind != "tuple")
        self.heap.state.slots[obj] = Slots(None, items)
        self.heap.state.made_from[obj] = tuple(value.owner.operands)
        return value


_INT_ARITHMETIC = (operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod, operator.neg)


def _constant_kind(constant: Any) -> str | None:
    """What `operand_kind` says of a constant operand."""
    if isinstance(constant, (list, tuple)):
        return "sequence"
    if isinstance(constant, (int, np.integer)) and not isinstance(constant, bool):
        return "int"
    if isinstance(constant, (float, complex, np.ndarray, np.generic)):
        return "array"
    return None


def _index_part(part: Any) -> str | None:
    """What one part of a constant index selects with (see `_Lowerer.index_parts`)."""
    if isinstance(part, slice) or part is None or part is Ellipsis:
        return "slice"
    if isinstance(part, (int, np.integer)) and not isinstance(part, bool):
        return "int"
    if isinstance(part, (list, np.ndarray)):
        return "array"
    return None


def _leaf_paths(pattern: Any, path: tuple = ()):
    """The position of each name of a loop target's pattern in the item (`(W, b)`: (0,), (1,))."""
    if pattern is None:
        yield path
    else:
        for index, sub in enumerate(pattern):
            yield from _leaf_paths(sub, path + (index,))


def _target_args(target: ast.expr) -> tuple[list[Value], Any]:
    """Region arguments for a loop target, and its shape: None for a name, a tuple for unpacking."""
    if isinstance(target, ast.Name):
        return [Value(target.id)], None
    args, pattern = [], []
    for element in target.elts:
        sub_args, sub_pattern = _target_args(element)
        args.extend(sub_args)
        pattern.append(sub_pattern)
    return args, tuple(pattern)
