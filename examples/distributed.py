"""Data-parallel training on a Dask cluster: each step's gradient is computed on the workers, by
gradc's gradient of a plain NumPy loss called with Dask arrays. The dataset is larger than one
worker's memory limit and never held anywhere whole: it is defined chunk by chunk (each chunk drawn
from its own seeded generator, `dask.array.random`), and each step's mini-batch, a few chunks,
is generated on the workers that compute its gradient.

    python3 examples/distributed.py                  # a LocalCluster of two worker processes, ~1 min
    python3 examples/distributed.py --quick          # a few seconds
    python3 examples/distributed.py --scheduler tcp://host:8786   # an existing cluster

How a step runs: `dloss(params, x_batch, y_batch)` with NumPy parameters and Dask data returns the
gradient as lazy Dask arrays, nothing computed; the batch's mean is a tree reduction over its chunks,
so each worker reduces the chunks it holds and only parameter-sized partial sums travel. Then
`dask.compute` runs the graph on the cluster and brings back NumPy arrays; the update is NumPy here.

The problem: 16 Gaussian features, label 1 with probability sigmoid(x @ w + 2 x0 x1): logistic
regression learns the linear part, a small tanh MLP the product too (a lower loss).
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time


def _import_the_distributed_package() -> None:
    """Python puts a script's directory first on `sys.path`, where this file, distributed.py, would
    stand for the `distributed` package that `dask.distributed` imports (here, and in each worker
    process, which runs this file first): import the package with that directory hidden."""
    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    try:
        import distributed  # noqa: F401
    finally:
        sys.path[:] = saved


_import_the_distributed_package()

import numpy as np  # noqa: E402

import gradc  # noqa: E402
from _support import arguments, figure_path, one_blas_thread, pyplot  # noqa: E402

__all__ = ["logistic_loss", "mlp_loss", "MODELS", "make_data", "batches", "train", "main"]


def logistic_loss(params, x, y):
    """Mean logistic loss (binary cross-entropy of the logits) of a linear model; `y` in {0, 1}."""
    z = x @ params["w"] + params["b"]
    return np.mean(np.logaddexp(0.0, z) - y * z)


def mlp_loss(params, x, y):
    """The same loss for a one-hidden-layer tanh MLP."""
    h = np.tanh(x @ params["W1"] + params["b1"])
    z = h @ params["w2"] + params["b2"]
    return np.mean(np.logaddexp(0.0, z) - y * z)


def init_logistic(rng, d):
    return {"w": np.zeros(d), "b": np.zeros(1)}


def init_mlp(rng, d, hidden=32):
    return {"W1": rng.standard_normal((d, hidden)) / np.sqrt(d), "b1": np.zeros(hidden),
            "w2": rng.standard_normal(hidden) / np.sqrt(hidden), "b2": np.zeros(1)}


# name: (loss, its gradient and value, init, learning rate)
MODELS = {"logistic regression": (logistic_loss, gradc.value_and_grad(logistic_loss, wrt="params"),
                                  init_logistic, 0.5),
          "MLP (32 tanh units)": (mlp_loss, gradc.value_and_grad(mlp_loss, wrt="params"), init_mlp, 0.3)}


def make_data(n, d, chunk, seed, rule_seed=0):
    """The dataset as lazy Dask arrays chunked along axis 0: x (n, d) standard normal, y (n,) labels
    in {0., 1.} by the rule that `rule_seed` draws. Nothing is computed; each chunk comes from its
    own seeded generator, so any slice is generated where it is needed, the same every time."""
    import dask.array as da
    rng = da.random.default_rng(seed)
    w_true = np.random.default_rng(rule_seed).standard_normal(d) * 2.0 / np.sqrt(d)
    x = rng.standard_normal((n, d), chunks=(chunk, d))
    logit = x @ w_true + 2.0 * x[:, 0] * x[:, 1]
    y = (rng.random(n, chunks=chunk) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    return x, y


def batches(x, y, blocks_per_step, rng):
    """One epoch's mini-batches: runs of `blocks_per_step` consecutive chunks, in random order."""
    starts = np.arange(0, x.numblocks[0], blocks_per_step)
    for start in rng.permutation(starts):
        stop = min(start + blocks_per_step, x.numblocks[0])
        yield x.blocks[start:stop], y.blocks[start:stop]


class MemorySampler:
    """The largest resident memory of any worker process, sampled every `every` seconds in a thread
    (`client.run` asks each worker)."""

    def __init__(self, client, every=0.1):
        self.client, self.every, self.peak = client, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self):
        import psutil
        rss = self.client.run(lambda: psutil.Process().memory_info().rss)
        self.peak = max(self.peak, *rss.values())

    def _run(self):
        while not self._stop.wait(self.every):
            try:
                self.sample()
            except Exception:  # the cluster closing under us
                return

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def train(model, x, y, x_val, y_val, epochs, blocks_per_step, seed, momentum=0.9):
    """SGD with momentum; each step's loss and gradient computed on the cluster. Returns the
    parameters, the batch losses step by step and the validation loss (NumPy, in memory) per epoch."""
    import dask
    loss, value_and_grad, init, lr = MODELS[model]
    rng = np.random.default_rng(seed)
    params = init(rng, x.shape[1])
    velocity = {name: np.zeros_like(value) for name, value in params.items()}
    steps, validation = [], [float(loss(params, x_val, y_val))]
    for epoch in range(epochs):
        for xb, yb in batches(x, y, blocks_per_step, rng):
            value, grads = dask.compute(*value_and_grad(params, xb, yb))  # lazy until here
            steps.append(float(value))
            for name in params:
                velocity[name] = momentum * velocity[name] - lr * grads[name]
                params[name] = params[name] + velocity[name]
        validation.append(float(loss(params, x_val, y_val)))
        per_step = len(steps) // (epoch + 1)
        print(f"  epoch {epoch + 1}: training loss {np.mean(steps[-per_step:]):.4f} (mean over the epoch's "
              f"batches), validation loss {validation[-1]:.4f}")
    return params, steps, validation


def median_ms(functions, rounds):
    """Median milliseconds of each function, the functions taking turns round by round."""
    for f in functions:
        f()
    times = [[] for _ in functions]
    for _ in range(rounds):
        for f, spent in zip(functions, times):
            start = time.perf_counter()
            f()
            spent.append(time.perf_counter() - start)
    return [1000 * float(np.median(spent)) for spent in times]


def compare_one_batch(client, model, params, xb, yb, rounds):
    """One batch's gradient on the cluster (generated there, or persisted there) and in this process
    with NumPy (the batch computed into memory): the gradients, and the time per step of each."""
    import dask
    _, value_and_grad, _, _ = MODELS[model]
    xb_np, yb_np = dask.compute(xb, yb)
    xb_p, yb_p = client.persist([xb, yb])
    dask.compute(xb_p, yb_p)  # (waits for the persisted chunks)
    cluster = dask.compute(value_and_grad(params, xb_p, yb_p)[1])[0]
    numpy = value_and_grad(params, xb_np, yb_np)[1]
    with one_blas_thread():
        ms = median_ms([lambda: dask.compute(*value_and_grad(params, xb, yb)),
                        lambda: dask.compute(*value_and_grad(params, xb_p, yb_p)),
                        lambda: value_and_grad(params, xb_np, yb_np)], rounds)
    del xb_p, yb_p
    return cluster, numpy, ms


def mb(n):
    return f"{n / 1e6:,.0f} MB"


def run(client, args, n, d, chunk, blocks_per_step, epochs, rounds):
    """Everything but starting the cluster: the data, training both models, the comparison with
    NumPy, the plot. Returns what it printed, as numbers."""
    workers = client.scheduler_info()["workers"]
    limit = min(w["memory_limit"] for w in workers.values())
    dashboard = client.dashboard_link
    try:
        import bokeh  # noqa: F401  (the dashboard's web pages need it)
    except ImportError:
        dashboard += "  (not served here: the dashboard needs bokeh)"
    print(f"cluster: {len(workers)} workers, {sum(w['nthreads'] for w in workers.values())} threads, "
          f"memory limit per worker {mb(limit)}; dashboard {dashboard}")

    x, y = make_data(n, d, chunk, args.seed, rule_seed=args.seed)
    x_val, y_val = (a.compute() for a in make_data(min(n // 10, 20_000), d, chunk, args.seed + 1,
                                                           rule_seed=args.seed))
    size = x.nbytes + y.nbytes
    print(f"dataset: {n:,} examples x {d} features, {x.numblocks[0]} chunks of {chunk:,} rows: "
          f"{mb(size)} in float64, {size / limit:.1f} x one worker's memory limit; never held whole, "
          f"each batch ({blocks_per_step} chunks, {blocks_per_step * chunk:,} rows) generated on the workers")

    results = {"dataset_bytes": size, "memory_limit": limit, "models": {}}
    with MemorySampler(client) as memory:
        for model in MODELS:
            print(f"{model}: {epochs} epochs of SGD (momentum 0.9), "
                  f"{-(-x.numblocks[0] // blocks_per_step)} steps per epoch")
            params, steps, validation = train(model, x, y, x_val, y_val, epochs, blocks_per_step, args.seed)
            results["models"][model] = {"params": params, "steps": steps, "validation": validation}
    results["peak_worker_memory"] = memory.peak
    print(f"peak worker memory (resident, sampled every 0.1 s while training): {mb(memory.peak)} "
          f"of the {mb(limit)} limit")

    print(f"time per step, one batch of {blocks_per_step * chunk:,} rows (median of {rounds}):")
    print(f"  {'':<22} {'Dask, generated':>16} {'Dask, persisted':>16} {'NumPy':>8} {'max rel. diff':>14}")
    xb, yb = next(batches(x, y, blocks_per_step, np.random.default_rng(args.seed)))
    for model, result in results["models"].items():
        cluster, numpy, ms = compare_one_batch(client, model, result["params"], xb, yb, rounds)
        difference = max(float(np.max(np.abs(cluster[k] - numpy[k]) / np.max(np.abs(numpy[k])))) for k in numpy)
        result.update(cluster_grads=cluster, numpy_grads=numpy, ms=ms, difference=difference)
        print(f"  {model:<22} {ms[0]:>13.1f} ms {ms[1]:>13.1f} ms {ms[2]:>5.1f} ms {difference:>14.1e}")
    print("  (Dask, generated: a training step, the batch drawn on the workers; persisted: the batch already\n"
          "   in the workers' memory; NumPy: the same batch and the same gradient code in this process, one\n"
          "   BLAS thread; max rel. diff: cluster gradient vs NumPy's, relative to each gradient's largest entry)")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for model, result in results["models"].items():
        per_epoch = len(result["steps"]) / epochs
        line, = ax.plot(np.arange(1, len(result["steps"]) + 1), result["steps"], lw=1, alpha=0.8,
                        label=f"{model}: batch loss")
        ax.plot(np.arange(epochs + 1) * per_epoch, result["validation"], "o--", color=line.get_color(),
                label=f"{model}: validation loss")
    ax.set(xlabel="step", ylabel="logistic loss",
           title=f"SGD on a Dask cluster: {mb(size)} of data, {len(workers)} workers of {mb(limit)}")
    ax.legend()
    fig.tight_layout()
    path = figure_path(args.out, "distributed.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"saved {path}")
    results["figure"] = path
    return results


def main(argv=None):
    args = arguments(__doc__.splitlines()[0], argv,
                     scheduler=(str, None, "address of an existing Dask scheduler (default: start a LocalCluster)"),
                     workers=(int, 2, "LocalCluster workers (default 2)"),
                     memory_limit=(str, "400MB", "LocalCluster memory limit per worker (default 400MB)"))
    from dask.distributed import Client, LocalCluster
    if args.quick:  # 48 MB of data, 30 steps per model
        n, d, chunk, blocks_per_step, epochs, rounds = 300_000, 16, 15_000, 2, 3, 5
    else:  # 1.1 GB of data, 160 steps per model (batch 100,000 rows: see the report on np.size)
        n, d, chunk, blocks_per_step, epochs, rounds = 8_000_000, 16, 50_000, 2, 2, 10
    if args.scheduler:
        with Client(args.scheduler) as client:
            return run(client, args, n, d, chunk, blocks_per_step, epochs, rounds)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      memory_limit=args.memory_limit, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        return run(client, args, n, d, chunk, blocks_per_step, epochs, rounds)


if __name__ == "__main__":
    main()
