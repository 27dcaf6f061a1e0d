"""Derivative rules for `numpy.linalg`: decompositions, determinants, inverses, norms.

tests/test_rules_linalg.py checks every rule here numerically (first order against finite
differences and autograd; second order and the JVP through the shared case list).
"""
import numpy as np  # noqa: F401

from .registry import jvp, vjp  # noqa: F401
