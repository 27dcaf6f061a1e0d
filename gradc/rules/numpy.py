"""Derivative rules for NumPy functions and ndarray methods and attributes.

Conventions at non-differentiable points (documented in docs/reference.md):
- `max`/`min` reductions split the gradient equally among the k elements
  tied for the extreme (1/k each, per reduced slice);
- `maximum`/`minimum` (and `fmax`/`fmin`) give 1/2 to each operand where they
  are equal; `clip` gives 1/2 to `a` and 1/2 to a bound that `a` equals
  (a bound of None is absent and gets nothing);
- `abs` has derivative 0 at 0 (`sign(0) == 0`);
- the 2-norm has gradient 0 at the zero vector, and `std` 0 where all its elements are equal;
- `sort` and `partition` give elements of equal value the mean of the gradients of the
  positions they occupy (so `np.sort(x)[-1]` has the gradient of `np.max(x)`);
- `nan_to_num` passes no gradient to the nan and ±inf it replaces;
- `angle` has gradient 0 at 0; `sinc`'s first three derivatives are exact at 0.

Complex values follow autograd's convention: the adjoint of z = x + iy is dL/dx - i dL/dy
(a holomorphic function's rule multiplies by its derivative, unconjugated), and a real value's
adjoint is real (`np.real`, `np.imag` and `np.angle` take the real part of theirs).
`np.select`'s `default` and `np.pad`'s `constant_values` are constants; `np.pad` differentiates
the modes that copy elements (constant, empty, edge, reflect and symmetric with the default
reflect_type, wrap); `np.cross` takes 3-vectors (NumPy 2 deprecates 2-vectors).

Ravel and reshape undo `order="F"` (and `"A"`, by the array's layout); `take`
with an axis scatters through `a[:, ..., i]`, so scalar and N-D indices work.
tests/test_rules_numpy.py checks every rule here numerically, and
tests/test_rules_numpy_registry.py fails for a rule that has no test case.
"""
import builtins
import math
import operator

import numpy as np

from ..runtime import (
    astype_adjoint, astype_tangent, column_stack_adjoint, diag_adjoint, diagonal_adjoint, diff_tangent, dot_lhs,
    dot_rhs, einsum_adjoints, fft_plan, gradient_adjoint, half_spectrum, hstack_adjoint, index_order, inner_lhs, inner_rhs, inverse_axes,
    kron_lhs, kron_rhs, match_complex, no_rule_for, pad_adjoint, pad_linear, prod_adjoint, reshape_like, scatter_add,
    resized, select_adjoints, sigmoid, sinc_slope, split_like, tensordot_lhs, tensordot_rhs, tie_step, trace_adjoint,
    unbroadcast, undiff, unpermute, unrepeat, unstack, untile, vstack_adjoint,
)
from .registry import Attr, Method, jvp, shapes_known, vjp, zero_gradient

# -- elementwise functions of one argument ---------------------------------------------------


@vjp(np.exp)
def exp(g, ans, x):
    return g * ans


@vjp(np.exp2)
def exp2(g, ans, x):
    return g * ans * np.log(2.0)


@vjp(np.expm1)
def expm1(g, ans, x):
    return g * (ans + 1.0)


@vjp(np.log)
def log(g, ans, x):
    return g / x


@vjp(np.log2)
def log2(g, ans, x):
    return g / (x * np.log(2.0))


@vjp(np.log10)
def log10(g, ans, x):
    return g / (x * np.log(10.0))


@vjp(np.log1p)
def log1p(g, ans, x):
    return g / (1.0 + x)


@vjp(np.sqrt)
def sqrt(g, ans, x):
    return g * 0.5 / ans


@vjp(np.cbrt)
def cbrt(g, ans, x):
    return g / (3.0 * ans * ans)


@vjp(np.square)
def square(g, ans, x):
    return g * 2.0 * x


@vjp(np.reciprocal)
def reciprocal(g, ans, x):
    return -g * ans * ans


@vjp(np.abs, np.fabs)
def abs_(g, ans, x):
    if np.iscomplexobj(x):  # (d|z| = Re(conj(z) dz) / |z|: autograd's convention for the adjoint of z;
        return g * np.conj(x) / np.where(ans == 0, 1.0, ans)  # not via np.sign, whose rule is real's)
    return g * np.sign(x)


@jvp(np.abs, np.fabs)
def abs_jvp(t, ans, x):
    if np.iscomplexobj(x):
        return np.real(t * np.conj(x)) / np.where(ans == 0, 1.0, ans)
    return t * np.sign(x)


@vjp(np.sin)
def sin(g, ans, x):
    return g * np.cos(x)


@vjp(np.cos)
def cos(g, ans, x):
    return -g * np.sin(x)


@vjp(np.tan)
def tan(g, ans, x):
    return g * (1.0 + ans * ans)


@vjp(np.arcsin)
def arcsin(g, ans, x):
    return g / np.sqrt(1.0 - x * x)


@vjp(np.arccos)
def arccos(g, ans, x):
    return -g / np.sqrt(1.0 - x * x)


@vjp(np.arctan)
def arctan(g, ans, x):
    return g / (1.0 + x * x)


@vjp(np.sinh)
def sinh(g, ans, x):
    return g * np.cosh(x)


@vjp(np.cosh)
def cosh(g, ans, x):
    return g * np.sinh(x)


@vjp(np.tanh)
def tanh(g, ans, x):
    return g * (1.0 - ans * ans)


@vjp(np.arcsinh)
def arcsinh(g, ans, x):
    return g / np.sqrt(x * x + 1.0)


@vjp(np.arccosh)
def arccosh(g, ans, x):
    return g / np.sqrt(x * x - 1.0)


@vjp(np.arctanh)
def arctanh(g, ans, x):
    return g / (1.0 - x * x)


@vjp(np.radians, np.deg2rad)
def radians(g, ans, x):
    return g * (np.pi / 180.0)


@vjp(np.degrees, np.rad2deg)
def degrees(g, ans, x):
    return g * (180.0 / np.pi)


@vjp(np.sinc, elementwise=True)
def sinc(g, ans, x):
    return g * sinc_slope(x)


@vjp(np.nan_to_num, elementwise=True)
def nan_to_num(g, ans, x, copy=True, nan=0.0, posinf=None, neginf=None):
    # nan and ±inf are replaced by constants: no gradient flows to them
    return g * np.isfinite(x)


# -- complex numbers (autograd's convention: the adjoint of z = x + iy is dL/dx - i dL/dy) ---------
# A real result's adjoint is real: where a gradient is differentiated again, the adjoint a real value
# receives may be complex, and its real part is the one that counts (np.real(g) is g itself otherwise).


@vjp(np.real, Attr("real"), linear="each")
def real(g, ans, val):
    return np.real(g)


@vjp(np.imag, Attr("imag"), linear="each")
def imag(g, ans, val):
    return match_complex(-1j * np.real(g), val)


@vjp(np.conj, Method("conj"), Method("conjugate"), linear="each")
def conj(g, ans, x):
    return np.conj(g)


@vjp(np.angle)
def angle(g, ans, z, deg=False):
    # d angle(x + iy) = (x dy - y dx) / |z|^2; at z == 0, where it has no derivative, the gradient is 0
    scale = 180.0 / np.pi if deg else 1.0
    slope = scale / np.where(z == 0, 1.0, np.real(z * np.conj(z)))
    return match_complex(np.real(g) * slope * (-np.imag(z) - 1j * np.real(z)), z)


@jvp(np.angle)
def angle_jvp(t, ans, z, deg=False):
    scale = 180.0 / np.pi if deg else 1.0
    return np.imag(t * np.conj(z)) * scale / np.where(z == 0, 1.0, np.real(z * np.conj(z)))


@vjp(np.real_if_close)
def real_if_close(g, ans, a, tol=100):
    return match_complex(g, ans)


@jvp(np.real_if_close)
def real_if_close_jvp(t, ans, a, tol=100):
    return match_complex(t, ans)


# -- elementwise functions of two or three arguments (broadcasting) ----------------------------


@vjp(np.power, np.float_power, operator.pow, builtins.pow, broadcasts=True)
def power(g, ans, x1, x2):
    # d/dx1 x1 ** x2 = x2 * x1 ** (x2 - 1), taken as 0 where x2 == 0 (at x1 == 0 too, where
    # x1 ** -1 is infinite), as autograd does: the exponent is x2 - 1 but 0 there (a constant
    # exponent folds to the plain form, `x ** (2 - 1)`).
    return g * x2 * x1 ** (x2 - (x2 != 0)), g * np.log(np.where(x1 == 0, 1.0, x1)) * ans


@vjp(np.arctan2, broadcasts=True)
def arctan2(g, ans, x1, x2):
    r2 = x1 * x1 + x2 * x2
    return g * x2 / r2, -g * x1 / r2


@vjp(np.hypot, broadcasts=True)
def hypot(g, ans, x1, x2):
    return g * x1 / ans, g * x2 / ans


@vjp(np.maximum, np.fmax, broadcasts=True)
def maximum(g, ans, x1, x2):
    w = tie_step(x1, x2)
    return g * w, g * (1.0 - w)


@vjp(np.minimum, np.fmin, broadcasts=True)
def minimum(g, ans, x1, x2):
    w = tie_step(x2, x1)
    return g * w, g * (1.0 - w)


@vjp(np.logaddexp, broadcasts=True)
def logaddexp(g, ans, x1, x2):
    # exp(x1 - ans) without reading ans: the forward need not compute logaddexp for the gradient
    return g * sigmoid(x1 - x2), g * sigmoid(x2 - x1)


@vjp(np.logaddexp2, broadcasts=True)
def logaddexp2(g, ans, x1, x2):
    return g * sigmoid((x1 - x2) * np.log(2.0)), g * sigmoid((x2 - x1) * np.log(2.0))


@vjp(np.where, broadcasts=True)
def where(g, ans, condition, x, y):
    return None, np.where(condition, g, 0.0), np.where(condition, 0.0, g)


@vjp(np.clip, broadcasts=True)
def clip(g, ans, a, a_min, a_max):
    # clip(a, lo, hi) is minimum(maximum(a, lo), hi); ties split the gradient in half; None: no bound.
    w_lo = tie_step(a, a_min) if a_min is not None else 1.0
    w_hi = tie_step(a_max, np.maximum(a, a_min) if a_min is not None else a) if a_max is not None else 1.0
    return g * w_lo * w_hi, g * (1.0 - w_lo) * w_hi, g * (1.0 - w_hi)


@vjp(Method("clip"), elementwise=True)
def clip_method(g, ans, a, min=None, max=None):
    w_lo = tie_step(a, min) if min is not None else 1.0
    w_hi = tie_step(max, np.maximum(a, min) if min is not None else a) if max is not None else 1.0
    return g * w_lo * w_hi


# -- reductions -------------------------------------------------------------------------------


@vjp(np.sum, Method("sum"), linear="each")
def sum_(g, ans, a, axis=None, dtype=None, keepdims=False):
    if axis is None or keepdims:
        return np.broadcast_to(g, np.shape(a))
    return np.broadcast_to(np.expand_dims(g, axis), np.shape(a))


@vjp(np.mean, Method("mean"), linear="each")
def mean(g, ans, a, axis=None, dtype=None, keepdims=False):
    if axis is None and not keepdims:  # (times the reciprocal: a count over 65504 is inf in float16)
        return np.broadcast_to(g * (1.0 / math.prod(np.shape(a))), np.shape(a))
    if keepdims:
        return np.broadcast_to(g * (math.prod(np.shape(ans)) / math.prod(np.shape(a))), np.shape(a))
    return np.broadcast_to(np.expand_dims(g, axis) * (math.prod(np.shape(ans)) / math.prod(np.shape(a))), np.shape(a))


@vjp(np.prod, Method("prod"))
def prod(g, ans, a, axis=None, keepdims=False):
    return prod_adjoint(g, a, axis, keepdims)


@jvp(np.prod, Method("prod"))
def prod_jvp(t, ans, a, axis=None, keepdims=False):
    return np.sum(prod_adjoint(np.ones_like(ans), a, axis, keepdims) * t, axis=axis, keepdims=keepdims)


@vjp(np.max, np.amax, Method("max"), np.min, np.amin, Method("min"))
def extremum(g, ans, a, axis=None, keepdims=False):
    # The gradient goes to the elements equal to the result, split evenly between ties; the
    # count divides the (small) g first, so the full-size array is multiplied once.
    if axis is None or keepdims:
        winners = a == ans  # (the count of ties in the result's dtype: an int64 count would make float32 float64)
        return winners * (g / np.sum(winners, axis=axis, keepdims=True, dtype=ans.dtype))
    winners = a == np.expand_dims(ans, axis)
    return winners * (np.expand_dims(g, axis) / np.sum(winners, axis=axis, keepdims=True, dtype=ans.dtype))


@jvp(np.max, np.amax, Method("max"), np.min, np.amin, Method("min"))
def extremum_jvp(t, ans, a, axis=None, keepdims=False):
    winners = a == (ans if axis is None or keepdims else np.expand_dims(ans, axis))
    return np.sum(t * winners, axis=axis, keepdims=keepdims) / np.sum(winners, axis=axis, keepdims=keepdims,
                                                                       dtype=ans.dtype)


@vjp(np.var, Method("var"))
def var(g, ans, a, axis=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)
    n = math.prod(np.shape(a)) / math.prod(np.shape(ans))
    if axis is None or keepdims:
        return g * centered * (2.0 / (n - ddof))
    return np.expand_dims(g, axis) * centered * (2.0 / (n - ddof))


@jvp(np.var, Method("var"))
def var_jvp(t, ans, a, axis=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)  # (the tangent's own mean cancels: centered sums to 0)
    return np.sum(centered * t, axis=axis, keepdims=keepdims) * (2.0 / (math.prod(np.shape(a)) / math.prod(np.shape(ans)) - ddof))


@vjp(np.std, Method("std"))
def std(g, ans, a, axis=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)  # (all 0 where ans is 0: the gradient is 0 there)
    n = math.prod(np.shape(a)) / math.prod(np.shape(ans))
    safe = np.where(ans == 0, 1.0, ans)
    if axis is None or keepdims:
        return g * centered / safe * (1.0 / (n - ddof))
    return np.expand_dims(g / safe, axis) * centered * (1.0 / (n - ddof))


@jvp(np.std, Method("std"))
def std_jvp(t, ans, a, axis=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)
    safe = np.where(ans == 0, 1.0, ans)
    return np.sum(centered * t, axis=axis, keepdims=keepdims) / safe * (1.0 / (math.prod(np.shape(a)) / math.prod(np.shape(ans)) - ddof))


@vjp(np.cumsum, Method("cumsum"), linear="each")
def cumsum(g, ans, a, axis=None):
    if axis is None:
        return np.reshape(np.flip(np.cumsum(np.flip(g))), np.shape(a))
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


@vjp(np.diff)
def diff(g, ans, a, n=1, axis=-1, prepend=None, append=None):
    return undiff(g, a, n, axis, prepend, append)


@jvp(np.diff)
def diff_jvp(t, ans, a, n=1, axis=-1, prepend=None, append=None):
    if prepend is None and append is None:
        return np.diff(t, n, axis)
    return diff_tangent(t, n, axis, prepend, append)  # (prepend and append are constants)


@vjp(np.gradient, linear="each")
def gradient(g, ans, f, *varargs, axis=None, edge_order=1):
    return gradient_adjoint(g, f, varargs, axis, edge_order)


# -- sorting: a permutation of the values; tied values share their gradient equally ----------------


@vjp(np.sort)
def sort(g, ans, a, axis=-1, kind=None, order=None):
    return unpermute(g, a, ans, axis)


@vjp(np.partition)
def partition(g, ans, a, kth=None, axis=-1, kind="introselect", order=None):
    return unpermute(g, a, ans, axis)


@jvp(np.sort)
def sort_jvp(t, ans, a, axis=-1, kind=None, order=None):
    return unpermute(t, ans, a, axis)


@jvp(np.partition)
def partition_jvp(t, ans, a, kth=None, axis=-1, kind="introselect", order=None):
    return unpermute(t, ans, a, axis)


# -- linear algebra ---------------------------------------------------------------------------


@vjp(np.dot, Method("dot"), linear="each")
def dot(g, ans, a, b):
    if shapes_known(a, b) and np.ndim(a) == 2 and np.ndim(b) == 2:
        return g @ b.T, a.T @ g
    return dot_lhs(g, a, b), dot_rhs(g, a, b)


@vjp(np.outer, linear="each")
def outer(g, ans, a, b):
    return np.reshape(g @ np.ravel(b), np.shape(a)), np.reshape(np.ravel(a) @ g, np.shape(b))


@vjp(np.inner, linear="each")
def inner(g, ans, a, b):
    return inner_lhs(g, a, b), inner_rhs(g, a, b)


@vjp(np.tensordot, linear="each")
def tensordot(g, ans, a, b, axes=2):
    return tensordot_lhs(g, a, b, axes), tensordot_rhs(g, a, b, axes)


@vjp(np.einsum, diff_varargs=True, linear="each")
def einsum(g, ans, subscripts, *operands):
    return einsum_adjoints(g, subscripts, operands)


@vjp(np.trace, Method("trace"), linear="each")
def trace(g, ans, a, offset=0, axis1=0, axis2=1, dtype=None):
    if np.ndim(a) == 2:
        return g * np.eye(np.shape(a)[0], np.shape(a)[1], k=offset)
    return trace_adjoint(g, a, offset, axis1, axis2)


@vjp(np.diag, linear="each")
def diag(g, ans, v, k=0):
    return diag_adjoint(g, v, k)


@vjp(np.diagonal, Method("diagonal"), linear="each")
def diagonal(g, ans, a, offset=0, axis1=0, axis2=1):
    return diagonal_adjoint(g, a, offset, axis1, axis2)


@vjp(np.kron, linear="each")
def kron(g, ans, a, b):
    return kron_lhs(g, a, b), kron_rhs(g, a, b)


@vjp(np.cross, linear="each")
def cross(g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    # (3-vectors: <g, a x b> = <b x g, a> = <g x a, b>; `axis` sets all three axes)
    axes = (axisa, axisb, axisc) if axis is None else (axis, axis, axis)
    g_last = np.moveaxis(g, axes[2], -1)
    a_last, b_last = np.moveaxis(a, axes[0], -1), np.moveaxis(b, axes[1], -1)
    return (np.moveaxis(unbroadcast(np.cross(b_last, g_last), a_last), -1, axes[0]),
            np.moveaxis(unbroadcast(np.cross(g_last, a_last), b_last), -1, axes[1]))


# -- numpy.fft: the transforms are linear; the DFT matrix is symmetric, so a transform's adjoint is the
# same transform (unconjugated: autograd's convention), cut or padded back where `n` or `s` padded or
# cut the input; a real input's adjoint keeps the real part ------------------------------------------


@vjp(np.fft.fft, linear="each")
def fft(g, ans, a, n=None, axis=-1, norm=None):
    return match_complex(resized(np.fft.fft(g, axis=axis, norm=norm), a, (axis,)), a)


@vjp(np.fft.ifft, linear="each")
def ifft(g, ans, a, n=None, axis=-1, norm=None):
    return match_complex(resized(np.fft.ifft(g, axis=axis, norm=norm), a, (axis,)), a)


@vjp(np.fft.fft2, linear="each")
def fft2(g, ans, a, s=None, axes=(-2, -1), norm=None):
    return match_complex(resized(np.fft.fft2(g, axes=axes, norm=norm), a, axes), a)


@vjp(np.fft.ifft2, linear="each")
def ifft2(g, ans, a, s=None, axes=(-2, -1), norm=None):
    return match_complex(resized(np.fft.ifft2(g, axes=axes, norm=norm), a, axes), a)


@vjp(np.fft.fftn, linear="each")
def fftn(g, ans, a, s=None, axes=None, norm=None):
    planned, lengths = fft_plan(a, s, axes)
    return match_complex(resized(np.fft.fftn(g, axes=planned, norm=norm), a, planned), a)


@vjp(np.fft.ifftn, linear="each")
def ifftn(g, ans, a, s=None, axes=None, norm=None):
    planned, lengths = fft_plan(a, s, axes)
    return match_complex(resized(np.fft.ifftn(g, axes=planned, norm=norm), a, planned), a)


@vjp(np.fft.rfft, linear="each")
def rfft(g, ans, a, n=None, axis=-1, norm=None):
    # (the half spectrum's transpose: g padded with zeros to the full length, transformed)
    length = np.shape(a)[axis] if n is None else n
    return resized(np.real(np.fft.fft(g, length, axis, norm)), a, (axis,))


@vjp(np.fft.rfft2, np.fft.rfftn, linear="each")
def rfftn(g, ans, a, s=None, axes=None, norm=None):
    planned, lengths = fft_plan(a, s, axes)
    return resized(np.real(np.fft.fftn(g, lengths, planned, norm)), a, planned)


@vjp(np.fft.irfft, linear="each")
def irfft(g, ans, a, n=None, axis=-1, norm=None):
    return half_spectrum(np.fft.ifft(np.real(g), axis=axis, norm=norm), a, (axis,))


@vjp(np.fft.irfft2, np.fft.irfftn, linear="each")
def irfftn(g, ans, a, s=None, axes=None, norm=None):
    planned, lengths = fft_plan(g, s, axes)
    return half_spectrum(np.fft.ifftn(np.real(g), axes=planned, norm=norm), a, planned)


@vjp(np.fft.fftshift, linear="each")
def fftshift(g, ans, x, axes=None):
    return np.fft.ifftshift(g, axes)


@vjp(np.fft.ifftshift, linear="each")
def ifftshift(g, ans, x, axes=None):
    return np.fft.fftshift(g, axes)


# -- shapes and copies ------------------------------------------------------------------------


@vjp(np.squeeze, np.expand_dims, np.atleast_1d, np.atleast_2d, np.atleast_3d, Method("squeeze"), linear="each")
def reshape(g, ans, a, *options, **keywords):
    return reshape_like(g, a)


@vjp(np.reshape, linear="each")
def reshape_function(g, ans, a, shape=None, order="C", **keywords):
    if order == "C":
        return reshape_like(g, a)
    if order == "F":
        return np.reshape(g, np.shape(a), order="F")
    return np.reshape(g, np.shape(a), order=index_order(a, order))


@vjp(Method("reshape"), linear="each")
def reshape_method(g, ans, a, *shape, order="C", **keywords):
    if order == "C":
        return reshape_like(g, a)
    if order == "F":
        return np.reshape(g, np.shape(a), order="F")
    return np.reshape(g, np.shape(a), order=index_order(a, order))


@vjp(np.ravel, Method("ravel"), Method("flatten"), linear="each")
def ravel(g, ans, a, order="C"):
    if order == "C":
        return reshape_like(g, a)
    if order == "F":
        return np.reshape(g, np.shape(a), order="F")
    return np.reshape(g, np.shape(a), order=index_order(a, order))


@vjp(np.transpose, linear="each")
def transpose(g, ans, a, axes=None):
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, inverse_axes((axes,), np.ndim(a)))


@vjp(Method("transpose"), linear="each")
def transpose_method(g, ans, a, *axes):
    return np.transpose(g, inverse_axes(axes, np.ndim(a)))


@vjp(Attr("T"), linear="each")
def transposed(g, ans, a):
    return np.transpose(g)


@vjp(np.swapaxes, Method("swapaxes"), linear="each")
def swapaxes(g, ans, a, axis1=None, axis2=None):
    return np.swapaxes(g, axis1, axis2)


@vjp(np.moveaxis, linear="each")
def moveaxis(g, ans, a, source=None, destination=None):
    return np.moveaxis(g, destination, source)


@vjp(np.broadcast_to, linear="each")
def broadcast_to(g, ans, array, shape=None):
    return unbroadcast(g, array)


@vjp(np.flip, linear="each")
def flip(g, ans, m, axis=None):
    return np.flip(g, axis)


@vjp(np.flipud, linear="each")
def flipud(g, ans, m):
    return np.flipud(g)


@vjp(np.fliplr, linear="each")
def fliplr(g, ans, m):
    return np.fliplr(g)


@vjp(np.rot90, linear="each")
def rot90(g, ans, m, k=1, axes=(0, 1)):
    return np.rot90(g, -k, axes)


@vjp(np.roll, linear="each")
def roll(g, ans, a, shift=None, axis=None):
    return np.roll(g, np.negative(shift), axis)


@vjp(np.rollaxis, linear="each")
def rollaxis(g, ans, a, axis=None, start=0):
    # np.rollaxis(a, axis, start) is np.moveaxis(a, axis, to), where `to` is start (made
    # non-negative), less one when the axis came from before it
    n = np.ndim(a)
    to = start
    if start < 0:
        to = start + n
    return np.moveaxis(g, to - (axis % n < to), axis % n)


@vjp(np.triu, linear="each")
def triu(g, ans, m, k=0):
    return np.triu(g, k)


@vjp(np.tril, linear="each")
def tril(g, ans, m, k=0):
    return np.tril(g, k)


@vjp(np.pad)
def pad(g, ans, array, pad_width=None, mode="constant", constant_values=0, reflect_type="even"):
    return pad_adjoint(g, array, pad_width, mode, reflect_type)


@jvp(np.pad)
def pad_jvp(t, ans, array, pad_width=None, mode="constant", constant_values=0, reflect_type="even"):
    return pad_linear(t, pad_width, mode, reflect_type)  # (constant values are constants: 0 in the tangent)


@vjp(np.tile, linear="each")
def tile(g, ans, A, reps=None):
    return untile(g, A, reps)


@vjp(np.repeat, Method("repeat"), linear="each")
def repeat(g, ans, a, repeats=None, axis=None):
    return unrepeat(g, a, repeats, axis)


@vjp(np.concatenate, linear="joint")
def concatenate(g, ans, arrays, axis=0, dtype=None, casting="same_kind"):
    return split_like(g, arrays, axis)


@vjp(np.stack, linear="joint")
def stack(g, ans, arrays, axis=0, dtype=None, casting="same_kind"):
    return unstack(g, arrays, axis)


@vjp(np.column_stack, linear="joint")
def column_stack(g, ans, tup):
    return column_stack_adjoint(g, tup)


@vjp(np.append, linear="joint")
def append(g, ans, arr, values, axis=None):
    return split_like(g, (arr, values), axis)


@vjp(np.split, np.array_split, linear="each")
def split(g, ans, ary, indices_or_sections=None, axis=0):
    # (g: one adjoint per piece, zeros for pieces the function does not use)
    return np.concatenate(g, axis)


@vjp(np.hsplit, linear="each")
def hsplit(g, ans, ary, indices_or_sections=None):
    return np.hstack(g)


@vjp(np.vsplit, linear="each")
def vsplit(g, ans, ary, indices_or_sections=None):
    return np.concatenate(g, 0)


@vjp(np.dsplit, linear="each")
def dsplit(g, ans, ary, indices_or_sections=None):
    return np.concatenate(g, 2)


@vjp(np.hstack, linear="joint")
def hstack(g, ans, tup, dtype=None, casting="same_kind"):
    return hstack_adjoint(g, tup)


@vjp(np.vstack, *([np.row_stack] if hasattr(np, "row_stack") else []), linear="joint")
def vstack(g, ans, tup, dtype=None, casting="same_kind"):  # (NumPy 2's row_stack passes both on)
    return vstack_adjoint(g, tup)


@vjp(np.array, np.asarray, linear="joint")
def array(g, ans, object, dtype=None):
    # The adjoint of a (nested) list of scalars is an array indexed like that list.
    return g


@vjp(Method("copy"), np.copy, linear="each")
def copy(g, ans, a):
    return g


@vjp(Method("astype"))
def astype(g, ans, a, dtype=None):
    return astype_adjoint(g, a, ans)


@jvp(Method("astype"))
def astype_jvp(t, ans, a, dtype=None):
    return astype_tangent(t, ans)


@vjp(np.select, linear="joint", linear_in=("choicelist",))
def select(g, ans, condlist, choicelist, default=0):
    # (`default` is a constant: an option)
    return None, select_adjoints(g, condlist, choicelist)


@jvp(np.select)
def select_jvp(t, ans, condlist, choicelist, default=0):
    return np.select(condlist, t[1], 0.0)


@vjp(np.full, linear="each", linear_in=("fill_value",))
def full(g, ans, shape, fill_value, dtype=None, order="C"):
    return None, unbroadcast(g, fill_value)


@vjp(np.full_like, linear="each", linear_in=("fill_value",))
def full_like(g, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return None, unbroadcast(g, fill_value)


@vjp(np.linspace, linear="joint")
def linspace(g, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    # the samples are start + (stop - start) * f, with f = linspace(0, 1): linear in start and stop
    if retstep:
        return no_rule_for("np.linspace with retstep=True")
    f = np.linspace(0.0, 1.0, num, endpoint=endpoint)
    g_last = np.moveaxis(g, axis, -1)
    return unbroadcast(np.sum(g_last * (1.0 - f), axis=-1), start), unbroadcast(np.sum(g_last * f, axis=-1), stop)


@vjp(np.take, linear="each")
def take(g, ans, a, indices=None, axis=None):
    if axis is None:
        return np.reshape(scatter_add(g, np.ravel(a), indices), np.shape(a))
    # np.take(a, i, axis) is a[:, ..., :, i] with `axis` full slices before i.
    return scatter_add(g, a, (slice(None),) * (axis % np.ndim(a)) + (indices,))


# -- functions whose derivative is zero almost everywhere, and non-numeric results --------------

zero_gradient(
    np.sign, np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix, np.argmax, np.argmin,
    np.argsort, np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor, np.isnan, np.isinf, np.isfinite,
    np.zeros_like, np.ones_like, np.empty_like, np.shape, np.ndim, np.size, np.nonzero,
    np.count_nonzero, np.all, np.any, np.heaviside, np.signbit, np.allclose, np.isclose, np.array_equal,
    Method("argmax"), Method("argmin"), Method("argsort"), Method("all"), Method("any"),
    Method("nonzero"), Attr("shape"), Attr("ndim"), Attr("size"), Attr("dtype"), Attr("device"),
    index_order,  # a helper the reshape rules call: it returns a string
    no_rule_for,  # (it raises)
    fft_plan,  # (axes and lengths)
)
