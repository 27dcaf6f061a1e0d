"""examples/digits.py: its loss's gradient agrees with finite differences, and its quick run
trains all four regimes (loss falling, accuracy far above chance), draws the PNG and ends with
`test accuracy: 0.XXX`."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import gradc  # noqa: E402
from gradcheck import numeric_gradient  # noqa: E402

import digits  # noqa: E402  (the module needs only NumPy and gradc; its main needs the extras)


def assert_dict_gradient(loss, params, *rest):
    """gradc's gradient of `loss(params, *rest)` for a dict `params` equals central differences,
    entry by entry, with each entry's shape and dtype."""
    grads = gradc.grad(loss)(params, *rest)
    assert isinstance(grads, dict) and set(grads) == set(params)
    for name, value in params.items():
        assert grads[name].shape == value.shape and grads[name].dtype == value.dtype
        expected = numeric_gradient(lambda entry: loss({**params, name: entry}, *rest), [value], 0)
        np.testing.assert_allclose(grads[name], expected, rtol=1e-5, atol=1e-7, err_msg=name)


def test_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    params = digits.init(rng, n_in=5, n_hidden=4, n_out=3)
    params["b1"], params["b2"] = rng.standard_normal(4) * 0.1, rng.standard_normal(3) * 0.1
    x = rng.standard_normal((6, 5))
    y = np.eye(3)[rng.integers(0, 3, 6)]
    assert_dict_gradient(digits.loss, params, x, y, 0.01)


def test_online_gradient_of_one_example_matches_finite_differences():
    rng = np.random.default_rng(2)
    params = digits.init(rng, n_in=4, n_hidden=3, n_out=2)
    params["b1"] = rng.standard_normal(3) * 0.1  # ReLU units away from their kink
    assert_dict_gradient(digits.loss, params, rng.standard_normal((1, 4)), np.array([[0.0, 1.0]]), 0.1)


def test_quick_run(tmp_path, capsys):
    for module in ("sklearn", "matplotlib", "tqdm"):
        pytest.importorskip(module)
    results = digits.main(["--quick", "--out", str(tmp_path)])
    assert [regime.name for regime in results] == [
        "full-batch GD", "online SGD", "mini-batch momentum", "Adam"]
    for regime in results:
        assert len(regime.losses) == regime.epochs
        assert regime.losses[-1] < 0.5 * regime.initial_loss, (regime.name, regime.initial_loss, regime.losses)
        assert regime.losses[-1] < regime.losses[0], (regime.name, regime.losses)
        assert regime.accuracies[-1] > 0.85 and regime.test > 0.85, (regime.name, regime.test)  # chance: 0.1
    picture = tmp_path / "digits.png"
    assert picture.exists() and picture.stat().st_size > 10_000
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"test accuracy: 0\.\d{3}", lines[-1]), lines[-1]
    assert float(lines[-1].split()[-1]) > 0.9
