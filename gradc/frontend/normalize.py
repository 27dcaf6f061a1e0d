"""Stage 2: AST → AST desugaring, and the check that refuses what gradc cannot do.

After `normalize`, a function body holds only these statements:

    Assign(targets=[Name | Tuple/List of Names], value)
    Return(value)
    Expr(Call)      # accepted by `lower` only for gradc's run-time checks, as in generated code

and expressions built from names, constants, calls, attributes, operators,
comparisons, `and`/`or`/`not`, tuples, lists and subscripts. Everything else
raises :class:`~gradc.UnsupportedSyntaxError` pointing at the construct, at
`grad(f)` time. What the desugaring does:

- `x op= e`        → `x = x op e`  (checked for aliasing by `lower`)
- `x: T = e`       → `x = e`
- a docstring, `pass` → nothing
"""
from __future__ import annotations

import ast
import copy

from ..errors import UnsupportedSyntaxError
from .source import ParsedFunction

__all__ = ["normalize"]

# Statements refused, with the words the error uses for them.
_STATEMENT_NAMES = {
    ast.Try: "`try`", ast.With: "`with`", ast.AsyncWith: "`async with`", ast.Raise: "`raise`",
    ast.ClassDef: "a class definition", ast.FunctionDef: "a nested function definition",
    ast.AsyncFunctionDef: "an async function", ast.Global: "`global`", ast.Nonlocal: "`nonlocal`",
    ast.Delete: "`del`", ast.Import: "`import`", ast.ImportFrom: "`import`",
    ast.Assert: "`assert`", ast.If: "an `if` statement", ast.For: "a `for` loop",
    ast.While: "a `while` loop", ast.AsyncFor: "`async for`", ast.Break: "`break`",
    ast.Continue: "`continue`",
}
_EXPRESSION_NAMES = {
    ast.Yield: "`yield`", ast.YieldFrom: "`yield from`", ast.Await: "`await`",
    ast.Lambda: "a lambda", ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression",
    ast.NamedExpr: "the `:=` operator", ast.Starred: "star-arguments (`*args`)",
    ast.IfExp: "a conditional expression (`a if c else b`)", ast.JoinedStr: "an f-string",
    ast.Set: "a set display", ast.Dict: "a dict display",
}
if hasattr(ast, "TryStar"):
    _STATEMENT_NAMES[ast.TryStar] = "`try`"
if hasattr(ast, "Match"):
    _STATEMENT_NAMES[ast.Match] = "`match`"
if hasattr(ast, "TypeAlias"):
    _STATEMENT_NAMES[ast.TypeAlias] = "`type`"

_CONTROL_FLOW = (ast.If, ast.For, ast.While, ast.Break, ast.Continue)


def _refuse(parsed: ParsedFunction, node: ast.AST, what: str, hint: str = "") -> None:
    raise UnsupportedSyntaxError(f"{what} is not supported by gradc", parsed.loc(node), hint)


def _check_signature(parsed: ParsedFunction) -> None:
    args = parsed.node.args
    if args.vararg is not None:
        _refuse(parsed, args.vararg, "`*" + args.vararg.arg + "` in the signature",
                "name each argument explicitly")
    if args.kwarg is not None:
        _refuse(parsed, args.kwarg, "`**" + args.kwarg.arg + "` in the signature",
                "name each argument explicitly")
    if isinstance(parsed.node, ast.AsyncFunctionDef):
        _refuse(parsed, parsed.node, "an async function")


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
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _check_target(parsed, element)
        return
    what = {ast.Subscript: "assignment to an element or slice (`x[i] = ...`)",
            ast.Attribute: "assignment to an attribute (`obj.a = ...`)",
            ast.Starred: "starred assignment (`a, *b = ...`)"}.get(type(target), "this assignment target")
    _refuse(parsed, target, what)


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _normalize_statement(parsed: ParsedFunction, stmt: ast.stmt) -> list[ast.stmt]:
    if isinstance(stmt, ast.Pass) or _is_docstring(stmt):
        return []
    what = _STATEMENT_NAMES.get(type(stmt))
    if what:
        hint = "control flow is not differentiated yet" if isinstance(stmt, _CONTROL_FLOW) else ""
        _refuse(parsed, stmt, what, hint)
    if isinstance(stmt, ast.Return):
        if stmt.value is None:
            _refuse(parsed, stmt, "a `return` without a value")
        _check_expression(parsed, stmt.value)
        return [stmt]
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            _check_target(parsed, target)
        _check_expression(parsed, stmt.value)
        return [stmt]
    if isinstance(stmt, ast.AnnAssign):
        if stmt.value is None:
            return []
        _check_target(parsed, stmt.target)
        _check_expression(parsed, stmt.value)
        return [ast.copy_location(ast.Assign([stmt.target], stmt.value), stmt)]
    if isinstance(stmt, ast.AugAssign):
        if not isinstance(stmt.target, ast.Name):
            _check_target(parsed, stmt.target)
        _check_expression(parsed, stmt.value)
        load = ast.copy_location(ast.Name(stmt.target.id, ast.Load()), stmt.target)
        value = ast.copy_location(ast.BinOp(load, stmt.op, stmt.value), stmt)
        assign = ast.copy_location(ast.Assign([stmt.target], value), stmt)
        assign.augmented = True  # lower checks that rebinding equals the in-place update
        return [assign]
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        _check_expression(parsed, stmt.value)
        return [stmt]  # `lower` accepts only gradc's own checks (generated code calls them)
    _refuse(parsed, stmt, f"`{type(stmt).__name__}`")
    return []


def normalize(parsed: ParsedFunction) -> ast.FunctionDef:
    """Return a desugared copy of the function's definition, or raise UnsupportedSyntaxError."""
    _check_signature(parsed)
    node = copy.deepcopy(parsed.node)
    body: list[ast.stmt] = []
    for stmt in node.body:
        body.extend(_normalize_statement(parsed, stmt))
    if not body or not isinstance(body[-1], ast.Return):
        last = node.body[-1]
        _refuse(parsed, last, "a function that does not end in `return <expression>`")
    for stmt in body[:-1]:
        if isinstance(stmt, ast.Return):
            _refuse(parsed, stmt, "a `return` before the end of the function")
    node.body = body
    node.decorator_list = []
    return node
