"""Derivative rules for gradc's own runtime helpers, so generated code can be differentiated again."""
import numpy as np

from .. import runtime
from ..runtime import (
    Adjoints, assigned_part, assigned_part_adjoint, dot_lhs, dot_rhs, einsum_adjoints_adjoint,
    einsum_adjoints_tangent, erase_item, inner_lhs, inner_rhs, matmul_lhs, matmul_rhs, norm_adjoint_adjoint,
    norm_adjoint_tangent, pieces_adjoint, prod_adjoint_adjoint, prod_adjoint_tangent,
    scatter_add, solve_adjoint_a, tensordot_lhs, tensordot_rhs, unappend,
)
from .registry import jvp, vjp, zero_gradient


@vjp(runtime.unbroadcast, linear="each", linear_in=("g_in",))
def unbroadcast(g, ans, g_in, x):
    return np.broadcast_to(g, np.shape(g_in)), None


@vjp(runtime.unbroadcast_to, linear="each", linear_in=("g_in",))
def unbroadcast_to(g, ans, g_in, shape=None):
    return np.broadcast_to(g, np.shape(g_in))


@vjp(runtime.reshape_like, linear="each", linear_in=("g_in",))
def reshape_like(g, ans, g_in, x):
    return np.reshape(g, np.shape(g_in)), None


@vjp(runtime.scatter_add, linear="each", linear_in=("g_in",))
def scatter_add(g, ans, g_in, x, index):
    return g[index], None, None


@vjp(runtime.assign_item, linear="joint", linear_in=("a", "value"))
def assign_item(g, ans, a, index, value):
    dvalue = assigned_part(g, index, value)  # (read before `g` is zeroed there, in place where it can be)
    return erase_item(g, index), None, dvalue


@vjp(runtime.copy_of, linear="each")
def copy_of(g, ans, x):
    return g


@vjp(runtime.list_append, linear="joint")
def list_append(g, ans, items, item):
    return unappend(g)


@vjp(runtime.list_without_last, linear="each")
def list_without_last(g, ans, items):
    return runtime.unpop(g, items)


@vjp(runtime.add_at, linear="joint", linear_in=("accumulator", "g_in"))
def add_at(g, ans, accumulator, index, g_in):
    return g, None, g[index]


@vjp(runtime.sigmoid, elementwise=True)
def sigmoid(g, ans, x):
    return g * ans * (1.0 - ans)


@vjp(runtime.erase_item, linear="each", linear_in=("g",))
def erase_item_(h, ans, g, index):
    return erase_item(h, index), None  # (linear in g: zeroing the same items)


@vjp(runtime.assigned_part, linear="each", linear_in=("g",))
def assigned_part_(h, ans, g, index, value):
    return assigned_part_adjoint(h, g, index, value), None, None


@vjp(runtime.added_at, linear="joint", linear_in=("accumulator", "g_in"))
def added_at(g, ans, accumulator, index, g_in):
    return g, None, g[index]


@vjp(runtime.add_adjoints, linear="joint")
def add_adjoints(g, ans, a, b):
    return g, g


@vjp(runtime.astype_adjoint, linear="each", linear_in=("g",))
def astype_adjoint(h, ans, g, x, cast):
    return runtime.astype_adjoint(h, g, cast), None, None  # (linear in g: cast back the other way)


# -- the adjoint helpers of products: each is linear in `g` and in the other factor ---------------
# (`matmul_lhs(g, a, b)` is the adjoint of `a` in `a @ b`: <h, matmul_lhs(g, a, b)> = <h @ b, g>.)
@vjp(runtime.matmul_lhs, linear="each", linear_in=("g", "b"))
def matmul_lhs_(h, ans, g, a, b):
    return h @ b, None, matmul_rhs(g, h, b)


@vjp(runtime.matmul_rhs, linear="each", linear_in=("g", "a"))
def matmul_rhs_(h, ans, g, a, b):
    return a @ h, matmul_lhs(g, a, h), None


@vjp(runtime.dot_lhs, linear="each", linear_in=("g", "b"))
def dot_lhs_(h, ans, g, a, b):
    return np.dot(h, b), None, dot_rhs(g, h, b)


@vjp(runtime.dot_rhs, linear="each", linear_in=("g", "a"))
def dot_rhs_(h, ans, g, a, b):
    return np.dot(a, h), dot_lhs(g, a, h), None


@vjp(runtime.inner_lhs, linear="each", linear_in=("g", "b"))
def inner_lhs_(h, ans, g, a, b):
    return np.inner(h, b), None, inner_rhs(g, h, b)


@vjp(runtime.inner_rhs, linear="each", linear_in=("g", "a"))
def inner_rhs_(h, ans, g, a, b):
    return np.inner(a, h), inner_lhs(g, a, h), None


@vjp(runtime.tensordot_lhs, linear="each", linear_in=("g", "b"))
def tensordot_lhs_(h, ans, g, a, b, axes=2):
    return np.tensordot(h, b, axes), None, tensordot_rhs(g, h, b, axes)


@vjp(runtime.tensordot_rhs, linear="each", linear_in=("g", "a"))
def tensordot_rhs_(h, ans, g, a, b, axes=2):
    return np.tensordot(a, h, axes), tensordot_lhs(g, a, h, axes), None


@vjp(runtime.einsum_adjoints)
def einsum_adjoints_(h, ans, g, subscripts, operands):
    return einsum_adjoints_adjoint(h, g, subscripts, operands)


@jvp(runtime.einsum_adjoints)
def einsum_adjoints_jvp(t, ans, g, subscripts, operands):
    return einsum_adjoints_tangent(t[0], t[1], t[2], g, subscripts, operands)


@vjp(runtime.solve_adjoint_b)
def solve_adjoint_b_(h, ans, g, a):
    u = np.linalg.solve(a, h)  # (ans = solve(aᵀ, g))
    return u, solve_adjoint_a(ans, u, g)


@jvp(runtime.solve_adjoint_b)
def solve_adjoint_b_jvp(t, ans, g, a):
    tg, ta = t  # (ans = solve(aᵀ, g): d ans = solve(aᵀ, dg - daᵀ ans))
    return np.linalg.solve(np.swapaxes(a, -1, -2), tg - np.swapaxes(ta, -1, -2) @ ans)


@vjp(runtime.solve_adjoint_a, linear="each", linear_in=("gb", "x"))
def solve_adjoint_a_(h, ans, gb, x, b):
    return -(h @ x), -(np.swapaxes(h, -1, -2) @ gb), None


# -- the adjoint helpers of reductions, repeats and joins -------------------------------------------
@vjp(runtime.prod_adjoint)
def prod_adjoint_(h, ans, g, a, axis=None, keepdims=False):
    return prod_adjoint_adjoint(h, g, a, axis, keepdims)


@jvp(runtime.prod_adjoint)
def prod_adjoint_jvp(t, ans, g, a, axis=None, keepdims=False):
    return prod_adjoint_tangent(t[0], t[1], g, a, axis, keepdims)


@vjp(runtime.norm_adjoint)
def norm_adjoint_(h, out, g, ans, x, ord=None, axis=None, keepdims=False):
    return norm_adjoint_adjoint(h, g, ans, x, ord, axis, keepdims)


@jvp(runtime.norm_adjoint)
def norm_adjoint_jvp(t, out, g, ans, x, ord=None, axis=None, keepdims=False):
    return norm_adjoint_tangent(t, g, ans, x, ord, axis, keepdims)


@vjp(runtime.untile, linear="each", linear_in=("g",))
def untile_(h, ans, g, a, reps):
    return np.tile(h, reps), None, None


@vjp(runtime.unrepeat, linear="each", linear_in=("g",))
def unrepeat_(h, ans, g, a, repeats, axis=None):
    return np.repeat(h, repeats, axis), None, None


@vjp(runtime.trace_adjoint, linear="each", linear_in=("g",))
def trace_adjoint_(h, ans, g, a, offset=0, axis1=0, axis2=1):
    return np.trace(h, offset, axis1, axis2), None


@vjp(runtime.diag_adjoint, linear="each", linear_in=("g",))
def diag_adjoint_(h, ans, g, v, k=0):
    if np.ndim(v) == 1:
        return np.diag(h, k), None
    return np.diagonal(h, k), None


@vjp(runtime.split_like, linear="each", linear_in=("g",))
def split_like_(h, ans, g, arrays, axis=0):
    return pieces_adjoint(h, g, arrays, "concatenate", axis), None


@vjp(runtime.unstack, linear="each", linear_in=("g",))
def unstack_(h, ans, g, arrays, axis=0):
    return pieces_adjoint(h, g, arrays, "stack", axis), None


@vjp(runtime.hstack_adjoint, linear="each", linear_in=("g",))
def hstack_adjoint_(h, ans, g, arrays):
    return pieces_adjoint(h, g, arrays, "hstack"), None


@vjp(runtime.vstack_adjoint, linear="each", linear_in=("g",))
def vstack_adjoint_(h, ans, g, arrays):
    return pieces_adjoint(h, g, arrays, "vstack"), None


# -- lists of adjoints ---------------------------------------------------------------------------
@vjp(runtime.unpop, linear="each", linear_in=("g",))
def unpop_(h, ans, g, items):
    return Adjoints(list(h)[:-1]), None


@vjp(runtime.unappend, linear="each", linear_in=("g",))
def unappend_(h, ans, g):
    return Adjoints(list(h[0]) + [h[1]])


@vjp(runtime.unconcat, linear="each", linear_in=("g",))
def unconcat_(h, ans, g, a):
    return Adjoints(list(h[0]) + list(h[1])), None


@vjp(runtime.unrepeat_items, linear="each", linear_in=("g",))
def unrepeat_items_(h, ans, g, items):
    return Adjoints(list(h) * (len(g) // max(len(items), 1))), None


# (a step function, a check, zeros, and values of dtypes and axes: no gradient)
zero_gradient(runtime.tie_step, runtime.check_scalar, runtime.zeros_for, runtime.adjoint_dtype, runtime.floating,
              runtime.inverse_axes, runtime.index_order)


# -- the helpers of the NumPy rules added for issue 13 (each linear in its first argument, but
# sinc's derivatives) ------------------------------------------------------------------------------
@vjp(runtime.match_complex, linear="each", linear_in=("g",))
def match_complex_(h, ans, g, x):
    return runtime.match_complex(h, g), None  # (taking the real part: its adjoint keeps h as it is)


@vjp(runtime.sinc_slope, elementwise=True)
def sinc_slope_(g, ans, x):
    return g * runtime.sinc_curvature(x)


@vjp(runtime.sinc_curvature, elementwise=True)
def sinc_curvature_(g, ans, x):
    # (sinc's third derivative: 0 at 0, where sinc is even)
    safe = np.where(x == 0, 1.0, x)
    return g * np.where(x == 0, 0.0, -np.pi ** 2 * runtime.sinc_slope(x) - 2.0 * (ans - runtime.sinc_slope(x) / safe) / safe)


@vjp(runtime.unpermute, linear="each", linear_in=("g",))
def unpermute_(h, out, g, a, ans, axis=-1):
    return runtime.unpermute(h, ans, a, axis), None, None


@vjp(runtime.gradient_adjoint, linear="each", linear_in=("g",))
def gradient_adjoint_(h, ans, g, f, spacing=(), axis=None, edge_order=1):
    return runtime.gradient_of(h, spacing, axis, edge_order), None


@vjp(runtime.gradient_of, linear="each", linear_in=("h",))
def gradient_of_(k, ans, h, spacing=(), axis=None, edge_order=1):
    return runtime.gradient_adjoint(k, h, spacing, axis, edge_order)


@vjp(runtime.undiff, linear="each", linear_in=("g",))
def undiff_(h, ans, g, a, n=1, axis=-1, prepend=None, append=None):
    return runtime.diff_tangent(h, n, axis, prepend, append), None


@vjp(runtime.diff_tangent, linear="each", linear_in=("t",))
def diff_tangent_(h, ans, t, n=1, axis=-1, prepend=None, append=None):
    return runtime.undiff(h, t, n, axis, prepend, append)


@vjp(runtime.pad_adjoint, linear="each", linear_in=("g",))
def pad_adjoint_(h, ans, g, array, pad_width=None, mode="constant", reflect_type="even"):
    return runtime.pad_linear(h, pad_width, mode, reflect_type), None


@vjp(runtime.pad_linear, linear="each", linear_in=("t",))
def pad_linear_(h, ans, t, pad_width=None, mode="constant", reflect_type="even"):
    return runtime.pad_adjoint(h, t, pad_width, mode, reflect_type)


@vjp(runtime.kron_lhs, linear="each", linear_in=("g", "b"))
def kron_lhs_(h, ans, g, a, b):
    return np.kron(h, b), None, runtime.kron_rhs(g, h, b)


@vjp(runtime.kron_rhs, linear="each", linear_in=("g", "a"))
def kron_rhs_(h, ans, g, a, b):
    return np.kron(a, h), runtime.kron_lhs(g, a, h), None


@vjp(runtime.diagonal_adjoint, linear="each", linear_in=("g",))
def diagonal_adjoint_(h, ans, g, a, offset=0, axis1=0, axis2=1):
    return np.diagonal(h, offset, axis1, axis2), None


@vjp(runtime.column_stack_adjoint, linear="each", linear_in=("g",))
def column_stack_adjoint_(h, ans, g, arrays):
    return runtime.column_stack_of(h, arrays), None


@vjp(runtime.column_stack_of, linear="each", linear_in=("h",))
def column_stack_of_(k, ans, h, arrays):
    return runtime.column_stack_adjoint(k, arrays), None


@vjp(runtime.select_adjoints, linear="each", linear_in=("g",))
def select_adjoints_(h, ans, g, condlist, choicelist):
    return np.broadcast_to(np.select(condlist, h, 0.0), np.shape(g)), None, None


# -- `np.r_[...]` and `np.c_[...]` (lowered to `r_of`, `c_of`; see gradc/runtime.py) ----------------------

@vjp(runtime.r_of, diff_varargs=True, linear="joint")
def r_of(g, ans, *items):
    return runtime.joined_parts(g, runtime.shapes_of(items), 0)


@vjp(runtime.c_of, diff_varargs=True, linear="joint")
def c_of(g, ans, *items):
    return runtime.joined_parts(g, runtime.shapes_of(items), -1)


@vjp(runtime.joined_parts, linear="each", linear_in=("g_in",))
def joined_parts(g, ans, g_in, shapes, axis):
    return runtime.join_back(g, shapes, axis), None, None


@vjp(runtime.join_back, linear="each", linear_in=("parts",))
def join_back(g, ans, parts, shapes, axis):
    return runtime.joined_parts(g, shapes, axis), None, None


zero_gradient(runtime.shapes_of)


@vjp(runtime.resized, linear="each", linear_in=("a",))
def resized_(h, ans, a, like, axes=None):
    return runtime.resized(h, a, axes), None


@vjp(runtime.half_spectrum, linear="each", linear_in=("f",))
def half_spectrum_(h, ans, f, like, axes=None):
    return runtime.full_spectrum(h, f, axes), None


@vjp(runtime.full_spectrum, linear="each", linear_in=("h",))
def full_spectrum_(k, ans, h, f, axes=None):
    return runtime.half_spectrum(k, h, axes), None
