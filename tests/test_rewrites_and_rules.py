"""Issue 11: a rewrite or a rule that was wrong for some input (or crashed), each the smallest
program that showed it, checked against finite differences and `optimize=False`. (Case 2, float64
rounded to float32, is in test_exact_dtypes.py; case 4, vjp of vjp through an index write, in
test_rules_second_order.py; the trace, repeat and einsum forms are also cases of test_rules_numpy.)
"""
import numpy as np
import pytest

import gradc
from gradcheck import numeric_gradient


def reciprocal_of_a_negated_sum(x):  # case 1: the 0.5 was applied to both terms of the sum
    return 1.0 / -(x[0] + 0.5 * x[1])


def test_factor_folding_scales_only_the_term_it_belongs_to():
    x = np.array([0.3, 0.4])
    for optimize in (True, False):
        np.testing.assert_allclose(gradc.grad(reciprocal_of_a_negated_sum, optimize=optimize)(x), [4.0, 2.0],
                                   rtol=1e-12)


def evaluates_text(a):  # case 3: eval reads `a` by name; the derivative came back as 1
    return eval("a * a * a") + a


def runs_text(a):
    exec("a = a * 2")
    return a


def reads_locals(a):
    return locals()["a"] * a


@pytest.mark.parametrize("f, text", [(evaluates_text, "eval"), (runs_text, "exec"), (reads_locals, "locals")])
def test_a_call_that_reads_variables_by_name_is_refused_at_its_location(f, text):
    from locate import location_of
    with pytest.raises(gradc.UnsupportedSyntaxError, match=f"`{text}` reads or writes the function's variables") as info:
        gradc.grad(f)
    assert (info.value.loc.line, info.value.loc.col) == location_of(f, text + "(")


def einsum_in_a_branch(A, t, c):  # case 5: the einsum's operands were read before they were defined
    if c > 0:
        t = np.einsum('ij,i->j', A, A @ t)
    return np.sum(t * t)


def einsum_in_a_loop(A, t):
    out = []
    for i in range(2):
        t = np.einsum('ij,i->j', A, A @ t)
        out.append(t)
    return np.sum(out[0]) + np.sum(out[1] * out[1])


def power_of_zero(x, y):
    return np.power(x, y)


@pytest.mark.parametrize("f, args", [(einsum_in_a_branch, (1.0,)), (einsum_in_a_branch, (-1.0,)),
                                     (einsum_in_a_loop, ())])
def test_einsum_of_a_computed_operand_in_a_branch_or_loop(f, args):
    A, t = np.arange(12.0).reshape(3, 4) / 10, np.array([0.3, -0.2, 0.5, 0.1])
    full = [A, t, *args]
    for optimize in (True, False):
        grads = gradc.grad(f, wrt=(0, 1), optimize=optimize)(*full)
        for index, grad in enumerate(grads):
            np.testing.assert_allclose(grad, numeric_gradient(f, list(full), index), rtol=1e-6, atol=1e-9)


def test_a_zero_power_of_zero_has_gradient_zero_not_a_crash():
    assert gradc.grad(power_of_zero, wrt=(0, 1))(0.0, 0.0) == (0.0, 0.0)
