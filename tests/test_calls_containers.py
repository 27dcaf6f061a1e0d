"""Issue 4: calls to the user's own functions, container arguments, user rules.

Every function is a module-level `def` (gradc reads its source). Gradients are compared with
central finite differences in float64 and with autograd where it runs the function
(`treecheck.assert_tree_gradients`, which also checks that a gradient has exactly the
structure of its container argument). Failures that are gradc's are kept as strict xfails
with a diagnosis.
"""

import numpy as np
import pytest

import gradc
from gradc.rules.registry import REGISTRY
from fixtures import calls_refused, nn_helpers, nn_inner
from fixtures.nn_helpers import act, layer, mlp_apply, shifted
from gradcheck import assert_gradients, default_build_only
from locate import location_of
from treecheck import assert_same_structure, assert_tree_gradients, tree_leaves

HELPER_MODULES = (nn_helpers, nn_inner)
RNG = np.random.default_rng(4)
V3 = np.array([0.3, -0.7, 1.1])
W3 = np.array([-0.4, 0.9, 0.2])
X = RNG.normal(size=(4, 3))
Y = RNG.normal(size=(4, 2))
LAYERS = [(RNG.normal(size=(3, 5)) * 0.5, RNG.normal(size=5) * 0.1),
          (RNG.normal(size=(5, 2)) * 0.5, RNG.normal(size=2) * 0.1)]
PARAMS = {"W1": LAYERS[0][0], "b1": LAYERS[0][1], "W2": LAYERS[1][0], "b2": LAYERS[1][1]}


def check(f, args, wrt=0, **options):
    options.setdefault("modules", HELPER_MODULES)
    return assert_tree_gradients(f, args, wrt, **options)


# ----------------------------------------------------------------------------------------
# The models of the issue: an MLP over a list of (W, b) tuples with a helper `layer`, and a
# dict-of-params variant
# ----------------------------------------------------------------------------------------

def mlp_loss(params, x, y):
    h = x
    for W, b in params:
        h = layer(W, b, h)
    return np.mean((h - y) ** 2)


def mlp_loss_dict(params, x, y):
    h = layer(params["W1"], params["b1"], x)
    out = h @ params["W2"] + params["b2"]
    return np.sum((out - y) ** 2) / x.shape[0]


def mlp_loss_unpacked(params, x, y):
    W1, b1 = params[0]
    W2, b2 = params[1]
    h = layer(W1, b1, x)
    return np.mean((layer(W2, b2, h) - y) ** 2)


def mlp_loss_zip(Ws, bs, x, y):
    h = x
    for W, b in zip(Ws, bs):
        h = layer(W, b, h)
    return np.mean((h - y) ** 2)


def mlp_loss_indexed(params, x, y):
    h = x
    for i in range(len(params)):
        h = layer(params[i][0], params[i][1], h)
    return np.mean((h - y) ** 2)


def mlp_loss_helper_module(params, x, y):
    return np.mean((mlp_apply(params, x) - y) ** 2)


def sum_of_squares(ps):
    return np.sum(ps[0] ** 2) + np.sum(ps[1][0] * 2.0)


def test_container_gradient_minimal():
    """The smallest container gradient (a regression test: leaves' kinds are not None)."""
    grads = gradc.grad(sum_of_squares)([V3, (W3,)])
    assert type(grads) is list and type(grads[1]) is tuple
    np.testing.assert_allclose(grads[0], 2 * V3)
    np.testing.assert_allclose(grads[1][0], np.full(3, 2.0))


def ragged_index_loop(ps):
    t = 0.0
    for i in range(len(ps)):
        t = t + np.sum(ps[i] ** 2)
    return t


def test_index_loop_over_same_shaped_items():
    check(ragged_index_loop, [[V3, W3]])


def test_index_loop_over_items_of_different_shapes():
    check(ragged_index_loop, [[V3, W3[:2]]])


def test_mlp_list_of_layer_tuples():
    (grads,) = check(mlp_loss, [LAYERS, X, Y], require_autograd=True)
    assert type(grads) is list and all(type(layer_grad) is tuple for layer_grad in grads)


def test_mlp_dict_of_params():
    (grads,) = check(mlp_loss_dict, [PARAMS, X, Y], require_autograd=True)
    assert list(grads) == ["W1", "b1", "W2", "b2"]


def test_mlp_dict_keys_keep_their_order():
    params = {"b2": PARAMS["b2"], "W1": PARAMS["W1"], "W2": PARAMS["W2"], "b1": PARAMS["b1"]}
    (grads,) = check(mlp_loss_dict, [params, X, Y])
    assert list(grads) == ["b2", "W1", "W2", "b1"]


def test_mlp_tuple_unpacking_of_a_layer():
    check(mlp_loss_unpacked, [LAYERS, X, Y], require_autograd=True)


def test_mlp_tuple_of_tuples_stays_tuple():
    (grads,) = check(mlp_loss, [tuple(LAYERS), X, Y])
    assert type(grads) is tuple


def test_mlp_zip_over_two_lists():
    Ws, bs = [W for W, _ in LAYERS], [b for _, b in LAYERS]
    check(mlp_loss_zip, [Ws, bs, X, Y], wrt=(0, 1), require_autograd=True)


def test_mlp_indexing_with_loop_variable():
    check(mlp_loss_indexed, [LAYERS, X, Y], require_autograd=True)


def test_mlp_loop_inside_a_helper_of_another_module():
    check(mlp_loss_helper_module, [LAYERS, X, Y], require_autograd=True)


def test_mlp_three_layers():
    layers = [(RNG.normal(size=(3, 4)), RNG.normal(size=4)), (RNG.normal(size=(4, 4)), RNG.normal(size=4)),
              (RNG.normal(size=(4, 2)), RNG.normal(size=2))]
    check(mlp_loss, [layers, X, Y])


def test_mlp_gradient_with_respect_to_data_and_params():
    check(mlp_loss, [LAYERS, X, Y], wrt=(0, 1))


def test_mlp_float32_params_give_float32_gradients():
    layers32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in LAYERS]
    grads = gradc.grad(mlp_loss)(layers32, X.astype(np.float32), Y.astype(np.float32))
    assert_same_structure(grads, layers32)
    expected = gradc.grad(mlp_loss)(LAYERS, X, Y)
    for (path, g), (_, e) in zip(tree_leaves(grads), tree_leaves(expected)):
        assert g.dtype == np.float32, path
        np.testing.assert_allclose(g, e, rtol=1e-3, atol=1e-5)


def test_mlp_wrt_by_name_and_value_and_grad():
    grads = gradc.grad(mlp_loss, wrt="params")(LAYERS, X, Y)
    value, grads2 = gradc.value_and_grad(mlp_loss, wrt="params")(LAYERS, X, Y)
    assert value == pytest.approx(mlp_loss(LAYERS, X, Y), rel=1e-12)
    assert_same_structure(grads, LAYERS)
    for (_, a), (_, b) in zip(tree_leaves(grads), tree_leaves(grads2)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_mlp_structures_are_compiled_separately():
    """One GradFunction called with two different structures gives each its own gradient."""
    g = gradc.grad(mlp_loss)
    two = g(LAYERS, X, Y)
    one = g(LAYERS[:1], X, np.tanh(X @ LAYERS[0][0] + LAYERS[0][1]) * 0.5)
    assert len(two) == 2 and len(one) == 1
    check(mlp_loss, [LAYERS[:1], X, RNG.normal(size=(4, 5))])


def test_mlp_generated_source_names_the_helper():
    source = gradc.grad(mlp_loss).source_for(LAYERS, X, Y)
    assert "layer, line" in source
    compile(source, "<mlp>", "exec")


# ----------------------------------------------------------------------------------------
# Containers inside the function
# ----------------------------------------------------------------------------------------

def nested_tree(p, x):
    return np.sum(p["a"][0] * x) + np.sum(p["a"][1]["c"] ** 2) + p["s"] * 3.0


def literals(x, y):
    items = [x, y, x * y]
    named = {"u": x, "v": y}
    pair = (np.sin(x), y)
    return np.sum(items[2]) + np.sum(named["u"] * named["v"]) + np.sum(items[-1] * pair[0]) + np.sum(pair[1])


def tuple_element_returned(p):
    a, b = p
    return (np.sum(a * b), a)[0]


def stack_appended(ws, x):
    outs = []
    for w in ws:
        outs.append(np.tanh(w * x))
    return np.sum(np.stack(outs) ** 2)


def sum_appended(x):
    outs = []
    for i in range(3):
        outs.append(np.sin(x * (i + 1)))
    return np.sum(sum(outs) ** 2)


def enumerate_items(ws, x):
    t = 0.0
    for i, w in enumerate(ws):
        t = t + np.sum(w * x) * (i + 1)
    return t


def negative_container_index(p):
    return np.sum(p[-1] ** 2) + np.sum(p[0] * p[-2])


def same_array_twice(p):
    return np.sum(p[0] * np.cos(p[1]))


def float_leaves(p, x):
    return np.sum(x * p[0]) + p[1] * p[1]


def constant_container(x, consts):
    return np.sum(np.tanh(x * consts[0] + consts[1]["shift"]))


def container_built_in_a_loop(x):
    pairs = []
    for i in range(3):
        pairs.append(x * (i + 1.0))
    return np.sum(np.stack(pairs) * np.stack(pairs[::-1]))


def test_nested_dict_list_tree():
    arg = {"a": [V3, {"c": W3}], "s": 1.5}
    check(nested_tree, [arg, V3], wrt=(0, 1))


def test_nested_tree_float32_leaf_and_float_leaf():
    arg = {"a": (V3.astype(np.float32), {"c": W3}), "s": 1.5}
    (grads,) = gradc.grad(nested_tree, wrt=(0,))(arg, V3)
    assert_same_structure(grads, arg)
    assert grads["a"][0].dtype == np.float32 and type(grads["s"]) is float
    np.testing.assert_allclose(grads["a"][0], V3, rtol=1e-6)
    assert grads["s"] == 3.0


@pytest.mark.parametrize("wrt", [0, 1])
def test_literals(wrt):
    check(literals, [V3, W3], wrt=wrt)


def test_returning_one_element_of_a_tuple():
    check(tuple_element_returned, [(V3, W3)])


@pytest.mark.parametrize("kind", [list, tuple])
def test_append_in_loop_then_stack(kind):
    check(stack_appended, [kind([V3, W3, V3 * 2.0]), W3], wrt=(0, 1))


def test_append_in_loop_then_sum():
    check(sum_appended, [V3])


def test_append_in_loop_reversed_slice_of_list():
    check(container_built_in_a_loop, [V3])


def test_enumerate_over_a_list_argument():
    check(enumerate_items, [[V3, W3, V3 * 2.0], W3], wrt=(0, 1))


def test_negative_index_into_a_container():
    check(negative_container_index, [(V3, W3, V3 * 0.5)])


def test_same_array_object_twice_in_a_list():
    """Both items are the same object; each leaf gets its own gradient."""
    check(same_array_twice, [[V3, V3]])


def test_float_leaves_stay_floats():
    (grads,) = check(float_leaves, [[1.5, 0.25], V3])
    assert type(grads) is list and all(type(g) is float for g in grads)


def test_constant_container_argument_not_in_wrt():
    check(constant_container, [V3, [W3, {"shift": 0.5}]])


def test_gradient_of_an_array_beside_a_container_argument():
    assert gradc.grad(float_leaves, wrt=1)([1.5, 0.25], V3).shape == (3,)


# ----------------------------------------------------------------------------------------
# Helpers: defaults, keywords, nesting, other modules, loops, tuples
# ----------------------------------------------------------------------------------------

def scale(x, k=2.0, *, off=0.0):
    return x * k + off


def uses_defaults_and_keywords(x):
    return np.sum(scale(x)) + np.sum(scale(x, 3.0, off=1.0) ** 2) + np.sum(scale(k=0.5, x=x) ** 3)


def deep3(x):
    return np.exp(x) * 0.5


def deep2(x):
    return deep3(x) + deep3(x * 2.0)


def deep1(x):
    return deep2(x) * deep2(-x)


def nested_helpers(x):
    return np.sum(deep1(x))


def other_modules(x):
    return np.sum(act(x, k=2.0)) + np.sum(nn_helpers.act(x)) + np.sum(shifted(x) ** 2)


def sin_times(v):
    return np.sin(v) * v


def helper_twice(x, y):
    return np.sum(sin_times(x) * sin_times(y))


def helper_in_loop(x):
    t = 0.0
    for i in range(3):
        t = t + np.sum(sin_times(x * (i + 1.0)))
    return t


def helper_in_loop_carried(x):
    h = x * 0.5
    for i in range(3):
        h = sin_times(h) + 0.1
    return np.sum(h)


def looping_helper(x, n=3):
    s = np.sin(x)
    for i in range(n):
        s = np.cos(s) * 0.9
    return s


def calls_looping_helper(x):
    return np.sum(looping_helper(x)) + np.sum(looping_helper(x * 2.0, 2))


def looping_helper_reads_param(x, n=3):
    s = x
    for i in range(n):
        s = np.sin(s) + x
    return s


def calls_looping_helper_reads_param(x):
    return np.sum(looping_helper_reads_param(x, 2))


def loop_reads_initial_value(x):
    s = x
    for i in range(2):
        s = s * x
    return s


def sin_cos(x):
    return np.sin(x), np.cos(x)


def helper_returns_tuple(x):
    s, c = sin_cos(x)
    return np.sum(s * c ** 2)


def helper_tuple_indexed(x):
    return np.sum(sin_cos(x)[1] * x)


def branching_helper(x, flag):
    if flag:
        return np.sin(x)
    return x * x


def calls_branching_helper(x):
    return np.sum(branching_helper(x, True) + branching_helper(x, False))


def branching_on_value_helper(x):
    if np.sum(x) > 0:
        return x * 3.0
    return np.exp(x)


def calls_branching_on_value(x):
    return np.sum(branching_on_value_helper(x) * x)


def helper_with_containers(layers, x):
    return mlp_apply(layers, x)


def calls_helper_with_container(params, x):
    return np.sum(helper_with_containers(params, x) ** 2)


def helper_takes_dict(p, x):
    return np.tanh(x @ p["W"]) * p["g"]


def calls_helper_with_dict(params, x):
    return np.sum(helper_takes_dict(params, x))


def test_defaults_and_keywords():
    check(uses_defaults_and_keywords, [V3], require_autograd=True)


def test_helpers_nested_three_levels():
    check(nested_helpers, [V3], require_autograd=True)


def test_helpers_in_other_modules_with_other_numpy_names():
    check(other_modules, [V3], require_autograd=True)


@pytest.mark.parametrize("wrt", [0, 1, (0, 1)])
def test_helper_called_twice_with_different_arguments(wrt):
    check(helper_twice, [V3, W3], wrt=wrt, require_autograd=True)


def test_helper_called_in_a_loop():
    check(helper_in_loop, [V3], require_autograd=True)


def test_helper_in_a_loop_on_the_carried_value():
    check(helper_in_loop_carried, [V3], require_autograd=True)


def test_helper_with_a_loop_and_a_default_count():
    check(calls_looping_helper, [V3], require_autograd=True)


def test_helper_with_a_loop_reading_its_parameter():
    check(calls_looping_helper_reads_param, [V3])


@pytest.mark.parametrize("x", [0.7, -1.3])
def test_loop_whose_carried_value_starts_as_an_argument(x):
    check(loop_reads_initial_value, [x])


def test_helper_returning_a_tuple():
    check(helper_returns_tuple, [V3], require_autograd=True)


def test_indexing_a_helper_result_tuple():
    check(helper_tuple_indexed, [V3], require_autograd=True)


def test_helper_with_constant_branch():
    check(calls_branching_helper, [V3], require_autograd=True)


@pytest.mark.parametrize("x", [V3, -V3])
def test_helper_branching_on_a_value(x):
    check(calls_branching_on_value, [x], require_autograd=True)


def test_helper_passing_a_container_to_another_helper():
    check(calls_helper_with_container, [LAYERS, X])


def test_helper_taking_a_dict():
    check(calls_helper_with_dict, [{"W": RNG.normal(size=(3, 2)), "g": np.array([0.5, -2.0])}, X])


def test_generated_code_names_each_helper():
    source = gradc.grad(nested_helpers).source
    for name in ("deep1", "deep2", "deep3"):
        assert f"# {name}, line" in source


# ----------------------------------------------------------------------------------------
# Helpers that write into their argument (Python changes the caller's array too)
# ----------------------------------------------------------------------------------------

def test_helper_writing_into_its_argument_changes_the_callers_array():
    """`z = sets_first(y)` writes into `y`, as Python does: `y` and `z` are one array."""
    assert_tree_gradients(calls_refused.mutating_helper, [V3])


def test_helper_writing_into_a_function_argument():
    assert_tree_gradients(calls_refused.mutating_helper_on_argument, [V3], mutates_arguments=True)


def test_helper_call_as_a_statement_updates_its_argument():
    """`sets_first(y)` on its own line: what the helper writes into is written; the result unused."""
    assert_tree_gradients(calls_refused.mutating_helper_statement, [V3])
    assert "def dmutating_helper_statement(x):" in gradc.grad(calls_refused.mutating_helper_statement).source


# ----------------------------------------------------------------------------------------
# Globals and closures are constants
# ----------------------------------------------------------------------------------------

G_ARRAY = np.array([1.0, 2.0, 3.0])
G_FACTOR = 2.0


def reads_global_array(x):
    return np.sum(G_ARRAY * np.sin(x))


def reads_global_factor(x):
    return np.sum(x * x) * G_FACTOR


def make_closure(c, k):
    def closed(x):
        return np.sum(c * np.sin(x)) * k
    return closed


closure_over_array = make_closure(np.array([0.5, -1.0, 2.0]), 3.0)


def reads_helper_module_global(x):
    return np.sum(nn_inner.softplus(x))


def test_global_array_is_a_constant():
    check(reads_global_array, [V3], require_autograd=True)


def test_closure_over_an_array_is_a_constant():
    check(closure_over_array, [V3])


def test_global_array_rebound_after_compiling_is_used():
    global G_ARRAY
    g = gradc.grad(reads_global_array)
    g(V3)
    saved = G_ARRAY
    try:
        G_ARRAY = np.array([0.0, -1.0, 4.0])
        np.testing.assert_allclose(g(V3), G_ARRAY * np.cos(V3))
    finally:
        G_ARRAY = saved


def test_global_float_rebound_after_compiling_is_used():
    global G_FACTOR
    gradc.grad(reads_global_factor)(V3)
    saved = G_FACTOR
    try:
        G_FACTOR = 5.0
        np.testing.assert_allclose(gradc.grad(reads_global_factor)(V3), 10.0 * V3)
    finally:
        G_FACTOR = saved


def test_helper_module_global_rebound_after_compiling_is_used():
    gradc.grad(reads_helper_module_global)(V3)
    saved = nn_inner.SCALE
    try:
        nn_inner.SCALE = 2.0
        expected = 2.0 / (1.0 + np.exp(-V3))
        np.testing.assert_allclose(gradc.grad(reads_helper_module_global)(V3), expected)
    finally:
        nn_inner.SCALE = saved


# ----------------------------------------------------------------------------------------
# User rules: gradc.defvjp on a helper, a NumPy function, a function without source;
# stop_gradient
# ----------------------------------------------------------------------------------------

def ruled_helper(x):
    return np.sin(x)


def uses_ruled_helper(x):
    return np.sum(ruled_helper(x) * 2.0)


def uses_ruled_helper_twice(x):
    return np.sum(ruled_helper(x) * ruled_helper(x * 2.0))


def ruled_pair(a, b, scale=1.0):
    return a * b * scale


def uses_ruled_pair(x, y):
    return np.sum(ruled_pair(y, x, scale=3.0) ** 2)


def uses_opaque_with_rule(x):
    return np.sum(calls_refused.opaque(x) ** 2)


def uses_fmod(x):
    return np.sum(np.fmod(x, 7.0) * x)


def rule_then_source(x):
    return np.sum(ruled_helper(x) * 3.0)


def test_helper_source_is_used_without_a_rule():
    np.testing.assert_allclose(gradc.grad(uses_ruled_helper_twice)(V3),
                               np.cos(V3) * np.sin(2 * V3) + 2 * np.sin(V3) * np.cos(2 * V3))


def test_user_rule_wins_over_the_helpers_source():
    """The rule is deliberately not the true derivative, so only the rule can produce it."""
    assert ruled_helper not in REGISTRY
    try:
        @gradc.defvjp(ruled_helper)
        def ruled_helper_vjp(g, ans, x):
            return g * 100.0

        np.testing.assert_allclose(gradc.grad(uses_ruled_helper)(V3), np.full(3, 200.0))
        np.testing.assert_allclose(gradc.grad(uses_ruled_helper_twice)(V3),
                                   100.0 * np.sin(2 * V3) + 200.0 * np.sin(V3))
        assert "ruled_helper, line" not in gradc.grad(uses_ruled_helper).source
    finally:
        REGISTRY.pop(ruled_helper)


def test_user_rule_matching_the_helper_agrees_with_finite_differences():
    try:
        @gradc.defvjp(ruled_helper)
        def ruled_helper_vjp(g, ans, x):
            return g * np.cos(x)

        check(uses_ruled_helper_twice, [V3], use_autograd=False)
    finally:
        REGISTRY.pop(ruled_helper)


def test_user_rule_with_two_arguments_and_an_option():
    try:
        @gradc.defvjp(ruled_pair)
        def ruled_pair_vjp(g, ans, a, b, scale=1.0):
            return g * b * scale, g * a * scale

        check(uses_ruled_pair, [V3, W3], wrt=(0, 1), use_autograd=False)
    finally:
        REGISTRY.pop(ruled_pair)


def test_user_rule_makes_an_opaque_helper_differentiable():
    with pytest.raises(gradc.NoGradientRuleError):
        gradc.grad(uses_opaque_with_rule)(V3)
    try:
        @gradc.defvjp(calls_refused.opaque)
        def opaque_vjp(g, ans, x):
            return g * 2.0

        check(uses_opaque_with_rule, [V3], use_autograd=False)
    finally:
        REGISTRY.pop(calls_refused.opaque)


def test_user_rule_for_a_numpy_function_without_one():
    assert np.fmod not in REGISTRY
    try:
        @gradc.defvjp(np.fmod)
        def fmod_vjp(g, ans, x, y):
            return g, None  # (in x, away from the jumps; the divisor is a constant here)

        check(uses_fmod, [V3], use_autograd=False)
    finally:
        REGISTRY.pop(np.fmod)


def test_removing_a_user_rule_brings_back_the_helpers_source():
    try:
        @gradc.defvjp(ruled_helper)
        def ruled_helper_vjp(g, ans, x):
            return g * 100.0

        gradc.grad(rule_then_source)(V3)
    finally:
        REGISTRY.pop(ruled_helper)
    np.testing.assert_allclose(gradc.grad(rule_then_source)(V3), 3.0 * np.cos(V3))


def stopped(x):
    return np.sum(gradc.stop_gradient(x) * x) + np.sum(gradc.stop_gradient(x ** 2))


def stopped_in_helper(x):
    return np.sum(detached_square(x) + x)


def detached_square(v):
    return gradc.stop_gradient(v * v) * v


def stopped_container(params, x):
    W, b = params
    return np.sum(np.tanh(x @ gradc.stop_gradient(W) + b))


def test_stop_gradient():
    np.testing.assert_allclose(gradc.grad(stopped)(V3), V3)


def test_stop_gradient_inside_a_helper():
    np.testing.assert_allclose(gradc.grad(stopped_in_helper)(V3), V3 * V3 + 1.0)


def test_stop_gradient_on_a_container_leaf():
    W, b = LAYERS[0]
    dW, db = gradc.grad(stopped_container)((W, b), X)
    assert np.all(dW == 0.0) and dW.shape == W.shape
    np.testing.assert_allclose(db, np.sum(1 - np.tanh(X @ W + b) ** 2, axis=0))


# ----------------------------------------------------------------------------------------
# Refused: file, line and column of the construct
# ----------------------------------------------------------------------------------------


def _where(error):
    assert error.loc is not None and error.loc.file == calls_refused.__file__, error.loc
    assert str(error).startswith(f"{calls_refused.__file__}:{error.loc.line}:{error.loc.col + 1}: error: ")
    return error.loc.line, error.loc.col


def test_direct_recursion_is_differentiated():
    """Recursion of run-time depth: the recursive call's rule is the function's own vjp."""
    cotangent = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(gradc.vjp(calls_refused.recursive)(V3, 3, cotangent), 1.5 ** 3 * cotangent)


def test_recursive_helper_is_differentiated():
    assert_gradients(calls_refused.calls_recursive_helper, [V3], wrt=0)


def test_function_passed_as_an_argument_is_refused():
    with pytest.raises(gradc.UnsupportedSyntaxError) as info:
        gradc.grad(calls_refused.calls_argument, wrt=1)(np.sin, V3)
    assert _where(info.value) == location_of(calls_refused.calls_argument, "f(x)")


def test_higher_order_helper_is_refused():
    with pytest.raises(gradc.GradcError) as info:
        gradc.grad(calls_refused.higher_order)(V3)
    assert _where(info.value) == location_of(calls_refused.higher_order, "apply(np.sin, x)")


@pytest.mark.parametrize("name, text, words", [
    ("star_args", "*rest", "`*rest`"),
    ("star_kwargs", "**options", "`**options`"),
])
def test_star_parameters_are_refused(name, text, words):
    function = getattr(calls_refused, name)
    with pytest.raises(gradc.UnsupportedSyntaxError) as info:
        gradc.grad(function)
    assert words in info.value.message
    line, col = _where(info.value)
    assert line == function.__code__.co_firstlineno


def test_unresolvable_callee_is_refused():
    with pytest.raises(gradc.GradcError, match="not_defined_anywhere") as info:
        gradc.grad(calls_refused.unresolved)(V3)
    assert _where(info.value) == location_of(calls_refused.unresolved, "not_defined_anywhere")


def test_opaque_helper_reached_by_a_gradient_is_refused():
    with pytest.raises(gradc.NoGradientRuleError, match="opaque") as info:
        gradc.grad(calls_refused.through_opaque)(V3)
    assert _where(info.value) == location_of(calls_refused.through_opaque, "opaque(x)")
    assert "defvjp" in str(info.value)


def test_opaque_helper_on_a_constant_is_fine():
    check(calls_refused.opaque_on_constant, [V3, W3])


def deep_tanh(Ws, x):
    h = x
    for W in Ws:
        h = np.tanh(h @ W)
    return np.sum(h * h)


@default_build_only
def test_a_list_arguments_gradient_is_the_loops_accumulated_list():
    rng = np.random.default_rng(11)
    Ws, x = [rng.standard_normal((3, 3)) * 0.5 for _ in range(5)], rng.standard_normal((2, 3))
    grad = gradc.grad(deep_tanh)
    source = grad.source_for(Ws, x)
    assert "dWs_0" not in source and source.rstrip().endswith("return dWs")  # (not unpacked and packed again)
    first = grad(Ws, x)
    assert type(first) is list and len(first) == 5
    for k in range(5):  # every item against finite differences
        eps, numeric = 1e-6, np.zeros((3, 3))
        for i in np.ndindex(3, 3):
            up = [W.copy() for W in Ws]
            down = [W.copy() for W in Ws]
            up[k][i] += eps
            down[k][i] -= eps
            numeric[i] = (deep_tanh(up, x) - deep_tanh(down, x)) / (2 * eps)
        np.testing.assert_allclose(first[k], numeric, rtol=1e-6, atol=1e-9)
    expected = [g.copy() for g in first]
    first[0][...] = 0.0  # (the caller's list and arrays are its own: the next call is not affected)
    first.clear()
    for got, want in zip(grad(Ws, x), expected):
        np.testing.assert_array_equal(got, want)
