"""Compile time and run time of gradc's gradient of examples/mlp.py's loss.

    python benchmarks/mlp_gradient.py

Reports (medians, one run, interleaved): the time to obtain the gradient the first time
(parse → IR → adjoint → source → compile, plus the first call) and from the in-memory
cache; and the gradient's run time against a hand-written NumPy backward pass of the
same loss (batch 128, 784-256-10), as a ratio.
"""
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import gradc  # noqa: E402
import gradc.api  # noqa: E402
from mlp import loss  # noqa: E402


def hand_written(W1, b1, W2, b2, x, y):
    """Backprop of mlp.loss written by hand (labels one-hot)."""
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    dlogits = (p - y) / x.shape[0]
    dW2 = h.T @ dlogits
    db2 = dlogits.sum(axis=0)
    dz = (dlogits @ W2.T) * (1.0 - h * h)
    return x.T @ dz, dz.sum(axis=0), dW2, db2


def median_seconds(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((784, 256)) / 28.0
    W2 = rng.standard_normal((256, 10)) / 16.0
    b1, b2 = np.zeros(256), np.zeros(10)
    x = rng.standard_normal((128, 784))
    y = np.eye(10)[rng.integers(0, 10, 128)]
    args = (W1, b1, W2, b2, x, y)

    def cold():
        gradc.api.clear_cache()
        gradc.grad(loss, wrt=(0, 1, 2, 3))(*args)

    def warm():
        gradc.grad(loss, wrt=(0, 1, 2, 3))(*args)

    cold_s = median_seconds(cold, 20)
    cold()
    warm_s = median_seconds(warm, 20)
    compile_only = []
    for _ in range(20):
        gradc.api.clear_cache()
        start = time.perf_counter()
        gradc.grad(loss, wrt=(0, 1, 2, 3)).compiled
        compile_only.append(time.perf_counter() - start)

    ours = gradc.grad(loss, wrt=(0, 1, 2, 3))
    for a, b in zip(ours(*args), hand_written(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    gradc_times, hand_times, primal_times = [], [], []
    for _ in range(200):  # interleaved so drifts in machine load hit both alike
        start = time.perf_counter(); ours(*args); gradc_times.append(time.perf_counter() - start)
        start = time.perf_counter(); hand_written(*args); hand_times.append(time.perf_counter() - start)
        start = time.perf_counter(); loss(*args); primal_times.append(time.perf_counter() - start)
    g, h, p = (statistics.median(t) for t in (gradc_times, hand_times, primal_times))
    print(f"compile (parse → compiled code), median of 20:  {statistics.median(compile_only) * 1e3:8.2f} ms")
    print(f"first grad(loss)(...) incl. compile, median:     {cold_s * 1e3:8.2f} ms")
    print(f"grad(loss)(...) again (in-memory cache):         {warm_s * 1e3:8.2f} ms")
    print(f"gradient run time, gradc:                        {g * 1e3:8.3f} ms")
    print(f"gradient run time, hand-written NumPy:           {h * 1e3:8.3f} ms")
    print(f"primal loss run time:                            {p * 1e3:8.3f} ms")
    print(f"ratio gradc / hand-written:                      {g / h:8.3f}")


if __name__ == "__main__":
    main()
