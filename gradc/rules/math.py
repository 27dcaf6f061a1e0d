"""Derivative rules for the `math` module's scalar functions."""
import math

import numpy as np

from .registry import vjp, zero_gradient


@vjp(math.exp)
def exp(g, ans, x):
    return g * ans


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
    return g * y * math.pow(x, y - 1.0), g * math.log(x) * ans


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


zero_gradient(math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite, math.copysign)
