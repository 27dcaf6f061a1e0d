"""Derivative rules for Python builtins: `abs`, `float`, `pow`, `min`/`max` of two values, `sum`,
`list` and `tuple` of a sequence.

At a tie, `max(a, b)` and `min(a, b)` give each argument half the gradient, and
`abs` has derivative 0 at 0. The weights are Python booleans for Python floats, so
the gradient is `g` itself (exact, a float), never rounded through a float32 weight.
"""
import builtins

import numpy as np

from ..runtime import reshape_like
from .registry import jvp, vjp, zero_gradient


@vjp(builtins.abs, broadcasts=True)
def abs_(g, ans, x):
    if np.iscomplexobj(x):  # (d|z| = Re(conj(z) dz) / |z|, as np.abs's rule)
        return g * np.conj(x) / np.where(ans == 0, 1.0, ans)
    return g * np.sign(x)


@jvp(builtins.abs)
def abs_jvp(t, ans, x):
    if np.iscomplexobj(x):
        return np.real(t * np.conj(x)) / np.where(ans == 0, 1.0, ans)
    return t * np.sign(x)


@vjp(builtins.float, linear="each")
def float_(g, ans, x):
    return reshape_like(g, x)


@vjp(builtins.sum)
def sum_(g, ans, iterable, start=0):
    return np.broadcast_to(g, np.shape(iterable))


@jvp(builtins.sum)
def sum_jvp(t, ans, iterable, start=0):
    return sum(t)  # (`start` is a constant: linear in the items, not in start)


@vjp(builtins.max, broadcasts=True)
def max_(g, ans, a, b):
    half = 0.5 * g * (a == b)
    return g * (a > b) + half, g * (b > a) + half


@vjp(builtins.min, broadcasts=True)
def min_(g, ans, a, b):
    half = 0.5 * g * (a == b)
    return g * (a < b) + half, g * (b < a) + half


@vjp(builtins.list, builtins.tuple, linear="each")
def sequence(g, ans, iterable):
    # (a list or tuple made of a sequence gradc built in a loop: the same items, the same adjoints;
    # of an array, its rows)
    return g if isinstance(iterable, (list, tuple)) else np.reshape(np.asarray(g), np.shape(iterable))


zero_gradient(builtins.round, builtins.int, builtins.bool, builtins.len, builtins.isinstance,
              builtins.range, builtins.type)
