"""Every numeric rule case: NumPy's (test_rules_numpy.py) and numpy.linalg's (test_rules_linalg.py)."""
from test_rules_linalg import CASES as LINALG_CASES
from test_rules_numpy import CASES as NUMPY_CASES

CASES = NUMPY_CASES + LINALG_CASES
