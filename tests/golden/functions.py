"""Small functions whose generated gradients are golden files (readability regressions show)."""
import numpy as np


def loss(W, b, x, y):
    z = x @ W + b
    h = np.tanh(z)
    return np.mean((h - y) ** 2)


def scalar(x, y):
    a = x * y
    b = np.sin(a) + x
    return b * b
