"""Statements that change no gradient run in the forward sweep of the generated gradient:
`print`, `assert`, `raise` in a branch, `warnings.warn`, `logging`, `with np.errstate(...)`, and
f-strings. Each runs once per call of the gradient, in program order, as the primal runs it,
optimized or not, in reverse and forward mode; and the generated source shows it."""
import logging
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import gradc
from gradcheck import numeric_gradient

log = logging.getLogger(__name__)

X = np.array([0.5, 1.0, 2.0])
OPTIMIZE = [True, False]


def check_gradient(f, args, optimize, wrt=0, capsys=None):
    """gradc's gradient of `f` against central differences (output captured and dropped)."""
    ours = gradc.grad(f, wrt=wrt, optimize=optimize)(*args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = numeric_gradient(f, args, wrt)
    if capsys is not None:
        capsys.readouterr()
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    return ours


def printed(capsys, call):
    """What `call()` prints, as a list of lines."""
    capsys.readouterr()
    call()
    return capsys.readouterr().out.splitlines()


# -- print ---------------------------------------------------------------------------------------------
def prints_in_order(x, n):
    y = np.sin(x)
    print("start", n)
    for i in range(n):
        if i % 2 == 0:
            print(f"even step {i}: {np.sum(y):.4f}")
        else:
            print("odd step", i, sep="=", end=";\n")
        y = y * 1.5
    print("total", np.sum(y * y))
    return np.sum(y * y)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_print_runs_once_per_call_in_program_order(capsys, optimize):
    expected = printed(capsys, lambda: prints_in_order(X, 3))
    assert len(expected) == 5
    g = gradc.grad(prints_in_order, optimize=optimize)
    assert printed(capsys, lambda: g(X, 3)) == expected
    assert printed(capsys, lambda: g(X, 3)) == expected  # (each call prints once)
    check_gradient(prints_in_order, (X, 3), optimize, capsys=capsys)


def test_print_appears_in_the_generated_source():
    source = gradc.grad(prints_in_order).source
    assert "print('start', n)" in source
    assert "print(f'even step {i}: {np.sum(y):.4f}')" in source
    assert "print('odd step', i, sep='=', end=';\\n')" in source
    forward, backward = source.split("# backward")
    statements = [line.strip() for line in backward.splitlines()]
    assert not any(line.startswith("print(") for line in statements)  # (not run again backward)


def prints_what_only_it_reads(x):
    unused = np.exp(x) * 3.0
    print("unused sum", np.sum(unused))
    return np.sum(x * x)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_values_only_a_print_reads_are_computed(capsys, optimize):
    expected = printed(capsys, lambda: prints_what_only_it_reads(X))
    g = gradc.grad(prints_what_only_it_reads, optimize=optimize)
    assert printed(capsys, lambda: g(X)) == expected
    np.testing.assert_allclose(g(X), 2 * X)


def prints_around_a_write(x):
    y = x * 2.0
    print("before", y)
    y[0] = 7.0
    print("after", y)
    z = y * y
    z[1] = z[1] + 1.0
    print("z", z)
    return np.sum(z * x)


@pytest.mark.parametrize("optimize", OPTIMIZE)
@pytest.mark.parametrize("size", [3, 5000])
def test_print_sees_the_array_as_it_was_before_a_later_write(capsys, optimize, size):
    x = np.linspace(0.5, 2.0, size)
    np.set_printoptions(threshold=10)
    try:
        expected = printed(capsys, lambda: prints_around_a_write(x))
        g = gradc.grad(prints_around_a_write, optimize=optimize)
        assert printed(capsys, lambda: g(x)) == expected
        if size == 3:
            check_gradient(prints_around_a_write, (x,), optimize, capsys=capsys)
    finally:
        np.set_printoptions(threshold=1000)


def prints_to_stderr(x):
    print("to stderr:", x[0], file=sys.stderr, sep=" ", end="\n")
    return np.sum(x * x)


def writes_to_stdout(x):
    sys.stdout.write(f"first {x[0]}\n")
    sys.stdout.flush()
    return np.sum(x * x)


def test_sys_stdout_write(capsys):
    writes_to_stdout(X)
    expected = capsys.readouterr().out
    np.testing.assert_allclose(gradc.grad(writes_to_stdout)(X), 2 * X)
    assert capsys.readouterr().out == expected == "first 0.5\n"


def test_print_with_file_keyword(capsys):
    prints_to_stderr(X)
    expected = capsys.readouterr().err
    gradc.grad(prints_to_stderr)(X)
    assert capsys.readouterr().err == expected == "to stderr: 0.5\n"


def report(y):
    print("helper sees", np.round(y, 3))
    return y * 2.0


def prints_in_a_helper(x):
    y = report(np.sin(x))
    return np.sum(y * y)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_print_inside_an_inlined_helper(capsys, optimize):
    expected = printed(capsys, lambda: prints_in_a_helper(X))
    assert printed(capsys, lambda: gradc.grad(prints_in_a_helper, optimize=optimize)(X)) == expected
    check_gradient(prints_in_a_helper, (X,), optimize, capsys=capsys)


def prints_in_a_while_loop(x):
    s = 0.0
    k = 0
    while k < 3:
        print("k", k)
        s = s + np.sum(x ** (k + 1))
        k = k + 1
    return s


def test_print_in_a_while_loop_and_value_and_grad_and_vjp(capsys):
    expected = printed(capsys, lambda: prints_in_a_while_loop(X))
    assert printed(capsys, lambda: gradc.value_and_grad(prints_in_a_while_loop)(X)) == expected
    assert printed(capsys, lambda: gradc.vjp(prints_in_a_while_loop)(X, 1.0)) == expected
    check_gradient(prints_in_a_while_loop, (X,), True, capsys=capsys)


def test_print_under_forward_mode(capsys):
    expected = printed(capsys, lambda: prints_in_order(X, 3))
    jvp = gradc.jvp(prints_in_order)
    out = []
    assert printed(capsys, lambda: out.append(jvp(X, 3, np.ones(3)))) == expected
    value, tangent = out[0]
    np.testing.assert_allclose(value, prints_in_order(X, 3))
    capsys.readouterr()
    g = gradc.grad(prints_in_order)(X, 3)
    capsys.readouterr()
    np.testing.assert_allclose(tangent, np.sum(g))
    assert "print(" in jvp.source


def test_print_under_hvp_once_per_call(capsys):
    expected = printed(capsys, lambda: prints_in_a_while_loop(X))
    assert printed(capsys, lambda: gradc.hvp(prints_in_a_while_loop)(X, np.ones(3))) == expected


# -- assert --------------------------------------------------------------------------------------------
def asserts(x):
    y = np.sin(x)
    assert np.all(np.abs(y) <= 1.0), f"y out of range: {np.max(y):.3f} (x[9] = {x[9]})"
    assert x.ndim == 1
    assert np.min(x) > 0, "x must be positive"
    return np.sum(y * np.log(x))


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_assert_that_holds_lets_the_gradient_through(optimize):
    g = gradc.grad(asserts, optimize=optimize)
    check_gradient(asserts, (X,), optimize)  # (the message's x[9] would fail: it is never computed)
    assert "assert np.min(x) > 0, 'x must be positive'" in g.source


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_assert_that_fails_raises_the_primal_message(optimize):
    with pytest.raises(AssertionError):
        asserts(-X)
    with pytest.raises(AssertionError) as ours:
        gradc.grad(asserts, optimize=optimize)(-X)
    assert str(ours.value) == "x must be positive"  # (pytest adds its own words to the primal's)
    with pytest.raises(AssertionError):
        gradc.grad(asserts, optimize=optimize)(X[None, :])  # (no message)


def asserts_with_formatted_message(x, limit):
    total = np.sum(x * x)
    assert total < limit, f"total {total:{8}.{3}f} over {limit!r} ({x.shape=})"
    return total


def test_assert_message_is_the_f_string_the_primal_formats():
    with pytest.raises(AssertionError) as primal:
        asserts_with_formatted_message(X, 1.0)
    with pytest.raises(AssertionError) as ours:
        gradc.grad(asserts_with_formatted_message)(X, 1.0)
    assert str(ours.value) == "total    5.250 over 1.0 (x.shape=(3,))"
    assert str(primal.value).startswith(str(ours.value))  # (pytest adds its own words to the primal's)
    np.testing.assert_allclose(gradc.grad(asserts_with_formatted_message)(X, 10.0), 2 * X)
    assert "assert total < limit, f'total {total:{8}.{3}f} over {limit!r} (x.shape=" in \
        gradc.grad(asserts_with_formatted_message).source


def test_assert_under_forward_mode():
    jvp = gradc.jvp(asserts)
    value, tangent = jvp(X, np.ones(3))
    np.testing.assert_allclose(value, asserts(X))
    with pytest.raises(AssertionError, match="x must be positive"):
        jvp(-X, np.ones(3))
    assert "assert np.min(x) > 0" in jvp.source


# -- raise ---------------------------------------------------------------------------------------------
def raises_in_a_branch(x, n):
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if x[0] > 0:
        y = np.log(x)
    else:
        raise ArithmeticError("x[0] is not positive: " + str(x[0]))
    s = 0.0
    for i in range(n):
        if i > 5:
            raise RuntimeError(f"too many steps: {i}")
        s = s + np.sum(y * y)
    return s


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_raise_in_a_branch_raises_what_the_primal_raises(optimize):
    g = gradc.grad(raises_in_a_branch, optimize=optimize)
    for args, error in [((X, -1), ValueError), ((-X, 2), ArithmeticError), ((X, 9), RuntimeError)]:
        with pytest.raises(error) as primal:
            raises_in_a_branch(*args)
        with pytest.raises(error) as ours:
            g(*args)
        assert str(ours.value) == str(primal.value)
    check_gradient(raises_in_a_branch, (X, 3), optimize)


def test_raise_appears_in_the_generated_source_and_nothing_after_it():
    source = gradc.grad(raises_in_a_branch).source
    assert "raise ValueError(f'n must be >= 0, got {n}')" in source
    lines = [line.strip() for line in source.splitlines()]
    for k, line in enumerate(lines):
        if line.startswith("raise "):
            assert lines[k + 1].startswith(("else", "#")) or not lines[k + 1].startswith(("y =", "s =")), source


def returns_or_raises(x):
    if x > 0:
        return x * x
    else:
        raise ValueError("not positive")


def raises_on_both_paths_of_a_branch(x):
    if x > 0:
        if x > 10:
            raise ValueError("big")
        else:
            raise ValueError("mid")
        y = 3.0  # (never runs)
    else:
        y = x * x
    return y * x


def asserts_in_a_loop(x):
    s = 0.0
    for i in range(4):
        if i == 3:
            assert np.all(s < 100.0), f"s={s}"
        s = s + x * i
    return np.sum(s)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_raise_after_an_early_return_nested_and_assert_in_a_loop(optimize):
    assert gradc.grad(returns_or_raises, optimize=optimize)(2.0) == 4.0
    with pytest.raises(ValueError, match="not positive"):
        gradc.grad(returns_or_raises, optimize=optimize)(-1.0)
    assert gradc.grad(raises_on_both_paths_of_a_branch, optimize=optimize)(-2.0) == 12.0
    for x, words in [(5.0, "mid"), (20.0, "big")]:
        with pytest.raises(ValueError, match=words):
            gradc.grad(raises_on_both_paths_of_a_branch, optimize=optimize)(x)
    assert "y = 3.0" not in gradc.grad(raises_on_both_paths_of_a_branch, optimize=optimize).source
    check_gradient(asserts_in_a_loop, (X,), optimize)
    with pytest.raises(AssertionError, match=r"s=\[ *150\."):
        gradc.grad(asserts_in_a_loop, optimize=optimize)(X * 100)
    assert gradc.jvp(returns_or_raises)(2.0, 1.0) == (4.0, 4.0)


def always_fails(x):
    assert False, "always"
    return x * 2.0


def test_an_assert_that_always_fails():
    with pytest.raises(AssertionError, match="always"):
        gradc.grad(always_fails)(1.0)
    assert "raise AssertionError('always')" in gradc.grad(always_fails).source


def raises_from(x):
    if np.any(x < 0):
        raise ValueError("negative entries") from ArithmeticError("x")
    return np.sum(x ** 3)


def test_raise_from():
    with pytest.raises(ValueError) as info:
        gradc.grad(raises_from)(-X)
    assert isinstance(info.value.__cause__, ArithmeticError)
    np.testing.assert_allclose(gradc.grad(raises_from)(X), 3 * X ** 2)


def test_raise_under_forward_mode():
    jvp = gradc.jvp(raises_in_a_branch)
    value, tangent = jvp(X, 2, np.ones(3))
    np.testing.assert_allclose(value, raises_in_a_branch(X, 2))
    np.testing.assert_allclose(tangent, np.sum(gradc.grad(raises_in_a_branch)(X, 2)))
    with pytest.raises(RuntimeError, match="too many steps: 6"):
        jvp(X, 9, np.ones(3))


# -- warnings and logging ------------------------------------------------------------------------------
def warns(x):
    y = np.tanh(x)
    if np.max(y) > 0.5:
        warnings.warn(f"saturating: {np.max(y):.2f}", RuntimeWarning)
    return np.sum(y)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_warnings_warn_once_per_call(optimize):
    g = gradc.grad(warns, optimize=optimize)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = g(X)
    assert [str(w.message) for w in caught] == ["saturating: 0.96"]
    assert caught[0].category is RuntimeWarning
    np.testing.assert_allclose(result, 1 - np.tanh(X) ** 2)
    shown = "{largest:.2f}" if optimize else "{np.max(y):.2f}"  # (optimized: np.max(y) computed once)
    assert f"warnings.warn(f'saturating: {shown}', RuntimeWarning)" in g.source


def test_warnings_under_forward_mode():
    with pytest.warns(RuntimeWarning, match="saturating"):
        value, tangent = gradc.jvp(warns)(X, np.ones(3))
    np.testing.assert_allclose(tangent, np.sum(1 - np.tanh(X) ** 2))


def logs(x, k):
    logging.info("k is %d", k)
    y = x * k
    log.warning("sum of y: %.3f", np.sum(y))
    log.debug("not shown at INFO")
    return np.sum(y * y)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_logging_module_functions_and_a_module_logger(caplog, optimize):
    caplog.set_level(logging.INFO)
    logs(X, 2.0)
    expected = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert len(expected) == 2
    caplog.clear()
    result = gradc.grad(logs, optimize=optimize)(X, 2.0)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == expected
    np.testing.assert_allclose(result, 8.0 * X)
    source = gradc.grad(logs).source
    assert "logging.info('k is %d', k)" in source and "log.warning('sum of y: %.3f', np.sum(y))" in source


def test_logging_under_forward_mode(caplog):
    caplog.set_level(logging.INFO)
    value, tangent = gradc.jvp(logs)(X, 2.0, np.ones(3))
    assert [r.getMessage() for r in caplog.records] == ["k is 2", "sum of y: 7.000"]
    np.testing.assert_allclose(tangent, np.sum(8.0 * X))


# -- with np.errstate ----------------------------------------------------------------------------------
def in_errstate(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x)
        z = np.where(np.isfinite(y), y, 0.0)
    return np.sum(z * x)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_errstate_wraps_the_forward_sweep(optimize):
    x = np.array([0.0, 1.0, 2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value, grad = gradc.value_and_grad(in_errstate, optimize=optimize)(x)
    # (the forward sweep's np.log(0) is silenced; the backward sweep, dz / x at 0, is not)
    assert not [w for w in caught if "in log" in str(w.message)], [str(w.message) for w in caught]
    np.testing.assert_allclose(value, in_errstate(x))
    source = gradc.grad(in_errstate, optimize=optimize).source
    assert "with np.errstate(divide='ignore', invalid='ignore'):" in source
    check_gradient(in_errstate, (X,), optimize)


def raises_in_errstate(x):
    with np.errstate(all="raise"):
        y = np.sqrt(x)
    return np.sum(y)


def test_errstate_raise_raises_in_the_forward_sweep():
    with pytest.raises(FloatingPointError):
        raises_in_errstate(-X)
    with pytest.raises(FloatingPointError):
        gradc.value_and_grad(raises_in_errstate)(-X)
    np.testing.assert_allclose(gradc.grad(raises_in_errstate)(X), 0.5 / np.sqrt(X))


def errstate_in_a_loop(x, n):
    for i in range(n):
        with np.errstate(over="ignore"), warnings.catch_warnings():
            if i == 2:
                break
            x = x * np.exp(x)
    with np.printoptions(precision=2):
        print(x)
    return np.sum(x)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_errstate_in_a_loop_with_break(capsys, optimize):
    expected = printed(capsys, lambda: errstate_in_a_loop(X / 4, 4))
    g = gradc.grad(errstate_in_a_loop, optimize=optimize)
    assert printed(capsys, lambda: g(X / 4, 4)) == expected
    check_gradient(errstate_in_a_loop, (X / 4, 4), optimize, capsys=capsys)
    assert "with np.printoptions(precision=2):" in g.source
    assert "with np.errstate(over='ignore'), warnings.catch_warnings():" in g.source


def silences_a_warning(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.warn("hidden")
    warnings.warn("shown")
    return np.sum(x * x)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_catch_warnings_and_simplefilter(optimize):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.testing.assert_allclose(gradc.grad(silences_a_warning, optimize=optimize)(X), 2 * X)
    assert [str(w.message) for w in caught] == ["shown"]


def test_errstate_under_forward_mode():
    x = np.array([0.0, 1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, tangent = gradc.jvp(in_errstate)(x, np.array([0.0, 1.0, 1.0]))
    np.testing.assert_allclose(value, in_errstate(x))
    assert "with np.errstate(" in gradc.jvp(in_errstate).source


# -- f-strings as values -------------------------------------------------------------------------------
def fstring_values(x, width):
    label = f"{np.sum(x):{width}.2f}|{x.shape!r}|{{braces}}"
    name = f"plain"
    print(label, name)
    return np.sum(x ** 2)


def test_f_strings_as_values(capsys):
    expected = printed(capsys, lambda: fstring_values(X, 7))
    assert printed(capsys, lambda: gradc.grad(fstring_values)(X, 7)) == expected
    np.testing.assert_allclose(gradc.grad(fstring_values)(X, 7), 2 * X)
    capsys.readouterr()


def gradient_through_a_string(x):
    return float(f"{x}") * 2.0


def test_no_gradient_through_a_string():
    with pytest.raises(gradc.NoGradientRuleError):
        gradc.grad(gradient_through_a_string)(1.5)


# -- NumPy functions whose source warns ----------------------------------------------------------------
def stacks_rows(x):
    y = np.row_stack([x, x * 2.0])
    return np.sum(np.sin(y) * y)


@pytest.mark.skipif(not hasattr(np, "row_stack"), reason="NumPy 2.5 removed np.row_stack")
@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_row_stack(optimize):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        check_gradient(stacks_rows, (X,), optimize)


def row_stack_alias(tup):
    # (NumPy's own np.row_stack, written out: a deprecation warning, then the function it names)
    warnings.warn("`row_stack` alias is deprecated. Use `np.vstack` directly.", DeprecationWarning, stacklevel=2)
    return np.vstack(tup)


def stacks_rows_through_a_warning_helper(x):
    y = row_stack_alias([x, x * 2.0])
    return np.sum(np.sin(y) * y)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_a_function_whose_source_warns_is_inlined(optimize):
    with pytest.warns(DeprecationWarning, match="row_stack"):
        check_gradient(stacks_rows_through_a_warning_helper, (X,), optimize)
    assert "warnings.warn(" in gradc.grad(stacks_rows_through_a_warning_helper, optimize=optimize).source


# -- what stays refused --------------------------------------------------------------------------------
def with_open(x):
    with open("data.txt"):
        y = x * 2.0
    return y


def with_as(x):
    with np.errstate(all="ignore") as state:
        y = x * 2.0
    return y


def bare_raise(x):
    if x > 0:
        raise
    return x


@pytest.mark.parametrize("function, words, line_offset, column", [
    (with_open, "`with` of anything but", 1, 4),
    (with_as, "`with ... as name`", 1, 38),
    (bare_raise, "a bare `raise`", 2, 8),
])
def test_what_stays_refused_is_located(function, words, line_offset, column):
    with pytest.raises(gradc.UnsupportedSyntaxError) as info:
        gradc.grad(function)
    error = info.value
    assert words in error.message
    assert error.loc.file == __file__
    assert (error.loc.line, error.loc.col) == (function.__code__.co_firstlineno + line_offset, column)


# -- the command line ----------------------------------------------------------------------------------
def test_cli_shows_the_statements(capsys):
    from gradc.cli import main
    assert main([f"{Path(__file__)}:asserts"]) == 0
    out = capsys.readouterr().out
    assert "assert np.min(x) > 0, 'x must be positive'" in out
    assert main([f"{Path(__file__)}:prints_in_order", "--wrt", "x"]) == 0
    assert "print('start', n)" in capsys.readouterr().out
