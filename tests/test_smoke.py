import numpy as np

from gradcheck import assert_gradients

rng = np.random.default_rng(0)


def mlp_loss(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def test_mlp_squared_error():
    args = [rng.standard_normal(s) for s in [(3, 4), (4,), (4, 2), (2,), (5, 3), (5, 2)]]
    assert_gradients(mlp_loss, args, wrt=(0, 1, 2, 3))


def scalar_chain(x, y):
    z = x * y + np.sin(x)
    z = z ** 2 / (1.0 + y * y)
    return np.exp(-z) + 3.0 * x


def test_scalar_chain_floats():
    assert_gradients(scalar_chain, [0.7, -0.3], wrt=(0, 1))
