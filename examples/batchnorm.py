"""Batch normalisation as a layer of the digits MLP (64-128-10, ReLU): in training mode each
mini-batch is normalised by its own mean and variance, and gradc differentiates through those
batch statistics; running averages of them normalise at evaluation; gamma and beta are learned.
Compared with the plain MLP of examples/digits.py, trained by the same optimizer (mini-batch SGD
with momentum) at a moderate and at a large learning rate.

    python examples/batchnorm.py             # about 5 s; batchnorm.png in examples/out/
    python examples/batchnorm.py --quick     # a few seconds
    gradc examples/batchnorm.py:loss --wrt params

It prints the generated backward pass of the batch-normalisation lines, then the test accuracy
of each model; the last line is the batch-normalised model's at the moderate learning rate.
"""
from __future__ import annotations

import inspect
import re
import time

import numpy as np

import gradc
from _support import figure_path, progress, pyplot

import digits as plain  # the plain MLP: its loss, init and predict, its optimizer and data scaling

EPS = 1e-5  # added to the variance before its square root


def loss(params, x, y, decay):
    """Mean softmax cross-entropy of the MLP with batch normalisation in training mode, plus
    `decay`/2 times the squared weights; `y` holds one-hot labels."""
    # no bias in the first layer: beta takes its place
    z = x @ params["W1"]
    # batch normalisation: the batch's own statistics, which the gradient flows through
    mean = np.mean(z, axis=0)
    var = np.mean((z - mean) ** 2, axis=0)
    z_hat = (z - mean) / np.sqrt(var + EPS)
    h = np.maximum(params["gamma"] * z_hat + params["beta"], 0.0)
    logits = h @ params["W2"] + params["b2"]
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    penalty = np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)
    return -np.mean(np.sum(y * log_probs, axis=1)) + 0.5 * decay * penalty


dloss = gradc.grad(loss)  # a dict of gradients, shaped like `params`
BN_LINES = ("mean = ", "var = ", "z_hat = ", "h = ")  # how the batch-normalisation lines begin
LEARNING_RATES = (0.1, 0.5)  # moderate (both models train) and large (the plain MLP diverges)


def init(rng, n_in=64, n_hidden=128, n_out=10):
    """The plain MLP's weights (the same draws), its first bias replaced by gamma = 1, beta = 0."""
    params = plain.init(rng, n_in, n_hidden, n_out)
    del params["b1"]
    return {"W1": params["W1"], "gamma": np.ones(n_hidden), "beta": np.zeros(n_hidden),
            "W2": params["W2"], "b2": params["b2"]}


def batch_statistics(params, x):
    """The mean and variance over the batch that `loss` normalises by (for the running averages)."""
    z = x @ params["W1"]
    return np.mean(z, axis=0), np.var(z, axis=0)


def predict(params, running, x):
    """Evaluation mode: normalised by the running averages, not by the batch's statistics."""
    z_hat = (x @ params["W1"] - running["mean"]) / np.sqrt(running["var"] + EPS)
    h = np.maximum(params["gamma"] * z_hat + params["beta"], 0.0)
    return np.argmax(h @ params["W2"] + params["b2"], axis=1)


def train(model, lr, epochs, data, decay, seed, batch=32, keep=0.9):
    """Mini-batch SGD with momentum 0.9 on the plain or the batch-normalised MLP ("plain"/"BN").
    Returns the training loss (with batch statistics for BN) before training and after each
    epoch, the validation accuracy after each epoch, the test accuracy and the seconds taken."""
    x, y, x_val, labels_val, x_test, labels_test = data
    normalised = model == "BN"
    params = (init if normalised else plain.init)(np.random.default_rng(seed))
    value, gradient = (loss, dloss) if normalised else (plain.loss, plain.dloss)
    # running averages of the batch statistics, for evaluation (variance unbiased, as in PyTorch)
    running = {"mean": np.zeros(len(params["W2"])), "var": np.ones(len(params["W2"]))}
    optimizer = plain.Momentum(lr=lr, momentum=0.9)
    rng = np.random.default_rng(seed + 1)

    def accuracy(inputs, labels):
        guesses = predict(params, running, inputs) if normalised else plain.predict(params, inputs)
        return float(np.mean(guesses == labels))

    losses, accuracies = [float(value(params, x, y, decay))], []
    start = time.perf_counter()
    bar = progress(range(epochs), desc=f"{model:>5} lr {lr:g}", leave=False)
    for epoch in bar:
        order = rng.permutation(len(x))
        for first in range(0, len(x) - batch + 1, batch):  # whole batches only: BN wants several rows
            rows = order[first:first + batch]
            if normalised:
                mean, var = batch_statistics(params, x[rows])
                running["mean"] = keep * running["mean"] + (1 - keep) * mean
                running["var"] = keep * running["var"] + (1 - keep) * var * batch / (batch - 1)
            optimizer.step(params, gradient(params, x[rows], y[rows], decay))
        losses.append(float(value(params, x, y, decay)))
        accuracies.append(accuracy(x_val, labels_val))
        bar.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.4f}", val_acc=f"{accuracies[-1]:.3f}",
                        refresh=False)
    seconds = time.perf_counter() - start
    return {"losses": losses, "accuracies": accuracies, "test": accuracy(x_test, labels_test),
            "seconds": seconds}


def batchnorm_backward(params, x, y, decay):
    """The part of gradc's generated backward pass that comes from the batch-normalisation lines."""
    source_lines, first = inspect.getsourcelines(loss)
    wanted = {first + k for k, text in enumerate(source_lines) if text.strip().startswith(BN_LINES)}
    backward = dloss.source_for(params, x, y, decay).split("# backward\n", 1)[1]
    shown, keep = [], False
    for text in backward.splitlines():
        heading = re.match(r"\s*# line (\d+):", text)
        if heading:
            keep = int(heading.group(1)) in wanted
        elif text.strip().startswith("return") or text.strip().startswith("dparams = "):
            keep = False
        if keep:
            shown.append(text[4:])
    return "\n".join(shown)


def plot(runs, path):
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    colours = {"plain": "tab:blue", "BN": "tab:red"}
    styles = {}
    for (model, lr), run in runs.items():
        style = styles.setdefault(lr, ["-", "--", ":"][len(styles)])
        label = f"{model}, lr {lr:g} (test {run['test']:.3f})"
        left.plot(np.arange(len(run["losses"])), run["losses"], style, color=colours[model], label=label)
        right.plot(np.arange(1, len(run["accuracies"]) + 1), run["accuracies"], style,
                   color=colours[model], label=label)
    left.set(yscale="log", ylim=(0.02, 20), xlabel="epoch", ylabel="training loss (with weight decay)",
             title="loss (off the top: diverged)")
    right.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0.8, 1.0), title="validation accuracy")
    for axes in (left, right):
        axes.grid(True, alpha=0.3)
    right.legend(loc="lower right", fontsize=8)
    fig.suptitle("digits, 64-128-10 ReLU MLP, mini-batch SGD + momentum: plain vs batch-normalised")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None):
    return plain.main_of(__doc__, run, argv)


def run(args):
    data = plain.prepared(args)  # (the same data as examples/digits.py)
    x_train, y_train = data[:2]

    print("gradc's backward pass of the batch-normalisation lines (batch of 32):")
    params = init(np.random.default_rng(args.seed))
    print(batchnorm_backward(params, x_train[:32], y_train[:32], args.decay))
    print()

    epochs = 6 if args.quick else 30
    runs = {}
    for lr in LEARNING_RATES:
        for model in ("plain", "BN"):
            result = runs[model, lr] = train(model, lr, epochs, data, args.decay, args.seed)
            print(f"{model:>5}, lr {lr:4g}: loss {result['losses'][0]:.3g} -> {result['losses'][-1]:.3g}, "
                  f"validation {result['accuracies'][-1]:.3f}, test {result['test']:.3f}, "
                  f"{result['seconds']:.1f} s")
    path = figure_path(args.out, "batchnorm.png")
    plot(runs, path)
    print(f"curves: {path}")
    for lr in LEARNING_RATES:
        print(f"lr {lr:g}: plain test accuracy {runs['plain', lr]['test']:.3f}, "
              f"batch-normalised {runs['BN', lr]['test']:.3f}")
    print(f"test accuracy: {runs['BN', LEARNING_RATES[0]]['test']:.3f}")
    return runs


if __name__ == "__main__":
    main()
