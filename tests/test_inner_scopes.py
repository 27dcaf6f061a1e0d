"""Comprehensions, lambdas, `map`/`functools.reduce`, nested functions and dict iteration.

Each program's value and gradient are checked, optimized and not, against the function itself,
central differences and (where it runs the program) autograd; the generated code is checked to
read as a loop; what stays refused is refused with a located `gradc.GradcError`.
"""
import functools
import math
import operator
from functools import reduce

import numpy as np
import pytest

import gradc
from gradcheck import assert_gradients, default_build_only

rng = np.random.default_rng(1313)
X = rng.uniform(0.5, 1.5, 4)
M = rng.standard_normal((3, 4))


#: Programs with a loop inside a loop: their gradient keeps a tape inside a tape, which gradc does not
#: differentiate again yet (refused: "`tape` may share memory with an array written ..."), so their
#: second order is not checked here; their JVP is.
NESTED_LOOPS = {"nested_list_comprehension", "comprehension_two_loops", "comprehension_in_a_loop",
                "comprehension_reading_a_loop_variable", "empty_comprehension_in_nested_loop",
                "lambda_bound_in_a_loop"}


def check(f, args, wrt=0):
    """Value and gradient of `f`, optimized and not, against `f`, finite differences and autograd;
    its JVP and Hessian-vector product (see `check_forward_and_second_order`)."""
    indices = wrt if isinstance(wrt, tuple) else (wrt,)
    expected = f(*args)
    for optimize in (True, False):
        value, grads = gradc.value_and_grad(f, wrt=indices, optimize=optimize)(*args)
        np.testing.assert_allclose(value, expected, rtol=1e-12)
        again = gradc.grad(f, wrt=indices, optimize=optimize)(*args)
        for a, b in zip(grads, again):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    assert_gradients(f, args, wrt=indices)
    check_forward_and_second_order(f, args, indices[0], grads[0])


def check_forward_and_second_order(f, args, index, grad):
    """The JVP agrees with the gradient (the dot-product test); the Hessian-vector product with
    central differences of the gradient."""
    x = args[index]
    t = np.random.default_rng(7).standard_normal(np.shape(x))
    _, tangent_out = gradc.jvp(f, wrt=index)(*args, t)
    np.testing.assert_allclose(tangent_out, np.sum(grad * t), rtol=1e-9, atol=1e-12)
    if f.__name__ in NESTED_LOOPS:
        with pytest.raises(gradc.UnsupportedSyntaxError, match="may share memory"):
            gradc.hvp(f, wrt=index)(*args, t)
        return
    hv = gradc.hvp(f, wrt=index)(*args, t)
    eps = 1e-5
    shifted = [list(args), list(args)]
    shifted[0][index], shifted[1][index] = x + eps * t, x - eps * t
    g_up, g_down = (gradc.grad(f, wrt=index)(*a) for a in shifted)
    np.testing.assert_allclose(hv, (g_up - g_down) / (2 * eps), rtol=1e-5, atol=1e-6)


# -- list comprehensions ---------------------------------------------------------------------------

def list_comprehension(x):
    squares = [v ** 2 for v in x]
    return sum(squares)


def list_comprehension_filtered(x):
    return sum([np.sin(v) * v for v in x if v > 0.8])


def nested_list_comprehension(m):
    rows = [[np.tanh(a) * b for a, b in zip(row, row[::-1])] for row in m]
    return sum(sum(r) for r in rows)


def comprehension_over_range_stacked(x):
    return np.sum(np.stack([x * i + np.cos(x * i) for i in range(3)]) ** 2)


def comprehension_concatenated(x):
    return np.sum(np.concatenate([x[:i] * x[i] for i in range(1, 4)]) ** 2)


def comprehension_two_loops(x, m):
    return sum([np.sum(row * v) for row in m for v in x if v < 1.2])


def comprehension_in_a_loop(x):
    total = 0.0
    for k in range(3):
        total = total + sum([v * k + v ** 2 for v in x])
    return total


def comprehension_reading_a_loop_variable(v):
    s = 0.0
    for row in v:
        s = s + sum((t * t for t in row))
    return s


def comprehension_variable_named_like_a_local(x):
    v = x * 2.0
    ys = [v * v for v in x]  # (`v` in here is its own variable; the outer `v` keeps its value)
    return np.sum(v) + sum(ys)


def comprehension_shadowing_its_iterable(t):
    s = 0.0
    for t2 in list((t * 2.0 for t in t)):
        s = s + t2
    return s


def empty_comprehension_in_nested_loop(x):
    s = x
    for i in range(2):
        for j in range(2):
            s = s + np.sum(np.array([x * j for k in range(i)]))
    return np.sum(s)


def comprehension_of_arrays_list_argument(xs):
    return sum(np.sum(np.tanh(a) ** 2) for a in xs)


@pytest.mark.parametrize("f, args, wrt", [
    (list_comprehension, [X], 0),
    (list_comprehension_filtered, [X], 0),
    (nested_list_comprehension, [M], 0),
    (comprehension_over_range_stacked, [X], 0),
    (comprehension_concatenated, [X], 0),
    (comprehension_two_loops, [X, M], (0, 1)),
    (comprehension_in_a_loop, [X], 0),
    (comprehension_reading_a_loop_variable, [M], 0),
    (comprehension_variable_named_like_a_local, [X], 0),
    (comprehension_shadowing_its_iterable, [X], 0),
    (empty_comprehension_in_nested_loop, [X], 0),
], ids=lambda p: getattr(p, "__name__", ""))
def test_list_comprehensions(f, args, wrt):
    check(f, args, wrt)


def test_comprehension_over_a_list_argument():
    xs = [rng.standard_normal(3), rng.standard_normal((2, 2))]
    grads = gradc.grad(comprehension_of_arrays_list_argument)(xs)
    for a, g in zip(xs, grads):
        np.testing.assert_allclose(g, 2 * np.tanh(a) * (1 - np.tanh(a) ** 2), rtol=1e-12)


# -- generator expressions ----------------------------------------------------------------------

def generator_in_sum(x):
    return sum(v ** 3 for v in x if v > 0.7)


def generator_in_sum_with_start(x):
    return sum((v * x[0] for v in x), 2.5)


def generator_in_tuple(x):
    parts = tuple(np.sin(x * i) for i in range(3))
    return np.sum(parts[0] * parts[2] + parts[1])


def generator_in_list(x):
    return np.sum(np.stack(list(x ** i for i in range(1, 4))))


def generator_in_max_of_two(x):
    return max(v * v for v in (x[0], x[1])) + min((np.sum(x * a) for a in (1.0, -2.0)))


def generator_in_math_fsum(x):
    return math.fsum(v * v for v in x)


def generator_in_sorted(x):
    return sum(v * i for i, v in enumerate(sorted(v * v for v in (x[0], x[1], x[2]))))


@pytest.mark.parametrize("f", [generator_in_sum, generator_in_sum_with_start, generator_in_tuple, generator_in_list,
                               generator_in_max_of_two, generator_in_math_fsum],
                         ids=lambda f: f.__name__)
def test_generator_expressions(f):
    check(f, [X])


def generator_passed_to_np_stack(x):
    return np.sum(np.stack(x * i for i in range(3)))


def generator_kept(x):
    g = (v * v for v in x)
    return sum(g)


def generator_as_loop_iterable(y):
    z = y * 1.0
    for t in (z[i] for i in range(3)):  # (Python makes each item after the previous iteration's write)
        z[1] = t * 2.0
    return np.sum(z)


def map_as_loop_iterable(y):
    s = 0.0
    for t in map(np.sin, y):
        s = s + t
    return s


@pytest.mark.parametrize("f, words", [
    (generator_passed_to_np_stack, "NumPy refuses a generator"),
    (generator_kept, "a generator expression here"),
    (generator_as_loop_iterable, "as a `for` loop's iterable"),
    (map_as_loop_iterable, "as a `for` loop's iterable"),
], ids=lambda p: getattr(p, "__name__", ""))
def test_generators_numpy_or_python_would_not_take_are_refused(f, words):
    with pytest.raises(gradc.UnsupportedSyntaxError, match=words) as info:
        gradc.grad(f)(X)
    assert info.value.loc.file == __file__
    line = next(i for i, text in enumerate(open(__file__).read().splitlines(), 1)
                if i > f.__code__.co_firstlineno and ("for" in text and "(" in text))
    assert info.value.loc.line == line
    assert "list comprehension" in str(info.value)


def reduce_of_a_generator(x):
    return reduce(lambda a, b: a * b + b, (np.sin(v) for v in x))


def nested_def_writing_a_closed_array(x):
    y = np.zeros(4)

    def fill(i, v):
        y[i] = v * v
        return i
    for i in range(4):
        fill(i, x[i] * (i + 1.0))
    t = y  # (the writes are seen through every name)
    return np.sum(np.sin(t) * x)


def lambda_bound_in_a_loop(x):
    acc = []
    total = 0.0
    for i in range(3):
        scale = lambda u: u * (i + 1.0)  # noqa: E731
        acc.append(sum(scale(v) for v in x))
        total = total + max(acc)
    return total


def def_in_a_loop_then_rebound(x):
    total = 0.0
    for i in range(2):
        def shifted(v):
            return np.sin(v + i)
        total = total + np.sum(shifted(x))
    shifted = x * 2.0  # (the name holds an array from here)
    return total + np.sum(shifted)


@pytest.mark.parametrize("f", [reduce_of_a_generator, nested_def_writing_a_closed_array, lambda_bound_in_a_loop,
                               def_in_a_loop_then_rebound], ids=lambda f: f.__name__)
def test_consumed_generators_and_closed_writes(f):
    check(f, [X])


def test_numpy_itself_refuses_a_generator_in_stack():
    with pytest.raises(TypeError):  # (so gradc's refusal keeps the program's meaning)
        np.stack(X * i for i in range(3))


# -- dict comprehensions and dict iteration ---------------------------------------------------------

def dict_comprehension(x):
    d = {k: x * i for i, k in enumerate(("a", "b", "c"))}
    return np.sum(d["a"] * d["c"] + np.sin(d["b"]))


def dict_comprehension_over_params(params, x):
    scaled = {name: p * 2.0 for name, p in params.items()}
    return np.sum(np.tanh(scaled["W"] @ x + scaled["b"]))


def dict_get_and_values(params, x):
    h = params["W"] @ x + params.get("b", 0.0) + params.get("missing", 0.5)
    return np.sum(np.tanh(h)) + sum(np.sum(p * p) for p in params.values())


def loop_over_dict_keys(params, x):
    total = 0.0
    for name in params:
        total = total + np.sum(params[name] ** 2) * len(name)
    for name, p in params.items():
        total = total + np.sum(np.sin(p))
    for name in params.keys():
        total = total + np.sum(params[name])
    return total + np.sum(params["W"] @ x)


def dict_built_by_dict_call(x):
    d = dict(a=x * 2.0, b=np.sin(x))
    e = dict(d)
    return np.sum(e["a"] * d["b"])


def test_dict_comprehension():
    check(dict_comprehension, [X])


def loop_over_sorted_keys(params, x):
    total = 0.0
    for name in sorted(params):
        total = total + np.sum(np.sin(params[name])) * len(list(params))
    return total + np.sum(params["W"] @ x)


@pytest.mark.parametrize("f", [dict_comprehension_over_params, dict_get_and_values, loop_over_dict_keys,
                               loop_over_sorted_keys],
                         ids=lambda f: f.__name__)
def test_dicts_of_parameters(f):
    params = {"W": rng.standard_normal((2, 4)), "b": rng.standard_normal(2)}
    grads = gradc.grad(f, wrt=(0, 1))(params, X)
    eps = 1e-6
    for name, p in params.items():
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            up = {k: v.copy() for k, v in params.items()}
            down = {k: v.copy() for k, v in params.items()}
            up[name][i] += eps
            down[name][i] -= eps
            numeric[i] = (f(up, X) - f(down, X)) / (2 * eps)
        np.testing.assert_allclose(grads[0][name], numeric, rtol=1e-6, atol=1e-8)
    value, _ = gradc.value_and_grad(f, wrt=(0, 1))(params, X)
    np.testing.assert_allclose(value, f(params, X), rtol=1e-12)


def test_dict_call():
    check(dict_built_by_dict_call, [X])


def set_comprehension(x):
    return sum({v for v in x})


def dict_comprehension_over_an_array(x):
    d = {i: v for i, v in enumerate(x)}
    return d[0]


def items_kept_for_later(params):
    pairs = params.items()
    return sum(np.sum(p) for _, p in pairs)


@pytest.mark.parametrize("f, args, words", [
    (set_comprehension, [X], "a set comprehension"),
    (dict_comprehension_over_an_array, [X], "dict comprehension over items gradc does not know"),
    (items_kept_for_later, [{"a": X}], "kept for later"),
])
def test_dict_and_set_refusals(f, args, words):
    with pytest.raises(gradc.GradcError, match=words) as info:
        gradc.grad(f)(*args)
    assert info.value.loc.file == __file__


# -- lambdas, map and reduce ----------------------------------------------------------------------

def lambda_bound_and_called(x):
    sq = lambda v: v * v  # noqa: E731
    scale = lambda v, k=3.0: v * k  # noqa: E731
    return np.sum(sq(x) + scale(x) + scale(x, k=x))


def lambda_closing_over_a_local(x):
    w = np.cos(x)
    f = lambda v: v * w  # noqa: E731
    w = w * 2.0  # (late binding: the call below sees this `w`)
    return np.sum(f(x))


def lambda_called_in_place(x):
    return np.sum((lambda a, b: a * b + b)(x, np.sin(x)))


def map_with_lambda(x):
    return sum(map(lambda v: v * v * x[0], x))


def map_two_sequences(x):
    return sum(list(map(lambda a, b: a * b, x, x[::-1])))


def map_with_a_function(m):
    return np.sum(np.stack(list(map(np.tanh, m))))


def reduce_with_lambda(x):
    return functools.reduce(lambda a, b: a * b, x)


def reduce_with_initial(x):
    return reduce(lambda acc, v: acc + np.sin(v) * acc, x, 1.0)


def reduce_with_operator(m):
    return np.sum(functools.reduce(operator.add, [row * row for row in m]))


def reduce_matrix_chain(m):
    mats = [np.outer(m[i], m[i]) + np.eye(4) for i in range(3)]
    return np.sum(reduce(lambda a, b: a @ b, mats))


@pytest.mark.parametrize("f, args", [
    (lambda_bound_and_called, [X]),
    (lambda_closing_over_a_local, [X]),
    (lambda_called_in_place, [X]),
    (map_with_lambda, [X]),
    (map_two_sequences, [X]),
    (map_with_a_function, [M]),
    (reduce_with_lambda, [X]),
    (reduce_with_initial, [X]),
    (reduce_with_operator, [M]),
    (reduce_matrix_chain, [M]),
], ids=lambda p: getattr(p, "__name__", ""))
def test_lambdas_map_and_reduce(f, args):
    check(f, args)


def test_lambda_at_the_top_level():
    g = gradc.grad(lambda x: np.sum(x ** 2))
    np.testing.assert_allclose(g(X), 2 * X, rtol=1e-12)
    f = lambda x, y: np.sum(np.sin(x) * y)  # noqa: E731
    gx, gy = gradc.grad(f, wrt=(0, 1))(X, X * 2)
    np.testing.assert_allclose(gx, np.cos(X) * X * 2, rtol=1e-12)
    np.testing.assert_allclose(gy, np.sin(X), rtol=1e-12)


def test_lambdas_on_one_line_told_apart():
    import sys
    pair = (lambda x: np.sum(x ** 2), lambda x: np.sum(x ** 3))
    if sys.version_info >= (3, 11):
        np.testing.assert_allclose(gradc.grad(pair[1])(X), 3 * X ** 2, rtol=1e-12)
        np.testing.assert_allclose(gradc.grad(pair[0])(X), 2 * X, rtol=1e-12)
    else:
        with pytest.raises(gradc.GradcError, match="cannot be told apart"):
            gradc.grad(pair[1])


def map_shadowed(x):
    map = lambda f, v: v  # noqa: E731
    return np.sum(map(np.sin, x))


def test_a_local_named_map_is_not_python_map():
    with pytest.raises(gradc.GradcError, match="not Python's `map`"):
        gradc.grad(map_shadowed)(X)


# -- nested functions ---------------------------------------------------------------------------------

def nested_def(x, w):
    def layer(v):
        return np.tanh(w @ v)
    h = layer(x)
    return np.sum(layer(np.concatenate([h, h])[:4]) ** 2)


def nested_def_closing_over_later_binding(x):
    def scaled(v):
        return v * factor
    factor = np.sin(x)
    first = scaled(x)
    factor = factor * 3.0
    return np.sum(first + scaled(x))


def nested_defs_calling_each_other(x):
    def square(v):
        return v * v

    def energy(v, k=2.0):
        return np.sum(square(v) * k)

    def total(*vs):
        return sum(energy(v) for v in vs)
    return total(x, np.sin(x), x * x)


def nested_def_with_control_flow(x):
    def clipped(v, limit):
        out = v
        if np.sum(v) > limit:
            out = v * limit / np.sum(v)
        for _ in range(2):
            out = np.tanh(out)
        return out
    return np.sum(clipped(x, 1.0)) + np.sum(clipped(x, 100.0))


def nested_def_appending_to_a_closed_list(x):
    parts = []

    def keep(v):
        parts.append(v * 2.0)
        return v
    keep(x)
    keep(np.sin(x))
    return np.sum(np.stack(parts) ** 2)


def nested_def_in_loop_calls(x):
    def step(v, k):
        return v + np.sin(v) * k
    v = x
    for k in range(3):
        v = step(v, k)
    return np.sum(v)


@pytest.mark.parametrize("f, args, wrt", [
    (nested_def, [X, M], (0, 1)),
    (nested_def_closing_over_later_binding, [X], 0),
    (nested_defs_calling_each_other, [X], 0),
    (nested_def_with_control_flow, [X], 0),
    (nested_def_appending_to_a_closed_list, [X], 0),
    (nested_def_in_loop_calls, [X], 0),
], ids=lambda p: getattr(p, "__name__", ""))
def test_nested_functions(f, args, wrt):
    check(f, args, wrt)


def nested_recursion(x):
    def fact(v, n):
        return v if n == 0 else v * fact(v, n - 1)
    return np.sum(fact(x, 3))


def nested_def_passed_as_value(x):
    def sq(v):
        return v * v
    return np.sum(np.apply_along_axis(sq, 0, x))


def nested_def_inside_a_branch(x):
    if np.sum(x) > 0:
        def f(v):
            return v
    return np.sum(f(x))


def def_in_a_loop_called_after_it(x):
    for i in range(2):
        def shifted(v):
            return v + i
    return np.sum(shifted(x))


@pytest.mark.parametrize("f, words", [
    (def_in_a_loop_called_after_it, "called after that loop"),
    (nested_recursion, "calls itself"),
    (nested_def_passed_as_value, "used as a value"),
    (nested_def_inside_a_branch, "inside a branch"),
])
def test_nested_function_refusals(f, words):
    with pytest.raises(gradc.GradcError, match=words) as info:
        gradc.grad(f)(X)
    assert info.value.loc.file == __file__


# -- *args in helpers ---------------------------------------------------------------------------------

def weighted_sum(*terms, weight=1.0):
    return sum(t * weight for t in terms)


def helper_with_star_args(x):
    return np.sum(weighted_sum(x, np.sin(x), x ** 2, weight=0.5) + weighted_sum(x))


def test_star_args_in_helpers():
    check(helper_with_star_args, [X])


# -- the generated code reads as loops ----------------------------------------------------------------

@default_build_only
def test_comprehension_reads_as_a_loop():
    source = gradc.grad(list_comprehension).source_for(X)
    assert "squares = []" in source
    assert "for v in x" in source or "in enumerate(x)" in source
    assert "squares.append(v ** 2)" in source
    assert source.count("# line ") <= 6  # (one comment per statement and block, not one per piece)


@default_build_only
def test_nested_function_body_is_inlined_with_its_lines():
    source = gradc.grad(nested_def, wrt=(0, 1)).source_for(X, M)
    line = nested_def.__code__.co_firstlineno + 2
    assert f"# line {line}: return np.tanh(w @ v)" in source


# -- a global read through an attribute is read when the gradient runs ------------------------------

class _Settings:
    scale = 2.0


SETTINGS = _Settings()


def scaled_by_a_global_attribute(x):
    return np.sum(np.sin(x)) * SETTINGS.scale


def test_a_global_attribute_is_read_when_the_gradient_runs():
    g = gradc.grad(scaled_by_a_global_attribute)
    np.testing.assert_allclose(g(X), 2.0 * np.cos(X), rtol=1e-12)
    SETTINGS.scale = 3.0
    try:
        np.testing.assert_allclose(g(X), 3.0 * np.cos(X), rtol=1e-12)
    finally:
        SETTINGS.scale = 2.0


# -- a gradient is never reused after a name it resolved denotes another object --------------------

def _make_summed(op):
    def summed(x):
        return np.sum(op(x))
    return summed


OP = np.sin


def uses_a_global_callee(x):
    return np.sum(OP(x) * x)


def squared(v):
    return v * v


def uses_a_helper(x):
    return np.sum(squared(x))


def test_closures_of_one_factory_with_other_callees_get_their_own_gradients():
    for op, derivative in ((np.sin, np.cos), (np.cos, lambda v: -np.sin(v)), (np.tanh, lambda v: 1 - np.tanh(v) ** 2)):
        np.testing.assert_allclose(gradc.grad(_make_summed(op))(X), derivative(X), rtol=1e-12)


def test_a_rebound_global_callee_or_redefined_helper_recompiles():
    global OP, squared
    g, h = gradc.grad(uses_a_global_callee), gradc.grad(uses_a_helper)
    for _ in range(2):  # (the second call takes the call guard's fast path)
        np.testing.assert_allclose(g(X), np.cos(X) * X + np.sin(X), rtol=1e-12)
        np.testing.assert_allclose(h(X), 2 * X, rtol=1e-12)
    saved = OP, squared
    try:
        OP = np.cos
        squared = lambda v: v * v * v  # noqa: E731
        for _ in range(2):
            np.testing.assert_allclose(g(X), -np.sin(X) * X + np.cos(X), rtol=1e-12)
            np.testing.assert_allclose(h(X), 3 * X ** 2, rtol=1e-12)
    finally:
        OP, squared = saved
    np.testing.assert_allclose(g(X), np.cos(X) * X + np.sin(X), rtol=1e-12)


LAYERS = [np.eye(4)]


def reads_a_global_list(x):
    return np.sum(np.tanh(LAYERS[0] @ x))


def test_a_rebound_global_list_is_read_when_the_gradient_runs():
    global LAYERS
    g = gradc.grad(reads_a_global_list)
    first = g(X)
    compiled = {kinds: entry[1] for kinds, entry in g._functions.items()}
    saved = LAYERS
    try:
        LAYERS = [2.0 * np.eye(4)]  # (a value, not a callee: read when the gradient runs, no recompilation)
        np.testing.assert_allclose(g(X), 2.0 * (1 - np.tanh(2.0 * X) ** 2), rtol=1e-12)
        assert {kinds: entry[1] for kinds, entry in g._functions.items()} == compiled
    finally:
        LAYERS = saved
    np.testing.assert_allclose(g(X), first, rtol=1e-12)
