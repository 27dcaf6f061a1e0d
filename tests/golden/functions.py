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


def small_loop(x, n):
    s = x * 0.5
    for i in range(n):
        s = s * np.sin(x) + i
    return s


def small_branch(x, y):
    if x > y:
        z = x * y
    else:
        z = np.cos(x) - y
    return z * z
