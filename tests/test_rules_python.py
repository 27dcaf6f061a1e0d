"""Rules for Python's operators, the `math` module and builtins, on scalar (Python float) code.

Every test function is a module-level `def` (gradc reads its source). Gradients are
checked against central finite differences, and against autograd where autograd can
run the function (it cannot trace `math.*`; finite differences then decide alone).
"""
import math
import sys

import numpy as np
import pytest

import gradc
from gradcheck import assert_gradients, import_source, numeric_gradient

rng = np.random.default_rng(1)


# -- operators -------------------------------------------------------------------------------


def f_add(x, y):
    return x + y + x


def f_sub(x, y):
    return x - y - y


def f_mul(x, y):
    return x * y * x


def f_truediv(x, y):
    return x / y / (x + 2.0)


def f_pow_both_active(x, y):
    return x ** y


def f_neg(x, y):
    return -x * y + -(y * y)


def f_pos(x, y):
    return +x * +y


def f_mod(x, y):
    return (x % y) * x


def f_floordiv(x, y):
    return (x // y) * x + y


def f_comparison_constants(x, y):
    return (x > 0) * x + (y < x) * y * y + (x >= y) * (x <= 1.0) * x * y + (x == y) * y + (x != y) * x


OPERATOR_CASES = [
    (f_add, [0.3, -1.2]), (f_sub, [0.3, -1.2]), (f_mul, [0.3, -1.2]), (f_truediv, [0.3, -1.2]),
    (f_pow_both_active, [1.3, 0.7]), (f_pow_both_active, [0.4, -2.5]), (f_neg, [0.3, -1.2]),
    (f_pos, [0.3, -1.2]), (f_mod, [2.7, 0.8]), (f_mod, [-2.7, 0.8]), (f_mod, [2.7, -0.8]),
    (f_floordiv, [2.7, 0.8]), (f_comparison_constants, [0.3, -1.2]), (f_comparison_constants, [-0.5, 0.2]),
    (f_comparison_constants, [0.5, 0.2]),
]


@pytest.mark.parametrize("f, args", OPERATOR_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_operator(f, args):
    assert_gradients(f, args, wrt=(0, 1))


def test_floordiv_has_zero_gradient():
    def expected_dx(x, y):
        return x // y
    dx, dy = gradc.grad(f_floordiv, wrt=(0, 1))(2.7, 0.8)
    assert dx == expected_dx(2.7, 0.8) and dy == 1.0


def test_mod_gradients_exact():
    dx, dy = gradc.grad(f_mod, wrt=(0, 1))(2.7, 0.8)
    # d/dx (x % y) * x = 1 * x + (x % y);  d/dy = -floor(x / y) * x
    assert dx == pytest.approx(2.7 + 2.7 % 0.8, rel=1e-15)
    assert dy == pytest.approx(-math.floor(2.7 / 0.8) * 2.7, rel=1e-15)


def f_matmul_vectors(a, b):
    return a @ b


def f_matmul_matrix_vector(A, x):
    return (A @ x) @ x


def test_matmul():
    assert_gradients(f_matmul_vectors, [rng.standard_normal(3), rng.standard_normal(3)], wrt=(0, 1))
    assert_gradients(f_matmul_matrix_vector, [rng.standard_normal((3, 3)), rng.standard_normal(3)], wrt=(0, 1))


# -- constants on either side ----------------------------------------------------------------


def f_const_sub_left(x):
    return 2.0 - x


def f_const_div_right(x):
    return x / 3


def f_const_div_left(x):
    return 3 / x


def f_const_pow_base(x):
    return 2 ** x


def f_const_pow_exponent(x):
    return x ** 3


def f_const_pow_float_exponent(x):
    return x ** 2.5


def f_const_add_mul_left(x):
    return 1 + 2 * x + x * 4.0 + x - 1.5


def f_const_pow_negative_exponent(x):
    return x ** -2


@pytest.mark.parametrize("f, x", [
    (f_const_sub_left, 0.7), (f_const_div_right, 0.7), (f_const_div_left, 0.7), (f_const_div_left, -1.3),
    (f_const_pow_base, 0.7), (f_const_pow_base, -1.3), (f_const_pow_exponent, 0.7), (f_const_pow_exponent, -1.3),
    (f_const_pow_float_exponent, 0.7), (f_const_add_mul_left, 0.7), (f_const_pow_negative_exponent, -1.3),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_constant_operand(f, x):
    assert_gradients(f, [x])


def test_integer_power_at_zero_and_negative_base():
    assert gradc.grad(f_const_pow_exponent)(0.0) == 0.0
    with np.errstate(all="raise"):  # the exponent is a constant: no log of a negative base
        assert gradc.grad(f_const_pow_exponent)(-2.0) == pytest.approx(12.0, rel=1e-15)


# -- assignment forms --------------------------------------------------------------------------


def f_augmented(x, y):
    z = x * 1.0
    z += y
    z *= x
    z -= y * y
    z /= 1.0 + y * y
    z **= 2
    return z


def f_tuple_unpacking(x, y):
    a, b = x * 2, y + 1
    b, a = a * b, b - a
    return a * b + a


def f_many_versions(x):
    x = x * 2
    x = np.sin(x)
    x = x + 1.0
    x = math.exp(x)
    x = x * x
    x = math.log(x)
    x = np.tanh(x)
    return x


def f_fan_out(x, y):
    a = x * y
    return a + a * a + math.sin(a) + a / (1.0 + a * a) - a * x + a * y * a


@pytest.mark.parametrize("f, args", [
    (f_augmented, [0.3, -1.2]), (f_tuple_unpacking, [0.3, -1.2]), (f_fan_out, [0.3, -1.2]),
], ids=lambda v: getattr(v, "__name__", ""))
def test_assignment_forms(f, args):
    assert_gradients(f, args, wrt=(0, 1))


def test_many_ssa_versions():
    assert_gradients(f_many_versions, [0.3])
    assert_gradients(f_many_versions, [-1.1])


# -- the math module ---------------------------------------------------------------------------


def f_math_exp(x, y):
    return math.exp(x * y) + math.log(y)


def f_math_log_base(x):
    return math.log(x, 2.0) + math.log(x, 10) * x


def f_math_log1p(x):
    return math.log1p(x) * x


def f_math_expm1(x):
    return math.expm1(x) * x


def f_math_log2(x):
    return math.log2(x) + x


def f_math_log10(x):
    return math.log10(x) * x


def f_math_sqrt(x):
    return math.sqrt(x) * math.sqrt(x + 1.0)


def f_math_pow(x, y):
    return math.pow(x, y)


def f_math_pow_const_exponent(x):
    return math.pow(x, 3.0) + math.pow(2.0, x)


def f_math_sin(x):
    return math.sin(x) * x


def f_math_cos(x):
    return math.cos(x) * x


def f_math_tan(x):
    return math.tan(x)


def f_math_asin(x):
    return math.asin(x) * x


def f_math_acos(x):
    return math.acos(x) * x


def f_math_atan(x):
    return math.atan(x) * x


def f_math_atan2(y, x):
    return math.atan2(y, x)


def f_math_sinh(x):
    return math.sinh(x)


def f_math_cosh(x):
    return math.cosh(x)


def f_math_tanh(x):
    return math.tanh(x) * x


def f_math_asinh(x):
    return math.asinh(x)


def f_math_acosh(x):
    return math.acosh(x)


def f_math_atanh(x):
    return math.atanh(x)


def f_math_hypot(x, y):
    return math.hypot(x, y)


def f_math_fabs(x):
    return math.fabs(x) * 3.0


def f_math_erf(x):
    return math.erf(x)


def f_math_erfc(x):
    return math.erfc(x) * x


def f_math_floor_ceil_trunc(x):
    return math.floor(x) * x + math.ceil(x) * x * x + math.trunc(x) + math.copysign(1.0, x) * x


MATH_CASES = [
    (f_math_exp, [0.3, 1.7]), (f_math_log_base, [1.7]), (f_math_log1p, [0.4]), (f_math_log1p, [-0.4]),
    (f_math_expm1, [-0.7]), (f_math_log2, [2.5]), (f_math_log10, [0.3]), (f_math_sqrt, [0.3]),
    (f_math_pow, [1.3, 0.4]), (f_math_pow, [0.3, -1.5]), (f_math_pow_const_exponent, [1.3]),
    (f_math_sin, [0.3]), (f_math_cos, [-2.3]), (f_math_tan, [0.9]), (f_math_tan, [-1.2]),
    (f_math_asin, [0.6]), (f_math_asin, [-0.3]), (f_math_acos, [0.6]), (f_math_atan, [2.3]),
    (f_math_atan2, [0.3, -1.7]), (f_math_atan2, [-1.3, 0.4]), (f_math_sinh, [1.3]), (f_math_cosh, [-1.3]),
    (f_math_tanh, [0.8]), (f_math_asinh, [-2.1]), (f_math_acosh, [1.6]), (f_math_atanh, [-0.6]),
    (f_math_hypot, [0.3, -1.7]), (f_math_fabs, [-0.8]), (f_math_fabs, [0.8]), (f_math_erf, [0.4]),
    (f_math_erfc, [-0.9]), (f_math_floor_ceil_trunc, [1.3]), (f_math_floor_ceil_trunc, [-2.6]),
]


@pytest.mark.parametrize("f, args", MATH_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_math_function(f, args):
    assert_gradients(f, args, wrt=tuple(range(len(args))))


def test_math_pow_constant_exponent_negative_base():
    # y is a constant here: d/dx = 3 x**2 + 2**x log 2 must not evaluate log(x) of a negative x.
    assert gradc.grad(f_math_pow_const_exponent)(-1.5) == pytest.approx(3 * 2.25 + 2 ** -1.5 * math.log(2))


def test_math_pow_at_zero_base():
    # d/dx x**y = y x**(y-1) = 2 * 0 = 0 at x = 0 for y = 2; d/dy x**y = log(x) x**y -> 0 as x -> 0+.
    dx, dy = gradc.grad(f_math_pow, wrt=(0, 1))(0.0, 2.0)
    assert (dx, dy) == (0.0, 0.0)


def test_math_fabs_at_zero():
    assert gradc.grad(f_math_fabs)(0.0) == 0.0


def test_floor_ceil_trunc_zero_gradient():
    def expected(x):
        return math.floor(x) + 2 * math.ceil(x) * x + math.copysign(1.0, x)
    assert gradc.grad(f_math_floor_ceil_trunc)(1.3) == pytest.approx(expected(1.3), rel=1e-15)


# -- builtins ------------------------------------------------------------------------------------


def f_builtin_abs(x):
    return abs(x) * 2.0


def f_builtin_float(x):
    return float(x) * x


def f_builtin_pow(x, y):
    return pow(x, y) + pow(x, 2)


def f_builtin_max(x, y):
    return max(x, y) * 3.0


def f_builtin_min(x, y):
    return min(x, y) * 3.0


def f_builtin_max_constant(x):
    return max(x, 0.0) + min(1.0, x)


def f_builtin_round_int(x):
    return round(x) * x + int(x) * x * x + round(x, 1)


BUILTIN_CASES = [
    (f_builtin_abs, [-0.3]), (f_builtin_abs, [0.3]), (f_builtin_float, [0.3]), (f_builtin_pow, [1.3, 0.4]),
    (f_builtin_max, [0.3, -1.2]), (f_builtin_max, [-0.3, 1.2]), (f_builtin_min, [0.3, -1.2]),
    (f_builtin_min, [-0.3, 1.2]), (f_builtin_round_int, [1.3]), (f_builtin_round_int, [-2.2]),
]


@pytest.mark.parametrize("f, args", BUILTIN_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_builtin(f, args):
    assert_gradients(f, args, wrt=tuple(range(len(args))))


def test_builtin_max_min_constant_operand():
    for x in (-0.7, 0.4, 1.6):
        assert_gradients(f_builtin_max_constant, [x])


def test_max_min_tie_splits_gradient_in_half_exactly():
    assert gradc.grad(f_builtin_max, wrt=(0, 1))(0.5, 0.5) == (1.5, 1.5)
    assert gradc.grad(f_builtin_min, wrt=(0, 1))(0.5, 0.5) == (1.5, 1.5)
    assert gradc.grad(f_builtin_max_constant)(0.0) == 0.5 + 1.0  # max(x, 0) ties, min(1, x) is x
    assert gradc.grad(f_builtin_max_constant)(1.0) == 1.0 + 0.5  # max(x, 0) is x, min(1, x) ties
    assert gradc.grad(f_builtin_max_constant)(-1.0) == 1.0 and gradc.grad(f_builtin_max_constant)(2.0) == 1.0


def test_max_min_gradient_is_exact_python_float():
    # The gradient is g itself (no rounding through float32 weights).
    for f in (f_max_times_y, f_min_times_y):
        dx, dy = gradc.grad(f, wrt=(0, 1))(0.3, 0.7 if f is f_max_times_y else -0.7)
        assert type(dx) is float and type(dy) is float
        assert dx == 0.0 and dy == (1.4 if f is f_max_times_y else -1.4)


def f_max_times_y(x, y):
    return max(x, y) * y


def f_min_times_y(x, y):
    return min(x, y) * y


def test_abs_at_zero():
    assert gradc.grad(f_builtin_abs)(0.0) == 0.0


def test_round_int_zero_gradient():
    assert gradc.grad(f_builtin_round_int)(1.3) == pytest.approx(1.0 + 2 * 1.3, rel=1e-15)


# -- wrt forms, value_and_grad, inactive outputs ------------------------------------------------


def f_three(a, b, c):
    return a * b * b + math.sin(c) * a


def test_wrt_by_name_index_negative_and_tuple():
    args = (0.3, -1.2, 0.8)
    da = 1.44 + math.sin(0.8)
    db = 2 * 0.3 * -1.2
    dc = math.cos(0.8) * 0.3
    assert gradc.grad(f_three, wrt="b")(*args) == pytest.approx(db)
    assert gradc.grad(f_three, wrt=1)(*args) == pytest.approx(db)
    assert gradc.grad(f_three, wrt=-1)(*args) == pytest.approx(dc)
    assert gradc.grad(f_three)(*args) == pytest.approx(da)
    both = gradc.grad(f_three, wrt=("c", 0))(*args)
    assert isinstance(both, tuple) and both == pytest.approx((dc, da))
    single = gradc.grad(f_three, wrt=(1,))(*args)
    assert isinstance(single, tuple) and len(single) == 1 and single[0] == pytest.approx(db)
    assert gradc.grad(f_three, wrt=(-3, "b", 2))(*args) == pytest.approx((da, db, dc))


def test_value_and_grad():
    value, grads = gradc.value_and_grad(f_three, wrt=(0, 2))(0.3, -1.2, 0.8)
    assert value == f_three(0.3, -1.2, 0.8)
    assert grads == pytest.approx((1.44 + math.sin(0.8), math.cos(0.8) * 0.3))
    value, grad = gradc.value_and_grad(f_math_sin)(0.3)
    assert value == f_math_sin(0.3) and grad == pytest.approx(math.cos(0.3) * 0.3 + math.sin(0.3))


def f_ignores_x(x, y):
    return y * y + 1.0


def test_output_independent_of_wrt_argument():
    dx = gradc.grad(f_ignores_x)(0.3, 2.0)
    assert type(dx) is float and dx == 0.0
    dx, dy = gradc.grad(f_ignores_x, wrt=(0, 1))(0.3, 2.0)
    assert type(dx) is float and dx == 0.0 and dy == 4.0


# -- generated programs ------------------------------------------------------------------------


def _import_source(tmp_path, name, source):
    return import_source(tmp_path, name, source)


def _long_chain_source(n):
    lines = ["import math", "import numpy as np", "", "", "def chain(x, y):", "    a = x"]
    steps = [
        "    a = a * 0.9 + 0.1 * y",
        "    a = math.sin(a) + x * 0.05",
        "    b = a * a",
        "    a = a - 0.1 * b / (1.0 + b)",
        "    a = np.tanh(a) + 0.3 * math.cos(y * a)",
        "    y = y + 0.01 * a",
        "    a = math.exp(0.5 * math.tanh(a)) - 1.0 + 0.2 * x",
        "    a = a / (1.0 + 0.1 * y * y)",
    ]
    for i in range(n):
        lines.append(steps[i % len(steps)])
    lines.append("    return a * y + a")
    return "\n".join(lines) + "\n"


def test_two_hundred_statement_chain(tmp_path):
    module = _import_source(tmp_path, "gradc_chain_200", _long_chain_source(200))
    assert module.chain.__code__.co_firstlineno == 5
    dx, dy = gradc.grad(module.chain, wrt=(0, 1))(0.3, -0.4)
    np.testing.assert_allclose(dx, numeric_gradient(module.chain, [0.3, -0.4], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dy, numeric_gradient(module.chain, [0.3, -0.4], 1), rtol=1e-6, atol=1e-9)
    assert type(dx) is float and type(dy) is float


# -- readability and higher order ----------------------------------------------------------------


def f_readable(x, y):
    z = math.sin(x) * y
    return z * z + x


def test_generated_source_is_readable():
    source = gradc.grad(f_readable, wrt=(0, 1)).source
    lines = source.splitlines()
    first = f_readable.__code__.co_firstlineno
    assert lines[0] == "def df_readable(x, y):"
    assert "# backward" in source
    assert f"# line {first + 1}: z = math.sin(x) * y" in source
    assert f"# line {first + 2}: return z * z + x" in source
    assert "math.cos(x)" in source
    assert lines[-1].strip() in ("return (dx, dy)", "return dx, dy")
    assert len(lines) < 30
    compile(source, "<generated>", "exec")


def f_second_order_math(x):
    return math.sin(x) * x


def f_second_order_numpy(x):
    return np.sin(x) * x * x


def s_div(x):
    return 1.0 / (1.0 + x * x) + x / 3.0


def s_pow(x):
    return x ** 3 + 2.0 ** x + x ** x


def s_math_pow(x):
    return math.pow(x, 2.5) + math.pow(x, x)


def s_max_min(x):
    return max(x, 0.5) * x + min(x * x, 0.2)


def s_abs(x):
    return abs(x) * x + math.fabs(x) * x * x


def s_logs(x):
    return math.log(x) * x + math.log(x, 2.0) + math.log1p(x) + math.log2(x) + math.log10(x)


def s_trig(x):
    return math.tan(x) + math.atan(x) + math.asin(x / 2) + math.acos(x / 3) + math.atan2(x, 1.5)


def s_hyperbolic(x):
    return math.sinh(x) + math.cosh(x) + math.tanh(x) + math.asinh(x) + math.acosh(x + 1.0) + math.atanh(x / 2)


def s_misc(x):
    return math.sqrt(x) + math.exp(x) + math.expm1(x) + math.erf(x) + math.erfc(x) + math.hypot(x, 2.0)


def s_more(x):
    return math.degrees(x) * math.radians(x) + math.fmod(x * 3, 0.7) * x


def s_float_sum(x):
    return float(x) * x + sum([x, x * x]) + math.fsum([x, x * x * x])


def s_mod(x):
    return (x % 0.7) * x + (x // 0.7) * x


def s_assignments(x):
    z = x * 1.0
    z *= x
    z += math.sin(z)
    a, b = z * 2, z + x
    return a * b


@pytest.mark.parametrize("f", [
    f_second_order_math, f_second_order_numpy, s_div, s_pow, s_math_pow, s_max_min, s_abs, s_logs, s_trig,
    s_hyperbolic, s_misc, s_more, s_float_sum, s_mod, s_assignments,
], ids=lambda f: f.__name__)
def test_second_derivative(f):
    first = gradc.grad(f)
    second = gradc.grad(first)
    for x in (0.6, 1.3):
        expected = numeric_gradient(first, [x], 0)
        got = second(x)
        assert type(got) is float
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


def test_third_derivative():
    third = gradc.grad(gradc.grad(gradc.grad(f_second_order_math)))
    assert third(0.6) == pytest.approx(-3 * math.sin(0.6) - 0.6 * math.cos(0.6), rel=1e-12)


def f_two_arguments(x, y):
    return math.sin(x) * y * y


def test_mixed_second_partial():
    d_dx = gradc.grad(f_two_arguments, wrt=0)
    assert gradc.grad(d_dx, wrt=1)(0.3, 0.7) == pytest.approx(2 * 0.7 * math.cos(0.3), rel=1e-12)
    assert gradc.grad(d_dx, wrt="x")(0.3, 0.7) == pytest.approx(-math.sin(0.3) * 0.49, rel=1e-12)


# -- further math functions and reductions of Python sequences --------------------------------


_NEEDS_311 = pytest.mark.skipif(not hasattr(math, "exp2"), reason="math.exp2 and math.cbrt are new in 3.11")


def f_math_exp2(x):
    return math.exp2(x) * x


def f_math_cbrt(x):
    return math.cbrt(x) * x


def f_math_degrees_radians(x):
    return math.degrees(x) * math.radians(x * x)


def f_math_ldexp(x):
    return math.ldexp(x * x, 3) + math.ldexp(x, -2)


def f_math_fmod(x, y):
    return math.fmod(x, y) * y


def f_math_remainder(x, y):
    return math.remainder(x, y) * y


def f_math_fsum(x, y):
    return math.fsum([x, x * y, math.sin(y)])


def f_math_prod(x, y):
    return math.prod([x, y, x + y]) + math.prod((x, 0.0, y)) + math.prod([x, y], start=2.0)


def f_math_dist(x, y):
    return math.dist((x, 1.0, y), (y * y, x, 0.5))


def f_builtin_sum(x, y):
    return sum([x, x * y, math.cos(y)]) + sum((x, y), 1.0) * x


def f_math_copysign(x, y):
    return math.copysign(x * x + x, y) * y + math.copysign(2.0, x * y) * x


def f_isclose(x):
    return math.isclose(x, 1.0) * x + x


MORE_MATH_CASES = [
    pytest.param(f_math_exp2, [0.7], marks=_NEEDS_311), pytest.param(f_math_cbrt, [0.7], marks=_NEEDS_311),
    pytest.param(f_math_cbrt, [-2.7], marks=_NEEDS_311), (f_math_degrees_radians, [0.7]),
    (f_math_ldexp, [-0.7]), (f_math_fmod, [2.7, 0.8]), (f_math_fmod, [-2.7, 0.8]), (f_math_fmod, [2.7, -0.8]),
    (f_math_remainder, [2.7, 0.8]), (f_math_remainder, [-2.1, 0.8]), (f_math_fsum, [0.3, -1.2]),
    (f_math_prod, [0.3, -1.2]), (f_math_prod, [0.0, -1.2]), (f_math_dist, [0.3, -1.2]), (f_builtin_sum, [0.3, -1.2]),
    (f_isclose, [0.5]), (f_isclose, [2.0]), (f_math_copysign, [0.3, -1.2]), (f_math_copysign, [-1.3, 0.4]),
    (f_math_copysign, [-0.3, -0.4]),
]


@pytest.mark.parametrize("f, args", MORE_MATH_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_more_math(f, args):
    assert_gradients(f, args, wrt=tuple(range(len(args))))


def test_fmod_remainder_gradient_exact():
    # fmod(2.7, 0.8) = 2.7 - 3 * 0.8 and remainder(2.7, 0.8) = 2.7 - 3 * 0.8: d/dy (r * y) = -3 y + r.
    assert gradc.grad(f_math_fmod, wrt=1)(2.7, 0.8) == pytest.approx(-3 * 0.8 + math.fmod(2.7, 0.8), rel=1e-15)
    assert gradc.grad(f_math_remainder, wrt=1)(2.1, 0.8) == pytest.approx(-3 * 0.8 + math.remainder(2.1, 0.8),
                                                                           rel=1e-15)


def f_math_log_variable_base(x, b):
    return math.log(x, b)


def test_math_log_with_differentiable_base_is_refused_clearly():
    with pytest.raises(gradc.NoGradientRuleError, match="base"):
        gradc.grad(f_math_log_variable_base, wrt=(0, 1))(2.0, 3.0)
    assert gradc.grad(f_math_log_variable_base)(2.0, 3.0) == pytest.approx(1 / (2.0 * math.log(3.0)))


def f_list_of_a_built_list(x):
    items = []
    for k in range(3):
        items.append(np.sin(x * k) * x)
    copied = list(items)
    return np.sum(copied[0] + copied[2] * copied[1])


def f_tuple_of_an_array(x):
    rows = tuple(x)
    return np.sum(rows[0] * np.cos(rows[1]))


@pytest.mark.parametrize("f, shape", [(f_list_of_a_built_list, (3,)), (f_tuple_of_an_array, (2, 3))])
def test_list_and_tuple_of_a_sequence(f, shape):
    assert_gradients(f, [rng.standard_normal(shape)])


def f_abs_of_a_complex_number(x):
    return abs(x * 1j + 2.0) * x + abs(x - 0.25)


def test_builtin_abs_of_a_complex_number():
    # (d|z| = Re(conj(z) dz) / |z|; z / |z| would flip the imaginary part's sign)
    assert_gradients(f_abs_of_a_complex_number, [0.5], use_autograd=False)
    _, tangent = gradc.jvp(f_abs_of_a_complex_number)(0.5, 1.0)
    assert isinstance(tangent, float) or np.isrealobj(tangent)
    assert tangent == pytest.approx(gradc.grad(f_abs_of_a_complex_number)(0.5), rel=1e-12)


def test_every_math_and_builtin_rule_is_exercised_here():
    """A new rule for `math` or a builtin must come with a test in this file."""
    import builtins
    import inspect
    import re

    from gradc.rules.registry import REGISTRY
    called = set(re.findall(r"(?<![\w])(\w+)\(", inspect.getsource(sys.modules[__name__])))
    primitives = list(vars(math).values()) + list(vars(builtins).values())
    ruled = {key.__name__ for key, rule in REGISTRY.items()
             if rule.vjp is not None and any(key is p for p in primitives)}
    assert {"sin", "max", "abs", "atan2"} <= ruled
    missing = sorted(ruled - called)
    assert not missing, f"rules without a test here: {missing}"
