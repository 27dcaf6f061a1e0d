"""Stage 2 (part of `normalize`): the scopes inside a function become what `lower` already knows.

- A comprehension becomes a :class:`Comprehension`: the loop that builds it (`items = []`, then
  `for v in xs: if cond: items.append(elt)`), lowered where the expression is evaluated, so the
  generated code shows a readable loop. Its variables are renamed where they would clash with the
  function's own (a comprehension has a scope of its own), and forgotten after it.
- `map(f, xs)` is the generator `(f(v) for v in xs)`; `functools.reduce(f, xs, init)` is the loop
  `acc = init; for v in xs: acc = f(acc, v)`. A lambda passed to them is written into the loop.
- A nested `def`, and `name = lambda ...`, become a :class:`LocalDef`: each call is inlined, with the
  names the function closes over read from its definer when it is called (Python's late binding).
  Any other lambda is hoisted into a `LocalDef` of a fresh name just before its statement.

The new nodes hide their parts from `ast.walk` (`_fields = ()`): to the rest of the pipeline a
comprehension is one expression and a local function one statement.
"""
from __future__ import annotations

import ast
import copy
from typing import Callable

__all__ = ["Comprehension", "LocalDef", "ScopeRewriter", "GENERATOR_CONSUMERS_HINT"]

GENERATOR_CONSUMERS_HINT = "write a list comprehension `[...]` instead of the generator"


class Comprehension(ast.expr):
    """A list, dict or generator comprehension, or a `functools.reduce`, as the loop that computes it.

    `setup`: statements run first (binding `result` and temporaries); `loop`: the normalized `for`
    statements; `result`: the name holding the value at the end; `names`: every name the loop binds
    (forgotten afterwards); `kind`: "list", "dict", "generator" or "reduce"; `builtins`: names that
    must denote Python's own function for this reading to hold (`map`, `zip`, `reduce`)."""

    _fields = ()

    def __init__(self, kind: str, setup: list, loop: list, result: str, names: set, builtins: dict,
                 source: ast.expr):
        super().__init__()
        self.kind, self.setup, self.loop, self.result = kind, setup, loop, result
        self.names, self.builtins, self.source = names, builtins, source
        ast.copy_location(self, source)


class LocalDef(ast.stmt):
    """A function defined inside the function (`def` or `name = lambda ...`): `definition` is its
    normalized `FunctionDef`; `locals` the names local to it (its parameters and what it assigns)."""

    _fields = ()

    def __init__(self, definition: ast.FunctionDef, local: set, source: ast.AST):
        super().__init__()
        self.definition, self.name, self.locals = definition, definition.name, local
        ast.copy_location(self, source)


_COMPREHENSIONS = (ast.ListComp, ast.GeneratorExp, ast.DictComp)


class ScopeRewriter:
    """Rewrites one function's statements (see the module docstring). `fresh` makes unused names;
    `normalize_function` normalizes a nested definition; `refuse(node, what, hint)` raises."""

    def __init__(self, tree: ast.FunctionDef, fresh: Callable[[str], str],
                 normalize_function: Callable[[ast.FunctionDef], tuple[ast.FunctionDef, set]],
                 refuse: Callable):
        self.outside = _names_outside_comprehensions(tree)
        self.fresh = self.remember(fresh)
        self.normalize_function = normalize_function
        self.refuse = refuse

    def remember(self, fresh: Callable[[str], str]) -> Callable[[str], str]:
        def made(base: str) -> str:
            name = fresh(base)
            self.outside.add(name)
            return name
        return made

    # -- statements ------------------------------------------------------------------------------
    def statement(self, stmt: ast.stmt, top: bool, loop: ast.stmt | None = None) -> list[ast.stmt]:
        """`stmt` with its scopes rewritten, preceded by the local functions hoisted out of it.
        `top`: not inside a branch; `loop`: the innermost loop it is in (a function defined there is
        known until that loop ends)."""
        if isinstance(stmt, ast.FunctionDef):
            if not top:
                self.refuse(stmt, "a function defined inside a branch",
                            "define the nested function outside the `if`, and call it there")
            if stmt.decorator_list:
                self.refuse(stmt.decorator_list[0], "a decorated nested function")
            return [self.local_def(stmt, stmt, loop)]
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Lambda) and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], ast.Name):
            if not top:
                self.refuse(stmt, "a lambda bound to a name inside a branch",
                            "bind it outside the `if`, or use a `def` there")
            return [self.local_def(self.lambda_def(stmt.value, stmt.targets[0].id), stmt, loop)]
        hoisted: list[ast.stmt] = []
        for field, value in ast.iter_fields(stmt):
            if field in ("body", "orelse"):
                continue  # (blocks are rewritten statement by statement by `normalize`)
            if isinstance(value, ast.expr):
                setattr(stmt, field, self.expression(value, hoisted))
            elif isinstance(value, list):
                setattr(stmt, field, [self.expression(v, hoisted) if isinstance(v, ast.expr) else v
                                      for v in value])
        return hoisted + [stmt]

    def local_def(self, fdef: ast.FunctionDef, source: ast.AST, loop: ast.stmt | None = None) -> LocalDef:
        normalized, local = self.normalize_function(fdef)
        definition = LocalDef(normalized, local, source)
        definition.loop = loop
        return definition

    def lambda_def(self, node: ast.Lambda, name: str) -> ast.FunctionDef:
        body = [ast.copy_location(ast.Return(node.body), node.body)]
        fdef = ast.FunctionDef(name=name, args=node.args, body=body, decorator_list=[], returns=None,
                               type_comment=None)
        if hasattr(ast, "TypeVar"):
            fdef.type_params = []
        return ast.copy_location(fdef, node)

    # -- expressions -----------------------------------------------------------------------------
    def expression(self, node: ast.expr, hoisted: list[ast.stmt]) -> ast.expr:
        """`node` rewritten bottom-up: `map`/`reduce` calls, comprehensions, lambdas."""
        node = self.builtin_call(node, hoisted)
        if isinstance(node, _COMPREHENSIONS):
            self.rename_targets(node)
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                setattr(node, field, self.expression(value, hoisted))
            elif isinstance(value, list):
                setattr(node, field, [self.expression(v, hoisted) if isinstance(v, ast.expr) else
                                      self.generator(v, hoisted) if isinstance(v, ast.comprehension) else v
                                      for v in value])
        if isinstance(node, ast.Lambda):
            name = self.fresh("lambda_fn")
            hoisted.append(self.local_def(self.lambda_def(node, name), node))
            return ast.copy_location(ast.Name(name, ast.Load()), node)
        if isinstance(node, _COMPREHENSIONS):
            return self.comprehension(node)
        if isinstance(node, ast.SetComp):
            self.refuse(node, "a set comprehension",
                        "a set orders and merges its items by value, which has no gradient; use a list")
        return node

    def generator(self, gen: ast.comprehension, hoisted: list[ast.stmt]) -> ast.comprehension:
        if gen.is_async:
            self.refuse(gen.iter, "an async comprehension")
        gen.iter = self.expression(gen.iter, hoisted)
        gen.ifs = [self.expression(test, hoisted) for test in gen.ifs]
        return gen

    def rename_targets(self, node: ast.expr) -> None:
        """Give the comprehension's variables names of their own where the function uses the same
        names outside comprehensions (a comprehension has a scope of its own)."""
        renames = {}
        for gen in node.generators:
            for target in ast.walk(gen.target):
                if isinstance(target, (ast.Tuple, ast.List, ast.expr_context)):
                    continue
                if not isinstance(target, ast.Name):
                    self.refuse(target, "a comprehension variable that is not a name or a tuple of names")
                elif target.id in self.outside and target.id not in renames:
                    renames[target.id] = self.fresh(target.id)
        if renames:
            _rename(node, renames, skip_first_iter=True)

    def comprehension(self, node: ast.expr) -> Comprehension:
        kind = {ast.ListComp: "list", ast.GeneratorExp: "generator", ast.DictComp: "dict"}[type(node)]
        result = getattr(node, "result_name", None) or self.fresh("entries" if kind == "dict" else "items")
        innermost: list[ast.stmt]
        if kind == "dict":
            target = ast.Subscript(ast.Name(result, ast.Load()), node.key, ast.Store())
            innermost = [ast.Assign([target], node.value)]
        else:
            append = ast.Attribute(ast.Name(result, ast.Load()), "append", ast.Load())
            innermost = [ast.Expr(ast.Call(append, [node.elt], []))]
        body = innermost
        for gen in reversed(node.generators):
            for test in reversed(gen.ifs):
                body = [ast.If(test, body, [])]
            loop = ast.For(gen.target, gen.iter, body, [])
            loop.stop, loop.unroll = [], kind == "dict"
            body = [loop]
        _locate(body, node)
        empty = ast.Dict([], []) if kind == "dict" else ast.List([], ast.Load())
        setup = [ast.Assign([ast.Name(result, ast.Store())], empty)]
        _locate(setup, node)
        names = {result} | {n.id for gen in node.generators for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        builtins = dict(getattr(node, "builtins", {}))
        return Comprehension(kind, setup, body, result, names, builtins, node)

    # -- map and reduce --------------------------------------------------------------------------
    def builtin_call(self, node: ast.expr, hoisted: list[ast.stmt]) -> ast.expr:
        """`map(f, xs)` as a generator expression, `reduce(f, xs[, init])` as its loop."""
        if not isinstance(node, ast.Call) or node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            return node
        func = node.func
        if isinstance(func, ast.Name) and func.id == "map" and len(node.args) >= 2:
            return self.map_call(node)
        reduce_spelled = (isinstance(func, ast.Name) and func.id == "reduce") or \
            (isinstance(func, ast.Attribute) and func.attr == "reduce" and isinstance(func.value, ast.Name)
             and func.value.id == "functools")
        if reduce_spelled and len(node.args) in (2, 3):
            return self.reduce_call(node, hoisted)
        return node

    def map_call(self, node: ast.Call) -> ast.expr:
        fn, iterables = node.args[0], node.args[1:]
        names, elt = self.applied(fn, len(iterables), ["item"] * len(iterables), node)
        targets = [ast.Name(n, ast.Store()) for n in names]
        if len(iterables) == 1:
            gen = ast.comprehension(targets[0], iterables[0], [], 0)
            builtins = {"map": node.func}
        else:
            zipped = ast.copy_location(ast.Call(ast.Name("zip", ast.Load()), list(iterables), []), node)
            gen = ast.comprehension(ast.Tuple(targets, ast.Store()), zipped, [], 0)
            builtins = {"map": node.func, "zip": zipped.func}
        generator = ast.copy_location(ast.GeneratorExp(elt, [gen]), node)
        generator.builtins = builtins
        return generator

    def reduce_call(self, node: ast.Call, hoisted: list[ast.stmt]) -> ast.expr:
        fn, iterable = node.args[0], node.args[1]
        (acc, item), body = self.applied(fn, 2, ["acc", "item"], node)
        body = self.expression(body, hoisted)
        setup: list[ast.stmt] = []
        iterable = self.expression(iterable, hoisted)
        if isinstance(iterable, Comprehension) and iterable.kind == "generator":
            iterable.kind = "list"  # (`reduce` takes the items at once)
        if len(node.args) == 3:
            setup.append(ast.Assign([ast.Name(acc, ast.Store())], self.expression(node.args[2], hoisted)))
            items = iterable
        else:  # (the first item starts the accumulation: `items = xs; acc = items[0]; for item in items[1:]`)
            held = self.fresh("items")
            setup.append(ast.Assign([ast.Name(held, ast.Store())], iterable))
            first = ast.Subscript(ast.Name(held, ast.Load()), ast.Constant(0), ast.Load())
            setup.append(ast.Assign([ast.Name(acc, ast.Store())], first))
            items = ast.Subscript(ast.Name(held, ast.Load()), ast.Slice(ast.Constant(1), None, None), ast.Load())
        loop = ast.For(ast.Name(item, ast.Store()), items, [ast.Assign([ast.Name(acc, ast.Store())], body)], [])
        loop.stop, loop.unroll = [], False
        _locate(setup + [loop], node)
        names = {acc, item} | ({setup[0].targets[0].id} if len(node.args) == 2 else set())
        comp = Comprehension("reduce", setup, [loop], acc, names, {"reduce": node.func}, node)
        return comp

    def applied(self, fn: ast.expr, arity: int, bases: list[str], node: ast.Call) -> tuple[list[str], ast.expr]:
        """Fresh names for `fn`'s arguments and the expression `fn(*names)`: a lambda's body with its
        parameters renamed, else a call of `fn`."""
        if isinstance(fn, ast.Lambda):
            args = fn.args
            params = [a.arg for a in args.posonlyargs + args.args]
            if args.vararg or args.kwarg or args.kwonlyargs or args.defaults or len(params) != arity:
                self.refuse(fn, f"a lambda that does not take exactly {arity} plain argument(s) here")
            names = [self.fresh(p) if p in self.outside else p for p in params]
            body = copy.deepcopy(fn.body)
            wrapper = ast.Expression(body)
            _rename(wrapper, dict(zip(params, names)))
            return names, wrapper.body
        names = [self.fresh(b) for b in bases]
        call = ast.Call(copy.deepcopy(fn), [ast.Name(n, ast.Load()) for n in names], [])
        return names, ast.copy_location(call, node)




def _names_outside_comprehensions(tree: ast.AST) -> set[str]:
    """Names the function uses outside any comprehension (a comprehension's first iterable is
    evaluated outside it); the names only comprehensions bind may be shared between them."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, _COMPREHENSIONS + (ast.SetComp,)):
            visit(node.generators[0].iter)
            return
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.Lambda)) and hasattr(node, "name"):
            found.add(node.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _locate(stmts: list[ast.stmt], like: ast.AST) -> None:
    """Source positions for the statements gradc writes for `like`: each on `like`'s first line
    (their `# line N` comment), the user's own expressions in them keeping theirs."""
    for stmt in stmts:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.stmt):
                ast.copy_location(sub, like)
                sub.end_lineno = like.lineno
            elif isinstance(sub, (ast.expr, ast.arg)) and not hasattr(sub, "lineno"):
                ast.copy_location(sub, like)


def _rename(node: ast.AST, renames: dict[str, str], skip_first_iter: bool = False) -> None:
    """Rename names in `node`, except inside lambdas and comprehensions that bind the same name,
    and (for a comprehension) in its first iterable, which is evaluated in the enclosing scope."""
    first_iter = node.generators[0].iter if skip_first_iter else None

    def visit(sub: ast.AST, active: dict[str, str]) -> None:
        if sub is first_iter:
            return
        if isinstance(sub, ast.Name) and sub.id in active:
            sub.id = active[sub.id]
            return
        if isinstance(sub, ast.Lambda):
            bound = {a.arg for a in ast.walk(sub.args) if isinstance(a, ast.arg)}
            active = {k: v for k, v in active.items() if k not in bound}
        for child in ast.iter_child_nodes(sub):
            visit(child, active)

    visit(node, renames)


