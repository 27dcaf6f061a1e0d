"""Derivative rules for the `math` module's scalar functions."""
import math

import numpy as np

from ..runtime import prod_adjoint
from .registry import jvp, vjp, zero_gradient


def _since_311(name):
    """math.exp2 and math.cbrt are new in Python 3.11: register them where they exist."""
    return [getattr(math, name)] if hasattr(math, name) else []


@vjp(math.exp)
def exp(g, ans, x):
    return g * ans


@vjp(*_since_311("exp2"))
def exp2(g, ans, x):
    return g * ans * math.log(2.0)


@vjp(math.expm1)
def expm1(g, ans, x):
    return g * (ans + 1.0)


@vjp(math.log)
def log(g, ans, x, base=None):
    if base is None:
        return g / x
    return g / (x * math.log(base))


@vjp(math.log1p)
def log1p(g, ans, x):
    return g / (1.0 + x)


@vjp(math.log2)
def log2(g, ans, x):
    return g / (x * math.log(2.0))


@vjp(math.log10)
def log10(g, ans, x):
    return g / (x * math.log(10.0))


@vjp(math.sqrt)
def sqrt(g, ans, x):
    return g * 0.5 / ans


@vjp(math.pow)
def pow_(g, ans, x, y):
    # d/dy x**y = x**y log(x): 0 at x == 0 (0**y does not change with y > 0); for x < 0,
    # where x**y is real only at integer y, math.log raises math's domain error.
    return g * y * math.pow(x, y - 1.0), g * ans * math.log(x + (x == 0.0))


@vjp(*_since_311("cbrt"))
def cbrt(g, ans, x):
    return g / (3.0 * ans * ans)


@vjp(math.sin)
def sin(g, ans, x):
    return g * math.cos(x)


@vjp(math.cos)
def cos(g, ans, x):
    return -g * math.sin(x)


@vjp(math.tan)
def tan(g, ans, x):
    return g * (1.0 + ans * ans)


@vjp(math.asin)
def asin(g, ans, x):
    return g / math.sqrt(1.0 - x * x)


@vjp(math.acos)
def acos(g, ans, x):
    return -g / math.sqrt(1.0 - x * x)


@vjp(math.atan)
def atan(g, ans, x):
    return g / (1.0 + x * x)


@vjp(math.atan2)
def atan2(g, ans, y, x):
    r2 = x * x + y * y
    return g * x / r2, -g * y / r2


@vjp(math.sinh)
def sinh(g, ans, x):
    return g * math.cosh(x)


@vjp(math.cosh)
def cosh(g, ans, x):
    return g * math.sinh(x)


@vjp(math.tanh)
def tanh(g, ans, x):
    return g * (1.0 - ans * ans)


@vjp(math.asinh)
def asinh(g, ans, x):
    return g / math.sqrt(x * x + 1.0)


@vjp(math.acosh)
def acosh(g, ans, x):
    return g / math.sqrt(x * x - 1.0)


@vjp(math.atanh)
def atanh(g, ans, x):
    return g / (1.0 - x * x)


@vjp(math.hypot)
def hypot(g, ans, x, y):
    return g * x / ans, g * y / ans


@vjp(math.fabs)
def fabs(g, ans, x):
    return g * np.sign(x)


@vjp(math.erf)
def erf(g, ans, x):
    return g * 2.0 / math.sqrt(math.pi) * math.exp(-x * x)


@vjp(math.erfc)
def erfc(g, ans, x):
    return -g * 2.0 / math.sqrt(math.pi) * math.exp(-x * x)


@vjp(math.degrees)
def degrees(g, ans, x):
    return math.degrees(g)


@vjp(math.radians)
def radians(g, ans, x):
    return math.radians(g)


@vjp(math.ldexp)
def ldexp(g, ans, x, i=0):
    return math.ldexp(g, i)


@vjp(math.fmod, math.remainder)
def fmod(g, ans, x, y):
    # ans = x - n * y for an integer n (truncated for fmod, rounded for remainder).
    return g, -g * round((x - ans) / y)


@vjp(math.fsum, linear="each")
def fsum(g, ans, iterable):
    return np.broadcast_to(g, np.shape(iterable))


@vjp(math.prod)
def prod(g, ans, iterable, start=1):
    return prod_adjoint(g * start, iterable)


@jvp(math.prod)
def prod_jvp(t, ans, iterable, start=1):
    return float(np.sum(prod_adjoint(start, iterable) * np.asarray(t)))


@vjp(math.dist)
def dist(g, ans, p, q):
    d = g * np.subtract(p, q) / ans
    return d, -d


@jvp(math.dist)
def dist_jvp(t, ans, p, q):
    tp, tq = t
    return float(np.sum(np.subtract(p, q) * np.subtract(tp, tq))) / ans


@vjp(math.copysign)
def copysign(g, ans, x, y):
    # |x| with y's sign: y only chooses the sign (zero gradient); like abs, 0 at x == 0.
    return g * np.sign(x) * math.copysign(1.0, y), None


zero_gradient(math.isclose, math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite)
