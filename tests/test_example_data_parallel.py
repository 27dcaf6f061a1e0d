"""examples/data_parallel.py: the shard gradients, averaged by shard size, equal the full-batch
gradient (equal and unequal shards, loop and thread pool); the loss's gradient is right."""
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import data_parallel  # noqa: E402
from gradcheck import assert_gradients  # noqa: E402


def flat_loss(W1, b1, W2, b2, x, y):
    """The example's loss with its parameters as separate arrays (finite differences perturb arrays)."""
    return data_parallel.loss({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, x, y)


def test_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((5, 4)), 0.1 * rng.standard_normal(4), rng.standard_normal((4, 3)),
              0.1 * rng.standard_normal(3)]
    x, y = rng.random((6, 5)), np.eye(3)[rng.integers(0, 3, 6)]
    assert_gradients(flat_loss, params + [x, y], wrt=(0, 1, 2, 3))


@pytest.mark.parametrize("n, k", [(12, 3), (13, 3), (10, 4), (7, 7), (50, 6)])
def test_sharded_gradient_equals_full_batch(n, k):
    rng = np.random.default_rng(n + k)
    params = data_parallel.init(rng, n_in=8, n_hidden=6, n_out=4)
    params["b1"], params["b2"] = 0.1 * rng.standard_normal(6), 0.1 * rng.standard_normal(4)
    x, y = rng.random((n, 8)), np.eye(4)[rng.integers(0, 4, n)]
    full = data_parallel.dloss(params, x, y)
    looped = data_parallel.sharded_gradient(params, x, y, k)
    with ThreadPoolExecutor(max_workers=k) as pool:
        pooled = data_parallel.sharded_gradient(params, x, y, k, pool)
    for name in full:
        np.testing.assert_allclose(looped[name], full[name], rtol=0, atol=1e-12)
        np.testing.assert_allclose(pooled[name], full[name], rtol=0, atol=1e-12)
    if n % k:  # unequal shards: the plain (unweighted) mean is not the batch's gradient
        plain = data_parallel.sharded_gradient(params, x, y, k, weighted=False)
        assert data_parallel.max_difference(plain, full) > 1e-6


def test_quick_run(capsys):
    result = data_parallel.main(["--quick"])
    assert all(d <= 1e-12 for d in result["differences"].values())
    runs = result["runs"]
    assert set(runs) == {"full batch", "K=1", "K=2", "K=4"}
    for label, run in runs.items():
        assert run["ms_per_step"] > 0
        assert (run["ms_per_step_threads"] is None) == (label == "full batch")
        assert run["drift"] < 1e-9  # the same training, up to rounding
        assert run["accuracy"] > 0.85
    printed = capsys.readouterr().out
    assert "max |difference|" in printed and "ms per step" in printed
