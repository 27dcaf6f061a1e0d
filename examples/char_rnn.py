"""Backpropagation through time: a character-level tanh RNN that learns to write like gradc's
own documentation (docs/*.md and README.md, about 120,000 characters).

Truncated BPTT: each stream of text is cut into chunks of `--length` characters; the hidden state
is carried from one chunk to the next, but the gradient stops at the chunk's start (the loss
takes the incoming state as a plain argument). A minibatch is `--batch` streams side by side,
so every time step is a matrix product over the batch. The loss is the mean cross-entropy in
nats; it is printed in bits per character, against the uniform baseline log2(vocabulary).
gradc writes the backward pass, a reversed loop (`while tape:`); the optimizer (Adam with
gradient-norm clipping) and the sampling are the plain NumPy below.

    python3 examples/char_rnn.py [--quick] [--out DIR]       # the loss curve goes to DIR/char_rnn.png
    gradc examples/char_rnn.py:loss --wrt params              # the generated backward pass
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: one BLAS thread is fastest
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gradc  # noqa: E402
from _support import arguments, figure_path, one_blas_thread, progress, pyplot, require  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LOG2 = math.log(2.0)


# --- the model: what gradc differentiates -------------------------------------------------

def cell(params, h, x):
    """One step of the tanh RNN: the new hidden state (B, H) from the old one and the input
    projection x (B, H) of this step's characters."""
    return np.tanh(x + h @ params["Whh"])


def loss(params, h, xs, ys):
    """Mean cross-entropy (nats per character) of predicting ys from xs.

    xs, ys: one-hot characters (T, B, V), ys being xs shifted by one; h: the hidden state (B, H)
    carried in from the previous chunk (a plain argument, so the gradient is cut there)."""
    # all T steps' input projections at once, then the recurrence, which gradc reverses into a
    # `while tape:` loop, then all T steps' predictions (T, B, V) at once
    inputs = xs @ params["Wxh"] + params["bh"]
    hs = []
    for x in inputs:
        h = cell(params, h, x)
        hs.append(h)
    logits = np.stack(hs) @ params["Why"] + params["by"]
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    return -np.sum(ys * log_probs) / (xs.shape[0] * xs.shape[1])


dloss = gradc.value_and_grad(loss, wrt="params")


def final_state(params, h, xs):
    """The hidden state after the chunk xs: carried into the next chunk (no gradient needed)."""
    for x in xs @ params["Wxh"] + params["bh"]:
        h = cell(params, h, x)
    return h


# --- data --------------------------------------------------------------------------------

def corpus() -> str:
    """The text that ships with gradc: docs/*.md then README.md."""
    paths = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
    return "".join(path.read_text(encoding="utf-8") for path in paths)


def streams(codes: np.ndarray, batch: int) -> np.ndarray:
    """`codes` cut into `batch` contiguous streams, side by side: (length, batch)."""
    length = len(codes) // batch
    return codes[: length * batch].reshape(batch, length).T


def init(rng: np.random.Generator, vocab: int, hidden: int) -> dict:
    return {"Wxh": rng.standard_normal((vocab, hidden)) * 0.1,
            "Whh": np.linalg.qr(rng.standard_normal((hidden, hidden)))[0] * 0.9,  # orthogonal, gain 0.9
            "bh": np.zeros(hidden),
            "Why": rng.standard_normal((hidden, vocab)) / math.sqrt(hidden),
            "by": np.zeros(vocab)}


# --- training: plain NumPy ------------------------------------------------------------------

def clip(grads: dict, max_norm: float) -> tuple[dict, float]:
    """Scale all gradients together so that their global norm is at most `max_norm`."""
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    scale = min(1.0, max_norm / (norm + 1e-12))
    return {k: g * scale for k, g in grads.items()}, norm


class Adam:
    def __init__(self, params: dict, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.lr, self.beta1, self.beta2, self.eps, self.t = lr, beta1, beta2, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict, grads: dict) -> None:
        self.t += 1
        correction = math.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t)
        for k, g in grads.items():
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * g
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * g * g
            params[k] -= self.lr * correction * self.m[k] / (np.sqrt(self.v[k]) + self.eps)


def sample(params: dict, chars: list[str], prompt: str, n: int, rng: np.random.Generator,
           temperature: float = 0.7) -> str:
    """`n` characters drawn from the model after reading `prompt`."""
    index = {c: i for i, c in enumerate(chars)}
    eye = np.eye(len(chars))
    h = final_state(params, np.zeros((1, params["Whh"].shape[0])), eye[[index[c] for c in prompt]][:, None, :])
    out, code = [], index[prompt[-1]]
    for _ in range(n):
        logits = (h @ params["Why"] + params["by"])[0] / temperature
        p = np.exp(logits - logits.max())
        code = rng.choice(len(chars), p=p / p.sum())
        out.append(chars[code])
        h = cell(params, h, eye[[code]] @ params["Wxh"] + params["bh"])
    return prompt + "".join(out)


def evaluate(params: dict, data: np.ndarray, eye: np.ndarray, length: int) -> float:
    """Bits per character on `data` (length, batch), hidden state carried across chunks."""
    h = np.zeros((data.shape[1], params["Whh"].shape[0]))
    total, count = 0.0, 0
    for start in range(0, data.shape[0] - 1 - length + 1, length):
        xs, ys = eye[data[start:start + length]], eye[data[start + 1:start + length + 1]]
        total += loss(params, h, xs, ys) * xs.shape[0]
        count += xs.shape[0]
        h = final_state(params, h, xs)
    return total / count / LOG2




def main(argv: list[str] | None = None) -> dict:
    with one_blas_thread():
        return _main(argv)


def _main(argv: list[str] | None) -> dict:
    args = arguments(__doc__.splitlines()[0], argv,
                     steps=(int, None, "training steps (default 3000, 80 with --quick)"),
                     hidden=(int, None, "hidden units (default 256, 64 with --quick)"),
                     batch=(int, 32, "streams per minibatch"),
                     length=(int, None, "characters per BPTT chunk (default 32, 24 with --quick)"),
                     lr=(float, None, "Adam's learning rate (default 3e-3, 1e-2 with --quick)"),
                     clip=(float, 1.0, "largest global gradient norm"))
    steps = args.steps or (80 if args.quick else 3000)
    hidden = args.hidden or (64 if args.quick else 256)
    length = args.length or (24 if args.quick else 32)
    lr = args.lr or (1e-2 if args.quick else 3e-3)
    report_every = 20 if args.quick else 250
    rng = np.random.default_rng(args.seed)

    text = corpus()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    codes = np.array([index[c] for c in text])
    split = int(len(codes) * 0.95)                   # the last 5% is held out
    train, held_out = streams(codes[:split], args.batch), streams(codes[split:], 4)
    eye = np.eye(len(chars))
    baseline = math.log2(len(chars))
    counts = np.bincount(codes[:split], minlength=len(chars)) / split
    unigram = float(-np.sum(counts[counts > 0] * np.log2(counts[counts > 0])))
    print(f"{len(text):,} characters, vocabulary {len(chars)}: uniform baseline {baseline:.2f} bits/char, "
          f"unigram entropy {unigram:.2f}; {args.batch} streams of {train.shape[0]:,}, chunks of {length}, "
          f"{hidden} hidden units")

    params = init(rng, len(chars), hidden)
    optimizer = Adam(params, lr)
    h = np.zeros((args.batch, hidden))
    start, position, curve, held_curve, clipped, grad_time = time.perf_counter(), 0, [], [], 0, 0.0
    samples = []
    bar = progress(range(steps), desc="char_rnn", unit="step", disable=args.quick, mininterval=1.0)
    for step in bar:
        if position + length + 1 > train.shape[0]:   # a new epoch: back to the streams' starts
            position, h = 0, np.zeros_like(h)
        xs, ys = eye[train[position:position + length]], eye[train[position + 1:position + length + 1]]
        tick = time.perf_counter()
        value, grads = dloss(params, h, xs, ys)
        grad_time += time.perf_counter() - tick
        grads, norm = clip(grads, args.clip)
        clipped += norm > args.clip
        h = final_state(params, h, xs)               # carried on; its gradient was cut
        optimizer.step(params, grads)
        position += length
        curve.append(value / LOG2)
        if step % report_every == 0 or step == steps - 1:
            held = evaluate(params, held_out, eye, length)
            held_curve.append((step, held))
            recent = float(np.mean(curve[-report_every:]))
            text_sample = sample(params, chars, "The ", 60 if args.quick else 200, rng)
            samples.append((step, text_sample))
            message = (f"step {step:5d}  train {recent:.3f} bits/char  held-out {held:.3f}  "
                       f"(baseline {baseline:.2f})  |grad| {norm:.2f}")
            (bar.write if not args.quick else print)(message + "\n    " + text_sample.replace("\n", "\n    "))
    total = time.perf_counter() - start

    first = float(np.mean(curve[:5]))
    last = float(np.mean(curve[-max(5, steps // 20):]))
    per_step = total / steps
    print(f"bits/char: first steps {first:.3f}, last steps {last:.3f}, held-out {held_curve[-1][1]:.3f}; "
          f"uniform baseline {baseline:.3f} ({baseline - last:.2f} bits below it), unigram {unigram:.3f}")
    print(f"{steps} steps of {args.batch}x{length} characters in {total:.1f} s: {1e3 * per_step:.1f} ms a step "
          f"({1e3 * grad_time / steps:.1f} ms in gradc's value_and_grad); "
          f"gradient clipped on {clipped} of {steps} steps")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    window = max(1, steps // 50)
    smooth = np.convolve(curve, np.ones(window) / window, mode="valid")
    ax.plot(np.arange(len(curve)), curve, color="0.8", lw=0.6, label="training chunk")
    ax.plot(np.arange(len(smooth)) + window - 1, smooth, color="C0", label=f"training (mean of {window})")
    ax.plot(*zip(*held_curve), "o-", color="C1", ms=3, label="held-out 5%")
    ax.axhline(baseline, color="k", ls="--", lw=1, label=f"uniform, log2({len(chars)}) = {baseline:.2f}")
    ax.axhline(unigram, color="k", ls=":", lw=1, label=f"unigram entropy {unigram:.2f}")
    ax.set_xlabel("step (truncated BPTT chunk)")
    ax.set_ylabel("bits per character")
    ax.set_title(f"char-RNN on gradc's docs: tanh, {hidden} units, BPTT {length}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = figure_path(args.out, "char_rnn.png")
    fig.savefig(path)
    plt.close(fig)
    print(f"loss curve: {path}")
    return {"baseline": baseline, "unigram": unigram, "curve": curve, "held_out": held_curve,
            "first": first, "last": last, "seconds_per_step": per_step, "seconds": total,
            "samples": samples, "figure": path, "vocabulary": len(chars)}


if __name__ == "__main__":
    main()
