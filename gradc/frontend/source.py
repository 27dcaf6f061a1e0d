"""Stage 1: a function object → its parsed source, where it lives, and its free names.

`parse_function` returns a :class:`ParsedFunction`: the `ast.FunctionDef` with
line and column numbers of the original file (so every error points at the
user's real line), and a resolver that maps a free name to the object it
denotes in the function's closure, module globals or builtins.
"""
from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import sys
import textwrap
import tokenize
import types
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import GradcError, Loc, SourceSyntaxError, SourceUnavailableError, UnsupportedSyntaxError
from .callables import not_a_function

__all__ = ["ParsedFunction", "parse_function", "display_name", "UNRESOLVED"]

UNRESOLVED = object()  # what `ParsedFunction.resolve` returns for an unknown name


@dataclass
class ParsedFunction:
    """A function's definition, its file, its source lines and its namespace."""

    fn: Callable
    node: ast.FunctionDef
    file: str
    lines: dict[int, str]  # line number in `file` → text of that line

    def loc(self, node: ast.AST) -> Loc:
        line = getattr(node, "lineno", self.node.lineno)
        return Loc(self.file, line, getattr(node, "col_offset", 0), self.lines.get(line, ""))

    def resolve(self, name: str) -> Any:
        """The object `name` denotes for the function: closure cell, global or builtin."""
        code = self.fn.__code__
        if name in code.co_freevars and self.fn.__closure__:
            cell = self.fn.__closure__[code.co_freevars.index(name)]
            try:
                return cell.cell_contents
            except ValueError:  # an empty cell: the variable is not bound yet
                return UNRESOLVED
        if name in self.fn.__globals__:
            return self.fn.__globals__[name]
        return getattr(builtins, name, UNRESOLVED)


def _describe(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _source_lines(fn: Any) -> tuple[list[str], int, str]:
    if not isinstance(fn, types.FunctionType):
        raise not_a_function(fn)  # (what it is, and what to pass instead)
    try:
        lines, first = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or fn.__code__.co_filename
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {_describe(fn)} (defined in {fn.__code__.co_filename}): {exc}",
            hint="gradc reads a function's source. Functions typed at an interactive prompt or made "
            "with exec() have none; define the function in a file or a notebook cell.",
        ) from None
    except (SyntaxError, tokenize.TokenError):  # (its file no longer parses: edited since it was imported)
        raise _file_syntax_error(fn) from None
    return lines, max(first, 1), file


def _file_syntax_error(fn: types.FunctionType) -> GradcError:
    """The syntax error in `fn`'s file, located, or why its source cannot be read."""
    file = fn.__code__.co_filename
    try:
        ast.parse("".join(linecache.getlines(file, fn.__globals__)), file)
    except SyntaxError as exc:
        return SourceSyntaxError.from_python(exc, file)
    return SourceUnavailableError(f"cannot read the source of {_describe(fn)} in {file}",
                                  hint="its file has changed since it was imported; import it again")


def parse_function(fn: Callable) -> ParsedFunction:
    """Read and parse `fn`'s source, keeping the file's line and column numbers."""
    lines, first, file = _source_lines(fn)
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = len(lines[0]) - len(lines[0].lstrip()) if dedented != text else 0
    line_map = {first + i: line for i, line in enumerate(lines)}
    if fn.__name__ == "<lambda>":
        return _parse_lambda(fn, file, first)
    try:
        tree = ast.parse(dedented)
    except SyntaxError as exc:
        raise SourceSyntaxError.from_python(exc, file, first, indent, line_map) from None  # (the file changed?)
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise SourceUnavailableError(f"cannot find the definition of {_describe(fn)} in its source")
    for sub in ast.walk(tree):
        if hasattr(sub, "lineno"):
            sub.lineno += first - 1
            if sub.end_lineno is not None:
                sub.end_lineno += first - 1
            sub.col_offset += indent
            if sub.end_col_offset is not None:
                sub.end_col_offset += indent
    return ParsedFunction(fn, node, file, line_map)


def display_name(fn: Any) -> str:
    """The name gradc gives `fn`: its own, or for a lambda the name it is assigned to (`lambda_`)."""
    name = getattr(fn, "__name__", None) or "f"
    if name != "<lambda>":
        return name
    try:
        return parse_function(fn).node.name
    except Exception:  # noqa: BLE001 - (a name for messages; the real error comes when it compiles)
        return "lambda_"


def _parse_lambda(fn: types.FunctionType, file: str, first: int) -> ParsedFunction:
    """A lambda's definition, found in its file: the lambda on its first line whose parameters,
    and (from Python 3.11) whose code's source positions, are the function's. It is read as
    `def NAME(params): return body`, NAME the name it is assigned to, or `lambda_`."""
    lines = linecache.getlines(file, fn.__globals__)
    line_map = {i + 1: line for i, line in enumerate(lines)}
    code = fn.__code__
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError as exc:
        raise SourceSyntaxError.from_python(exc, file) from None
    params = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    candidates = [node for node in ast.walk(tree) if isinstance(node, ast.Lambda) and node.lineno == first
                  and [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs] == params]
    if len(candidates) > 1:
        candidates = _by_positions(candidates, code)
    loc = Loc(file, first, 0, line_map.get(first, ""))
    if not candidates:
        raise SourceUnavailableError(f"cannot find the lambda in {file} at line {first}")
    if len(candidates) > 1:
        raise UnsupportedSyntaxError(
            f"line {first} holds {len(candidates)} lambdas with the same parameters, which cannot be told "
            f"apart on Python {sys.version_info.major}.{sys.version_info.minor}", loc,
            hint="put each lambda on a line of its own, or define the function with `def`")
    node = candidates[0]
    name = _assigned_name(tree, node) or "lambda_"
    body = [ast.copy_location(ast.Return(node.body), node.body)]
    fdef = ast.FunctionDef(name=name, args=node.args, body=body, decorator_list=[], returns=None, type_comment=None)
    if hasattr(ast, "TypeVar"):
        fdef.type_params = []
    ast.copy_location(fdef, node)
    fdef.end_lineno, fdef.end_col_offset = node.end_lineno, node.end_col_offset
    return ParsedFunction(fn, fdef, file, line_map)


def _by_positions(candidates: list[ast.Lambda], code: types.CodeType) -> list[ast.Lambda]:
    """The lambdas whose source span holds every position of `code`'s instructions (the innermost)."""
    positions_of = getattr(code, "co_positions", None)
    if positions_of is None:  # (Python 3.10: no positions)
        return candidates
    spots = {(line, col) for line, end_line, col, end_col in positions_of()  # (not RESUME's empty span)
             if None not in (line, end_line, col, end_col) and (end_line, end_col) > (line, col)}

    def holds(node: ast.Lambda) -> bool:
        return all((node.lineno, node.col_offset) <= spot <= (node.end_lineno, node.end_col_offset)
                   for spot in spots)

    found = [node for node in candidates if holds(node)]
    inner = [n for n in found if not any(o is not n and o in found and _inside(o, n) for o in found)]
    return inner or found


def _inside(inner: ast.AST, outer: ast.AST) -> bool:
    return any(sub is inner for sub in ast.walk(outer))


def _assigned_name(tree: ast.AST, node: ast.Lambda) -> str | None:
    for sub in ast.walk(tree):
        if isinstance(sub, ast.Assign) and sub.value is node and len(sub.targets) == 1 and \
                isinstance(sub.targets[0], ast.Name):
            return sub.targets[0].id
    return None
