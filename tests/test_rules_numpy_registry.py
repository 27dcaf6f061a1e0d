"""Every NumPy rule in the registry is exercised by a numeric test case.

The cases live in `test_rules_numpy.CASES` and `test_rules_linalg.CASES` (joined in `rule_cases`), each naming the primitives it
exercises. Registering a rule for a NumPy function, an ndarray method or an
attribute (or any rule in gradc/rules/numpy.py) without adding a case fails
`test_every_numpy_rule_has_a_case`; a case that names a primitive its function
never spells fails `test_cases_use_the_primitives_they_name`.
"""
import builtins
import inspect
import operator

import numpy as np
import pytest

from gradc.rules import REGISTRY, Attr, Method
from rule_cases import CASES

OPERATOR_SPELLINGS = {
    operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/", operator.mod: "%",
    operator.pow: "**", operator.matmul: "@", operator.neg: "-", operator.pos: "+", operator.getitem: "[",
    operator.gt: ">",
}


def is_numpy_rule(key, rule) -> bool:
    """A rule this test file is responsible for."""
    if rule.vjp is None or rule.user:
        return False
    if isinstance(key, (Method, Attr)) or rule.vjp.__module__ in ("gradc.rules.numpy", "gradc.rules.linalg"):
        return True
    return (getattr(key, "__module__", None) or "").split(".")[0] == "numpy"


def describe(key) -> str:
    if isinstance(key, Method):
        return f".{key.name}()"
    if isinstance(key, Attr):
        return f".{key.name}"
    return f"{getattr(key, '__module__', None) or '?'}.{getattr(key, '__name__', repr(key))}"


def spellings(key) -> list[str]:
    """Ways the primitive can appear in a test function's source."""
    if isinstance(key, Method):
        return [f".{key.name}("]
    if isinstance(key, Attr):
        return [f".{key.name}"]
    if key in OPERATOR_SPELLINGS:
        return [OPERATOR_SPELLINGS[key]]
    if key in (builtins.abs, builtins.pow):
        return [f"{key.__name__}("]
    names = {name for module, prefix in ((np, "np."), (np.linalg, "np.linalg."), (np.fft, "np.fft."))
             for name in dir(module) if getattr(module, name, None) is key}
    return [f"np.{name}(" for name in names] + [f"np.linalg.{name}(" for name in names] + \
        [f"np.fft.{name}(" for name in names]


def covered() -> set:
    return {p for case in CASES for p in case.primitives}


def test_the_registry_has_numpy_rules():
    assert sum(is_numpy_rule(k, r) for k, r in REGISTRY.items()) > 100


def test_every_numpy_rule_has_a_case():
    missing = sorted(describe(k) for k, r in REGISTRY.items() if is_numpy_rule(k, r) and k not in covered())
    assert not missing, f"rules without a numeric test case in test_rules_numpy.CASES: {missing}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cases_use_the_primitives_they_name(case):
    source = inspect.getsource(case.fn)
    body = source.split(":", 1)[1]  # after the signature
    for primitive in case.primitives:
        assert any(s in body for s in spellings(primitive)), (case.id, describe(primitive))
