"""Numeric checks of the `numpy.linalg` rules (gradc/rules/linalg.py).

Cases are written like those of test_rules_numpy.py (and with its helpers); `rule_cases.CASES`
joins both lists for the registry, second-order and forward-mode tests.
"""
import numpy as np
import pytest

from gradcheck import assert_gradients
from test_rules_numpy import Case, pos, r, unit, w, well_conditioned  # noqa: F401

CASES: list[Case] = []


def case(fn, args, *primitives, wrt=0, **options):
    CASES.append(Case(fn, args, primitives, wrt, options))


# -- norms, inverses, determinants, solves -------------------------------------------------------

def f_norm(x):
    return np.sin(np.linalg.norm(x))
def f_norm_fro(x):
    return np.sin(np.linalg.norm(x, 'fro'))
def f_norm_ord2(x):
    return np.sin(np.linalg.norm(x, ord=2))
def f_norm_ord1(x):
    return np.sin(np.linalg.norm(x, ord=1))
def f_norm_axis(x, w):
    return np.sum(np.sin(np.linalg.norm(x, axis=1)) * w)
def f_norm_neg_axis_keepdims(x):
    return np.sum(np.sin(x) * np.linalg.norm(x, axis=-1, keepdims=True))
def f_norm_axis_ord1(x, w):
    return np.sum(np.sin(np.linalg.norm(x, ord=1, axis=0)) * w)
def f_norm_matrix_axes(x, w):
    return np.sum(np.sin(np.linalg.norm(x, axis=(1, 2))) * w)
def f_inv(a, w):
    return np.sum(np.sin(np.linalg.inv(a)) * w)
def f_det(a):
    return np.sin(np.linalg.det(a))
def f_det_batched(a, w):
    return np.sum(np.sin(np.linalg.det(a)) * w)
def f_solve(a, b, w):
    return np.sum(np.sin(np.linalg.solve(a, b)) * w)


case(f_norm, [r(5)], np.linalg.norm)
case(f_norm, [r(3, 4)], np.linalg.norm)
case(f_norm_fro, [r(3, 4)], np.linalg.norm)
case(f_norm_ord2, [r(5)], np.linalg.norm)
case(f_norm_ord1, [r(5)], np.linalg.norm)
case(f_norm_axis, [r(3, 4), w(3)], np.linalg.norm)
case(f_norm_neg_axis_keepdims, [r(3, 4)], np.linalg.norm)
case(f_norm_axis_ord1, [r(3, 4), w(4)], np.linalg.norm)
case(f_norm_matrix_axes, [r(2, 3, 4), w(2)], np.linalg.norm)
case(f_inv, [well_conditioned(3, 3), w(3, 3)], np.linalg.inv)
case(f_inv, [well_conditioned(2, 3, 3), w(2, 3, 3)], np.linalg.inv)
case(f_det, [well_conditioned(3, 3)], np.linalg.det)
case(f_det_batched, [well_conditioned(2, 3, 3), w(2)], np.linalg.det)
case(f_solve, [well_conditioned(3, 3), r(3), w(3)], np.linalg.solve, wrt=(0, 1))
case(f_solve, [well_conditioned(3, 3), r(3, 2), w(3, 2)], np.linalg.solve, wrt=(0, 1))
case(f_solve, [well_conditioned(2, 3, 3), r(2, 3, 2), w(2, 3, 2)], np.linalg.solve, wrt=(0, 1))


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_rule(c):
    assert_gradients(c.fn, c.args, wrt=c.wrt, **c.options)
