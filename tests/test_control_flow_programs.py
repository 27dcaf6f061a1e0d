"""Random programs with control flow: gradc against finite differences and autograd.

Hypothesis draws small functions of two floats (x, y): random nestings (depth <= 3) of
`if` on comparisons of the running values and `for i in range(k)` (k in 0..3), with
`break`/`continue` inside loops, around elementwise scalar updates. Each program is
written to a module file, imported (gradc reads its source) and differentiated with
respect to (x, y), with and without optimization.

Finite differences mean nothing where a perturbation flips a comparison, so every
program also exists in a traced twin that records how far each evaluated comparison
was from its boundary; examples closer than `MARGIN` are rejected with `assume`.
"""
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import gradc
from gradcheck import autograd_version, import_source, numeric_gradient

try:
    import autograd
except ImportError:  # autograd is an optional oracle
    autograd = None

pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")

_counter = itertools.count()
MARGIN = 1e-3

# Updates of the running values; {i} is the innermost loop index (or a constant outside loops).
UPDATES = [
    "x = np.sin(x) * y",
    "y = y + x * 0.5",
    "x = x * {c} + {i}",
    "y = np.tanh(y) - x",
    "x = np.cos(y) + x * 0.5",
    "y = y * np.sin(x)",
    "x = np.tanh(x * y) + {i} * 0.1",
    "y = np.exp(np.tanh(x)) - y * 0.5",
    "t = np.sin(x) + y\n{pad}x = x + t * 0.3",
    "x, y = y * {c}, x + 0.1",
]
# Updates that start a loop-carried value as an alias of a live one (see test_control_flow.py).
ALIAS_UPDATES = ["y = x", "x = y"]
CONSTANTS = ["0.5", "-0.9", "1.1", "0.7"]
# Comparisons as (left, right): the program tests `left > right`.
COMPARISONS = [
    ("x", "y"), ("x", "0.3"), ("y", "-0.2"), ("np.sin(x)", "0.1"), ("x * y", "0.2"),
    ("y", "x * 0.5"), ("{i}", "1.5"),
]


def _block(depth):
    """A strategy for a list of statements nested at most `depth` more levels."""
    leaf = st.tuples(st.just("update"), st.integers(0, len(UPDATES) - 1), st.sampled_from(CONSTANTS))
    if depth == 0:
        return st.lists(leaf, min_size=1, max_size=3)
    inner = st.deferred(lambda: _block(depth - 1))
    compound = st.one_of(
        st.tuples(st.just("if"), st.integers(0, len(COMPARISONS) - 1), inner,
                  st.one_of(st.none(), inner)),
        st.tuples(st.just("for"), st.integers(0, 3), inner),
        st.tuples(st.just("jump"), st.sampled_from(["break", "continue"]),
                  st.integers(0, len(COMPARISONS) - 1)),
    )
    return st.lists(st.one_of(leaf, leaf, compound), min_size=1, max_size=4)


programs = _block(3)


def program_source(name, block, traced, alias_every=0):
    """Source of `def name(x, y)`; with `traced`, comparisons go through `_gt`, which records margins."""
    lines = ["import numpy as np", "", "MARGINS = []", "",
             "def _gt(a, b):", "    MARGINS.append(abs(a - b))", "    return a > b", "", "",
             f"def {name}(x, y):"]
    counter = itertools.count()

    def comparison(k, index):
        left, right = COMPARISONS[k]
        left, right = left.format(i=index), right.format(i=index)
        return f"_gt({left}, {right})" if traced else f"{left} > {right}"

    def emit(statements, indent, index, in_loop):
        pad = "    " * indent
        wrote = False
        for statement in statements:
            kind = statement[0]
            if kind == "update":
                template = UPDATES[statement[1]]
                lines.append(pad + template.format(c=statement[2], i=index, pad=pad))
                wrote = True
            elif kind == "if":
                _, k, body, orelse = statement
                lines.append(f"{pad}if {comparison(k, index)}:")
                emit(body, indent + 1, index, in_loop)
                if orelse is not None:
                    lines.append(f"{pad}else:")
                    emit(orelse, indent + 1, index, in_loop)
                wrote = True
            elif kind == "for":
                _, k, body = statement
                n = next(counter)
                if alias_every and n % alias_every == 0:
                    lines.append(pad + ALIAS_UPDATES[n // alias_every % 2])
                loop_index = f"i{indent}"
                lines.append(f"{pad}for {loop_index} in range({k}):")
                emit(body, indent + 1, loop_index, True)
                wrote = True
            elif kind == "jump" and in_loop:
                _, word, k = statement
                lines.append(f"{pad}if {comparison(k, index)}:")
                lines.append(f"{pad}    {word}")
                wrote = True
        if not wrote:
            lines.append(pad + "x = x * 0.9")

    emit(block, 1, "0.5", False)
    lines.append("    return x * y + np.sin(x) - y * 0.3")
    return "\n".join(lines) + "\n"


def load(tmp_path, source, name):
    return import_source(tmp_path, name, source)


def check_program(tmp_path, block, x, y, alias_every=0):
    name = f"gradc_control_program_{next(_counter)}"
    traced = load(tmp_path, program_source(name + "_traced", block, True, alias_every), name + "_traced")
    f_traced = getattr(traced, name + "_traced")
    # Every comparison evaluated at the point and at the finite-difference neighbours is far
    # from its boundary, and the values stay moderate.
    for dx, dy in [(0, 0), (1e-6, 0), (-1e-6, 0), (0, 1e-6), (0, -1e-6)]:
        value = f_traced(x + dx, y + dy)
        assume(np.isfinite(value) and abs(value) < 1e6)
    assume(min(traced.MARGINS, default=1.0) > MARGIN)

    source = program_source(name, block, False, alias_every)
    f = getattr(load(tmp_path, source, name), name)
    expected = np.array([numeric_gradient(f, [x, y], index) for index in (0, 1)])
    coarse = np.array([numeric_gradient(f, [x, y], index, eps=1e-5) for index in (0, 1)])
    scale = max(1.0, float(np.max(np.abs(expected))))
    # Chaotic programs (gradients of 1e10 from values of 1) leave nothing to compare with.
    assume(scale < 1e4 and np.all(np.abs(expected - coarse) <= 1e-3 * scale))
    # Nested loops of sin/tanh can be steep; finite differences are then trusted only as far
    # as two step sizes agree, and autograd (exact up to rounding) is the tight oracle.
    slack = 10.0 * np.abs(expected - coarse) + 1e-5 * np.abs(expected) + 1e-6 * scale
    exact = None
    if autograd is not None:
        exact = [float(t) for t in autograd.grad(autograd_version(f), argnum=(0, 1))(x, y)]
    for optimize in (True, False):
        dx, dy = gradc.grad(f, wrt=(0, 1), optimize=optimize)(x, y)
        assert type(dx) is float and type(dy) is float, source
        error = np.abs(np.array([dx, dy]) - expected)
        assert np.all(error <= slack), (f"finite differences, optimize={optimize}: gradc {[dx, dy]}, "
                                        f"differences {expected.tolist()} (h=1e-5: {coarse.tolist()})\n{source}")
        if exact is not None:
            np.testing.assert_allclose([dx, dy], exact, rtol=1e-8, atol=1e-10 * scale,
                                       err_msg=f"autograd, optimize={optimize}\n{source}")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much,
                                 HealthCheck.too_slow])
@given(block=programs, x=st.floats(-1.5, 1.5), y=st.floats(-1.5, 1.5))
def test_random_control_flow_program(tmp_path, block, x, y):
    check_program(tmp_path, block, x, y)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much,
                                 HealthCheck.too_slow])
@given(block=programs, x=st.floats(-1.5, 1.5), y=st.floats(-1.5, 1.5))
def test_random_control_flow_program_with_aliases(tmp_path, block, x, y):
    """As above, with every loop preceded by `y = x` or `x = y`."""
    check_program(tmp_path, block, x, y, alias_every=1)


def test_program_source_shape():
    block = [("for", 2, [("if", 0, [("update", 0, "0.5")], [("jump", "break", 1)])]),
             ("update", 2, "1.1")]
    source = program_source("shape", block, False)
    assert "for i1 in range(2):" in source and "if x > y:" in source and "break" in source
    assert "x = x * 1.1 + 0.5" in source
