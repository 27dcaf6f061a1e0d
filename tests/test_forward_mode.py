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
from test_rules_numpy import CASES

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
