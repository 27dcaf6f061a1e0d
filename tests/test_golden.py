"""Golden files of generated source and IR: text in, text out.

Run with GRADC_UPDATE_GOLDEN=1 to rewrite the files after an intended change, then
read the diff: it is what users will see.
"""
import os
from pathlib import Path

import pytest

import gradc
from golden import functions

HERE = Path(__file__).parent / "golden"
CASES = [
    ("loss", (0, 1), "source"),
    ("loss", (0, 1), "ir"),
    ("scalar", (0, 1), "source"),
    ("small_loop", 0, "source"),
    ("small_loop", 0, "ir"),
    ("small_branch", (0, 1), "source"),
    ("small_branch", (0, 1), "ir"),
]


@pytest.mark.parametrize("name, wrt, what", CASES)
def test_golden(name, wrt, what):
    gradient = gradc.grad(getattr(functions, name), wrt=wrt)
    text = gradient.source if what == "source" else gradient.ir
    path = HERE / f"{name}.{what}.txt"
    if os.environ.get("GRADC_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"generated {what} of {name} changed; see {path}"
