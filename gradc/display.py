"""Rich display of a `GradFunction`: the notebook view and the IPython terminal view.

`html(g)` (what `GradFunction._repr_html_` returns) shows the primal function and
the generated gradient side by side. Every line carries `data-line="N"`, N being
the primal line it comes from: a primal line its own number, a generated line
the number in the `# line N: ...` comment heading its block. Hovering a line
highlights every line with the same number in both panes (a CSS `:has()` rule,
so it works without JavaScript); clicking one pins the highlight and scrolls
the other pane to the first matching line (a few lines of inline JavaScript).
The IR of the gradient follows in a collapsible `<details>` section, linked the
same way through its `# line N` comments.

The HTML is self-contained: inline `<style>` and `<script>`, nothing fetched,
so it works in a notebook opened as a static file. Syntax colour comes from
pygments when it is installed; without it the code is plain escaped text.

>>> import numpy as np, gradc
>>> from gradc.display import html
>>> def f(x):
...     return np.sum(np.tanh(x))
>>> view = html(gradc.grad(f), view_id="gradc-doc")
>>> 'class="gradc-pane gradc-primal"' in view and 'data-line=' in view
True
"""
from __future__ import annotations

import html as _html
import inspect
import itertools
import os
import re
import uuid
from typing import Any

__all__ = ["html", "pretty", "primal_lines", "gradient_lines", "ir_lines"]

_BLOCK_COMMENT = re.compile(r"^\s*# (?:([A-Za-z_][\w.]*), )?line (\d+):")
_IR_LINE = re.compile(r"#\s*line (\d+)\s*$")
_counter = itertools.count(1)


# -- what each line is linked to --------------------------------------------------------------

def primal_lines(fn: Any) -> tuple[list[str], int, str]:
    """The primal's source lines (without line ends), its first line number, and its file."""
    try:
        lines, first = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or fn.__code__.co_filename
    except (OSError, TypeError):
        return [f"# source of {getattr(fn, '__qualname__', fn)!s} is unavailable"], 0, "?"
    return [line.rstrip("\n") for line in lines], max(first, 1), file


def gradient_lines(compiled: Any) -> list[tuple[str, str | None, bool]]:
    """The generated function's lines as `(text, link, in backward sweep)`.

    `link` is the primal line number (as a string) named by the `# line N: ...` comment
    heading the line's block, or `"NAME:N"` for a block inlined from the user's helper
    function NAME (`# NAME, line N: ...`), whose source the view does not show; None for
    the `def` line, `# backward` and the final `return`. (The emitter's `line_map` is
    read from the same comments.)"""
    lines = compiled.emitted.function_source.rstrip("\n").split("\n")
    result, backward, current = [], False, None
    for text in lines:
        if text.strip() == "# backward":
            backward, current = True, None
            result.append((text, None, backward))
            continue
        heading = _BLOCK_COMMENT.match(text)
        if heading:
            helper, number = heading.groups()
            current = f"{helper}:{number}" if helper else number
        result.append((text, current, backward))
    if result and result[-1][0].startswith("    return") and result[-1][2]:
        result[-1] = (result[-1][0], None, True)  # the final return belongs to no block
    return result


def ir_lines(ir: str) -> list[tuple[str, str | None]]:
    """The printed IR's lines with the primal line each names in its trailing `# line N`."""
    out = []
    for text in ir.rstrip("\n").split("\n"):
        found = _IR_LINE.search(text)
        out.append((text, found.group(1) if found else None))
    return out


# -- syntax colour ----------------------------------------------------------------------------

def _colour_lines(lines: list[str]) -> list[str]:
    """Each line as escaped HTML, with `<span class="t-..">` tokens when pygments is installed."""
    try:
        from pygments.lexers import PythonLexer
        from pygments.token import Comment, Keyword, Name, Number, Operator, String
    except ImportError:
        return [_html.escape(line) for line in lines]
    classes = [(Comment, "c"), (Keyword, "k"), (String, "s"), (Number, "m"), (Name.Builtin, "b"),
               (Name.Function, "f"), (Name.Decorator, "d"), (Operator.Word, "k"), (Operator, "o")]
    out, current = [], []
    for kind, value in PythonLexer(stripnl=False, ensurenl=False).get_tokens("\n".join(lines)):
        css = next((c for token, c in classes if kind in token), None)
        for i, piece in enumerate(value.split("\n")):
            if i:
                out.append("".join(current))
                current = []
            if piece:
                text = _html.escape(piece)
                current.append(f'<span class="t-{css}">{text}</span>' if css else text)
    out.append("".join(current))
    return (out + [""] * len(lines))[: len(lines)]


# -- HTML -------------------------------------------------------------------------------------

_CSS = """
.gradc-view{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:13px;color:#1f2328;
  background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;margin:4px 0;max-width:100%;
  box-sizing:border-box}
.gradc-view .gradc-title{font-weight:600;margin:0 0 6px}
.gradc-view .gradc-title code{font-weight:400;color:#57606a}
.gradc-view .gradc-panes{display:flex;gap:10px;align-items:stretch}
.gradc-view .gradc-pane{flex:1 1 0;min-width:0;display:flex;flex-direction:column}
.gradc-view .gradc-primal{flex:0 1 auto;max-width:50%}
.gradc-view .gradc-primal .gradc-code{flex:0 0 auto;position:sticky;top:0}
.gradc-view .gradc-head{font-size:12px;color:#57606a;margin:0 0 3px}
.gradc-view .gradc-code{margin:0;padding:4px 0;background:#f6f8fa;border:1px solid #d8dee4;border-radius:4px;
  overflow:auto;max-height:90em;font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;flex:1}
.gradc-view .gradc-ln{display:block;white-space:pre;padding:0 8px 0 0;border-left:3px solid transparent}
.gradc-view .gradc-ln[data-line]{cursor:pointer}
.gradc-view .gradc-no{display:inline-block;width:3.2em;text-align:right;margin-right:10px;color:#8c959f;
  user-select:none}
.gradc-view .gradc-bwd{background:#fbf7ee}
.gradc-view .gradc-sep{color:#8250df;font-weight:600}
.gradc-view .gradc-ln.gradc-hl{background:#fff1b8;border-left-color:#d4a72c}
.gradc-view .gradc-ln.gradc-pin{background:#ffe08a;border-left-color:#bf8700}
.gradc-view .gradc-error{color:#cf222e;white-space:pre-wrap;font-family:ui-monospace,monospace;margin:0 0 6px}
.gradc-view details{margin-top:8px}
.gradc-view summary{cursor:pointer;color:#57606a}
.gradc-view .gradc-hint{font-size:11px;color:#8c959f;margin-top:4px}
.gradc-view .t-c{color:#6e7781;font-style:italic}
.gradc-view .t-k{color:#cf222e}
.gradc-view .t-s{color:#0a3069}
.gradc-view .t-m{color:#0550ae}
.gradc-view .t-b{color:#8250df}
.gradc-view .t-f{color:#8250df;font-weight:600}
.gradc-view .t-d{color:#953800}
.gradc-view .t-o{color:#24292f}
"""

# Clicking a line pins the highlight of its primal line in every pane and scrolls each other
# pane to its first matching line; clicking it again unpins. Hover needs no script (CSS :has).
_JS = """
(function(){var v=document.getElementById(%s);if(!v||v.dataset.ready)return;v.dataset.ready="1";
v.addEventListener("click",function(e){var t=e.target.closest("[data-line]");if(!t||!v.contains(t))return;
var n=t.getAttribute("data-line"),on=!t.classList.contains("gradc-pin");
v.querySelectorAll(".gradc-pin").forEach(function(x){x.classList.remove("gradc-pin")});if(!on)return;
v.querySelectorAll('[data-line="'+n+'"]').forEach(function(x){x.classList.add("gradc-pin")});
v.querySelectorAll(".gradc-code").forEach(function(p){if(p.contains(t))return;
var m=p.querySelectorAll('[data-line="'+n+'"]'),f=null;
for(var i=0;i<m.length;i++){if(m[i].classList.contains("gradc-bwd")){f=m[i];break}}f=f||m[0];
if(f)p.scrollTop=f.offsetTop-p.offsetTop-p.clientHeight/3;});});
var p0=v.querySelector(".gradc-gradient .gradc-pin.gradc-bwd");if(p0){var c=p0.closest(".gradc-code");
if(p0.offsetTop-c.offsetTop>c.clientHeight)c.scrollTop=p0.offsetTop-c.offsetTop-c.clientHeight/3;}})();
"""


def _line(text_html: str, number: int | str, line: str | None, classes: str, pinned: str | None) -> str:
    cls = "gradc-ln" + (" " + classes if classes else "") + (" gradc-pin" if line is not None and line == pinned else "")
    attr = f' data-line="{_html.escape(line)}"' if line is not None else ""
    return f'<span class="{cls}"{attr}><span class="gradc-no">{number}</span>{text_html}</span>'


def _hover_css(view_id: str, links: set[str]) -> str:
    """One rule per link: hovering any line with it highlights all of them (no script)."""
    return "".join(f'#{view_id}:has([data-line="{n}"]:hover) [data-line="{n}"]'
                   f"{{background:#fff1b8;border-left-color:#d4a72c}}\n" for n in sorted(links))


def html(g: Any, *, highlight: int | None = None, view_id: str | None = None) -> str:
    """The notebook view of GradFunction `g` (see the module docstring).

    `highlight` pins the lines of one primal line number from the start; `view_id` fixes the
    element id (by default a fresh one per render, so several views on a page never clash)."""
    from .errors import GradcError

    view_id = view_id or f"gradc-view-{next(_counter)}-{uuid.uuid4().hex[:8]}"
    fn = g.__wrapped__
    primal, first, file = primal_lines(fn)
    wrt = ", ".join(g._names[i] for i in g._wrt)
    error, compiled = None, None
    try:
        compiled = g.compiled
    except GradcError as exc:
        error = str(exc)

    pinned = str(highlight) if highlight is not None else None
    links: set[str] = set()
    left = []
    for i, coloured in enumerate(_colour_lines(primal)):
        number = str(first + i) if first else None
        left.append(_line(coloured, number or "", number, "gradc-primal-ln", pinned))
        links.add(number) if number else None

    right, ir_html = [], ""
    if compiled is not None:
        rows = gradient_lines(compiled)
        for k, ((text, line, backward), coloured) in enumerate(zip(rows, _colour_lines([r[0] for r in rows])), 1):
            classes = "gradc-sep" if text.strip() == "# backward" else ("gradc-bwd" if backward else "gradc-fwd")
            right.append(_line(coloured, k, line, classes, pinned))
            links.add(line) if line else None
        ir_rows = ir_lines(compiled.ir)
        # IR comments name the line only (not a helper's name): link those in the primal's range
        ir_html = "".join(_line(_html.escape(text), k, line if line in links else None, "", pinned)
                          for k, (text, line) in enumerate(ir_rows, 1))
        ir_html = (f'<details class="gradc-ir"><summary>SSA IR of the gradient ({len(ir_rows)} lines)</summary>'
                   f'<pre class="gradc-code">{ir_html}</pre></details>')

    where = f"{os.path.basename(file)}:{first}" if first else file
    name = _html.escape(getattr(fn, "__qualname__", "f"))
    title = (f'<div class="gradc-title">gradc: gradient of <code>{name}</code> with respect to '
             f'<code>{_html.escape(wrt)}</code> <code>({_html.escape(g._mode)})</code></div>')
    primal_pane = (f'<div class="gradc-pane gradc-primal"><div class="gradc-head">primal · '
                   f'{_html.escape(where)}</div><pre class="gradc-code">{"".join(left)}</pre></div>')
    if compiled is not None:
        gradient_pane = (f'<div class="gradc-pane gradc-gradient"><div class="gradc-head">generated gradient · '
                         f'<code>{_html.escape(compiled.emitted.function_name)}</code> · forward sweep, then '
                         f'<span class="gradc-sep">backward</span></div>'
                         f'<pre class="gradc-code">{"".join(right)}</pre></div>')
    else:
        gradient_pane = (f'<div class="gradc-pane gradc-gradient"><div class="gradc-head">no gradient</div>'
                         f'<pre class="gradc-error">{_html.escape(error or "")}</pre></div>')
    hint = ('<div class="gradc-hint">Hover a line to see the lines generated from the same primal line; '
            'click to pin it and scroll the other pane.</div>')
    return (f'<div class="gradc-view" id="{view_id}"><style>{_CSS}{_hover_css(view_id, {_html.escape(link) for link in links})}</style>'
            f'{title}<div class="gradc-panes">{primal_pane}{gradient_pane}</div>{hint}{ir_html}'
            f'<script>{_JS % repr(view_id)}</script></div>')


def pretty(g: Any, p: Any, cycle: bool) -> None:
    """IPython's terminal view: a header, then the generated source (`_repr_pretty_`)."""
    if cycle:
        p.text(repr(g))
        return
    from .errors import GradcError

    p.text(repr(g))
    try:
        source = g.source
    except GradcError as exc:
        p.break_()
        p.text(f"(no gradient: {exc})")
        return
    for line in source.rstrip("\n").split("\n"):
        p.break_()
        p.text(line)
