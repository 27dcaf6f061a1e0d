"""Differentiating Python control flow: if/elif/else, for, while, break/continue/return.

Every function is a module-level `def` (gradc reads its source) and is checked against
central finite differences and autograd (`gradcheck.assert_gradients`). Inputs are chosen
away from branch boundaries, and each branch is taken by at least one input.
"""
import numpy as np
import pytest

import gradc
from gradcheck import assert_gradients, numeric_gradient
from locate import location_of

pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")

RNG = np.random.default_rng(0)
V3 = np.array([0.3, -1.2, 0.7])
V4 = np.array([0.5, -0.4, 1.3, -0.9])
M3 = RNG.normal(size=(3, 3)) * 0.5
M43 = RNG.normal(size=(4, 3)) * 0.5


# ----------------------------------------------------------------------------------------
# if / elif / else
# ----------------------------------------------------------------------------------------

def if_on_value(x):
    if x > 0:
        y = x * x
    else:
        y = np.sin(x) * 3.0
    return y


def if_without_else(x):
    y = x * 2.0
    if x > 0.5:
        y = y * x
    return y


def elif_chain(x, y):
    if x > 1.0:
        z = x * y
    elif x > 0.0:
        z = np.sin(x) + y * y
    elif x > -1.0:
        z = np.exp(x) * y
    else:
        z = x * x * x - y
    return z


def nested_if(x, y):
    if x > 0:
        if y > 0:
            z = x * y
        else:
            z = x - y * y
    else:
        if y > x:
            z = np.cos(x) * y
        else:
            z = np.tanh(x + y)
    return z * 2.0


def if_on_nondiff_argument(x, flag):
    if flag:
        y = np.sin(x) * x
    else:
        y = np.cos(x)
    return y


def if_on_integer_argument(x, n):
    if n > 2:
        y = x ** 3
    elif n == 2:
        y = x ** 2
    else:
        y = x
    return y * 1.5


def conditional_expression(x, y):
    z = x * y if x > y else x + y * y
    return z * np.sin(z)


def nested_conditional_expression(x):
    z = x * x if x > 1.0 else (np.sin(x) if x > 0.0 else np.exp(x))
    return z


def first_assigned_in_both_branches(x):
    if x > 0:
        t = np.exp(x)
    else:
        t = x * x
    return t + x


def first_assigned_in_one_branch(x):
    if x > 0:
        t = np.exp(x)
        r = t * x
    else:
        r = x * 3.0
    return r


def branch_assigns_several(x, y):
    a = x
    b = y
    c = x * y
    if a * b > 0:
        a = np.sin(b) * c
        b = a + x
        c = c * b
    else:
        c = a - b
        a = c * c
    return a + b * c


def array_ops_in_branches(w, x):
    s = np.sum(w * x)
    if s > 0:
        v = np.tanh(w) * x
        out = np.sum(v * v)
    else:
        v = w @ np.ones(3) * x
        out = np.mean(np.exp(v))
    return out


def branch_on_array_reduction(w):
    if np.max(w) > 1.0:
        w = w / np.max(w)
    else:
        w = w * 2.0
    return np.sum(w * w)


def branch_with_and_or(x, y):
    if x > 0 and y > 0:
        z = x * y
    elif x < 0 or y < -1.0:
        z = x + y
    else:
        z = x - y
    return z * z


def value_used_only_in_condition(x, y):
    t = np.sin(x)
    if t > 0.5:
        z = y * 2.0
    else:
        z = y * 3.0
    return z


IF_CASES = [
    (if_on_value, (1.3,), 0),
    (if_on_value, (-0.8,), 0),
    (if_without_else, (1.3,), 0),
    (if_without_else, (0.2,), 0),
    (elif_chain, (1.7, 0.4), (0, 1)),
    (elif_chain, (0.6, -0.4), (0, 1)),
    (elif_chain, (-0.3, 0.9), (0, 1)),
    (elif_chain, (-2.5, 0.9), (0, 1)),
    (nested_if, (0.8, 0.5), (0, 1)),
    (nested_if, (0.8, -0.5), (0, 1)),
    (nested_if, (-0.8, 0.5), (0, 1)),
    (nested_if, (-0.8, -1.5), (0, 1)),
    (if_on_nondiff_argument, (0.7, True), 0),
    (if_on_nondiff_argument, (0.7, False), 0),
    (if_on_integer_argument, (0.7, 3), 0),
    (if_on_integer_argument, (0.7, 2), 0),
    (if_on_integer_argument, (0.7, 1), 0),
    (conditional_expression, (1.2, 0.3), (0, 1)),
    (conditional_expression, (0.2, 0.9), (0, 1)),
    (nested_conditional_expression, (1.5,), 0),
    (nested_conditional_expression, (0.5,), 0),
    (nested_conditional_expression, (-0.5,), 0),
    (first_assigned_in_both_branches, (0.4,), 0),
    (first_assigned_in_both_branches, (-0.4,), 0),
    (first_assigned_in_one_branch, (0.4,), 0),
    (first_assigned_in_one_branch, (-0.4,), 0),
    (branch_assigns_several, (0.4, 0.9), (0, 1)),
    (branch_assigns_several, (-0.4, 0.9), (0, 1)),
    (array_ops_in_branches, (V3, 0.7), (0, 1)),
    (array_ops_in_branches, (-V3 - 0.5, 0.7), (0, 1)),
    (branch_on_array_reduction, (V3 * 2.0,), 0),
    (branch_on_array_reduction, (V3 * 0.5,), 0),
    (branch_with_and_or, (0.5, 0.5), (0, 1)),
    (branch_with_and_or, (-0.5, 0.5), (0, 1)),
    (branch_with_and_or, (0.5, -2.0), (0, 1)),
    (branch_with_and_or, (0.5, -0.5), (0, 1)),
    (value_used_only_in_condition, (1.0, 0.3), (0, 1)),
    (value_used_only_in_condition, (-1.0, 0.3), (0, 1)),
]


def bug(reason, f, args, wrt):
    return pytest.param(f, args, wrt, marks=pytest.mark.xfail(strict=True, reason=reason))


def _params(cases):
    out = []
    for case in cases:
        if hasattr(case, "marks"):  # a pytest.param from bug()
            out.append(pytest.param(*case.values, marks=case.marks, id=case.values[0].__name__))
        else:
            out.append(pytest.param(*case, id=case[0].__name__))
    return out


@pytest.mark.parametrize("f, args, wrt", _params(IF_CASES))
def test_branches(f, args, wrt):
    assert_gradients(f, args, wrt=wrt)


@pytest.mark.parametrize("f, args, wrt", _params(IF_CASES))
def test_branches_unoptimized(f, args, wrt):
    indices = wrt if isinstance(wrt, tuple) else (wrt,)
    ours = gradc.grad(f, wrt=indices, optimize=False)(*args)
    for index, g in zip(indices, ours):
        np.testing.assert_allclose(g, numeric_gradient(f, args, index), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------
# for loops
# ----------------------------------------------------------------------------------------

def for_range_runtime(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sin(x * i) + x
    return s


def for_range_computed_bound(x, v):
    n = v.shape[0] * 2 - 1
    s = x
    for i in range(n):
        s = s * 0.9 + np.cos(s) * i
    return s


def for_range_start_stop_step(x):
    s = x
    for i in range(1, 8, 3):
        s = s * i + np.sin(s)
    return s


def for_range_negative_step(x):
    s = x * 0.5
    for i in range(5, -2, -2):
        s = np.tanh(s * i + x)
    return s


def for_range_args(x, a, b, step):
    s = x * 0.5
    for i in range(a, b, step):
        s = s + x * i * s * 0.1
    return s


def for_product(x, n):
    p = 1.0
    for i in range(n):
        p = p * (x + i)
    return p


def for_over_rows(M, v):
    acc = v
    for row in M:
        acc = np.tanh(acc * row + row)
    return np.sum(acc)


def for_over_list(x):
    xs = [x, 2.0 * x, x * x]
    s = 0.0
    for t in xs:
        s = s + np.sin(t) * s + t
    return s


def for_over_tuple_of_arrays(w, v):
    xs = (w, w * v, np.exp(v))
    acc = np.zeros(3)
    for t in xs:
        acc = acc * 0.5 + t * t
    return np.sum(acc)


def for_enumerate(M):
    s = 0.0
    for i, row in enumerate(M):
        s = s + np.sum(row * row) * (i + 1)
    return s


def for_enumerate_list(x, y):
    xs = [x, y, x * y]
    s = 0.0
    for i, t in enumerate(xs):
        s = s * t + i * t
    return s


def for_zip(M, N):
    s = 0.0
    for a, b in zip(M, N):
        s = s + np.sum(np.sin(a) * b)
    return s


def for_zip_list_and_array(x, v):
    xs = [x, x * x, np.sin(x)]
    s = 0.0
    for t, c in zip(xs, v):
        s = s + t * c * c
    return s


def for_reversed(v):
    s = 0.0
    for t in reversed(v):
        s = np.sin(s) + t * 2.0
    return s


def for_reversed_range(x):
    s = x
    for i in reversed(range(4)):
        s = s * i + np.cos(s)
    return s


def for_variable_first_assigned_in_loop(x, n):
    s = 0.0
    for i in range(n):
        t = np.sin(x + i)
        s = s + t * t
    return s


def for_loop_variable_after_loop(v):
    s = 0.0
    for row in v:
        s = s + row
    return s * row


def for_index_after_loop(x, n):
    s = x * 0.5
    for i in range(n):
        s = s * x
    return s + i * x


def for_temp_after_loop(x, n):
    s = x
    t = 0.0
    for i in range(n):
        t = np.sin(s * i)
        s = s + t
    return s * t


def nested_for_2(x, y):
    s = 0.0
    for i in range(3):
        for j in range(2):
            s = s + np.sin(x * i + y * j) * s + x
    return s


def nested_for_3(x):
    s = x
    for i in range(2):
        for j in range(3):
            for k in range(2):
                s = s * 0.9 + np.sin(s + i - j * k) * 0.3
    return s


def nested_for_triangular(x):
    s = 0.0
    for i in range(4):
        for j in range(i):
            s = s + x * j + np.cos(s) * i
    return s


def nested_for_bound_from_outer(x, n):
    s = x * 0.5
    for i in range(n):
        for j in range(i, n):
            s = s + np.sin(s * j + x)
    return s


def nested_for_arrays(W, v):
    h = v
    out = 0.0
    for i in range(2):
        for row in W:
            h = np.tanh(h * row + i)
            out = out + np.sum(h)
    return out


def nested_for_inner_reset(M):
    total = 0.0
    for row in M:
        acc = 0.0
        for t in row:
            acc = acc + t * t
        total = total + np.sqrt(acc)
    return total


def for_zero_iterations_then_use(x, n):
    s = x * 2.0
    for i in range(n):
        s = s * np.sin(x)
    return s


def for_array_carried(w, n):
    v = w * 0.5
    for i in range(n):
        v = np.tanh(v * 1.5) + w * i
    return np.sum(v * v)


def for_mutates_two(x, y):
    a = x
    b = y
    for i in range(3):
        a, b = b * np.cos(a), a + b * 0.5
    return a * b


FOR_CASES = [
    (for_range_runtime, (0.7, 0), 0),
    (for_range_runtime, (0.7, 1), 0),
    (for_range_runtime, (0.7, 5), 0),
    (for_range_computed_bound, (0.4, V3), 0),
    (for_range_start_stop_step, (0.3,), 0),
    (for_range_negative_step, (0.3,), 0),
    (for_range_args, (0.3, 2, 9, 3), 0),
    (for_range_args, (0.3, 9, 2, -3), 0),
    (for_range_args, (0.3, 5, 5, 1), 0),
    (for_range_args, (0.3, 5, 4, -1), 0),
    (for_product, (0.6, 4), 0),
    (for_over_rows, (M43, V3), (0, 1)),
    (for_over_list, (0.6,), 0),
    (for_over_tuple_of_arrays, (V3, V3 * 0.5), (0, 1)),
    (for_enumerate, (M43,), 0),
    (for_enumerate_list, (0.6, -0.8), (0, 1)),
    (for_zip, (M43, M43[::-1].copy()), (0, 1)),
    (for_zip_list_and_array, (0.6, V3), (0, 1)),
    (for_reversed, (V4,), 0),
    (for_reversed_range, (0.3,), 0),
    (for_variable_first_assigned_in_loop, (0.3, 3), 0),
    (for_variable_first_assigned_in_loop, (0.3, 0), 0),
    (for_loop_variable_after_loop, (V4,), 0),
    (for_index_after_loop, (0.8, 3), 0),
    (for_temp_after_loop, (0.8, 3), 0),
    (nested_for_2, (0.4, -0.3), (0, 1)),
    (nested_for_3, (0.4,), 0),
    (nested_for_triangular, (0.4,), 0),
    (nested_for_bound_from_outer, (0.2, 3), 0),
    (nested_for_bound_from_outer, (0.2, 0), 0),
    (nested_for_arrays, (M43, V3), (0, 1)),
    (nested_for_inner_reset, (M43,), 0),
    (for_zero_iterations_then_use, (0.5, 0), 0),
    (for_zero_iterations_then_use, (0.5, 1), 0),
    (for_array_carried, (V3, 3), 0),
    (for_array_carried, (V3, 0), 0),
    (for_mutates_two, (0.4, 0.9), (0, 1)),
]


@pytest.mark.parametrize("f, args, wrt", _params(FOR_CASES))
def test_for_loops(f, args, wrt):
    assert_gradients(f, args, wrt=wrt)


@pytest.mark.parametrize("f, args, wrt", _params(FOR_CASES))
def test_for_loops_unoptimized(f, args, wrt):
    indices = wrt if isinstance(wrt, tuple) else (wrt,)
    ours = gradc.grad(f, wrt=indices, optimize=False)(*args)
    for index, g in zip(indices, ours):
        np.testing.assert_allclose(g, numeric_gradient(f, args, index), rtol=1e-5, atol=1e-6)


def test_names_first_assigned_in_a_loop_start_as_none_only_when_read_after_it():
    """`i = None` before a loop is needed only where the name is read after the loop (zero
    iterations leave it unassigned); otherwise the generated code leaves it out."""
    unread = gradc.grad(for_variable_first_assigned_in_loop).source
    assert "i = None" not in unread and "t = None" not in unread
    read_after = gradc.grad(for_index_after_loop).source
    assert read_after.index("    i = None\n") < read_after.index("\n    for i in range(n):")


# ----------------------------------------------------------------------------------------
# while loops
# ----------------------------------------------------------------------------------------

def while_on_value(x):
    s = x
    while s < 10.0:
        s = s * 1.7 + 0.3
    return s


def while_with_counter(x, n):
    i = 0
    s = x * 0.5
    while i < n:
        s = np.sin(s) + s * x
        i = i + 1
    return s


def while_true_break(x):
    s = x * 0.5
    k = 0
    while True:
        s = s * np.cos(s) + x
        k = k + 1
        if k >= 4:
            break
    return s


def while_true_break_on_value(x):
    s = x * 0.5
    while True:
        s = s * 1.5
        if s > 5.0:
            break
        s = s + x * 0.1
    return s


def while_array(w):
    v = w
    k = 0
    while np.sum(v * v) < 50.0 and k < 20:
        v = v * 1.3 + np.sin(v)
        k = k + 1
    return np.sum(v)


def while_nested_in_for(x):
    s = x
    for i in range(3):
        k = 0
        while k < i:
            s = s * 0.8 + np.sin(s)
            k = k + 1
    return s


WHILE_CASES = [
    (while_on_value, (0.4,), 0),
    (while_on_value, (12.0,), 0),
    (while_with_counter, (0.3, 4), 0),
    (while_with_counter, (0.3, 0), 0),
    (while_true_break, (0.3,), 0),
    (while_true_break_on_value, (0.45,), 0),
    (while_array, (V3,), 0),
    (while_nested_in_for, (0.3,), 0),
]


@pytest.mark.parametrize("f, args, wrt", _params(WHILE_CASES))
def test_while_loops(f, args, wrt):
    assert_gradients(f, args, wrt=wrt)


# ----------------------------------------------------------------------------------------
# break / continue / return / loop else
# ----------------------------------------------------------------------------------------

def for_break_on_value(x):
    s = x
    for i in range(10):
        s = s * 1.4 + np.sin(s)
        if s > 3.0:
            break
    return s


def for_break_on_index(x, stop):
    s = x * 0.5
    for i in range(10):
        if i == stop:
            break
        s = s * np.cos(x) + i
    return s


def for_continue(x):
    s = 0.0
    for i in range(6):
        if i % 2 == 0:
            continue
        s = s + np.sin(x * i)
    return s


def for_continue_on_value(v):
    s = 0.0
    for t in v:
        if t < 0:
            continue
        s = s + t * t
    return s


def for_return_inside(x):
    s = x * 0.5
    for i in range(10):
        s = s * 1.3 + 0.1
        if s > 2.0:
            return s * x
    return -s


def return_in_branch(x):
    if x > 0:
        return np.sin(x) * x
    y = x * x
    return y * 3.0


def return_in_nested_branch(x, y):
    if x > 0:
        if y > 0:
            return x * y
        z = x - y
    else:
        z = x + y
    return z * z


def for_else_no_break(x):
    s = x * 0.5
    for i in range(3):
        s = s * x
        if s > 100.0:
            break
    else:
        s = s + np.sin(x)
    return s


def for_else_breaks(x):
    s = x
    for i in range(5):
        s = s * 2.0
        if s > 1.0:
            break
    else:
        s = s + np.sin(x)
    return s * x


def while_else(x):
    s = x * 0.5
    k = 0
    while k < 3:
        s = np.tanh(s) + x
        k = k + 1
    else:
        s = s * s
    return s


def nested_break_inner_only(x):
    s = x
    for i in range(3):
        for j in range(5):
            s = s + np.sin(s) * 0.5
            if j >= i:
                break
        s = s * 0.9
    return s


def nested_continue_and_break(M):
    s = 0.0
    for row in M:
        if np.sum(row) < 0:
            continue
        for t in row:
            if t > 0.5:
                break
            s = s + np.exp(t)
    return s


def return_inside_nested_loop(x):
    s = x * 0.5
    for i in range(4):
        for j in range(4):
            s = s + np.sin(s * j) + 0.2
            if s > 2.5:
                return s * x
    return s


CONTROL_CASES = [
    (for_break_on_value, (0.3,), 0),
    (for_break_on_index, (0.3, 3), 0),
    (for_break_on_index, (0.3, 0), 0),
    (for_break_on_index, (0.3, 20), 0),
    (for_continue, (0.3,), 0),
    (for_continue_on_value, (V4,), 0),
    (for_return_inside, (0.3,), 0),
    (for_return_inside, (-5.0,), 0),
    (return_in_branch, (0.5,), 0),
    (return_in_branch, (-0.5,), 0),
    (return_in_nested_branch, (0.5, 0.7), (0, 1)),
    (return_in_nested_branch, (0.5, -0.7), (0, 1)),
    (return_in_nested_branch, (-0.5, 0.7), (0, 1)),
    (for_else_no_break, (1.2,), 0),
    (for_else_breaks, (0.3,), 0),
    (while_else, (0.3,), 0),
    (nested_break_inner_only, (0.3,), 0),
    (nested_continue_and_break, (M43,), 0),
    (return_inside_nested_loop, (0.2,), 0),
]


@pytest.mark.parametrize("f, args, wrt", _params(CONTROL_CASES))
def test_break_continue_return(f, args, wrt):
    assert_gradients(f, args, wrt=wrt)


@pytest.mark.parametrize("f, args, wrt", _params(WHILE_CASES + CONTROL_CASES))
def test_while_and_jumps_unoptimized(f, args, wrt):
    indices = wrt if isinstance(wrt, tuple) else (wrt,)
    ours = gradc.grad(f, wrt=indices, optimize=False)(*args)
    for index, g in zip(indices, ours):
        np.testing.assert_allclose(g, numeric_gradient(f, args, index), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------
# More shapes: loop variables shadowing arguments, arguments rebound in loops, returns of
# loop items, tuples unpacked, branches inside loops on the carried value, ...
# ----------------------------------------------------------------------------------------

def shadow_arg_loopvar(x, v):
    s = 0.0
    for x in v:
        s = s + x * x
    return s + x

def loopvar_reassigned(x):
    s = x * 0.5
    for i in range(4):
        i = i * 2
        s = s + np.sin(x * i)
    return s

def aug_assign_loop(x, v):
    s = x * 1.0
    for t in v:
        s += t * x
        s *= 0.9
    return s

def cond_update_in_loop(x, v):
    s = x * 0.3
    for t in v:
        if t > 0:
            s = s * t + x
    return s

def branch_in_loop_on_carried(x):
    s = x * 0.5
    for i in range(6):
        if s > 1.0:
            s = s * 0.5 - x
        else:
            s = s * 2.0 + np.sin(x)
    return s

def two_loops_same_var(x):
    s = x * 0.5
    for i in range(3):
        s = s * x
    for i in range(2):
        s = np.sin(s) + i * x
    return s + i

def iterate_reassigned_array(v):
    w = v * 1.0
    s = 0.0
    for t in w:
        w = w * 2.0
        s = s + t * np.sum(w)
    return s

def reversed_zip(M, v):
    s = 0.0
    for row, c in zip(reversed(M), v):
        s = np.sin(s) + np.sum(row) * c
    return s

def enumerate_reversed(v):
    s = 0.0
    for k, t in enumerate(reversed(v)):
        s = s * t + 1.0
    return s

def zip_unequal(v, w):
    s = 0.0
    for a, b in zip(v, w):
        s = s + a * b * s + a
    return s

def nested_same_array(v):
    s = 0.0
    for a in v:
        for b in v:
            s = s + a * b * np.cos(s)
    return s

def while_array_break(v):
    k = 0
    w = v * 1.0
    while True:
        w = np.tanh(w) + v
        k = k + 1
        if np.sum(w) > 2.0 or k > 10:
            break
    return np.sum(w * w)

def tuple_unpack_loop(x, y):
    pairs = [(x, y), (y, x * y), (x * x, 1.0)]
    s = 0.0
    for a, b in pairs:
        s = s + a * np.sin(b)
    return s

def loop_over_list_of_arrays_reassign(w):
    xs = [w, w * w, np.sin(w)]
    acc = w * 0.0
    for t in xs:
        acc = acc * t + t
    return np.sum(acc)

def index_array_in_loop(v):
    s = v[0] * 1.0
    for i in range(1, v.shape[0]):
        s = s * v[i] + v[i - 1]
    return s

def continue_in_while(x):
    k = 0
    s = x * 0.5
    while k < 6:
        k = k + 1
        if k % 3 == 0:
            continue
        s = s * np.cos(s) + x
    return s

def break_then_else_in_nested(x):
    s = x * 0.5
    for i in range(3):
        for j in range(3):
            if j > i:
                break
            s = s + np.sin(s * x)
        else:
            s = s * 1.1
    return s

def if_uses_loop_var_after(x, n):
    s = x * 0.5
    t = x
    for i in range(n):
        t = s * i
        s = s + np.sin(t)
    if t > 0.5:
        s = s * t
    return s

def arg_reassigned_in_branch(x, y):
    if y > 0:
        x = x * y
    return x * x

def arg_reassigned_in_loop(x, n):
    for i in range(n):
        x = np.sin(x) * 1.5
    return x

def arg_reassigned_in_loop_used(x, y, n):
    for i in range(n):
        y = y * x
        x = np.sin(x) + y
    return x * y

def multiple_returns_loop(v):
    for t in v:
        if t > 1.0:
            return t * t
    return np.sum(v)

def return_loop_var(v):
    for t in v:
        if t < 0:
            return t
    return v[0]

def while_return(x):
    s = x * 1.0
    while s < 100.0:
        s = s * 3.0
        if s > 50.0:
            return s * x
    return s

def max_via_branch(v):
    m = v[0]
    idx = 0
    for i in range(v.shape[0]):
        if v[i] > m:
            m = v[i]
            idx = i
    return m * idx

def ternary_in_loop(v):
    s = 0.0
    for t in v:
        s = s + (t * t if t > 0 else -t)
    return s

def early_return_first(x, y):
    if x > 0:
        return x * y
    return y

def elif_returns(x):
    if x > 1.0:
        return x * x
    elif x > 0.0:
        return np.sin(x)
    else:
        z = x * 3.0
    return z


MORE_CASES = [
    (shadow_arg_loopvar, (0.3, V4), (0, 1)),
    (loopvar_reassigned, (0.3,), 0),
    (aug_assign_loop, (0.3, V4), (0, 1)),
    (cond_update_in_loop, (0.3, V4), (0, 1)),
    (branch_in_loop_on_carried, (0.7,), 0),
    (two_loops_same_var, (0.7,), 0),
    (iterate_reassigned_array, (V4,), 0),
    (reversed_zip, (M43, V3), (0, 1)),
    (enumerate_reversed, (V4,), 0),
    (zip_unequal, (V4, V4[:2] * 2.0), (0, 1)),
    (nested_same_array, (V4,), 0),
    (while_array_break, (V4 * 0.3,), 0),
    (tuple_unpack_loop, (0.4, 0.8), (0, 1)),
    (loop_over_list_of_arrays_reassign, (V4,), 0),
    (index_array_in_loop, (V4,), 0),
    (continue_in_while, (0.4,), 0),
    (break_then_else_in_nested, (0.4,), 0),
    (if_uses_loop_var_after, (0.4, 3), 0),
    (if_uses_loop_var_after, (0.4, 0), 0),
    (arg_reassigned_in_branch, (0.4, 0.5), (0, 1)),
    (arg_reassigned_in_branch, (0.4, -0.5), (0, 1)),
    (arg_reassigned_in_loop, (0.4, 3), 0),
    (arg_reassigned_in_loop, (0.4, 0), 0),
    (arg_reassigned_in_loop_used, (0.4, 0.7, 3), (0, 1)),
    (arg_reassigned_in_loop_used, (0.4, 0.7, 0), (0, 1)),
    (multiple_returns_loop, (V4,), 0),
    (multiple_returns_loop, (V4 * 0.5,), 0),
    (return_loop_var, (V4,), 0),
    (return_loop_var, (np.abs(V4),), 0),
    (while_return, (0.7,), 0),
    (max_via_branch, (V4,), 0),
    (ternary_in_loop, (V4,), 0),
    (early_return_first, (0.4, 0.5), (0, 1)),
    (early_return_first, (-0.4, 0.5), (0, 1)),
    (elif_returns, (1.4,), 0),
    (elif_returns, (0.4,), 0),
    (elif_returns, (-0.4,), 0),
]


@pytest.mark.parametrize("f, args, wrt", _params(MORE_CASES))
@pytest.mark.parametrize("optimize", [True, False])
def test_more_shapes(f, args, wrt, optimize):
    if optimize:
        assert_gradients(f, args, wrt=wrt)
    else:
        indices = wrt if isinstance(wrt, tuple) else (wrt,)
        ours = gradc.grad(f, wrt=indices, optimize=False)(*args)
        for index, g in zip(indices, ours):
            np.testing.assert_allclose(g, numeric_gradient(f, args, index), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------
# A loop-carried variable that starts as an alias of a value the loop also reads (`s = x`)
# ----------------------------------------------------------------------------------------

def alias_init(x, n):
    s = x
    for i in range(n):
        s = s * x
    return s


def alias_branch(x, y):
    s = x
    if y > 0:
        s = s * x
    return s

def alias_while(x):
    s = x
    while s < 5.0:
        s = s * x + 1.0
    return s

def alias_other_arg(x, y, n):
    s = y
    for i in range(n):
        s = s * x + y
    return s

def alias_local(x, n):
    t = np.sin(x)
    s = t
    for i in range(n):
        s = s * t
    return s

def alias_two_loops(x):
    s = x * 1.0
    for i in range(2):
        s = s * x
    t = s
    for i in range(2):
        t = t * s
    return t

def alias_array(w, n):
    v = w
    for i in range(n):
        v = v * w
    return np.sum(v)

def no_alias_x_after(x, n):
    s = x
    for i in range(n):
        s = s * 2.0
    return s * x

def alias_x_used_after_only(x, n):
    s = x
    for i in range(n):
        s = np.sin(s)
    return s + x


def alias_for_break(x):
    s = x
    for i in range(10):
        s = s * np.cos(x) + 0.5
        if s > 2.0:
            break
    return s


def alias_nested(x):
    s = x
    for i in range(3):
        for j in range(i, 3):
            s = s + np.sin(s * j + x)
    return s


ALIAS_CASES = [
    (alias_init, (0.5, 0), 0),
    (alias_init, (0.5, 1), 0),
    (alias_init, (0.5, 3), 0),
    (alias_branch, (0.5, 1.0), 0),
    (alias_branch, (0.5, -1.0), 0),
    (alias_while, (1.5,), 0),
    (alias_other_arg, (0.5, 0.7, 2), (0, 1)),
    (alias_local, (0.5, 2), 0),
    (alias_two_loops, (0.6,), 0),
    (alias_array, (V3, 2), 0),
    (alias_array, (V3, 0), 0),
    (no_alias_x_after, (0.5, 2), 0),
    (alias_x_used_after_only, (0.5, 2), 0),
    (alias_for_break, (0.3,), 0),
    (alias_nested, (0.2,), 0),
]


@pytest.mark.parametrize("f, args, wrt", _params(ALIAS_CASES))
@pytest.mark.parametrize("optimize", [True, False])
def test_loop_carried_alias_of_live_value(f, args, wrt, optimize):
    indices = wrt if isinstance(wrt, tuple) else (wrt,)
    ours = gradc.grad(f, wrt=indices, optimize=optimize)(*args)
    for index, g in zip(indices, ours):
        np.testing.assert_allclose(g, numeric_gradient(f, args, index), rtol=1e-5, atol=1e-6)
    if optimize:
        assert_gradients(f, args, wrt=wrt)


def test_alias_init_exact_values():
    # d/dx x**(n+1) = (n+1) x**n; gradc once gave 0.0, 0.5, 0.5, 0.375 for n = 0..3 at x = 0.5
    for n in range(4):
        assert gradc.grad(alias_init)(0.5, n) == pytest.approx((n + 1) * 0.5 ** n, rel=1e-12)


# ----------------------------------------------------------------------------------------
# Whole programs: log-sum-exp by loops, an RNN, a long scalar loop
# ----------------------------------------------------------------------------------------

def logsumexp_loops(v):
    m = v[0]
    for t in v:
        if t > m:
            m = t
    s = 0.0
    for t in v:
        s = s + np.exp(t - m)
    return m + np.log(s)


def logsumexp_index_loops(v):
    m = v[0]
    for i in range(1, v.shape[0]):
        m = np.maximum(m, v[i])
    s = 0.0
    for i in range(v.shape[0]):
        s = s + np.exp(v[i] - m)
    return np.log(s) + m


def test_logsumexp_by_loops():
    v = np.array([0.3, 2.1, -1.0, 1.4, 0.0])
    expected = np.exp(v - v.max()) / np.sum(np.exp(v - v.max()))
    for f in (logsumexp_loops, logsumexp_index_loops):
        g = assert_gradients(f, (v,), wrt=0)[0]
        np.testing.assert_allclose(g, expected, rtol=1e-10)
        assert np.all(g != 0)


def rnn_loss(W, U, h0, X):
    h = h0
    loss = 0.0
    for x in X:
        h = np.tanh(W @ h + U @ x)
        loss = loss + np.sum(h * h) * 0.5 + np.sum(np.sin(h))
    return loss


def rnn_loss_list(W, U, h0, x):
    xs = [x, x * 0.5, np.cos(x), -x]
    h = h0
    loss = 0.0
    for t in xs:
        h = np.tanh(W @ h + U @ t)
        loss = loss + np.sum((h - 0.1) ** 2)
    return loss


def test_rnn():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(4, 4)) * 0.5
    U = rng.normal(size=(4, 3)) * 0.5
    h0 = rng.normal(size=4)
    X = rng.normal(size=(5, 3))
    assert_gradients(rnn_loss, (W, U, h0, X), wrt=(0, 1, 2, 3))
    assert_gradients(rnn_loss_list, (W, U, h0, X[0]), wrt=(0, 1, 2, 3))


def rnn_loss_named(W, U, h0, X):
    h = h0
    loss = 0.0
    for x in X:
        h = np.tanh(W @ h + U @ x)
        loss = loss + np.sum(h)
    return loss


def test_rnn_wrt_names():
    rng = np.random.default_rng(2)
    W, U, h0, X = rng.normal(size=(3, 3)), rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=(4, 2))
    by_name = gradc.grad(rnn_loss_named, wrt=("W", "U", "h0"))(W, U, h0, X)
    by_index = gradc.grad(rnn_loss_named, wrt=(0, 1, 2))(W, U, h0, X)
    for a, b in zip(by_name, by_index):
        np.testing.assert_array_equal(a, b)
    assert_gradients(rnn_loss_named, (W, U, h0, X), wrt=(0, 1, 2))


def long_decay(x, n):
    for i in range(n):
        x = x * 0.99999 + 0.00001
    return x


def long_sum_sin(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sin(x * i) * 1e-3
    return s


def long_while(x, n):
    i = 0
    while i < n:
        x = x * 0.99999 + 0.00001
        i = i + 1
    return x


def test_long_scalar_loops_are_linear_and_right():
    n = 10 ** 5
    g = gradc.grad(long_decay)(0.5, n)
    np.testing.assert_allclose(g, 0.99999 ** n, rtol=1e-9)
    g = gradc.grad(long_while)(0.5, n)
    np.testing.assert_allclose(g, 0.99999 ** n, rtol=1e-9)
    x = 0.3
    g = gradc.grad(long_sum_sin)(x, n)
    i = np.arange(n)
    np.testing.assert_allclose(g, np.sum(np.cos(x * i) * i) * 1e-3, rtol=1e-9)


# ----------------------------------------------------------------------------------------
# value_and_grad, vjp, second order
# ----------------------------------------------------------------------------------------

def loop_loss(w, n):
    s = 0.0
    for i in range(n):
        s = s + np.sum(np.sin(w * i) * w)
    return s


def loop_vector(w, n):
    v = np.sin(w)
    for i in range(n):
        v = np.tanh(v) * w + i
    return v


def test_value_and_grad_with_loop():
    value, g = gradc.value_and_grad(loop_loss)(V3, 3)
    assert value == pytest.approx(loop_loss(V3, 3), rel=1e-12)
    np.testing.assert_allclose(g, numeric_gradient(loop_loss, (V3, 3), 0), rtol=1e-6)


VJP_BUG = ("vjp: the forward loop is dropped from the generated vjp (its only effect, filling the tape, "
           "is removed since the output value is not needed): `tape = []` then straight to backward; "
           "the result equals the n=0 gradient")


def test_vjp_with_loop():
    cotangent = np.array([1.0, -2.0, 0.5])
    g = gradc.vjp(loop_vector)(V3, 3, cotangent)

    def contracted(w, n):
        return np.sum(loop_vector(w, n) * cotangent)

    np.testing.assert_allclose(g, numeric_gradient(contracted, (V3, 3), 0), rtol=1e-6)


def loop_vector_used(w, n):
    v = np.sin(w)
    for i in range(n):
        v = np.tanh(v) * w + i
    return v * v


def branch_vector(w, c):
    if c > 0:
        v = np.sin(w) * c
    else:
        v = w * w
    return v


def test_vjp_with_loop_whose_output_the_backward_reads():
    cotangent = np.array([1.0, -2.0, 0.5])
    g = gradc.vjp(loop_vector_used)(V3, 3, cotangent)

    def contracted(w, n):
        return np.sum(loop_vector_used(w, n) * cotangent)

    np.testing.assert_allclose(g, numeric_gradient(contracted, (V3, 3), 0), rtol=1e-6)


@pytest.mark.parametrize("c", [0.7, -0.7])
def test_vjp_with_branch(c):
    cotangent = np.array([1.0, -2.0, 0.5])
    g = gradc.vjp(branch_vector)(V3, c, cotangent)
    expected = np.cos(V3) * c * cotangent if c > 0 else 2 * V3 * cotangent
    np.testing.assert_allclose(g, expected, rtol=1e-12)


def test_value_and_grad_with_loop_tuple_wrt():
    def_value = loop_loss(V3 * 0.5, 4)
    value, (g,) = gradc.value_and_grad(loop_loss, wrt=(0,), optimize=False)(V3 * 0.5, 4)
    assert value == pytest.approx(def_value, rel=1e-12)
    np.testing.assert_allclose(g, numeric_gradient(loop_loss, (V3 * 0.5, 4), 0), rtol=1e-6)


def scalar_with_if(x):
    if x > 0:
        y = np.sin(x) * x
    else:
        y = x * x * x
    return y


def scalar_with_for(x):
    s = x * 0.5
    for i in range(3):
        s = s * np.sin(s) + x
    return s


@pytest.mark.parametrize("f, x, expected", [
    (scalar_with_if, 0.7, -np.sin(0.7) * 0.7 + 2 * np.cos(0.7)),
    (scalar_with_if, -0.7, 6 * -0.7),
    (scalar_with_for, 0.6, None),  # (through the gradient's tape: `tape.append`, `tape.pop()`)
])
def test_second_order(f, x, expected):
    second = gradc.grad(gradc.grad(f))(x)
    first = gradc.grad(f)
    numeric = (first(x + 1e-5) - first(x - 1e-5)) / 2e-5
    np.testing.assert_allclose(second, numeric, rtol=1e-6)
    if expected is not None:
        np.testing.assert_allclose(second, expected, rtol=1e-9)


# ----------------------------------------------------------------------------------------
# Unsupported constructs inside loops and branches
# ----------------------------------------------------------------------------------------

from fixtures import control_flow_refused as refused  # noqa: E402


@pytest.mark.parametrize("name, construct, words", [
    ("try_in_loop", "try:", "`try`"),
    ("try_in_branch", "try:", "`try`"),
    ("with_in_loop", "with ", "`with`"),
    ("with_in_branch", "with ", "`with`"),
])
def test_unsupported_inside_control_flow(name, construct, words):
    function = getattr(refused, name)
    with pytest.raises(gradc.UnsupportedSyntaxError) as info:
        gradc.grad(function)
    error = info.value
    line, column = location_of(function, construct)
    assert words in error.message
    assert error.loc.file == refused.__file__
    assert (error.loc.line, error.loc.col) == (line, column), (error.loc, line, column)
    text = str(error)
    assert text.startswith(f"{refused.__file__}:{line}:{column + 1}: error: ")
