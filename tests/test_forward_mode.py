"""Forward mode (`gradc.jvp`), checked against reverse mode, finite differences and autograd.

- Every rule: for each case of test_rules_numpy (every NumPy rule, method and attribute) and of
  test_rules_python, and each argument it differentiates, the JVP along a random tangent u equals
  central differences along u and the dot-product test against reverse mode: for a scalar f,
  `<1, J u> == <J^T 1, u>`, i.e. `jvp(f)(x, u)[1] == sum(grad(f)(x) * u)`.
- Random programs (pass_programs.py, memory_programs.py): the JVP along random tangents of all
  arguments equals the gradients dotted with them.
- Vector outputs, containers, loops, branches, index writes; bad tangents.
"""
import os
import tempfile

import numpy as np
import pytest

import gradc
from gradcheck import autograd, autograd_version
from rule_cases import CASES

pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")


def _float64(c, i):
    return np.asarray(c.args[i]).dtype == np.float64


JVP_CASES = [(c, i) for c in CASES for i in (c.wrt if isinstance(c.wrt, tuple) else (c.wrt,)) if _float64(c, i)]


def _tangent(x, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, np.shape(x)) if np.ndim(x) else float(rng.uniform(-1.0, 1.0))


def _moved(args, index, step):
    moved = list(args)
    moved[index] = args[index] + step
    return moved


@pytest.mark.parametrize("c, index", JVP_CASES, ids=[f"{c.id}-{i}" for c, i in JVP_CASES])
def test_rule_in_forward_mode(c, index):
    args = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in c.args]
    u = _tangent(args[index], len(c.id) + index)
    value, tangent = gradc.jvp(c.fn, wrt=index)(*args, u)
    np.testing.assert_allclose(value, c.fn(*args), rtol=1e-12)
    eps = 1e-6
    numeric = (c.fn(*_moved(args, index, eps * u)) - c.fn(*_moved(args, index, -eps * u))) / (2 * eps)
    scale = max(1.0, abs(numeric))
    assert tangent == pytest.approx(numeric, rel=1e-5, abs=1e-6 * scale), "finite differences"
    gradient = gradc.grad(c.fn, wrt=index)(*args)
    assert tangent == pytest.approx(float(np.sum(gradient * u)), rel=1e-9, abs=1e-11 * scale), "dot-product test"
    oracle = autograd_version(c.fn)
    if oracle is not None and c.options.get("use_autograd", True):
        from autograd import make_jvp
        try:
            theirs = make_jvp(oracle, argnum=index)(*args)(u)[1]
        except Exception:  # autograd does not support this function
            return
        assert tangent == pytest.approx(float(theirs), rel=1e-7, abs=1e-10 * scale), "autograd"


def _python_cases():
    import test_rules_python as P
    found = []
    for entry in P.OPERATOR_CASES + P.MATH_CASES + P.BUILTIN_CASES + P.MORE_MATH_CASES:
        f, args = getattr(entry, "values", entry)
        found += [pytest.param(f, args, i, marks=getattr(entry, "marks", ()), id=f"{f.__name__}-{args}-{i}")
                  for i in range(len(args))]
    return found


@pytest.mark.parametrize("f, args, index", _python_cases())
def test_python_rule_in_forward_mode(f, args, index):
    value, tangent = gradc.jvp(f, wrt=index)(*args, 0.75)
    assert type(tangent) is float
    assert tangent == pytest.approx(0.75 * gradc.grad(f, wrt=index)(*args), rel=1e-9, abs=1e-12)


# -- random programs: forward mode against reverse mode --------------------------------------------

COUNT = int(os.environ.get("GRADC_PROGRAMS", 20))


def _check_against_reverse(f, args, wrt, seed):
    tangents = tuple(_tangent(args[i], seed + i) for i in wrt)
    value, tangent = gradc.jvp(f, wrt=wrt)(*[np.array(a, copy=True) if isinstance(a, np.ndarray) else a
                                             for a in args], tangents)
    grads = gradc.grad(f, wrt=wrt)(*args)
    expected = sum(float(np.sum(g * t)) for g, t in zip(grads, tangents))
    np.testing.assert_allclose(value, f(*[np.array(a, copy=True) if isinstance(a, np.ndarray) else a
                                         for a in args]), rtol=1e-12)
    assert tangent == pytest.approx(expected, rel=1e-9, abs=1e-9 * max(1.0, abs(expected)))


@pytest.mark.parametrize("index", range(COUNT))
def test_random_array_programs_forward_equals_reverse(tmp_path, index):
    from fuzz_memory import import_program
    from pass_programs import generate
    program = generate(np.random.default_rng([7, index]))
    f = import_program(program.source, str(tmp_path), f"forward_program_{index}").f
    _check_against_reverse(f, program.args(), (0, 1, 2), index)


@pytest.mark.parametrize("index", range(COUNT))
def test_random_memory_programs_forward_equals_reverse(tmp_path, index):
    from fuzz_memory import import_program
    from memory_programs import generate
    program = generate(np.random.default_rng([8, index]))
    f = import_program(program.source, str(tmp_path), f"forward_memory_program_{index}").f
    try:
        _check_against_reverse(f, program.args(), program.wrt, index)
    except gradc.GradcError:
        assert not program.must_work  # (a program gradc may refuse, in either mode)


# -- what forward mode is for: few inputs, many outputs ------------------------------------------

def trajectory(x0, k):
    xs = [x0]
    x = x0
    for i in range(4):
        x = x + 0.1 * np.sin(k * x)
        xs.append(x)
    return np.stack(xs)


def test_a_vector_output_has_a_vector_tangent():
    x0, k = np.array([0.3, -0.5, 1.2]), 1.7
    value, tangent = gradc.jvp(trajectory, wrt=1)(x0, k, 1.0)
    assert value.shape == tangent.shape == (5, 3)
    eps = 1e-6
    np.testing.assert_allclose(tangent, (trajectory(x0, k + eps) - trajectory(x0, k - eps)) / (2 * eps), rtol=1e-6,
                               atol=1e-9)
    cotangent = np.random.default_rng(0).normal(size=(5, 3))
    dk = gradc.vjp(trajectory, wrt=1)(x0, k, cotangent)
    assert np.sum(cotangent * tangent) == pytest.approx(dk, rel=1e-9)  # <v, J u> = <J^T v, u>


def layered(params, x):
    for W, b in params:
        x = np.tanh(x @ W + b)
    return np.sum(x * x)


def test_a_container_argument_takes_a_tangent_of_its_structure():
    rng = np.random.default_rng(1)
    params = [(rng.normal(size=(3, 3)), rng.normal(size=3)), (rng.normal(size=(3, 2)), rng.normal(size=2))]
    x = rng.normal(size=(4, 3))
    tangents = [(rng.normal(size=(3, 3)), rng.normal(size=3)), (rng.normal(size=(3, 2)), rng.normal(size=2))]
    value, tangent = gradc.jvp(layered)(params, x, tangents)
    grads = gradc.grad(layered)(params, x)
    expected = sum(float(np.sum(g * t)) for pair_g, pair_t in zip(grads, tangents) for g, t in zip(pair_g, pair_t))
    assert tangent == pytest.approx(expected, rel=1e-10)


def test_generated_tangent_code_reads_like_the_primal():
    source = gradc.jvp(layered, wrt=1).source_for([(np.ones((3, 3)), np.ones(3))], np.ones((4, 3)), np.ones((4, 3)))
    assert "def layered_jvp(params, x, x_dot):" in source
    assert "x_dot = (x_dot @ W) * (1.0 - x * x)" in source or "x_dot @ W" in source
    assert "# line" in source


def test_bad_tangents_are_refused_saying_what_was_expected():
    x = np.ones(3)
    with pytest.raises(gradc.GradcError, match=r"tangent of `x0` has shape \(2,\); `x0` has shape \(3,\)"):
        gradc.jvp(trajectory)(x, 1.0, np.ones(2))
    with pytest.raises(gradc.GradcError, match="tangents are floating-point"):
        gradc.jvp(trajectory)(x, 1.0, np.ones(3, dtype=int))
    with pytest.raises(gradc.GradcError, match="takes a tuple of 2 tangents"):
        gradc.jvp(trajectory, wrt=(0, 1))(x, 1.0, np.ones(3))
    with pytest.raises(gradc.GradcError, match="must be a list like it"):
        gradc.jvp(layered)([(np.ones((3, 3)), np.ones(3))], np.ones((4, 3)), (np.ones((3, 3)), np.ones(3)))


# -- Hessian-vector products (forward over reverse), Hessians and Jacobians -----------------------

@pytest.mark.parametrize("c, index", JVP_CASES, ids=[f"{c.id}-{i}" for c, i in JVP_CASES])
def test_rule_hvp_forward_over_reverse(c, index):
    """Every rule's first-order code (and every runtime helper it calls) in forward mode: the JVP of
    the gradient equals reverse over reverse, `vjp(grad(f))`, and central differences of the gradient."""
    args = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in c.args]
    v = _tangent(args[index], 3 * len(c.id) + index)
    hv = gradc.hvp(c.fn, wrt=index)(*args, v)
    first = gradc.grad(c.fn, wrt=index)
    np.testing.assert_allclose(hv, gradc.vjp(first, wrt=index)(*args, v), rtol=1e-9, atol=1e-11)
    eps = 1e-5
    numeric = (np.asarray(first(*_moved(args, index, eps * v))) - np.asarray(first(*_moved(args, index, -eps * v)))) \
        / (2 * eps)
    np.testing.assert_allclose(hv, numeric, rtol=1e-4, atol=1e-5 * max(1.0, float(np.max(np.abs(numeric)))))


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_hessian_of_rosenbrock_is_exact():
    x = np.linspace(-0.5, 1.5, 10)
    H = gradc.hessian(rosenbrock)(x)
    assert H.shape == (10, 10)
    expected = np.zeros((10, 10))  # the closed form
    for i in range(9):
        expected[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        expected[i + 1, i + 1] += 200
        expected[i, i + 1] = expected[i + 1, i] = -400 * x[i]
    np.testing.assert_allclose(H, expected, rtol=1e-12, atol=1e-9)


def test_hvp_is_one_generated_function_and_shows_its_program():
    x = np.linspace(-0.5, 1.5, 4)
    product = gradc.hvp(rosenbrock)
    np.testing.assert_allclose(product(x, np.ones(4)), gradc.hessian(rosenbrock)(x) @ np.ones(4), rtol=1e-12)
    source = product.source_for(x, np.ones(4))
    assert source.startswith("def drosenbrock_jvp(x, x_dot):") and "dx_dot" in source
    assert gradc.source(rosenbrock, mode="hvp").startswith("def drosenbrock_jvp(")


def vector_valued(x):
    return np.sin(x) * x[0]


def test_hessian_of_a_non_scalar_function_is_refused():
    with pytest.raises(gradc.NonScalarOutputError, match="scalar"):
        gradc.hessian(vector_valued)(np.ones(3))


def test_jacobian_forward_and_reverse_agree_and_have_jax_shapes():
    x0, k = np.array([0.3, -0.5, 1.2]), 1.7
    forward = gradc.jacobian(trajectory, mode="fwd")(x0, k)
    backward = gradc.jacobian(trajectory, mode="rev")(x0, k)
    assert forward.shape == backward.shape == (5, 3, 3)  # out.shape + in.shape
    np.testing.assert_allclose(forward, backward, rtol=1e-12, atol=1e-14)
    dx0, dk = gradc.jacobian(trajectory, wrt=(0, 1))(x0, k)
    assert dx0.shape == (5, 3, 3) and dk.shape == (5, 3)
    np.testing.assert_allclose(dk, gradc.jvp(trajectory, wrt=1)(x0, k, 1.0)[1], rtol=1e-12)
    if autograd is not None:
        from autograd import jacobian as autograd_jacobian
        np.testing.assert_allclose(forward, autograd_jacobian(autograd_version(trajectory))(x0, k), rtol=1e-10)
    with pytest.raises(gradc.GradcError, match="mode='sideways'"):
        gradc.jacobian(trajectory, mode="sideways")


# -- second order through loops (the first-order code's tapes: `tape.append`, `tape.pop()`) ----------

def rnn(W, h, xs):
    for x in xs:
        h = np.tanh(W @ h + x)
    return np.sum(h * h)


def counted(x):
    y = x * 1.0
    i = 0
    while i < 3:
        y = np.tanh(y * x + 0.1)
        i += 1
    return np.sum(y * y)


def scalar_loop(x):
    for i in range(3):
        x = np.sin(x) * x + 0.5
    return x


@pytest.mark.parametrize("f, index", [(rnn, 0), (rnn, 1), (rnn, 2), (counted, 0)])
def test_second_order_through_a_loop_forward_and_reverse(f, index):
    rng = np.random.default_rng(index)
    args = {rnn: (rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3), rng.normal(size=(4, 3))),
            counted: (rng.normal(size=4),)}[f]
    v = rng.normal(size=np.shape(args[index]))
    first = gradc.grad(f, wrt=index)
    eps = 1e-5
    numeric = (first(*_moved(args, index, eps * v)) - first(*_moved(args, index, -eps * v))) / (2 * eps)
    np.testing.assert_allclose(gradc.hvp(f, wrt=index)(*args, v), numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gradc.vjp(first, wrt=index)(*args, v), numeric, rtol=1e-5, atol=1e-7)


def test_grad_of_grad_of_a_loop():
    second = gradc.grad(gradc.grad(scalar_loop))
    first = gradc.grad(scalar_loop)
    eps = 1e-6
    assert second(0.7) == pytest.approx((first(0.7 + eps) - first(0.7 - eps)) / (2 * eps), rel=1e-6)


@pytest.mark.parametrize("index", range(COUNT))
def test_random_programs_hvp_equals_differences_of_the_gradient(tmp_path, index):
    from fuzz_memory import import_program
    from pass_programs import generate
    program = generate(np.random.default_rng([9, index]))
    f = import_program(program.source, str(tmp_path), f"hvp_program_{index}").f
    args = program.args()
    v = _tangent(args[0], index)
    first = gradc.grad(f, wrt=0)
    hv = gradc.hvp(f, wrt=0)(*args, v)
    reverse_over_reverse = gradc.vjp(first, wrt=0)(*args, v)
    scale = max(1.0, float(np.max(np.abs(reverse_over_reverse))))
    np.testing.assert_allclose(hv, reverse_over_reverse, rtol=1e-8, atol=1e-10 * scale)
    differences = [(first(*_moved(args, 0, eps * v)) - first(*_moved(args, 0, -eps * v))) / (2 * eps)
                   for eps in (1e-5, 1e-6)]
    if np.allclose(*differences, rtol=1e-3, atol=1e-6 * scale):  # (where finite differences settle:
        np.testing.assert_allclose(hv, differences[1], rtol=1e-4, atol=1e-5 * scale)  # x ** 12 may not)


# -- a gradient called inside a differentiated function; containers; recursion -------------------

def inner_loss(w):
    return np.sum(np.sin(w) * w)


inner_gradient = gradc.grad(inner_loss)


def gradient_penalty(w):
    return np.sum(inner_gradient(w) ** 2) + np.sum(w * w)


def test_a_gradient_called_inside_a_differentiated_function_is_differentiated():
    w = np.array([0.3, -0.7, 1.1])
    eps = 1e-6
    numeric = np.array([(gradient_penalty(w + eps * e) - gradient_penalty(w - eps * e)) / (2 * eps)
                        for e in np.eye(3)])
    np.testing.assert_allclose(gradc.grad(gradient_penalty)(w), numeric, rtol=1e-6)
    _, tangent = gradc.jvp(gradient_penalty)(w, np.ones(3))
    assert tangent == pytest.approx(float(np.sum(numeric)), rel=1e-6)


def test_hvp_with_respect_to_a_container():
    rng = np.random.default_rng(2)
    params = [(rng.normal(size=(3, 3)), rng.normal(size=3))]
    x = rng.normal(size=(2, 3))
    v = [(rng.normal(size=(3, 3)), rng.normal(size=3))]
    hv = gradc.hvp(layered)(params, x, v)
    first = gradc.grad(layered)
    eps = 1e-5
    up = [(params[0][0] + eps * v[0][0], params[0][1] + eps * v[0][1])]
    down = [(params[0][0] - eps * v[0][0], params[0][1] - eps * v[0][1])]
    for got, a, b in zip(hv[0], first(up, x)[0], first(down, x)[0]):
        np.testing.assert_allclose(got, (a - b) / (2 * eps), rtol=1e-5, atol=1e-7)


def halving(a):
    if a < 1.0:
        return a * a
    return halving(a / 2.0) * 1.5 + np.sin(a)


def test_recursion_forward_hvp_and_the_second_order_limit():
    _, tangent = gradc.jvp(halving)(3.0, 1.0)
    assert tangent == pytest.approx(gradc.grad(halving)(3.0), rel=1e-12)
    first = gradc.grad(halving)
    for a in (3.0, 1.5, 0.7):
        numeric = (first(a + 1e-6) - first(a - 1e-6)) / 2e-6
        assert gradc.hvp(halving)(a, 1.0) == pytest.approx(numeric, rel=1e-6)  # (forward over reverse)
    with pytest.raises(gradc.NoGradientRuleError, match="halving_vjp"):
        gradc.grad(first)(3.0)  # (reverse over reverse through the recursion's run-time vjp: not built)


def soft(x):
    return np.log1p(np.exp(x))


@gradc.defvjp(soft)
def soft_vjp(g, ans, x):
    return g / (1.0 + np.exp(-x))


def through_a_user_rule(x):
    return np.sum(soft(x) * x)


def test_a_user_rule_has_no_jvp_and_hvp_uses_it_in_reverse():
    x, v = np.array([0.3, -0.5, 1.2]), np.array([1.0, 0.5, -0.2])
    with pytest.raises(gradc.NoGradientRuleError, match="no forward-mode .JVP. rule for .*soft"):
        gradc.jvp(through_a_user_rule)(x, v)
    first = gradc.grad(through_a_user_rule)
    eps = 1e-5
    numeric = (first(x + eps * v) - first(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(gradc.hvp(through_a_user_rule)(x, v), numeric, rtol=1e-6)
