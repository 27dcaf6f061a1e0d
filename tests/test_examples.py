"""The examples run, and their gradients agree with finite differences and autograd."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import mlp  # noqa: E402
from gradcheck import assert_gradients, default_build_only  # noqa: E402


def test_mlp_gradient_matches_oracles():
    rng = np.random.default_rng(3)
    W1, b1, W2, b2 = mlp.init(rng, n_in=5, n_hidden=4, n_out=3)
    b1, b2 = rng.standard_normal(4) * 0.1, rng.standard_normal(3) * 0.1
    x = rng.standard_normal((6, 5))
    y = np.eye(3)[rng.integers(0, 3, 6)]
    assert_gradients(mlp.loss, [W1, b1, W2, b2, x, y], wrt=(0, 1, 2, 3))


def test_mlp_training_lowers_the_loss(capsys):
    mlp.train(steps=15)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step")]
    first, last = float(lines[0].split()[-1]), float(lines[-1].split()[-1])
    assert last < first


import rnn  # noqa: E402


def test_rnn_gradient_matches_oracles():
    rng = np.random.default_rng(4)
    params = rnn.init(rng, 2, 3, 2)
    params[3], params[4] = rng.standard_normal(3) * 0.1, rng.standard_normal(2) * 0.1
    xs, ys = rng.standard_normal((4, 2, 2)), rng.standard_normal((4, 2, 2))
    h0 = rng.standard_normal((2, 3))
    assert_gradients(rnn.loss, params + [h0, xs, ys], wrt=(0, 1, 2, 3, 4, 5, 6))


def test_rnn_training_lowers_the_loss(capsys):
    rnn.train(steps=12)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step")]
    assert float(lines[-1].split()[-1]) < float(lines[0].split()[-1])


def test_rnn_gradient_is_a_reversed_loop_that_saves_hidden_states():
    source = rnn.dloss.source
    assert "while tape:" in source and "for x, y in zip(xs, ys):" in source
    assert "tape.append(h)" in source


@default_build_only
def test_readme_shows_what_quickstart_prints():
    """The README's thirty-second example is the real output of examples/quickstart.py."""
    import subprocess
    root = Path(__file__).resolve().parent.parent
    printed = subprocess.run([sys.executable, str(root / "examples" / "quickstart.py")], capture_output=True,
                             text=True, check=True, env={**__import__("os").environ, "PYTHONPATH": str(root)}).stdout
    assert printed.strip() in (root / "README.md").read_text()
