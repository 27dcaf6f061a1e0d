"""Derivative rules for Python's operators (`+ - * / ** @`, unary `-`, comparisons ...).

The lowering turns every operator into a call of the `operator` module's
function, so operators have rules like any other primitive.
"""
import operator

import numpy as np

from .. import runtime
from ..runtime import matmul_lhs, matmul_rhs, scatter_add, unconcat, unrepeat_items
from .registry import shapes_known, vjp, zero_gradient


@vjp(operator.add, np.add, broadcasts=True)
def add(g, ans, a, b):
    return g, g


@vjp(operator.sub, np.subtract, broadcasts=True)
def sub(g, ans, a, b):
    return g, -g


@vjp(operator.mul, np.multiply, broadcasts=True)
def mul(g, ans, a, b):
    return g * b, g * a


@vjp(operator.truediv, np.divide, broadcasts=True)
def truediv(g, ans, a, b):
    return g / b, -g * ans / b


# `+` and `*` of lists and tuples (the lowering tells them from arithmetic by the operands' kinds)
@vjp(operator.concat, linear="joint")
def concat(g, ans, a, b):
    return unconcat(g, a)


@vjp(runtime.repeat_items, linear="each")
def repeat_items(g, ans, items, n):
    return unrepeat_items(g, items), None


@vjp(operator.neg, np.negative)
def neg(g, ans, a):
    return -g


@vjp(operator.pos, np.positive)
def pos(g, ans, a):
    return g


@vjp(operator.mod, np.mod, np.remainder, broadcasts=True)
def mod(g, ans, a, b):
    return g, -g * np.floor_divide(a, b)


@vjp(operator.matmul, np.matmul, linear="each")
def matmul(g, ans, a, b):
    if shapes_known(a, b) and np.ndim(a) == 2 and np.ndim(b) == 2:
        return g @ b.T, a.T @ g
    if shapes_known(a, b) and np.ndim(a) == 2 and np.ndim(b) == 1:
        return np.outer(g, b), a.T @ g
    if shapes_known(a, b) and np.ndim(a) == 1 and np.ndim(b) == 2:
        return b @ g, np.outer(a, g)
    return matmul_lhs(g, a, b), matmul_rhs(g, a, b)


zero_gradient(
    operator.floordiv, np.floor_divide, operator.lt, operator.le, operator.gt, operator.ge, operator.eq,
    operator.ne, operator.is_, operator.is_not, operator.contains, operator.not_, operator.invert,
    operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift,
)


@vjp(operator.getitem, linear="each")
def getitem(g, ans, a, index=None):
    return scatter_add(g, a, index)
