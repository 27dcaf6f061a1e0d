"""Backpropagation through time: gradc's generated gradient of examples/rnn.py's loss
against a hand-written NumPy BPTT of the same RNN, and a 10^5-iteration scalar loop.

    python benchmarks/rnn_bptt.py

Prints medians (interleaved runs) of run time and the peak memory of one gradient call
(tracemalloc), as ratios to hand-written, at T=50 and T=500 (hidden 64, batch 32, input 16).
"""
import math
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import gradc  # noqa: E402
from rnn import loss  # noqa: E402


def hand_bptt(Wxh, Whh, Why, bh, by, h, xs, ys):
    """BPTT written by hand: keep the hidden states, recompute the outputs going back."""
    hs = [h]
    for x in xs:
        h = np.tanh(x @ Wxh + h @ Whh + bh)
        hs.append(h)
    steps = len(xs)
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dh_next = np.zeros_like(h)
    for t in reversed(range(steps)):
        h = hs[t + 1]
        out = h @ Why + by
        dout = 2.0 * (out - ys[t]) / (out.size * steps)
        dWhy += h.T @ dout
        dby += dout.sum(axis=0)
        dz = (dout @ Why.T + dh_next) * (1.0 - h * h)
        dWxh += xs[t].T @ dz
        dWhh += hs[t].T @ dz
        dbh += dz.sum(axis=0)
        dh_next = dz @ Whh.T
    return dWxh, dWhh, dWhy, dbh, dby


def scalar_loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + math.sin(x * i) * 0.001
        x = x * 0.9999 + 0.0001
    return s


def peak_bytes(fn, *args):
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def rnn_case(steps, repeat):
    rng = np.random.default_rng(0)
    n_in, n_hidden, n_out, batch = 16, 64, 16, 32
    params = [rng.standard_normal((n_in, n_hidden)) * 0.25, rng.standard_normal((n_hidden, n_hidden)) * 0.1,
              rng.standard_normal((n_hidden, n_out)) * 0.1, np.zeros(n_hidden), np.zeros(n_out)]
    xs = rng.standard_normal((steps, batch, n_in))
    ys = rng.standard_normal((steps, batch, n_out))
    args = (*params, np.zeros((batch, n_hidden)), xs, ys)
    ours = gradc.grad(loss, wrt=(0, 1, 2, 3, 4))
    for a, b in zip(ours(*args), hand_bptt(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    g_times, h_times, p_times = [], [], []
    for _ in range(repeat):
        g_times.append(timed(ours, *args))
        h_times.append(timed(hand_bptt, *args))
        p_times.append(timed(loss, *args))
    g, h, p = (statistics.median(t) for t in (g_times, h_times, p_times))
    g_mem, h_mem = peak_bytes(ours, *args), peak_bytes(hand_bptt, *args)
    print(f"RNN T={steps:<4d} gradc {g * 1e3:8.2f} ms   hand BPTT {h * 1e3:8.2f} ms   primal {p * 1e3:7.2f} ms"
          f"   time ratio {g / h:5.2f}   peak memory gradc {g_mem / 2**20:6.2f} MiB"
          f" / hand {h_mem / 2**20:6.2f} MiB = {g_mem / h_mem:5.2f}")


def scalar_case(n, repeat):
    ours = gradc.grad(scalar_loop)
    h = 1e-6
    numeric = (scalar_loop(0.3 + h, n) - scalar_loop(0.3 - h, n)) / (2 * h)
    assert abs(ours(0.3, n) - numeric) < 1e-6 * max(1.0, abs(numeric))
    g = statistics.median(timed(ours, 0.3, n) for _ in range(repeat))
    p = statistics.median(timed(scalar_loop, 0.3, n) for _ in range(repeat))
    print(f"scalar loop n={n}: gradient {g / n * 1e9:7.0f} ns/iteration, primal {p / n * 1e9:6.0f} ns/iteration,"
          f" ratio {g / p:5.2f}")


if __name__ == "__main__":
    rnn_case(50, 30)
    rnn_case(500, 5)
    scalar_case(10**5, 5)
