"""`np.r_[...]` and `np.c_[...]`: lowered to calls of gradc's `r_of` and `c_of`, which run NumPy's own
index tricks (the same values and dtypes), with rules that hand each item its part of the adjoint."""
import numpy as np
import pytest

import gradc
from gradcheck import assert_gradients

rng = np.random.default_rng(2026)
V = rng.standard_normal(3)
W = rng.standard_normal(4)
A = rng.standard_normal((2, 3))
B = rng.standard_normal((2, 2))


def r_vectors_and_numbers(x, y):
    joined = np.r_[x, 2.0 * y[0], np.sin(y), 0:2]
    return np.sum(np.tanh(joined) * np.arange(1.0, 1.0 + joined.size))


def r_matrices(a, b):
    return np.sum(np.sin(np.r_[a, a * b[0, 0]]) * np.arange(12.0).reshape(4, 3))


def c_vectors(x, y):
    return np.sum(np.cos(np.c_[x, x * y[:3]]) * np.arange(6.0).reshape(3, 2))


def c_matrices_and_a_vector(a, b):
    cols = np.c_[a, b, a[:, 0]]
    return np.sum(cols ** 3 * np.arange(cols.size).reshape(cols.shape))


@pytest.mark.filterwarnings("ignore:(r_|c_) is slow:UserWarning")  # (autograd's, as the oracle)
@pytest.mark.parametrize("f, args", [
    (r_vectors_and_numbers, [V, W]), (r_matrices, [A, B]), (c_vectors, [V, W]), (c_matrices_and_a_vector, [A, B]),
], ids=lambda p: getattr(p, "__name__", ""))
def test_index_tricks(f, args):
    assert_gradients(f, args, wrt=(0, 1))
    value, _ = gradc.value_and_grad(f, wrt=(0, 1))(*args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    t = rng.standard_normal(np.shape(args[0]))
    _, tangent = gradc.jvp(f)(*args, t)
    np.testing.assert_allclose(tangent, np.sum(gradc.grad(f)(*args) * t), rtol=1e-9)


def r_of_one_matrix(x):
    return np.sum(np.r_[x] * np.arange(6.0).reshape(3, 2))


def c_of_one_vector(x):
    return np.sum(np.c_[x] * np.arange(3.0).reshape(3, 1))


@pytest.mark.parametrize("f, x", [(r_of_one_matrix, np.ones((3, 2))), (c_of_one_vector, np.ones(3))],
                         ids=lambda p: getattr(p, "__name__", ""))
def test_one_item(f, x):
    assert_gradients(f, [x], use_autograd=False)


def r_float32(x):
    return np.sum(np.r_[1.5, x] ** 2)


def test_dtype_is_numpys():
    x = np.ones(3, np.float32)
    g = gradc.grad(r_float32)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2 * x)


def r_with_directive(x):
    return np.sum(np.r_["0,2", x, x])


def test_directives_are_refused():
    with pytest.raises(gradc.UnsupportedSyntaxError, match="directive") as info:
        gradc.grad(r_with_directive)(V)
    assert info.value.loc.line == r_with_directive.__code__.co_firstlineno + 1


# -- the helpers' own rules (second-order code calls `join_back`; third-order its rule) -------------

from gradc import runtime as R  # noqa: E402


def h_joined_parts(g, w):
    first, second = R.joined_parts(g, ((2,), ()), 0)
    return np.sum(np.sin(first) * w[:2]) + np.cos(second) * w[2]


def h_join_back(a, b, w):
    return np.sum(np.sin(R.join_back((a, b), ((3,), (3, 2)), -1)) * w)


def h_join_back_one(a, w):
    return np.sum(np.sin(R.join_back(a, ((3, 2),), 0)) * w)


@pytest.mark.parametrize("fn, args, wrt", [
    (h_joined_parts, [rng.standard_normal(3), rng.uniform(0.5, 1.5, 3)], 0),
    (h_join_back, [rng.standard_normal(3), rng.standard_normal((3, 2)), rng.uniform(0.5, 1.5, (3, 3))], (0, 1)),
    (h_join_back_one, [rng.standard_normal((3, 2)), rng.uniform(0.5, 1.5, (3, 2))], 0),
], ids=["joined_parts", "join_back", "join_back_one"])
def test_rules_of_the_helpers(fn, args, wrt):
    assert_gradients(fn, args, wrt=wrt, use_autograd=False)
