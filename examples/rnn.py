"""A vanilla (tanh) RNN over a sequence, with a squared-error loss on every output,
trained for a few steps of gradient descent with gradc's gradient: backpropagation
through time, generated as a reversed loop.

    python examples/rnn.py
    gradc examples/rnn.py:loss --wrt Wxh --wrt Whh --wrt Why
"""
import numpy as np

import gradc


def loss(Wxh, Whh, Why, bh, by, h, xs, ys):
    """Mean over time of the squared error of the outputs; xs (T, B, I), ys (T, B, O), h (B, H)."""
    total = 0.0
    for x, y in zip(xs, ys):
        h = np.tanh(x @ Wxh + h @ Whh + bh)
        out = h @ Why + by
        total = total + np.mean((out - y) ** 2)
    return total / len(xs)


dloss = gradc.grad(loss, wrt=(0, 1, 2, 3, 4))


def init(rng, n_in, n_hidden, n_out):
    Wxh = rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)
    Whh = rng.standard_normal((n_hidden, n_hidden)) / np.sqrt(n_hidden) * 0.5
    Why = rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden)
    return [Wxh, Whh, Why, np.zeros(n_hidden), np.zeros(n_out)]


def sine_task(rng, steps, batch):
    """Predict the next value of noisy sine waves with random phases."""
    phase = rng.uniform(0, 2 * np.pi, batch)
    t = np.arange(steps + 1)[:, None] * 0.3 + phase
    wave = np.sin(t)[..., None] + 0.05 * rng.standard_normal((steps + 1, batch, 1))
    return wave[:-1], wave[1:]


def train(steps=30, lr=0.2, seed=0, n_hidden=16, length=20, batch=8):
    rng = np.random.default_rng(seed)
    params = init(rng, 1, n_hidden, 1)
    xs, ys = sine_task(rng, length, batch)
    h0 = np.zeros((batch, n_hidden))
    for step in range(steps):
        grads = dloss(*params, h0, xs, ys)
        params = [p - lr * g for p, g in zip(params, grads)]
        if step % 10 == 0 or step == steps - 1:
            print(f"step {step:3d}  loss {loss(*params, h0, xs, ys):.4f}")
    return params


if __name__ == "__main__":
    train()
