"""Vanishing and exploding gradients, measured with gradc at initialisation.

Left panel: a 20-layer MLP (19 hidden layers of 64 units, then 10 outputs) on a batch of the
8x8 digits, softmax cross-entropy. For each setting (sigmoid and tanh with the classic
N(0, 1/fan_in) init, ReLU with that init and with He's N(0, 2/fan_in), and sigmoid with batch
normalisation) gradc computes the loss's gradient with respect to every layer's weights; the
plot shows each layer's gradient norm on a log scale, and the first layer's norm over the last
layer's is printed: far below 1 where the gradient vanishes on its way down, near 1 where it
flows.

Right panel: the tanh RNN of examples/char_rnn.py on a chunk of its text, the loss being the
prediction of the chunk's last character only. gradc's gradient with respect to a zero "nudge"
added to every hidden state is dL/dh_t; its norm, for t counted back from the end, shows the
signal from the loss shrinking (recurrent weights of gain 0.5 or 1) or growing (gain 2) through
time steps.

    python3 examples/vanishing.py [--quick] [--out DIR]        # the plot goes to DIR/vanishing.png
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import char_rnn  # noqa: E402
import gradc  # noqa: E402
from _support import arguments, digits, figure_path, one_blas_thread, pyplot  # noqa: E402


# --- what gradc differentiates ---------------------------------------------------------------

def activate(z, kind):
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if kind == "tanh":
        return np.tanh(z)
    return np.maximum(z, 0.0)


def cross_entropy(logits, y):
    """Mean softmax cross-entropy; y holds one-hot labels."""
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    return -np.mean(np.sum(y * log_probs, axis=-1))


def mlp_loss(Ws, bs, x, y, kind):
    """The deep MLP: `kind` activation after every layer but the last."""
    h = x
    for W, b in zip(Ws[:-1], bs[:-1]):
        h = activate(h @ W + b, kind)
    return cross_entropy(h @ Ws[-1] + bs[-1], y)


def batchnorm(z, gamma, beta):
    """Batch normalisation (training mode: the batch's own mean and variance)."""
    centred = z - np.mean(z, axis=0)
    return gamma * centred / np.sqrt(np.mean(centred * centred, axis=0) + 1e-5) + beta


def mlp_bn_loss(Ws, gammas, betas, bs, x, y, kind):
    """The deep MLP with batch normalisation between each hidden layer's product and activation."""
    h = x
    for W, gamma, beta in zip(Ws[:-1], gammas, betas):
        h = activate(batchnorm(h @ W, gamma, beta), kind)
    return cross_entropy(h @ Ws[-1] + bs[-1], y)


def rnn_loss(params, h, xs, nudges, y):
    """char_rnn's tanh RNN over xs (T, B, V), a nudge (B, H) added to each hidden state; the loss
    is the prediction of the last character only, so dL/dnudges[t] = dL/dh_t measures what
    reaches step t from the end."""
    inputs = xs @ params["Wxh"] + params["bh"]
    for x, nudge in zip(inputs, nudges):
        h = char_rnn.cell(params, h, x) + nudge
    return cross_entropy(h @ params["Why"] + params["by"], y)


dmlp = gradc.grad(mlp_loss, wrt="Ws")
dmlp_bn = gradc.grad(mlp_bn_loss, wrt="Ws")
drnn = gradc.grad(rnn_loss, wrt="nudges")


# --- the measurements: plain NumPy --------------------------------------------------------

SETTINGS = {  # name: (activation, weight std times sqrt(fan_in), batch normalisation)
    "sigmoid": ("sigmoid", 1.0, False),
    "tanh": ("tanh", 1.0, False),
    "ReLU, 1/fan_in init": ("relu", 1.0, False),
    "ReLU + He": ("relu", math.sqrt(2.0), False),
    "sigmoid + batch norm": ("sigmoid", 1.0, True),
}


def layer_norms(setting: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                depth: int = 20, width: int = 64) -> np.ndarray:
    """The norm of dL/dW for each of the `depth` layers' weights W, at a fresh initialisation."""
    kind, gain, normalised = SETTINGS[setting]
    sizes = [x.shape[1]] + [width] * (depth - 1) + [y.shape[1]]
    Ws = [rng.standard_normal((m, n)) * gain / math.sqrt(m) for m, n in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(n) for n in sizes[1:]]
    if normalised:
        grads = dmlp_bn(Ws, [np.ones(width)] * (depth - 1), [np.zeros(width)] * (depth - 1), bs, x, y, kind)
    else:
        grads = dmlp(Ws, bs, x, y, kind)
    return np.array([np.linalg.norm(g) for g in grads])


def time_norms(gain: float, xs: np.ndarray, y: np.ndarray, rng: np.random.Generator, hidden: int) -> np.ndarray:
    """The norm of dL/dh_t for t = 1..T, the recurrent weights orthogonal times `gain`."""
    params = char_rnn.init(rng, xs.shape[2], hidden)
    params["Whh"] = np.linalg.qr(rng.standard_normal((hidden, hidden)))[0] * gain
    h = np.zeros((xs.shape[1], hidden))
    grads = drnn(params, h, xs, np.zeros((xs.shape[0], xs.shape[1], hidden)), y)
    return np.linalg.norm(grads, axis=(1, 2))


def geometric_mean(rows: list[np.ndarray]) -> np.ndarray:
    return np.exp(np.mean(np.log(np.array(rows)), axis=0))


def main(argv: list[str] | None = None) -> dict:
    with one_blas_thread():
        return _main(argv)


def _main(argv: list[str] | None) -> dict:
    args = arguments(__doc__.splitlines()[0], argv)
    rng = np.random.default_rng(args.seed)
    trials = 1 if args.quick else 10                  # fresh initialisations averaged per setting
    x, labels = digits(args.seed)[:2]
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-8)  # standardised pixels
    batch = 128 if args.quick else 512
    x, y = x[:batch], np.eye(10)[labels[:batch]]

    print(f"20-layer MLP, 64 units wide, on {batch} digits; {trials} initialisation(s) per setting")
    layers, ratios = {}, {}
    for setting in SETTINGS:
        layers[setting] = geometric_mean([layer_norms(setting, x, y, rng) for _ in range(trials)])
        ratios[setting] = layers[setting][0] / layers[setting][-1]
        print(f"  {setting:21s} |dL/dW1| / |dL/dW20| = {ratios[setting]:.3g}   "
              f"(|dL/dW1| {layers[setting][0]:.3g}, |dL/dW20| {layers[setting][-1]:.3g})")

    text = char_rnn.corpus()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    steps, streams, hidden = (30, 16, 64) if args.quick else (60, 64, 128)
    starts = rng.integers(0, len(text) - steps - 1, streams)
    codes = np.array([[index[text[s + t]] for s in starts] for t in range(steps + 1)])
    eye = np.eye(len(chars))
    xs, y = eye[codes[:-1]], eye[codes[-1]]
    print(f"tanh RNN, {hidden} units, on {streams} chunks of {steps} characters; the loss predicts the last one")
    through_time, rnn_ratios = {}, {}
    for gain in (0.5, 1.0, 2.0):
        through_time[gain] = geometric_mean([time_norms(gain, xs, y, rng, hidden) for _ in range(trials)])
        rnn_ratios[gain] = through_time[gain][0] / through_time[gain][-1]
        print(f"  recurrent gain {gain:<4} |dL/dh_1| / |dL/dh_{steps}| = {rnn_ratios[gain]:.3g}")

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=90)
    for setting, norms in layers.items():
        left.semilogy(np.arange(1, len(norms) + 1), norms, "o-", ms=3, label=setting)
    left.set_xlabel("layer (1 = next to the input)")
    left.set_ylabel("|dL/dW| at initialisation")
    left.set_title("20-layer MLP on digits")
    left.set_xticks(range(1, 21, 2))
    left.legend(fontsize=8)
    for gain, norms in through_time.items():
        right.semilogy(np.arange(1, len(norms) + 1), norms, "-", label=f"tanh RNN, |eig(Whh)| = {gain}")
    right.set_xlabel("time step t (the loss reads the last)")
    right.set_ylabel("|dL/dh_t|")
    right.set_title(f"through time: {hidden}-unit RNN, {steps} steps")
    right.legend(fontsize=8)
    fig.tight_layout()
    path = figure_path(args.out, "vanishing.png")
    fig.savefig(path)
    plt.close(fig)
    print(f"plot: {path}")
    return {"layers": layers, "ratios": ratios, "through_time": through_time, "rnn_ratios": rnn_ratios,
            "figure": path}


if __name__ == "__main__":
    main()
