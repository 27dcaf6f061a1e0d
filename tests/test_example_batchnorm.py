"""examples/batchnorm.py: gradc's gradient through the batch statistics agrees with finite
differences and with the textbook batch-norm backward formula, and the quick run trains both
models, draws the PNG, prints the generated backward pass of the BN lines and ends with
`test accuracy: 0.XXX`."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import gradc  # noqa: E402
from gradcheck import assert_gradients, numeric_gradient  # noqa: E402

import batchnorm  # noqa: E402  (the module needs only NumPy and gradc; its main needs the extras)


def normalise(z, gamma, beta, weights):
    """A weighted sum of batch normalisation's output in training mode."""
    mean = np.mean(z, axis=0)
    var = np.mean((z - mean) ** 2, axis=0)
    z_hat = (z - mean) / np.sqrt(var + 1e-5)
    return np.sum(weights * (gamma * z_hat + beta))


def test_batchnorm_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    z, weights = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    assert_gradients(normalise, [z, rng.standard_normal(3), rng.standard_normal(3), weights], wrt=(0, 1, 2))


def test_batchnorm_gradient_is_the_textbook_formula():
    """dz = gamma / (N sigma) * (N g - sum(g) - z_hat * sum(g z_hat)), the statistics' share included."""
    rng = np.random.default_rng(6)
    n = 8
    z, gamma, beta, g = rng.standard_normal((n, 4)) * 3 + 1, rng.standard_normal(4), rng.standard_normal(4), \
        rng.standard_normal((n, 4))
    dz, dgamma, dbeta = gradc.grad(normalise, wrt=(0, 1, 2))(z, gamma, beta, g)
    sigma = np.sqrt(z.var(axis=0) + 1e-5)
    z_hat = (z - z.mean(axis=0)) / sigma
    expected = gamma / (n * sigma) * (n * g - g.sum(axis=0) - z_hat * (g * z_hat).sum(axis=0))
    np.testing.assert_allclose(dz, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dgamma, (g * z_hat).sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(dbeta, g.sum(axis=0), rtol=1e-10)
    assert np.abs(dz.sum(axis=0)).max() < 1e-10  # shifting a column does nothing after normalising


def test_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(7)
    params = batchnorm.init(rng, n_in=5, n_hidden=4, n_out=3)
    params["gamma"], params["beta"] = 1 + 0.3 * rng.standard_normal(4), 0.3 * rng.standard_normal(4)
    x, y = rng.standard_normal((6, 5)), np.eye(3)[rng.integers(0, 3, 6)]
    grads = gradc.grad(batchnorm.loss)(params, x, y, 0.01)
    assert isinstance(grads, dict) and set(grads) == set(params)
    for name, value in params.items():
        assert grads[name].shape == value.shape and grads[name].dtype == value.dtype
        expected = numeric_gradient(lambda entry: batchnorm.loss({**params, name: entry}, x, y, 0.01), [value], 0)
        np.testing.assert_allclose(grads[name], expected, rtol=1e-5, atol=1e-7, err_msg=name)


def test_quick_run(tmp_path, capsys):
    for module in ("sklearn", "matplotlib", "tqdm"):
        pytest.importorskip(module)
    runs = batchnorm.main(["--quick", "--out", str(tmp_path)])
    moderate, large = batchnorm.LEARNING_RATES
    for key in [("plain", moderate), ("BN", moderate), ("BN", large)]:
        losses = runs[key]["losses"]
        assert losses[-1] < 0.25 * losses[0], (key, losses)
        assert runs[key]["test"] > (0.9 if key[1] == moderate else 0.8), (key, runs[key]["test"])  # chance: 0.1
    assert runs["plain", large]["losses"][-1] > runs["BN", large]["losses"][-1]  # too large without BN
    picture = tmp_path / "batchnorm.png"
    assert picture.exists() and picture.stat().st_size > 10_000
    printed = capsys.readouterr().out
    backward = printed.split("(batch of 32):\n", 1)[1].split("\n\n", 1)[0]
    assert "# line" in backward and "dgamma" in backward and "dbeta" in backward
    assert "mean = np.mean(z, axis=0)" in backward and "var = " in backward  # the statistics' lines
    lines = printed.strip().splitlines()
    assert re.fullmatch(r"test accuracy: 0\.\d{3}", lines[-1]), lines[-1]
