"""Errors gradc raises, and the compiler-style formatting of source locations.

Every error that concerns the user's code carries a :class:`Loc` and renders as::

    model.py:12:8: error: `try` is not supported by gradc
        try:
        ^
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Loc",
    "GradcError",
    "UnsupportedSyntaxError",
    "SourceSyntaxError",
    "NoGradientRuleError",
    "NonScalarOutputError",
    "NonDifferentiableArgumentError",
    "SourceUnavailableError",
    "UnresolvedNameError",
    "KindDependentError",
]


@dataclass(frozen=True)
class Loc:
    """A place in the user's source: file, 1-based line, 0-based column, and the line's text."""

    file: str
    line: int
    col: int
    text: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col + 1}"

    def caret(self) -> str:
        """The source line with a caret under the column (empty if the text is unknown)."""
        if not self.text:
            return ""
        stripped = self.text.rstrip("\n")
        indent = len(stripped) - len(stripped.lstrip())
        shown = stripped.strip()
        col = max(self.col - indent, 0)
        return f"    {shown}\n    {' ' * col}^"


class GradcError(Exception):
    """Base class of every error gradc raises about the user's code or arguments."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str = ""):
        self.message = message
        self.loc = loc
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        """Compiler-style text: ``file:line:col: error: message``, source line, caret, hint."""
        head = f"{self.loc}: error: {self.message}" if self.loc else self.message
        parts = [head]
        if self.loc and self.loc.caret():
            parts.append(self.loc.caret())
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.render()


class _LocatedSyntaxError(GradcError, SyntaxError):
    """A GradcError that is also a SyntaxError, its fields filled so tools that know SyntaxError
    show the place."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str = ""):
        GradcError.__init__(self, message, loc, hint)
        if loc is not None:
            self.filename, self.lineno, self.offset, self.text = loc.file, loc.line, loc.col + 1, loc.text
        self.msg = message

    def __str__(self) -> str:
        return self.render()


class UnsupportedSyntaxError(_LocatedSyntaxError):
    """A construct gradc cannot differentiate (yet); raised when `grad(f)` is called."""


class SourceSyntaxError(_LocatedSyntaxError):
    """The user's file is not valid Python: Python's own SyntaxError, located and shown like every
    gradc error (`file:line:col: error: ...`, the line, a caret)."""

    @classmethod
    def from_python(cls, exc: SyntaxError, file: str | None = None, first_line: int = 1, indent: int = 0,
                    lines: dict[int, str] | None = None) -> "SourceSyntaxError":
        """Python's SyntaxError as gradc's. `file` names the file where Python's names none (a string
        parsed); `first_line` and `indent` place a snippet in its file (a function's source parsed
        on its own), `lines` is its text by file line."""
        file = file or exc.filename or "<unknown>"
        if exc.lineno is None:
            return cls(f"{exc.msg} ({file})")
        line = exc.lineno + first_line - 1
        col = max((exc.offset or 1) - 1, 0) + indent
        text = (lines or {}).get(line) or _file_line(file, line) or exc.text or ""
        return cls(exc.msg, Loc(file, line, col, text))


def _file_line(filename: str | None, line: int) -> str:
    import linecache
    return linecache.getline(filename, line) if filename else ""


class UnresolvedNameError(GradcError, NameError):
    """A name the function reads is not defined (yet) in its closure, globals or builtins."""


class KindDependentError(UnsupportedSyntaxError):
    """A construct whose meaning depends on whether a value is an array or a number, which the
    kinds of a call's arguments decide (`s = x[1]; s += 1.0` with `x` of one dimension or two):
    refused where they are not known (the source for any arguments), decided per call."""


class NoGradientRuleError(GradcError):
    """A differentiable value flows into a callee that has no derivative rule."""


class NonScalarOutputError(GradcError, ValueError):
    """`grad` of a function whose output is not a scalar; `vjp` is the tool for that."""


class NonDifferentiableArgumentError(GradcError, TypeError):
    """An argument in `wrt` is an integer or boolean, which has no gradient."""


class SourceUnavailableError(GradcError):
    """The function's source cannot be read (a builtin, code typed at a prompt, `exec`)."""
