"""The notebook view (`GradFunction._repr_html_`) and the IPython terminal view, without Jupyter."""
import re
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

import gradc
from gradc.display import gradient_lines, html


class ViewParser(HTMLParser):
    """Collects what the structure checks need: elements by class, data-line links, URLs."""

    def __init__(self):
        super().__init__()
        self.classes, self.ids, self.urls, self.tags = [], [], [], []
        self.lines = {"primal": set(), "gradient": set(), "ir": set()}
        self._stack = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        classes = (attrs.get("class") or "").split()
        self.classes.extend(classes)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for name in ("src", "href", "action", "data", "poster"):
            if attrs.get(name):
                self.urls.append(attrs[name])
        pane = next((p for p in ("gradc-primal", "gradc-gradient", "gradc-ir") if p in classes), None)
        self._stack.append(pane)
        if "data-line" in attrs:
            where = next((p for p in reversed(self._stack) if p), None)
            if where:
                link = attrs["data-line"]
                self.lines[where.removeprefix("gradc-")].add(int(link) if link.isdigit() else link)

    def handle_endtag(self, tag):
        if self._stack:
            self._stack.pop()


def check_view(text: str) -> ViewParser:
    """Assert the structure of one rendered view; return what was parsed."""
    parser = ViewParser()
    parser.feed(text)
    assert parser.classes.count("gradc-view") == 1
    assert "gradc-primal" in parser.classes and "gradc-gradient" in parser.classes
    assert "details" in parser.tags and "style" in parser.tags and "script" in parser.tags
    # Every `# line N:` block of the gradient links to primal line N, and back.
    headings = {int(n) for n in re.findall(r"# line (\d+):", text)}
    assert headings and headings <= parser.lines["primal"]
    assert headings <= parser.lines["gradient"]
    numbered = {link for link in parser.lines["gradient"] if isinstance(link, int)}
    assert numbered <= parser.lines["primal"]
    # blocks inlined from a helper function link to each other as "NAME:LINE"
    assert all(re.fullmatch(r"[\w.]+:\d+", link) for link in parser.lines["gradient"] - numbered)
    assert parser.lines["ir"] and parser.lines["ir"] <= parser.lines["primal"]
    # Self-contained: nothing is fetched.
    assert not parser.urls, parser.urls
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
    return parser


def loss(W, b, x, y):
    z = x @ W + b
    return np.mean((np.tanh(z) - y) ** 2)


def looped(w, xs):
    total = 0.0
    for x in xs:
        if x > 0:
            total = total + np.sin(w * x)
        else:
            total = total - w * x
    return total


def test_repr_html_links_primal_lines_to_blocks():
    g = gradc.grad(loss, wrt=(0, 1))
    parser = check_view(g._repr_html_())
    first = loss.__code__.co_firstlineno
    assert parser.lines["primal"] == set(range(first, first + 3))
    assert parser.lines["gradient"] == {first + 1, first + 2}


def test_loop_and_branch_blocks_are_linked():
    parser = check_view(gradc.grad(looped)._repr_html_())
    first = looped.__code__.co_firstlineno
    assert {first + 2, first + 3, first + 4, first + 6} <= parser.lines["gradient"]


def test_gradient_lines_follow_block_comments():
    rows = gradient_lines(gradc.grad(loss).compiled)
    current = None
    for text, line, _ in rows[:-1]:
        found = re.match(r"\s*# line (\d+):", text)
        current = found.group(1) if found else (None if text.strip() == "# backward" else current)
        assert line == current, (text, line, current)
    assert any(backward for *_, backward in rows) and not rows[0][2]
    assert rows[-1][0].strip().startswith("return") and rows[-1][1] is None


def square(t):
    return t * t


def uses_square(x):
    return np.sum(square(x) + x)


def test_helper_blocks_link_to_each_other():
    g = gradc.grad(uses_square)
    parser = check_view(g._repr_html_())
    helper_line = square.__code__.co_firstlineno + 1
    rows = gradient_lines(g.compiled)
    if not any(line == f"square:{helper_line}" for _, line, _ in rows):
        pytest.skip("helper calls are not inlined with a `# square, line N:` comment")
    assert {backward for _, line, backward in rows if line == f"square:{helper_line}"} == {False, True}
    assert f"square:{helper_line}" in parser.lines["gradient"]


def test_ids_are_unique_per_render():
    g = gradc.grad(loss)
    ids = [ViewParser() for _ in range(2)]
    for parser in ids:
        parser.feed(g._repr_html_())
    assert ids[0].ids and ids[0].ids != ids[1].ids


def test_highlight_pins_one_primal_line():
    line = loss.__code__.co_firstlineno + 1
    text = html(gradc.grad(loss), highlight=line, view_id="v")
    pinned = re.findall(r'class="gradc-ln[^"]*gradc-pin"\s+data-line="(\d+)"', text)
    assert pinned and set(pinned) == {str(line)}
    assert 'id="v"' in text


def test_plain_text_without_pygments(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygments.lexers", None)
    text = html(gradc.grad(loss), view_id="v")
    assert 'class="t-' not in text
    check_view(text)
    assert "np.tanh(z) - y) ** 2" in text


def test_escapes_source():
    def cmp(x):
        return np.sum(x * (x < 1.0))

    text = gradc.grad(cmp)._repr_html_()
    assert "x &lt; 1.0" in text or "&lt;" in text
    assert "x < 1.0" not in text


def test_error_is_shown_not_raised():
    def no_rule(x):
        return np.sum(np.linalg.pinv(x))

    text = gradc.grad(no_rule)._repr_html_()
    assert "gradc-error" in text and "gradc-primal" in text and "pinv" in text


class _Printer:
    def __init__(self):
        self.out = []

    def text(self, s):
        self.out.append(s)

    def break_(self):
        self.out.append("\n")


def test_repr_pretty_prints_header_and_source():
    g = gradc.grad(loss, wrt="W")
    p = _Printer()
    g._repr_pretty_(p, False)
    text = "".join(p.out)
    assert text.startswith(repr(g) + "\n")
    assert text.endswith(g.source.rstrip("\n"))
    p = _Printer()
    g._repr_pretty_(p, True)
    assert "".join(p.out) == repr(g)


def test_ipython_pretty():
    pretty = pytest.importorskip("IPython.lib.pretty")
    g = gradc.grad(loss)
    assert pretty.pretty(g) == repr(g) + "\n" + g.source.rstrip("\n")
