"""A two-layer MLP with a softmax cross-entropy loss, trained with gradc's gradient.

    python examples/mlp.py            # trains a few steps on synthetic data
    gradc examples/mlp.py:loss --wrt W1 --wrt b1 --wrt W2 --wrt b2
"""
import numpy as np

import gradc


def loss(W1, b1, W2, b2, x, y):
    """Mean softmax cross-entropy of a tanh MLP; `y` holds one-hot labels."""
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(y * log_probs, axis=1))


dloss = gradc.grad(loss, wrt=(0, 1, 2, 3))


def init(rng, n_in=784, n_hidden=256, n_out=10):
    W1 = rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)
    W2 = rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden)
    return W1, np.zeros(n_hidden), W2, np.zeros(n_out)


def train(steps=20, batch=128, lr=0.5, seed=0):
    rng = np.random.default_rng(seed)
    params = list(init(rng, n_in=20, n_hidden=32, n_out=3))
    centers = rng.standard_normal((3, 20)) * 2.0
    for step in range(steps):
        labels = rng.integers(0, 3, batch)
        x = centers[labels] + rng.standard_normal((batch, 20))
        y = np.eye(3)[labels]
        grads = dloss(*params, x, y)
        params = [p - lr * g for p, g in zip(params, grads)]
        if step % 5 == 0 or step == steps - 1:
            print(f"step {step:3d}  loss {loss(*params, x, y):.4f}")
    return params


if __name__ == "__main__":
    train()
