"""examples/char_rnn.py: its loss's gradient (backpropagation through time) agrees with finite
differences, and a quick run learns: bits per character fall, well below the uniform baseline."""
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import char_rnn  # noqa: E402
from gradcheck import assert_gradients  # noqa: E402


def loss_of_arrays(Wxh, Whh, bh, Why, by, h, xs, ys):
    """char_rnn.loss with its parameters as separate arrays, for the finite differences."""
    return char_rnn.loss({"Wxh": Wxh, "Whh": Whh, "bh": bh, "Why": Why, "by": by}, h, xs, ys)


def test_bptt_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    vocab, hidden, steps, batch = 5, 3, 4, 2
    params = char_rnn.init(rng, vocab, hidden)
    params["bh"], params["by"] = rng.standard_normal(hidden) * 0.1, rng.standard_normal(vocab) * 0.1
    eye = np.eye(vocab)
    xs, ys = eye[rng.integers(0, vocab, (steps, batch))], eye[rng.integers(0, vocab, (steps, batch))]
    h = rng.standard_normal((batch, hidden)) * 0.5
    args = [params[k] for k in ("Wxh", "Whh", "bh", "Why", "by")] + [h, xs, ys]
    assert_gradients(loss_of_arrays, args, wrt=(0, 1, 2, 3, 4, 5))


def test_the_dict_gradient_is_the_same_and_its_backward_pass_is_a_reversed_loop():
    rng = np.random.default_rng(6)
    params = char_rnn.init(rng, 6, 4)
    eye = np.eye(6)
    xs, ys = eye[rng.integers(0, 6, (5, 3))], eye[rng.integers(0, 6, (5, 3))]
    h = rng.standard_normal((3, 4)) * 0.5
    value, grads = char_rnn.dloss(params, h, xs, ys)
    assert value == pytest.approx(char_rnn.loss(params, h, xs, ys))
    names = ("Wxh", "Whh", "bh", "Why", "by")
    separate = char_rnn.gradc.grad(loss_of_arrays, wrt=(0, 1, 2, 3, 4))(*[params[k] for k in names], h, xs, ys)
    for name, expected in zip(names, separate):
        np.testing.assert_allclose(grads[name], expected, rtol=1e-12, atol=1e-14)
    assert "while tape:" in char_rnn.dloss.source_for(params, h, xs, ys)


def test_quick_run_learns_well_below_the_uniform_baseline(tmp_path, capsys):
    """80 steps of Adam on 32 streams: the model first learns the character frequencies (the
    unigram entropy, 4.9 bits, is already 1.9 below the uniform 6.75) and then some spelling, so
    the last steps are over 2 bits below the baseline; we ask for 1.5. 'Falling': the last steps'
    mean is over a bit below the first steps' (at initialisation the loss is about the baseline)."""
    result = char_rnn.main(["--quick", "--out", str(tmp_path)])
    assert result["last"] < result["baseline"] - 1.5
    assert result["last"] < result["first"] - 1.0
    held = [bits for _, bits in result["held_out"]]
    assert held[-1] < held[0] - 1.0 and held[-1] < result["baseline"] - 1.5
    assert result["figure"].exists() and result["figure"].stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "bits/char" in printed and "baseline" in printed
