"""Gradients of NumPy code called with Dask arrays: lazy (nothing computed during the call), equal
to the NumPy gradient once computed, compiled and cached apart from the NumPy one."""
import numpy as np
import pytest

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import gradc  # noqa: E402
from gradc.api import _kind  # noqa: E402

N, D, K, CHUNK = 64, 5, 3, 16


def _refuse(*args, **kwargs):
    raise AssertionError("computed during the gradient call")


def lazy_call(g, *args):
    """g(*args) under a scheduler that fails on any compute."""
    with dask.config.set(scheduler=_refuse):
        return g(*args)


def chunked(a):
    return da.from_array(a, chunks=(CHUNK,) + a.shape[1:])


def assert_same(got, expected):
    got = dask.compute(*got) if isinstance(got, tuple) else dask.compute(got)[0]
    if isinstance(expected, tuple):
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def tanh_mse(W, b, x, y):
    h = np.tanh(x @ W + b)
    return np.mean((h - y) ** 2)


def logistic_regression(w, b, x, y):
    z = x @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def mlp(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    m = np.max(logits, axis=1, keepdims=True)
    e = np.exp(logits - m)
    p = e / np.sum(e, axis=1, keepdims=True)
    return -np.mean(np.sum(y * np.log(p), axis=1))


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(N, D)), "y": rng.normal(size=(N, K)), "W": rng.normal(size=(D, K)),
            "b": rng.normal(size=K), "w": rng.normal(size=D), "labels": (rng.random(N) > 0.5).astype(float),
            "onehot": np.eye(K)[rng.integers(0, K, N)], "W1": rng.normal(size=(D, 8)), "b1": rng.normal(size=8),
            "W2": rng.normal(size=(8, K)), "b2": rng.normal(size=K)}


def test_tanh_layer_mse_is_lazy_and_equals_numpy(data):
    g = gradc.grad(tanh_mse, wrt=(0, 1))
    expected = g(data["W"], data["b"], data["x"], data["y"])
    got = lazy_call(g, data["W"], data["b"], chunked(data["x"]), chunked(data["y"]))
    assert all(isinstance(t, da.Array) for t in got)  # (NumPy parameters, gradients from Dask data: lazy)
    assert [t.shape for t in got] == [(D, K), (K,)] and all(t.dtype == np.float64 for t in got)
    assert_same(got, expected)


def test_logistic_regression_has_no_in_place_write_and_equals_numpy(data):
    g = gradc.grad(logistic_regression, wrt=(0, 1))
    args = (data["w"], 0.3, data["x"], data["labels"])
    expected = g(*args)
    dask_args = args[:2] + (chunked(data["x"]), chunked(data["labels"]))
    got = lazy_call(g, *dask_args)
    assert isinstance(got[0], da.Array) and isinstance(got[1], da.Array) and got[1].shape == ()
    assert_same(got, expected)


def test_big_batch_numpy_code_writes_in_place_dask_code_does_not():
    rng = np.random.default_rng(2)
    n = 40_000  # (NumPy's code reuses arrays of this size: `np.exp(neg, out=neg)`, `dp *= p`)
    x, labels, w = rng.normal(size=(n, D)), (rng.random(n) > 0.5).astype(float), rng.normal(size=D)
    g = gradc.grad(logistic_regression, wrt=(0, 1))
    numpy_source = g.source_for(w, 0.3, x, labels)
    assert "out=" in numpy_source and "*=" in numpy_source
    dask_args = (w, 0.3, da.from_array(x, chunks=(10_000, D)), da.from_array(labels, chunks=10_000))
    source = g.source_for(*dask_args)
    assert not any(write in source for write in ("out=", "+=", "-=", "*=", "/=", "] ="))
    assert "dz = dp * p / z_2 * exp" in source and "dw = x.T @ dz" in source
    assert_same(lazy_call(g, *dask_args), g(w, 0.3, x, labels))


def test_mlp_softmax_cross_entropy_reduces_over_chunks(data):
    g = gradc.grad(mlp, wrt=(0, 1, 2, 3))
    params = (data["W1"], data["b1"], data["W2"], data["b2"])
    expected = g(*params, data["x"], data["onehot"])
    x, y = chunked(data["x"]), chunked(data["onehot"])
    assert x.numblocks == (N // CHUNK, 1)
    got = lazy_call(g, *params, x, y)
    assert [t.shape for t in got] == [p.shape for p in params]
    # each gradient is a sum over the batch's chunks: one task per chunk at least, then the reduction
    assert all(len(dict(t.__dask_graph__())) > N // CHUNK for t in got)
    assert_same(got, expected)


def test_numpy_and_dask_gradients_are_cached_side_by_side(data):
    x = data["x"]
    assert _kind(x) != _kind(chunked(x))
    assert _kind(chunked(x))[1:] == _kind(x)
    g = gradc.grad(tanh_mse)
    numpy_args = (data["W"], data["b"], x, data["y"])
    dask_args = (data["W"], data["b"], chunked(x), chunked(data["y"]))
    first = g(*numpy_args)
    lazy = lazy_call(g, *dask_args)
    again = g(*numpy_args)
    assert type(first) is np.ndarray and type(again) is np.ndarray and isinstance(lazy, da.Array)
    np.testing.assert_array_equal(first, again)
    assert_same(lazy, first)
    assert len(g._functions) == 2


def test_dask_argument_gets_dask_gradient(data):
    def f(x, w):
        return np.sum(np.tanh(x @ w) ** 2)
    g = gradc.grad(f)
    expected = g(data["x"], data["w"])
    got = lazy_call(g, chunked(data["x"]), data["w"])
    assert isinstance(got, da.Array) and got.shape == (N, D) and got.chunks == chunked(data["x"]).chunks
    assert_same(got, expected)


def loop_over_chunks(w, x):
    total = 0.0
    for i in range(4):
        total = total + np.sum(np.tanh(x[i * 16:(i + 1) * 16] @ w))
    return total / 4


def reductions_with_axis(w, x):
    return np.sum(np.max(x * w, axis=1) ** 2) + np.sum(np.mean(x, axis=0) * w)


def broadcasting(w, x):
    return np.sum((x - w[None, :]) ** 2 * w)


def leaky(w, x):
    z = x @ w
    return np.sum(np.where(z > 0, z, 0.1 * z) ** 2)


def slices(w, x):
    return np.sum(x[2:10, 1:4] * w[1:4]) + np.sum(x[:, 0] ** 2 * w[0])


def item_write(w, x):
    y = x[:8] * w
    y[0] = y[0] * 2.0
    return np.sum(y ** 2)


def cumulative(w, x):
    return np.sum(np.cumsum(x @ w) ** 2)


@pytest.mark.parametrize("f", [loop_over_chunks, reductions_with_axis, broadcasting, leaky, slices, item_write,
                               cumulative])
def test_more_programs_are_lazy_and_equal_numpy(f, data):
    g = gradc.grad(f)
    expected = g(data["w"], data["x"])
    got = lazy_call(g, data["w"], chunked(data["x"]))
    assert isinstance(got, da.Array) and got.shape == (D,)
    assert_same(got, expected)


def test_item_write_leaves_the_argument_alone(data):
    x = chunked(data["x"])
    before = x.name
    gradc.grad(item_write, wrt=1)(data["w"], x)
    assert x.name == before


def test_value_and_grad_value_is_lazy(data):
    g = gradc.value_and_grad(tanh_mse)
    value, grad = lazy_call(g, data["W"], data["b"], chunked(data["x"]), chunked(data["y"]))
    assert isinstance(value, da.Array) and isinstance(grad, da.Array)
    np.testing.assert_allclose(value.compute(), tanh_mse(data["W"], data["b"], data["x"], data["y"]), rtol=1e-12)


def test_numpy_only_routine_on_dask_array_is_refused_before_computing(data):
    def f(x, w):
        return np.sum(np.sort(x, axis=0)[:3] * w)
    with pytest.raises(gradc.GradcError, match=r"numpy\.sort.*dask\.array\.Array.*does not implement"):
        lazy_call(gradc.grad(f, wrt=1), chunked(data["x"]), data["w"])


def test_numpy_linalg_without_dask_version_is_refused(data):
    def f(W, x):
        return np.linalg.det(W @ x[:5].T @ x[:5]) + np.sum(x)
    with pytest.raises(gradc.GradcError, match=r"numpy\.linalg\.det"):
        lazy_call(gradc.grad(f), np.eye(5), chunked(data["x"]))


def test_control_flow_on_dask_data_is_refused(data):
    def f(w, x):
        s = np.sum(x @ w)
        if s > 0:
            return s
        return -s
    with pytest.raises(gradc.GradcError, match="computed a Dask array"):
        lazy_call(gradc.grad(f), data["w"], chunked(data["x"]))


def test_fancy_index_gradient_is_refused(data):
    def f(x, w):
        return np.sum(x[[0, 0, 3]] ** 2 * w)
    with pytest.raises(gradc.GradcError, match=r"np\.add\.at.*dask\.array\.Array"):
        lazy_call(gradc.grad(f), chunked(data["x"]), data["w"])


def test_integer_dask_argument_is_not_differentiable(data):
    with pytest.raises(gradc.NonDifferentiableArgumentError):
        gradc.grad(lambda x: np.sum(x * 1.0))(da.ones((4,), dtype=np.int64, chunks=2))


def test_unknown_chunk_sizes_are_refused_before_computing(data):
    x = chunked(data["x"])
    x = x[x[:, 0] > 0]  # (a boolean mask: the chunks' sizes are unknown until computed)
    assert np.isnan(x.shape[0])
    g = gradc.grad(lambda w, x: np.sum(np.tanh(x @ w) ** 2))
    with pytest.raises(gradc.GradcError, match=r"(?s)unknown chunk sizes.*compute_chunk_sizes"):
        lazy_call(g, data["w"], x)


# -- forward mode and higher order -------------------------------------------------------------------------

def column_sums(W, x):
    return np.tanh(x @ W).sum(axis=0)


def test_jvp_is_lazy_and_equals_numpy(data):
    W, x, y = data["W"], data["x"], data["y"]
    b = data["b"]
    tangent = np.random.default_rng(1).normal(size=W.shape)
    value, out = lazy_call(gradc.jvp(tanh_mse, wrt=0), W, b, chunked(x), chunked(y), tangent)
    assert isinstance(value, da.Array) and isinstance(out, da.Array)
    assert_same((value, out), gradc.jvp(tanh_mse, wrt=0)(W, b, x, y, tangent))
    x_tangent = np.random.default_rng(2).normal(size=x.shape)  # (a Dask argument's tangent, a Dask array)
    value, out = lazy_call(gradc.jvp(tanh_mse, wrt=2), W, b, chunked(x), chunked(y), chunked(x_tangent))
    assert_same((value, out), gradc.jvp(tanh_mse, wrt=2)(W, b, x, y, x_tangent))
    gradient = gradc.grad(tanh_mse, wrt=2)(W, b, x, y)  # (the dot-product test)
    assert dask.compute(out)[0] == pytest.approx(float(np.sum(gradient * x_tangent)), rel=1e-10)


def test_hvp_hessian_and_jacobian_are_lazy_and_equal_numpy(data):
    W, b, x, y = data["W"], data["b"], data["x"], data["y"]
    v = np.random.default_rng(3).normal(size=W.shape)
    got = lazy_call(gradc.hvp(tanh_mse), W, b, chunked(x), chunked(y), v)
    assert isinstance(got, da.Array)
    assert_same(got, gradc.hvp(tanh_mse)(W, b, x, y, v))
    got = lazy_call(gradc.hessian(tanh_mse, wrt=1), W, b, chunked(x), chunked(y))
    assert isinstance(got, da.Array) and got.shape == (K, K)
    assert_same(got, gradc.hessian(tanh_mse, wrt=1)(W, b, x, y))
    for mode in ("fwd", "rev"):
        got = lazy_call(gradc.jacobian(column_sums, mode=mode), W, chunked(x))
        assert isinstance(got, da.Array) and got.shape == (K, D, K)
        assert_same(got, gradc.jacobian(column_sums, mode=mode)(W, x))


def write_into_a_slice(x):
    y = x[0:2]
    y[0] = 5.0 * y[1]
    return np.sum(x * x)


def test_write_into_a_view_refused(data):
    """A Dask slice is not a view: the write leaves x as it was (NumPy's reaches x). Refused, not followed as
    NumPy would run it."""
    with pytest.raises(gradc.GradcError, match="Dask's arrays have no views"):
        lazy_call(gradc.grad(write_into_a_slice), chunked(data["x"]))
