"""Derivative rules for `numpy.linalg`: decompositions, determinants, inverses, norms.

tests/test_rules_linalg.py checks every rule here numerically (first order against finite
differences and autograd; second order and the JVP through the shared case list).
"""
import numpy as np

from ..runtime import norm_adjoint, solve_adjoint_a, solve_adjoint_b
from .registry import jvp, vjp


@vjp(np.linalg.norm)
def norm(g, ans, x, ord=None, axis=None, keepdims=False):
    return norm_adjoint(g, ans, x, ord, axis, keepdims)


@jvp(np.linalg.norm)
def norm_jvp(t, ans, x, ord=None, axis=None, keepdims=False):
    return np.sum(norm_adjoint(np.ones_like(ans), ans, x, ord, axis, keepdims) * t, axis=axis, keepdims=keepdims)


@vjp(np.linalg.inv)
def inv(g, ans, a):
    ans_t = np.swapaxes(ans, -1, -2)
    return -(ans_t @ g @ ans_t)


@jvp(np.linalg.inv)
def inv_jvp(t, ans, a):
    return -(ans @ t @ ans)


@vjp(np.linalg.det)
def det(g, ans, a):
    return np.expand_dims(g * ans, (-1, -2)) * np.swapaxes(np.linalg.inv(a), -1, -2)


@jvp(np.linalg.det)
def det_jvp(t, ans, a):
    return ans * np.sum(np.swapaxes(np.linalg.inv(a), -1, -2) * t, axis=(-2, -1))


@vjp(np.linalg.solve)
def solve(g, ans, a, b):
    gb = solve_adjoint_b(g, a)
    return solve_adjoint_a(gb, ans, b), gb


@jvp(np.linalg.solve)
def solve_jvp(t, ans, a, b):
    ta, tb = t  # (zeros where an argument has no tangent)
    return np.linalg.solve(a, tb - ta @ ans)
