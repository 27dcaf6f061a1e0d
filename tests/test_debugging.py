"""Debugging generated gradients: tracebacks name the primal line, pdb and linecache see the code."""
import inspect
import io
import linecache
import pdb
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest

import gradc
from gradc.debug import note_primal_line, primal_line_for
from gradcheck import clean_build_only, default_build_only

ROOT = Path(__file__).resolve().parent.parent


def root_loss(w, x):
    z = x @ w
    r = np.sqrt(z)
    return np.sum(r)


def mlp_like(W, b, x):
    h = np.tanh(x @ W + b)
    return np.sum(h * h)


def _line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def _notes(exc):
    return "\n".join(getattr(exc, "__notes__", []))


@default_build_only
def test_floating_point_error_names_generated_and_primal_line():
    g = gradc.grad(root_loss)
    w, x = np.array([1.0, -1.0]), np.array([[1.0, 0.0], [1.0, 1.0]])  # z[1] == 0: sqrt' is infinite
    with pytest.raises(FloatingPointError) as info, np.errstate(all="raise"):
        g(w, x)
    notes = _notes(info.value)
    filename = g._function_for(g._signature((w, x), {})).__code__.co_filename  # the one this call ran
    assert f"gradc: in the gradient at {filename}:" in notes and "/ r" in notes
    assert f"in the backward pass of {__file__}:{_line_of(root_loss, 'np.sqrt')}: r = np.sqrt(z)" in notes
    text = "".join(traceback.format_exception(info.value))
    assert filename in text and "/ r" in text  # the traceback shows the generated line itself


def test_forward_error_names_the_forward_pass():
    g = gradc.grad(mlp_like)
    with pytest.raises(ValueError) as info:
        g(np.ones((3, 2)), np.ones(2), np.ones((4, 5)))  # x has the wrong width
    assert f"in the forward pass of {__file__}:{_line_of(mlp_like, 'np.tanh')}" in _notes(info.value)


def test_note_is_added_once_for_grad_of_grad():
    def quartic(x):
        return x ** 4 / (x - 1.0)

    g2 = gradc.grad(gradc.grad(quartic))
    with pytest.raises(ZeroDivisionError) as info:
        g2(1.0)
    assert _notes(info.value).count("gradc: in the gradient at") == 1


def test_errors_outside_generated_code_get_no_note():
    exc = ValueError("plain")
    note_primal_line(exc, root_loss)
    assert not getattr(exc, "__notes__", None)


def test_line_map_and_comments_agree():
    g = gradc.grad(mlp_like)
    emitted = g.compiled.emitted
    filename = g.function.__code__.co_filename
    for line in emitted.line_map:
        assert primal_line_for(filename, line) == emitted.line_map[line]
        assert primal_line_for(filename, line, [(filename, emitted.line_map)]) == emitted.line_map[line]


def test_linecache_serves_every_executed_line():
    """Each line the gradient executes is, in linecache, exactly the generated module's line."""
    g = gradc.grad(mlp_like, wrt=(0, 1))
    args = (np.ones((3, 2)), np.zeros(2), np.ones((4, 3)))
    kinds = g._signature(args, {})  # the gradient specialized for these arguments' shapes
    module_lines = g._compile(kinds).emitted.module_source.splitlines()
    filename = g._function_for(kinds).__code__.co_filename
    executed = []

    def tracer(frame, event, arg):
        if frame.f_code.co_filename == filename and event == "line":
            executed.append(frame.f_lineno)
        return tracer

    sys.settrace(tracer)
    try:
        g(*args)
    finally:
        sys.settrace(None)
    assert len(executed) > 5
    for lineno in executed:
        assert linecache.getline(filename, lineno).rstrip("\n") == module_lines[lineno - 1]
    assert inspect.getsource(g.function).strip().startswith("def dmlp_like(W, b, x):")


@clean_build_only
def test_pdb_steps_through_generated_code():
    g = gradc.grad(mlp_like)
    out = io.StringIO()
    debugger = pdb.Pdb(stdin=io.StringIO("next\nnext\np mm.shape\nlist\ncontinue\n"), stdout=out,
                       nosigint=True, readrc=False)
    debugger.use_rawinput = False
    debugger.runcall(g.function, np.ones((3, 2)), np.zeros(2), np.ones((4, 3)))
    text = out.getvalue()
    assert "<gradc dmlp_like" in text
    assert "mm = x @ W" in text and "(4, 2)" in text  # stepped to the line, printed a local
    assert "# line" in text  # `list` shows the generated source around the current line


def test_recipe_in_docs_runs(tmp_path):
    """docs/debugging.md's example script runs and prints the primal line it promises."""
    text = (ROOT / "docs" / "debugging.md").read_text()
    script = tmp_path / "recipe.py"
    script.write_text(text.split("```python\n", 1)[1].split("```", 1)[0])
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert "gradient has NaNs: True" in result.stdout
    assert f"backward pass of {script}:7: dist = np.sqrt" in result.stdout
    shown = next(line for line in text.splitlines() if line.startswith("gradc: in the gradient at"))
    assert shown in result.stdout  # (the page shows the generated line the script prints)
