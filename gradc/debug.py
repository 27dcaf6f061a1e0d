"""Tracebacks from generated code that also name the primal line.

An exception raised while a gradient runs passes through `GradFunction.__call__`, which calls
`note_primal_line(exc, primal)`. It finds the innermost traceback frame in generated code (a
filename starting with `<gradc`), maps its line to the primal line that block differentiates
(`Emitted.line_map`, or the nearest `# line N:` comment above it), and adds a note (Python 3.11+
prints notes under the exception):

    FloatingPointError: divide by zero encountered in divide
    gradc: in the gradient at <gradc dloss 1a2b3c4d>:31: dtotal = dlog / total
    gradc: in the backward pass of examples/mlp.py:16: log_probs = shifted - np.log(...)

On Python 3.10 the note is stored in `exc.__notes__` (not printed by the interpreter).
"""
from __future__ import annotations

import linecache
import re
from types import TracebackType
from typing import Any, Callable, Iterable

__all__ = ["note_primal_line", "generated_frame", "primal_line_for", "line_maps_of"]

_LINE = re.compile(r"^\s*# line (\d+):")
_PREFIX = "gradc: in the gradient at "


def generated_frame(tb: TracebackType | None) -> tuple[str, int] | None:
    """(filename, line) of the innermost traceback entry in generated code, or None."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith("<gradc"):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def primal_line_for(filename: str, lineno: int, line_maps: Iterable[tuple[str, dict[int, int]]] = ()) -> int | None:
    """The primal line generated line `lineno` of `filename` differentiates (or computes).

    `line_maps` gives `(filename, Emitted.line_map)` pairs; without a match, the nearest
    `# line N:` comment above the line in `linecache` decides (None below `# backward`)."""
    for name, line_map in line_maps:
        if name == filename:
            return line_map.get(lineno)
    for number in range(lineno, 0, -1):
        text = linecache.getline(filename, number)
        match = _LINE.match(text)
        if match:
            return int(match.group(1))
        if text.strip() == "# backward":
            return None
    return None


def _add_note(exc: BaseException, note: str) -> None:
    notes = getattr(exc, "__notes__", None) or []
    if any(n.startswith(_PREFIX) for n in notes):
        return  # an outer gradient (grad of grad) already named its line
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # Python 3.10: keep it where 3.11 would, for tools and tests
        try:
            exc.__notes__ = notes + [note]
        except (AttributeError, TypeError):
            pass


def note_primal_line(exc: BaseException, primal: Callable, line_maps: Iterable[tuple[str, dict[int, int]]] = ()) -> None:
    """Add a note to `exc` naming the generated line it was raised at and the primal line behind it."""
    where = generated_frame(exc.__traceback__)
    if where is None:
        return
    filename, lineno = where
    generated = linecache.getline(filename, lineno).rstrip()
    note = f"{_PREFIX}{filename}:{lineno}: {generated.strip()}"
    line = primal_line_for(filename, lineno, line_maps)
    code = getattr(primal, "__code__", None)
    if line is not None and code is not None:
        text = linecache.getline(code.co_filename, line).strip()
        note += f"\ngradc: {_sweep(filename, lineno)} of {code.co_filename}:{line}: {text}"
    _add_note(exc, note)


def _sweep(filename: str, lineno: int) -> str:
    """"in the backward pass" below the generated `# backward` comment, else "in the forward pass"."""
    backward = any(linecache.getline(filename, n).strip() == "# backward" for n in range(1, lineno))
    return "in the backward pass" if backward else "in the forward pass"


def line_maps_of(entries: Any) -> list[tuple[str, dict[int, int]]]:
    """`(filename, line_map)` for the compiled gradients in an in-memory cache entry dict."""
    return [(compiled.factory.co_filename, compiled.emitted.line_map) for compiled in (entries or {}).values()]
