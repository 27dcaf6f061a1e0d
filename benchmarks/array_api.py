"""What the array API path costs: one loss written against the standard, its gradient called with
NumPy arrays (gradc emits plain NumPy), array_api_strict arrays and PyTorch tensors (gradc emits `xp`
code), against hand-written NumPy and torch.autograd on the same tensors.

    python benchmarks/array_api.py [--batch 256] [--rounds 30]

The loss is a two-layer tanh MLP with a softmax cross-entropy (784 → 256 → 10, float64). Contenders
run interleaved round by round, each sample a batch of calls; the table gives the median time per
call and its ratio to the NumPy gradient, measured in one run. Every contender's gradient is first
compared with the hand-written one.
"""
from __future__ import annotations

import argparse
import statistics
import time

import array_api_compat
import numpy as np

import gradc

try:
    import torch
except ImportError:  # (the torch rows are skipped)
    torch = None


def mlp_loss(W1, b1, W2, b2, x, y):
    xp = array_api_compat.array_namespace(W1, x)
    h = xp.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    z = z - xp.max(z, axis=1, keepdims=True)
    log_p = z - xp.log(xp.sum(xp.exp(z), axis=1, keepdims=True))
    return -xp.mean(xp.sum(y * log_p, axis=1))


def hand_gradient(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    dz = (p - y) / x.shape[0]
    dh = dz @ W2.T * (1.0 - h * h)
    return x.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0)


def make(batch: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal((784, 256)) * 0.05, np.zeros(256), rng.standard_normal((256, 10)) * 0.1,
            np.zeros(10), rng.standard_normal((batch, 784)), np.eye(10)[rng.integers(0, 10, batch)]]


def contenders(args: list[np.ndarray]) -> dict:
    g = gradc.grad(mlp_loss, wrt=(0, 1, 2, 3))
    found = {"hand-written NumPy": (hand_gradient, args, np.asarray),
             "gradc, NumPy arrays": (g, args, np.asarray)}
    try:
        import array_api_strict as xps
        found["gradc, array_api_strict"] = (g, [xps.asarray(a) for a in args], np.from_dlpack)
    except ImportError:
        pass
    if torch is not None:
        tensors = [torch.tensor(a) for a in args]
        found["gradc, torch tensors"] = (g, tensors, lambda t: t.numpy())

        def torch_autograd(*ts):
            params = [t.requires_grad_(True) for t in ts[:4]]
            return torch.autograd.grad(mlp_loss(*params, *ts[4:]), params)
        found["torch.autograd"] = (torch_autograd, [t.clone() for t in tensors], lambda t: t.detach().numpy())
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args(argv)
    args = make(options.batch)
    expected = hand_gradient(*args)
    runs = contenders(args)
    failed = False
    for name, (fn, inputs, to_numpy) in runs.items():
        got = fn(*inputs)
        if not all(np.allclose(to_numpy(a), b, rtol=1e-9, atol=1e-12) for a, b in zip(got, expected)):
            print(f"MISMATCH: {name}")
            failed = True
    samples: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(options.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn, inputs, _ = runs[name]
            start = time.perf_counter()
            for _ in range(5):
                fn(*inputs)
            samples[name].append((time.perf_counter() - start) / 5)
    base = statistics.median(samples["gradc, NumPy arrays"])
    print(f"gradient of a 784-256-10 tanh MLP's cross-entropy, batch {options.batch}, float64, "
          f"median of {options.rounds} rounds")
    print(f"{'contender':28s} {'ms per call':>12s} {'/ gradc NumPy':>14s}")
    for name in names:
        median = statistics.median(samples[name])
        print(f"{name:28s} {median * 1e3:12.2f} {median / base:14.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
