"""Recursive functions of run-time depth: a call of a function to itself (or through another
function back to itself) is differentiated by the function's own vjp, compiled by gradc."""
import numpy as np
import pytest

import gradc
from gradcheck import assert_gradients

rng = np.random.default_rng(7)


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def tree(x, depth):
    if depth == 0:
        return np.sin(x)
    left = tree(x * 0.5, depth - 1)
    right = tree(x + 1.0, depth - 1)
    return left * right + x


def series(v, k):
    if k <= 0:
        return np.sum(v * v)
    return series(np.tanh(v), k - 1) + np.sum(v)


def uses_series(x, w):
    return series(x * w, 3) * 2.0


def is_even_sum(x, n):
    if n == 0:
        return np.sum(x)
    return is_odd_sum(np.cos(x), n - 1)


def is_odd_sum(x, n):
    if n == 0:
        return np.sum(x * x)
    return is_even_sum(np.sin(x) * x, n - 1)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_power_recursion(n):
    assert gradc.grad(power)(1.3, n) == pytest.approx(n * 1.3 ** (n - 1) if n else 0.0, rel=1e-12)
    assert_gradients(power, [1.3, n], wrt=0)


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_tree_recursion_with_two_calls(depth):
    assert_gradients(tree, [0.7, depth], wrt=0)


def test_recursive_helper_on_arrays():
    assert_gradients(uses_series, [rng.standard_normal(4), rng.standard_normal(4)], wrt=(0, 1))


@pytest.mark.parametrize("n", [0, 1, 4])
def test_mutual_recursion(n):
    assert_gradients(is_even_sum, [rng.standard_normal(3), n], wrt=0)


def test_the_generated_code_calls_the_functions_own_vjp():
    source = gradc.grad(power).source
    assert "power_vjp(" in source and "power(x, " in source
