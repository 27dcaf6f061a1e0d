"""`gradc.check_grad`: finite differences element by element or along a direction, in float64."""
import re

import numpy as np
import pytest

import gradc
from gradc.extend import SMALL, compare_gradients
from gradc.rules.registry import REGISTRY


def loss(W, b, x):
    return np.sum(np.tanh(x @ W + b) ** 2)


def scalar_fn(a, b):
    return a * a * b + np.sin(b)


def cube(x):
    return x * x * x


def uses_cube(x, y):
    return np.sum(cube(x) * y)


def big_sum(x):
    return np.sum(np.sin(x) * x)


def float32_fn(x):
    return np.sum(x * x)


@pytest.fixture
def rng():
    return np.random.default_rng(1)


@pytest.fixture
def wrong_cube_rule():
    """A deliberately wrong user rule for `cube` (3x² would be right), removed afterwards."""

    @gradc.defvjp(cube)
    def cube_vjp(g, ans, x):
        return 2 * g * x * x

    yield cube_vjp
    del REGISTRY[cube]


def test_passes_for_a_correct_gradient(rng):
    W, b, x = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((4, 3))
    assert gradc.check_grad(loss, W, b, x) is None
    gradc.check_grad(loss, W, b, x, wrt=("W", "b", 2))
    gradc.check_grad(loss, W, b, x, wrt=(1,))


def test_python_scalars(rng):
    gradc.check_grad(scalar_fn, 0.3, 1.7, wrt=(0, 1))
    comparisons = compare_gradients(scalar_fn, 0.3, 1.7, wrt="b")
    assert [c.name for c in comparisons] == ["b"] and comparisons[0].index == ()


def test_wrong_user_rule_fails_naming_argument_element_and_values(wrong_cube_rule):
    x = np.array([[1.0, 2.0], [0.5, -3.0]])
    y = np.ones((2, 2))
    with pytest.raises(AssertionError) as info:
        gradc.check_grad(uses_cube, x, y)
    message = str(info.value)
    assert "uses_cube" in message and "`x`" in message
    # the worst element is x[1, 1] = -3: gradc gives 2·9 = 18, finite differences 3·9 = 27
    assert "element (1, 1)" in message
    numbers = [float(n) for n in re.findall(r"give[s]? (-?[\d.e+-]+)", message)]
    assert numbers[0] == pytest.approx(18.0) and numbers[1] == pytest.approx(27.0, rel=1e-6)
    gradc.check_grad(uses_cube, x, y, wrt=1)  # the other argument's gradient does not use the rule


def test_wrong_rule_names_the_failing_argument_of_a_tuple(wrong_cube_rule):
    x, y = np.array([1.0, 2.0]), np.array([0.5, 1.5])
    comparisons = compare_gradients(uses_cube, x, y, wrt=("y", "x"))
    assert [(c.name, c.ok) for c in comparisons] == [("y", True), ("x", False)]
    with pytest.raises(AssertionError, match="with respect to `x`"):
        gradc.check_grad(uses_cube, x, y, wrt=("y", "x"))


def test_large_inputs_use_a_random_direction(rng):
    x = rng.standard_normal(SMALL + 1)
    [comparison] = compare_gradients(big_sum, x)
    assert comparison.method == "directional" and comparison.ok and comparison.index is None
    small = compare_gradients(big_sum, x[:SMALL])[0]
    assert small.method == "elementwise" and small.size == SMALL


def test_large_inputs_catch_a_wrong_rule(rng, wrong_cube_rule):
    x = rng.uniform(1.0, 2.0, (40, 30))
    with pytest.raises(AssertionError, match="`x` is wrong along a random direction"):
        gradc.check_grad(uses_cube, x, np.ones((40, 30)))


def test_float32_inputs_are_checked_in_float64(rng):
    x = rng.standard_normal(5).astype(np.float32)
    # in float32 an eps of 1e-6 would drown in rounding; in float64 the check is tight
    gradc.check_grad(float32_fn, x, rtol=1e-7)
    [comparison] = compare_gradients(float32_fn, x)
    assert comparison.analytic == pytest.approx(2 * float(x.astype(np.float64)[comparison.index]))


def test_zero_d_and_empty_arrays():
    gradc.check_grad(float32_fn, np.array(1.5))
    [comparison] = compare_gradients(float32_fn, np.zeros((0, 3)))
    assert comparison.ok and comparison.size == 0


def test_non_numeric_argument_is_refused():
    with pytest.raises(TypeError, match="check_grad compares gradients"):
        gradc.check_grad(float32_fn, "text")
