"""Data parallelism, simulated on one machine: split each batch into K shards, compute each shard's
gradient separately (as K workers would, here threads of a pool), and average them (the all-reduce).
gradc supplies every gradient; the rest is plain NumPy.

    python3 examples/data_parallel.py            # about a minute
    python3 examples/data_parallel.py --quick    # a few seconds
    gradc examples/data_parallel.py:loss --wrt params

Why the average equals the full-batch gradient: the loss is a mean over the batch's N examples.
Split into shards of n_1 + ... + n_K = N examples, it is

    loss(batch) = sum_k (n_k / N) * loss(shard k)          (loss(shard k): the mean over shard k)

and the gradient is linear, so grad loss(batch) = sum_k (n_k / N) * grad loss(shard k): the shard
gradients averaged, *weighted by shard size*. With equal shards the weights are all 1/K, the plain
mean that all-reduce implementations compute; with unequal shards (N not divisible by K) a plain
mean is wrong, by a little (printed below). The equality is exact in real arithmetic; in floating
point the two sides sum in different orders and differ by rounding, ~1e-16 relative in float64.

Real data parallelism runs the shards on different devices and sums the gradients over the network
(all-reduce); the K-fold speed-up comes from the devices. Here the shards share one process: the
thread pool shows the structure, and the timings show what splitting costs when nothing runs in
parallel (small matrices, Python overhead per shard).
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import gradc
from _support import arguments, digits, one_hot, progress

__all__ = ["loss", "dloss", "init", "shard", "all_reduce", "sharded_gradient", "train", "main"]


def loss(params, x, y):
    """Mean softmax cross-entropy of a tanh MLP over the batch; `y` holds one-hot labels."""
    h = np.tanh(x @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(y * log_probs, axis=1))


dloss = gradc.grad(loss, wrt="params")


def init(rng, n_in=64, n_hidden=64, n_out=10):
    return {"W1": rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in), "b1": np.zeros(n_hidden),
            "W2": rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden), "b2": np.zeros(n_out)}


def accuracy(params, x, labels):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return float(np.mean(np.argmax(h @ params["W2"] + params["b2"], axis=1) == labels))


def shard(x, y, k):
    """The batch split into `k` contiguous shards, sizes differing by at most one."""
    return list(zip(np.array_split(x, k), np.array_split(y, k)))


def all_reduce(grads, sizes, weighted=True):
    """The shard gradients combined into the batch's: weighted by shard size (the right way when
    sizes differ), or a plain mean (`weighted=False`, right only for equal shards)."""
    total = sum(sizes)
    weights = [n / total for n in sizes] if weighted else [1 / len(sizes)] * len(sizes)
    return {name: sum(w * g[name] for w, g in zip(weights, grads)) for name in grads[0]}


def sharded_gradient(params, x, y, k, pool=None, weighted=True):
    """The gradient of `loss` on (x, y) computed shard by shard: in a loop, or one shard per worker
    of `pool` (a concurrent.futures executor); then the all-reduce."""
    shards = shard(x, y, k)
    if pool is None:
        grads = [dloss(params, xs, ys) for xs, ys in shards]
    else:
        grads = list(pool.map(lambda s: dloss(params, *s), shards))
    return all_reduce(grads, [len(xs) for xs, _ in shards], weighted)


def max_difference(a, b):
    return max(float(np.max(np.abs(a[name] - b[name]))) for name in a)


def gradient_step(params, x, y, k, pool=None):
    """One step's gradient: from `k` shards, or with k=None one full-batch call of dloss."""
    return dloss(params, x, y) if k is None else sharded_gradient(params, x, y, k, pool)


def train(data, steps, batch, k, pool=None, lr=0.1, momentum=0.9, seed=0):
    """SGD with momentum, each step's gradient from `gradient_step`; the trained parameters."""
    x_train, y_train = data[0], one_hot(data[1])
    rng = np.random.default_rng(seed)
    params = init(rng)
    velocity = {name: np.zeros_like(value) for name, value in params.items()}
    for _ in range(steps):
        pick = rng.choice(len(x_train), size=batch, replace=False)
        grads = gradient_step(params, x_train[pick], y_train[pick], k, pool)
        for name in params:
            velocity[name] = momentum * velocity[name] - lr * grads[name]
            params[name] += velocity[name]
    return params


def time_per_step(params, x, y, configurations, rounds):
    """Median milliseconds of `gradient_step` per configuration ((k, pool) pairs), the
    configurations taking turns round by round, so that a burst of load on a shared machine
    slows them all alike. Each runs a few times first (compiling the gradient for the shards'
    shapes, waking NumPy's BLAS threads)."""
    for k, pool in configurations:
        for _ in range(3):
            gradient_step(params, x, y, k, pool)
    times = [[] for _ in configurations]
    for _ in range(rounds):
        for (k, pool), spent in zip(configurations, times):
            start = time.perf_counter()
            gradient_step(params, x, y, k, pool)
            spent.append(time.perf_counter() - start)
    return [1000 * float(np.median(spent)) for spent in times]


def main(argv=None):
    args = arguments(__doc__.splitlines()[0], argv, batch=(int, 250, "training batch size (default 250)"))
    steps, rounds = (100, 50) if args.quick else (2000, 500)
    batch = args.batch  # 250 = 4 * 62 + 2: unequal shards for K=4
    data = digits(args.seed)
    x_train, y_train, _, _, x_test, y_test = data
    x, y = x_train, one_hot(y_train)
    params = init(np.random.default_rng(args.seed))

    # 1. The shard-averaged gradient equals the full-batch gradient (the whole training set as one
    #    batch: 1,257 examples, so every K > 1 below gives unequal shards).
    full = dloss(params, x, y)
    print(f"gradient on {len(x)} examples, full batch vs K shards averaged (float64):")
    print(f"  {'K':>2}  {'shard sizes':<28} {'max |difference|':>17}  {'plain mean, unweighted':>22}")
    differences = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for k in (1, 2, 3, 4, 8):
            sizes = [len(xs) for xs, _ in shard(x, y, k)]
            differences[k] = max_difference(sharded_gradient(params, x, y, k, pool), full)
            plain = max_difference(sharded_gradient(params, x, y, k, weighted=False), full)
            shown = ", ".join(map(str, sizes)) if k <= 4 else f"{sizes[0]}, ..., {sizes[-1]}"
            print(f"  {k:>2}  {shown:<28} {differences[k]:>17.1e}  {plain:>22.1e}")

    # 2. Training: the same batches for every K, so the runs differ only by rounding.
    print(f"\ntraining {steps} steps of SGD (momentum 0.9), batch {batch}, the same batches for each row:")
    configurations = [(None, "full batch"), (1, "K=1"), (2, "K=2"), (4, "K=4")]
    runs = {}
    for k, label in progress(configurations, desc="training", leave=False, disable=args.quick):
        trained = train(data, steps, batch, k, seed=args.seed)
        runs[label] = {"params": trained, "accuracy": accuracy(trained, x_test, y_test)}

    # 3. Time per step: each K's gradient on one batch, the shards in a loop and on a thread pool.
    pools = {k: ThreadPoolExecutor(max_workers=k) for k, _ in configurations if k is not None}
    timed = [(k, None) for k, _ in configurations] + [(k, pool) for k, pool in pools.items()]
    milliseconds = time_per_step(params, x[:batch], y[:batch], timed, rounds)
    for pool in pools.values():
        pool.shutdown()
    print(f"  {'':<11} {'shard sizes':<18} {'ms per step':>11} {'(threads)':>10} {'test acc':>9} "
          f"{'max |params - full|':>20}")
    for i, (k, label) in enumerate(configurations):
        run = runs[label]
        run["ms_per_step"] = milliseconds[i]
        run["ms_per_step_threads"] = None if k is None else milliseconds[len(configurations) + i - 1]
        run["drift"] = max_difference(run["params"], runs["full batch"]["params"])
        sizes = "-" if k is None else ", ".join(str(len(s)) for s in np.array_split(np.arange(batch), k))
        threads = "-" if k is None else f"{run['ms_per_step_threads']:.2f}"
        print(f"  {label:<11} {sizes:<18} {run['ms_per_step']:>11.2f} {threads:>10} {run['accuracy']:>9.2%} "
              f"{run['drift']:>20.1e}")
    print(f"  (ms per step: the gradient's, all-reduce included, the median of {rounds} computations per row,\n"
          f"   the rows taking turns; the weight update, the same for every row, is not counted)")
    return {"differences": differences, "runs": runs}


if __name__ == "__main__":
    main()
