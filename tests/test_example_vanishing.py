"""examples/vanishing.py: its three losses' gradients agree with finite differences, and at quick
scale the measured gradient norms show what the example says they show."""
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import vanishing  # noqa: E402
from gradcheck import assert_gradients  # noqa: E402


def mlp3(W1, W2, W3, b1, b2, b3, x, y, kind):
    return vanishing.mlp_loss([W1, W2, W3], [b1, b2, b3], x, y, kind)


def mlp3_bn(W1, W2, W3, g1, g2, be1, be2, b3, x, y, kind):
    return vanishing.mlp_bn_loss([W1, W2, W3], [g1, g2], [be1, be2], [None, None, b3], x, y, kind)


def tiny_mlp(rng):
    sizes = [4, 3, 3, 2]
    Ws = [rng.standard_normal((m, n)) for m, n in zip(sizes[:-1], sizes[1:])]
    bs = [rng.standard_normal(n) * 0.1 for n in sizes[1:]]
    x, y = rng.standard_normal((5, 4)), np.eye(2)[rng.integers(0, 2, 5)]
    return Ws, bs, x, y


@pytest.mark.parametrize("kind", ["sigmoid", "tanh", "relu"])
def test_mlp_gradient_matches_finite_differences(kind):
    rng = np.random.default_rng(7)
    Ws, bs, x, y = tiny_mlp(rng)
    ours = assert_gradients(mlp3, Ws + bs + [x, y, kind], wrt=(0, 1, 2, 3, 4, 5))
    listed = vanishing.dmlp(Ws, bs, x, y, kind)       # the example's own list-valued gradient
    for grad, expected in zip(listed, ours[:3]):
        np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-14)


def test_batchnorm_mlp_gradient_matches_finite_differences():
    rng = np.random.default_rng(8)
    Ws, bs, x, y = tiny_mlp(rng)
    gammas = [1.0 + 0.1 * rng.standard_normal(3) for _ in range(2)]
    betas = [0.1 * rng.standard_normal(3) for _ in range(2)]
    assert_gradients(mlp3_bn, Ws + gammas + betas + [bs[2], x, y, "sigmoid"], wrt=(0, 1, 2, 3, 4, 5, 6, 7))


def rnn_of_arrays(Wxh, Whh, bh, Why, by, h, xs, nudges, y):
    return vanishing.rnn_loss({"Wxh": Wxh, "Whh": Whh, "bh": bh, "Why": Why, "by": by}, h, xs, nudges, y)


def test_rnn_gradient_through_time_matches_finite_differences():
    """The nudges' gradient is what the example plots as dL/dh_t."""
    rng = np.random.default_rng(9)
    vocab, hidden, steps, batch = 5, 3, 4, 2
    params = vanishing.char_rnn.init(rng, vocab, hidden)
    params["bh"], params["by"] = rng.standard_normal(hidden) * 0.1, rng.standard_normal(vocab) * 0.1
    eye = np.eye(vocab)
    xs, y = eye[rng.integers(0, vocab, (steps, batch))], eye[rng.integers(0, vocab, batch)]
    h, nudges = rng.standard_normal((batch, hidden)), 0.1 * rng.standard_normal((steps, batch, hidden))
    args = [params[k] for k in ("Wxh", "Whh", "bh", "Why", "by")] + [h, xs, nudges, y]
    ours = assert_gradients(rnn_of_arrays, args, wrt=(0, 1, 2, 3, 4, 5, 7))
    np.testing.assert_allclose(vanishing.drnn(params, h, xs, nudges, y), ours[-1], rtol=1e-12, atol=1e-14)


def test_quick_run_shows_vanishing_and_flowing_gradients(tmp_path, capsys):
    """What is asserted, and why it holds at any seed (checked on seeds 0 to 3, quick scale):
    - sigmoid: each layer multiplies the backward signal by sigmoid' <= 1/4 (times a weight
      matrix of gain about 1), so over 19 layers the first layer's gradient is ~1e-12 of the
      last's; we ask for below 1e-6.
    - ReLU with He's init and sigmoid with batch norm keep the signal's scale from layer to layer:
      their ratios came out between 0.19 and 1.5; we ask for within a factor of 20 of 1.
    - ReLU with the 1/fan_in init: activations halve in variance at every layer, and so does the
      backward signal; dL/dW = h^T delta multiplies the two, so the ratio stays near 1 but every
      layer's gradient is hundreds of times smaller than with He's init (the whole network's
      output has collapsed); we ask for 100 times.
    - The tanh RNN: with recurrent gain 0.5 the signal from the loss shrinks at least twofold a step
      (0.5^29 ~ 2e-9 over 30 steps), with gain 2 it grows (the Jacobians' gain times tanh' is over 1);
      we ask for below 1e-5 and above 10, and gain 1 in between."""
    result = vanishing.main(["--quick", "--out", str(tmp_path)])
    ratios, layers = result["ratios"], result["layers"]
    assert ratios["sigmoid"] < 1e-6
    assert 1 / 20 < ratios["ReLU + He"] < 20
    assert 1 / 20 < ratios["sigmoid + batch norm"] < 20
    assert layers["ReLU, 1/fan_in init"].max() * 100 < layers["ReLU + He"].min()
    rnn = result["rnn_ratios"]
    assert rnn[0.5] < 1e-5 < rnn[1.0] < 1 < 10 < rnn[2.0]
    assert result["figure"].exists() and result["figure"].stat().st_size > 10_000
    printed = capsys.readouterr().out
    for setting in vanishing.SETTINGS:
        assert setting in printed
