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


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_rule(c):
    assert_gradients(c.fn, c.args, wrt=c.wrt, **c.options)
