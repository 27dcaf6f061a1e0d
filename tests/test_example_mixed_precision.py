"""examples/mixed_precision.py: float16 gradients stay float16, loss scaling removes underflow, and
mixed-precision training matches float32's accuracy (quick scale); the loss's gradient is right."""
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import mixed_precision  # noqa: E402
from gradcheck import assert_gradients  # noqa: E402


def tiny(rng, dtype=np.float64):
    params = {"W1": rng.standard_normal((5, 4)), "b1": 0.1 * rng.standard_normal(4),
              "W2": rng.standard_normal((4, 3)), "b2": 0.1 * rng.standard_normal(3)}
    x, y = rng.random((6, 5)), np.eye(3)[rng.integers(0, 3, 6)]
    return {k: v.astype(dtype) for k, v in params.items()}, x.astype(dtype), y.astype(dtype)


def flat_loss(W1, b1, W2, b2, x, y):
    """The example's loss with its parameters as separate arrays (finite differences perturb arrays)."""
    return mixed_precision.loss({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, x, y, 8.0)


def test_loss_gradient_matches_finite_differences():
    params, x, y = tiny(np.random.default_rng(0))
    assert_gradients(flat_loss, [params["W1"], params["b1"], params["W2"], params["b2"], x, y], wrt=(0, 1, 2, 3))


def test_float16_gradient_is_float16_and_close_to_float64():
    params, x, y = tiny(np.random.default_rng(1))
    _, exact = mixed_precision.dloss(params, x, y, 1.0)
    _, half = mixed_precision.dloss(*(mixed_precision.cast(params, np.float16), x.astype(np.float16),
                                      y.astype(np.float16)), 1024.0)
    for name in params:
        assert half[name].dtype == np.float16
        np.testing.assert_allclose(half[name].astype(np.float64) / 1024.0, exact[name], rtol=0.05, atol=2e-3)


def test_loss_scaler_halves_on_overflow_and_grows():
    scaler = mixed_precision.LossScaler(scale=8.0, growth_interval=2)
    assert scaler.unscale({"w": np.array([np.inf], np.float16)}) is None
    scaler.update(0, False)
    assert scaler.scale == 4.0
    unscaled = scaler.unscale({"w": np.array([2.0], np.float16)})
    assert unscaled["w"].dtype == np.float32 and unscaled["w"][0] == 0.5
    scaler.update(1, True)
    scaler.update(2, True)
    assert scaler.scale == 8.0 and [why for _, _, why in scaler.history] == ["overflow", "growth"]


def test_quick_run(tmp_path, capsys):
    result = mixed_precision.main(["--quick", "--out", str(tmp_path)])
    counts = result["counts"]
    assert counts["unscaled"] > 0, "without scaling some float16 gradient entries should underflow"
    assert counts["scaled"] < counts["unscaled"]
    assert counts["scaled_subnormal"] < counts["unscaled_subnormal"]
    assert result["acc32"] > 0.85
    assert abs(result["acc16"] - result["acc32"]) <= 0.02  # within 2 points at quick scale
    assert any(why == "overflow" for _, _, why in result["history"])  # the scaler did its job
    assert any(why == "growth" for _, _, why in result["history"])
    assert result["path"].stat().st_size > 0
    printed = capsys.readouterr().out
    assert "without loss scaling" in printed and "test accuracy" in printed
