"""The optimizations that make generated gradients cheaper: signs and constant factors folded
(passes/factors.py), broadcasts dropped, the primal's repeated expressions shared before
differentiation, big dying arrays updated in place and released (passes/inplace.py,
backend/emit.py). Each is checked twice: what the generated code says, and that the numbers
stay right (finite differences, autograd, and the unoptimized gradient)."""
from __future__ import annotations

import math
import operator

import numpy as np
import pytest

import gradc
from gradc.passes.bufferize import REUSE_MIN_ELEMENTS
from gradcheck import assert_gradients, default_build_only

BIG = REUSE_MIN_ELEMENTS + 17  # elements: big enough to be updated in place


def backward_of(source: str) -> str:
    return code_of(source.split("# backward", 1)[1])


def code_of(source: str) -> str:
    """The source without its comment lines (which quote the primal)."""
    return "\n".join(line for line in source.splitlines() if not line.strip().startswith("#"))


def assert_same_as_unoptimized(f, args, wrt, rtol=1e-13, atol=1e-300):
    ours = gradc.grad(f, wrt=wrt)(*args)
    plain = gradc.grad(f, wrt=wrt, optimize=False)(*args)
    for a, b in zip(ours, plain):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    return ours


# -- signs and factors --------------------------------------------------------------------------
def gaussian_bump(x, y):
    return np.sum(x * y + np.exp(-x * x))


def sqrt_norm(v, w):
    return math.sqrt(1.0 + v * v) * w


def centred(x):
    return np.sum((x - np.mean(x, axis=0)) ** 2 * x)


def test_negations_become_subtractions():
    rng = np.random.default_rng(0)
    args = (rng.standard_normal(5), rng.standard_normal(5))
    source = gradc.grad(gaussian_bump, wrt=(0, 1)).source_for(*args)
    assert "+ -" not in backward_of(source)
    assert_gradients(gaussian_bump, args, wrt=(0, 1))
    assert_same_as_unoptimized(gaussian_bump, args, (0, 1))


def test_doubling_is_folded_into_a_constant():
    source = gradc.grad(sqrt_norm, wrt=(0, 1)).source_for(0.7, 1.3)
    backward = backward_of(source)
    assert "0.5" not in backward and "dv + dv" not in backward  # g * 0.5 / s * v * 2 is g / s * v
    assert_gradients(sqrt_norm, (0.7, 1.3), wrt=(0, 1))
    assert_gradients(sqrt_norm, (-2.5, 0.25), wrt=(0, 1))


def test_negation_moves_out_of_a_sum():
    x = np.random.default_rng(1).standard_normal((6, 3))
    source = gradc.grad(centred).source_for(x)
    assert "(-" not in backward_of(source)  # no negated (6, 3) array summed over axis 0
    assert_gradients(centred, (x,))
    assert_same_as_unoptimized(centred, (x,), (0,))


def neg_read_twice(x):
    n = -x
    return np.sum(n * x + n * n * 3.0)


def test_a_negation_read_twice_stays():
    x = np.random.default_rng(2).standard_normal(4)
    assert_gradients(neg_read_twice, (x,))


# -- broadcasts and shapes ----------------------------------------------------------------------
def batchnorm(x, gamma, beta):
    mu = np.mean(x, axis=0)
    xc = x - mu
    var = np.mean(xc * xc, axis=0)
    y = gamma * xc / np.sqrt(var + 1e-5) + beta
    return np.sum(y * y)


def test_broadcasts_before_elementwise_arithmetic_are_dropped():
    rng = np.random.default_rng(3)
    args = (rng.standard_normal((7, 4)), 1.0 + 0.1 * rng.standard_normal(4), rng.standard_normal(4))
    source = gradc.grad(batchnorm, wrt=(0, 1, 2)).source_for(*args)
    assert "broadcast_to" not in source and "np.size" not in source and "np.shape" not in source
    assert_gradients(batchnorm, args, wrt=(0, 1, 2))
    # for any shape the broadcasts stay: the same function, the generic version
    assert "broadcast_to" in gradc.grad(batchnorm, wrt=(0, 1, 2)).source


# -- the primal's repeated expressions ----------------------------------------------------------
def slice_twice(x):
    return np.sum(x[1:] * x[:-1] ** 2 + 3.0 * x[:-1])


def scaled_twice(a):
    return np.sum((100.0 * a) * (a * 100.0))


def test_a_repeated_slice_gets_one_adjoint():
    x = np.random.default_rng(4).standard_normal(9)
    source = gradc.grad(slice_twice).source_for(x)
    backward = backward_of(source)
    assert backward.count("slice(None, -1, None)") + backward.count("[:-1] +=") == 1  # one scatter
    assert_gradients(slice_twice, (x,))


def test_constant_products_are_shared_in_either_order():
    a = np.random.default_rng(5).standard_normal(6)
    source = gradc.grad(scaled_twice).source_for(a)
    forward = code_of(source.split("# backward")[0])
    assert forward.count(" * a") == 1  # 100.0 * a once (doubled: it is read twice, as prod + prod)
    assert_gradients(scaled_twice, (a,))


def concatenate_both_ways(xs, ys, w):
    total = 0.0
    for v in xs + ys:
        total = total + v * w
    for v in ys + xs:
        total = total + v * v * w
    return total


def test_sums_that_do_not_commute_are_not_shared():
    assert_gradients(concatenate_both_ways, ([1.0, 2.0], [3.0], 0.5), wrt=2, use_autograd=False)


# -- big arrays updated in place, and released ---------------------------------------------------
def rosenbrock(x):
    a = x[1:] - x[:-1] ** 2
    b = 1.0 - x[:-1]
    return np.sum(100.0 * a * a + b * b)


def chain(x, w):
    t = x * 2.0 + 1.0
    return np.sum(np.tanh(t * w) * x)


def widened(x32, w):
    t = x32 * 2.0
    return np.sum((t + w) ** 2)


def named(x):
    a = x * 3.0
    return np.sum(a * x)


def integer_weights(x):
    k = np.arange(x.size) * 2
    return np.sum(x * k * x)


def test_big_dying_arrays_are_updated_in_place_and_released():
    x = np.random.default_rng(6).uniform(-1.5, 1.5, BIG)
    before = x.copy()
    source = gradc.grad(rosenbrock).source_for(x)
    assert "*=" in source and "del " in source
    (g,) = assert_same_as_unoptimized(rosenbrock, (x,), (0,))
    np.testing.assert_array_equal(x, before)  # the argument is never written
    expected = np.zeros_like(x)
    a = x[1:] - x[:-1] ** 2
    expected[1:] += 200.0 * a
    expected[:-1] += -400.0 * a * x[:-1] - 2.0 * (1.0 - x[:-1])
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-9)


@default_build_only
def test_small_arrays_keep_plain_expressions():
    x = np.random.default_rng(7).uniform(-1.5, 1.5, 50)
    source = gradc.grad(rosenbrock).source_for(x)
    assert "*=" not in source and "del " not in source
    assert_gradients(rosenbrock, (x,))


def test_in_place_chain_matches_finite_differences_on_a_sample():
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal(BIG), rng.standard_normal(BIG)
    xb, wb = x.copy(), w.copy()
    gx, gw = assert_same_as_unoptimized(chain, (x, w), (0, 1))
    np.testing.assert_array_equal(x, xb)
    np.testing.assert_array_equal(w, wb)
    t = x * 2.0 + 1.0
    th = np.tanh(t * w)
    np.testing.assert_allclose(gx, th + x * (1 - th ** 2) * w * 2.0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, x * (1 - th ** 2) * t, rtol=1e-12, atol=1e-12)


def test_no_in_place_update_that_would_narrow_the_dtype():
    rng = np.random.default_rng(9)
    x32 = rng.standard_normal(BIG).astype(np.float32)
    w = 1e-9 * rng.standard_normal(BIG)  # lost if t + w were computed in float32
    (gw,) = gradc.grad(widened, wrt=1)(x32, w), 
    expected = 2.0 * (x32.astype(np.float64) * 2.0 + w)
    np.testing.assert_allclose(gw[0] if isinstance(gw, tuple) else gw, expected, rtol=1e-14)


def test_float32_arrays_are_updated_in_their_own_dtype():
    x = np.random.default_rng(10).uniform(-1.5, 1.5, BIG).astype(np.float32)
    g = gradc.grad(rosenbrock)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, gradc.grad(rosenbrock)(x.astype(np.float64)), rtol=2e-4, atol=2e-3)


def test_a_users_variable_keeps_its_meaning():
    x = np.random.default_rng(11).standard_normal(BIG)
    source = gradc.grad(named).source_for(x)
    assert "a *=" not in source and "a +=" not in source
    np.testing.assert_allclose(gradc.grad(named)(x), 6.0 * x, rtol=1e-14)


def test_integer_arrays_are_not_reused():
    x = np.random.default_rng(12).standard_normal(BIG)
    k = np.arange(BIG) * 2
    np.testing.assert_allclose(gradc.grad(integer_weights)(x), 2.0 * k * x, rtol=1e-14)


@pytest.mark.parametrize("size", [10, BIG])
def test_optimize_false_turns_every_rewrite_off(size):
    x = np.random.default_rng(13).uniform(-1.5, 1.5, size)
    plain = gradc.grad(rosenbrock, optimize=False).source_for(x)
    assert "*=" not in plain and "del " not in plain and "+=" not in plain


# -- sums of products ---------------------------------------------------------------------------
def scale_and_shift(x, gamma, beta):
    return np.sum(np.tanh(gamma * x + beta))


def test_sums_of_products_become_one_contraction():
    rng = np.random.default_rng(14)
    args = (rng.standard_normal((6, 3)), rng.standard_normal(3), rng.standard_normal(3))
    source = gradc.grad(scale_and_shift, wrt=(0, 1, 2)).source_for(*args)
    assert "np.einsum('ij,ij->j'" in source  # dgamma: (dz * x).sum(axis=0), no (6, 3) temporary
    assert_gradients(scale_and_shift, args, wrt=(0, 1, 2))
    assert "einsum" not in gradc.grad(scale_and_shift, wrt=(0, 1, 2), optimize=False).source_for(*args)


def masked_scale(x, w):
    return np.sum(np.maximum(x * w, 0.0) * w)


def test_a_product_that_broadcasts_is_summed_as_before():
    rng = np.random.default_rng(15)
    args = (rng.standard_normal((5, 4)), rng.standard_normal(4))
    assert_gradients(masked_scale, args, wrt=(0, 1))


# -- values a loop carries only for themselves --------------------------------------------------
def running_loss(w, xs):
    total = 0.0
    count = 0
    h = np.zeros(3)
    for x in xs:
        h = np.tanh(x * w + h)
        total = total + np.sum(h * h)
        count = count + 1
    return total / len(xs)


def coupled(w, xs):
    a = 0.0
    b = 1.0
    for x in xs:
        b = b * 0.5 + a
        a = a + np.sum(x * w)
    return a + b


def test_a_loss_summed_in_a_loop_is_not_computed_for_the_gradient():
    rng = np.random.default_rng(16)
    args = (rng.standard_normal(3), rng.standard_normal((5, 3)))
    body = code_of(gradc.grad(running_loss).source_for(*args)).split("# backward")[0]
    assert "count" not in body  # carried only to compute itself, read by nothing
    assert "dw += dw_2" in gradc.grad(running_loss).source_for(*args)  # one accumulator, updated in place
    assert_gradients(running_loss, args)
    value, (grad,) = gradc.value_and_grad(running_loss, wrt=(0,))(*args)
    assert value == pytest.approx(running_loss(*args), rel=1e-15)
    np.testing.assert_allclose(grad, gradc.grad(running_loss)(*args), rtol=1e-15)


def test_values_carried_for_each_other_stay():
    rng = np.random.default_rng(17)
    args = (rng.standard_normal(3), rng.standard_normal((4, 3)))
    assert_gradients(coupled, args)


def mean_square(h, y):
    return np.mean((h - y) ** 2)


def test_a_power_of_two_goes_into_a_constant_and_the_scaled_value_loses_its_name():
    rng = np.random.default_rng(18)
    args = (rng.standard_normal((4, 3)), rng.standard_normal((4, 3)))
    source = gradc.grad(mean_square).source_for(*args)
    backward = backward_of(source)
    assert "* 2" not in backward and "dpower" not in backward  # 2 / 12 folded; not d(power) any more
    assert_gradients(mean_square, args)
    assert_same_as_unoptimized(mean_square, args, (0,))


def test_an_elementwise_result_is_not_kept_for_its_shape_alone():
    source = gradc.grad(mean_square).source  # for any shape: the mean's rule reads a shape
    assert "** 2" not in code_of(source) and "math.prod(shape)" in source
    rng = np.random.default_rng(19)
    assert_gradients(mean_square, (rng.standard_normal((3, 2)), rng.standard_normal(2)))


def viewed(x):
    t = x * 2.0
    head = t[:10]
    u = t * x
    return np.sum(u) + np.sum(head * head)


def read_twice_then_updated(x, w):
    t = np.tanh(x * w)
    s = np.sum(t)
    u = t * x + 1.0
    return np.sum(u * u) + s


def test_an_array_with_a_view_alive_is_not_updated_in_place():
    x = np.random.default_rng(20).standard_normal(BIG)
    (g,) = assert_same_as_unoptimized(viewed, (x,), (0,))
    expected = 4.0 * x
    expected[:10] += 8.0 * x[:10]
    np.testing.assert_allclose(g, expected, rtol=1e-13)


def test_the_last_of_several_readers_may_update_in_place():
    rng = np.random.default_rng(21)
    x, w = rng.standard_normal(BIG), rng.standard_normal(BIG)
    gx, gw = assert_same_as_unoptimized(read_twice_then_updated, (x, w), (0, 1))
    t = np.tanh(x * w)
    u = t * x + 1.0
    dt = 2.0 * u * x + 1.0
    dz = dt * (1.0 - t * t)
    np.testing.assert_allclose(gx, dz * w + 2.0 * u * t, rtol=1e-12)
    np.testing.assert_allclose(gw, dz * x, rtol=1e-12)


@default_build_only
def test_a_factor_constant_along_the_summed_axis_leaves_the_sum():
    rng = np.random.default_rng(3)
    args = (rng.standard_normal((7, 4)), 1.0 + 0.1 * rng.standard_normal(4), rng.standard_normal(4))
    source = gradc.grad(batchnorm, wrt=(0, 1, 2)).source_for(*args)
    # the backward's (dy * ratio / sqrt).sum(axis=0), sqrt of shape (4,): divided after the sum
    assert "np.einsum('ij,ij->j', dy, ratio) / sqrt" in source
    assert "var = np.einsum('ij,ij->j', xc, xc) / 7" in source  # a mean, in the forward (grad only)
    assert "np.mean(xc * xc" in gradc.value_and_grad(batchnorm, wrt=(0, 1, 2)).source_for(*args)
    # (sums in another order: the gradient with respect to x, nearly zero by cancellation, moves
    # by an ulp of the terms that cancel)
    assert_same_as_unoptimized(batchnorm, args, (0, 1, 2), rtol=1e-12, atol=1e-14)
    assert_gradients(batchnorm, args, wrt=(0, 1, 2))


def widened_by_option(x):
    z = np.zeros_like(x, dtype=np.float64) + x
    return np.sum(z * z)


def test_dtypes_follow_numpy_promotion_and_options():
    """The dtypes the in-place passes rely on: NumPy's promotion, and a `dtype=` option honoured."""
    from gradc.analysis.dtypes import Dtypes
    from gradc.api import _kind
    x = np.ones(4, dtype=np.float32)
    adjoint = gradc.grad(widened_by_option)._compile((_kind(x),)).adjoint
    dtypes = Dtypes(adjoint.kinds)
    found = {op.attrs["callee"]: dtypes.of(op.result) for op in adjoint.walk()
             if op.kind == "call" and op.attrs.get("callee") in (np.zeros_like, operator.add)}
    assert found[np.zeros_like] is None  # not x's float32: the option says otherwise
    assert found[operator.add] is None  # (and so what is made of it is unknown, never wrong)
    g = gradc.grad(widened_by_option)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2.0 * x, rtol=1e-6)
