"""The `gradc` command: source, IR, errors printed compiler-style, exit codes."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradc.cli import main

ROOT = Path(__file__).resolve().parent.parent
MLP = str(ROOT / "examples" / "mlp.py")


def test_prints_generated_source(capsys):
    assert main([f"{MLP}:loss", "--wrt", "W1", "--wrt", "b2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("def dloss(W1, b1, W2, b2, x, y):")
    assert "dW1 = " in out and "return (dW1, db2)" in out
    compile(out, "<cli>", "exec")  # what it prints is valid Python


def test_wrt_by_index_and_ir(capsys):
    assert main([f"{MLP}:loss", "--wrt", "2", "--ir"]) == 0
    out = capsys.readouterr().out
    assert "# backward" in out and "dW2" in out


def test_module_spec(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    assert main(["golden.functions:scalar", "--wrt", "y"]) == 0
    assert capsys.readouterr().out.startswith("def dscalar(x, y):")


def test_error_is_compiler_style_with_exit_1(capsys):
    fixture = str(ROOT / "tests" / "fixtures" / "refused.py")
    assert main([f"{fixture}:uses_try"]) == 1
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith(f"{fixture}:6:5: error: `try` is not supported")
    assert "^" in err and "Traceback" not in err


def test_missing_function_and_file(capsys):
    assert main([f"{MLP}:nope"]) == 1
    assert "has no function 'nope'" in capsys.readouterr().err
    assert main(["missing.py:f"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_python_dash_m_and_console_script():
    result = subprocess.run([sys.executable, "-m", "gradc", f"{MLP}:loss"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("def dloss(")
    help_text = subprocess.run([sys.executable, "-m", "gradc", "--help"], capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert "examples:" in help_text
