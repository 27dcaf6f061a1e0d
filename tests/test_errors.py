"""Every refused construct raises a GradcError subclass naming the construct, file, line and column."""
import numpy as np
import pytest

import gradc
from fixtures import refused
from locate import location_of


@pytest.mark.parametrize("name, construct, words", [
    ("uses_try", "try:", "`try`"),
    ("uses_with", "with ", "`with`"),
    ("uses_yield", "yield", "`yield`"),
    ("uses_global", "global", "`global`"),
    ("uses_del", "del ", "`del`"),
    ("star_args", "xs):", "`*xs`"),
    ("star_kwargs", "options", "`**options`"),
    ("calls_star", "*shape", "star-arguments"),
    ("assigns_element", "x[0][1]", "element of an element"),
    ("expression_statement", "np.sin", "expression statement"),
    ("uses_walrus", "y :=", "`:=`"),
    ("no_return_value", "y = x * 2", "does not end in `return"),
    ("asynchronous", "async def", "async"),
    ("class_inside", "class Point", "class definition"),
])
def test_unsupported_syntax_is_refused_at_grad_time(name, construct, words):
    function = getattr(refused, name)
    with pytest.raises(gradc.UnsupportedSyntaxError) as info:
        gradc.grad(function)
    error = info.value
    line, column = location_of(function, construct)
    assert isinstance(error, SyntaxError)
    assert words in error.message
    assert error.loc.file == refused.__file__
    assert (error.loc.line, error.loc.col) == (line, column), (error.loc, line, column)
    text = str(error)
    assert text.startswith(f"{refused.__file__}:{line}:{column + 1}: error: ")
    caret_line = text.splitlines()[2]
    shown = text.splitlines()[1]
    assert caret_line.index("^") == shown.index(construct.strip()[0]) or "^" in caret_line


def test_a_lambda_is_differentiated():  # (it was refused; tests/test_inner_scopes.py has the rest)
    assert gradc.grad(refused.square)(3.0) == pytest.approx(6.0)


def test_calling_a_function_passed_in_is_refused():
    with pytest.raises(gradc.UnsupportedSyntaxError, match="calling `f`") as info:
        gradc.grad(refused.calls_local_function, wrt=1)(np.sin, 1.0)
    assert info.value.loc.line == location_of(refused.calls_local_function, "f(x)")[0]


def no_rule(x):
    return np.sum(np.i0(x))


def helper(x):
    return x * 2.0


def calls_helper(x):
    return helper(x) + 1.0


def test_missing_rule_names_callee_and_how_to_register():
    with pytest.raises(gradc.NoGradientRuleError) as info:
        gradc.grad(no_rule)(np.ones(3))
    text = str(info.value)
    assert "numpy.i0" in text and "@gradc.defvjp(np.i0)" in text
    assert info.value.loc.line == no_rule.__code__.co_firstlineno + 1


def test_user_function_is_differentiated_through_its_source():
    assert gradc.grad(calls_helper)(1.0) == 2.0


def vector_output(x):
    return np.sin(x)


def test_non_scalar_output_points_to_vjp():
    with pytest.raises(gradc.NonScalarOutputError, match="vjp"):
        gradc.grad(vector_output)(np.ones(3))
    cotangent = np.arange(3.0)
    np.testing.assert_allclose(gradc.vjp(vector_output)(np.ones(3), cotangent), np.cos(1.0) * cotangent)


def square_sum(x):
    return np.sum(x * x)


@pytest.mark.parametrize("bad", [3, True, np.int64(2), np.arange(3), np.array([True, False])])
def test_integer_and_boolean_arguments_are_refused(bad):
    with pytest.raises(gradc.NonDifferentiableArgumentError, match="`x`"):
        gradc.grad(square_sum)(bad)


def test_integer_argument_outside_wrt_is_fine():
    def scaled(x, n):
        return np.sum(x * n)
    # defined in a test: source is available through the test file
    np.testing.assert_allclose(gradc.grad(scaled)(np.ones(2), 3), [3.0, 3.0])


def test_builtin_and_exec_functions_have_no_source():
    with pytest.raises(gradc.SourceUnavailableError, match="builtin"):
        gradc.grad(len)
    namespace = {}
    exec("def made(x):\n    return x * x\n", namespace)
    with pytest.raises(gradc.SourceUnavailableError, match="exec"):
        gradc.grad(namespace["made"])


@pytest.mark.parametrize("wrt, message", [("nope", "no argument named 'nope'"), (5, "has 1 argument"),
                                          ((), "empty"), ((0, 0), "twice"), (1.5, "index or name")])
def test_bad_wrt(wrt, message):
    with pytest.raises(gradc.GradcError, match=message):
        gradc.grad(square_sum, wrt=wrt)


def test_errors_are_gradc_errors():
    for cls in (gradc.UnsupportedSyntaxError, gradc.NoGradientRuleError, gradc.NonScalarOutputError,
                gradc.NonDifferentiableArgumentError, gradc.SourceUnavailableError):
        assert issubclass(cls, gradc.GradcError)


def svd_of_unsupported_option(x):
    return np.sum(np.linalg.svd(x, compute_uv=False, hermitian=True))


def pinv_of_unsupported_option(x):
    return np.sum(np.linalg.pinv(x @ x.T, hermitian=True))


@pytest.mark.parametrize("f, words", [(svd_of_unsupported_option, "hermitian=True"), (pinv_of_unsupported_option, "hermitian=True")])
def test_options_a_rule_does_not_cover_are_refused_naming_the_primal_line(f, words):
    """Caught only when the gradient runs (the option's value decides): a NoGradientRuleError whose
    note names the primal line, never a number."""
    with pytest.raises(gradc.NoGradientRuleError, match=words) as info:
        gradc.grad(f)(np.array([[0.3, -0.7, 1.1], [0.5, 1.2, -0.4]]))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert f"{__file__}:{f.__code__.co_firstlineno + 1}" in notes, notes
