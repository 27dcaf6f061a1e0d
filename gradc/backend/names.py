"""Out of SSA: which values are inlined, which share a Python variable, and its name.

Three steps, each needed for the generated code to be both right and readable:

1. Inlining. A temporary read once, by a later op of the same region and the
   same primal statement, becomes part of its reader's expression, so a primal
   statement comes out as the user wrote it.
2. Webs. The values a loop carries (initial value, the body's argument, what
   the body yields, the loop's result) are one Python variable when they do
   not interfere; so are the values a branch yields and the `if`'s result.
   Interference among these candidates is exact: liveness over the structured
   regions (a loop body's end flows back to its start) on what the emitted
   statements really read.
3. Names. Each web gets a name derived from the user's variable (`h`, `h_2`
   where two versions are needed at once), an adjoint `d<name>`, a temporary
   what computes it. Two webs share a name when their spans of the program
   (first definition to last read, a loop's whole body where a value crosses
   its back edge) do not overlap: a linear scan, so compiling stays linear in
   the size of the function.
"""
from __future__ import annotations

import builtins
import heapq
import keyword
import operator
from typing import Iterable

from ..ir.core import Function, Op, Region, Value, describe_value
from ..ir.effects import has_effect

__all__ = ["Layout"]

STRUCTURED = ("if", "for", "while")


_ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.truediv, operator.neg, operator.pow}


def _written_operand(op: Op) -> Value | None:
    """The operand whose array `op` updates in place (`a *= b`, `out=a`, `y[i] = v`), as
    bufferization decided (passes/bufferize.py); None for an op that writes nothing."""
    if op.attrs.get("inplace"):
        return op.operands[0]
    if op.attrs.get("out") is not None:
        return op.operands[op.attrs["out"]]
    return None


def _is_undefined(value: Value) -> bool:
    """A name not assigned on some path (lowering yields a None marker there)."""
    owner = value.owner
    return owner is not None and owner.kind == "const" and owner.attrs.get("undefined", False)


class Layout:
    """Inlining, liveness and names for one IR function."""

    def __init__(self, function: Function, reserved: set[str], user_names: set[str]):
        self.function = function
        self.uses: dict[Value, list[Op]] = {}
        self.region_of: dict[int, Region] = {}
        self.position: dict[int, int] = {}
        self.expression_ops: set[int] = set()  # ops inside boolop regions: always part of an expression
        self._collect(function.body, inside_expression=False)
        self.inlined: set[Value] = set()
        self._choose_inlined(function.body)
        self.interference: dict[Value, set[Value]] = {}
        self.def_order: dict[Value, int] = {}
        self.span: dict[int, tuple[int, int]] = {}
        self.enclosing: dict[int, tuple[Op, ...]] = {}
        self._number(function)  # program order: names go to the first definitions first
        self.horizon: dict[Value, int] = {}
        self._horizons(function.body)
        self.candidates = self._web_candidates()
        self._liveness_region(function.body, set(), define_args=False)
        self.names: dict[Value, str] = {}
        self.parent: dict[Value, Value] = {}
        self.groups: dict[Value, list[Value]] = {}
        self._webs()
        self._assign_names(reserved, user_names)

    # -- collecting uses ---------------------------------------------------------------------
    def _collect(self, region: Region, inside_expression: bool) -> None:
        for index, op in enumerate(region.ops):
            self.region_of[id(op)] = region
            self.position[id(op)] = index
            if inside_expression:
                self.expression_ops.add(id(op))
            for value in op.operands:
                self.uses.setdefault(value, []).append(op)
            for inner in op.regions:
                self._collect(inner, inside_expression or op.kind == "boolop")

    def _inlinable_into(self, value: Value, reader: Op) -> bool:
        index = reader.operands.index(value)
        if reader.kind == "yield":
            owner = self._owner_of_region(reader)
            # the stop flag of a loop (`if broke: break`) and a while loop's condition
            return owner is not None and (
                (owner.kind in ("for", "while") and owner.attrs.get("stop") and index == 0
                 and self.region_of[id(reader)] is owner.regions[-1])
                or (owner.kind == "while" and self.region_of[id(reader)] is owner.regions[0]))
        if reader.kind in ("if", "for"):
            return index == 0  # the condition, the iterable
        if reader.kind == "while":
            return False
        if reader.kind == "return":
            return value.owner.kind == "tuple"
        if reader.attrs.get("out") is not None and reader.operands[reader.attrs["out"]] is value:
            return False  # `np.add(y, y, out=y)` needs `y` named
        return not (reader.attrs.get("inplace") and index == 0)  # `a *= b` needs `a` named

    def _owner_of_region(self, op: Op) -> Op | None:
        region = self.region_of[id(op)]
        return self._region_owner.get(id(region))

    def _choose_inlined(self, region: Region) -> None:
        if not hasattr(self, "_region_owner"):
            self._region_owner: dict[int, Op] = {}
            for op in self.function.walk():
                for inner in op.regions:
                    self._region_owner[id(inner)] = op
        for op in region.ops:
            for inner in op.regions:
                self._choose_inlined(inner)
            if len(op.results) != 1 or has_effect(op) or op.kind in STRUCTURED or op.attrs.get("inplace") \
                    or op.attrs.get("out") is not None:
                continue  # (`a *= b`, `b = np.add(a, a, out=a)` are statements)
            value = op.result
            if op.kind == "const" or id(op) in self.expression_ops:
                self.inlined.add(value)
                continue
            if (value.hint is not None and not value.temp) or \
                    (value.adjoint_of is not None and not self._short_anonymous_adjoint(op)):
                continue
            readers = self.uses.get(value, [])
            if len(readers) != 1 or readers[0].operands.count(value) != 1:
                continue
            reader = readers[0]
            if self.region_of.get(id(reader)) is not region or \
                    self.position[id(reader)] <= self.position[id(op)]:
                continue
            if reader.stmt is op.stmt and reader.backward == op.backward and self._inlinable_into(value, reader) \
                    and not self._written_between(region, op, reader):
                self.inlined.add(value)

    def _short_anonymous_adjoint(self, op: Op) -> bool:
        """The adjoint of a temporary (`dprod` for the `prod` inside `x * y + z`) that is one
        arithmetic operation on named values (`dv * w`): read once, it goes into its reader's
        expression as the temporary itself would. The adjoint of a user's variable keeps its
        name (`dh`), and so does a longer one (`dmm = unbroadcast(dz, mm)` shows a step)."""
        primal = op.result.adjoint_of
        if primal.owner is None or (primal.hint is not None and not primal.temp):
            return False
        if op.kind != "call" or op.attrs.get("callee") not in _ARITHMETIC or op.attrs.get("kwnames"):
            return False
        return not any(v in self.inlined and v.owner is not None and v.owner.kind != "const" for v in op.operands)

    def _written_between(self, region: Region, op: Op, reader: Op) -> bool:
        """Whether an op between `op` and its reader writes into an array `op`'s expression reads:
        inlined, the expression would run after the write (`dw = np.multiply(g, x, out=g)` before
        `dx += g * w`)."""
        start, end = self.position[id(op)], self.position[id(reader)]
        written = [w for w in map(_written_operand, region.ops[start + 1:end]) if w is not None]
        if not written:
            return False
        read, stack = set(), list(op.operands)
        while stack:
            value = stack.pop()
            read.add(value)
            if value in self.inlined and value.owner is not None:
                stack.extend(value.owner.operands)
        buffers = getattr(self.function, "buffers", None)
        if buffers is None:
            return any(w in read for w in written)
        classes = {buffers.find(v) for v in buffers.held(read)}  # (anything sharing an array it reads)
        return any(buffers.find(w) in classes for w in written)

    # -- liveness ----------------------------------------------------------------------------
    def reads(self, op: Op, operands: Iterable[Value] | None = None) -> set[Value]:
        """The named values an op's statement reads (through the expressions inlined into it)."""
        found: set[Value] = set()
        stack = list(op.operands if operands is None else operands)
        if op.kind == "boolop" and operands is None:
            stack += [v for region in op.regions for inner in region.walk() for v in inner.operands]
        while stack:
            value = stack.pop()
            if value in self.inlined:
                owner = value.owner
                stack.extend(owner.operands)
                if owner.kind == "boolop":
                    stack.extend(v for region in owner.regions for inner in region.walk() for v in inner.operands)
            else:
                found.add(value)
        return found

    def _number(self, function: Function) -> None:
        """Positions in program order: each op a start (and, holding regions, an end); a
        value's definition at its op's start, a region's arguments at the region's entry."""
        order = self.def_order
        counter = iter(range(1 << 62))
        for param in function.params:
            order[param] = next(counter)

        def visit(region: Region, loops: tuple[Op, ...]) -> None:
            entry = next(counter)
            for arg in region.args:
                order[arg] = entry
            for op in region.ops:
                start = next(counter)
                self.enclosing[id(op)] = loops
                inner_loops = loops + (op,) if op.kind in ("for", "while") else loops
                for inner in op.regions:
                    visit(inner, inner_loops)
                end = next(counter) if op.regions else start
                self.span[id(op)] = (start, end)
                for result in op.results:
                    order[result] = start  # (a structured op's copies happen anywhere inside it)

        visit(function.body, ())

    def _read_at(self, value: Value, op: Op) -> None:
        """`op`'s statement reads `value`: it lives until then, and through every enclosing loop
        it was defined outside of (the next iteration reads it again)."""
        position = self.span[id(op)][0]
        defined = self.def_order.get(value, -1)
        for loop in reversed(self.enclosing[id(op)]):
            start, end = self.span[id(loop)]
            if start < defined <= end:
                break
            position = max(position, end)
        if position > self.horizon.get(value, -1):
            self.horizon[value] = position

    def _horizons(self, region: Region) -> None:
        for op in region.ops:
            if (op.results and op.results[0] in self.inlined) or id(op) in self.expression_ops:
                continue
            if op.kind == "if":
                reads = self.reads(op, op.operands[:1])
            else:
                reads = self.reads(op)
            for value in reads:
                self._read_at(value, op)
            if op.kind in STRUCTURED:
                end = self.span[id(op)][1]
                for result in op.results:  # the variable is written by copies anywhere inside
                    self.horizon[result] = max(self.horizon.get(result, -1), end)
            for inner in op.regions:
                self._horizons(inner)

    def _web_candidates(self) -> set[Value]:
        """The values some web may merge: only these need exact interference."""
        found: set[Value] = set()
        for op in self.function.walk():
            if op.kind in STRUCTURED:
                found.update(op.results)
                found.update(op.operands[0 if op.kind == "while" else 1:])
                for region in op.regions:
                    found.update(region.args)
                    found.update(region.ops[-1].operands)
            elif op.attrs.get("inplace"):
                found.update((op.operands[0], op.result))
        return found

    def _define(self, value: Value, live_after: set[Value] | None = None) -> None:
        if value not in self.candidates:
            return
        mine = self.interference.setdefault(value, set())
        for other in live_after or ():
            if other is not value:
                mine.add(other)
                self.interference.setdefault(other, set()).add(value)

    def _liveness_region(self, region: Region, live_out: set[Value], define_args: bool = True) -> set[Value]:
        live = set(live_out)
        for op in reversed(region.ops):
            live = self._transfer(op, live)
        if define_args:
            args = set(region.args)
            for arg in region.args:
                # A loop's unread carried value may share a variable with the loop's item: the
                # target assignment of `for i in ...` then is the carried value, as in the source.
                self._define(arg, live if arg in live else live - args)
        return live - set(region.args)

    def _candidate_reads(self, op: Op, operands: Iterable[Value] | None = None) -> set[Value]:
        return self.reads(op, operands) & self.candidates

    def _transfer(self, op: Op, live_after: set[Value]) -> set[Value]:
        """Liveness of the web candidates only (the rest is covered by spans)."""
        if op.results and op.results[0] in self.inlined:
            return live_after
        if op.kind == "yield":
            return live_after | self._candidate_reads(op)
        if op.kind not in STRUCTURED:
            for result in op.results:
                self._define(result, live_after)
            if not self.candidates:
                return live_after
            return (live_after - set(op.results)) | self._candidate_reads(op)
        for result in op.results:
            self._define(result, live_after)
        after = live_after - set(op.results)
        if op.kind == "if":
            live = set()
            for region in op.regions:
                live |= self._liveness_region(region, after)
            return live | self._candidate_reads(op, op.operands[:1])
        if op.kind == "for":
            body_in: set[Value] = set()
            while True:
                new = self._liveness_region(op.regions[0], after | body_in)
                if new <= body_in:
                    break
                body_in |= new
            return after | body_in | self._candidate_reads(op)
        # while: condition, then body, then condition again
        cond_region, body = op.regions
        body_in: set[Value] = set()
        while True:
            cond_in = self._liveness_region(cond_region, after | body_in)
            new = self._liveness_region(body, cond_in)
            if new <= body_in:
                break
            body_in |= new
        return cond_in | self._candidate_reads(op)

    # -- webs and names ----------------------------------------------------------------------
    def find(self, value: Value) -> Value:
        root = value
        while self.parent.get(root, root) is not root:
            root = self.parent[root]
        if root is not value:
            self.parent[value] = root
        return root

    def members(self, root: Value) -> list[Value]:
        return self.groups.get(root, [root])

    def _compatible(self, a: Value, b: Value) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra is rb:
            return True
        group_b = set(self.members(rb))
        return not any(self.interference.get(x, set()) & group_b for x in self.members(ra))

    def _meaning(self, root: Value) -> set:
        """What the variable of a web stands for: a user's variable, the adjoint of one."""
        meanings = set()
        for value in self.members(root):
            if value.hint and not value.temp:
                meanings.add(("var", value.hint))
            elif value.adjoint_of is not None:
                primal = value.adjoint_of
                meanings.add(("adjoint", primal.hint if primal.hint and not primal.temp else id(primal)))
        return meanings

    def _union(self, a: Value, b: Value, check: bool = True) -> bool:
        if a in self.inlined or b in self.inlined or _is_undefined(a) or _is_undefined(b):
            return False
        if a not in self.def_order or b not in self.def_order:
            return False
        if check and not self._compatible(a, b):
            return False
        if check:  # `dx = dz` reads better than one variable that is first dz, then dx
            meaning_a, meaning_b = self._meaning(self.find(a)), self._meaning(self.find(b))
            if meaning_a and meaning_b and meaning_a != meaning_b:
                return False
        ra, rb = self.find(a), self.find(b)
        if ra is not rb:
            first, second = sorted((ra, rb), key=self.def_order.__getitem__)
            self.parent[second] = first
            self.groups[first] = self.members(first) + self.members(second)
            self.groups.pop(second, None)
        return True

    def _webs(self) -> None:
        ops = [op for op in self.function.walk() if op.kind in STRUCTURED]
        for op in ops:  # what must be one variable: a loop's arguments and its results
            if op.kind == "for":
                body = op.regions[0]
                carried = body.args[op.attrs.get("n_items", 0):]
                for arg, result in zip(carried, op.results):
                    self._union(arg, result, check=False)
            elif op.kind == "while":
                cond_region, body = op.regions
                for a, b, result in zip(cond_region.args, body.args, op.results):
                    self._union(a, b, check=False)
                    self._union(a, result, check=False)
        for op in self.function.walk():  # written in place (`y[i] = v`, `dx += c`): the old variable
            if op.attrs.get("inplace") and op.operands[0] not in self.inlined and op.results:
                self._union(op.operands[0], op.result)
        for op in ops:  # what may be: yields and initial values, where nothing interferes
            if op.kind == "if":
                for region in op.regions:
                    for value, result in zip(region.ops[-1].operands, op.results):
                        self._union(result, value)
                continue
            body = op.regions[-1]
            stop = 1 if op.attrs.get("stop") else 0
            carried_args = body.args[op.attrs.get("n_items", 0):] if op.kind == "for" else body.args
            inits = op.operands[1:] if op.kind == "for" else op.operands
            for value, arg in zip(body.ops[-1].operands[stop:], carried_args):
                self._union(arg, value)
            for init, arg in zip(inits, carried_args):
                self._union(arg, init)

    def _base_name(self, root: Value) -> str:
        members = self.members(root)
        for value in members:
            if value in self.function.params:
                return value.hint
        for value in members:
            if value.hint and not value.temp:
                return value.hint
        for value in members:
            if value.adjoint_of is not None:
                primal = value.adjoint_of
                if primal in self.names:
                    return "d" + self.names[primal]
                described = describe_value(primal)
                # `dz` must not also name the adjoint of a temporary `1.0 + z * z` when `z` is the user's
                # (nor the adjoint of a temporary named like another value the code already shows:
                # `dtotal` for `np.sum(y * p)` where `total` is a softmax's denominator)
                clash = (primal.hint is None or primal.temp) and \
                    (described in self.user_names or described in getattr(self, "_assigned", ()))
                return "d" + described + ("_t" if clash else "")
        for value in members:
            if value.hint:
                return value.hint
        receiver = root.owner.operands[0] if root.owner is not None and root.owner.operands else None
        return describe_value(root, self.names.get(receiver) if receiver is not None else None)

    def _hull(self, members: list[Value]) -> tuple[int, int]:
        start = min(self.def_order[v] for v in members)
        end = max(max(self.horizon.get(v, -1), self.def_order[v]) for v in members)
        return start, end

    def _assign_names(self, reserved: set[str], user_names: set[str]) -> None:
        self.user_names = user_names
        taken = set(reserved) | set(keyword.kwlist) | set(dir(builtins))
        busy_until: dict[str, int] = {}  # name → the last position a web holding it is needed at
        suffixed: dict[str, list] = {}  # base → heap of (busy until, k) of the names base_k in use
        self._last_k: dict[str, int] = {}
        self._assigned = busy_until  # (the names given so far)
        roots: dict[Value, None] = {}
        for value in sorted(self.def_order, key=self.def_order.__getitem__):
            if value in self.inlined or _is_undefined(value):
                continue
            owner = value.owner
            if owner is not None and owner.kind not in STRUCTURED and not self.uses.get(value):
                continue  # an effect's unused result (`check_scalar(loss)`)
            roots.setdefault(self.find(value), None)
        spans = {root: self._hull(self.members(root)) for root in roots}
        for root in sorted(roots, key=lambda r: spans[r][0]):
            members = self.members(root)
            start, end = spans[root]
            base = self._base_name(root)
            is_user = any(v.hint == base and not v.temp for v in members)
            is_param = any(v in self.function.params for v in members)
            name = self._free_name(base, start, end, busy_until, suffixed, taken, user_names, is_user, is_param)
            for value in members:
                self.names[value] = name

    @staticmethod
    def _usable(name: str, taken: set[str], user_names: set[str], is_user: bool) -> bool:
        if name in taken and not (is_user and name in user_names):
            return False
        return is_user or name not in user_names

    def _free_name(self, base: str, start: int, end: int, busy_until: dict[str, int], suffixed: dict[str, list],
                   taken: set[str], user_names: set[str], is_user: bool, is_param: bool) -> str:
        name = self._pick_name(base, start, busy_until, suffixed, taken, user_names, is_user, is_param)
        assert busy_until.get(name, -1) <= start, name  # never two values alive under one name
        busy_until[name] = end
        if name != base:
            heapq.heappush(suffixed[base], (end, int(name.rsplit("_", 1)[1])))
        return name

    def _pick_name(self, base: str, start: int, busy_until: dict[str, int], suffixed: dict[str, list],
                   taken: set[str], user_names: set[str], is_user: bool, is_param: bool) -> str:
        """`base` if it is free from `start` on, else the `base_k` free soonest (a heap: linear
        overall even where thousands of versions of one variable are alive at once)."""
        if (is_param or self._usable(base, taken, user_names, is_user)) and busy_until.get(base, -1) <= start:
            return base  # `dx = dx + c` may reuse the name it reads
        heap = suffixed.setdefault(base, [])
        # A heap entry may be stale: `dy_2` also names the adjoint of `y_2` (another base).
        while heap and heap[0][0] <= start and busy_until.get(f"{base}_{heap[0][1]}", -1) > heap[0][0]:
            _, k = heapq.heappop(heap)
            heapq.heappush(heap, (busy_until[f"{base}_{k}"], k))
        if heap and heap[0][0] <= start:
            _, k = heapq.heappop(heap)
        else:
            k = self._last_k.get(base, 1) + 1
            while not self._usable(f"{base}_{k}", taken, user_names, is_user) or \
                    busy_until.get(f"{base}_{k}", -1) > start:
                k += 1
            self._last_k[base] = k
        return f"{base}_{k}"
