"""Issue 4: indexing reads, index writes, augmented assignment, aliasing.

Every function is a module-level `def` (gradc reads its source), checked against central
finite differences in float64 and autograd where it runs (autograd refuses in-place writes,
so for writes finite differences decide). `treecheck.assert_tree_gradients` also checks that
the gradient call leaves the caller's arguments untouched. Inputs stay away from mask and
branch boundaries. Failures that are gradc's are strict xfails with a diagnosis.
"""
import numpy as np
import pytest

import gradc
from fixtures import calls_refused
from fixtures import refused as refused_fixtures
from gradcheck import assert_gradients
from locate import location_of
from treecheck import assert_tree_gradients

V = np.array([0.3, -0.7, 1.1, 0.5, -1.3])
M = np.random.default_rng(1).normal(size=(3, 4))


def check(f, args, wrt=0, **options):
    return assert_tree_gradients(f, args, wrt, **options)


# ----------------------------------------------------------------------------------------
# Reads
# ----------------------------------------------------------------------------------------

def read_int(x):
    return x[1] * x[3] + x[0]


def read_negative(x):
    return x[-1] * 2.0 + x[-2] * x[0]


def read_slices(x):
    return np.sum(x[::2] ** 2) + np.sum(x[3:0:-2] * 3.0) + np.sum(x[1:4] * x[-3:])


def read_negative_slice(x):
    return np.sum(x[-2:] ** 2)


def read_ellipsis_none(m):
    return np.sum(m[..., 1] ** 2) + np.sum(m[None, 0, :] * 2.0) + np.sum(m[:, None, 1:] ** 3)


def read_tuples(m):
    return m[1, 2] * m[0, 3] + np.sum(m[1:, ::2] ** 2) + np.sum(m[-1, ::-1] * m[0])


def read_int_array_repeats(x):
    return np.sum(x[np.array([0, 0, 2, 3, 3, 3])] ** 2)


def read_list_index_repeats(x):
    return np.sum(x[[1, 1, 0]] * np.array([1.0, 2.0, 3.0]))


def read_int_arrays_2d(m):
    return np.sum(m[np.array([0, 1, 0]), np.array([2, 2, 2])] ** 2) + np.sum(m[[2, 2]] * m[0])


def read_mask(x):
    return np.sum(x[x > 0] ** 2)


def read_mask_2d(m):
    return np.sum(np.exp(m[m < 0.2]))


def read_take(x):
    return np.sum(np.take(x, [2, 2, 0]) ** 3)


def read_take_axis(m):
    return np.sum(np.take(m, [1, 1, 0], axis=1) ** 2)


def read_in_loop(x):
    t = 0.0
    for i in range(x.shape[0]):
        t = t + x[i] * x[-1 - i]
    return t


@pytest.mark.parametrize("f", [read_int, read_slices, read_negative_slice, read_int_array_repeats,
                               read_list_index_repeats, read_mask, read_in_loop])
def test_reads_vector(f):
    check(f, [V], require_autograd=True)


@pytest.mark.parametrize("f", [read_ellipsis_none, read_tuples, read_int_arrays_2d, read_mask_2d])
def test_reads_matrix(f):
    check(f, [M], require_autograd=True)


def test_np_take():
    check(read_take, [V])
    check(read_take_axis, [M])


def test_read_with_a_negative_integer():
    check(read_negative, [V])


# ----------------------------------------------------------------------------------------
# Writes
# ----------------------------------------------------------------------------------------

def write_int(x):
    y = x * 2.0
    y[1] = x[0] ** 2
    return np.sum(y ** 2)


def write_overwrites_what_fed_earlier(x):
    y = x * 2.0
    a = np.sum(y ** 2)
    y[0] = 3.0
    return a + np.sum(y * x)


def write_overwrites_what_fed_earlier2(x):
    y = np.sin(x)
    z = y * y
    y[1] = x[2] * 5.0
    return np.sum(z) + np.sum(y ** 3)


def write_slices(x):
    y = np.zeros(5)
    y[1:4] = x[:3] * 2.0
    y[::2] = y[::2] + x[2:5]
    return np.sum(y ** 2)


def write_mask_constant(x):
    y = x * 1.5
    y[x > 0] = 0.0
    return np.sum(y ** 2 * x)


def write_mask_values(x):
    y = x * 1.5
    m = x > 0
    y[m] = x[m] ** 3
    return np.sum(y ** 2)


def write_aug_item(x):
    y = x * 1.5
    y[1] += x[2] ** 2
    y[3] += y[0]
    return np.sum(y ** 2)


def write_aug_negative(x):
    y = x * 1.5
    y[-1] += y[0]
    return np.sum(y ** 2)


def write_negative(x):
    y = np.zeros_like(x)
    y[-1] = x[0] * 3.0
    y[-2] = x[-1] ** 2
    return np.sum(y * x)


def write_repeated_last_wins(x):
    y = x * 1.5
    y[[0, 0]] = x[1:3]
    return np.sum(y ** 2)


def write_repeated_aug(x):
    y = x * 1.5
    y[[0, 0, 1]] += x[2:5]
    return np.sum(y ** 2)


def write_loop_fill(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = np.sin(x[i]) * x[i]
    return np.sum(out ** 2)


def write_loop_recurrence(x):
    out = np.zeros(4)
    out[0] = x[0]
    for i in range(1, 4):
        out[i] = out[i - 1] * x[i] + np.sin(out[i - 1])
    return np.sum(out)


def write_loop_self(x):
    y = x * 1.5
    for i in range(1, 4):
        y[i] = y[i] * y[i - 1]
    return np.sum(y)


def write_in_branch(x):
    y = x * 1.5
    if x[0] > 0:
        y[0] = x[1] ** 2
    else:
        y[1] = x[0] ** 2
    return np.sum(y * y)


def write_in_branch_in_loop(x):
    y = x * 2.0
    for i in range(4):
        if x[i] > 0:
            y[i] = y[i] ** 2
        else:
            y[i] += 1.0
    return np.sum(y * x)


def write_2d(m):
    y = m * 1.5
    y[0] = m[1] ** 2
    y[:, 1] = 3.0 * m[:, 2]
    y[1, 2] += m[0, 0]
    return np.sum(y ** 2)


def aug_array(x):
    a = x * 2.0
    c = a * 1.5
    a += x ** 2
    a *= x
    a -= c
    return np.sum(a * c)


def aug_array_in_loop(x):
    a = x * 2.0
    for i in range(3):
        a += np.sin(a)
    return np.sum(a)


def write_into_argument(x):
    x[0] = 2.0
    return np.sum(x ** 2)


def write_into_argument_after_use(x):
    a = np.sum(x ** 2)
    x[1] = x[0] * 3.0
    return a + np.sum(x ** 3)


def write_copy_in_loop(x):
    y = x.copy()
    for i in range(1):
        y[0] = 5.0
    return np.sum(y * x)


def times_one_then_aug_in_loop(x):
    y = x * 1.0
    for i in range(1):
        y[0] += 1.0
    return np.sum(y * x)


def times_one_then_write_in_loop(x):
    y = x * 1.0
    for i in range(2):
        y[i] = 5.0
    return np.sum(y)


def aug_item_in_branch_in_loop(x):
    y = x * 1.0
    for i in range(2):
        if x[i] > 0:
            y[i] += 1.0
    return np.sum(y * x)


@pytest.mark.parametrize("f", [
    write_int, write_overwrites_what_fed_earlier, write_overwrites_what_fed_earlier2, write_slices,
    write_mask_constant, write_mask_values, write_aug_item, write_repeated_last_wins, write_repeated_aug,
    write_loop_fill, write_loop_recurrence, write_loop_self, aug_array, aug_array_in_loop,
    write_copy_in_loop,
])
def test_writes(f):
    check(f, [V])


@pytest.mark.parametrize("x", [V, -V])
def test_write_in_a_branch(x):
    check(write_in_branch, [x])


def test_write_in_a_branch_in_a_loop():
    check(write_in_branch_in_loop, [V])


def test_writes_2d():
    check(write_2d, [M])


@pytest.mark.parametrize("f", [write_into_argument, write_into_argument_after_use])
def test_writes_into_an_argument(f):
    check(f, [V], mutates_arguments=True)


def test_write_with_negative_indices():
    check(write_negative, [V])


def test_aug_write_with_a_negative_index():
    check(write_aug_negative, [V])


def test_times_one_then_aug_in_loop_gradient():
    check(times_one_then_aug_in_loop, [V])


def test_times_one_then_write_in_loop_leaves_the_argument_alone():
    check(times_one_then_write_in_loop, [V])


def test_aug_item_in_branch_in_loop():
    check(aug_item_in_branch_in_loop, [V])


def test_unoptimized_times_one_is_right():
    x = V.copy()
    got = gradc.grad(times_one_then_aug_in_loop, optimize=False)(x)
    np.testing.assert_array_equal(x, V)
    expected = 2 * V
    expected[0] += 1.0
    np.testing.assert_allclose(got, expected)


# ----------------------------------------------------------------------------------------
# Aliasing: followed as Python does where the program says which array a name is (issue 10),
# refused, naming both names, where only the run decides
# ----------------------------------------------------------------------------------------

def view_of_argument_written(x):
    y = x[0:2]
    y[0] = 5.0
    return np.sum(y * x[1:3]) + np.sum(x * x)


@pytest.mark.parametrize("name", ["alias_write", "alias_aug", "alias_through_helper", "alias_from_list",
                                  "held_in_list", "held_in_dict", "held_in_tuple_aug", "list_held_in_list",
                                  "held_by_append", "held_then_written_in_loop", "held_by_item_write"])
def test_writes_through_aliases_are_followed(name):
    """An update through one name is seen through every name, container and view of the array
    (these were refused before the object model; once, some gave wrong gradients silently).
    Finite differences decide: autograd rebinds where NumPy writes in place (`z += 1.0`)."""
    check(getattr(calls_refused, name), [V[:3].copy()], use_autograd=False)


def test_writes_through_a_view_of_an_argument_are_followed():
    check(view_of_argument_written, [V[:3].copy()], mutates_arguments=True, use_autograd=False)
    check(refused_fixtures.aug_assign_view, [M.copy()], mutates_arguments=True, use_autograd=False)


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_a_write_through_a_flipped_view_is_written_back(c):
    check(calls_refused.alias_by_flip, [np.array([0.3, -0.7, 1.1]), c], use_autograd=False)


@pytest.mark.parametrize("name, text", [
    ("view_of_local_write", "z[0, 0] = 1.0"),
])
def test_writes_into_possible_views_are_refused(name, text):
    """`y.reshape(...)` is a view or a copy as the layout decides when it runs: refused."""
    function = getattr(calls_refused, name)
    with pytest.raises(gradc.GradcError, match="view") as info:
        gradc.grad(function)(V[:3].copy())
    error = info.value
    assert (error.loc.file, error.loc.line, error.loc.col) == (calls_refused.__file__,
                                                               *location_of(function, text))
    assert "`z`" in error.message and "`y`" in error.message


@pytest.mark.parametrize("name", ["alias_in_loop", "alias_in_branch"])
def test_alias_through_control_flow_is_refused_or_right(name):
    function = getattr(calls_refused, name)
    try:
        check(function, [V[:3].copy()])
    except gradc.GradcError:
        pass  # refusing is fine


def rebound_after_storing(x):
    y = x * 1.0
    pair = (y, 1.0)
    y = y * 2.0
    y[0] = 1.0  # a new array: the tuple's item is untouched
    return np.sum(y * x + pair[0] * x)


def stored_copy(x):
    y = x * 1.0
    outer = [y.copy()]
    y[0] = 5.0
    return np.sum(outer[0] * x + y * x)


@pytest.mark.parametrize("f", [rebound_after_storing, stored_copy])
def test_updates_after_storing_a_copy_or_rebinding_are_differentiated(f):
    assert_gradients(f, (np.array([0.3, -0.7, 1.1]),))


def dict_item_rebound(x, v):
    d = {"a": x, "b": v}
    d["a"] = d["a"] * d["b"]
    d["c"] = np.sin(x)
    return np.sum(d["a"] + d["c"] * v)


def list_items_of_different_shapes(W, v):
    layers = [W, v]
    layers[1] = layers[1] * 2.0
    layers[-2] = np.tanh(layers[0])
    return np.sum(layers[0] @ layers[1])


@pytest.mark.parametrize("f, args", [
    (dict_item_rebound, (np.array([0.3, -0.7, 1.1]), np.array([0.5, 1.5, -0.4]))),
    (list_items_of_different_shapes, (np.array([[0.3, -0.7], [1.1, 0.2], [0.4, -0.5]]), np.array([0.5, 1.5]))),
])
def test_item_writes_into_list_and_dict_displays(f, args):
    """`d[k] = v` and `items[i] = v` on a display replace the item: dicts (once a crash in the
    backward pass) and lists whose items have different shapes (once a crash in the forward)."""
    assert_gradients(f, args, wrt=(0, 1))


@pytest.mark.parametrize("name, text", [
    ("alias_by_conditional", "z[0] = 5.0"),
    ("view_by_conditional", "z += 1.0"),
    ("alias_by_astype_without_copy", "z[0] = 5.0"),
])
def test_writes_through_conditional_or_maybe_aliases_are_refused(name, text):
    """Once silently wrong: a name bound by `a if c else b` to another name's array, or by a
    call that may return the same memory (`astype(..., copy=False)`); the run decides which."""
    function = getattr(calls_refused, name)
    with pytest.raises(gradc.UnsupportedSyntaxError) as info:
        gradc.grad(function)(np.array([0.3, -0.7, 1.1]), 1.0)
    assert "`z`" in info.value.message and "`y`" in info.value.message
    assert (info.value.loc.line, info.value.loc.col) == location_of(function, text)


def fresh_by_conditional(x, c):
    y = x * 1.0
    z = y * 2.0 if c > 0 else np.flip(y) * 3.0
    z[0] = 5.0
    return np.sum(y * x + z * x)


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_writes_into_a_fresh_array_chosen_by_a_condition_are_differentiated(c):
    assert_gradients(fresh_by_conditional, (np.array([0.3, -0.7, 1.1]), c))
