"""Functions written against the Python array API standard (`xp = array_namespace(x)`, `xp.tanh(x)`).

Each program is differentiated three ways: with NumPy arrays (checked against central finite
differences), with array_api_strict arrays (the standard's own strict implementation: the gradient is
an array_api_strict array equal to the NumPy one, and the code that ran calls `xp`), and with PyTorch
tensors where torch is installed (checked against torch.autograd on the same function).
"""
import math

import numpy as np
import pytest

xpc = pytest.importorskip("array_api_compat", reason="the array-api extra is not installed "
                                                     "(pip install -e '.[array-api]')")
xps = pytest.importorskip("array_api_strict", reason="the array-api extra is not installed "
                                                     "(pip install -e '.[array-api]')")

import gradc  # noqa: E402
from gradc import GradcError  # noqa: E402

try:
    import torch
except ImportError:  # (optional: the torch checks skip)
    torch = None

from gradcheck import numeric_gradient  # noqa: E402

array_namespace = xpc.array_namespace


# -- programs, as SciPy and scikit-learn write them ---------------------------------------------------

def tanh_mse(W, b, x, y):
    xp = array_namespace(W, x)
    h = xp.tanh(x @ W + b)
    return xp.mean((h - y) ** 2)


def logistic(w, x, y):
    xp = array_namespace(w, x)
    z = x @ w
    return xp.mean(xp.logaddexp(0.0, -y * z)) + 0.5 * xp.sum(w * w)


def softmax_cross_entropy(W, x, y):
    xp = array_namespace(W, x, y)
    z = x @ W
    z = z - xp.max(z, axis=1, keepdims=True)
    log_p = z - xp.log(xp.sum(xp.exp(z), axis=1, keepdims=True))
    return -xp.mean(xp.sum(y * log_p, axis=1))


def elementwise(x):
    xp = array_namespace(x)
    u = xp.clip(x, min=-0.9, max=0.9)
    terms = [xp.sin(x), xp.cos(x), xp.exp(x) / 10.0, xp.log1p(x * x), xp.sqrt(x * x + 1.0), xp.square(x),
             xp.acos(u), xp.asin(u), xp.atan(x), xp.atan2(x, 2.0 + u), xp.sinh(x), xp.cosh(x), xp.expm1(x),
             xp.log2(x * x + 1.0), xp.log10(x * x + 2.0), xp.hypot(x, 1.5), xp.pow(x * x + 1.0, 1.5),
             xp.reciprocal(x * x + 1.0), xp.negative(x), xp.abs(x), xp.tan(u), xp.asinh(x), xp.acosh(x * x + 2.0),
             xp.atanh(u * 0.5), xp.exp(-x * x), xp.divide(x, 3.0), xp.multiply(x, u), xp.subtract(x, u)]
    return xp.sum(xp.stack(terms, axis=0) * xp.linspace(0.5, 1.5, len(terms))[:, None])


def reductions(x):
    xp = array_namespace(x)
    return (xp.sum(xp.prod(x, axis=1)) + xp.sum(xp.max(x, axis=0)) - xp.min(x) + xp.mean(x, axis=0)[1]
            + xp.var(x, correction=1) + xp.sum(xp.std(x, axis=1, keepdims=True)) + xp.sum(xp.mean(x * x, axis=(0, 1))))


def shapes(x, v):
    xp = array_namespace(x, v)
    a = xp.reshape(x, (3, 4))
    b = xp.permute_dims(xp.reshape(x, (2, 3, 2)), (2, 0, 1))
    c = xp.concat([a, xp.flip(a, axis=1)], axis=0)
    d = xp.stack([v, v * v], axis=1)
    e = xp.expand_dims(v, axis=0) * xp.matrix_transpose(xp.reshape(x, (4, 3)))[:, 0:1]
    f = xp.squeeze(xp.reshape(v, (1, 4)), axis=0)
    g = xp.roll(v, 1) * xp.moveaxis(xp.reshape(x, (2, 6)), 0, 1)[0:4, 0]
    h = xp.broadcast_to(v, (3, 4))
    return (xp.sum(c * c) + xp.sum(b[0, ...] ** 3) + xp.sum(xp.sin(d)) + xp.sum(e) + xp.sum(f ** 2)
            + xp.sum(g) + xp.sum(h * a))


def selections(x, y):
    xp = array_namespace(x, y)
    return xp.sum(xp.where(x > 0.0, x * y, -y)) + xp.sum(xp.maximum(x, 0.1 * y)) - xp.sum(xp.minimum(x, y))


def linalg_program(A, v):
    xp = array_namespace(A, v)
    S = A @ xp.matrix_transpose(A) + 3.0 * xp.eye(3)
    L = xp.linalg.cholesky(S)
    w = xp.linalg.solve(S, v)
    return (xp.linalg.vector_norm(A, axis=1)[0] + xp.linalg.matrix_norm(A) + xp.linalg.det(S)
            + xp.sum(xp.linalg.inv(S)) + xp.linalg.trace(S) + xp.sum(L) + xp.sum(w) + xp.sum(xp.linalg.diagonal(S))
            + xp.vecdot(v, w) + xp.sum(xp.linalg.outer(v, v)) + xp.sum(xp.tensordot(A, A, axes=2))
            + xp.sum(xp.linalg.matmul(A, xp.matrix_transpose(A))) + xp.linalg.vector_norm(v))


def indexing(x):
    xp = array_namespace(x)
    return xp.sum(x[0, :] ** 2) + xp.sum(x[1:3, ...] * x[0:2, ...]) + x[2, 1] * x[0, 0] + xp.sum(x[..., -1])


def cumulative(x):
    xp = array_namespace(x)
    return xp.sum(xp.cumulative_sum(x, axis=0) ** 2) + xp.sum(xp.cumulative_sum(x[0, :]))


def layers(params, x):
    xp = array_namespace(x)
    h = x
    for W, b in params:
        h = xp.tanh(h @ W + b)
    return xp.sum(h * h)


def scaled(s, x):
    xp = array_namespace(x)
    return xp.sum(xp.exp(s * x)) + s * s


def constants(x):
    xp = array_namespace(x)
    weights = xp.asarray([1.0, 2.0, 3.0], dtype=xp.float64)
    ones = xp.ones_like(x)
    return xp.sum(x * weights) + xp.sum(ones * x * x) + xp.pi * xp.sum(xp.zeros((3,)) + x)


def in_float32(x):
    xp = array_namespace(x)
    y = xp.astype(x, xp.float32)
    return xp.sum(xp.astype(y * y, xp.float64))


def branches(x):
    xp = array_namespace(x)
    total = xp.sum(x * x)
    if x.shape[0] > 2:
        total = total + xp.sum(xp.sin(x))
    return total


def loops_branches_writes(W, x):
    xp = array_namespace(W, x)
    h = xp.tanh(x @ W)
    assert h.shape[0] == x.shape[0], "one row per example"
    total = 0.0
    for i in range(h.shape[0]):
        total = total + xp.sum(h[i, :] ** 2)
    if total > 1.0:
        total = total * 0.5
    y = xp.zeros((3,), dtype=W.dtype)
    y[0] = total
    y[2] = xp.sum(W * W)
    return xp.sum(y * y)


def copies_and_devices(x):
    xp = array_namespace(x)
    y = xp.asarray(x, copy=True)  # (a copy: the write below leaves x alone)
    y[0] = 2.0 * y[1]
    z = xp.zeros((3,), dtype=x.dtype, device=x.device) + y * x
    w = xp.reshape(z, (3, 1), copy=True)
    return xp.sum(z * z) + xp.sum(w) + xp.sum(x)


def offsets_and_tiles(A, v):
    xp = array_namespace(A, v)
    return (xp.sum(xp.linalg.diagonal(A, offset=1) ** 2) + xp.sum(xp.linalg.diagonal(A, offset=-1) * 3.0)
            + xp.linalg.trace(A, offset=1) + xp.sum(xp.tile(v, (2,)) * xp.linspace(0.0, 1.0, 6, dtype=A.dtype))
            + xp.sum(xp.sin(xp.tile(A, (1, 2)))))


def batches_and_lists(A, v):
    xp = array_namespace(A, v)
    parts = [v * 1.5, xp.sin(v), v * v]
    last = parts.pop()
    batch = A @ A  # (a stack of two 3 x 3 matrices)
    return (xp.sum(xp.linalg.trace(batch)) + xp.sum(xp.linalg.diagonal(A) ** 2) + xp.sum(xp.linalg.matrix_norm(A))
            + xp.sum(last * parts[0]) + xp.sum(parts[1]))


def _rand(*shape, seed=0, positive=False):
    rng = np.random.default_rng(seed + 17 * len(shape) + sum(shape))
    a = rng.standard_normal(shape)
    return np.abs(a) + 0.5 if positive else a


PROGRAMS = [
    (tanh_mse, lambda: [_rand(4, 3), _rand(3, seed=1), _rand(6, 4, seed=2), _rand(6, 3, seed=3)], (0, 1)),
    (logistic, lambda: [_rand(4), _rand(8, 4, seed=1), np.sign(_rand(8, seed=2))], (0,)),
    (softmax_cross_entropy, lambda: [_rand(4, 3), _rand(5, 4, seed=1), np.eye(3)[[0, 1, 2, 1, 0]]], (0,)),
    (elementwise, lambda: [_rand(7) * 0.8], (0,)),
    (reductions, lambda: [_rand(3, 4, positive=True)], (0,)),
    (shapes, lambda: [_rand(12), _rand(4, seed=1)], (0, 1)),
    (selections, lambda: [_rand(5), _rand(5, seed=1)], (0, 1)),
    (linalg_program, lambda: [_rand(3, 3), _rand(3, seed=1)], (0, 1)),
    (indexing, lambda: [_rand(3, 4)], (0,)),
    (cumulative, lambda: [_rand(3, 4)], (0,)),
    (scaled, lambda: [0.7, _rand(4)], (0, 1)),
    (constants, lambda: [_rand(3)], (0,)),
    (branches, lambda: [_rand(4)], (0,)),
    (loops_branches_writes, lambda: [_rand(4, 2), _rand(3, 4, seed=1)], (0,)),
    (copies_and_devices, lambda: [_rand(3)], (0,)),
    (offsets_and_tiles, lambda: [_rand(3, 3), _rand(3, seed=1)], (0, 1)),
    (batches_and_lists, lambda: [_rand(2, 3, 3), _rand(3, seed=1)], (0, 1)),
]
IDS = [p[0].__name__ for p in PROGRAMS]


def _numpy_gradients(f, args, wrt):
    return [numeric_gradient(f, args, i) for i in wrt]


def _as(library, value):
    if isinstance(value, np.ndarray):
        return library(value)
    if isinstance(value, list):
        return [tuple(_as(library, v) for v in item) if isinstance(item, tuple) else _as(library, item)
                for item in value]
    return value


def _to_numpy(value):
    if isinstance(value, float):
        return value
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return np.asarray(value) if isinstance(value, np.ndarray) else np.from_dlpack(value)


@pytest.mark.parametrize("program", PROGRAMS, ids=IDS)
def test_numpy_arrays_against_finite_differences(program):
    f, make, wrt = program
    args = make()
    grads = gradc.grad(f, wrt=wrt)(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for got, expected in zip(grads, _numpy_gradients(f, args, wrt)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    value, _ = gradc.value_and_grad(f, wrt=wrt)(*args)
    assert value == pytest.approx(float(f(*args)), rel=1e-12)


@pytest.mark.parametrize("program", PROGRAMS, ids=IDS)
def test_array_api_strict_equals_numpy(program):
    f, make, wrt = program
    args = make()
    g = gradc.grad(f, wrt=wrt)
    expected = g(*args)
    strict_args = [_as(xps.asarray, a) for a in args]
    got = g(*strict_args)
    got, expected = (got, expected) if isinstance(got, tuple) else ((got,), (expected,))
    for a, b, i in zip(got, expected, wrt):
        assert type(a) is type(strict_args[i]), (type(a), type(strict_args[i]))
        np.testing.assert_allclose(_to_numpy(a), b, rtol=1e-10, atol=1e-12)
    value, _ = gradc.value_and_grad(f, wrt=wrt)(*strict_args)
    assert float(value) == pytest.approx(float(f(*args)), rel=1e-10)
    source = g.source_for(*strict_args)
    assert "xp = array_namespace(" in source and "np." not in source


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("program", PROGRAMS, ids=IDS)
def test_torch_tensors_against_torch_autograd(program):
    f, make, wrt = program
    plain = make()
    args = [_as(torch.tensor, a) for a in plain]
    got = gradc.grad(f, wrt=wrt)(*args)
    got = got if isinstance(got, tuple) else (got,)
    leaves = [_as(lambda a: torch.tensor(a, requires_grad=True), a) if i in wrt and not isinstance(a, float) else
              args[i] for i, a in enumerate(plain)]
    scalars = {i: torch.tensor(a, dtype=torch.float64, requires_grad=True) for i, a in enumerate(args)
               if i in wrt and isinstance(a, float)}
    call_args = [scalars.get(i, a) for i, a in enumerate(leaves)]
    value = f(*call_args)
    value.backward()
    for g, i in zip(got, wrt):
        expected = scalars[i].grad if i in scalars else leaves[i].grad
        np.testing.assert_allclose(_to_numpy(g) if not isinstance(g, float) else g, expected.numpy(),
                                   rtol=1e-10, atol=1e-12)


def test_lists_of_arrays():
    params = [(_rand(3, 4), _rand(4, seed=1)), (_rand(4, 2, seed=2), _rand(2, seed=3))]
    x = _rand(5, 3, seed=4)
    g = gradc.grad(layers)
    expected = g(params, x)
    got = g(_as(xps.asarray, params), xps.asarray(x))
    for (gW, gb), (eW, eb) in zip(got, expected):
        assert isinstance(gW, type(xps.asarray(0.0)))
        np.testing.assert_allclose(_to_numpy(gW), eW, rtol=1e-10)
        np.testing.assert_allclose(_to_numpy(gb), eb, rtol=1e-10)
    numeric = numeric_gradient(lambda W: layers([(W, params[0][1]), params[1]], x), [params[0][0]], 0)
    np.testing.assert_allclose(expected[0][0], numeric, rtol=1e-5, atol=1e-7)


def test_one_function_three_libraries_cached_side_by_side():
    """NumPy, array_api_strict and (where installed) PyTorch gradients of one function, each compiled for its
    library and kept: `source_for` shows the NumPy code for NumPy arrays and the `xp` code for the others."""
    g = gradc.grad(tanh_mse, wrt=(0, 1))
    args = PROGRAMS[0][1]()
    numpy_source = g.source_for(*args)
    strict_source = g.source_for(*[xps.asarray(a) for a in args])
    numpy_code = [line for line in numpy_source.splitlines() if not line.strip().startswith("#")]
    assert any("np.tanh(" in line for line in numpy_code) and not any("xp." in line for line in numpy_code)
    assert "    h = xp.tanh(x @ W + b)" in strict_source.splitlines() and "np." not in strict_source
    first = g(*args)
    g(*[xps.asarray(a) for a in args])
    if torch is not None:
        g(*[torch.tensor(a) for a in args])
    again = g(*args)
    np.testing.assert_array_equal(first[0], again[0])
    assert len(g._functions) == (3 if torch is not None else 2)


def test_gradients_are_new_arrays():
    """d(x * y)/dx is y: the gradient is a copy, never the argument itself."""
    def product(x, y):
        xp = array_namespace(x, y)
        return xp.sum(x * y)

    x, y = xps.asarray(_rand(3)), xps.asarray(_rand(3, seed=1))
    dx = gradc.grad(product)(x, y)
    assert dx is not y
    np.testing.assert_array_equal(_to_numpy(dx), _to_numpy(y))


def test_float32_arguments_keep_their_dtype():
    x = xps.asarray(_rand(3).astype(np.float32))
    dx = gradc.grad(tanh_mse, wrt=0)(xps.asarray(_rand(3, 2).astype(np.float32)), xps.asarray(np.zeros(2, np.float32)),
                                      xps.asarray(_rand(4, 3).astype(np.float32)), xps.asarray(_rand(4, 2).astype(np.float32)))
    assert dx.dtype == xps.float32 and x.dtype == xps.float32


# -- bad input ------------------------------------------------------------------------------------------

def test_mixed_libraries_refused_before_anything_runs():
    args = PROGRAMS[0][1]()
    mixed = [xps.asarray(args[0]), args[1], xps.asarray(args[2]), xps.asarray(args[3])]
    with pytest.raises(GradcError) as info:
        gradc.grad(tanh_mse, wrt=(0, 1))(*mixed)
    message = str(info.value)
    assert "`W` is a array_api_strict array" in message and "`b` a numpy array" in message


def numpy_call_in_standard_code(x):
    xp = array_namespace(x)
    return xp.sum(np.tanh(x))


def test_numpy_function_on_another_librarys_arrays_refused():
    with pytest.raises(GradcError) as info:
        gradc.grad(numpy_call_in_standard_code)(xps.asarray(_rand(3)))
    message = str(info.value)
    assert "`np.tanh` is NumPy's" in message and "array_api_strict arrays" in message
    assert "test_array_api.py:" in message  # (file, line and column)
    np.testing.assert_allclose(gradc.grad(numpy_call_in_standard_code)(_rand(3)), 1 - np.tanh(_rand(3)) ** 2)


def gathered(x, i):
    xp = array_namespace(x)
    return xp.sum(xp.take(x, i) ** 2)


def test_scatter_add_the_standard_lacks_is_named():
    """The gradient of gathering at an index array is a scatter-add, which the standard does not have."""
    x, i = _rand(4), np.array([0, 2, 2])
    expected = np.zeros(4)
    np.add.at(expected, i, 2 * x[i])
    np.testing.assert_allclose(gradc.grad(gathered)(x, i), expected)
    with pytest.raises(GradcError, match="scatter-add") as info:  # (when it compiles: the index is an array)
        gradc.grad(gathered)(xps.asarray(x), xps.asarray(i))
    assert "test_array_api.py:" in str(info.value)


def sorted_top(x):
    xp = array_namespace(x)
    return xp.sum(xp.sort(x)[-2:] ** 2)


def test_rule_the_standard_cannot_express_is_named():
    x = _rand(5)
    assert np.all(np.isfinite(gradc.grad(sorted_top)(x)))
    with pytest.raises(GradcError) as info:
        gradc.grad(sorted_top)(xps.asarray(x))
    assert "array_api_strict arrays" in str(info.value)


def unknown_function(x):
    xp = array_namespace(x)
    return xp.sum(xp.no_such_function(x))


def test_unknown_namespace_function_refused():
    with pytest.raises(GradcError, match="xp.no_such_function"):
        gradc.grad(unknown_function)(_rand(3))


def test_integer_argument_refused():
    with pytest.raises(GradcError, match="dtype .*int64"):
        gradc.grad(indexing)(xps.asarray(np.arange(12).reshape(3, 4)))


def test_math_of_the_strict_namespace_is_the_standards():
    """`math` constants and Python floats mix with the standard's arrays as the standard allows."""
    def f(x):
        xp = array_namespace(x)
        return xp.sum(x * math.pi) + xp.e

    x = xps.asarray(_rand(3))
    np.testing.assert_allclose(_to_numpy(gradc.grad(f)(x)), np.full(3, math.pi))


def own_namespace(x):
    xp = x.__array_namespace__()
    return xp.sum(xp.sin(x) * x)


def test_the_arrays_own_namespace_method():
    x = _rand(4)
    expected = np.cos(x) * x + np.sin(x)
    np.testing.assert_allclose(_to_numpy(gradc.grad(own_namespace)(xps.asarray(x))), expected, rtol=1e-12)
    if hasattr(x, "__array_namespace__"):  # (NumPy 2)
        np.testing.assert_allclose(gradc.grad(own_namespace)(x), expected, rtol=1e-12)


# -- forward mode and second order ------------------------------------------------------------------------

#: Second order the standard cannot express yet: refused by name (the tangent of `prod`'s exact adjoint, and a
#: norm whose order gradc's first-order code passes on as a variable).
HVP_REFUSED = {"reductions": "prod_adjoint_tangent", "linalg_program": "norm", "batches_and_lists": "norm"}


def _tangent_like(value, seed=9):
    return _rand(*np.shape(value), seed=seed) if np.ndim(value) else 0.3


@pytest.mark.parametrize("program", PROGRAMS, ids=IDS)
def test_jvp_with_strict_arrays_by_the_dot_product_test(program):
    """The JVP along v, dotted with the output's cotangent 1, equals the gradient dotted with v; and it is
    the NumPy JVP."""
    f, make, wrt = program
    args = make()
    i = wrt[0]
    v = _tangent_like(args[i])
    strict_args = [_as(xps.asarray, a) for a in args]
    value, tangent = gradc.jvp(f, wrt=i)(*strict_args, _as(xps.asarray, v))
    assert float(value) == pytest.approx(float(f(*args)), rel=1e-10)
    gradient = gradc.grad(f, wrt=i)(*args)
    assert float(tangent) == pytest.approx(float(np.sum(np.asarray(gradient) * v)), rel=1e-9, abs=1e-12)
    assert float(tangent) == pytest.approx(float(gradc.jvp(f, wrt=i)(*args, v)[1]), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("program", PROGRAMS, ids=IDS)
def test_hvp_with_strict_arrays(program):
    f, make, wrt = program
    args = make()
    i = wrt[0]
    v = _tangent_like(args[i])
    strict_args = [_as(xps.asarray, a) for a in args]
    if f.__name__ in HVP_REFUSED:
        with pytest.raises(GradcError, match=HVP_REFUSED[f.__name__]):
            gradc.hvp(f, wrt=i)(*strict_args, _as(xps.asarray, v))
        return
    got = gradc.hvp(f, wrt=i)(*strict_args, _as(xps.asarray, v))
    expected = gradc.hvp(f, wrt=i)(*args, v)
    np.testing.assert_allclose(_to_numpy(got) if not isinstance(got, float) else got, expected, rtol=1e-9,
                               atol=1e-12)
    eps = 1e-6  # (the hvp is the derivative of the gradient along v)
    step = lambda sign: [a + sign * eps * v if k == i else a for k, a in enumerate(args)]  # noqa: E731
    numeric = (np.asarray(gradc.grad(f, wrt=i)(*step(1))) - np.asarray(gradc.grad(f, wrt=i)(*step(-1)))) / (2 * eps)
    np.testing.assert_allclose(expected, numeric, rtol=1e-5, atol=1e-6)


def test_hessian_and_jacobian_stay_in_the_library():
    x = _rand(4)
    hessian = gradc.hessian(own_namespace)(xps.asarray(x))
    assert isinstance(hessian, type(xps.asarray(0.0))) and hessian.shape == (4, 4)
    np.testing.assert_allclose(_to_numpy(hessian), gradc.hessian(own_namespace)(x), rtol=1e-12)

    def elementwise_square(x):
        xp = array_namespace(x)
        return xp.sin(x) * x

    for mode in ("fwd", "rev"):
        jacobian = gradc.jacobian(elementwise_square, mode=mode)(xps.asarray(x))
        assert isinstance(jacobian, type(xps.asarray(0.0)))
        np.testing.assert_allclose(_to_numpy(jacobian), np.diag(np.cos(x) * x + np.sin(x)), rtol=1e-12, atol=1e-15)


def test_tangent_of_another_library_refused():
    x = xps.asarray(_rand(4))
    with pytest.raises(GradcError, match="tangent of `x` must be an array of its library"):
        gradc.jvp(own_namespace)(x, _rand(4))
    with pytest.raises(GradcError, match="mix arrays of two libraries"):
        gradc.vjp(own_namespace)(x, np.ones(()))
    with pytest.raises(GradcError, match="mix arrays of two libraries"):  # (NumPy's `*` would convert x)
        gradc.vjp(own_namespace)(x, np.float64(1.0))


# -- random programs -----------------------------------------------------------------------------------

def test_random_programs_on_strict_arrays_equal_numpy(tmp_path):
    """standard_programs.py's random programs (the patterns the passes rewrite, written with `xp`): the
    NumPy gradient agrees with finite differences, the array_api_strict gradient, optimized or not, with
    the NumPy one. `python3 tests/standard_programs.py --count N` runs more."""
    import standard_programs

    sources = []
    for seed in range(40):
        program = standard_programs.generate(seed)
        sources.append(program.source)
        assert standard_programs.check_program(program, str(tmp_path), f"standard_{seed}") == [], program.source
    text = "\n".join(sources)
    for pattern in ("xp.vecdot(", "xp.tensordot(", "xp.linalg.outer(", "xp.mean(", "if s > 0.0:",
                    "for i in range(2):", "def helper0(xp, p, q):", "xp.expand_dims("):
        assert pattern in text, pattern  # (the generator makes what it is meant to test)


def write_through_a_view(x):
    xp = array_namespace(x)
    y = xp.flip(x, axis=0)
    y[0] = 5.0 * y[1]
    return xp.sum(x * x)


def test_write_into_a_view_refused():
    """NumPy's `flip` is a view, so the write reaches x; PyTorch's copies: gradc follows NumPy, so for another
    library's arrays the write is refused rather than differentiated as NumPy would run it."""
    x = _rand(3)
    assert gradc.grad(write_through_a_view)(x.copy()) == pytest.approx(
        numeric_gradient(write_through_a_view, [x.copy()], 0), rel=1e-6)
    with pytest.raises(GradcError, match="a write into `y`, a view of `x`") as info:
        gradc.grad(write_through_a_view)(xps.asarray(x))
    assert "test_array_api.py:" in str(info.value)


#: Programs whose Dask gradient is refused: it would compute while it is built (a branch on the data, `prod`'s
#: exact adjoint, a copy, a diagonal's or a matrix norm's adjoint), or call a NumPy function Dask lacks
#: (`np.split` for concat's adjoint, `np.linalg.det`).
DASK_REFUSED = {"reductions", "shapes", "linalg_program", "loops_branches_writes", "copies_and_devices",
                "offsets_and_tiles", "batches_and_lists"}


@pytest.mark.parametrize("program", PROGRAMS, ids=IDS)
def test_dask_arrays_through_numpy_dispatch(program):
    """A function written against the standard, called with Dask arrays: its NumPy code runs on them through
    NumPy's dispatch, lazily, and equals the NumPy gradient, or is refused before anything is computed."""
    da = pytest.importorskip("dask.array")
    import dask

    def refuse(*args, **kwargs):
        raise AssertionError("computed during the gradient call")

    f, make, wrt = program
    args = make()
    lazy = [da.from_array(a, chunks=max(1, a.shape[0] // 2)) if isinstance(a, np.ndarray) and a.ndim else a
            for a in args]
    with dask.config.set(scheduler=refuse):
        if f.__name__ in DASK_REFUSED:
            with pytest.raises(GradcError):
                gradc.grad(f, wrt=wrt)(*lazy)
            return
        got = gradc.grad(f, wrt=wrt)(*lazy)
    got, expected = dask.compute(got)[0], gradc.grad(f, wrt=wrt)(*args)
    got, expected = (got, expected) if isinstance(got, tuple) else ((got,), (expected,))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_a_cast_to_float32_and_back():
    """`astype` both ways (astype_adjoint's twin): float32 inside, so against 2x in float32's precision."""
    x = _rand(3)
    expected = 2.0 * x.astype(np.float32).astype(np.float64)
    for args in ([x], [xps.asarray(x)]) + (([torch.tensor(x)],) if torch is not None else ()):
        np.testing.assert_allclose(_to_numpy(gradc.grad(in_float32)(*args)), expected, rtol=1e-6)


def trace_in_float32(x):
    xp = array_namespace(x)
    return xp.linalg.trace(xp.linalg.outer(x, x), dtype=xp.float32)


def cumulative_sum_in_float32(x):
    xp = array_namespace(x)
    return xp.sum(xp.cumulative_sum(x, axis=0, dtype=xp.float32))


def test_dtype_of_a_trace_is_kept_and_a_cumulative_sums_refused():
    x = xps.asarray(_rand(3))
    value, _ = gradc.value_and_grad(trace_in_float32)(x)
    assert value.dtype == xps.float32
    np.testing.assert_allclose(_to_numpy(gradc.grad(trace_in_float32)(x)), 2.0 * _rand(3), rtol=1e-6)
    with pytest.raises(GradcError, match="dtype"):  # (cumsum's rule has no dtype=: not dropped, refused)
        gradc.grad(cumulative_sum_in_float32)(x)


def keyword_the_lowering_does_not_read(x):
    xp = array_namespace(x)
    return xp.sum(xp.matrix_transpose(x, axis=0))


def test_keyword_a_lowering_would_drop_is_refused():
    with pytest.raises(GradcError, match="`xp.matrix_transpose` with `axis=`"):
        gradc.grad(keyword_the_lowering_does_not_read)(_rand(3, 3))


def with_methods(x):
    return (x * x).sum(0).mean() + x.reshape(6).max() + (x.T @ x).flatten().sum() + x.dot(x.T).sum()


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_array_methods_on_torch_tensors():
    """PyTorch tensors have NumPy's methods: `x.sum(0)` is emitted as `xp.sum(x, axis=0)`, equal to NumPy's."""
    x = _rand(3, 2)
    g = gradc.grad(with_methods)
    np.testing.assert_allclose(_to_numpy(g(torch.tensor(x))), g(x), rtol=1e-12)
    np.testing.assert_allclose(g(x), numeric_gradient(with_methods, [x], 0), rtol=1e-6, atol=1e-8)
    code = [line for line in g.source_for(torch.tensor(x)).splitlines() if not line.strip().startswith("#")]
    assert not any(".sum(" in line.replace("xp.sum(", "") for line in code)  # (no method: the standard's function)
