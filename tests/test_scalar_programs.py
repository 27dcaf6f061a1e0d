"""Random straight-line scalar programs: gradc against central finite differences.

Hypothesis draws small programs over Python floats from safe elementwise operations
(sin, cos, tanh, exp of a bounded value, +, -, *, division by 1 + y*y); each is
written to a module file, imported (gradc reads its source) and differentiated.
"""
import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradc
from gradcheck import import_source, numeric_gradient

_counter = itertools.count()

UNARY = [
    "math.sin({a})", "math.cos({a})", "math.tanh({a})", "math.exp(math.tanh({a}))", "np.sin({a})",
    "np.tanh({a})", "np.exp(np.cos({a}))", "-{a}", "{a} * {c}", "{c} - {a}",
]
BINARY = ["{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} / (1.0 + {b} * {b})", "math.sin({a}) * {b}"]
CONSTANTS = [0.5, 2.0, -1.5, 3.0]

statement = st.one_of(
    st.tuples(st.just("unary"), st.sampled_from(UNARY), st.integers(0, 1000), st.integers(0, 1000),
              st.sampled_from(CONSTANTS)),
    st.tuples(st.just("binary"), st.sampled_from(BINARY), st.integers(0, 1000), st.integers(0, 1000),
              st.sampled_from(CONSTANTS)),
)


def program_source(name, statements, reassign):
    """A function of (x, y) computing one new variable (or rebinding an old one) per statement."""
    names = ["x", "y"]
    lines = ["import math", "import numpy as np", "", "", f"def {name}(x, y):"]
    for i, ((_, template, ia, ib, c), rebind) in enumerate(zip(statements, reassign)):
        a, b = names[ia % len(names)], names[ib % len(names)]
        target = a if rebind else f"v{i}"
        lines.append(f"    {target} = " + template.format(a=a, b=b, c=c))
        if target not in names:
            names.append(target)
    # Every variable takes part in the output, so fan-out is exercised too.
    lines.append("    return " + " + ".join(f"math.tanh({n})" for n in names[-3:]) + " + 0.1 * " + names[-1]
                 + " * " + names[len(names) // 2])
    return "\n".join(lines) + "\n"


def load(tmp_path, source, name):
    return getattr(import_source(tmp_path, name, source), name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(statements=st.lists(statement, min_size=1, max_size=12),
       reassign=st.lists(st.booleans(), min_size=12, max_size=12),
       x=st.floats(-2.0, 2.0), y=st.floats(-2.0, 2.0))
def test_random_scalar_program(tmp_path, statements, reassign, x, y):
    name = f"gradc_random_program_{next(_counter)}"
    source = program_source(name, statements, reassign)
    f = load(tmp_path, source, name)
    expected = [numeric_gradient(f, [x, y], index) for index in (0, 1)]
    for optimize in (False, True):
        dx, dy = gradc.grad(f, wrt=(0, 1), optimize=optimize)(x, y)
        assert type(dx) is float and type(dy) is float, source
        np.testing.assert_allclose([dx, dy], expected, rtol=1e-5, atol=1e-6, err_msg=source)


def f_cse_merged_rebinding(y):
    v1 = math.sin(y)
    v2 = v1 * y
    v1 = v1 * y  # the same expression as v2: common-subexpression elimination merges them
    return v2 + math.tanh(v1)


def test_cse_merged_rebinding():
    """Once a wrong gradient: the adjoint of one `v1` overwrote the other's while still needed."""
    expected = numeric_gradient(f_cse_merged_rebinding, [2.0], 0)
    np.testing.assert_allclose(gradc.grad(f_cse_merged_rebinding, optimize=False)(2.0), expected, rtol=1e-6)
    np.testing.assert_allclose(gradc.grad(f_cse_merged_rebinding)(2.0), expected, rtol=1e-6)


def f_cse_in_loop_and_branches(y, n):
    s = math.sin(y) * y
    for i in range(n):
        v1 = math.sin(y)
        v2 = v1 * y  # computed before the loop too: the loop reuses it
        v1 = v1 * y
        if i % 2 == 0:
            s = s + v2 * math.tanh(v1) + s * s * 0.1
        else:
            s = s - math.cos(v1) * v2 + s * s * 0.1  # the same `s * s` as the other branch: never shared
    return s * y


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_cse_inside_loops_and_branches(n):
    """Common subexpressions are shared only where the first one dominates the second."""
    expected = numeric_gradient(f_cse_in_loop_and_branches, [0.7, n], 0)
    for optimize in (False, True):
        np.testing.assert_allclose(gradc.grad(f_cse_in_loop_and_branches, optimize=optimize)(0.7, n),
                                   expected, rtol=1e-6)
    code = [line for line in gradc.grad(f_cse_in_loop_and_branches).source.splitlines()
            if not line.strip().startswith("#")]
    assert sum("= math.sin(y)" in line for line in code) == 1, code  # the loop reuses the one before it
