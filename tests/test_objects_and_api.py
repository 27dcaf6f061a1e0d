"""Python and NumPy as people write them: bound methods, functools.partial, parameters held in
dataclasses / NamedTuples / SimpleNamespaces, one-element outputs, check_grad and the CLI with
containers and integers, syntax errors, the `x[i][j] = v` refusal.

Gradients are compared with central finite differences in float64 and, where autograd runs the
same code (numpy rebound to autograd.numpy in this module), with autograd.
"""
from __future__ import annotations

import functools
import sys

import numpy as np
import pytest

import gradc
from gradcheck import numeric_gradient
from treecheck import numpy_is_autograd

try:
    import autograd
except ImportError:  # autograd is an optional oracle
    autograd = None

RNG = np.random.default_rng(11)
X = RNG.normal(size=3)
Y = RNG.normal(size=3)
W = RNG.normal(size=3)
M = RNG.normal(size=(3, 2))


def autograd_grad(fun, *args, argnum=0):
    """autograd's gradient of `fun` with this module's `np` bound to autograd.numpy; None without it."""
    if autograd is None:
        return None
    with numpy_is_autograd([sys.modules[__name__]]):
        return autograd.grad(fun, argnum)(*args)


def assert_close_to_oracles(ours, fun, args, index, autograd_index=None):
    """`ours` equals finite differences of `fun` at `args` for `args[index]`, and autograd's gradient."""
    np.testing.assert_allclose(ours, numeric_gradient(fun, args, index), rtol=1e-6, atol=1e-7)
    theirs = autograd_grad(fun, *args, argnum=index if autograd_index is None else autograd_index)
    if theirs is not None:
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# 1. bound methods: the instance is a constant, wrt counts the parameters after self
# ----------------------------------------------------------------------------------------------

class Model:
    scale = 2.0

    def __init__(self, w, n=2):
        self.w = w
        self.n = n

    def loss(self, x, y):
        total = 0.0
        for _ in range(self.n):  # an integer attribute: a constant of the call
            total = total + np.sum((self.w * x - y) ** 2)
        return total * self.scale

    def features(self, x):
        return np.tanh(x * self.w)

    def calls_helper_through_class(self, x):
        return np.sum(Model.features(self, x) ** 2)

    def calls_helper_through_self(self, x):
        return np.sum(self.features(x) ** 2)

    def __call__(self, x):
        return np.sum(np.sin(self.w * x))

    @classmethod
    def reference(cls, x):
        return np.sum(x * x) * cls.scale

    @staticmethod
    def plain(x):
        return np.sum(np.exp(x))


class Subclass(Model):
    scale = 3.0


def test_bound_method_gradient_of_its_first_argument():
    model = Model(W.copy())
    ours = gradc.grad(model.loss)(X, Y)
    assert_close_to_oracles(ours, model.loss, (X, Y), 0)
    np.testing.assert_allclose(ours, 2 * 2.0 * 2 * (W * X - Y) * W)


def test_bound_method_wrt_counts_parameters_after_self():
    model = Model(W.copy(), n=3)
    by_index = gradc.grad(model.loss, wrt=1)(X, Y)
    by_name = gradc.grad(model.loss, wrt="y")(X, Y)
    np.testing.assert_array_equal(by_index, by_name)
    assert_close_to_oracles(by_index, model.loss, (X, Y), 1)
    both = gradc.grad(model.loss, wrt=(0, 1))(X, Y)
    assert isinstance(both, tuple) and len(both) == 2
    np.testing.assert_allclose(both[1], by_index)
    with pytest.raises(gradc.GradcError, match="wrt='self'"):
        gradc.grad(model.loss, wrt="self")
    with pytest.raises(gradc.GradcError, match="2 argument"):
        gradc.grad(model.loss, wrt=2)


def test_bound_method_reads_the_instance_at_each_call():
    """The instance's attributes are read when the gradient runs: a training loop that updates
    `model.w` (even to another shape) gets the gradient at the new weights."""
    model = Model(W.copy())
    dloss = gradc.grad(model.loss)
    first = dloss(X, Y)
    model.w = model.w * 2.0
    np.testing.assert_allclose(dloss(X, Y), numeric_gradient(model.loss, (X, Y), 0), rtol=1e-6)
    assert not np.allclose(first, dloss(X, Y))
    model.w = 1.5  # a float where there was an array
    np.testing.assert_allclose(dloss(X, Y), numeric_gradient(model.loss, (X, Y), 0), rtol=1e-6)
    model.n = 1
    np.testing.assert_allclose(dloss(X, Y), numeric_gradient(model.loss, (X, Y), 0), rtol=1e-6)


def test_two_instances_share_a_compilation_but_not_their_attributes():
    a, b = Model(W.copy()), Model(-2.0 * W, n=1)
    ga, gb = gradc.grad(a.loss), gradc.grad(b.loss)
    np.testing.assert_allclose(ga(X, Y), numeric_gradient(a.loss, (X, Y), 0), rtol=1e-6)
    np.testing.assert_allclose(gb(X, Y), numeric_gradient(b.loss, (X, Y), 0), rtol=1e-6)
    assert ga.__wrapped__.__code__ is gb.__wrapped__.__code__  # one wrapper, so one compilation
    sub = Subclass(W.copy())  # a class attribute read through self: the subclass's
    np.testing.assert_allclose(gradc.grad(sub.loss)(X, Y), numeric_gradient(sub.loss, (X, Y), 0), rtol=1e-6)


def test_bound_method_source_reads_self_from_the_instance():
    model = Model(W.copy())
    text = gradc.grad(model.loss).source_for(X, Y)
    assert text.startswith("def dloss(x, y):")
    assert "self = " in text and "self.w" in text


def test_method_calling_another_method_through_its_class():
    model = Model(W.copy())
    ours = gradc.grad(model.calls_helper_through_class)(X)
    assert_close_to_oracles(ours, model.calls_helper_through_class, (X,), 0)


def test_method_calling_another_method_through_self_is_refused_saying_what_to_write():
    model = Model(W.copy())
    with pytest.raises(gradc.NoGradientRuleError) as info:
        gradc.grad(model.calls_helper_through_self)(X)
    text = str(info.value)
    assert "self.features(x)" in text and "ClassName.features(self, ...)" in text


def test_callable_object_class_method_and_static_method():
    model = Model(W.copy())
    assert_close_to_oracles(gradc.grad(model)(X), model, (X,), 0)
    assert_close_to_oracles(gradc.grad(Model.reference)(X), Model.reference, (X,), 0)
    np.testing.assert_allclose(gradc.grad(Subclass.reference)(X), 2 * 3.0 * X)
    assert_close_to_oracles(gradc.grad(model.plain)(X), Model.plain, (X,), 0)


def test_bound_method_through_the_other_transforms():
    model = Model(W.copy())
    value, grad = gradc.value_and_grad(model.loss)(X, Y)
    assert value == pytest.approx(model.loss(X, Y))
    np.testing.assert_allclose(grad, gradc.grad(model.loss)(X, Y))
    features = Model(W.copy()).features
    cotangent = RNG.normal(size=3)
    np.testing.assert_allclose(gradc.vjp(features)(X, cotangent), cotangent * (1 - np.tanh(X * W) ** 2) * W)
    value, tangent = gradc.jvp(features)(X, np.ones(3))
    np.testing.assert_allclose(tangent, (1 - np.tanh(X * W) ** 2) * W)
    np.testing.assert_allclose(gradc.hessian(model.loss)(X, Y), np.diag(2 * 2.0 * 2 * W * W), atol=1e-12)
    np.testing.assert_allclose(gradc.jacobian(features)(X), np.diag((1 - np.tanh(X * W) ** 2) * W))
    gradc.check_grad(model.loss, X, Y, wrt=(0, 1))


def test_gradient_of_a_gradient_of_a_bound_method():
    model = Model(W.copy())
    first = gradc.grad(model.calls_helper_through_class)
    v = RNG.normal(size=3)
    expected = numeric_gradient(lambda x: float(first(x) @ v), (X,), 0)
    np.testing.assert_allclose(gradc.vjp(first)(X, v), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gradc.hvp(model.calls_helper_through_class)(X, v), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fun, message", [
    (np.sin, "np.sin(x)"),
    (len, "len(x)"),
    (Model, "a class"),
    (3, "not a function"),
])
def test_what_cannot_be_differentiated_says_what_to_do_instead(fun, message):
    with pytest.raises(gradc.SourceUnavailableError) as info:
        gradc.grad(fun)
    text = str(info.value)
    assert message in text
    assert "define it with def" not in text and ("gradc.grad(f)" in text or "bound methods" in text)


# ----------------------------------------------------------------------------------------------
# 2. functools.partial: positional and keyword prefixes, wrt counts the remaining parameters
# ----------------------------------------------------------------------------------------------

def bilinear(a, x, y, eps=0.5):
    return np.sum(np.tanh(a @ x) * y) + eps * np.sum(x * x)


def test_partial_with_a_positional_prefix():
    fixed = functools.partial(bilinear, M.T)
    y0 = RNG.normal(size=2)
    ours = gradc.grad(fixed)(X, y0)
    assert_close_to_oracles(ours, fixed, (X, y0), 0)
    ours_y = gradc.grad(fixed, wrt="y")(X, y0)
    assert_close_to_oracles(ours_y, fixed, (X, y0), 1)


def test_partial_with_a_keyword_prefix_and_wrt_of_the_keyword():
    x0, y0 = RNG.normal(size=2), RNG.normal(size=3)
    fixed = functools.partial(bilinear, M, eps=2.0)
    assert fixed(x0, y0) == pytest.approx(bilinear(M, x0, y0, eps=2.0))
    ours = gradc.grad(fixed)(x0, y0)
    np.testing.assert_allclose(ours, numeric_gradient(fixed, (x0, y0), 0), rtol=1e-6)
    d_eps = gradc.grad(lambda_free_eps := functools.partial(bilinear, M, x0, y0), wrt="eps")(2.0)
    assert isinstance(d_eps, float) and d_eps == pytest.approx(np.sum(x0 * x0))
    assert lambda_free_eps(2.0) == pytest.approx(fixed(x0, y0))
    by_keyword = gradc.grad(functools.partial(bilinear, M, y=y0))(x0)  # y given by name: x remains
    np.testing.assert_allclose(by_keyword, numeric_gradient(lambda x: bilinear(M, x, y0), (x0,), 0), rtol=1e-6)
    overridden = gradc.grad(fixed)(x0, y0, eps=0.0)  # a keyword given again at the call wins
    np.testing.assert_allclose(overridden, numeric_gradient(lambda x: bilinear(M, x, y0, 0.0), (x0,), 0),
                               rtol=1e-6)


def test_partial_wrt_indexes_the_remaining_parameters():
    x0, y0 = RNG.normal(size=2), RNG.normal(size=3)
    fixed = functools.partial(bilinear, M)
    dx, dy = gradc.grad(fixed, wrt=(0, 1))(x0, y0)
    np.testing.assert_allclose(dx, numeric_gradient(fixed, (x0, y0), 0), rtol=1e-6)
    np.testing.assert_allclose(dy, numeric_gradient(fixed, (x0, y0), 1), rtol=1e-6)
    with pytest.raises(gradc.GradcError, match="has no argument named 'a'"):
        gradc.grad(fixed, wrt="a")


def test_partial_of_a_bound_method_and_of_a_partial():
    model = Model(W.copy())
    fixed_y = functools.partial(model.loss, y=Y)
    np.testing.assert_allclose(gradc.grad(fixed_y)(X), gradc.grad(model.loss)(X, Y))
    twice = functools.partial(functools.partial(bilinear, M), eps=1.5)
    x0, y0 = RNG.normal(size=2), RNG.normal(size=3)
    np.testing.assert_allclose(gradc.grad(twice)(x0, y0), numeric_gradient(twice, (x0, y0), 0), rtol=1e-6)


def test_partial_through_vjp_jvp_and_check_grad():
    x0, y0 = RNG.normal(size=2), RNG.normal(size=3)
    fixed = functools.partial(bilinear, M, eps=0.25)
    gradc.check_grad(fixed, x0, y0, wrt=(0, 1))
    value, tangent = gradc.jvp(fixed)(x0, y0, np.array([1.0, 0.0]))
    assert value == pytest.approx(fixed(x0, y0))
    assert tangent == pytest.approx(gradc.grad(fixed)(x0, y0)[0])
    np.testing.assert_allclose(gradc.vjp(fixed)(x0, y0, 1.0), gradc.grad(fixed)(x0, y0))


def varargs(*xs):
    return sum(np.sum(x) for x in xs)


def test_partial_of_a_function_with_star_args_is_refused_saying_why():
    with pytest.raises(gradc.GradcError, match=r"\*xs"):
        gradc.grad(functools.partial(varargs, X))
