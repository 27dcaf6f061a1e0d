"""Lowering `if`, `for`, `while` and conditional expressions: what leaves a branch or a loop.

A branch or a loop body starts from a copy of the heap (`objects.py`) and the names; what it
hands on is found by comparing its end with its start:

- the content of an object that stays the same object (`y[i] = v` in a loop: `y`'s array);
- the object behind names and container items rebound there. Names that refer to the same
  objects on every path stay one object after the merge (`t = y` in both branches); a new
  object stands for them, *private* when nothing else reached those objects, else ambiguous;
- a container whose items changed in number is, after the merge, one whose items are not known.

A loop body is lowered again until what it was lowered for (which objects it carries, which
names it rebinds, what is poisoned at its start, the shapes of its carried values) is what it
does: the first lowering assumes the syntactically assigned names are rebound to private
objects, and each further one adds what the previous found.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from ..analysis.shapes import UNKNOWN, widen
from ..ir.core import Op, Region, Value, static_value
from ..ir.statements import raises
from .objects import Obj, Slots, State

__all__ = ["ControlFlow", "stored_names"]

_MAX_LOWERINGS = 12
_NONE = Slots(None, (), known=False)  # (what a list whose items gradc never saw holds, as far as it knows)


@dataclass(eq=False)
class Carried:
    """One thing a branch or loop hands on: the content of `obj`, or the object behind the
    `names` of this lowerer's env and the container `slots` ((container, index), ...)."""

    obj: Obj | None = None
    names: tuple = ()
    slots: tuple = ()
    private: bool = True  # (for names and slots: the object standing for them after the merge)
    merged: Obj | None = None
    poisoned: str | None = None  # (a loop's: the write that poisons what it stands for, at the top)
    held: tuple = ()  # (a loop's container: objects from before the loop its body may add to it)

    def hint(self) -> str:
        if self.obj is not None:
            return self.obj.label or "t"
        return self.names[0] if self.names else "item"


@dataclass
class _Plan:
    """What a loop body is lowered for (see the module docstring)."""

    carried: list[Carried] = field(default_factory=list)
    poisoned: dict = field(default_factory=dict)
    unknown_facts: set = field(default_factory=set)  # (indices of carried values of unknown shape)


class ControlFlow:
    """The statements with regions, for `_Lowerer` (lower.py)."""

    # -- regions --------------------------------------------------------------------------------
    def lower_region(self, region: Region, stmts: list, state: State, env: dict) -> tuple[State, dict]:
        """Lower `stmts` into `region` from `state` and `env`; the state and env at its end."""
        saved = self.region, self.env, self.heap.state
        self.region, self.env, self.heap.state = region, dict(env), state.copy()
        try:
            self.lower_block(stmts)
            return self.heap.state, self.env
        finally:
            self.region, self.env, self.heap.state = saved

    def at(self, region: Region, state: State, env: dict, work):
        """Run `work()` with `region`, `state` and `env` current (to emit into a branch's end)."""
        saved = self.region, self.env, self.heap.state
        self.region, self.env, self.heap.state = region, env, state
        try:
            return work()
        finally:
            self.region, self.env, self.heap.state = saved

    def close(self, region: Region, values: list[Value], node: ast.AST) -> None:
        region.append(Op("yield", values, [], {}, [], self.parsed.loc(node), self.stmt))

    def undefined(self, node: ast.AST | None) -> Value:
        """The value of a name not assigned on this path: never read, so never emitted."""
        return self.emit("const", [], node, value=None, spelling=None, undefined=True)

    # -- what changed ---------------------------------------------------------------------------
    def changes(self, start: State, env: dict, ends: list[tuple[State, dict]]) -> list[Carried]:
        """What must leave branches or a loop body ending in `ends`, started from `start`, `env`."""
        carried: list[Carried] = []
        for obj in list(start.content):
            if obj.kind == "view" or (obj.kind == "container" and start.slots[obj].known):
                continue  # (made again from what they are made of)
            if any(state.content.get(obj) is not start.content[obj] for state, _ in ends):
                carried.append(Carried(obj=obj))
        groups: dict[tuple, Carried] = {}
        names = dict.fromkeys(n for e in [env] + [e for _, e in ends] for n in e)
        for name in names:
            objs = (env.get(name),) + tuple(e.get(name) for _, e in ends)
            if any(o is not objs[0] for o in objs[1:]):
                groups.setdefault(objs, Carried()).names += (name,)
        for container, slots in start.slots.items():
            found = [state.slots.get(container, slots) for state, _ in ends]
            if all(f == slots for f in found):
                continue
            if not slots.known or any(not f.known or len(f.items) != len(slots.items) or f.keys != slots.keys
                                      for f in found):
                carried.append(Carried(obj=container))  # (its items are not known any more)
                continue
            for index, obj in enumerate(slots.items):
                objs = (obj,) + tuple(f.items[index] for f in found)
                if any(o is not objs[0] for o in objs[1:]):
                    groups.setdefault(objs, Carried()).slots += ((container, index),)
        return carried + list(groups.values())

    def end_object(self, carried: Carried, state: State, env: dict) -> Obj | None:
        """The object a name group refers to at the end of a branch or body (None: undefined)."""
        if carried.names:
            return env.get(carried.names[0])
        container, index = carried.slots[0]
        return state.slots[container].items[index]

    def references_of(self, carried: Carried, env: dict) -> set:
        return {(id(env), name) for name in carried.names} | set(carried.slots)

    def value_at_end(self, carried: Carried, state: State, env: dict, node: ast.AST) -> Value:
        """The value `carried` hands on at the end of a branch or body (emitted there)."""
        if carried.obj is not None:
            if carried.obj.kind == "container" and state.slots[carried.obj].known:
                return self.peek(carried.obj)
            return state.content[carried.obj]
        obj = self.end_object(carried, state, env)
        if obj is None or obj.kind == "undefined":
            return self.undefined(node)
        return self.peek(obj)

    def install(self, carried: Carried, value: Value, sources: list[Obj | None], ends: list[State]) -> None:
        """After the merge of branches ending in `ends`: `carried` holds `value` (their result)."""
        state = self.heap.state
        if carried.obj is not None:
            self.heap.set(carried.obj, value)
            if any(carried.obj in s.slots for s in [state] + ends):  # (it may hold what any branch put in it)
                held = [obj for end in ends for obj in end.slots.get(carried.obj, _NONE).items]
                state.slots[carried.obj] = state.slots.get(carried.obj, _NONE).widened(held)
            return
        merged = carried.merged
        if merged is None:
            defined = [o for o in sources if o is not None and o.kind != "undefined"]
            mutable = {o.mutable for o in defined}
            if carried.private:
                merged = Obj("array" if defined and all(o.kind != "immutable" for o in defined) else "immutable",
                             mutable=mutable.pop() if len(mutable) == 1 else None)
            else:
                merged = Obj("ambiguous", members=frozenset(defined))
            merged.label = carried.hint()
        self.heap.set(merged, value)
        for name in carried.names:
            self.env[name] = merged
        for container, index in carried.slots:
            old = state.slots[container]
            items = list(old.items)
            items[index] = merged
            state.slots[container] = Slots(old.keys, tuple(items), old.known)

    def private_everywhere(self, carried: Carried, ends: list[tuple[State, dict]]) -> bool:
        """Whether, at every end, only `carried`'s own references reach the object it refers to."""
        for state, env in ends:
            obj = self.end_object(carried, state, env)
            if obj is None:
                continue
            saved = self.heap.state
            self.heap.state = state
            try:
                if not self.heap.private(obj, [env] + self.envs()[1:], self.references_of(carried, env)):
                    return False
            finally:
                self.heap.state = saved
        return True

    # -- if ---------------------------------------------------------------------------------------
    def lower_if(self, stmt: ast.If) -> None:
        cond = self.lower_expr(stmt.test)
        ok, value = static_value(cond)
        if ok and isinstance(value, (bool, int, float, type(None))):  # `if act:` with a constant `act`
            self.lower_block(stmt.body if value else stmt.orelse)
            return
        start, env = self.heap.state, self.env
        regions = [Region(), Region()]
        ends = [self.lower_region(r, body, start, env) for r, body in zip(regions, (stmt.body, stmt.orelse))]
        self.merge_branches(cond, regions, ends, stmt)

    def merge_branches(self, cond: Value, regions: list[Region], ends: list[tuple[State, dict]],
                       node: ast.AST) -> list[Value]:
        """Close the branches with what changed in them and append the `if`; returns its results."""
        start, env = self.heap.state, self.env
        # (a branch that raises hands nothing on: what follows sees the other branch's end)
        going_on = [not raises(r) for r in regions] if not all(raises(r) for r in regions) else [True] * len(ends)
        ends_on = [end for end, on in zip(ends, going_on) if on]
        carried = self.changes(start, env, ends_on)
        for c in carried:
            if c.obj is None:
                c.private = self.private_everywhere(c, ends_on)
        for region, (state, end_env), on in zip(regions, ends, going_on):
            values = self.at(region, state, end_env, lambda: [self.value_at_end(c, state, end_env, node) if on
                                                              else self.undefined(node) for c in carried])
            self.close(region, values, node)
        results = [Value(c.hint()) for c in carried]
        self.region.append(Op("if", [cond], results, {}, regions, self.parsed.loc(node), self.stmt))
        sources = [[self.end_object(c, s, e) if c.obj is None else None for s, e in ends_on] for c in carried]
        self.heap.state = start.copy()
        for state, _ in ends_on:
            for obj, why in state.poisoned.items():
                self.heap.state.poisoned.setdefault(obj, why)
        for c, result, objs in zip(carried, results, sources):
            self.install(c, result, objs, [state for state, _ in ends_on])
            self.join_facts(result, [r.ops[-1].operands[carried.index(c)] for r, on in zip(regions, going_on) if on])
        return results

    def expr_IfExp(self, node: ast.IfExp) -> Value:
        if self.rule_mode:
            return self.lower_expr(node.body if self.static_truth(node.test) else node.orelse)
        cond = self.lower_expr(node.test)
        ok, value = static_value(cond)
        if ok and isinstance(value, (bool, int, float, type(None))):
            return self.lower_expr(node.body if value else node.orelse)
        regions, values, ends = [], [], []
        for branch in (node.body, node.orelse):
            region = Region()
            saved = self.region, self.heap.state
            self.region, self.heap.state = region, self.heap.state.copy()
            try:
                values.append(self.lower_expr(branch))
                ends.append(self.heap.state)
            finally:
                self.region, self.heap.state = saved
            regions.append(region)
        if any(self.changes(self.heap.state, self.env, [(state, self.env)]) for state in ends):
            raise self.error(node, "a conditional expression whose branch updates an array in place",
                             "write an `if` statement instead")
        for region, value in zip(regions, values):
            self.close(region, [value], node)
        result = self.emit("if", [cond], node, regions=regions)
        objs = [self.obj(v) for v in values]
        mine = set()
        private = all(self.heap.private(o, self.envs(), mine) for o in objs)
        if objs[0] is objs[1]:
            self.heap.set(objs[0], result)  # (the same object either way)
        elif private:
            self.heap.new(result, "array", mutable=self.is_array(result))
        else:
            self.heap.new(result, "ambiguous", members=frozenset(objs))
        self.join_facts(result, values)
        return result

    # -- loops ------------------------------------------------------------------------------------
    def lower_for(self, stmt: ast.For) -> None:
        view = stmt.iter
        if isinstance(view, ast.Call) and isinstance(view.func, ast.Attribute) and not view.args and \
                view.func.attr in ("keys", "values", "items"):
            view.dict_view = view.func.attr != "values"  # (`for k, v in d.items()`: each key a constant)
        outer, self.consumed_at_once = self.consumed_at_once, True
        try:
            iterable = self.iterable(stmt.iter)
        finally:
            self.consumed_at_once = outer
        items = self.unrolled_items(stmt, iterable)
        if items is not None:
            return self.lower_unrolled(stmt, items)
        self.lower_loop(stmt, [iterable])

    def lower_while(self, stmt: ast.While) -> None:
        self.lower_loop(stmt, [])

    def lower_loop(self, stmt: ast.For | ast.While, operands: list[Value]) -> None:
        """A `for` or `while` loop (see the module docstring for the lowerings until it settles)."""
        start, env = self.heap.state, self.env
        plan = _Plan([Carried(names=(n,)) for n in sorted(stored_names(stmt.body, stmt))])
        for attempt in range(_MAX_LOWERINGS):
            lowered = self.lower_loop_once(stmt, operands, plan, start, env)
            better = self.revised(plan, lowered, start, env)
            if better is None:
                return self.finish_loop(stmt, operands, plan, lowered, start)
            plan = better
            self.heap.state, self.env = start, env
        raise self.error(stmt, "gradc cannot tell which arrays this loop updates",
                         "simplify the aliasing in the loop (copy the arrays it updates)")

    def head(self, plan: _Plan, start: State, env: dict, hints: bool = True) -> tuple[State, dict, list[Value]]:
        """The state and env at the top of the body: each carried thing is a new region argument."""
        state, env = start.copy(), dict(env)
        state.poisoned.update(plan.poisoned)
        args = []
        saved = self.heap.state
        self.heap.state = state
        try:
            for index, c in enumerate(plan.carried):
                arg = Value(c.hint())
                args.append(arg)
                if c.obj is not None:
                    self.heap.set(c.obj, arg)
                    if c.obj in state.slots or c.held:  # (what earlier iterations may have put in it)
                        state.slots[c.obj] = state.slots.get(c.obj, _NONE).widened(c.held)
                else:
                    members = frozenset() if c.private else frozenset(self.entry_objects(c, start, env))
                    c.merged = Obj("array" if c.private else "ambiguous", label=c.hint(), members=members)
                    self.heap.set(c.merged, arg)
                    if c.poisoned is not None:
                        state.poisoned[c.merged] = c.poisoned
                    for name in c.names:
                        env[name] = c.merged
                    for container, position in c.slots:
                        old = state.slots[container]
                        items = list(old.items)
                        items[position] = c.merged
                        state.slots[container] = Slots(old.keys, tuple(items), old.known)
        finally:
            self.heap.state = saved
        return state, env, args

    def entry_objects(self, carried: Carried, start: State, env: dict) -> list[Obj]:
        objs = [env.get(n) for n in carried.names] + [start.slots[c].items[i] for c, i in carried.slots]
        return [o for o in objs if o is not None and o.kind != "undefined"]

    def lower_loop_once(self, stmt, operands: list[Value], plan: _Plan, start: State, env: dict) -> dict:
        """One lowering of the loop's body (and condition) for `plan`."""
        is_for = isinstance(stmt, ast.For)
        head_state, head_env, args = self.head(plan, start, env)
        self.seed_facts(plan, args, start, env)
        lowered: dict[str, Any] = {"args": args, "head": (head_state, head_env)}
        body_state, body_env = head_state, head_env
        if is_for:  # (the items are bound at the top of each iteration, not before the loop)
            body_state, body_env = head_state.copy(), dict(head_env)
            items, pattern = self.loop_items(stmt, operands[0], body_state, body_env)
            lowered.update(items=items, pattern=pattern)
            body = Region(items + args)
        else:
            cond_args = [Value(a.hint) for a in args]
            cond_region = Region(cond_args)
            cond_state, cond_env = head_state.copy(), dict(head_env)
            for c, arg, cond_arg in zip(plan.carried, args, cond_args):
                target = c.obj if c.obj is not None else c.merged
                cond_state.content[target] = cond_arg
                self.heap.obj_of.setdefault(cond_arg, target)
            saved = self.region, self.env, self.heap.state
            self.region, self.env, self.heap.state = cond_region, cond_env, cond_state
            try:
                test = self.lower_expr(stmt.test)
                after_test = self.heap.state
            finally:
                self.region, self.env, self.heap.state = saved
            if self.changes(cond_state, cond_env, [(after_test, cond_env)]):
                raise self.error(stmt.test, "a `while` condition that updates an array in place",
                                 "update it in the loop body")
            self.close(cond_region, [test], stmt.test)
            lowered["cond"] = cond_region
            body = Region(args)
        end_state, end_env = self.lower_region(body, stmt.body, body_state, body_env)
        lowered.update(body=body, end=(end_state, end_env))
        return lowered

    def revised(self, plan: _Plan, lowered: dict, start: State, env: dict) -> _Plan | None:
        """A plan that covers what the body did, or None when `plan` already does."""
        head_state, head_env = lowered["head"]
        end_state, end_env = lowered["end"]
        changed = False
        known_objs = {c.obj for c in plan.carried if c.obj is not None}
        merged = {c.merged: c for c in plan.carried if c.merged is not None}
        carried = [Carried(obj=c.obj, names=c.names, slots=c.slots, private=c.private, poisoned=c.poisoned,
                           held=c.held) for c in plan.carried]
        for c in self.changes(head_state, head_env, [(end_state, end_env)]):
            if c.obj is not None and c.obj not in known_objs and c.obj not in merged:
                carried.append(Carried(obj=c.obj))
                changed = True
            elif c.obj is None:
                covered = [p for p in carried if p.obj is None and (set(c.names) & set(p.names) or
                                                                     set(c.slots) & set(p.slots))]
                if not covered:
                    carried.append(Carried(names=c.names, slots=c.slots))
                    changed = True
        changed = self.widen_held(carried, start, head_state, end_state) or changed
        # A group whose references part ways at the end, or whose object is not private, is revised.
        for c in list(carried):
            if c.obj is not None:
                continue
            ends = {self.end_object(Carried(names=(n,)), end_state, end_env) for n in c.names} | \
                {end_state.slots[k].items[i] if k in end_state.slots else None for k, i in c.slots}
            if len(ends) > 1:
                carried.remove(c)
                for name in c.names:
                    carried.append(Carried(names=(name,), private=False))
                for slot in c.slots:
                    carried.append(Carried(slots=(slot,), private=False))
                changed = True
            elif c.private and not (self.private_everywhere(c, [(end_state, end_env)]) and
                                    all(self.heap.private(o, [env] + self.envs()[1:], self.references_of(c, env))
                                        for o in self.entry_objects(c, start, env))):
                c.private = False
                changed = True
        poisoned = dict(plan.poisoned)  # (what is poisoned at the end is poisoned at the top: the next time)
        for obj, why in end_state.poisoned.items():
            if obj in start.content and obj not in poisoned:
                poisoned[obj] = why
                changed = True
            elif obj in merged:
                stands_for = merged[obj]
                for c in carried:
                    same = (c.names, c.slots) == (stands_for.names, stands_for.slots)
                    if c.obj is None and c.poisoned is None and same:
                        c.poisoned = why
                        changed = True
        unknown = set(plan.unknown_facts) | self.unsettled_facts(plan, lowered)
        changed = changed or unknown != plan.unknown_facts
        return _Plan(carried, poisoned, unknown) if changed else None

    def widen_held(self, carried: list[Carried], start: State, head: State, end: State) -> bool:
        """Whether a carried container holds at the end of the body an array from before the loop
        (or a view of one) that it did not hold at the top: the next iteration starts with it held,
        so that a write to that array poisons the container. (What the body made is reached in a
        later iteration only through the container itself or a name the loop carries, which is then
        not private: writes through either are refused.)"""
        changed = False
        for c in carried:
            if c.obj is None or c.obj not in end.slots:
                continue
            held = head.slots.get(c.obj, _NONE).items
            new = [root for obj in end.slots[c.obj].items if obj not in held for root in obj.roots()
                   if root in start.content and root not in held and root not in c.held]
            if new:
                c.held += tuple(dict.fromkeys(new))
                changed = True
        return changed

    def finish_loop(self, stmt, operands: list[Value], plan: _Plan, lowered: dict, start: State) -> None:
        is_for = isinstance(stmt, ast.For)
        end_state, end_env = lowered["end"]
        body = lowered["body"]
        stop = self.at(body, end_state, end_env, lambda: self.stop_value(stmt))
        values = self.at(body, end_state, end_env,
                         lambda: [self.value_at_end(c, end_state, end_env, stmt) for c in plan.carried])
        self.close(body, stop + values, stmt)
        head_state, head_env = lowered["head"]
        inits = [self.initial_value(c, start, stmt) for c in plan.carried]
        results = [Value(c.hint()) for c in plan.carried]
        if is_for:
            op = Op("for", operands + inits, results, {"pattern": lowered["pattern"], "n_items": len(lowered["items"]),
                                                       "stop": bool(stop)}, [body], self.parsed.loc(stmt), self.stmt)
        else:
            op = Op("while", inits, results, {"stop": bool(stop)}, [lowered["cond"], body], self.parsed.loc(stmt),
                    self.stmt)
        self.region.append(op)
        self.heap.state, self.env = head_state.copy(), dict(head_env)
        for obj, why in end_state.poisoned.items():
            self.heap.state.poisoned.setdefault(obj, why)
        for c, result in zip(plan.carried, results):
            if c.obj is not None:
                self.heap.set(c.obj, result)
            else:
                self.heap.set(c.merged, result)
        self.loop_facts(plan, lowered, results)

    def initial_value(self, carried: Carried, start: State, node: ast.AST) -> Value:
        if carried.obj is not None:
            return self.peek(carried.obj)
        objs = self.entry_objects(carried, start, self.env)
        return self.peek(objs[0]) if objs else self.undefined(node)

    def stop_value(self, stmt: ast.For | ast.While) -> list[Value]:
        """The value that ends the loop after this iteration (`broke or returned`), if any."""
        flags = getattr(stmt, "stop", [])
        if not flags:
            return []
        test = flags[0] if len(flags) == 1 else ast.copy_location(ast.BoolOp(ast.Or(), flags), stmt)
        return [self.lower_expr(test)]

    # -- shapes of carried values (when the call's argument kinds are known) --------------------------
    def seed_facts(self, plan: _Plan, args: list[Value], start: State, env: dict) -> None:
        if self.facts is None:
            return
        for index, (c, arg) in enumerate(zip(plan.carried, args)):
            if index in plan.unknown_facts:
                self.facts[arg] = UNKNOWN
                continue
            objs = [c.obj] if c.obj is not None else self.entry_objects(c, start, env)
            value = start.content.get(objs[0]) if objs else None
            self.facts[arg] = widen(self.facts.get(value, UNKNOWN)) if value is not None else UNKNOWN

    def unsettled_facts(self, plan: _Plan, lowered: dict) -> set:
        if self.facts is None:
            return set()
        end_state, end_env = lowered["end"]
        found = set()
        for index, (c, arg) in enumerate(zip(plan.carried, lowered["args"])):
            if index in plan.unknown_facts:
                continue
            if c.obj is not None:
                value = end_state.content.get(c.obj)
            else:
                obj = self.end_object(c, end_state, end_env)
                value = end_state.content.get(obj) if obj is not None else None
            known = self.facts[arg]
            if value is not None and known != UNKNOWN and widen(self.facts.get(value, UNKNOWN)) != known:
                found.add(index)
        return found

    def loop_facts(self, plan: _Plan, lowered: dict, results: list[Value]) -> None:
        if self.facts is not None:
            for arg, result in zip(lowered["args"], results):
                self.facts[result] = self.facts.get(arg, UNKNOWN)

    def join_facts(self, result: Value, values: list[Value]) -> None:
        if self.facts is None:
            return
        found = [widen(self.facts.get(v, UNKNOWN)) for v in values
                 if not (v.owner is not None and v.owner.attrs.get("undefined"))]
        self.facts[result] = found[0] if found and all(f == found[0] for f in found) else UNKNOWN


def stored_names(stmts: list[ast.AST], loop: ast.AST | None = None) -> set[str]:
    """Names a block (and a `for` loop's target) binds with `=`; a name only written into
    (`y[i] = v`, `items.append(x)`) keeps its object, whose content the loop carries."""
    names, augmented = set(), set()
    nodes = list(stmts) + ([loop.target] if isinstance(loop, ast.For) else [])
    for stmt in nodes:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign) and getattr(node, "augmented", False):
                augmented.update(id(t) for t in node.targets)  # (`x += e` may write into x's array:
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and id(node) not in augmented:
                names.add(node.id)  # where it rebinds instead, the lowering finds out)
    return names
