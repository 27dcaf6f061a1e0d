"""docs/rules.md is generated from the rule registry: regenerate it and compare, so it cannot drift."""
import difflib
import importlib.util
import math
import os
import re

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def _generator():
    spec = importlib.util.spec_from_file_location("make_rules_table", os.path.join(DOCS, "make_rules_table.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row_key(line):
    """A table row without its `also` column (NumPy's aliases vary between versions)."""
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    return (cells[0], *cells[2:]) if len(cells) == 4 else tuple(cells)


def _exists_here(name_cell):
    """Whether the function a row names exists in this Python and NumPy."""
    name = name_cell.strip("`").removesuffix("()")
    for prefix, module in (("np.linalg.", np.linalg), ("np.", np), ("math.", math)):
        if name.startswith(prefix):
            return hasattr(module, name[len(prefix):])
    return True


def test_rules_table_is_up_to_date():
    generator = _generator()
    generated = generator.render()
    with open(os.path.join(DOCS, "rules.md"), encoding="utf-8") as handle:
        committed = handle.read()
    if generated == committed:
        return
    diff = "\n".join(difflib.unified_diff(committed.splitlines(), generated.splitlines(),
                                          "docs/rules.md", "generated", lineterm=""))
    marker = re.search(r"<!-- Environment: (.*) -->", committed)
    assert marker and marker.group(1) != generator.environment(), \
        f"docs/rules.md is out of date; run `python docs/make_rules_table.py`:\n{diff}"
    # Another Python or NumPy than the table was made with: the rules must agree, aliases may not,
    # and rows may be missing here only for functions this Python or NumPy lacks.
    rows = lambda text: {_row_key(line) for line in text.splitlines() if line.startswith("| `")}
    new, old = rows(generated), rows(committed)
    assert not new - old, f"rules missing from docs/rules.md; run `python docs/make_rules_table.py`:\n{diff}"
    stale = {row for row in old - new if _exists_here(row[0])}
    assert not stale, f"docs/rules.md lists rules that no longer exist:\n{diff}"


def test_rules_table_lists_every_rule():
    from gradc.rules import REGISTRY

    generator = _generator()
    assert sum(len(rows) for rows in generator.rows().values()) == \
        len({(generator.classify(key), generator.describe(rule)) for key, rule in REGISTRY.items() if not rule.user})
    text = generator.render()
    for name in ("`np.tanh`", "`x.sum()`", "`x.T`", "`math.exp`", "`abs`", "`a @ b`", "`gradc.stop_gradient`"):
        assert f"| {name} |" in text, name
    assert re.search(r"\| `np\.argmax` \|[^\n]*\| zero \|", text)


def test_docs_link_from_readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    for page in ("docs/tutorial.md", "docs/how-it-works.md", "docs/rules.md", "docs/reference.md"):
        assert page in readme, page
        assert os.path.exists(os.path.join(ROOT, page)), page


def _tutorial_program():
    """The tutorial's ```python blocks joined as the tutorial tells the reader to (generated code it
    shows is fenced as ```py, outputs as ```text, so neither is part of the program)."""
    with open(os.path.join(DOCS, "tutorial.md"), encoding="utf-8") as handle:
        text = handle.read()
    blocks = re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)
    return text, "\n\n".join(blocks)


def test_tutorial_runs(tmp_path):
    import subprocess
    import sys

    text, program = _tutorial_program()
    path = tmp_path / "tutorial.py"
    path.write_text(program)
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "def dloss(" in result.stdout and "epoch 40" in result.stdout
    # the `# line N: ...` comments shown in the tutorial name the lines of the reader's file
    lines = program.splitlines()
    own = text.split("## Part 2")[0]  # (part 2 quotes the training examples' code: tests/test_tutorial_examples.py)
    shown = re.findall(r"^\s*# line (\d+): (.*)$", own, flags=re.M)
    assert shown
    for number, statement in shown:
        assert lines[int(number) - 1].strip() == statement.strip(), (number, statement)


def test_how_it_works_listings_are_current(tmp_path, monkeypatch):
    """how-it-works.md says every listing was printed by gradc from its program: hold it to that."""
    import importlib

    import gradc
    from gradc.frontend.lower import lower_function
    from gradc.ir.printer import print_function

    with open(os.path.join(DOCS, "how-it-works.md"), encoding="utf-8") as handle:
        text = handle.read()
    program = re.search(r"^```python\n(.*?)^```$", text, flags=re.S | re.M).group(1)
    (tmp_path / "how_it_works_program.py").write_text(program)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("how_it_works_program")

    def printed(name, optimize):
        if name in vars(module):  # the primal's IR, as lowered
            return [print_function(lower_function(gradc.grad(getattr(module, name))._parsed))]
        gradient = gradc.grad(getattr(module, name[1:]), optimize=optimize)
        return [gradient.source, gradient.ir]

    listings = list(re.finditer(r"^```(?:py)?\n(def (\w+)\(.*?)^```$", text, flags=re.S | re.M))
    assert len(listings) >= 8
    for listing in listings:
        body, name = listing.groups()
        optimize = "optimize=False" not in text[max(0, listing.start() - 300):listing.start()]
        assert body.strip() in [shown.strip() for shown in printed(name, optimize)], \
            f"stale listing of {name} (optimize={optimize}):\n{body}"


def test_tutorial_prints_what_it_shows(tmp_path):
    """tutorial.md says its outputs are what its snippets, put in order into tutorial.py, print:
    hold it to that (generated code included)."""
    import subprocess
    import sys
    with open(os.path.join(DOCS, "tutorial.md"), encoding="utf-8") as handle:
        text = handle.read()
    snippets = re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)
    (tmp_path / "tutorial.py").write_text("\n\n".join(s.rstrip() + "\n" for s in snippets))
    root = os.path.dirname(DOCS)
    printed = subprocess.run([sys.executable, "tutorial.py"], cwd=tmp_path, capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONPATH": root}).stdout
    shown = re.findall(r"^```(?:text|py)\n(.*?)^```$", text, flags=re.S | re.M)
    assert len(shown) >= 6
    for block in shown:
        assert block.strip() in printed, f"tutorial.md shows output that tutorial.py does not print:\n{block}"
