"""Random straight-line array programs, big enough for every array optimization to apply.

Hypothesis draws functions of a matrix `x` (130 x 130, above the 16,384 elements from which
gradc reuses dying arrays in place and releases dead ones) and a vector `w`: each statement
combines earlier values (so values have several readers), with elementwise operators and
functions, broadcasts against `w`, sums along an axis, views (`v[::-1]`, `v.T`) and negations.
The optimized gradient (in-place reuse, `einsum` contractions, folded signs and factors) must
equal the unoptimized one, which the rest of the suite checks against finite differences and
autograd; the arguments must come back untouched.
"""
import itertools
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradc
from gradc.passes.bufferize import REUSE_MIN_ELEMENTS
from gradcheck import import_source

_counter = itertools.count()
N = 130  # N * N > REUSE_MIN_ELEMENTS by default
EXAMPLES = int(os.environ.get("GRADC_PROGRAMS", 25))  # per test (half for the loop and branch tests)
big_enough = pytest.mark.skipif(N * N < REUSE_MIN_ELEMENTS, reason="the arrays would be too small to be reused")

# Each makes a (N, N) value from earlier ones: {a}, {b} are earlier values.
STATEMENTS = [
    "{a} * {b}",
    "{a} + {b} * 0.5",
    "{a} - {b}",
    "-{a} * {b}",
    "{a} / (1.0 + {b} * {b})",
    "np.tanh({a}) * {b}",
    "np.sin({a}) - {b}",
    "np.exp(-{a} * {a})",
    "{a} ** 2 * 0.25",
    "{a} * w + {b}",
    "({a} - w) / (1.5 + np.cos(w))",
    "{a} + np.sum({b} * {a}, axis=0) * 0.01",
    "{a} - np.mean({b}, axis=1, keepdims=True)",
    "{a}[::-1] * {b}",
    "{a}.T * 0.5 + {b}",
    "{a} * {a} + {b}",
]
RESULTS = ["np.sum({a} * {b})", "np.sum({a} ** 2) + np.sum({b})", "np.mean({a} * w) - np.sum(-{b}) * 0.5"]


def assert_matches_unoptimized(tmp_path, source):
    """`f(x, w)` of `source`, differentiated with and without optimization, at a random point:
    the same gradients, and the arguments untouched."""
    module = import_source(tmp_path, f"array_program_{next(_counter)}", source)
    rng = np.random.default_rng(len(source))
    x, w = rng.uniform(-1.0, 1.0, (N, N)), rng.uniform(-1.0, 1.0, N)
    x_before, w_before = x.copy(), w.copy()
    optimized = gradc.grad(module.f, wrt=(0, 1))(x, w)
    plain = gradc.grad(module.f, wrt=(0, 1), optimize=False)(x, w)
    np.testing.assert_array_equal(x, x_before, err_msg=source)
    np.testing.assert_array_equal(w, w_before, err_msg=source)
    for ours, reference in zip(optimized, plain):
        scale = max(1.0, float(np.max(np.abs(reference))))
        np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-12 * scale, err_msg=source)


def _program(choices, result):
    lines = ["import numpy as np", "", "", "def f(x, w):", "    v0 = x * 0.9"]
    for k, (statement, i, j) in enumerate(choices, start=1):
        a, b = f"v{i % k}", f"v{j % k}"
        lines.append(f"    v{k} = " + STATEMENTS[statement].format(a=a, b=b))
    last = len(choices)
    r, i = result
    lines.append("    return " + RESULTS[r].format(a=f"v{last}", b=f"v{i % (last + 1)}"))
    return "\n".join(lines) + "\n"


programs = st.tuples(
    st.lists(st.tuples(st.integers(0, len(STATEMENTS) - 1), st.integers(0, 50), st.integers(0, 50)),
             min_size=1, max_size=7),
    st.tuples(st.integers(0, len(RESULTS) - 1), st.integers(0, 50)),
)


@big_enough
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(programs)
def test_optimized_array_gradients_equal_the_unoptimized(tmp_path, program):
    assert_matches_unoptimized(tmp_path, _program(*program))


def _loop_program(body, steps):
    lines = ["import numpy as np", "", "", "def f(x, w):", "    v0 = x * 0.9", "    h = v0 * 0.5",
             "    total = 0.0", f"    for i in range({steps}):"]
    for statement, other in body:
        b = ("h", "v0")[other % 2]
        lines.append("        h = " + STATEMENTS[statement].format(a="h", b=b) + " * 0.5")
    lines += ["        total = total + np.sum(h * w) * 0.1", "    return total + np.sum(h * v0)"]
    return "\n".join(lines) + "\n"


loop_programs = st.tuples(st.lists(st.tuples(st.integers(0, len(STATEMENTS) - 1), st.integers(0, 1)),
                                   min_size=1, max_size=3), st.integers(0, 3))


@big_enough
@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(loop_programs)
def test_optimized_array_gradients_in_loops_equal_the_unoptimized(tmp_path, program):
    assert_matches_unoptimized(tmp_path, _loop_program(*program))


def _branch_program(first, second, steps):
    """A loop whose body takes one of two updates by the sign of a sum of the running value."""
    (s1, o1), (s2, o2) = first, second
    b1, b2 = ("h", "v0")[o1 % 2], ("h", "v0")[o2 % 2]
    lines = ["import numpy as np", "", "", "def f(x, w):", "    v0 = x * 0.9", "    h = v0 * 0.5",
             f"    for i in range({steps}):",
             "        if np.sum(h * w) > 0.0:",
             "            h = " + STATEMENTS[s1].format(a="h", b=b1) + " * 0.5",
             "        else:",
             "            h = " + STATEMENTS[s2].format(a="h", b=b2) + " * 0.5",
             "    return np.sum(h * v0)"]
    return "\n".join(lines) + "\n"


branch_programs = st.tuples(st.tuples(st.integers(0, len(STATEMENTS) - 1), st.integers(0, 1)),
                            st.tuples(st.integers(0, len(STATEMENTS) - 1), st.integers(0, 1)),
                            st.integers(1, 3))


@big_enough
@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(branch_programs)
def test_optimized_array_gradients_through_branches_equal_the_unoptimized(tmp_path, program):
    assert_matches_unoptimized(tmp_path, _branch_program(*program))
