"""Derivative rules for gradc's own runtime helpers, so generated code can be differentiated again."""
import numpy as np

from .. import runtime
from ..runtime import assigned_part, erase_item, unappend
from .registry import vjp, zero_gradient


@vjp(runtime.unbroadcast)
def unbroadcast(g, ans, g_in, x):
    return np.broadcast_to(g, np.shape(g_in)), None


@vjp(runtime.unbroadcast_to)
def unbroadcast_to(g, ans, g_in, shape=None):
    return np.broadcast_to(g, np.shape(g_in))


@vjp(runtime.reshape_like)
def reshape_like(g, ans, g_in, x):
    return np.reshape(g, np.shape(g_in)), None


@vjp(runtime.scatter_add)
def scatter_add(g, ans, g_in, x, index):
    return g[index], None, None


@vjp(runtime.assign_item)
def assign_item(g, ans, a, index, value):
    dvalue = assigned_part(g, index, value)  # (read before `g` is zeroed there, in place where it can be)
    return erase_item(g, index), None, dvalue


@vjp(runtime.copy_of)
def copy_of(g, ans, x):
    return g


@vjp(runtime.list_append)
def list_append(g, ans, items, item):
    return unappend(g)


@vjp(runtime.add_at)
def add_at(g, ans, accumulator, index, g_in):
    return g, None, g[index]


@vjp(runtime.sigmoid)
def sigmoid(g, ans, x):
    return g * ans * (1.0 - ans)


zero_gradient(runtime.tie_step, runtime.check_scalar, runtime.zeros_for, runtime.erase_item)
