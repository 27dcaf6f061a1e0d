"""Mixed-precision training of the digits MLP: float16 forward and backward, float32 master weights,
dynamic loss scaling. gradc supplies every gradient; the training loop is plain NumPy.

    python3 examples/mixed_precision.py            # about a minute; mixed_precision.png in examples/out/
    python3 examples/mixed_precision.py --quick    # a few seconds
    gradc examples/mixed_precision.py:loss --wrt params

The recipe (Micikevicius et al., "Mixed Precision Training", 2018):

1. keep float32 *master* weights; each step, copy them to float16;
2. run the forward pass and the backward pass in float16 (gradc's gradient of a float16 computation
   computes in float16 and returns float16 arrays, checked below);
3. multiply the loss by a scale S before differentiating, so that small gradients do not underflow;
4. convert the float16 gradients to float32 and divide them by S (unscale);
5. if any gradient is inf or nan, the scale was too large: skip the step and halve S; otherwise
   update the master weights, and after `growth_interval` good steps in a row double S.

Why gradients underflow: float16 has a 5-bit exponent. Its smallest normal number is 2**-14 (about
6.1e-5) and its smallest subnormal 2**-24 (about 6e-8); anything smaller rounds to zero. The loss
here is a *mean* over a batch of B examples, so the gradient flowing into the logits is
(softmax - one_hot) / B: at most 1/B, and on examples the network already classifies well, far less
(softmax is within 1e-3 of one_hot). Multiplied by weights and by tanh' = 1 - h**2 on the way back,
many of these products fall below 2**-24 and vanish; entries that survive as subnormals keep only a
few bits. Multiplying the loss by S = 2**k shifts every gradient up by k binades (exactly, as S is a
power of two), out of the underflow range, and dividing by S in float32 afterwards undoes it without
loss. Too large an S overflows (float16's largest number is 65504): that is what the inf/nan check
catches.
"""
from __future__ import annotations

import time

import numpy as np

import gradc
from _support import arguments, digits, figure_path, one_hot, progress, pyplot

__all__ = ["loss", "dloss", "init", "LossScaler", "underflow_counts", "train", "main"]


def loss(params, x, y, scale):
    """`scale` times the mean softmax cross-entropy of a tanh MLP, computed in the dtype of `params`,
    `x` and `y` (float16 arrays give a float16 computation; `scale` is a Python float)."""
    h = np.tanh(x @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return scale * -np.mean(np.sum(y * log_probs, axis=1))


dloss = gradc.value_and_grad(loss, wrt="params")


def predict(params, x):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return np.argmax(h @ params["W2"] + params["b2"], axis=1)


def accuracy(params, x, labels):
    return float(np.mean(predict(params, x) == labels))


def init(rng, n_in=64, n_hidden=64, n_out=10):
    """float32 master weights."""
    return {"W1": (rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)).astype(np.float32),
            "b1": np.zeros(n_hidden, np.float32),
            "W2": (rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden)).astype(np.float32),
            "b2": np.zeros(n_out, np.float32)}


def cast(params, dtype):
    return {name: value.astype(dtype) for name, value in params.items()}


class LossScaler:
    """Dynamic loss scaling: halve the scale on inf/nan (and skip that step), double it after
    `growth_interval` finite steps in a row. Scales are powers of two, so scaling is exact."""

    def __init__(self, scale=2.0 ** 16, growth_interval=200):
        self.scale, self.growth_interval, self.good_steps = scale, growth_interval, 0
        self.history = []  # (step, new scale, why)

    def unscale(self, grads16):
        """The float16 gradients in float32 divided by the scale, or None when one is not finite."""
        if not all(np.all(np.isfinite(g)) for g in grads16.values()):
            return None
        return {name: g.astype(np.float32) / np.float32(self.scale) for name, g in grads16.items()}

    def update(self, step, finite):
        if not finite:
            self.scale, self.good_steps = self.scale / 2, 0
            self.history.append((step, self.scale, "overflow"))
            return
        self.good_steps += 1
        if self.good_steps == self.growth_interval:
            self.scale, self.good_steps = self.scale * 2, 0
            self.history.append((step, self.scale, "growth"))


def float16_gradient(params32, x16, y16, scale):
    """The loss (divided by `scale`) and the gradient of `scale * loss` at float16 copies of
    `params32`, all computed in float16; float16 overflow is expected here, and caught by the caller."""
    with np.errstate(over="ignore", invalid="ignore"):
        value, grads = dloss(cast(params32, np.float16), x16, y16, scale)
    for name, g in grads.items():
        assert g.dtype == np.float16, f"gradient of {name} is {g.dtype}, not float16"
    return float(value) / scale, grads


def underflow_counts(params32, x, y, scale):
    """At float32 weights `params32`: how many entries of the float32 gradient are nonzero, and how
    many of those are zero in the float16 gradient without scaling and with `scale` (then unscaled
    in float32). Also the entries that survive only as float16 subnormals (below 2**-14)."""
    _, exact = dloss(params32, x.astype(np.float32), y.astype(np.float32), 1.0)
    x16, y16 = x.astype(np.float16), y.astype(np.float16)
    counts = {"nonzero": sum(int(np.count_nonzero(g)) for g in exact.values())}
    for label, s in (("unscaled", 1.0), ("scaled", scale)):
        _, grads16 = float16_gradient(params32, x16, y16, s)
        counts[label] = sum(int(np.count_nonzero((exact[k] != 0) & (grads16[k] == 0))) for k in exact)
        tiny = np.finfo(np.float16).tiny  # the smallest normal float16, 2**-14
        counts[label + "_subnormal"] = sum(int(np.count_nonzero((grads16[k] != 0) & (np.abs(grads16[k]) < tiny)))
                                           for k in exact)
    return counts


def train(data, steps, batch, lr, seed, mixed, growth_interval=200, momentum=0.9, show=True):
    """SGD with momentum on float32 master weights; `mixed` runs the loss and its gradient in
    float16 with dynamic loss scaling, otherwise in float32. Returns (params, losses, scales)."""
    x_train, y_train = data[0], data[1]
    rng = np.random.default_rng(seed)
    params = init(rng)
    velocity = {name: np.zeros_like(value) for name, value in params.items()}
    # Started low to show the scale growing; it settles at 2**15, as 2**16 is more than float16's
    # largest number (65504): each try at 2**16 overflows, skips a step and halves the scale back.
    scaler = LossScaler(scale=2.0 ** 10, growth_interval=growth_interval) if mixed else None
    losses, scales = [], []
    dtype = np.float16 if mixed else np.float32
    x_all, y_all = x_train.astype(dtype), one_hot(y_train).astype(dtype)
    for step in progress(range(steps), desc="float16 mixed" if mixed else "float32", leave=False, disable=not show):
        pick = rng.choice(len(x_all), size=batch, replace=False)
        x, y = x_all[pick], y_all[pick]
        if mixed:
            scales.append(scaler.scale)
            value, grads16 = float16_gradient(params, x, y, scaler.scale)
            grads = scaler.unscale(grads16)
            scaler.update(step, grads is not None)
            # the scaled loss itself overflows float16 when S * loss > 65504: no point on the curve
            losses.append(value if grads is not None and np.isfinite(value) else np.nan)
            if grads is None:
                continue  # skip the step: the scale was too large
        else:
            value, grads = dloss(params, x, y, 1.0)
            assert all(g.dtype == np.float32 for g in grads.values())
            losses.append(float(value))
        for name in params:
            velocity[name] = momentum * velocity[name] - lr * grads[name]
            params[name] += velocity[name]
    return params, np.array(losses), np.array(scales), scaler


def plot(out, losses32, losses16, scales, scaler):
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.plot(losses32, lw=0.8, label="float32")
    top.plot(losses16, lw=0.8, alpha=0.8, label="float16 forward and backward, float32 master weights")
    top.set_yscale("log")
    top.set_ylabel("training loss (batch)")
    top.legend()
    bottom.step(np.arange(len(scales)), scales, where="post")
    skipped = [step for step, _, why in scaler.history if why == "overflow"]
    bottom.plot(skipped, [scales[s] for s in skipped], "rx", label="inf/nan: step skipped, scale halved")
    bottom.set_yscale("log", base=2)
    bottom.set_ylabel("loss scale S")
    bottom.set_xlabel("step")
    bottom.legend()
    fig.tight_layout()
    path = figure_path(out, "mixed_precision.png")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def main(argv=None):
    args = arguments(__doc__.splitlines()[0], argv)
    steps, batch, growth = (200, 256, 20) if args.quick else (2000, 512, 150)
    lr = 0.1
    data = digits(args.seed)
    x_train, y_train, _, _, x_test, y_test = data
    show = not args.quick

    start = time.perf_counter()
    params32, losses32, _, _ = train(data, steps, batch, lr, args.seed, mixed=False, show=show)
    time32 = time.perf_counter() - start
    start = time.perf_counter()
    params16, losses16, scales, scaler = train(data, steps, batch, lr, args.seed, mixed=True,
                                               growth_interval=growth, show=show)
    time16 = time.perf_counter() - start
    acc32, acc16 = accuracy(params32, x_test, y_test), accuracy(params16, x_test, y_test)

    # Underflow at the trained float32 weights, on the whole training set as one batch (a mean over
    # ~1,250 examples: small gradients), without scaling and with the scale training ended at.
    counts = underflow_counts(params32, x_train, one_hot(y_train), scaler.scale)

    print(f"float16 gradient entries that underflow to zero, at the trained float32 weights "
          f"(batch {len(x_train)}; {counts['nonzero']} nonzero float32 entries):")
    for label, text in (("unscaled", "without loss scaling:   "), ("scaled", f"with loss scale {scaler.scale:7.0f}:")):
        print(f"  {text} {counts[label]:5d} zero  ({counts[label + '_subnormal']} more subnormal, below 2**-14)")
    overflows = [h for h in scaler.history if h[2] == "overflow"]
    growths = [h for h in scaler.history if h[2] == "growth"]
    print(f"loss scale: started at {scales[0]:.0f}, ended at {scaler.scale:.0f}; "
          f"{len(overflows)} steps skipped (inf/nan), {len(growths)} doublings")
    print("  history: " + ", ".join(f"step {s}: {'x2' if why == 'growth' else '/2'} -> {v:.0f}"
                                    for s, v, why in scaler.history[:12])
          + (" ..." if len(scaler.history) > 12 else ""))
    print(f"test accuracy: float32 {acc32:.2%}  mixed float16 {acc16:.2%}  "
          f"(difference {100 * (acc16 - acc32):+.2f} points)")
    print(f"training time: float32 {time32:.1f} s, mixed float16 {time16:.1f} s ({steps} steps of {batch})")
    path = plot(args.out, losses32, losses16, scales, scaler)
    print(f"saved {path}")
    return {"counts": counts, "acc32": acc32, "acc16": acc16, "scales": scales, "history": scaler.history,
            "losses32": losses32, "losses16": losses16, "path": path}


if __name__ == "__main__":
    main()
