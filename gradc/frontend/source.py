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
import textwrap
import types
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import Loc, SourceUnavailableError, UnsupportedSyntaxError
from .callables import not_a_function

__all__ = ["ParsedFunction", "parse_function", "UNRESOLVED"]

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
    return lines, max(first, 1), file


def parse_function(fn: Callable) -> ParsedFunction:
    """Read and parse `fn`'s source, keeping the file's line and column numbers."""
    lines, first, file = _source_lines(fn)
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = len(lines[0]) - len(lines[0].lstrip()) if dedented != text else 0
    line_map = {first + i: line for i, line in enumerate(lines)}
    if fn.__name__ == "<lambda>":
        loc = Loc(file, first, indent, lines[0])
        raise UnsupportedSyntaxError(
            "a lambda cannot be differentiated", loc, hint="define the function with `def` instead"
        )
    try:
        tree = ast.parse(dedented)
    except SyntaxError as exc:
        raise SourceUnavailableError(f"cannot parse the source of {_describe(fn)}: {exc}") from None
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
