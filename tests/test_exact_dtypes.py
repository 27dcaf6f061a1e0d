"""Exact dtypes: every intermediate of a gradient has the dtype NumPy's own promotion gives the
primal's operands (no helper picks one of its own), and where nothing is summed in another order
the optimized gradient equals `optimize=False` bit for bit.

Each function below reaches a runtime helper that makes an array of its own (`scatter_add`'s
zeros, `tie_step`'s weights, `unrepeat`'s sums, `diag_adjoint`'s matrix, a loop's accumulator,
an index write's adjoint); each is run in float64, float32 and float16.
"""
import numpy as np
import pytest

import gradc


def element_and_sum(w):  # issue 11, case 2: a float64 program rounded to float32
    t = np.sin(w)
    s = w[0]
    return s + np.sum(t)


def slices(w):
    return np.sum(w[1:] * w[:-1]) + w[-1] * 2.5


def fancy_index(w):
    return np.sum(np.tanh(w[[0, 2, 2]]))


def maximum_ties(w):
    return np.sum(np.maximum(w, w[::-1]) * w) + np.max(w)


def where_and_clip(w):
    return np.sum(np.where(w > 0.1, w * w, -w) + np.clip(w, -0.5, 0.5))


def repeats(w):
    return np.sum(np.sin(np.repeat(w, [2, 0, 1, 3])))


def diagonal(w):
    return np.sum(np.diag(np.outer(w, w)) * w)


def written(w):
    y = w * 1.0
    y[1] = w[0] * w[2]
    y[2:] *= 0.5
    return np.sum(y * y)


def loop_over_rows(w):
    total = w[0] * 0.0
    for item in w:
        total = total + np.sin(item) * item
    return total


def mean_and_broadcast(w):
    return np.mean(np.outer(w, w) * w) + np.mean(w)


PROGRAMS = [element_and_sum, slices, fancy_index, maximum_ties, where_and_clip, repeats, diagonal, written,
            loop_over_rows, mean_and_broadcast]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("f", PROGRAMS)
def test_gradients_keep_the_dtype_and_optimizing_changes_no_bit(f, dtype):
    w = np.array([0.3, -0.8, 0.45, 1.2], dtype=dtype)
    value, grad = gradc.value_and_grad(f)(w)
    plain_value, plain_grad = gradc.value_and_grad(f, optimize=False)(w)
    assert grad.dtype == dtype and plain_grad.dtype == dtype
    assert np.asarray(value).dtype == np.asarray(f(w.copy())).dtype
    np.testing.assert_array_equal(grad, plain_grad)
    np.testing.assert_array_equal(value, plain_value)
    np.testing.assert_array_equal(value, f(w.copy()))


def test_a_python_float_adjoint_of_an_element_stays_float64():
    """`s = w[0]` gets the Python float 1.0 as its adjoint: its zeros are float64 for a float64 w."""
    from gradc import runtime
    assert runtime.scatter_add(1.0, np.zeros(3), 0).dtype == np.float64
    assert runtime.scatter_add(1.0, np.zeros(3, dtype=np.float32), 0).dtype == np.float32
    assert runtime.scatter_add(np.float16(1.0), np.zeros(3, dtype=np.float16), 0).dtype == np.float16
    assert gradc.grad(element_and_sum)(np.array([0.3, 0.4, 0.5])).dtype == np.float64


def _floating_locals_of_the_gradient(call):
    """The dtypes of every floating array the generated gradient's frame held while `call()` ran."""
    import sys
    seen = set()

    def trace(frame, event, arg):
        if not frame.f_code.co_filename.startswith("<gradc"):
            return None
        for value in frame.f_locals.values():
            if isinstance(value, (np.ndarray, np.generic)) and np.issubdtype(value.dtype, np.inexact):
                seen.add(value.dtype)
        return trace

    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(None)
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("f", PROGRAMS)
def test_every_intermediate_has_the_primal_dtype(f, dtype):
    """Operands of one dtype and Python numbers (weak, as NumPy promotes them): every array the
    gradient computes is of that dtype, none of a dtype a helper picked."""
    w = np.array([0.3, -0.8, 0.45, 1.2], dtype=dtype)
    for optimize in (True, False):
        gradient = gradc.grad(f, optimize=optimize)
        gradient(w)  # (compiled before tracing)
        assert _floating_locals_of_the_gradient(lambda: gradient(w)) == {np.dtype(dtype)}, optimize


def f16_mean(x):
    return np.mean(x)


def f16_var(x):
    return np.var(x)


def f16_mean_of_rows(x):
    return np.mean(np.sum(x, axis=1))


@pytest.mark.parametrize("f", [f16_mean, f16_var, f16_mean_of_rows], ids=lambda f: f.__name__)
def test_float16_reductions_over_more_elements_than_float16_can_count(f):
    # (70000 is inf in float16: a rule dividing by the count gave a gradient of zeros; it multiplies
    # by the reciprocal, which float16 holds as a subnormal)
    x = np.ones((70000, 1), np.float16)
    x[::2] = 2.0
    with np.errstate(over="ignore"):
        g = gradc.grad(f)(x)
    expected = gradc.grad(f)(x.astype(np.float64))
    assert g.dtype == np.float16
    np.testing.assert_allclose(g.astype(np.float64), expected, rtol=2e-3, atol=1e-7)
    assert np.all(g != 0)
