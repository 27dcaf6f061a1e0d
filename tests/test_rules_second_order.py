"""Every rule at second order: the gradient of each generated gradient, on every numeric case.

For each case of `test_rules_numpy.CASES` (every NumPy rule, operator and ndarray method has
one) and of `test_rules_python` (operators, `math` and builtins on floats), and each argument it
differentiates, the Hessian-vector product
`gradc.vjp(gradc.grad(f, wrt=i), wrt=i)(*args, v)` (reverse over reverse: the rules' own
bodies, inlined into the first-order code, and every runtime helper that code calls are
differentiated) must equal central differences of the first-order gradient along `v`, and
autograd's Hessian-vector product where autograd runs the function. A helper without a rule
fails here with `NoGradientRuleError`.
"""
import numpy as np
import pytest

import gradc
from gradcheck import autograd, autograd_version
from rule_cases import CASES

pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")  # (autograd, of linear code)

#: Cases whose function is not twice differentiable at the test point: none are expected; one
#: listed here says why.
NOT_TWICE_DIFFERENTIABLE: dict[str, str] = {}


def _float_arrays(c):
    return all(np.issubdtype(np.asarray(c.args[i]).dtype, np.floating) and np.asarray(c.args[i]).dtype == np.float64
               for i in (c.wrt if isinstance(c.wrt, tuple) else (c.wrt,)))


SECOND_ORDER_CASES = [(c, i) for c in CASES if _float_arrays(c) and c.id not in NOT_TWICE_DIFFERENTIABLE
                      for i in (c.wrt if isinstance(c.wrt, tuple) else (c.wrt,))]


def _direction(x, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, np.shape(x)) * rng.choice([-1.0, 1.0], np.shape(x)) if np.ndim(x) \
        else float(rng.uniform(0.5, 1.5))


def _moved(args, index, step):
    moved = list(args)
    moved[index] = args[index] + step
    return moved


def hessian_vector_by_differences(first, args, index, v, eps=1e-5):
    """Central differences of the (already verified) first-order gradient along `v`."""
    up = first(*_moved(args, index, eps * v))
    down = first(*_moved(args, index, -eps * v))
    return (np.asarray(up) - np.asarray(down)) / (2 * eps)


@pytest.mark.parametrize("c, index", SECOND_ORDER_CASES, ids=[f"{c.id}-{i}" for c, i in SECOND_ORDER_CASES])
def test_rule_at_second_order(c, index):
    args = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in c.args]
    v = _direction(args[index], len(c.id) + index)
    first = gradc.grad(c.fn, wrt=index)
    hv = gradc.vjp(first, wrt=index)(*args, v)
    expected = hessian_vector_by_differences(first, args, index, v)
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(hv, expected, rtol=1e-4, atol=1e-5 * scale, err_msg="finite differences")
    oracle = autograd_version(c.fn)
    if oracle is None or not c.options.get("use_autograd", True):
        return
    try:
        first_ag = autograd.grad(oracle, argnum=index)
        theirs = autograd.grad(lambda *a: autograd.numpy.sum(first_ag(*a) * v), argnum=index)(*args)
    except Exception:  # autograd does not support this function: finite differences decided
        return
    if np.shape(theirs) != np.shape(hv):  # (autograd's np.where does not reduce a broadcast operand's gradient)
        return
    np.testing.assert_allclose(hv, theirs, rtol=1e-6, atol=1e-9 * scale, err_msg="autograd")


# -- Python's operators, `math` and builtins, on floats (test_rules_python's cases) ------------------

def _python_cases():
    import test_rules_python as P
    found = []
    for entry in P.OPERATOR_CASES + P.MATH_CASES + P.BUILTIN_CASES + P.MORE_MATH_CASES:
        values = getattr(entry, "values", entry)  # (a pytest.param: its values and marks)
        marks = getattr(entry, "marks", ())
        f, args = values
        found += [pytest.param(f, args, i, marks=marks, id=f"{f.__name__}-{args}-{i}") for i in range(len(args))]
    return found


PYTHON_CASES = _python_cases()


@pytest.mark.parametrize("f, args, index", PYTHON_CASES)
def test_python_rule_at_second_order(f, args, index):
    first = gradc.grad(f, wrt=index)
    second = gradc.vjp(first, wrt=index)(*args, 1.0)
    eps = 1e-5
    expected = (first(*_moved(args, index, eps)) - first(*_moved(args, index, -eps))) / (2 * eps)
    assert type(second) is float
    assert second == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_every_case_is_checked_at_second_order():
    assert len(SECOND_ORDER_CASES) >= 600, len(SECOND_ORDER_CASES)
    assert len(PYTHON_CASES) >= 100, len(PYTHON_CASES)


# -- the helpers index writes use (second order through a loop's tape is not built yet: issue 12) ---

def s_index_write(x, y):
    z = x * 1.0
    z[1] = y[0] * y[1]
    z[2:] = np.sin(y[2:])
    return np.sum(z * z * x)


def s_repeated_index_write(x, y):
    z = x * 1.0
    z[[0, 0, 2]] = y[:3] * y[:3]
    return np.sum(np.sin(z) * x)


def s_index_accumulate(x, y):
    z = x * 1.0
    z[1:3] += y[:2] * y[1:3]
    z[[0, 0]] += y[3]
    return np.sum(np.sin(z) * x)


def s_index_tricks(x, y):
    joined = np.r_[x * y[0], np.sin(y)]
    cols = np.c_[x, y * x]
    return np.sum(np.tanh(joined) ** 2) + np.sum(cols[:, 0] * cols[:, 1] ** 2)


X5, Y5 = np.array([0.3, -0.7, 1.1, 0.4, -1.3]), np.array([0.9, -0.4, 0.6, 1.2, -0.8])
HELPER_CASES = [(s_index_write, [X5, Y5]), (s_repeated_index_write, [X5, Y5]), (s_index_accumulate, [X5, Y5]),
                (s_index_tricks, [X5, Y5])]
HELPER_PARAMS = [pytest.param(f, args, i, id=f"{f.__name__}-{i}") for f, args in HELPER_CASES for i in (0, 1)]


@pytest.mark.parametrize("f, args, index", HELPER_PARAMS)
def test_helpers_at_second_order(f, args, index):
    v = _direction(args[index], index)
    first = gradc.grad(f, wrt=index)
    hv = gradc.vjp(first, wrt=index)(*args, v)
    expected = hessian_vector_by_differences(first, args, index, v)
    np.testing.assert_allclose(hv, expected, rtol=1e-5, atol=1e-6)
    if (oracle := autograd_version(f)) is not None:  # (autograd cannot run index writes: a no-op here)
        try:
            first_ag = autograd.grad(oracle, argnum=index)
            theirs = autograd.grad(lambda *a: autograd.numpy.sum(first_ag(*a) * v), argnum=index)(*args)
        except Exception:
            return
        np.testing.assert_allclose(hv, theirs, rtol=1e-6, atol=1e-9)


def _helpers_called(source: str) -> set:
    from gradc import runtime
    return {name for name in runtime.__all__ if f"{name}(" in source}


def test_every_runtime_helper_with_a_rule_is_differentiated_here():
    """A runtime helper that first-order code calls has a rule, and some case here differentiates it."""
    from gradc import runtime
    from gradc.rules.registry import lookup
    seen = set()
    for c, index in SECOND_ORDER_CASES:
        seen |= _helpers_called(gradc.grad(c.fn, wrt=index).source_for(*c.args))
    for f, args in HELPER_CASES:
        for index in (0, 1):
            seen |= _helpers_called(gradc.grad(f, wrt=index).source_for(*args))
    ruled = {name for name in runtime.__all__ if callable(getattr(runtime, name)) and lookup(getattr(runtime, name))
             is not None and not lookup(getattr(runtime, name)).zero}
    without_rule = sorted(name for name in seen if lookup(getattr(runtime, name)) is None)
    assert not without_rule, f"first-order code calls helpers that have no rule: {without_rule}"
    unseen = sorted(ruled - seen - set(NOT_IN_FIRST_ORDER_CODE))
    assert not unseen, f"helpers with a rule that no case differentiates: {unseen}"


#: Helpers with rules that first-order code of these cases does not call, and where each is tested.
NOT_IN_FIRST_ORDER_CODE = {
    "copy_of": "a recursive call's copy (test_memory.py)",
    # (called in loops' backward sweeps: second order through them in test_forward_mode.py and
    # test_control_flow.py's test_second_order)
    "add_at": "loops", "added_at": "loops", "unappend": "loops", "unconcat": "loops", "unrepeat_items": "loops",
    "add_adjoints": "loops",
    "list_append": "printed `items.append(v)`", "repeat_items": "printed `items * n`",
    "list_without_last": "printed `items.pop()`: test_forward_mode.py's loops",
    "unpop": "the adjoint of a pop, at third order only",
    "erase_item": "where the adjoint is an argument: test_vjp_of_vjp_through_an_index_write",
    # (the adjoints of issue 13's helpers, and the tangents forward mode calls: their rules in
    # test_rules_numpy.py's test_rules_of_helpers_only_higher_order_code_calls)
    "column_stack_of": "second order", "gradient_of": "second order", "full_spectrum": "second order",
    "sinc_curvature": "second order", "diff_tangent": "forward mode", "pad_linear": "forward mode",
    "join_back": "second order (s_index_tricks); its rule: test_index_tricks.py's test_rules_of_the_helpers",
}


def writes_an_item(A, b):
    A[1] = b
    return A


def test_vjp_of_vjp_through_an_index_write():
    """Issue 11, case 4: `erase_item` is linear in its cotangent, not zero-gradient."""
    second = gradc.vjp(gradc.vjp(writes_an_item), wrt=2)
    np.testing.assert_array_equal(second(np.arange(5.0), 3.0, 7 * np.ones(5), np.ones(5)), [1, 0, 1, 1, 1])
    assert "erase_item(" in gradc.vjp(writes_an_item).source
