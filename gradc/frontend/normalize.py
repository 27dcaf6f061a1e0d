"""Stage 2: AST → AST desugaring, and the check that refuses what gradc cannot do.

After `normalize`, a function body holds only these statements:

    Assign(targets=[Name | Tuple/List of Names], value)
    If(test, body, orelse)
    For(target, iter, body, orelse=[]) with `stop`: the flags that end the loop after an iteration
    While(test, body, orelse=[])       with `stop`, likewise
    Expr(Call)      # accepted by `lower` only for gradc's run-time checks, as in generated code
    LocalDef        # a nested function (inner_scopes.py), inlined where it is called
    Return(value)   # once, last

and expressions built from names, constants, calls, attributes, operators,
comparisons, `and`/`or`/`not`, tuples, lists, subscripts and comprehensions (`Comprehension`). Everything else
raises :class:`~gradc.UnsupportedSyntaxError` pointing at the construct, at
`grad(f)` time. What the desugaring does:

- `x op= e`        → `x = x op e`  (checked for aliasing by `lower`)
- `x: T = e`       → `x = e`
- a docstring, `pass` → nothing
- `break`          → `broke = True`, the rest of the iteration guarded by `if not broke:`,
                     and the loop's `stop` names `broke`
- `continue`       → `skip = True` (reset at the top of each iteration), the rest guarded
- early `return e` → `result = e; returned = True`, the rest guarded, loops stopped, and
                     one `return result` at the end
- a loop's `else:` → `if not broke: ...` after the loop
- comprehensions, `map`, `functools.reduce`, lambdas and nested `def`s → `Comprehension` and
  `LocalDef` nodes (inner_scopes.py), lowered by lower_scopes.py
"""
from __future__ import annotations

import ast
import copy
import pickle

from ..backend.check import CHECK_NAME, without_checks
from ..errors import UnsupportedSyntaxError
from .inner_scopes import LocalDef, ScopeRewriter
from .effect_statements import normalize_statement as _normalize_effect_statement
from .source import ParsedFunction

__all__ = ["normalize"]

# Statements refused, with the words the error uses for them.
_STATEMENT_NAMES = {
    ast.Try: "`try`", ast.AsyncWith: "`async with`",
    ast.ClassDef: "a class definition", ast.AsyncFunctionDef: "an async function", ast.Global: "`global`", ast.Nonlocal: "`nonlocal`",
    ast.Delete: "`del`", ast.Import: "`import`", ast.ImportFrom: "`import`",
    ast.AsyncFor: "`async for`",
}
_EXPRESSION_NAMES = {
    ast.Yield: "`yield`", ast.YieldFrom: "`yield from`", ast.Await: "`await`",
    ast.NamedExpr: "the `:=` operator", ast.Starred: "star-arguments (`*args`)",
    ast.Set: "a set display",
}
if hasattr(ast, "TryStar"):
    _STATEMENT_NAMES[ast.TryStar] = "`try`"
if hasattr(ast, "Match"):
    _STATEMENT_NAMES[ast.Match] = "`match`"
if hasattr(ast, "TypeAlias"):
    _STATEMENT_NAMES[ast.TypeAlias] = "`type`"

def _refuse(parsed: ParsedFunction, node: ast.AST, what: str, hint: str = "") -> None:
    raise UnsupportedSyntaxError(f"{what} is not supported by gradc", parsed.loc(node), hint)


def _check_signature(parsed: ParsedFunction, node: ast.FunctionDef | None = None, root: bool = True) -> None:
    """The function's parameters: `*args` only in a helper or nested function (the function
    differentiated names each argument, as `wrt` counts them)."""
    node = node or parsed.node
    args = node.args
    if args.vararg is not None and root:
        _refuse(parsed, args.vararg, "`*" + args.vararg.arg + "` in the signature",
                "name each argument explicitly")
    if args.kwarg is not None:
        _refuse(parsed, args.kwarg, "`**" + args.kwarg.arg + "` in the signature",
                "name each argument explicitly")
    if isinstance(node, ast.AsyncFunctionDef):
        _refuse(parsed, node, "an async function")


def _check_expression(parsed: ParsedFunction, expr: ast.AST) -> None:
    for node in ast.walk(expr):
        what = _EXPRESSION_NAMES.get(type(node))
        if what:
            _refuse(parsed, node, what)
        if isinstance(node, ast.keyword) and node.arg is None:
            _refuse(parsed, node.value, "`**kwargs` in a call")


def _check_target(parsed: ParsedFunction, target: ast.AST) -> None:
    if isinstance(target, ast.Name):
        return
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        _check_expression(parsed, target.slice)
        return  # `y[i] = v`: lowered as a new version of `y`
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _check_target(parsed, element)
        return
    what, hint = _TARGET_REFUSALS.get(type(target), ("this assignment target", ""))
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Subscript):
        outer, inner, last = ast.unparse(target.value.value), ast.unparse(target.value.slice), ast.unparse(target.slice)
        hint = (f"For an array, write `{outer}[{inner}, {last}] = ...`. For a list of arrays, bind the item to a "
                f"name first: `row = {outer}[{inner}]`, then `row[{last}] = ...`.")
    _refuse(parsed, target, what, hint)


_TARGET_REFUSALS = {  # (what is refused, what to write instead)
    ast.Subscript: ("assignment to an element of an element (`x[i][j] = ...`)",
                    "For an array, write `x[i, j] = ...`. For a list of arrays, bind the item to a name "
                    "first: `row = x[i]`, then `row[j] = ...`."),
    ast.Attribute: ("assignment to an attribute (`obj.a = ...`)",
                    "Bind the new value to a name of its own (`w = ...`) and use that name where `obj.a` "
                    "was read."),
    ast.Starred: ("starred assignment (`a, *b = ...`)", "Unpack by index: `a, b = xs[0], xs[1:]`."),
}


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _normalize_statement(parsed: ParsedFunction, stmt: ast.stmt, scopes: ScopeRewriter,
                         top: bool, loop: ast.stmt | None = None) -> list[ast.stmt]:
    """`top`: not inside a branch (a loop's body is not a branch); `loop`: the innermost loop it is in."""
    if isinstance(stmt, ast.Pass) or _is_docstring(stmt):
        return []
    what = _STATEMENT_NAMES.get(type(stmt))
    if what:
        _refuse(parsed, stmt, what)
    if isinstance(stmt, ast.FunctionDef):
        return scopes.statement(stmt, top, loop)  # (its body is normalized as a function of its own)
    if isinstance(stmt, (ast.Break, ast.Continue)):
        return [stmt]
    if isinstance(stmt, (ast.Assert, ast.Raise, ast.With)):  # (kept in the forward sweep: effect_statements.py)
        block = lambda p, stmts: _normalize_block(p, stmts, scopes)  # noqa: E731
        return [new for s in _normalize_effect_statement(parsed, stmt, block, _check_expression)
                for new in scopes.statement(s, top)]
    if isinstance(stmt, (ast.If, ast.For, ast.While)):
        if isinstance(stmt, ast.For):
            _check_target(parsed, stmt.target)
            _check_expression(parsed, stmt.iter)
        else:
            _check_expression(parsed, stmt.test)
        inner = stmt if isinstance(stmt, (ast.For, ast.While)) else loop
        in_body = top and not isinstance(stmt, ast.If)  # (a loop's body is not a branch; its `else:` is)
        stmt.body = _normalize_block(parsed, stmt.body, scopes, in_body, inner)
        stmt.orelse = _normalize_block(parsed, stmt.orelse, scopes, False, loop)
        return scopes.statement(stmt, top)
    if isinstance(stmt, ast.Return):
        if stmt.value is None:
            _refuse(parsed, stmt, "a `return` without a value")
        _check_expression(parsed, stmt.value)
        return scopes.statement(stmt, top)
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            _check_target(parsed, target)
        _check_expression(parsed, stmt.value)
        _name_result(stmt)
        return scopes.statement(stmt, top, loop)
    if isinstance(stmt, ast.AnnAssign):
        if stmt.value is None:
            return []
        _check_target(parsed, stmt.target)
        _check_expression(parsed, stmt.value)
        assign = ast.copy_location(ast.Assign([stmt.target], stmt.value), stmt)
        _name_result(assign)
        return scopes.statement(assign, top)
    if isinstance(stmt, ast.AugAssign):
        _check_target(parsed, stmt.target)
        _check_expression(parsed, stmt.value)
        if isinstance(stmt.target, ast.Subscript):  # `y[i] += v` is `y[i] = y[i] + v`
            read = copy.deepcopy(stmt.target)
            read.ctx = ast.Load()
            value = ast.copy_location(ast.BinOp(read, stmt.op, stmt.value), stmt)
            return scopes.statement(ast.copy_location(ast.Assign([stmt.target], value), stmt), top)
        load = ast.copy_location(ast.Name(stmt.target.id, ast.Load()), stmt.target)
        value = ast.copy_location(ast.BinOp(load, stmt.op, stmt.value), stmt)
        assign = ast.copy_location(ast.Assign([stmt.target], value), stmt)
        assign.augmented = True  # lower checks that rebinding equals the in-place update
        return scopes.statement(assign, top)
    if isinstance(stmt, ast.Expr):
        _check_expression(parsed, stmt.value)  # names `yield`, `await` ... precisely
        if isinstance(stmt.value, ast.Call):
            return scopes.statement(stmt, top)  # `lower` accepts `items.append(x)` and gradc's own checks
        _refuse(parsed, stmt, "an expression statement (a value computed and thrown away)")
    _refuse(parsed, stmt, f"`{type(stmt).__name__}`")
    return []


def _name_result(assign: ast.Assign) -> None:
    """`squares = [v * v for v in x]`: the list is built under the name it is given (when the
    comprehension does not itself read that name)."""
    target, value = assign.targets[0], assign.value
    if len(assign.targets) == 1 and isinstance(target, ast.Name) and \
            isinstance(value, (ast.ListComp, ast.DictComp)) and \
            not any(isinstance(n, ast.Name) and n.id == target.id for n in ast.walk(value)):
        value.result_name = target.id


class _Flags:
    """The flags a block of statements may set: `break`, `continue` and early `return`."""

    def __init__(self, names: set[str]):
        self.taken = set(names)

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name


def _assign(name: str, value: ast.expr, like: ast.AST) -> ast.Assign:
    node = ast.Assign([ast.Name(name, ast.Store())], value)
    node.flag = True  # written by gradc, not by the user
    return ast.copy_location(node, like)


def _constant(value: object, like: ast.AST) -> ast.expr:
    return ast.copy_location(ast.Constant(value), like)


def _none_set(flags: list[str], like: ast.AST) -> ast.expr:
    """`not (f1 or f2 ...)`: none of the flags is set."""
    names = [ast.copy_location(ast.Name(f, ast.Load()), like) for f in flags]
    either = names[0] if len(names) == 1 else ast.copy_location(ast.BoolOp(ast.Or(), names), like)
    return ast.copy_location(ast.UnaryOp(ast.Not(), either), like)


class _ControlFlow:
    """Rewrites `break`, `continue` and early `return` into flags, so the IR only sees
    structured `if`/`for`/`while` (a loop's `stop` attribute names its break condition)."""

    def __init__(self, parsed: ParsedFunction, flags: _Flags):
        self.parsed = parsed
        self.flags = flags
        self.returned: str | None = None
        self.retval: str | None = None
        self.loops: list[dict] = []  # innermost last: {"break": name | None, "continue": name | None}

    def block(self, stmts: list[ast.stmt]) -> tuple[list[ast.stmt], list[str]]:
        """The rewritten block and the flags it may set (statements after a setter are guarded)."""
        out: list[ast.stmt] = []
        for index, stmt in enumerate(stmts):
            new, may_set = self.statement(stmt)
            out.extend(new)
            if may_set:
                rest, more = self.block(stmts[index + 1:])
                if rest:
                    guard = ast.copy_location(ast.If(_none_set(may_set, stmt), rest, []), stmt)
                    guard.flag = True
                    out.append(guard)
                return out, sorted(set(may_set) | set(more))
        return out, []

    def statement(self, stmt: ast.stmt) -> tuple[list[ast.stmt], list[str]]:
        if isinstance(stmt, ast.Break):
            loop = self.loops[-1]
            loop["break"] = loop["break"] or self.flags.fresh("broke")
            return [_assign(loop["break"], _constant(True, stmt), stmt)], [loop["break"]]
        if isinstance(stmt, ast.Continue):
            loop = self.loops[-1]
            loop["continue"] = loop["continue"] or self.flags.fresh("skip")
            return [_assign(loop["continue"], _constant(True, stmt), stmt)], [loop["continue"]]
        if isinstance(stmt, ast.Return):
            if self.returned is None:
                self.returned, self.retval = self.flags.fresh("returned"), self.flags.fresh("result")
            result = _assign(self.retval, stmt.value, stmt)
            result.flag, result.returns = False, True  # commented like the `return` it came from
            return [result, _assign(self.returned, _constant(True, stmt), stmt)], [self.returned]
        if isinstance(stmt, ast.If):
            body, set_a = self.block(stmt.body)
            orelse, set_b = self.block(stmt.orelse)
            stmt.body, stmt.orelse = body or [ast.copy_location(ast.Pass(), stmt)], orelse
            return [stmt], sorted(set(set_a) | set(set_b))
        if isinstance(stmt, (ast.For, ast.While)):
            return self.loop(stmt)
        if isinstance(stmt, ast.With):
            body, sets = self.block(stmt.body)
            stmt.body = body or [ast.copy_location(ast.Pass(), stmt)]
            return [stmt], sets
        return [stmt], []

    def loop(self, stmt: ast.For | ast.While) -> tuple[list[ast.stmt], list[str]]:
        self.loops.append({"break": None, "continue": None})
        body, may_set = self.block(stmt.body)
        loop = self.loops.pop()
        before: list[ast.stmt] = []
        if loop["continue"]:
            body.insert(0, _assign(loop["continue"], _constant(False, stmt), stmt))
        if loop["break"]:
            before.append(_assign(loop["break"], _constant(False, stmt), stmt))
        stops = [f for f in (loop["break"], self.returned) if f and f in may_set]
        stmt.body = body or [ast.copy_location(ast.Pass(), stmt)]
        stmt.stop = [ast.copy_location(ast.Name(f, ast.Load()), stmt) for f in stops]
        orelse, stmt.orelse = stmt.orelse, []
        after: list[ast.stmt] = []
        outer_sets = [f for f in may_set if f == self.returned]
        if orelse:
            guarded = ast.copy_location(ast.If(_none_set(stops, stmt), orelse, []), stmt) if stops else None
            new, sets = self.block([guarded] if guarded else orelse)
            after.extend(new)
            outer_sets = sorted(set(outer_sets) | set(sets))
        return before + [stmt] + after, outer_sets

    def function(self, body: list[ast.stmt]) -> list[ast.stmt]:
        returns = [n for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Return)]
        if returns == body[-1:]:  # one `return`, at the end: nothing to rewrite for it
            new, _ = self.block(body[:-1])
            return new + body[-1:]
        new, _ = self.block(body)
        start = [_assign(self.returned, _constant(False, body[0]), body[0]),
                 _assign(self.retval, _constant(None, body[0]), body[0])]
        end = ast.copy_location(ast.Return(ast.Name(self.retval, ast.Load())), body[-1])
        return start + new + [end]


def normalize(parsed: ParsedFunction, root: bool = True) -> ast.FunctionDef:
    """Return a desugared copy of the function's definition, or raise UnsupportedSyntaxError.
    `root`: the function differentiated (not a helper it calls), whose parameters `wrt` counts."""
    _check_signature(parsed, root=root)
    node = pickle.loads(pickle.dumps(parsed.node))  # a copy (faster than copy.deepcopy for ASTs)
    if CHECK_NAME in parsed.fn.__code__.co_varnames:  # a gradient built under GRADC_VERIFY=1, differentiated
        node = without_checks(node)  # again: the same gradient without the buffer checker's calls
    flags = _Flags(_all_names(node))

    def nested(definition: ast.FunctionDef) -> tuple[ast.FunctionDef, set[str]]:
        _check_signature(parsed, definition, root=False)
        return _normalize_function(parsed, definition, scopes, flags, nested=True)

    scopes = ScopeRewriter(node, flags.fresh, nested, lambda n, what, hint="": _refuse(parsed, n, what, hint))
    node, _ = _normalize_function(parsed, node, scopes, flags, nested=False)
    node.decorator_list = []
    return node


def _normalize_function(parsed: ParsedFunction, node: ast.FunctionDef, scopes: ScopeRewriter, flags: "_Flags",
                        nested: bool) -> tuple[ast.FunctionDef, set[str]]:
    """`node` with its body normalized, and the names local to it (parameters, what it assigns,
    the functions it defines)."""
    body = _normalize_block(parsed, node.body, scopes, top=True)
    if not any(isinstance(n, ast.Return) for stmt in body for n in ast.walk(stmt)):
        if not nested:
            _refuse(parsed, node.body[-1], "a function that does not end in `return <expression>`")
        body.append(ast.copy_location(ast.Return(ast.copy_location(ast.Constant(None), node)), body[-1] if body
                                      else node))
    node.body = _ControlFlow(parsed, flags).function(body)
    args = node.args
    local = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg] if a}
    for stmt in node.body:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                local.add(sub.id)
            elif isinstance(sub, LocalDef):
                local.add(sub.name)
    return node, local


def _all_names(node: ast.AST) -> set[str]:
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return names | {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}


def _normalize_block(parsed: ParsedFunction, stmts: list[ast.stmt], scopes: ScopeRewriter,
                     top: bool = False, loop: ast.stmt | None = None) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for stmt in stmts:
        out.extend(_normalize_statement(parsed, stmt, scopes, top, loop))
        if isinstance(stmt, ast.Raise):
            break  # (what follows a `raise` never runs)
    return out
