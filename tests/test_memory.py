"""Issue 10: one owner of memory and effects. The smallest programs that once gave wrong numbers
or crashed because the generated code shared an array the program does not share, each with the
numbers the issue names, plus the checks every case gets: `value_and_grad`'s value equals `f`,
optimized equals `optimize=False`, both equal central finite differences, and no argument changed.
"""
import numpy as np
import pytest

import gradc
from gradcheck import numeric_gradient

X4 = np.array([1.0, 2.0, 3.0, 4.0])


def assert_right(f, args, wrt=0, expected_value=None, expected_grad=None):
    """The value and gradient of `f` at `args`, optimized and not, against `f` itself and finite
    differences (and the numbers given); the arguments untouched."""
    before = [np.array(a, copy=True) for a in args]
    reference = f(*[np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args])
    for optimize in (True, False):
        value, grad = gradc.value_and_grad(f, wrt=wrt, optimize=optimize)(*args)
        for a, b in zip(args, before):
            np.testing.assert_array_equal(a, b, err_msg="an argument changed")
        np.testing.assert_allclose(value, reference, rtol=1e-12, err_msg="the value is not f's")
        if expected_value is not None:
            np.testing.assert_allclose(value, expected_value, rtol=1e-12)
        for index, one in (zip(wrt, grad) if isinstance(wrt, tuple) else [(wrt, grad)]):
            numeric = numeric_gradient(f, list(args), index)
            np.testing.assert_allclose(one, numeric, rtol=1e-6, atol=1e-8, err_msg=f"optimize={optimize}")
        if expected_grad is not None:
            np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-12)
    return grad


# 1. Two buffers from equal constructor calls ------------------------------------------------------

def two_zeros(x):
    a = np.zeros_like(x)
    b = np.zeros_like(x)
    for i in range(len(x)):
        a[i] = x[i] * 2.0
    for i in range(len(x)):
        b[i] = x[i] * 3.0
    return np.sum(a) + np.sum(b)


def two_copies(x):
    a = x.copy()
    b = x.copy()
    for i in range(len(x)):
        a[i] = x[i] * 2.0
    for i in range(len(x)):
        b[i] = x[i] * 3.0
    return np.sum(a) + np.sum(b)


def two_ones(x):
    a = np.ones_like(x)
    b = np.ones_like(x)
    for i in range(len(x)):
        a[i] = x[i] * 2.0
    b[1:] = x[1:] * 3.0
    return np.sum(a) + np.sum(b * x)


def fresh_copy(p):
    return p.copy()


def helper_copies_twice(x):
    a = fresh_copy(x)
    b = fresh_copy(x)
    a[0] = x[1] * 2.0
    b[0] = x[2] * 3.0
    return np.sum(a * b)


def test_two_buffers_from_equal_constructors_stay_two():
    assert_right(two_zeros, (X4,), expected_value=50.0, expected_grad=np.full(4, 5.0))


@pytest.mark.parametrize("f", [two_copies, two_ones, helper_copies_twice])
def test_equal_constructor_calls_make_separate_arrays(f):
    assert_right(f, (X4,))


# 2. A buffer filled element by element -----------------------------------------------------------

def fill(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i]
    return np.sum(y)


def test_a_filled_buffer_has_gradient_one():
    assert_right(fill, (X4,), expected_value=10.0, expected_grad=np.ones(4))


# 3. The tape holds the value at the time, not the buffer ------------------------------------------

def square_evens_twice(x):
    y = x.copy()
    for i in range(2):
        y[::2] *= y[::2]
    return np.sum(y)


def test_tape_of_an_updated_buffer():
    x = np.array([0.5, 1.0, 0.8, 1.0])
    assert_right(square_evens_twice, (x,), expected_grad=np.array([0.5, 1.0, 2.048, 1.0]))


# 4. A view read after its base changes -----------------------------------------------------------

def view_then_write(x, c):
    y = x.copy()
    z = y[1:]
    y[2] += c
    return np.sum(z)


def row_then_write(x, c):
    Y = np.outer(x, x)
    z = Y[1]
    Y[1, 2] += c
    return np.sum(z * z)


def flip_then_write(x, c):
    y = x.copy()
    z = np.flip(y)
    y[0] += c * c
    return np.sum(z * np.arange(4.0))


def tail(p):
    return p[1:]


def helper_view_then_write(x, c):
    y = x * 1.0
    z = tail(y)
    y[3] = c * 3.0
    return np.sum(z * z)


@pytest.mark.parametrize("f", [view_then_write, row_then_write, flip_then_write, helper_view_then_write])
def test_a_view_follows_its_base(f):
    assert_right(f, (X4, 2.0), wrt=1)
    assert_right(f, (X4, 2.0), wrt=0)


def test_a_view_follows_its_base_numbers():
    assert gradc.grad(view_then_write, wrt=1)(X4, 2.0) == 1.0
    assert gradc.value_and_grad(view_then_write, wrt=1)(X4, 2.0)[0] == 11.0


# 5. An alias whose writes happen in a loop --------------------------------------------------------

def alias_filled_in_loop(x):
    y = np.zeros_like(x)
    t = y
    for i in range(2):
        y[i] = x[i]
    return np.sum(t * x)


def test_an_alias_sees_writes_made_in_a_loop():
    assert_right(alias_filled_in_loop, (X4,), expected_value=5.0, expected_grad=np.array([2.0, 4.0, 0.0, 0.0]))


# 6. A helper returning one of its arguments -------------------------------------------------------

def first(a, b):
    return a


def through_identity(x, w):
    t = first(x, w)
    return np.sum(t * t)


def test_a_helper_returning_its_argument():
    assert_right(through_identity, (X4, X4 * 2.0), expected_grad=2.0 * X4)
    assert "def dthrough_identity(x, w):" in gradc.grad(through_identity).source


# 7. A closure variable rebound after the gradient was made ----------------------------------------

def make_closure():
    t = 2.0

    def loss(x):
        return np.sum(x * t)

    def set_t(v):
        nonlocal t
        t = v
    return loss, set_t


def test_a_rebound_closure_variable_is_read_at_call_time():
    loss, set_t = make_closure()
    g = gradc.grad(loss)
    np.testing.assert_array_equal(g(X4), np.full(4, 2.0))
    set_t(5.0)
    np.testing.assert_array_equal(g(X4), np.full(4, 5.0))
    np.testing.assert_array_equal(gradc.value_and_grad(loss)(X4)[1], np.full(4, 5.0))


# 8. Value-dependent recursion with an early return ------------------------------------------------

def halving(a):
    if a < 1.0:
        return a
    return halving(a / 2.0) * 1.5 + a


@pytest.mark.parametrize("a", [0.5, 1.5, 5.0, 17.0])
def test_recursion_with_an_early_return(a):
    assert_right(halving, (a,))


# The two refusals that were wrong the other way ---------------------------------------------------

def element_then_add(x):
    s = x[1]
    s += 1.0
    return s * s + np.sum(x)


def float_then_add(x):
    c = 2.0
    h = c
    h += x[0]
    return h * h * c


def test_an_element_of_a_vector_is_a_number_not_a_view():
    assert_right(element_then_add, (X4,))


def test_a_float_alias_is_rebound_not_written():
    assert_right(float_then_add, (X4,), expected_grad=np.array([12.0, 0.0, 0.0, 0.0]))


# Arguments the function writes into must not share memory at the call -------------------------

def writes_its_argument(x, w):
    x[0] = 5.0
    return np.sum(x * w)


def test_a_call_passing_a_written_argument_twice_is_refused():
    g = gradc.grad(writes_its_argument, wrt=1)
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(g(a.copy(), a.copy()), [5.0, 2.0, 3.0])
    for other in (a, a[::-1], a[1:]):
        with pytest.raises(gradc.GradcError, match="writes into its argument `x`.*`w` sharing memory"):
            g(a, other)
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0])


# What bufferization decides, and a target without in-place writes --------------------------------

def fills_and_accumulates(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = np.sin(x[i]) * x[i]
    z = y[1:]
    y[0] += z[0]
    return np.sum(y * z[0]) + np.sum(z)


def test_the_ir_shows_what_bufferization_decided():
    ir = gradc.grad(fills_and_accumulates).ir
    assert "[in place]" in ir


def test_a_target_without_mutable_arrays_gets_no_in_place_writes():
    from gradc.api import compile_gradient
    from gradc.backend.load import instantiate
    from gradc.passes import Target
    x = np.array([0.3, -0.8, 1.2, 0.5])
    kinds = ((x.shape, x.dtype),)
    compiled = compile_gradient(fills_and_accumulates, (0,), kinds=kinds, target=Target(mutable_arrays=False))
    code = "\n".join(line for line in compiled.emitted.function_source.splitlines() if not line.strip().startswith("#"))
    assert "] = " not in code and "+=" not in code and "out=" not in code and "assign_item(" in code
    immutable = instantiate(compiled.factory, compiled.emitted, fills_and_accumulates)
    np.testing.assert_allclose(immutable(x.copy()), gradc.grad(fills_and_accumulates)(x), rtol=1e-13)
    np.testing.assert_allclose(immutable(x.copy()), numeric_gradient(fills_and_accumulates, [x], 0), rtol=1e-6)


# A NumPy function or method that writes into an array is refused, not silently ignored -----------

def copies_into(x):
    y = np.zeros_like(x)
    _ = np.copyto(y, x)
    return np.sum(y)


def multiplies_into(x):
    y = x * 1.0
    z = np.multiply(x, 2.0, out=y)
    return np.sum(y * z)


def sorts_in_place(x):
    y = x * 1.0
    s = y.sort()
    return np.sum(y * x)


@pytest.mark.parametrize("f, text", [(copies_into, "np.copyto"), (multiplies_into, "np.multiply"),
                                     (sorts_in_place, "y.sort")])
def test_numpy_writes_into_an_array_are_refused(f, text):
    from locate import location_of
    with pytest.raises(gradc.UnsupportedSyntaxError, match="changes an array in place") as info:
        gradc.grad(f)
    assert (info.value.loc.line, info.value.loc.col) == location_of(f, text)


# Lists that hold an array written later: followed while their items are known, else refused -----
# (Found after the cases were fixed: each once gave a silently wrong value and gradient.)

def written_before_each_append(x, c):
    y = np.zeros(4)
    saved = []
    for i in range(3):
        y[i] = x[i] * c
        saved.append(y)
    return np.sum(saved[0] * saved[1])


def written_after_a_loop_of_appends(x, c):
    y = x.copy()
    saved = []
    for i in range(2):
        saved.append(y)
    y *= c
    total = 0.0
    for item in saved:
        total = total + np.sum(item)
    return total


def written_after_a_branch_appended(x, c):
    y = x.copy()
    saved = [x * 1.0]
    if c > 0:
        saved.append(y)
    else:
        saved.append(y)
    y[0] = c
    return np.sum(saved[-1] * saved[-1])


def written_after_an_argument_list_took_it(xs, c):
    y = xs[0] * 1.0
    xs.append(y)
    y[0] = c
    return np.sum(xs[-1] * xs[-1])


def written_inside_a_loop_over_pairs(x, c):
    y = x.copy()
    pairs = [(y, x)]
    s = 0.0
    for a, b in pairs:
        y[0] = c
        s = s + np.sum(a * b)
    return s


@pytest.mark.parametrize("f, args, text", [
    (written_before_each_append, (X4, 0.6), "saved.append(y)"),
    (written_after_a_loop_of_appends, (X4, 0.6), "saved:"),
    (written_after_a_branch_appended, (X4, 0.6), "saved[-1]"),
    (written_after_an_argument_list_took_it, ([X4], 0.6), "xs[-1]"),
    (written_inside_a_loop_over_pairs, (X4, 0.6), "a * b"),
])
def test_a_list_holding_an_array_written_later_is_refused_at_its_read(f, args, text):
    from locate import location_of
    with pytest.raises(gradc.UnsupportedSyntaxError, match="may share memory with an array written at line") as info:
        gradc.grad(f, wrt=1)(*args)
    assert (info.value.loc.line, info.value.loc.col) == location_of(f, text)


def appended_then_written_known(x, c):
    y = x.copy()
    saved = []
    saved.append(y)
    y[0] = c
    return np.sum(saved[0] * x)


def test_a_list_whose_items_are_known_sees_the_write():
    assert_right(appended_then_written_known, (X4, 0.6), wrt=1, expected_grad=1.0)


# `+` and `*` of lists and tuples make a new sequence of the same objects --------------------------

def tuples_joined(x, c):
    t = (x,) + (x * c,)
    return np.sum(t[0] * t[1])


def argument_list_joined(ps, c):
    q = ps + [ps[0] * c]
    return np.sum(q[0] * q[-1])


def grown_list_joined(x, c):
    acc = []
    for i in range(2):
        acc.append(x * c)
    q = acc + [x]
    total = 0.0
    for a in q + acc:
        total = total + np.sum(a * x)
    return total + np.sum(q[0] * q[-1])


def joined_then_written(x, c):
    y = x.copy()
    both = [x] + [y]
    y[0] = c
    return np.sum(both[-1] * both[0])


def repeated(x, c):
    n = len(x)
    acc = [x * c] * n
    grown = []
    for i in range(2):
        grown.append(x * (c + i))
    twice = 2 * grown
    return np.sum(acc[0] * acc[n - 1]) + np.sum(twice[0] * twice[-1]) + np.sum(twice[1])


def list_in_numpy_arithmetic(x, c):
    return np.sum(x * [c, 2.0 * c, c, 1.0]) + np.sum(x + [c, c, 0.0, 1.0])


@pytest.mark.parametrize("f, args", [(tuples_joined, (X4, 0.5)), (argument_list_joined, ([X4, 2 * X4], 0.5)),
                                     (grown_list_joined, (X4, 0.5)), (joined_then_written, (X4, 0.5)),
                                     (repeated, (X4, 0.5)), (list_in_numpy_arithmetic, (X4, 0.5))])
def test_lists_and_tuples_joined_and_repeated(f, args):
    assert_right(f, args, wrt=1)


def test_a_list_joined_and_read_back_wrt_its_items():
    from treecheck import assert_tree_gradients
    assert_tree_gradients(argument_list_joined, [[X4, 2 * X4], 0.5], wrt=(0, 1))
    dps = gradc.grad(argument_list_joined)([X4, 2 * X4], 0.5)
    np.testing.assert_allclose(dps[0], 2 * 0.5 * X4)  # d/dp0 of sum(p0 * p0 * c)
    np.testing.assert_allclose(dps[1], 0.0)


def rebound_list_joined(x, c):
    acc = [x]
    for i in range(2):
        acc = acc + [x * c]
    return np.sum(acc[0] * acc[1])


def test_a_list_rebound_in_a_loop_and_joined_is_refused():
    from locate import location_of
    with pytest.raises(gradc.UnsupportedSyntaxError, match="cannot tell to be a list or an array") as info:
        gradc.grad(rebound_list_joined, wrt=1)(X4, 0.5)
    assert (info.value.loc.line, info.value.loc.col) == location_of(rebound_list_joined, "acc + [x * c]")


def test_a_list_adjoint_reaching_unbroadcast_is_refused_at_run_time():
    from gradc import runtime
    with pytest.raises(gradc.GradcError, match="list or tuple was used in arithmetic"):
        runtime.unbroadcast(runtime.Adjoints([np.ones(2), np.ones(2)]), [np.ones(2)])


# A recursive call that writes into the array it is passed -----------------------------------------

def shift_down(y, n, c):
    if n == 0:
        return np.sum(y * y)
    y[n] = y[n - 1] * c
    return shift_down(y, n - 1, c)


def calls_shift_down(x, c):
    y = x.copy()
    return shift_down(y, 3, c)


def reads_after_shift_down(x, c):
    y = x.copy()
    s = shift_down(y, 2, c)
    return s + np.sum(y)


def test_a_recursive_call_gets_a_copy_of_what_it_writes_into():
    x = np.array([0.3, 0.7, -0.4, 0.9])
    assert_right(calls_shift_down, (x, 0.6), wrt=1)
    assert_right(calls_shift_down, (x, 0.6), wrt=0)
    assert "shift_down(copy_of(y), diff, c)" in gradc.grad(shift_down, wrt=2).source_for(x, 3, 0.6)


def test_reading_an_array_after_a_recursive_call_wrote_into_it_is_refused():
    from locate import location_of
    with pytest.raises(gradc.UnsupportedSyntaxError, match="passed to `shift_down` at line .*, which writes into it") \
            as info:
        gradc.grad(reads_after_shift_down, wrt=1)(X4, 0.5)
    assert (info.value.loc.line, info.value.loc.col) == location_of(reads_after_shift_down, "y)")


# A helper gradc cannot inline that writes into an array it is passed ---------------------------

def writes_inside_try(p):
    try:
        p[0] = 5.0
    finally:
        pass
    return 0.0


def passes_a_shared_array(x, c):
    y = np.ones(4)
    s = np.sum(x * y) * c
    r = writes_inside_try(y)
    return s + np.sum(y) + r


def passes_a_copy(x, c):
    y = np.ones(4)
    s = np.sum(x * y) * c
    r = writes_inside_try(y.copy())
    return s + np.sum(y) + r


def test_a_helper_that_cannot_be_inlined_and_writes_its_argument_is_refused():
    from locate import location_of
    with pytest.raises(gradc.UnsupportedSyntaxError, match="`writes_inside_try` writes into its argument `p`, and "
                                                           "gradc could not inline it") as info:
        gradc.grad(passes_a_shared_array, wrt=0)(X4, 0.5)
    assert (info.value.loc.line, info.value.loc.col) == location_of(passes_a_shared_array, "writes_inside_try(")
    assert_right(passes_a_copy, (X4, 0.5), wrt=(0, 1))


def test_what_a_helper_writes_into_is_read_from_its_source():
    from gradc.frontend.writes import parameters_written

    def through_names(a, b, c, d, e, f):
        view = a[1:]
        view[0] = 1.0
        for row in b:
            row += 1.0
        c.fill(0.0)
        np.copyto(d, 2.0)
        np.negative(e, e)
        t = f * 2.0
        t[0] = 1.0
        return t
    assert parameters_written(through_names) == {"a", "b", "c", "d", "e"}


# An output array passed by position (`np.negative(y, y)`) writes into it ------------------------

def negates_into(x, c):
    y = x * 1.0
    s = np.sum(y * c)
    z = np.negative(y, y)
    return s + np.sum(y * c) + np.sum(z)


def sums_into(x, c):
    Y = np.outer(x, x)
    t = np.zeros(4)
    z = Y.sum(0, None, t)
    return np.sum(z * c)


def clips_into(x, c):
    y = x * c
    z = np.clip(y, 0.0, 0.5, y)
    return np.sum(z)


@pytest.mark.parametrize("f, text", [(negates_into, "np.negative"), (sums_into, "Y.sum"), (clips_into, "np.clip")])
def test_an_output_array_passed_by_position_is_refused(f, text):
    from locate import location_of
    with pytest.raises(gradc.UnsupportedSyntaxError, match="changes an array in place") as info:
        gradc.grad(f, wrt=1)(X4, 0.5)
    assert (info.value.loc.line, info.value.loc.col) == location_of(f, text)


# A slice whose bounds only the run knows is still a view ------------------------------------------

def tails_in_a_loop(x, c):
    y = x.copy()
    total = 0.0
    for i in range(3):
        z = y[i:]
        y[i + 1] = c * y[i]
        total = total + np.sum(z * z)
    return total


def scales_windows(x, c):
    Y = np.outer(x, x)
    for i in range(3):
        z = Y[i:i + 2, 1:i + 2]
        z *= c
    return np.sum(Y * Y)


@pytest.mark.parametrize("f", [tails_in_a_loop, scales_windows])
def test_a_view_by_a_run_time_slice_follows_its_base(f):
    assert_right(f, (X4, 0.6), wrt=(0, 1))


def picks_then_writes(x, c):
    y = x.copy()
    z = y[[0, 1]]  # (advanced indexing copies: z keeps the old values)
    y[0] = c
    return np.sum(z * z) + np.sum(y)


def test_an_advanced_index_by_a_list_is_a_copy():
    assert_right(picks_then_writes, (X4, 0.5), wrt=(0, 1))
