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


# ----------------------------------------------------------------------------------------------
# 7. the refusal of `x[i][j] = v` is a sentence saying what to write instead
# ----------------------------------------------------------------------------------------------

def writes_element_of_element(x):
    x[0][1] = 2.0 * x[1][0]
    return np.sum(x * x)


def writes_through_the_row(x):
    row = x[0]
    row[1] = 2.0 * x[1, 0]
    return np.sum(x * x)


def writes_through_a_list_item(xs):
    row = xs[0]
    row[1] = 2.0 * xs[1][0]
    return np.sum(xs[0] * xs[1])


def test_element_of_element_assignment_refusal_says_what_to_write():
    with pytest.raises(gradc.UnsupportedSyntaxError) as info:
        gradc.grad(writes_element_of_element)
    error = info.value
    assert error.loc.line == writes_element_of_element.__code__.co_firstlineno + 1
    assert "assignment to an element of an element (`x[i][j] = ...`) is not supported by gradc" in error.message
    assert error.hint == ("For an array, write `x[0, 1] = ...`. For a list of arrays, bind the item to a name "
                          "first: `row = x[0]`, then `row[1] = ...`.")


def test_what_the_refusal_suggests_differentiates():
    x = RNG.normal(size=(2, 3))
    ours = gradc.grad(writes_through_the_row)(x.copy())
    np.testing.assert_allclose(ours, numeric_gradient(lambda a: writes_through_the_row(a.copy()), (x,), 0),
                               rtol=1e-6, atol=1e-8)
    xs = [RNG.normal(size=3), RNG.normal(size=3)]
    dxs = gradc.grad(writes_through_a_list_item)([a.copy() for a in xs])
    expected_0 = xs[1].copy()
    expected_0[1] = 0.0  # overwritten
    expected_1 = xs[0].copy()
    expected_1[1] = 2.0 * xs[1][0]
    expected_1[0] += 2.0 * xs[1][1]
    np.testing.assert_allclose(dxs[0], expected_0)
    np.testing.assert_allclose(dxs[1], expected_1)
    for k in range(2):
        np.testing.assert_allclose(dxs[k], numeric_gradient(
            lambda a, b: writes_through_a_list_item([a.copy(), b.copy()]), tuple(xs), k), rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------------------------
# 3. parameters in dataclasses, named tuples and namespaces: containers, like dicts
# ----------------------------------------------------------------------------------------------

import copy  # noqa: E402
import dataclasses  # noqa: E402
import types  # noqa: E402
from typing import NamedTuple  # noqa: E402

from gradc.frontend.records import fields_of, is_record  # noqa: E402


def record_leaves(tree, path=()):
    """[(path, leaf)] of the float leaves of a tree of lists, tuples, dicts and records."""
    if is_record(tree):
        return [item for name, value in fields_of(tree) if _floating(value)
                for item in record_leaves(value, path + (name,))]
    if type(tree) is dict:
        return [item for key, value in tree.items() for item in record_leaves(value, path + (key,))]
    if type(tree) in (list, tuple):
        return [item for i, value in enumerate(tree) for item in record_leaves(value, path + (i,))]
    return [(path, tree)] if _floating(tree) else []


def _floating(value):
    if is_record(value) or type(value) in (list, tuple, dict):
        return bool(record_leaves(value))
    return isinstance(value, float) or (isinstance(value, np.ndarray) and value.dtype.kind == "f")


def record_get(tree, path):
    for key in path:
        tree = getattr(tree, key) if is_record(tree) else tree[key]
    return tree


def record_replace(tree, path, leaf):
    if not path:
        return leaf
    head, rest = path[0], path[1:]
    if is_record(tree):
        new = copy.copy(tree)
        value = record_replace(getattr(tree, head), rest, leaf)
        if isinstance(tree, tuple):
            return tree._replace(**{head: value})
        object.__setattr__(new, head, value)
        return new
    if type(tree) is dict:
        return {**tree, head: record_replace(tree[head], rest, leaf)}
    items = list(tree)
    items[head] = record_replace(tree[head], rest, leaf)
    return type(tree)(items)


def assert_record_gradient(f, args, index=0, rtol=1e-6, atol=1e-8):
    """gradc's gradient of `f` for `args[index]` has the argument's classes, its constant fields are
    None, and every float leaf equals central differences."""
    grad = gradc.grad(f, wrt=index)(*copy.deepcopy(list(args)))
    _assert_same_classes(grad, args[index], "gradient")
    for path, leaf in record_leaves(args[index]):
        flat = np.array(leaf, dtype=float).ravel()
        expected = np.empty_like(flat)
        for k in range(flat.size):
            values = []
            for step in (1e-6, -1e-6):
                moved = flat.copy()
                moved[k] += step
                new_leaf = moved.reshape(np.shape(leaf)) if isinstance(leaf, np.ndarray) else float(moved[0])
                call = copy.deepcopy(list(args))
                call[index] = record_replace(call[index], path, new_leaf)
                values.append(float(f(*call)))
            expected[k] = (values[0] - values[1]) / 2e-6
        np.testing.assert_allclose(record_get(grad, path), expected.reshape(np.shape(leaf)), rtol=rtol, atol=atol,
                                   err_msg=f"leaf {path}")
    return grad


def _assert_same_classes(grad, like, where):
    if is_record(like):
        assert type(grad) is type(like), f"{where}: {type(grad).__name__}, expected {type(like).__name__}"
        for name, value in fields_of(like):
            if _floating(value):
                _assert_same_classes(getattr(grad, name), value, f"{where}.{name}")
            else:
                assert getattr(grad, name) is None, f"{where}.{name}: a constant field's gradient is None"
    elif type(like) is dict:
        assert type(grad) is dict and list(grad) == list(like), where
        for key in like:
            _assert_same_classes(grad[key], like[key], f"{where}[{key!r}]")
    elif type(like) in (list, tuple):
        assert type(grad) is type(like) and len(grad) == len(like), where
        for k, (g, x) in enumerate(zip(grad, like)):
            _assert_same_classes(g, x, f"{where}[{k}]")
    elif isinstance(like, np.ndarray):
        assert isinstance(grad, np.ndarray) and grad.shape == like.shape and grad.dtype == like.dtype, where
    else:
        assert type(grad) is float, f"{where}: {type(grad).__name__}, expected float"


@dataclasses.dataclass
class Dense:
    w: np.ndarray
    b: np.ndarray
    scale: float = 1.0
    repeat: int = 1
    name: str = "dense"

    unit = 0.5  # a class attribute: a constant

    @property
    def wide(self):
        return self.w * self.scale

    def apply(self, h):
        return np.tanh(h @ self.wide + self.b)


@dataclasses.dataclass(frozen=True)
class Frozen:
    w: np.ndarray
    offset: float


class Pair(NamedTuple):
    w: np.ndarray
    b: np.ndarray
    label: str = "pair"


@dataclasses.dataclass
class Stack:
    layers: list
    biases: dict
    depth: int


H = RNG.normal(size=(4, 3))


def dense_loss(p, h):
    out = h
    for _ in range(p.repeat):
        out = np.tanh(out @ p.w + p.b) * p.scale
    return np.sum(out ** 2) + p.unit * np.sum(p.b)


def method_loss(p, h):
    return np.sum(p.apply(h) ** 2) + np.sum(p.wide)


def frozen_loss(p, h):
    return np.sum(np.sin(h @ p.w) + p.offset ** 2)


def pair_loss(p, h):
    w, b, label = p
    return np.sum((h @ p.w + b) ** 2) + np.sum(p[1] * w[0]) + len(p) * np.sum(w)


def namespace_loss(ns, h):
    out = h @ ns.layers[0] + ns.bias
    return np.sum(np.tanh(out) @ ns.layers[1]) * ns.gain + len(ns.tag)


def stack_loss(s, h):
    out = h
    for k in range(s.depth):
        out = np.tanh(out @ s.layers[k] + s.biases["b" + str(k)])
    return np.sum(out ** 2)


def layers_loss(layers, h):
    out = h
    for layer in layers:
        out = layer.apply(out)
    return np.sum(out ** 2)


def dict_of_records_loss(blocks, h):
    first = np.tanh(h @ blocks["enc"].w + blocks["enc"].b)
    return np.sum((first @ blocks["dec"].w + blocks["dec"].b) ** 2)


def dense(rng=RNG, n_in=3, n_out=3, **fields):
    return Dense(rng.normal(size=(n_in, n_out)) * 0.5, rng.normal(size=n_out) * 0.1, **fields)


def test_dataclass_parameter_gradient_is_a_dataclass():
    p = dense(scale=1.5, repeat=2)
    grad = assert_record_gradient(dense_loss, (p, H))
    assert isinstance(grad.scale, float) and grad.repeat is None and grad.name is None
    assert grad.w is not p.w and p.repeat == 2  # the argument is untouched


def test_dataclass_generated_source_reads_the_fields():
    text = gradc.grad(dense_loss).source_for(dense(), H)
    assert "w = p.w" in text and "b = p.b" in text
    assert "p.name" not in text  # a constant field the function never reads is not read


def test_dataclass_properties_methods_and_class_attributes():
    assert_record_gradient(method_loss, (dense(scale=0.7), H))


def test_frozen_dataclass():
    grad = assert_record_gradient(frozen_loss, (Frozen(RNG.normal(size=(3, 2)), 0.3), H))
    assert isinstance(grad, Frozen)


def test_named_tuple_indexed_unpacked_and_read_by_field():
    p = Pair(RNG.normal(size=(3, 3)), RNG.normal(size=3))
    grad = assert_record_gradient(pair_loss, (p, H))
    assert isinstance(grad, Pair) and grad.label is None


def test_simple_namespace_with_a_list_of_arrays():
    ns = types.SimpleNamespace(layers=[RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))], bias=RNG.normal(size=4),
                               gain=0.8, tag="abc")
    grad = assert_record_gradient(namespace_loss, (ns, H))
    assert isinstance(grad, types.SimpleNamespace) and isinstance(grad.layers, list) and grad.tag is None


def test_dataclass_holding_a_list_and_a_dict_of_arrays():
    s = Stack([RNG.normal(size=(3, 3)) * 0.5 for _ in range(2)], {"b0": RNG.normal(size=3), "b1": RNG.normal(size=3)},
              2)
    grad = assert_record_gradient(stack_loss, (s, H))
    assert grad.depth is None and list(grad.biases) == ["b0", "b1"]


def test_list_of_dataclasses_walked_by_a_loop_calling_their_method():
    layers = [dense(scale=1.0), dense(scale=0.5), dense(n_out=2, scale=2.0)]
    grad = assert_record_gradient(layers_loss, (layers, H))
    assert all(isinstance(g, Dense) for g in grad)


def test_dict_of_dataclasses():
    blocks = {"enc": dense(n_out=4), "dec": dense(n_in=4, n_out=2)}
    assert_record_gradient(dict_of_records_loss, (blocks, H))


def test_dataclass_and_an_array_together_and_as_a_constant():
    p = dense()
    dp, dh = gradc.grad(dense_loss, wrt=(0, 1))(p, H)
    assert isinstance(dp, Dense)
    np.testing.assert_allclose(dh, numeric_gradient(dense_loss, (p, H), 1), rtol=1e-6, atol=1e-8)
    only_h = gradc.grad(dense_loss, wrt=1)(p, H)  # the dataclass is a constant
    np.testing.assert_allclose(only_h, dh)
    value, grad = gradc.value_and_grad(dense_loss)(p, H)
    assert value == pytest.approx(dense_loss(p, H)) and isinstance(grad, Dense)


def test_jvp_takes_a_dataclass_tangent():
    p = dense()
    tangent = Dense(RNG.normal(size=(3, 3)), RNG.normal(size=3), scale=0.0, repeat=1, name="t")
    value, out = gradc.jvp(dense_loss)(p, H, tangent)
    grad = gradc.grad(dense_loss)(p, H)
    expected = np.sum(grad.w * tangent.w) + np.sum(grad.b * tangent.b)
    assert value == pytest.approx(dense_loss(p, H)) and out == pytest.approx(expected)
    with pytest.raises(gradc.GradcError, match="must be a Dense"):
        gradc.jvp(dense_loss)(p, H, {"w": tangent.w, "b": tangent.b})


def test_integer_arrays_in_a_dataclass_are_constants():
    p = types.SimpleNamespace(w=RNG.normal(size=3), index=np.array([2, 0]))

    grad = gradc.grad(gather_loss)(p)
    np.testing.assert_allclose(grad.w, [1.0, 0.0, 1.0])
    assert grad.index is None


def gather_loss(p):
    return np.sum(p.w[p.index])


def passes_whole(p, h):
    return np.sum(h) * opaque_norm(p)


def checks_class(p, h):
    if isinstance(p, Dense):
        return np.sum(h @ p.w)
    return 0.0


def returns_record(p, h):
    return p


def reads_missing(p, h):
    return np.sum(p.v)


def indexes_dataclass(p, h):
    return np.sum(p["w"])


def assigns_field(p, h):
    p.w = h
    return np.sum(p.w)


opaque_norm = np.linalg.norm  # (gradc does not inline NumPy: a use of the whole record)


@pytest.mark.parametrize("fun, message", [
    (passes_whole, "`p` (a dataclass `Dense` in wrt, which gradc differentiates field by field) is used as a whole"),
    (checks_class, "used as a whole"),
    (returns_record, "is returned here"),
    (reads_missing, "`Dense` has no field `v` (its fields are w, b, scale, repeat, name)"),
    (indexes_dataclass, "used as a whole"),
])
def test_what_a_dataclass_cannot_do_is_refused_at_its_line(fun, message):
    with pytest.raises(gradc.GradcError) as info:
        gradc.grad(fun)(dense(), H)
    error = info.value
    assert message in error.message
    assert error.loc is not None and error.loc.line > fun.__code__.co_firstlineno


def test_assigning_a_field_is_refused_saying_what_to_write():
    with pytest.raises(gradc.UnsupportedSyntaxError) as info:
        gradc.grad(assigns_field)
    assert "assignment to an attribute" in info.value.message
    assert "name of its own" in info.value.hint
    assert info.value.loc.line == assigns_field.__code__.co_firstlineno + 1


# ----------------------------------------------------------------------------------------------
# 4. an output of one element (shape (1,) or (1, 1)) is seeded with ones of its shape
# ----------------------------------------------------------------------------------------------

def one_element(x, w):
    return x @ w  # (3,) @ (3, 1): shape (1,)


def one_by_one(x, w):
    return np.tanh(x[None, :] @ w) * 2.0  # shape (1, 1)


def one_element_loop(xs):
    out = np.zeros(1)
    for x in xs:
        out = out + np.sin(x) * x
    return out


def two_elements(x):
    return x[:2] * 2.0


@pytest.mark.parametrize("fun", [one_element, one_by_one])
def test_one_element_output_gradient_as_autograd(fun):
    x, w = RNG.normal(size=3), RNG.normal(size=(3, 1))
    assert np.shape(fun(x, w)) in ((1,), (1, 1))
    dx, dw = gradc.grad(fun, wrt=(0, 1))(x, w)
    assert dx.shape == x.shape and dw.shape == w.shape
    scalar = lambda a, b: float(np.sum(fun(a, b)))  # noqa: E731
    np.testing.assert_allclose(dx, numeric_gradient(scalar, (x, w), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, numeric_gradient(scalar, (x, w), 1), rtol=1e-6, atol=1e-8)
    if autograd is not None:
        np.testing.assert_allclose(dx, autograd_grad(fun, x, w, argnum=0), rtol=1e-10)


def test_one_element_output_float32_loop_and_value_and_grad():
    xs = RNG.normal(size=(4, 1))
    grad = gradc.grad(one_element_loop)(xs)
    np.testing.assert_allclose(grad, np.sin(xs) + xs * np.cos(xs), rtol=1e-12)
    x32, w32 = RNG.normal(size=3).astype(np.float32), RNG.normal(size=(3, 1)).astype(np.float32)
    g32 = gradc.grad(one_element)(x32, w32)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, w32[:, 0])
    value, grad = gradc.value_and_grad(one_element)(x32.astype(float), w32.astype(float))
    assert value.shape == (1,)


def test_larger_outputs_still_refused():
    with pytest.raises(gradc.NonScalarOutputError, match=r"shape \(2,\)") as info:
        gradc.grad(two_elements)(X)
    assert "vjp" in info.value.hint


# ----------------------------------------------------------------------------------------------
# 6. a syntax error in the user's file reads like every gradc error: file:line:col, line, caret
# ----------------------------------------------------------------------------------------------

import importlib  # noqa: E402
import linecache  # noqa: E402

from gradc.cli import main as cli_main  # noqa: E402
from gradc.errors import SourceSyntaxError  # noqa: E402


@pytest.mark.parametrize("body, line, col, message", [
    ("    return np.sum(x ** 2\n", 4, 18, "'(' was never closed"),
    ("    y = x +* 2\n    return y\n", 4, 12, "invalid syntax"),
    ("    return x\n  return y\n", 5, 10, "unindent does not match any outer indentation level"),
])
def test_cli_syntax_error_is_located_with_line_and_caret(tmp_path, capsys, body, line, col, message):
    path = tmp_path / "broken.py"
    path.write_text("import numpy as np\n\ndef loss(x):\n" + body)
    assert cli_main([f"{path}:loss"]) == 1
    err = capsys.readouterr().err.splitlines()
    if "unindent" in message:  # (where on the line Python places it differs between versions)
        assert err[0].startswith(f"{path}:{line}:") and message in err[0]
    else:
        assert err[0] == f"{path}:{line}:{col}: error: {message}"
    assert err[1].strip() == (body.splitlines()[line - 4]).strip()
    assert err[2].strip() == "^"
    assert "SyntaxError" not in "\n".join(err) and "gradc: error:" not in "\n".join(err)


def test_cli_syntax_error_in_a_module_spec(tmp_path, capsys, monkeypatch):
    (tmp_path / "broken_module.py").write_text("def loss(x):\n    return x +\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli_main(["broken_module:loss"]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(str(tmp_path / "broken_module.py") + ":2:") and "error: invalid syntax" in first


@pytest.mark.parametrize("edited, line, message", [
    ("        y = x +* 2\n        return y\n", 5, "invalid syntax"),
    ("        return np.sum(x * x))\n", 5, "unmatched ')'"),
])
def test_api_syntax_error_of_a_file_edited_since_import(tmp_path, monkeypatch, edited, line, message):
    path = tmp_path / "edited_model.py"
    path.write_text("import numpy as np\n\nclass K:\n    def loss(self, x):\n        return np.sum(x * x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("edited_model")
    try:
        path.write_text("import numpy as np\n\nclass K:\n    def loss(self, x):\n" + edited)
        linecache.checkcache(str(path))
        with pytest.raises(SourceSyntaxError) as info:
            gradc.grad(module.K().loss)
        error = info.value
        assert isinstance(error, gradc.GradcError) and isinstance(error, SyntaxError)
        assert (error.loc.file, error.loc.line) == (str(path), line) and error.message == message
        assert error.lineno == line and error.filename == str(path)
        rendered = str(error).splitlines()
        assert rendered[0].startswith(f"{path}:{line}:") and "^" in rendered[2]
    finally:
        sys.modules.pop("edited_model", None)


# ----------------------------------------------------------------------------------------------
# 5. check_grad and `gradc FILE:FUNC --check` with containers, records and integers
# ----------------------------------------------------------------------------------------------

from gradc.cli_check import parse_spec  # noqa: E402
from gradc.extend import compare_gradients  # noqa: E402


def repeated(x, n):
    total = 0.0
    for k in range(n):  # n stays an int
        total = total + np.sum(np.sin(x * (k + 1)))
    return total


def dict_params_loss(params, x, idx):
    h = np.tanh(x @ params["W"] + params["b"])
    return np.sum(h[idx] ** 2)


def pairs_loss(layers, x):
    for W, b in layers:
        x = np.tanh(x @ W + b)
    return np.sum(x)


def wrong_in_place(params, x):
    params["W"] *= 1.0  # (a function writing into its argument: each evaluation gets a copy)
    return np.sum(x @ params["W"])


def test_check_grad_keeps_integers_and_checks_containers_leaf_by_leaf():
    gradc.check_grad(repeated, X, 3)
    params = {"W": RNG.normal(size=(3, 2)), "b": RNG.normal(size=2)}
    comparisons = compare_gradients(dict_params_loss, params, H, np.array([0, 2]))
    assert [(c.name, c.shape, c.ok) for c in comparisons] == [("params['W']", (3, 2), True),
                                                             ("params['b']", (2,), True)]
    layers = [(RNG.normal(size=(3, 3)), RNG.normal(size=3)), (RNG.normal(size=(3, 2)), RNG.normal(size=2))]
    comparisons = compare_gradients(pairs_loss, layers, X, wrt=(0, 1))
    assert [c.name for c in comparisons] == ["layers[0][0]", "layers[0][1]", "layers[1][0]", "layers[1][1]", "x"]
    assert all(c.ok for c in comparisons)
    gradc.check_grad(pairs_loss, tuple(layers), X)
    gradc.check_grad(wrong_in_place, {"W": RNG.normal(size=(3, 2))}, X)


def test_check_grad_of_records_and_bound_methods():
    comparisons = compare_gradients(dense_loss, dense(scale=1.5, repeat=2), H)
    assert [c.name for c in comparisons] == ["p.w", "p.b", "p.scale"] and all(c.ok for c in comparisons)
    gradc.check_grad(layers_loss, [dense(), dense(n_out=2)], H)
    gradc.check_grad(Model(W.copy()).loss, X, Y, wrt=(0, 1))


def test_check_grad_still_catches_a_wrong_leaf():
    import copy
    from gradc.rules.registry import REGISTRY
    builtin = copy.copy(REGISTRY[np.cbrt])  # (gradc's own rule, put back after)

    @gradc.defvjp(np.cbrt)
    def cbrt_vjp(g, ans, x):
        return g / (2.0 * ans * ans)  # (3 would be right)

    try:
        with pytest.raises(AssertionError, match=r"with respect to `params\['W'\]`"):
            gradc.check_grad(cbrt_loss, {"W": RNG.uniform(1.0, 2.0, size=(2, 2)), "b": 1.0})
    finally:
        REGISTRY[np.cbrt] = builtin
        gradc.api.clear_cache()
    assert gradc.grad(cbrt_loss)({"W": np.full((2, 2), 8.0), "b": 1.0})["W"] == pytest.approx(np.full((2, 2), 1 / 12))


def cbrt_loss(params):
    return np.sum(np.cbrt(params["W"])) + params["b"] ** 2


@pytest.mark.parametrize("spec, expected", [
    ("n=5 x=(2,)", {"n": 5, "x": (2,)}),
    ("idx=array([0, 2]) w=array([0.5, 1.0])", {"idx": np.array([0, 2]), "w": np.array([0.5, 1.0])}),
    ("layers=[(3,4), (4,)]", {"layers": [(3, 4), (4,)]}),
    ("p={'W': (3, 2), 'n': 2}", {"p": {"W": (3, 2), "n": 2}}),
    ("pair=((3,), 2) k=randint(4, (3,))", {"pair": ((3,), 2), "k": "ints"}),
])
def test_args_language_builds_integer_arrays_lists_and_dicts(spec, expected):
    from gradc.cli_check import _make
    rng = np.random.default_rng(0)
    made = {name: _make(value, rng) for name, value in parse_spec(spec).items()}
    for name, want in expected.items():
        got = made[name]
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and np.array_equal(got, want)
        elif want == "ints":
            assert got.dtype.kind == "i" and got.shape == (3,) and got.min() >= 0 and got.max() < 4
        elif isinstance(want, list):
            assert [np.shape(g) for g in got] == [(3, 4), (4,)] and got[0].dtype == np.float64
        elif isinstance(want, dict):
            assert got["W"].shape == (3, 2) and got["n"] == 2 and type(got["n"]) is int
        elif isinstance(want, tuple) and name == "pair":
            assert type(got) is tuple and got[0].shape == (3,) and got[1] == 2
        elif isinstance(want, tuple):
            assert got.shape == want
        else:
            assert got == want and type(got) is type(want)


def test_cli_check_with_a_dict_an_index_array_and_an_integer(tmp_path, capsys):
    path = tmp_path / "cli_models.py"
    path.write_text("import numpy as np\n\n"
                    "def loss(params, x, idx, n):\n"
                    "    h = x\n"
                    "    for _ in range(n):\n"
                    "        h = np.tanh(h @ params['W'] + params['b'])\n"
                    "    return np.sum(h[idx] ** 2)\n")
    argv = [f"{path}:loss", "--check", "--args",
            "params={'W': (3, 3), 'b': (3,)} x=(4, 3) idx=array([0, 3]) n=2"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "checking dloss with respect to params at random inputs"
    assert out[1].split()[:2] == ["params['W']", "(3,"] and out[1].endswith("ok")
    assert out[2].split()[0] == "params['b']" and out[-1] == "gradient check passed"


def test_cli_args_usage_errors(tmp_path, capsys):
    path = tmp_path / "cli_models2.py"
    path.write_text("import numpy as np\n\ndef loss(x, idx):\n    return np.sum(x[idx])\n")
    with pytest.raises(SystemExit) as info:
        cli_main([f"{path}:loss", "--check", "--args", "x=(3,) idx=array([0,"])
    assert info.value.code == 2 and "unbalanced" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main([f"{path}:loss", "--check", "--args", "x=(3,) idx=np.arange(2)"])
    assert "array([0, 2, 1])" in capsys.readouterr().err
