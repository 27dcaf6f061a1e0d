"""Lowering comprehensions, local functions, and the builtins that consume sequences.

A comprehension (`inner_scopes.Comprehension`) is lowered where Python evaluates it: its loop is
lowered into the current region, then its variables are forgotten. A generator expression is taken
where Python consumes it at once (`sum(...)`, `tuple(...)`, `max(...)`, `functools.reduce`) and
lowered as the list it would yield (not as a `for` loop's iterable: Python makes its items between
the iterations). A local function (`def` inside the function, or a lambda) is inlined
at each call, with the names it closes over read from its definer's scope at the call (Python's
late binding). A dict whose keys are known is iterated by unrolling the loop, one copy of the body
per key, so each key stays a constant.
"""
from __future__ import annotations

import ast
import builtins
import functools
import inspect
import math
from typing import Any

from ..errors import UnsupportedSyntaxError
from ..ir.core import Value, static_value
from .inner_scopes import GENERATOR_CONSUMERS_HINT, Comprehension, LocalDef
from .objects import Slots
from .source import UNRESOLVED, ParsedFunction

__all__ = ["InnerScopes", "GENERATOR_CONSUMERS"]

#: Callees that consume an iterable at once, so a generator passed to them is its list.
GENERATOR_CONSUMERS = {builtins.sum, builtins.tuple, builtins.list, builtins.sorted, builtins.min, builtins.max,
                       builtins.any, builtins.all, math.fsum, math.prod, builtins.dict}

_BUILTINS_EXPECTED = {"map": builtins.map, "zip": builtins.zip, "reduce": functools.reduce}


class InnerScopes:
    """Comprehensions, local functions and dict iteration, for `_Lowerer` (lower.py)."""

    # -- comprehensions --------------------------------------------------------------------------
    def expr_Comprehension(self, node: Comprehension) -> Value:
        if node.kind == "generator":
            self.check_builtins(node)
            raise self.error(node, "a generator expression here (gradc takes one where it is consumed at once: "
                             "as the argument of `sum`, `tuple`, `list`, `sorted`, `min`, `max`, `any`, `all`)",
                             GENERATOR_CONSUMERS_HINT)
        return self.comprehension(node)

    def comprehension(self, node: Comprehension) -> Value:
        """The comprehension's loop lowered here; its value (a list or dict, or the last value of a
        `reduce`'s accumulator). Its variables are local to it: forgotten afterwards."""
        self.check_builtins(node)
        enclosing = getattr(self.stmt, "comment_as", self.stmt)
        for stmt in node.setup + node.loop:
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.stmt):
                    sub.comment_as = enclosing  # (one `# line N` comment for the statement it is in)
        shadowed = {name: self.env[name] for name in node.names if name in self.env}
        if node.kind == "reduce":
            self.lower_reduce(node)
        else:
            self.lower_block(node.setup)
            self.lower_block(node.loop)
        value = self.read(self.env[node.result], node, node.result)
        for name in node.names:
            self.env.pop(name, None)
        self.env.update(shadowed)
        return value

    def lower_reduce(self, node: Comprehension) -> None:
        """`functools.reduce(f, xs[, init])`: over a list or tuple whose items gradc knows, unrolled
        (`f(f(a, b), c)`; of one item, that item, as Python gives); else the loop."""
        loop = node.loop[0]
        self.lower_statement(node.setup[0])  # (`items = xs`, or `acc = init`)
        if len(node.setup) == 2:
            held = node.setup[0].targets[0].id
            items = self.known_items(self.env[held])
            if not items:
                self.lower_statement(node.setup[1])
                return self.lower_statement(loop)
            self.bind_name(node.result, self.peek(items[0]))
            rest = items[1:]
        else:
            iterable = self.lower_expr(loop.iter)
            rest = self.known_items(self.obj(iterable))
            if rest is None:
                return self.lower_loop(loop, [iterable])
        for item in rest:
            self.bind(loop.target, self.peek(item))
            self.lower_block(loop.body)

    def check_builtins(self, node: Comprehension) -> None:
        """`map`, `zip` and `reduce` read as Python's own only where they are."""
        for name, func in node.builtins.items():
            root = func
            while isinstance(root, ast.Attribute):
                root = root.value
            found = None
            if isinstance(root, ast.Name) and self.is_static(func):
                found = self.resolve_static(func)
            if found is not _BUILTINS_EXPECTED[name]:
                raise self.error(func, f"`{ast.unparse(func)}` here is not Python's `{name}`, which gradc "
                                 "assumed when it read this call")

    def argument(self, node: ast.expr, callee: Any) -> Value:
        """A call's argument; a generator expression only for a callee that consumes it at once."""
        if isinstance(node, Comprehension) and node.kind == "generator":
            self.check_builtins(node)
            try:
                consumes = callee in GENERATOR_CONSUMERS
            except TypeError:
                consumes = False
            if not consumes:
                name = getattr(callee, "__name__", None) or "this function"
                module = (getattr(callee, "__module__", None) or "").split(".")[0]
                why = "NumPy refuses a generator here (it needs a sequence)" if module == "numpy" else \
                    "gradc takes a generator only where it is consumed at once (`sum`, `tuple`, `list`, " \
                    "`sorted`, `min`, `max`, `any`, `all`)"
                raise self.error(node, f"a generator expression passed to `{name}`: {why}",
                                 GENERATOR_CONSUMERS_HINT)
            return self.comprehension(node)
        return self.lower_expr(node)

    def iterable(self, node: ast.expr) -> Value:
        """A `for` loop's iterable. A generator there is refused: Python runs it between the loop's
        iterations, so the body's writes would reach the items it makes next (gradc would make
        them all first)."""
        if isinstance(node, Comprehension) and node.kind == "generator":
            self.check_builtins(node)
            raise self.error(node, "a generator expression (or `map`) as a `for` loop's iterable (Python "
                             "makes each item between the loop's iterations)",
                             "iterate over a list comprehension `[...]` (or `list(map(...))`) instead")
        return self.lower_expr(node)

    def fold_extremum(self, callee: Any, args: list[Value], node: ast.Call) -> Value | None:
        """`max(items)` / `min(items)` of a list whose items are known: `max(max(a, b), c)`."""
        if callee not in (builtins.max, builtins.min) or len(args) != 1:
            return None
        items = self.known_items(self.obj(args[0]))
        if items is None:
            return self.extremum_loop(callee, args[0], node)
        if not items:
            raise self.error(node, f"`{callee.__name__}` of an empty sequence")
        values = [self.peek(o) for o in items]
        result = values[0]
        for value in values[1:]:
            result = self.call(callee, [result, value], node, spelling=node.func)
        return result

    def extremum_loop(self, callee: Any, sequence: Value, node: ast.Call) -> Value:
        """`max(items)` of a list built in a loop: `best = items[0]; for item in items[1:]:
        best = max(best, item)`, the `max(a, b)` gradc differentiates, in a loop it reverses."""
        held, best, item = (self.unused_name(base) for base in ("items", callee.__name__ + "_so_far", "item"))
        self.bind_name(held, sequence)
        load = lambda name: ast.Name(name, ast.Load())  # noqa: E731
        first = ast.Assign([ast.Name(best, ast.Store())], ast.Subscript(load(held), ast.Constant(0), ast.Load()))
        rest = ast.Subscript(load(held), ast.Slice(ast.Constant(1), None, None), ast.Load())
        step = ast.Assign([ast.Name(best, ast.Store())], ast.Call(ast.Name(callee.__name__, ast.Load()),
                                                                  [load(best), load(item)], []))
        loop = ast.For(ast.Name(item, ast.Store()), rest, [step], [])
        loop.stop = []
        statements = [first, loop]
        _locate_like(statements, node, getattr(self.stmt, "comment_as", self.stmt))
        self.lower_block(statements)
        value = self.read(self.env[best], node, best)
        for name in (held, best, item):
            self.env.pop(name, None)
        return value

    def unused_name(self, base: str) -> str:
        taken = set(self.env) | set(self.local_names) | set(self.functions)
        name, k = base, 1
        while name in taken or self.parsed.resolve(name) is not UNRESOLVED:
            k += 1
            name = f"{base}_{k}"
        return name

    def sequence_copy(self, callee: Any, args: list[Value], kwargs: dict, node: ast.Call) -> Value | None:
        """`tuple(items)`, `list(items)` of a sequence whose items are known: a new display of them;
        `list(d)`, `tuple(d)`, `sorted(d)` of a dict whose keys are known: its keys; `dict(a=x, b=y)`
        and `dict(d)` of such a dict: a new dict display."""
        if callee is builtins.dict:
            if not args and kwargs:
                return self.new_dict(tuple(kwargs), [self.obj(v) for v in kwargs.values()], node)
            if len(args) == 1 and not kwargs:
                obj = self.obj(args[0])
                slots = self.heap.state.slots.get(obj)
                if obj.kind == "container" and obj.display == "dict" and slots is not None and slots.known:
                    return self.new_dict(slots.keys, list(slots.items), node)
            return None
        if callee not in (builtins.tuple, builtins.list, builtins.sorted) or len(args) != 1 or kwargs:
            return None
        obj = self.obj(args[0])
        slots = self.heap.state.slots.get(obj)
        if obj.kind == "container" and obj.display == "dict" and slots is not None and slots.known:
            keys = sorted(slots.keys) if callee is builtins.sorted else list(slots.keys)  # (a dict's keys)
            items = tuple(self.heap.new(self.const(k, node), "immutable", mutable=False) for k in keys)
            return self.new_display("tuple" if callee is builtins.tuple else "list", items, node)
        items = self.known_items(obj)
        if items is None or callee is builtins.sorted:
            return None
        return self.new_display(callee.__name__, items, node)

    def new_dict(self, keys: tuple, items: list, node: ast.AST) -> Value:
        value = self.emit("dict", [self.peek(o) for o in items], node, keys=tuple(keys))
        obj = self.heap.new(value, "container", display="dict", mutable=True)
        self.heap.state.slots[obj] = Slots(tuple(keys), tuple(items))
        self.heap.state.made_from[obj] = tuple(value.owner.operands)
        return value

    def dict_method(self, receiver: Value, name: str, args: list[Value], kwargs: dict,
                    node: ast.Call) -> Value | None:
        """`d.get(k, default)`, and `d.keys()`, `d.values()`, `d.items()` of a dict whose keys gradc
        knows (as a tuple of them: consumed at once, as an argument or a loop's iterable)."""
        obj = self.obj(receiver)
        slots = self.heap.state.slots.get(obj)
        if obj.kind != "container" or obj.display != "dict" or slots is None or not slots.known or kwargs:
            return None
        if name == "get" and len(args) in (1, 2):
            ok, key = static_value(args[0])
            if not ok:
                raise self.error(node, "`.get` of a dict with a key gradc does not know when it compiles")
            if key in slots.keys:
                return self.read(slots.items[list(slots.keys).index(key)], node)
            return args[1] if len(args) == 2 else self.const(None, node)
        if name in ("keys", "values", "items") and not args:
            if not getattr(self, "consumed_at_once", False):
                raise self.error(node, f"`.{name}()` of a dict kept for later (gradc reads it where it is "
                                 "consumed at once: as an argument, or as a `for` loop's iterable)",
                                 f"use `list(d.{name}())` or iterate over it directly")
            if name == "values":
                return self.new_display("tuple", slots.items, node)
            keys = [self.heap.new(self.const(k, node), "immutable", mutable=False) for k in slots.keys]
            if name == "keys":
                return self.new_display("tuple", tuple(keys), node)
            pairs = [self.heap.obj_of[self.new_display("tuple", (k, item), node)]
                     for k, item in zip(keys, slots.items)]
            return self.new_display("tuple", tuple(pairs), node)
        return None

    # -- loops over what is known when gradc compiles ------------------------------------------------
    def unrolled_items(self, stmt: ast.For, iterable: Value) -> list[Value] | None:
        """The items of a loop to unroll: over a dict (its keys), `d.keys()`/`.values()`/`.items()`,
        or a dict comprehension's loop over a sequence of known items or a constant."""
        obj = self.obj(iterable)
        slots = self.heap.state.slots.get(obj)
        if obj.kind == "container" and slots is not None and slots.known:
            if obj.display == "dict":
                return [self.const(k, stmt.iter) for k in slots.keys]
            if getattr(stmt, "unroll", False) or getattr(stmt.iter, "dict_view", False):
                return [self.peek(o) for o in slots.items]
            return None
        ok, value = _constant(iterable)
        if ok and getattr(stmt, "unroll", False) and isinstance(value, (tuple, list, range, str)):
            return [self.const(v, stmt.iter) for v in value]
        if getattr(stmt, "unroll", False):
            if self.facts is None:
                self.root.kind_dependent = True  # (a dict argument's keys are known for each call)
            raise self.error(stmt.iter, "a dict comprehension over items gradc does not know when it compiles "
                             "(a dict's keys must be known then)", "build the dict from a tuple of constant keys")
        return None

    def lower_unrolled(self, stmt: ast.For, items: list[Value]) -> None:
        """The body once per item, the target bound to it (`stop` flags guard the iterations after)."""
        if stmt.stop:
            raise self.error(stmt, "`break` or `return` in a loop over a dict's keys",
                             "collect what you need in the loop, and decide after it")
        for item in items:
            ok, constant = static_value(item)
            if ok:
                self.bind_constant(stmt.target, constant, stmt.iter)
            else:
                self.bind(stmt.target, item)
            self.lower_block(stmt.body)

    def bind_constant(self, target: ast.expr, constant: Any, node: ast.AST) -> None:
        """`i, k = (0, "a")` with each name bound to its constant (so `d[k]` has a constant key)."""
        if isinstance(target, (ast.Tuple, ast.List)) and isinstance(constant, tuple) and \
                len(constant) == len(target.elts):
            for element, part in zip(target.elts, constant):
                self.bind_constant(element, part, node)
            return
        self.bind(target, self.const(constant, node))

    # -- local functions -------------------------------------------------------------------------
    def define_local(self, stmt: LocalDef) -> None:
        """A `def` (or a lambda) inside the function: its defaults are evaluated now, as Python does."""
        args = stmt.definition.args
        defaults = [self.lower_expr(d) for d in args.defaults]
        kw_defaults = [self.lower_expr(d) if d is not None else None for d in args.kw_defaults]
        for value in defaults + [d for d in kw_defaults if d is not None]:
            self.obj(value)  # (their objects exist from here, not from the first call)
        self.functions[stmt.name] = (stmt, self, defaults, kw_defaults)
        self.env.pop(stmt.name, None)  # (the name now denotes the function, whatever it held before)

    def forget_functions_of(self, loop: ast.stmt) -> None:
        """After a loop, the functions defined in its body (their defaults are values of the body's
        last iteration, which the code after the loop cannot read): a call after it is refused."""
        for name, (definition, *_) in list(self.functions.items()):
            if getattr(definition, "loop", None) is loop:
                del self.functions[name]
                self.forgotten[name] = loop.lineno

    def call_local(self, name: str, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        """A call of a local function: its body lowered here, its parameters bound to the arguments
        and the names it closes over to their objects in its definer's scope now."""
        definition, definer, defaults, kw_defaults = self.functions[name]
        if definition in self.inlining:
            raise self.error(node, f"`{name}`, a function defined inside the function, calls itself: gradc "
                             "inlines such functions at each call", "define it at module level to recurse")
        fdef = definition.definition
        bound = _signature(fdef, defaults, kw_defaults)
        try:
            arguments = bound.bind(*args, **kwargs)
        except TypeError as exc:
            raise UnsupportedSyntaxError(f"call to `{name}`: {exc}", self.parsed.loc(node)) from None
        arguments.apply_defaults()
        env = {n: obj for n, obj in definer.env.items() if n not in definition.locals}
        for param, value in arguments.arguments.items():
            kind = bound.parameters[param].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                value = self.emit("tuple", list(value), node)
            elif kind is inspect.Parameter.VAR_KEYWORD:
                value = self.emit("dict", list(value.values()), node, keys=tuple(value))
            env[param] = self.obj(value)
        parsed = ParsedFunction(definer.parsed.fn, fdef, definer.parsed.file, definer.parsed.lines)
        names = set(definition.locals) | (set(definer.local_names) - set(env))
        child = type(self)(parsed, self.region, env, names, heap=self.heap, parent=self, facts=self.facts)
        child.root, child.inlining = self.root, self.inlining + [definition]
        child.functions = {n: f for n, f in definer.functions.items() if n not in definition.locals}
        child.lower_block(fdef.body)
        result = child.returned if child.returned is not None else self.const(None, node)
        if any(result is r for op in self.region.ops for r in op.results) and (result.hint is None or result.temp):
            result.hint, result.temp = name, True  # (a name the caller gives it wins)
        return result

    def refuse_function_value(self, node: ast.Name) -> None:
        raise self.error(node, f"`{node.id}`, a function defined inside the function, used as a value "
                         "(gradc inlines such a function where it is called)",
                         "call it here, or define it at module level to pass it around")


def _constant(value: Value) -> tuple[bool, Any]:
    """Whether `value` is known when gradc compiles, and what: a constant, a display of constants,
    or `enumerate`, `zip`, `range`, `reversed` of them (`enumerate(("a", "b"))`)."""
    ok, found = static_value(value)
    owner = value.owner
    if ok or owner is None:
        return ok, found
    if owner.kind in ("tuple", "list"):
        parts = [_constant(v) for v in owner.operands]
        return all(p[0] for p in parts), tuple(p[1] for p in parts)
    if owner.kind == "call" and not owner.kwnames and owner.attrs["callee"] in (enumerate, zip, range, reversed):
        parts = [_constant(v) for v in owner.operands]
        if all(p[0] for p in parts):
            return True, list(owner.attrs["callee"](*(p[1] for p in parts)))
    return False, None


def _locate_like(stmts: list[ast.stmt], node: ast.AST, comment_as: ast.stmt | None) -> None:
    """Positions for statements gradc writes while lowering `node` (their comment: `comment_as`'s)."""
    for stmt in stmts:
        for sub in ast.walk(stmt):
            if isinstance(sub, (ast.stmt, ast.expr)):
                ast.copy_location(sub, node)
            if isinstance(sub, ast.stmt):
                sub.end_lineno = node.lineno
                sub.comment_as = comment_as


def _signature(fdef: ast.FunctionDef, defaults: list[Value], kw_defaults: list) -> inspect.Signature:
    """The signature of a local function, its defaults the values they had at its definition."""
    args = fdef.args
    positional = args.posonlyargs + args.args
    first_default = len(positional) - len(defaults)
    params = []
    for index, arg in enumerate(positional):
        kind = inspect.Parameter.POSITIONAL_ONLY if index < len(args.posonlyargs) else \
            inspect.Parameter.POSITIONAL_OR_KEYWORD
        default = defaults[index - first_default] if index >= first_default else inspect.Parameter.empty
        params.append(inspect.Parameter(arg.arg, kind, default=default))
    if args.vararg:
        params.append(inspect.Parameter(args.vararg.arg, inspect.Parameter.VAR_POSITIONAL))
    for arg, default in zip(args.kwonlyargs, kw_defaults):
        params.append(inspect.Parameter(arg.arg, inspect.Parameter.KEYWORD_ONLY,
                                        default=inspect.Parameter.empty if default is None else default))
    if args.kwarg:
        params.append(inspect.Parameter(args.kwarg.arg, inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(params)
