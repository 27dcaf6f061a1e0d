"""Numeric checks of every NumPy rule (gradc/rules/numpy.py and NumPy's operator twins).

Each case is a module-level function (gradc reads its source) wrapped around one
primitive so that a wrong rule changes the result: the primitive's output goes
through something nonlinear, and non-scalar outputs are reduced with weights
that differ per element (an argument `w` that is not differentiated), so a
permuted or mis-shaped gradient is caught. `CASES` lists, for each function,
its arguments, the arguments to differentiate and the primitives it exercises;
`test_rules_numpy_registry.py` checks that every registered NumPy rule appears
there.

Ties and other non-differentiable points are tested at the end against the
exact values the rule module documents (no finite differences there).
"""
import builtins
import math
import operator
from dataclasses import dataclass, field

import numpy as np
import pytest

import gradc
from gradc.rules import Attr, Method
from gradcheck import assert_gradients

rng = np.random.default_rng(20240601)


def r(*shape):
    """Standard normal numbers of `shape` (float64)."""
    return rng.standard_normal(shape)


def pos(*shape):
    """Numbers in [0.5, 2) (for log, sqrt, a power's base ...)."""
    return rng.uniform(0.5, 2.0, shape)


def unit(*shape):
    """Numbers in (-0.9, 0.9) (for arcsin, arctanh ...)."""
    return rng.uniform(-0.9, 0.9, shape)


def w(*shape):
    """Weights for reducing a result to a scalar: distinct per element."""
    return rng.uniform(0.5, 1.5, shape)


def well_conditioned(*shape):
    """Matrices comfortably far from singular."""
    return r(*shape) + 3.0 * np.eye(shape[-1])


@dataclass
class Case:
    fn: object
    args: list
    primitives: tuple
    wrt: object = 0
    options: dict = field(default_factory=dict)

    @property
    def id(self):
        return self.fn.__name__


CASES = []


def case(fn, args, *primitives, wrt=0, **options):
    CASES.append(Case(fn, args, primitives, wrt, options))


# -- elementwise functions of one argument -----------------------------------------------------

def f_exp(x, w):
    return np.sum(np.exp(x) * w)
def f_exp2(x, w):
    return np.sum(np.exp2(x) * w)
def f_expm1(x, w):
    return np.sum(np.expm1(x) * w)
def f_log(x, w):
    return np.sum(np.log(x) * w)
def f_log2(x, w):
    return np.sum(np.log2(x) * w)
def f_log10(x, w):
    return np.sum(np.log10(x) * w)
def f_log1p(x, w):
    return np.sum(np.log1p(x) * w)
def f_sqrt(x, w):
    return np.sum(np.sqrt(x) * w)
def f_cbrt(x, w):
    return np.sum(np.cbrt(x) * w)
def f_square(x, w):
    return np.sum(np.square(x) * w)
def f_reciprocal(x, w):
    return np.sum(np.reciprocal(x) * w)
def f_negative(x, w):
    return np.sum(np.sin(np.negative(x)) * w)
def f_positive(x, w):
    return np.sum(np.sin(np.positive(x)) * w)
def f_unary_minus(x, w):
    return np.sum(np.sin(-x) * w)
def f_abs(x, w):
    return np.sum(np.abs(x) * x * w)
def f_abs_of_complex(x, w):
    return np.sum(np.abs(np.exp(1j * x) * (x + 2.0) + 0.5j) * w)  # (|z| of a complex z: conj(z)/|z|)
def f_absolute(x, w):
    return np.sum(np.sin(np.absolute(x)) * w)
def f_fabs(x, w):
    return np.sum(np.sin(np.fabs(x)) * w)
def f_builtin_abs(x, w):
    return np.sum(np.sin(abs(x)) * w)
def f_sin(x, w):
    return np.sum(np.sin(x) * w)
def f_cos(x, w):
    return np.sum(np.cos(x) * w)
def f_tan(x, w):
    return np.sum(np.tan(x) * w)
def f_arcsin(x, w):
    return np.sum(np.arcsin(x) * w)
def f_arccos(x, w):
    return np.sum(np.arccos(x) * w)
def f_arctan(x, w):
    return np.sum(np.arctan(x) * w)
def f_sinh(x, w):
    return np.sum(np.sinh(x) * w)
def f_cosh(x, w):
    return np.sum(np.cosh(x) * w)
def f_tanh(x, w):
    return np.sum(np.tanh(x) * w)
def f_arcsinh(x, w):
    return np.sum(np.arcsinh(x) * w)
def f_arccosh(x, w):
    return np.sum(np.arccosh(x + 1.5) * w)
def f_arctanh(x, w):
    return np.sum(np.arctanh(x) * w)
def f_unary_chain(x, w):
    return np.sum(np.tanh(np.exp(np.sin(x)) * np.sqrt(np.square(x) + 1.0)) * w)


case(f_exp, [r(3, 4), w(3, 4)], np.exp)
case(f_exp2, [r(3, 4), w(3, 4)], np.exp2)
case(f_expm1, [r(3, 4), w(3, 4)], np.expm1)
case(f_log, [pos(3, 4), w(3, 4)], np.log)
case(f_log2, [pos(3, 4), w(3, 4)], np.log2)
case(f_log10, [pos(3, 4), w(3, 4)], np.log10)
case(f_log1p, [unit(3, 4), w(3, 4)], np.log1p)
case(f_sqrt, [pos(3, 4), w(3, 4)], np.sqrt)
case(f_cbrt, [pos(3, 4) * np.sign(r(3, 4)), w(3, 4)], np.cbrt)
case(f_square, [r(3, 4), w(3, 4)], np.square)
case(f_reciprocal, [pos(3, 4), w(3, 4)], np.reciprocal)
case(f_negative, [r(3, 4), w(3, 4)], np.negative)
case(f_positive, [r(3, 4), w(3, 4)], np.positive)
case(f_unary_minus, [r(3, 4), w(3, 4)], operator.neg)
case(f_abs, [r(3, 4), w(3, 4)], np.abs)
case(f_absolute, [r(3, 4), w(3, 4)], np.absolute)
case(f_abs_of_complex, [r(3, 4), w(3, 4)], np.abs)
case(f_fabs, [r(3, 4), w(3, 4)], np.fabs)
case(f_builtin_abs, [r(3, 4), w(3, 4)], builtins.abs)
case(f_sin, [r(3, 4), w(3, 4)], np.sin)
case(f_cos, [r(3, 4), w(3, 4)], np.cos)
case(f_tan, [unit(3, 4), w(3, 4)], np.tan)
case(f_arcsin, [unit(3, 4), w(3, 4)], np.arcsin)
case(f_arccos, [unit(3, 4), w(3, 4)], np.arccos)
case(f_arctan, [r(3, 4), w(3, 4)], np.arctan)
case(f_sinh, [r(3, 4), w(3, 4)], np.sinh)
case(f_cosh, [r(3, 4), w(3, 4)], np.cosh)
case(f_tanh, [r(3, 4), w(3, 4)], np.tanh)
case(f_arcsinh, [r(3, 4), w(3, 4)], np.arcsinh)
case(f_arccosh, [pos(3, 4), w(3, 4)], np.arccosh)
case(f_arctanh, [unit(3, 4), w(3, 4)], np.arctanh)
case(f_unary_chain, [r(3, 4), w(3, 4)], np.tanh, np.exp, np.sin, np.sqrt, np.square)

# -- elementwise functions of two or three arguments, broadcasting ------------------------------

def f_add(x, y, w):
    return np.sum(np.sin(x + y) * w)
def f_np_add(x, y, w):
    return np.sum(np.sin(np.add(x, y)) * w)
def f_sub(x, y, w):
    return np.sum(np.sin(x - y) * w)
def f_np_subtract(x, y, w):
    return np.sum(np.sin(np.subtract(x, y)) * w)
def f_mul(x, y, w):
    return np.sum(np.sin(x * y) * w)
def f_np_multiply(x, y, w):
    return np.sum(np.sin(np.multiply(x, y)) * w)
def f_div(x, y, w):
    return np.sum(np.sin(x / y) * w)
def f_np_divide(x, y, w):
    return np.sum(np.sin(np.divide(x, y)) * w)
def f_mod(x, y, w):
    return np.sum(np.sin(x % y) * w)
def f_np_mod(x, y, w):
    return np.sum(np.sin(np.mod(x, y)) * w)
def f_np_remainder(x, y, w):
    return np.sum(np.sin(np.remainder(x, y)) * w)
def f_pow_op(x, y, w):
    return np.sum(np.sin(x ** y) * w)
def f_np_power(x, y, w):
    return np.sum(np.sin(np.power(x, y)) * w)
def f_np_float_power(x, y, w):
    return np.sum(np.sin(np.float_power(x, y)) * w)
def f_pow_int(x, w):
    return np.sum(x ** 3 * w)
def f_pow_float(x, w):
    return np.sum(x ** 2.5 * w)
def f_pow_base(x, w):
    return np.sum(2.0 ** x * w)
def f_pow_np_const(x, w):
    return np.sum(np.sin(np.power(x, 2)) * w)
def f_pow_zero_base(x, w):
    return np.sum(x ** 2.0 * w)
def f_builtin_pow(x, y):
    return pow(x, y) * x
def f_arctan2(x, y, w):
    return np.sum(np.arctan2(x, y) * w)
def f_hypot(x, y, w):
    return np.sum(np.sin(np.hypot(x, y)) * w)
def f_maximum(x, y, w):
    return np.sum(np.sin(np.maximum(x, y)) * w)
def f_minimum(x, y, w):
    return np.sum(np.sin(np.minimum(x, y)) * w)
def f_fmax(x, y, w):
    return np.sum(np.sin(np.fmax(x, y)) * w)
def f_fmin(x, y, w):
    return np.sum(np.sin(np.fmin(x, y)) * w)
def f_maximum_scalar(x, w):
    return np.sum(np.sin(np.maximum(x, 0.1)) * w)
def f_logaddexp(x, y, w):
    return np.sum(np.sin(np.logaddexp(x, y)) * w)
def f_where(x, y, w):
    return np.sum(np.sin(np.where(x > 0.0, x * y, y)) * w)
def f_where_broadcast(c, x, y, w):
    return np.sum(np.sin(np.where(c > 0.0, x, y)) * w)
def f_clip(x, w):
    return np.sum(np.sin(np.clip(x, -0.5, 0.7)) * w)
def f_clip_arrays(x, lo, hi, w):
    return np.sum(np.sin(np.clip(x, lo, hi)) * w)
def f_clip_none_low(x, w):
    return np.sum(np.sin(np.clip(x, None, 0.3)) * w)
def f_clip_none_high(x, w):
    return np.sum(np.sin(np.clip(x, -0.3, None)) * w)
def f_clip_method(x, w):
    return np.sum(np.sin(x.clip(-0.5, 0.7)) * w)
def f_clip_method_min(x, w):
    return np.sum(np.sin(x.clip(min=-0.2)) * w)
def f_clip_method_max(x, w):
    return np.sum(np.sin(x.clip(max=0.2)) * w)


A31, A14, A4, A34 = (3, 1), (1, 4), (4,), (3, 4)
for fn, prims in [(f_add, (operator.add,)), (f_np_add, (np.add,)), (f_sub, (operator.sub,)),
                  (f_np_subtract, (np.subtract,)), (f_mul, (operator.mul,)),
                  (f_np_multiply, (np.multiply,)), (f_arctan2, (np.arctan2,)), (f_hypot, (np.hypot,)),
                  (f_maximum, (np.maximum,)), (f_minimum, (np.minimum,)), (f_fmax, (np.fmax,)),
                  (f_fmin, (np.fmin,)), (f_logaddexp, (np.logaddexp,)), (f_where, (np.where,))]:
    case(fn, [r(*A34), r(*A34), w(*A34)], *prims, wrt=(0, 1))
    case(fn, [r(*A31), r(*A14), w(*A34)], *prims, wrt=(0, 1))
    case(fn, [r(*A4), r(*A34), w(*A34)], *prims, wrt=(0, 1))
    case(fn, [r(*A34), r(*A4), w(*A34)], *prims, wrt=(0, 1))
    case(fn, [0.7, r(*A34), w(*A34)], *prims, wrt=(0, 1))
    case(fn, [r(*A34), np.array(0.4), w(*A34)], *prims, wrt=(0, 1))
for fn, prims in [(f_div, (operator.truediv,)), (f_np_divide, (np.divide,)), (f_pow_op, (operator.pow,)),
                  (f_np_power, (np.power,)), (f_np_float_power, (np.float_power,))]:
    case(fn, [pos(*A34), pos(*A34), w(*A34)], *prims, wrt=(0, 1))
    case(fn, [pos(*A31), pos(*A14), w(*A34)], *prims, wrt=(0, 1))
    case(fn, [pos(*A4), pos(*A34), w(*A34)], *prims, wrt=(0, 1))
    case(fn, [1.3, pos(*A34), w(*A34)], *prims, wrt=(0, 1))
    case(fn, [pos(*A34), 1.7, w(*A34)], *prims, wrt=(0, 1))
for fn, prims in [(f_mod, (operator.mod,)), (f_np_mod, (np.mod,)), (f_np_remainder, (np.remainder,))]:
    case(fn, [pos(*A34) + 3.0, pos(*A34), w(*A34)], *prims, wrt=(0, 1))
    case(fn, [pos(*A31) + 3.0, pos(*A14), w(*A34)], *prims, wrt=(0, 1))
case(f_pow_int, [r(3, 4), w(3, 4)], operator.pow)
case(f_pow_float, [pos(3, 4), w(3, 4)], operator.pow)
case(f_pow_base, [r(3, 4), w(3, 4)], operator.pow)
case(f_pow_np_const, [r(3, 4), w(3, 4)], np.power)
case(f_pow_zero_base, [np.array([0.0, 1.5, -0.5]), w(3)], operator.pow)
case(f_builtin_pow, [1.3, 0.7], builtins.pow, wrt=(0, 1))
case(f_maximum_scalar, [r(3, 4), w(3, 4)], np.maximum)
case(f_where_broadcast, [r(3, 4), r(3, 1), 0.3, w(3, 4)], np.where, wrt=(1, 2))
case(f_where_broadcast, [r(3, 4), r(4), r(3, 4), w(3, 4)], np.where, wrt=(1, 2))
case(f_clip, [r(3, 4), w(3, 4)], np.clip)
case(f_clip_arrays, [r(3, 4), -0.3 + 0.1 * r(3, 1), 0.4 + 0.1 * r(4), w(3, 4)], np.clip, wrt=(0, 1, 2))
case(f_clip_arrays, [r(3, 4), -0.3 + 0.1 * r(3, 4), 0.4 + 0.1 * r(3, 4), w(3, 4)], np.clip, wrt=(0, 1, 2))
case(f_clip_none_low, [r(3, 4), w(3, 4)], np.clip)
case(f_clip_none_high, [r(3, 4), w(3, 4)], np.clip)
case(f_clip_method, [r(3, 4), w(3, 4)], Method("clip"))
case(f_clip_method_min, [r(3, 4), w(3, 4)], Method("clip"))
case(f_clip_method_max, [r(3, 4), w(3, 4)], Method("clip"))

# -- reductions -------------------------------------------------------------------------------

def f_sum_all(x):
    return np.sum(np.sin(x)) * np.sum(x)
def f_sum_axis(x, w):
    return np.sum(np.sin(np.sum(x, axis=1)) * w)
def f_sum_neg_axis_keepdims(x):
    return np.sum(np.sin(x) * np.sum(x, axis=-1, keepdims=True))
def f_sum_tuple_axis(x, w):
    return np.sum(np.sin(np.sum(x, axis=(0, 2))) * w)
def f_sum_tuple_axis_keepdims(x):
    return np.sum(np.sin(x) * np.sum(x, axis=(0, -1), keepdims=True))
def f_sum_keepdims_none(x):
    return np.sum(np.sin(x) * np.sum(x, keepdims=True))
def f_sum_positional_axis(x, w):
    return np.sum(np.sin(np.sum(x, 0)) * w)
def f_sum_method(x, w):
    return np.sum(np.sin(x.sum(axis=1)) * w) + np.sin(x.sum())
def f_sum_runtime_axis(x, w, axis):
    return np.sum(np.sin(np.sum(x, axis=axis)) * w)

def f_mean_all(x):
    return np.sin(np.mean(x)) * np.mean(x * x)
def f_mean_axis(x, w):
    return np.sum(np.sin(np.mean(x, axis=1)) * w)
def f_mean_neg_axis_keepdims(x):
    return np.sum(np.sin(x) * np.mean(x, axis=-1, keepdims=True))
def f_mean_tuple_axis(x, w):
    return np.sum(np.sin(np.mean(x, axis=(0, 2))) * w)
def f_mean_tuple_axis_keepdims(x):
    return np.sum(np.sin(x) * np.mean(x, axis=(0, -1), keepdims=True))
def f_mean_keepdims_none(x):
    return np.sum(np.sin(x) * np.mean(x, keepdims=True))
def f_mean_method(x, w):
    return np.sum(np.sin(x.mean(axis=-1)) * w) + np.sin(x.mean())
def f_mean_runtime_axis(x, w, axis):
    return np.sum(np.sin(np.mean(x, axis=axis)) * w)

def f_prod_all(x):
    return np.sin(np.prod(x))
def f_prod_axis(x, w):
    return np.sum(np.sin(np.prod(x, axis=1)) * w)
def f_prod_neg_axis_keepdims(x):
    return np.sum(np.sin(x) * np.prod(x, axis=-1, keepdims=True))
def f_prod_tuple_axis(x, w):
    return np.sum(np.sin(np.prod(x, axis=(0, 2))) * w)
def f_prod_keepdims_none(x):
    return np.sum(np.sin(x) * np.prod(x, keepdims=True))
def f_prod_method(x, w):
    return np.sum(np.sin(x.prod(axis=0)) * w) + np.sin(x.prod())

def f_max_all(x):
    return np.sin(np.max(x)) * np.max(x * x)
def f_max_axis(x, w):
    return np.sum(np.sin(np.max(x, axis=1)) * w)
def f_max_neg_axis_keepdims(x):
    return np.sum(np.sin(x) * np.max(x, axis=-1, keepdims=True))
def f_max_tuple_axis(x, w):
    return np.sum(np.sin(np.max(x, axis=(0, 2))) * w)
def f_max_tuple_axis_keepdims(x):
    return np.sum(np.sin(x) * np.max(x, axis=(0, -1), keepdims=True))
def f_max_keepdims_none(x):
    return np.sum(np.sin(x) * np.max(x, keepdims=True))
def f_amax(x, w):
    return np.sum(np.sin(np.amax(x, axis=0)) * w)
def f_max_method(x, w):
    return np.sum(np.sin(x.max(axis=-1)) * w) + np.sin(x.max())
def f_max_runtime_axis(x, w, axis):
    return np.sum(np.sin(np.max(x, axis=axis)) * w)

def f_min_all(x):
    return np.sin(np.min(x)) * np.min(x * x)
def f_min_axis(x, w):
    return np.sum(np.sin(np.min(x, axis=1)) * w)
def f_min_neg_axis_keepdims(x):
    return np.sum(np.sin(x) * np.min(x, axis=-1, keepdims=True))
def f_min_tuple_axis(x, w):
    return np.sum(np.sin(np.min(x, axis=(0, 2))) * w)
def f_min_tuple_axis_keepdims(x):
    return np.sum(np.sin(x) * np.min(x, axis=(0, -1), keepdims=True))
def f_min_keepdims_none(x):
    return np.sum(np.sin(x) * np.min(x, keepdims=True))
def f_amin(x, w):
    return np.sum(np.sin(np.amin(x, axis=0)) * w)
def f_min_method(x, w):
    return np.sum(np.sin(x.min(axis=-1)) * w) + np.sin(x.min())

def f_var_all(x):
    return np.sin(np.var(x))
def f_var_axis(x, w):
    return np.sum(np.sin(np.var(x, axis=1)) * w)
def f_var_neg_axis_keepdims(x):
    return np.sum(np.sin(x) * np.var(x, axis=-1, keepdims=True))
def f_var_tuple_axis(x, w):
    return np.sum(np.sin(np.var(x, axis=(0, 2))) * w)
def f_var_tuple_axis_keepdims(x):
    return np.sum(np.sin(x) * np.var(x, axis=(0, -1), keepdims=True))
def f_var_keepdims_none(x):
    return np.sum(np.sin(x) * np.var(x, keepdims=True))
def f_var_ddof(x, w):
    return np.sum(np.sin(np.var(x, axis=1, ddof=1)) * w) + np.sin(np.var(x, ddof=1))
def f_var_ddof_tuple(x, w):
    return np.sum(np.sin(np.var(x, axis=(0, 2), ddof=1)) * w)
def f_var_method(x, w):
    return np.sum(np.sin(x.var(axis=-1)) * w) + np.sin(x.var(ddof=1))

def f_std_all(x):
    return np.sin(np.std(x))
def f_std_axis(x, w):
    return np.sum(np.sin(np.std(x, axis=1)) * w)
def f_std_neg_axis_keepdims(x):
    return np.sum(np.sin(x) * np.std(x, axis=-1, keepdims=True))
def f_std_tuple_axis(x, w):
    return np.sum(np.sin(np.std(x, axis=(0, 2))) * w)
def f_std_tuple_axis_keepdims(x):
    return np.sum(np.sin(x) * np.std(x, axis=(0, -1), keepdims=True))
def f_std_keepdims_none(x):
    return np.sum(np.sin(x) * np.std(x, keepdims=True))
def f_std_ddof(x, w):
    return np.sum(np.sin(np.std(x, axis=1, ddof=1)) * w) + np.sin(np.std(x, ddof=1))
def f_std_ddof_tuple_keepdims(x):
    return np.sum(np.sin(x) * np.std(x, axis=(0, 2), ddof=1, keepdims=True))
def f_std_method(x, w):
    return np.sum(np.sin(x.std(axis=-1)) * w) + np.sin(x.std(ddof=1))

def f_cumsum_none(x, w):
    return np.sum(np.sin(np.cumsum(x)) * w)
def f_cumsum_axis0(x, w):
    return np.sum(np.sin(np.cumsum(x, axis=0)) * w)
def f_cumsum_axis1(x, w):
    return np.sum(np.sin(np.cumsum(x, axis=1)) * w)
def f_cumsum_neg_axis(x, w):
    return np.sum(np.sin(np.cumsum(x, -1)) * w)
def f_cumsum_method(x, w):
    return np.sum(np.sin(x.cumsum(axis=0)) * w) + np.sum(np.sin(x.cumsum()) * np.ravel(w))


X3 = (2, 3, 4)
for fn, args, prims in [
    (f_sum_all, [r(*X3)], (np.sum,)),
    (f_sum_axis, [r(*X3), w(2, 4)], (np.sum,)),
    (f_sum_neg_axis_keepdims, [r(*X3)], (np.sum,)),
    (f_sum_tuple_axis, [r(*X3), w(3)], (np.sum,)),
    (f_sum_tuple_axis_keepdims, [r(*X3)], (np.sum,)),
    (f_sum_keepdims_none, [r(*X3)], (np.sum,)),
    (f_sum_positional_axis, [r(*X3), w(3, 4)], (np.sum,)),
    (f_sum_method, [r(*X3), w(2, 4)], (Method("sum"),)),
    (f_sum_runtime_axis, [r(*X3), w(2, 3), -1], (np.sum,)),
    (f_sum_runtime_axis, [r(*X3), w(3), (0, 2)], (np.sum,)),
    (f_mean_all, [r(*X3)], (np.mean,)),
    (f_mean_axis, [r(*X3), w(2, 4)], (np.mean,)),
    (f_mean_neg_axis_keepdims, [r(*X3)], (np.mean,)),
    (f_mean_tuple_axis, [r(*X3), w(3)], (np.mean,)),
    (f_mean_tuple_axis_keepdims, [r(*X3)], (np.mean,)),
    (f_mean_keepdims_none, [r(*X3)], (np.mean,)),
    (f_mean_method, [r(*X3), w(2, 3)], (Method("mean"),)),
    (f_mean_runtime_axis, [r(*X3), w(3), (0, 2)], (np.mean,)),
    (f_prod_all, [pos(2, 3)], (np.prod,)),
    (f_prod_axis, [r(*X3), w(2, 4)], (np.prod,)),
    (f_prod_neg_axis_keepdims, [r(*X3)], (np.prod,)),
    (f_prod_tuple_axis, [r(*X3), w(3)], (np.prod,)),
    (f_prod_keepdims_none, [0.5 * r(2, 3)], (np.prod,)),
    (f_prod_method, [r(3, 4), w(4)], (Method("prod"),)),
    (f_max_all, [r(*X3)], (np.max,)),
    (f_max_axis, [r(*X3), w(2, 4)], (np.max,)),
    (f_max_neg_axis_keepdims, [r(*X3)], (np.max,)),
    (f_max_tuple_axis, [r(*X3), w(3)], (np.max,)),
    (f_max_tuple_axis_keepdims, [r(*X3)], (np.max,)),
    (f_max_keepdims_none, [r(*X3)], (np.max,)),
    (f_amax, [r(*X3), w(3, 4)], (np.amax,)),
    (f_max_method, [r(*X3), w(2, 3)], (Method("max"),)),
    (f_max_runtime_axis, [r(*X3), w(2, 4), 1], (np.max,)),
    (f_min_all, [r(*X3)], (np.min,)),
    (f_min_axis, [r(*X3), w(2, 4)], (np.min,)),
    (f_min_neg_axis_keepdims, [r(*X3)], (np.min,)),
    (f_min_tuple_axis, [r(*X3), w(3)], (np.min,)),
    (f_min_tuple_axis_keepdims, [r(*X3)], (np.min,)),
    (f_min_keepdims_none, [r(*X3)], (np.min,)),
    (f_amin, [r(*X3), w(3, 4)], (np.amin,)),
    (f_min_method, [r(*X3), w(2, 3)], (Method("min"),)),
    (f_var_all, [r(*X3)], (np.var,)),
    (f_var_axis, [r(*X3), w(2, 4)], (np.var,)),
    (f_var_neg_axis_keepdims, [r(*X3)], (np.var,)),
    (f_var_tuple_axis, [r(*X3), w(3)], (np.var,)),
    (f_var_tuple_axis_keepdims, [r(*X3)], (np.var,)),
    (f_var_keepdims_none, [r(*X3)], (np.var,)),
    (f_var_ddof, [r(*X3), w(2, 4)], (np.var,)),
    (f_var_ddof_tuple, [r(*X3), w(3)], (np.var,)),
    (f_var_method, [r(*X3), w(2, 3)], (Method("var"),)),
    (f_std_all, [r(*X3)], (np.std,)),
    (f_std_axis, [r(*X3), w(2, 4)], (np.std,)),
    (f_std_neg_axis_keepdims, [r(*X3)], (np.std,)),
    (f_std_tuple_axis, [r(*X3), w(3)], (np.std,)),
    (f_std_tuple_axis_keepdims, [r(*X3)], (np.std,)),
    (f_std_keepdims_none, [r(*X3)], (np.std,)),
    (f_std_ddof, [r(*X3), w(2, 4)], (np.std,)),
    (f_std_ddof_tuple_keepdims, [r(*X3)], (np.std,)),
    (f_std_method, [r(*X3), w(2, 3)], (Method("std"),)),
    (f_cumsum_none, [r(3, 4), w(12)], (np.cumsum,)),
    (f_cumsum_none, [r(5), w(5)], (np.cumsum,)),
    (f_cumsum_axis0, [r(3, 4), w(3, 4)], (np.cumsum,)),
    (f_cumsum_axis1, [r(3, 4), w(3, 4)], (np.cumsum,)),
    (f_cumsum_neg_axis, [r(*X3), w(*X3)], (np.cumsum,)),
    (f_cumsum_method, [r(3, 4), w(3, 4)], (Method("cumsum"),)),
]:
    case(fn, args, *prims)

# -- linear algebra ---------------------------------------------------------------------------

def f_dot(a, b, w):
    return np.sum(np.sin(np.dot(a, b)) * w)
def f_dot_method(a, b, w):
    return np.sum(np.sin(a.dot(b)) * w)
def f_matmul(a, b, w):
    return np.sum(np.sin(a @ b) * w)
def f_np_matmul(a, b, w):
    return np.sum(np.sin(np.matmul(a, b)) * w)
def f_outer(a, b, w):
    return np.sum(np.sin(np.outer(a, b)) * w)
def f_inner(a, b, w):
    return np.sum(np.sin(np.inner(a, b)) * w)
def f_tensordot_1(a, b, w):
    return np.sum(np.sin(np.tensordot(a, b, axes=1)) * w)
def f_tensordot_2(a, b, w):
    return np.sum(np.sin(np.tensordot(a, b)) * w)
def f_tensordot_0(a, b, w):
    return np.sum(np.sin(np.tensordot(a, b, 0)) * w)
def f_tensordot_pairs(a, b, w):
    return np.sum(np.sin(np.tensordot(a, b, axes=([2, 0], [0, 1]))) * w)
def f_tensordot_int_pair(a, b, w):
    return np.sum(np.sin(np.tensordot(a, b, axes=(1, -1))) * w)
def f_einsum_matmul(a, b, w):
    return np.sum(np.sin(np.einsum('ij,jk->ik', a, b)) * w)
def f_einsum_full(a, b):
    return np.sin(np.einsum('ij,ij->', a, b))
def f_einsum_one(a, w):
    return np.sum(np.sin(np.einsum('ij->j', a)) * w)
def f_einsum_transpose(a, w):
    return np.sum(np.sin(np.einsum('ijk->kij', a)) * w)
def f_einsum_batched(a, b, w):
    return np.sum(np.sin(np.einsum('bij,bjk->bik', a, b)) * w)
def f_einsum_inner_sum(a, b, w):
    return np.sum(np.sin(np.einsum('ij,k->k', a, b)) * w)
def f_einsum_implicit(a, b, w):
    return np.sum(np.sin(np.einsum('ij,jk', a, b)) * w)
def f_einsum_three(a, b, c, w):
    return np.sum(np.sin(np.einsum('ij,jk,k->i', a, b, c)) * w)
def f_trace(a):
    return np.sin(np.trace(a)) * np.trace(a * a)
def f_trace_offset(a):
    return np.sin(np.trace(a, 1)) + np.cos(np.trace(a, offset=-1))
def f_trace_method(a):
    return np.sin(a.trace()) + np.cos(a.trace(offset=1))
def f_trace_3d(a, w):
    return np.sum(np.sin(np.trace(a, offset=-1)) * w)
def f_trace_axes(a, w):
    return np.sum(np.sin(np.trace(a, 1, 2, 0)) * w)
def f_einsum_sublist(a, b, w):
    return np.sum(np.sin(np.einsum(a, [0, 1], b, [1, 2], [0, 2])) * w)
def f_einsum_sublist_transpose(a, w):
    return np.sum(np.einsum(a, (0, 1), (1, 0)) * w)
def f_diag_make(v, w):
    return np.sum(np.sin(np.diag(v)) * w)
def f_diag_make_k(v, w):
    return np.sum(np.sin(np.diag(v, 1)) * w)
def f_diag_make_neg_k(v, w):
    return np.sum(np.sin(np.diag(v, k=-2)) * w)
def f_diag_read(a, w):
    return np.sum(np.sin(np.diag(a)) * w)
def f_diag_read_k(a, w):
    return np.sum(np.sin(np.diag(a, 1)) * w)
def f_diag_read_neg_k(a, w):
    return np.sum(np.sin(np.diag(a, k=-1)) * w)

for fn, prims in [(f_dot, (np.dot,)), (f_dot_method, (Method("dot"),))]:
    case(fn, [r(4), r(4), 1.0], *prims, wrt=(0, 1))
    case(fn, [r(3, 4), r(4), w(3)], *prims, wrt=(0, 1))
    case(fn, [r(4), r(4, 2), w(2)], *prims, wrt=(0, 1))
    case(fn, [r(3, 4), r(4, 2), w(3, 2)], *prims, wrt=(0, 1))
    case(fn, [r(2, 3, 4), r(5, 4, 2), w(2, 3, 5, 2)], *prims, wrt=(0, 1))
    case(fn, [r(2, 3, 4), r(4), w(2, 3)], *prims, wrt=(0, 1))
    case(fn, [r(4), r(5, 4, 2), w(5, 2)], *prims, wrt=(0, 1))
    case(fn, [r(3, 4), 0.7, w(3, 4)], *prims, wrt=(0, 1))
for fn, prims in [(f_matmul, (operator.matmul,)), (f_np_matmul, (np.matmul,))]:
    case(fn, [r(4), r(4), 1.0], *prims, wrt=(0, 1))
    case(fn, [r(3, 4), r(4), w(3)], *prims, wrt=(0, 1))
    case(fn, [r(4), r(4, 2), w(2)], *prims, wrt=(0, 1))
    case(fn, [r(3, 4), r(4, 2), w(3, 2)], *prims, wrt=(0, 1))
    case(fn, [r(2, 3, 4), r(4, 5), w(2, 3, 5)], *prims, wrt=(0, 1))
    case(fn, [r(3, 4), r(2, 4, 5), w(2, 3, 5)], *prims, wrt=(0, 1))
    case(fn, [r(2, 1, 3, 4), r(5, 4, 2), w(2, 5, 3, 2)], *prims, wrt=(0, 1))
    case(fn, [r(2, 3, 4), r(4), w(2, 3)], *prims, wrt=(0, 1))
    case(fn, [r(4), r(2, 4, 3), w(2, 3)], *prims, wrt=(0, 1))
case(f_outer, [r(3), r(4), w(3, 4)], np.outer, wrt=(0, 1))
case(f_outer, [r(2, 3), r(4), w(6, 4)], np.outer, wrt=(0, 1))
case(f_inner, [r(4), r(4), 1.0], np.inner, wrt=(0, 1))
case(f_inner, [r(3, 4), r(4), w(3)], np.inner, wrt=(0, 1))
case(f_inner, [r(3, 4), r(2, 4), w(3, 2)], np.inner, wrt=(0, 1))
case(f_inner, [r(2, 3, 4), r(5, 4), w(2, 3, 5)], np.inner, wrt=(0, 1))
case(f_inner, [0.6, r(2, 4), w(2, 4)], np.inner, wrt=(0, 1))
case(f_tensordot_1, [r(3, 4), r(4, 5), w(3, 5)], np.tensordot, wrt=(0, 1))
case(f_tensordot_2, [r(2, 3, 4), r(3, 4, 5), w(2, 5)], np.tensordot, wrt=(0, 1))
case(f_tensordot_0, [r(2, 3), r(4), w(2, 3, 4)], np.tensordot, wrt=(0, 1))
case(f_tensordot_pairs, [r(2, 3, 4), r(4, 2, 5), w(3, 5)], np.tensordot, wrt=(0, 1))
case(f_tensordot_int_pair, [r(2, 3, 4), r(5, 3), w(2, 4, 5)], np.tensordot, wrt=(0, 1))
case(f_einsum_matmul, [r(3, 4), r(4, 2), w(3, 2)], np.einsum, wrt=(0, 1))
case(f_einsum_full, [r(3, 4), r(3, 4)], np.einsum, wrt=(0, 1))
case(f_einsum_one, [r(3, 4), w(4)], np.einsum)
case(f_einsum_transpose, [r(2, 3, 4), w(4, 2, 3)], np.einsum)
case(f_einsum_batched, [r(2, 3, 4), r(2, 4, 5), w(2, 3, 5)], np.einsum, wrt=(0, 1))
case(f_einsum_inner_sum, [r(3, 4), r(5), w(5)], np.einsum, wrt=(0, 1))
case(f_einsum_implicit, [r(3, 4), r(4, 2), w(3, 2)], np.einsum, wrt=(0, 1))
case(f_einsum_three, [r(3, 4), r(4, 5), r(5), w(3)], np.einsum, wrt=(0, 1, 2))
case(f_trace, [r(3, 3)], np.trace)
case(f_trace, [r(3, 5)], np.trace)
case(f_trace_offset, [r(4, 3)], np.trace)
case(f_trace_method, [r(3, 4)], Method("trace"))
case(f_trace_3d, [r(3, 4, 5), w(5)], np.trace)
case(f_trace_axes, [r(3, 4, 5), w(4)], np.trace)
case(f_einsum_sublist, [r(3, 4), r(4, 2), w(3, 2)], np.einsum, wrt=(0, 1))
case(f_einsum_sublist_transpose, [r(3, 4), w(4, 3)], np.einsum)
case(f_diag_make, [r(3), w(3, 3)], np.diag)
case(f_diag_make_k, [r(3), w(4, 4)], np.diag)
case(f_diag_make_neg_k, [r(3), w(5, 5)], np.diag)
case(f_diag_read, [r(3, 3), w(3)], np.diag)
case(f_diag_read, [r(3, 5), w(3)], np.diag)
case(f_diag_read_k, [r(3, 4), w(3)], np.diag)
case(f_diag_read_neg_k, [r(4, 3), w(3)], np.diag)

# -- shapes, copies and joins -----------------------------------------------------------------

def f_reshape(x, w):
    return np.sum(np.sin(np.reshape(x, (2, 6))) * w)
def f_reshape_minus_one(x, w):
    return np.sum(np.sin(np.reshape(x, -1)) * w)
def f_reshape_newshape_kw(x, w):
    return np.sum(np.sin(np.reshape(x, shape=(4, 3))) * w)
def f_reshape_method_args(x, w):
    return np.sum(np.sin(x.reshape(2, 6)) * w)
def f_reshape_method_tuple(x, w):
    return np.sum(np.sin(x.reshape((2, 6))) * w)
def f_reshape_method_minus_one(x, w):
    return np.sum(np.sin(x.reshape(-1, 3)) * w)
def f_transpose(x, w):
    return np.sum(np.sin(np.transpose(x)) * w)
def f_transpose_axes(x, w):
    return np.sum(np.sin(np.transpose(x, (1, 0, 2))) * w)
def f_transpose_axes_kw(x, w):
    return np.sum(np.sin(np.transpose(x, axes=(2, 0, 1))) * w)
def f_transpose_neg_axes(x, w):
    return np.sum(np.sin(np.transpose(x, (-1, 0, 1))) * w)
def f_transpose_method(x, w):
    return np.sum(np.sin(x.transpose()) * w)
def f_transpose_method_args(x, w):
    return np.sum(np.sin(x.transpose(1, 0, 2)) * w)
def f_transpose_method_cycle(x, w):
    return np.sum(np.sin(x.transpose(2, 0, 1)) * w)
def f_transpose_method_tuple(x, w):
    return np.sum(np.sin(x.transpose((2, 0, 1))) * w)
def f_T(x, w):
    return np.sum(np.sin(x.T) * w)
def f_swapaxes(x, w):
    return np.sum(np.sin(np.swapaxes(x, 0, 2)) * w)
def f_swapaxes_method(x, w):
    return np.sum(np.sin(x.swapaxes(-1, 1)) * w)
def f_moveaxis(x, w):
    return np.sum(np.sin(np.moveaxis(x, 0, -1)) * w)
def f_moveaxis_tuple(x, w):
    return np.sum(np.sin(np.moveaxis(x, (0, 1), (2, 0))) * w)
def f_expand_dims(x, w):
    return np.sum(np.sin(np.expand_dims(x, 1)) * w)
def f_expand_dims_tuple(x, w):
    return np.sum(np.sin(np.expand_dims(x, axis=(0, -1))) * w)
def f_squeeze(x, w):
    return np.sum(np.sin(np.squeeze(x)) * w)
def f_squeeze_axis(x, w):
    return np.sum(np.sin(np.squeeze(x, axis=0)) * w)
def f_squeeze_method(x, w):
    return np.sum(np.sin(x.squeeze(2)) * w)
def f_ravel(x, w):
    return np.sum(np.sin(np.ravel(x)) * w)
def f_ravel_method(x, w):
    return np.sum(np.sin(x.ravel()) * w)
def f_flatten_method(x, w):
    return np.sum(np.sin(x.flatten()) * w)
def f_atleast_1d(x, w):
    return np.sum(np.sin(np.atleast_1d(x)) * w)
def f_atleast_2d(x, w):
    return np.sum(np.sin(np.atleast_2d(x)) * w)
def f_concatenate0(a, b, w):
    return np.sum(np.sin(np.concatenate([a, b])) * w)
def f_concatenate1(a, b, c, w):
    return np.sum(np.sin(np.concatenate((a, b, c), axis=1)) * w)
def f_concatenate_none(a, b, w):
    return np.sum(np.sin(np.concatenate([a, b], axis=None)) * w)
def f_concatenate_neg(a, b, w):
    return np.sum(np.sin(np.concatenate([a * b, b], -1)) * w)
def f_stack0(a, b, w):
    return np.sum(np.sin(np.stack([a, b])) * w)
def f_stack1(a, b, c, w):
    return np.sum(np.sin(np.stack((a, b, c), axis=1)) * w)
def f_stack_neg(a, b, w):
    return np.sum(np.sin(np.stack([a, b], axis=-1)) * w)
def f_hstack(a, b, w):
    return np.sum(np.sin(np.hstack([a, b])) * w)
def f_vstack(a, b, w):
    return np.sum(np.sin(np.vstack([a, b])) * w)
def f_stacks_with_dtype(a, b, w):
    joined = np.vstack([a, b], dtype=np.float64) + np.concatenate([b, a], dtype=np.float64, casting="same_kind")
    stacked = np.stack([a, b], dtype=np.float64).reshape(4, 3) * np.hstack([b, a], dtype=np.float64).reshape(4, 3)
    return np.sum(np.sin(joined + stacked) * w)
def f_broadcast_to(x, w):
    return np.sum(np.sin(np.broadcast_to(x, (3, 4))) * w)
def f_broadcast_to_3d(x, w):
    return np.sum(np.sin(np.broadcast_to(x, (2, 3, 4))) * w)
def f_tile(x, w):
    return np.sum(np.sin(np.tile(x, 2)) * w)
def f_tile_tuple(x, w):
    return np.sum(np.sin(np.tile(x, (2, 3))) * w)
def f_tile_longer(x, w):
    return np.sum(np.sin(np.tile(x, (2, 1, 2))) * w)
def f_repeat(x, w):
    return np.sum(np.sin(np.repeat(x, 2)) * w)
def f_repeat_axis(x, w):
    return np.sum(np.sin(np.repeat(x, 3, axis=1)) * w)
def f_repeat_neg_axis(x, w):
    return np.sum(np.sin(np.repeat(x, 2, axis=-2)) * w)
def f_repeat_array(x, w):
    return np.sum(np.sin(np.repeat(x, [1, 0, 3], axis=0)) * w)
def f_repeat_array_flat(x, w):
    return np.sum(np.sin(np.repeat(x, [2, 1, 0, 1, 3, 1])) * w)
def f_repeat_none(x, w):
    return np.sum(np.repeat(x, 0, axis=None)) + np.sum(np.sin(x) * w)
def f_repeat_zeros_last(x, w):
    return np.sum(np.sin(np.repeat(x, [2, 1, 0], axis=0)) * w)
def f_repeat_method(x, w):
    return np.sum(np.sin(x.repeat(2, axis=0)) * w)
def f_flip(x, w):
    return np.sum(np.sin(np.flip(x)) * w)
def f_flip_axis(x, w):
    return np.sum(np.sin(np.flip(x, 1)) * w)
def f_flip_tuple(x, w):
    return np.sum(np.sin(np.flip(x, axis=(0, -1))) * w)
def f_take(x, w):
    return np.sum(np.sin(np.take(x, [0, 0, 5, 11, 5])) * w)
def f_take_axis(x, w):
    return np.sum(np.sin(np.take(x, [2, 0, 2], axis=1)) * w)
def f_take_neg_axis(x, w):
    return np.sum(np.sin(np.take(x, [1, 1], axis=-1)) * w)
def f_array_scalars(a, b, c, w):
    return np.sum(np.sin(np.array([a * b, b, c])) * w)
def f_array_nested(a, b, w):
    return np.sum(np.sin(np.array([[a, b], [b * a, a]])) * w)
def f_array_of_arrays(x, y, w):
    return np.sum(np.sin(np.array([x, y * x])) * w)
def f_asarray(x, w):
    return np.sum(np.sin(np.asarray(x)) * w)
def f_copy(x, w):
    return np.sum(np.sin(np.copy(x)) * w)
def f_copy_method(x, w):
    return np.sum(np.sin(x.copy()) * w)
def f_real(x, w):
    return np.sum(np.sin(x.real) * w)
def f_astype32(x, w):
    return np.sum(np.sin(x.astype(np.float32)).astype(np.float64) * w)
def f_astype64(x, w):
    return np.sum(np.sin(x.astype(np.float64)) * w)
def f_astype_int(x, w):
    return np.sum(x.astype(int) * x * w)
def f_shape_constants(x):
    return np.sum(x ** 2) / x.size + x.shape[0] * np.sum(np.sin(x)) + x.ndim * np.sum(x)
def f_np_shape_constants(x):
    return np.sum(np.sin(x)) * np.size(x) + np.shape(x)[1] * np.sum(x ** 2) / np.ndim(x)


for fn, args, prims in [
    (f_reshape, [r(3, 4), w(2, 6)], (np.reshape,)),
    (f_reshape_minus_one, [r(3, 4), w(12)], (np.reshape,)),
    (f_reshape_newshape_kw, [r(3, 4), w(4, 3)], (np.reshape,)),
    (f_reshape_method_args, [r(3, 4), w(2, 6)], (Method("reshape"),)),
    (f_reshape_method_tuple, [r(3, 4), w(2, 6)], (Method("reshape"),)),
    (f_reshape_method_minus_one, [r(3, 4), w(4, 3)], (Method("reshape"),)),
    (f_transpose, [r(3, 4), w(4, 3)], (np.transpose,)),
    (f_transpose, [r(*X3), w(4, 3, 2)], (np.transpose,)),
    (f_transpose_axes, [r(*X3), w(3, 2, 4)], (np.transpose,)),
    (f_transpose_axes_kw, [r(*X3), w(4, 2, 3)], (np.transpose,)),
    (f_transpose_neg_axes, [r(*X3), w(4, 2, 3)], (np.transpose,)),
    (f_transpose_method, [r(*X3), w(4, 3, 2)], (Method("transpose"),)),
    (f_transpose_method_args, [r(*X3), w(3, 2, 4)], (Method("transpose"),)),
    (f_transpose_method_cycle, [r(*X3), w(4, 2, 3)], (Method("transpose"),)),
    (f_transpose_method_tuple, [r(*X3), w(4, 2, 3)], (Method("transpose"),)),
    (f_T, [r(3, 4), w(4, 3)], (Attr("T"),)),
    (f_T, [r(*X3), w(4, 3, 2)], (Attr("T"),)),
    (f_swapaxes, [r(*X3), w(4, 3, 2)], (np.swapaxes,)),
    (f_swapaxes_method, [r(*X3), w(2, 4, 3)], (Method("swapaxes"),)),
    (f_moveaxis, [r(*X3), w(3, 4, 2)], (np.moveaxis,)),
    (f_moveaxis_tuple, [r(*X3), w(3, 4, 2)], (np.moveaxis,)),
    (f_expand_dims, [r(3, 4), w(3, 1, 4)], (np.expand_dims,)),
    (f_expand_dims_tuple, [r(3, 4), w(1, 3, 4, 1)], (np.expand_dims,)),
    (f_squeeze, [r(1, 3, 1, 4), w(3, 4)], (np.squeeze,)),
    (f_squeeze_axis, [r(1, 3, 1, 4), w(3, 1, 4)], (np.squeeze,)),
    (f_squeeze_method, [r(3, 4, 1), w(3, 4)], (Method("squeeze"),)),
    (f_ravel, [r(*X3), w(24)], (np.ravel,)),
    (f_ravel_method, [r(*X3), w(24)], (Method("ravel"),)),
    (f_ravel_method, [r(4, 3).T, w(12)], (Method("ravel"),)),
    (f_flatten_method, [r(*X3), w(24)], (Method("flatten"),)),
    (f_atleast_1d, [np.array(0.3), w(1)], (np.atleast_1d,)),
    (f_atleast_1d, [r(3), w(3)], (np.atleast_1d,)),
    (f_atleast_2d, [r(3), w(1, 3)], (np.atleast_2d,)),
    (f_atleast_2d, [np.array(0.3), w(1, 1)], (np.atleast_2d,)),
    (f_concatenate0, [r(2, 3), r(4, 3), w(6, 3)], (np.concatenate,)),
    (f_concatenate1, [r(2, 3), r(2, 1), r(2, 2), w(2, 6)], (np.concatenate,)),
    (f_concatenate_none, [r(2, 3), r(4), w(10)], (np.concatenate,)),
    (f_concatenate_neg, [r(2, 3), r(2, 3), w(2, 6)], (np.concatenate,)),
    (f_stack0, [r(3, 4), r(3, 4), w(2, 3, 4)], (np.stack,)),
    (f_stack1, [r(3, 4), r(3, 4), r(3, 4), w(3, 3, 4)], (np.stack,)),
    (f_stack_neg, [r(3, 4), r(3, 4), w(3, 4, 2)], (np.stack,)),
    (f_hstack, [r(3), r(2), w(5)], (np.hstack,)),
    (f_hstack, [r(3, 2), r(3, 4), w(3, 6)], (np.hstack,)),
    (f_vstack, [r(3), r(3), w(2, 3)], (np.vstack,)),
    (f_vstack, [r(2, 3), r(4, 3), w(6, 3)], (np.vstack,)),
    (f_vstack, [r(2, 3), r(3), w(3, 3)], (np.vstack,)),
    (f_stacks_with_dtype, [r(2, 3), r(2, 3), w(4, 3)], (np.vstack, np.concatenate, np.stack, np.hstack)),
    (f_broadcast_to, [r(4), w(3, 4)], (np.broadcast_to,)),
    (f_broadcast_to, [r(3, 1), w(3, 4)], (np.broadcast_to,)),
    (f_broadcast_to, [np.array(0.4), w(3, 4)], (np.broadcast_to,)),
    (f_broadcast_to_3d, [r(3, 1), w(2, 3, 4)], (np.broadcast_to,)),
    (f_tile, [r(3), w(6)], (np.tile,)),
    (f_tile_tuple, [r(2, 3), w(4, 9)], (np.tile,)),
    (f_tile_tuple, [r(3), w(2, 9)], (np.tile,)),
    (f_tile_longer, [r(2, 3), w(2, 2, 6)], (np.tile,)),
    (f_repeat, [r(2, 3), w(12)], (np.repeat,)),
    (f_repeat_axis, [r(2, 3), w(2, 9)], (np.repeat,)),
    (f_repeat_neg_axis, [r(*X3), w(2, 6, 4)], (np.repeat,)),
    (f_repeat_array, [r(3, 2), w(4, 2)], (np.repeat,)),
    (f_repeat_array_flat, [r(2, 3), w(8)], (np.repeat,)),
    (f_repeat_none, [r(3), w(3)], (np.repeat,)),
    (f_repeat_zeros_last, [r(3, 2), w(3, 2)], (np.repeat,)),
    (f_repeat_method, [r(2, 3), w(4, 3)], (Method("repeat"),)),
    (f_flip, [r(3, 4), w(3, 4)], (np.flip,)),
    (f_flip_axis, [r(3, 4), w(3, 4)], (np.flip,)),
    (f_flip_tuple, [r(*X3), w(*X3)], (np.flip,)),
    (f_take, [r(3, 4), w(5)], (np.take,)),
    (f_take_axis, [r(2, 3, 4), w(2, 3, 4)], (np.take,)),
    (f_take_neg_axis, [r(3, 4), w(3, 2)], (np.take,)),
    (f_array_scalars, [0.3, -1.2, 0.8, w(3)], (np.array, (0, 1, 2))),
    (f_array_nested, [0.3, -1.2, w(2, 2)], (np.array, (0, 1))),
    (f_array_of_arrays, [r(3), r(3), w(2, 3)], (np.array, (0, 1))),
    (f_asarray, [r(3, 4), w(3, 4)], (np.asarray,)),
    (f_copy, [r(3, 4), w(3, 4)], (np.copy,)),
    (f_copy_method, [r(3, 4), w(3, 4)], (Method("copy"),)),
    (f_real, [r(3, 4), w(3, 4)], (Attr("real"),)),
    (f_astype64, [r(3, 4), w(3, 4)], (Method("astype"),)),
    (f_shape_constants, [r(3, 4)], (Attr("shape"), Attr("size"), Attr("ndim"))),
    (f_np_shape_constants, [r(3, 4)], (np.shape, np.size, np.ndim)),
]:
    if isinstance(prims[-1], tuple):
        prims, wrt = prims[:-1], prims[-1]
    else:
        wrt = 0
    case(fn, args, *prims, wrt=wrt)
# autograd is no oracle for these: its prod gradient is nan at zeros, its tile gradient is wrong for
# an int `reps` on a 2-D array, and it passes gradients through a cast to int.
case(f_prod_all, [np.array([[0.7, 0.0, 1.3], [-0.9, 1.1, 0.6]])], np.prod, use_autograd=False)
case(f_prod_all, [np.array([[0.7, 0.0, 1.3], [-0.9, 0.0, 0.6]])], np.prod, use_autograd=False)
case(f_prod_axis, [np.array([[[0.5, 0.0, 2.0, 1.0], [1.0, 1.5, -1.0, 0.0]],
                             [[0.0, 0.0, 1.0, 3.0], [2.0, 1.0, 0.5, 1.0]]]), w(2, 4)], np.prod,
     use_autograd=False)
case(f_prod_tuple_axis, [np.where(rng.uniform(size=X3) < 0.2, 0.0, r(*X3)), w(3)], np.prod, use_autograd=False)
case(f_tile, [r(2, 3), w(2, 6)], np.tile, use_autograd=False)
case(f_astype_int, [r(3, 4) * 3.0, w(3, 4)], Method("astype"), use_autograd=False)

def f_reshape_order_f(x, w):
    return np.sum(np.sin(np.reshape(x, (2, 6), order='F')) * w)
def f_reshape_method_order_f(x, w):
    return np.sum(np.sin(x.reshape(2, 6, order='F')) * w)
def f_ravel_order_f(x, w):
    return np.sum(np.sin(np.ravel(x, order='F')) * w)
def f_ravel_order_a(x, w):
    return np.sum(np.sin(np.ravel(x, 'A')) * w)
def f_flatten_order_f(x, w):
    return np.sum(np.sin(x.flatten('F')) * w)
def f_take_scalar(x):
    return np.sin(np.take(x, 3)) * np.take(x, -1)
def f_take_scalar_axis(x, w):
    return np.sum(np.sin(np.take(x, 1, axis=1)) * w)
def f_take_2d_indices(x, w):
    return np.sum(np.sin(np.take(x, [[0, 1], [1, 1]], axis=1)) * w)
def f_sum_dtype(x, w):
    return np.sum(np.sin(np.sum(x, axis=0, dtype=np.float64)) * w) + np.mean(x * x, dtype=np.float64)
def f_clip_keywords(x, w):
    return np.sum(np.sin(np.clip(x, a_min=0.1, a_max=0.6)) * w)


case(f_reshape_order_f, [r(3, 4), w(2, 6)], np.reshape)
case(f_reshape_method_order_f, [r(3, 4), w(2, 6)], Method("reshape"))
case(f_ravel_order_f, [r(3, 4), w(12)], np.ravel)
case(f_ravel_order_a, [r(3, 4), w(12)], np.ravel)
case(f_flatten_order_f, [r(3, 4), w(12)], Method("flatten"))
case(f_take_scalar, [r(3, 4)], np.take)
case(f_take_scalar_axis, [r(3, 4), w(3)], np.take)
case(f_take_2d_indices, [r(3, 4), w(3, 2, 2)], np.take)
case(f_sum_dtype, [r(3, 4), w(4)], np.sum, np.mean)
case(f_clip_keywords, [r(3, 4), w(3, 4)], np.clip)

# -- indexing ---------------------------------------------------------------------------------

def f_index_int(x, w):
    return np.sum(np.sin(x[0]) * w) + np.sin(x[-1, 2])
def f_index_slice(x, w):
    return np.sum(np.sin(x[1:3]) * w)
def f_index_reversed(x, w):
    return np.sum(np.sin(x[::-1]) * w)
def f_index_column(x, w):
    return np.sum(np.sin(x[:, 0]) * w) + np.sum(np.cos(x[:, 1:3]))
def f_index_repeated(x, w):
    return np.sum(np.sin(x[[0, 0, 2]]) * w)
def f_index_mask(x):
    return np.sum(np.sin(x[x > 0]) * x[x > 0])
def f_index_array_arg(x, idx, w):
    return np.sum(np.sin(x[idx]) * w)
def f_index_ellipsis_newaxis(x, w):
    return np.sum(np.sin(x[..., 1]) * w) + np.sum(np.sin(x[None, :, 0]))
def f_index_argmax(x):
    return x[np.argmax(x)] * np.sum(x)


case(f_index_int, [r(3, 4), w(4)], operator.getitem)
case(f_index_slice, [r(5, 2), w(2, 2)], operator.getitem)
case(f_index_reversed, [r(5), w(5)], operator.getitem)
case(f_index_column, [r(3, 4), w(3)], operator.getitem)
case(f_index_repeated, [r(4, 2), w(3, 2)], operator.getitem)
case(f_index_mask, [r(3, 4)], operator.getitem, operator.gt)
case(f_index_array_arg, [r(5), np.array([4, 1, 4, 4]), w(4)], operator.getitem)
case(f_index_ellipsis_newaxis, [r(2, 3, 4), w(2, 3)], operator.getitem)
case(f_index_argmax, [r(6)], operator.getitem, np.argmax)

# -- functions with zero gradient, used inside differentiable expressions ----------------------

def f_floor(x):
    return np.sum(x * np.floor(x))
def f_round(x):
    return np.sum(np.sin(x) * np.round(x))
def f_sign(x):
    return np.sum(x * x * np.sign(x))
def f_comparisons(x, y):
    return np.sum(x * (x > y) + y * np.greater_equal(y, x) + np.less(x, 0.0) * x * y)
def f_ceil_trunc(x):
    return np.sum(x * np.ceil(x) + x * x * np.trunc(x) + x * np.rint(x))


case(f_floor, [3.0 * r(3, 4)], np.floor)
case(f_round, [3.0 * r(3, 4)], np.round)
case(f_sign, [r(3, 4)], np.sign)
case(f_comparisons, [r(3, 4), r(3, 4)], np.greater_equal, np.less, wrt=(0, 1))
case(f_ceil_trunc, [3.0 * r(3, 4)], np.ceil, np.trunc, np.rint)

# -- dtypes and 0-d arrays --------------------------------------------------------------------

def f_float32_mix(x, y, w):
    return np.sum(np.tanh(x @ y + 0.5 * x[:, :1]) * w) + np.mean(np.exp(x)) * np.max(y)
def f_float32_mixed_dtypes(x, y, w):
    return np.sum(np.sin(x * y) * w)
def f_zero_d(x, y):
    return np.sin(x) * y + np.exp(x * y) + np.sum(np.square(x))


f32 = np.float32
case(f_float32_mix, [r(3, 4).astype(f32), r(4, 2).astype(f32), w(3, 2).astype(f32)],
     operator.matmul, np.tanh, wrt=(0, 1), rtol=1e-3, atol=1e-3, use_autograd=False)
case(f_float32_mixed_dtypes, [r(3, 4).astype(f32), r(4), w(3, 4)], operator.mul, wrt=(0, 1),
     rtol=1e-4, atol=1e-4, use_autograd=False)
case(f_exp, [r(3, 4).astype(f32), w(3, 4).astype(f32)], np.exp, rtol=1e-3, atol=1e-3, use_autograd=False)
case(f_sum_axis, [r(*X3).astype(f32), w(2, 4).astype(f32)], np.sum, rtol=1e-3, atol=1e-3,
     use_autograd=False)
case(f_zero_d, [np.array(0.3), np.array(-0.7)], np.sin, np.exp, np.square, wrt=(0, 1))
case(f_zero_d, [np.array(0.3, dtype=f32), np.array(-0.7, dtype=f32)], np.sin, wrt=(0, 1), rtol=1e-3,
     atol=1e-3, use_autograd=False)


# -- elementwise functions added for issue 13 ---------------------------------------------------------

def f_radians(x, w):
    return np.sum(np.sin(np.radians(x * 40.0)) * w)
def f_deg2rad(x, w):
    return np.sum(np.sin(np.deg2rad(x * 40.0)) * w)
def f_degrees(x, w):
    return np.sum(np.sin(np.degrees(x) / 40.0) * w)
def f_rad2deg(x, w):
    return np.sum(np.sin(np.rad2deg(x) / 40.0) * w)
def f_sinc(x, w):
    return np.sum(np.sinc(x) * w)
def f_nan_to_num(x, w):
    return np.sum(np.sin(np.nan_to_num(x)) * w)
def f_nan_to_num_options(x, w):
    return np.sum(np.sin(np.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-2.0)) * w)
def f_logaddexp2(x, y, w):
    return np.sum(np.sin(np.logaddexp2(x, y)) * w)


case(f_radians, [r(3, 4), w(3, 4)], np.radians)
case(f_deg2rad, [r(3, 4), w(3, 4)], np.deg2rad)
case(f_degrees, [r(3, 4), w(3, 4)], np.degrees)
case(f_rad2deg, [r(3, 4), w(3, 4)], np.rad2deg)
case(f_sinc, [2.0 * r(3, 4), w(3, 4)], np.sinc)
case(f_nan_to_num, [r(3, 4), w(3, 4)], np.nan_to_num)
case(f_nan_to_num_options, [r(3, 4), w(3, 4)], np.nan_to_num)
case(f_logaddexp2, [r(*A34), r(*A34), w(*A34)], np.logaddexp2, wrt=(0, 1))
case(f_logaddexp2, [r(*A31), r(*A14), w(*A34)], np.logaddexp2, wrt=(0, 1))
case(f_logaddexp2, [0.7, r(*A34), w(*A34)], np.logaddexp2, wrt=(0, 1))

# -- complex values (real arguments through complex intermediates; autograd's convention) ----------------

def f_np_real(x, y, w):
    return np.sum(np.sin(np.real((x + 1j * y) * (x - 0.5j))) * w)
def f_np_real_of_real(x, w):
    return np.sum(np.sin(np.real(x)) * w)
def f_imag(x, y, w):
    return np.sum(np.sin(np.imag((x + 1j * y) * (y + 2j * x))) * w)
def f_imag_attr(x, y, w):
    return np.sum(np.sin(((x + 1j * y) * (y + 2j * x)).imag) * w)
def f_imag_of_real(x, w):
    return np.sum(np.sin(x) * w) + np.sum(np.imag(x) * x)
def f_conj(x, y, w):
    z = x + 1j * y
    return np.sum(np.real(np.conj(z) * np.exp(z)) * w)
def f_conj_methods(x, y, w):
    z = x * np.exp(1j * y)
    return np.sum(np.imag(z.conj() * (z + 1.0)) * w) + np.sum(np.real(z.conjugate() * 1j * z * z))
def f_angle(x, y, w):
    return np.sum(np.sin(np.angle(x + 1j * y)) * w)
def f_angle_deg(x, y, w):
    return np.sum(np.sin(np.angle(x * (y + 1j), deg=True) / 60.0) * w)
def f_angle_real(x, w):
    return np.sum(np.angle(x) * x * w)
def f_real_if_close(x, w):
    return np.sum(np.sin(np.real_if_close(x)) * w)
def f_real_if_close_complex(x, y, w):
    return np.sum(np.sin(np.real_if_close(x + 0j * y)) * w)
def f_real_if_close_kept(x, y, w):
    return np.sum(np.sin(np.imag(np.real_if_close(x + 1j * y))) * w)


case(f_np_real, [r(3, 4), r(3, 4), w(3, 4)], np.real, wrt=(0, 1))
case(f_np_real_of_real, [r(3, 4), w(3, 4)], np.real)
case(f_imag, [r(3, 4), r(3, 4), w(3, 4)], np.imag, wrt=(0, 1))
case(f_imag_attr, [r(3, 4), r(3, 4), w(3, 4)], Attr("imag"), wrt=(0, 1))
case(f_imag_of_real, [r(3, 4), w(3, 4)], np.imag)
case(f_conj, [r(3, 4), r(3, 4), w(3, 4)], np.conj, wrt=(0, 1))
case(f_conj_methods, [r(3, 4), r(3, 4), w(3, 4)], Method("conj"), Method("conjugate"), wrt=(0, 1))
case(f_angle, [r(3, 4), r(3, 4), w(3, 4)], np.angle, wrt=(0, 1))
case(f_angle_deg, [r(3, 4), r(3, 4), w(3, 4)], np.angle, wrt=(0, 1))
case(f_angle_real, [r(3, 4), w(3, 4)], np.angle)
case(f_real_if_close, [r(3, 4), w(3, 4)], np.real_if_close)
case(f_real_if_close_complex, [r(3, 4), r(3, 4), w(3, 4)], np.real_if_close, wrt=(0, 1))
case(f_real_if_close_kept, [r(3, 4), r(3, 4), w(3, 4)], np.real_if_close, wrt=(0, 1))

# -- shapes, splits and joins added for issue 13 --------------------------------------------------------

def f_triu(x, w):
    return np.sum(np.sin(np.triu(x)) * w)
def f_triu_k(x, w):
    return np.sum(np.sin(np.triu(x, 1)) * w) + np.sum(np.cos(np.triu(x, k=-1)) * w)
def f_tril(x, w):
    return np.sum(np.sin(np.tril(x)) * w)
def f_tril_k(x, w):
    return np.sum(np.sin(np.tril(x, -1)) * w) + np.sum(np.cos(np.tril(x, k=2)) * w)
def f_split(x, w):
    a, b, c = np.split(x, 3)
    return np.sum(np.sin(a) * w) + np.sum(b * c * c)
def f_split_unused_piece(x, w):
    parts = np.split(x, [1, 3], axis=1)
    return np.sum(np.sin(parts[0]) * w) + np.sum(parts[2] ** 3)
def f_array_split(x, w):
    a, b = np.array_split(x, 2)
    return np.sum(np.sin(a) * w) + np.sum(np.cos(b))
def f_array_split_axis(x, w):
    a, b, c = np.array_split(x, 3, axis=-1)
    return np.sum(np.sin(a) * w) + np.sum(np.sin(b * 2.0)) + np.sum(c * c)
def f_hsplit(x, w):
    a, b = np.hsplit(x, 2)
    return np.sum(np.sin(a) * w) + np.sum(np.sin(b * 2.0) * w)
def f_hsplit_1d(x, w):
    a, b = np.hsplit(x, [2])
    return np.sum(np.sin(a) * w) + np.sum(np.cos(b))
def f_vsplit(x, w):
    a, b = np.vsplit(x, [1])
    return np.sum(np.sin(a) * w) + np.sum(np.cos(b))
def f_dsplit(x, w):
    a, b = np.dsplit(x, 2)
    return np.sum(np.sin(a) * w) + np.sum(b ** 3)
def f_append(x, y, w):
    return np.sum(np.sin(np.append(x, y)) * w)
def f_append_axis(x, y, w):
    return np.sum(np.sin(np.append(x, y * x[:, :1], axis=1)) * w)
def f_roll(x, w):
    return np.sum(np.sin(np.roll(x, 2)) * w)
def f_roll_axis(x, w):
    return np.sum(np.sin(np.roll(x, -1, axis=1)) * w)
def f_roll_tuple(x, w):
    return np.sum(np.sin(np.roll(x, (1, 2), axis=(0, 1))) * w)
def f_rot90(x, w):
    return np.sum(np.sin(np.rot90(x)) * w)
def f_rot90_k(x, w):
    return np.sum(np.sin(np.rot90(x, 3, axes=(1, 2))) * w) + np.sum(np.cos(np.rot90(x, k=2)) * w[0, 0, 0])
def f_rollaxis(x, w):
    return np.sum(np.sin(np.rollaxis(x, 2)) * w)
def f_rollaxis_start(x, w):
    return np.sum(np.sin(np.rollaxis(x, 0, 3)) * w)
def f_rollaxis_negative(x, w):
    return np.sum(np.sin(np.rollaxis(x, -1, 1)) * w)
def f_flipud(x, w):
    return np.sum(np.sin(np.flipud(x)) * w)
def f_fliplr(x, w):
    return np.sum(np.sin(np.fliplr(x)) * w)
def f_column_stack(a, b, w):
    return np.sum(np.sin(np.column_stack([a, b * 2.0])) * w)
def f_column_stack_unused(a, b, w):
    return np.sum(np.sin(np.column_stack((a, b))[:, :2]) * w)
def f_row_stack(a, b, w):
    return np.sum(np.sin(np.row_stack([a, b])) * w)
def f_atleast_3d(x, w):
    return np.sum(np.sin(np.atleast_3d(x)) * w)
def f_pad(x, w):
    return np.sum(np.sin(np.pad(x, 1)) * w)
def f_pad_constant_values(x, w):
    return np.sum(np.sin(np.pad(x, ((1, 0), (2, 1)), constant_values=1.5)) * w)
def f_pad_mode(x, w, mode):
    return np.sum(np.sin(np.pad(x, ((2, 1), (1, 3)), mode=mode)) * w)
def f_select(x, y, w):
    return np.sum(np.sin(np.select([x > 0.0, x < -0.5], [x * y, np.sin(y)], 0.3)) * w)
def f_select_broadcast(x, y, w):
    return np.sum(np.sin(np.select([x > 0.0, y < 0.0], [y, x])) * w)
def f_full(x, w):
    return np.sum(np.sin(np.full((3, 4), x)) * w)
def f_full_like(x, y, w):
    return np.sum(np.sin(np.full_like(y, x) * y) * w)
def f_linspace(a, b, w):
    return np.sum(np.sin(np.linspace(a, b, 5)) * w)
def f_linspace_open(a, b, w):
    return np.sum(np.sin(np.linspace(a, b, num=4, endpoint=False)) * w)
def f_linspace_arrays(a, b, w):
    return np.sum(np.sin(np.linspace(a, b, 3, axis=1)) * w)
def f_allclose(x, w):
    return np.sum(np.sin(x) * w) * (1.0 + np.allclose(x, 0.0)) + np.allclose(x, x) * np.sum(x * x)


case(f_triu, [r(4, 4), w(4, 4)], np.triu)
case(f_triu, [r(2, 3, 4), w(2, 3, 4)], np.triu)
case(f_triu_k, [r(3, 4), w(3, 4)], np.triu)
case(f_tril, [r(4, 3), w(4, 3)], np.tril)
case(f_tril_k, [r(2, 3, 4), w(2, 3, 4)], np.tril)
case(f_split, [r(6), w(2)], np.split)
case(f_split_unused_piece, [r(3, 4), w(3, 1)], np.split)
case(f_array_split, [r(5, 2), w(3, 2)], np.array_split)
case(f_array_split_axis, [r(2, 7), w(2, 3)], np.array_split)
case(f_hsplit, [r(3, 4), w(3, 2)], np.hsplit)
case(f_hsplit_1d, [r(5), w(2)], np.hsplit)
case(f_vsplit, [r(3, 4), w(1, 4)], np.vsplit)
case(f_dsplit, [r(2, 3, 4), w(2, 3, 2)], np.dsplit)
case(f_append, [r(2, 3), r(4), w(10)], np.append, wrt=(0, 1))
case(f_append_axis, [r(3, 2), r(3, 2), w(3, 4)], np.append, wrt=(0, 1))
case(f_roll, [r(3, 4), w(3, 4)], np.roll)
case(f_roll_axis, [r(3, 4), w(3, 4)], np.roll)
case(f_roll_tuple, [r(3, 4), w(3, 4)], np.roll)
case(f_rot90, [r(3, 4), w(4, 3)], np.rot90)
case(f_rot90_k, [r(2, 3, 4), w(2, 4, 3)], np.rot90)
case(f_rollaxis, [r(*X3), w(4, 2, 3)], np.rollaxis)
case(f_rollaxis_start, [r(*X3), w(3, 4, 2)], np.rollaxis)
case(f_rollaxis_negative, [r(*X3), w(2, 4, 3)], np.rollaxis)
case(f_flipud, [r(3, 4), w(3, 4)], np.flipud)
case(f_flipud, [r(5), w(5)], np.flipud)
case(f_fliplr, [r(3, 4), w(3, 4)], np.fliplr)
case(f_column_stack, [r(3), r(3, 2), w(3, 3)], np.column_stack, wrt=(0, 1))
case(f_column_stack_unused, [r(3, 2), r(3), w(3, 2)], np.column_stack, wrt=(0, 1))
case(f_atleast_3d, [r(3), w(1, 3, 1)], np.atleast_3d)
case(f_atleast_3d, [r(3, 4), w(3, 4, 1)], np.atleast_3d)
case(f_atleast_3d, [np.array(0.3), w(1, 1, 1)], np.atleast_3d)
case(f_pad, [r(3, 4), w(5, 6)], np.pad)
case(f_pad_constant_values, [r(3, 4), w(4, 7)], np.pad)
for mode in ["edge", "reflect", "symmetric", "wrap"]:
    case(f_pad_mode, [r(3, 4), w(6, 8), mode], np.pad)
case(f_select, [r(3, 4), r(3, 4), w(3, 4)], np.select, wrt=(0, 1))
case(f_select_broadcast, [r(3, 1), r(4), w(3, 4)], np.select, wrt=(0, 1))
# (autograd is no oracle here: it sums a broadcast fill value's gradient to one number, and gives
# full_like's fill value none)
case(f_full, [0.7, w(3, 4)], np.full)
case(f_full, [r(4), w(3, 4)], np.full, use_autograd=False)
case(f_full_like, [0.4, r(3, 4), w(3, 4)], np.full_like, wrt=(0, 1), use_autograd=False)
case(f_linspace, [0.3, 1.7, w(5)], np.linspace, wrt=(0, 1))
case(f_linspace_open, [r(2), 1.2, w(4, 2)], np.linspace, wrt=(0, 1))
case(f_linspace_arrays, [r(2, 1), r(4), w(2, 3, 4)], np.linspace, wrt=(0, 1))
case(f_allclose, [r(3, 4), w(3, 4)], np.allclose)
if hasattr(np, "row_stack"):  # (deprecated in NumPy 2.0, an alias of vstack)
    case(f_row_stack, [r(3), r(2, 3), w(3, 3)], np.row_stack, wrt=(0, 1))

# -- differences, sorting, products and diagonals added for issue 13 ---------------------------------------

def f_diff(x, w):
    return np.sum(np.sin(np.diff(x)) * w)
def f_diff_n_axis(x, w):
    return np.sum(np.sin(np.diff(x, 2, axis=0)) * w)
def f_diff_prepend_append(x, w):
    return np.sum(np.sin(np.diff(x, axis=1, prepend=0.5, append=np.ones((3, 2)))) * w)
def f_gradient(x, w):
    return np.sum(np.sin(np.gradient(x)) * w)
def f_gradient_spacing(x, w):
    return np.sum(np.sin(np.gradient(x, 0.5, edge_order=2)) * w)
def f_gradient_coordinates(x, w):
    return np.sum(np.sin(np.gradient(x, np.array([0.0, 0.4, 1.0, 1.3, 2.1, 3.0]))) * w)
def f_gradient_2d(x, w):
    gy, gx = np.gradient(x)
    return np.sum(np.sin(gy) * w) + np.sum(np.cos(gx) * w)
def f_gradient_axis(x, w):
    return np.sum(np.sin(np.gradient(x, 2.0, axis=1, edge_order=2)) * w)
def f_sort(x, w):
    return np.sum(np.sin(np.sort(x)) * w)
def f_sort_axis(x, w):
    return np.sum(np.sin(np.sort(x, axis=0)) * w)
def f_sort_none(x, w):
    return np.sum(np.sin(np.sort(x, axis=None)) * w)
def f_partition(x, w):
    return np.sum(np.sin(np.partition(x, 2)) * w)
def f_partition_axis(x, w):
    return np.sum(np.sin(np.partition(x, (0, 2), axis=0)) * w)
def f_kron(a, b, w):
    return np.sum(np.sin(np.kron(a, b)) * w)
def f_cross(a, b, w):
    return np.sum(np.sin(np.cross(a, b)) * w)
def f_cross_axes(a, b, w):
    return np.sum(np.sin(np.cross(a, b, axisa=0, axisb=1, axisc=0)) * w)
def f_cross_axis(a, b, w):
    return np.sum(np.sin(np.cross(a, b, axis=0)) * w)
def f_diagonal(a, w):
    return np.sum(np.sin(np.diagonal(a)) * w)
def f_diagonal_offset(a, w):
    return np.sum(np.sin(np.diagonal(a, 1)) * w) + np.sum(np.cos(np.diagonal(a, offset=-1)))
def f_diagonal_axes(a, w):
    return np.sum(np.sin(np.diagonal(a, -1, 2, 0)) * w)
def f_diagonal_method(a, w):
    return np.sum(np.sin(a.diagonal(axis1=1, axis2=2)) * w)
def f_einsum_ellipsis(a, b, w):
    return np.sum(np.sin(np.einsum('...ij,...jk->...ik', a, b)) * w)
def f_einsum_ellipsis_implicit(a, b, w):
    return np.sum(np.sin(np.einsum('...i,...i', a, b)) * w)
def f_einsum_ellipsis_middle(a, w):
    return np.sum(np.sin(np.einsum('i...j->j...', a)) * w)
def f_einsum_diagonal(a, w):
    return np.sum(np.sin(np.einsum('ii->i', a)) * w)
def f_einsum_trace(a):
    return np.sin(np.einsum('ii', a)) * np.einsum('ij,ij', a, a)
def f_einsum_repeated_three(a, w):
    return np.sum(np.sin(np.einsum('iij->j', a)) * w) + np.sin(np.einsum('iii', a))
def f_einsum_repeated_with_other(a, b, w):
    return np.sum(np.sin(np.einsum('ii,ij->j', a, b)) * w)
def f_einsum_sublist_ellipsis(a, b, w):
    return np.sum(np.sin(np.einsum(a, [Ellipsis, 0], b, [0, 1], [Ellipsis, 1])) * w)
def f_trace_negative_axes(a, w):
    return np.sum(np.sin(np.trace(a, 1, -1, 0)) * w)


case(f_diff, [r(5), w(4)], np.diff)
case(f_diff, [r(3, 4), w(3, 3)], np.diff)
case(f_diff_n_axis, [r(5, 3), w(3, 3)], np.diff)
case(f_diff_prepend_append, [r(3, 4), w(3, 6)], np.diff, use_autograd=False)  # (autograd's JVP drops prepend)
case(f_gradient, [r(6), w(6)], np.gradient)
case(f_gradient_spacing, [r(6), w(6)], np.gradient)
case(f_gradient_coordinates, [r(6), w(6)], np.gradient)
case(f_gradient_2d, [r(4, 5), w(4, 5)], np.gradient)
case(f_gradient_axis, [r(2, 5, 3), w(2, 5, 3)], np.gradient)
case(f_sort, [r(6), w(6)], np.sort)
case(f_sort, [r(3, 4), w(3, 4)], np.sort)
case(f_sort_axis, [r(3, 4), w(3, 4)], np.sort)
case(f_sort_none, [r(3, 4), w(12)], np.sort)
case(f_partition, [r(6), w(6)], np.partition)
case(f_partition_axis, [r(4, 3), w(4, 3)], np.partition)
case(f_kron, [r(2, 3), r(3, 2), w(6, 6)], np.kron, wrt=(0, 1))
case(f_kron, [r(3), r(2, 2), w(2, 6)], np.kron, wrt=(0, 1))
case(f_kron, [r(2, 1, 2), r(3, 2), w(2, 3, 4)], np.kron, wrt=(0, 1))
case(f_cross, [r(3), r(3), w(3)], np.cross, wrt=(0, 1))
case(f_cross, [r(4, 3), r(3), w(4, 3)], np.cross, wrt=(0, 1))
case(f_cross_axes, [r(3, 4), r(4, 3), w(3, 4)], np.cross, wrt=(0, 1))
case(f_cross_axis, [r(3, 2), r(3, 1), w(3, 2)], np.cross, wrt=(0, 1))
case(f_diagonal, [r(3, 4), w(3)], np.diagonal)
case(f_diagonal_offset, [r(4, 3), w(2)], np.diagonal)
case(f_diagonal_axes, [r(3, 4, 5), w(4, 3)], np.diagonal)
case(f_diagonal_method, [r(2, 3, 4), w(2, 3)], Method("diagonal"))
case(f_einsum_ellipsis, [r(2, 3, 4), r(2, 4, 5), w(2, 3, 5)], np.einsum, wrt=(0, 1))
case(f_einsum_ellipsis, [r(2, 3, 4), r(4, 5), w(2, 3, 5)], np.einsum, wrt=(0, 1))
case(f_einsum_ellipsis_implicit, [r(2, 1, 4), r(3, 4), w(2, 3)], np.einsum, wrt=(0, 1))
case(f_einsum_ellipsis_middle, [r(2, 3, 4), w(4, 3)], np.einsum)
case(f_einsum_diagonal, [r(3, 3), w(3)], np.einsum)
case(f_einsum_trace, [r(3, 3)], np.einsum)
case(f_einsum_repeated_three, [r(3, 3, 3), w(3)], np.einsum)
case(f_einsum_repeated_with_other, [r(3, 3), r(3, 2), w(2)], np.einsum, wrt=(0, 1))
case(f_einsum_sublist_ellipsis, [r(2, 3), r(3, 4), w(2, 4)], np.einsum, wrt=(0, 1))
case(f_trace_negative_axes, [r(3, 4, 5), w(4)], np.trace)

# -- numpy.fft (real arguments, complex spectra; autograd's convention) ------------------------------------

def spectrum_loss(F, w):
    return np.sum(np.sin(np.real(F)) * w + np.cos(np.imag(F)) * w)
def f_fft(x, y, w):
    return spectrum_loss(np.fft.fft(x + 1j * y), w)
def f_fft_real(x, w):
    return spectrum_loss(np.fft.fft(x, axis=0, norm="ortho"), w)
def f_fft_n(x, y, w, n):
    return spectrum_loss(np.fft.fft(x * (1.0 - 0.5j) + y, n), w)
def f_ifft(x, y, w):
    return spectrum_loss(np.fft.ifft(x + 1j * y, axis=0), w)
def f_ifft_n(x, w, n):
    return spectrum_loss(np.fft.ifft(x, n, norm="forward"), w)
def f_fft2(x, y, w):
    return spectrum_loss(np.fft.fft2(x + 1j * y), w)
def f_ifft2(x, w):
    return spectrum_loss(np.fft.ifft2(x, s=(2, 5)), w)
def f_fftn(x, y, w):
    return spectrum_loss(np.fft.fftn(x * 1j + y), w)
def f_fftn_axes(x, w):
    return spectrum_loss(np.fft.fftn(x, s=(3, 2), axes=(2, 0), norm="ortho"), w)
def f_ifftn(x, y, w):
    return spectrum_loss(np.fft.ifftn(x + 1j * y, axes=(0, 1)), w)
def f_rfft(x, w):
    return spectrum_loss(np.fft.rfft(x), w)
def f_rfft_n(x, w, n):
    return spectrum_loss(np.fft.rfft(x, n, axis=0, norm="ortho"), w)
def f_rfft2(x, w):
    return spectrum_loss(np.fft.rfft2(x), w)
def f_rfftn(x, w):
    return spectrum_loss(np.fft.rfftn(x, s=(4, 5), axes=(0, 2)), w)
def f_irfft(x, y, w):
    return np.sum(np.sin(np.fft.irfft(x + 1j * y)) * w)
def f_irfft_n(x, y, w, n):
    return np.sum(np.sin(np.fft.irfft(x + 1j * y, n, norm="ortho")) * w)
def f_irfft2(x, y, w):
    return np.sum(np.sin(np.fft.irfft2(x + 1j * y)) * w)
def f_irfftn(x, y, w):
    return np.sum(np.sin(np.fft.irfftn(x + 1j * y, s=(3, 5), axes=(1, 0))) * w)
def f_fftshift(x, w):
    return np.sum(np.sin(np.fft.fftshift(x)) * w) + np.sum(np.cos(np.fft.fftshift(x, axes=1)) * w)
def f_ifftshift(x, w):
    return np.sum(np.sin(np.fft.ifftshift(x)) * w) + np.sum(np.cos(np.fft.ifftshift(x, axes=0)) * w)


case(f_fft, [r(6), r(6), w(6)], np.fft.fft, wrt=(0, 1))
case(f_fft_real, [r(5, 3), w(5, 3)], np.fft.fft)
case(f_fft_n, [r(5), r(5), w(8), 8], np.fft.fft, wrt=(0, 1))
case(f_fft_n, [r(2, 5), r(5), w(2, 3), 3], np.fft.fft, wrt=(0, 1))
case(f_ifft, [r(4, 3), r(4, 3), w(4, 3)], np.fft.ifft, wrt=(0, 1))
case(f_ifft_n, [r(6), w(4), 4], np.fft.ifft)
case(f_ifft_n, [r(3), w(7), 7], np.fft.ifft)
case(f_fft2, [r(3, 4), r(3, 4), w(3, 4)], np.fft.fft2, wrt=(0, 1))
case(f_ifft2, [r(3, 4), w(2, 5)], np.fft.ifft2)
case(f_fftn, [r(2, 3, 4), r(2, 3, 4), w(2, 3, 4)], np.fft.fftn, wrt=(0, 1))
case(f_fftn_axes, [r(2, 3, 4), w(2, 3, 3)], np.fft.fftn)
case(f_ifftn, [r(3, 4, 2), r(3, 4, 2), w(3, 4, 2)], np.fft.ifftn, wrt=(0, 1))
case(f_rfft, [r(6), w(4)], np.fft.rfft)
case(f_rfft, [r(2, 7), w(2, 4)], np.fft.rfft)
case(f_rfft_n, [r(5, 2), w(5, 2), 8], np.fft.rfft)
case(f_rfft_n, [r(6, 2), w(3, 2), 4], np.fft.rfft)
case(f_rfft2, [r(3, 4), w(3, 3)], np.fft.rfft2)
case(f_rfftn, [r(3, 2, 4), w(4, 2, 3)], np.fft.rfftn)
case(f_irfft, [r(4), r(4), w(6)], np.fft.irfft, wrt=(0, 1))
case(f_irfft, [r(2, 5), r(2, 5), w(2, 8)], np.fft.irfft, wrt=(0, 1))
case(f_irfft_n, [r(4), r(4), w(7), 7], np.fft.irfft, wrt=(0, 1))
case(f_irfft_n, [r(4), r(4), w(4), 4], np.fft.irfft, wrt=(0, 1))
case(f_irfft_n, [r(3), r(3), w(9), 9], np.fft.irfft, wrt=(0, 1))
case(f_irfft2, [r(3, 3), r(3, 3), w(3, 4)], np.fft.irfft2, wrt=(0, 1))
case(f_irfftn, [r(2, 3, 4), r(2, 3, 4), w(5, 3, 4)], np.fft.irfftn, wrt=(0, 1))
case(f_fftshift, [r(3, 4), w(3, 4)], np.fft.fftshift)
case(f_ifftshift, [r(3, 5), w(3, 5)], np.fft.ifftshift)

@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_rule(c):
    assert_gradients(c.fn, c.args, wrt=c.wrt, **c.options)


# -- float32 through a cast: finite differences are too coarse there, so compare with the formula --

def test_astype_float32_keeps_the_argument_dtype():
    x, weights = r(3, 4), w(3, 4)
    grad = gradc.grad(f_astype32)(x, weights)
    assert grad.dtype == np.float64 and grad.shape == x.shape
    np.testing.assert_allclose(grad, np.cos(x) * weights, rtol=1e-5, atol=1e-6)
    x32 = x.astype(np.float32)
    grad32 = gradc.grad(f_astype64)(x32, weights)
    assert grad32.dtype == np.float32
    np.testing.assert_allclose(grad32, np.cos(x32.astype(np.float64)) * weights, rtol=1e-5, atol=1e-6)


def f_float_scalars(x, y):
    return np.sin(x) * np.exp(y) + np.sum(np.square(x * y)) + np.max(x)


def test_python_floats_give_python_floats():
    dx, dy = assert_gradients(f_float_scalars, [0.4, -0.8], wrt=(0, 1))
    assert type(dx) is float and type(dy) is float


def test_zero_d_arrays_stay_zero_d():
    dx, dy = assert_gradients(f_zero_d, [np.array(0.3), np.array(-0.7)], wrt=(0, 1))
    assert isinstance(dx, np.ndarray) and dx.shape == () and dy.shape == ()


# -- second derivatives of scalar functions through the rules ----------------------------------

def g_exp_sin(x):
    return np.exp(np.sin(x)) * np.cos(x)
def g_log_sqrt(x):
    return np.log(x) * np.sqrt(x) + np.reciprocal(x)
def g_tanh_pow(x):
    return np.tanh(x) ** 3 + np.power(x, 2.5) + np.square(np.arctan(x))
def g_hyperbolic(x):
    return np.sinh(x) * np.cosh(x) + np.arcsin(x / 4.0) + np.log1p(x) + np.expm1(x)


@pytest.mark.parametrize("fn", [g_exp_sin, g_log_sqrt, g_tanh_pow, g_hyperbolic])
def test_second_derivative(fn):
    first = gradc.grad(fn)
    second = gradc.grad(first)
    x, eps = 0.8, 1e-5
    expected = (first(x + eps) - first(x - eps)) / (2 * eps)
    assert abs(second(x) - expected) <= 1e-6 * max(1.0, abs(expected))


# -- ties and other non-differentiable points: the documented values ---------------------------

def t_max(x):
    return np.max(x)
def t_min(x):
    return np.min(x)
def t_max_axis(x, w):
    return np.sum(np.max(x, axis=1) * w)
def t_min_axis_keepdims(x, w):
    return np.sum(np.min(x, axis=0, keepdims=True) * w)
def t_max_method(x):
    return x.max()
def t_amax_tuple(x, w):
    return np.sum(np.amax(x, axis=(0, 2)) * w)
def t_maximum(x, y):
    return np.sum(np.maximum(x, y) * np.array([1.0, 2.0, 3.0]))
def t_minimum(x, y):
    return np.sum(np.minimum(x, y) * np.array([1.0, 2.0, 3.0]))
def t_clip(x, lo, hi):
    return np.sum(np.clip(x, lo, hi) * np.array([1.0, 2.0, 3.0, 4.0]))
def t_clip_const(x):
    return np.sum(np.clip(x, 0.0, 1.0) * np.array([1.0, 2.0, 3.0, 4.0]))
def t_clip_method(x):
    return np.sum(x.clip(0.0, 1.0) * np.array([1.0, 2.0, 3.0, 4.0]))
def t_abs(x):
    return np.sum(np.abs(x) * np.array([1.0, 2.0, 3.0]))
def t_norm(x):
    return np.linalg.norm(x)


def test_max_reduction_splits_ties_equally():
    x = np.array([1.0, 3.0, -2.0, 3.0, 3.0])
    np.testing.assert_array_equal(gradc.grad(t_max)(x), [0.0, 1 / 3, 0.0, 1 / 3, 1 / 3])
    np.testing.assert_array_equal(gradc.grad(t_max_method)(x), [0.0, 1 / 3, 0.0, 1 / 3, 1 / 3])
    np.testing.assert_array_equal(gradc.grad(t_min)(x), [0.0, 0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(gradc.grad(t_min)(np.array([2.0, 2.0])), [0.5, 0.5])


def test_max_min_reductions_split_ties_along_the_axis():
    x = np.array([[1.0, 5.0, 5.0], [2.0, 2.0, 2.0]])
    np.testing.assert_allclose(gradc.grad(t_max_axis)(x, np.array([2.0, 3.0])),
                               [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(gradc.grad(t_min_axis_keepdims)(x, np.array([[1.0, 2.0, 4.0]])),
                               [[1.0, 0.0, 0.0], [0.0, 2.0, 4.0]])
    y = np.zeros((2, 2, 2))
    y[0, 1, 0] = y[1, 1, 1] = 1.0  # column 1: two winners among 4; column 0: all 4 tie at 0
    expected = np.zeros((2, 2, 2))
    expected[:, 0, :] = 0.25 * 2.0
    expected[0, 1, 0] = expected[1, 1, 1] = 0.5 * 3.0
    np.testing.assert_allclose(gradc.grad(t_amax_tuple)(y, np.array([2.0, 3.0])), expected)


def test_maximum_minimum_split_ties_in_half():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 4.0])
    dx, dy = gradc.grad(t_maximum, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(dy, [0.0, 1.0, 3.0])
    dx, dy = gradc.grad(t_minimum, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 3.0])
    np.testing.assert_array_equal(dy, [1.0, 1.0, 0.0])


def test_clip_bounds_split_ties_in_half():
    x = np.array([-1.0, 0.0, 0.5, 1.0])
    lo, hi = np.zeros(4), np.ones(4)
    dx, dlo, dhi = gradc.grad(t_clip, wrt=(0, 1, 2))(x, lo, hi)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 3.0, 2.0])
    np.testing.assert_array_equal(dlo, [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(dhi, [0.0, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(gradc.grad(t_clip_const)(x), [0.0, 1.0, 3.0, 2.0])
    np.testing.assert_array_equal(gradc.grad(t_clip_method)(x), [0.0, 1.0, 3.0, 2.0])


def t_power(x, y):
    return np.sum(np.power(x, y))


def t_power_floats(x, y):
    return np.power(x, y) + x ** y


def test_power_at_a_zero_exponent_has_derivative_zero_in_the_base():
    """Issue 11 case 5: x ** y at x = 0, y = 0 (0 * 0 ** -1) gives 0 for x, as autograd does."""
    dx, dy = gradc.grad(t_power, wrt=(0, 1))(np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0]))
    np.testing.assert_array_equal(dx, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(dy, [0.0, 0.0, np.log(2.0)])
    assert gradc.grad(t_power_floats, wrt=(0, 1))(0.0, 0.0) == (0.0, 0.0)
    assert gradc.grad(t_power_floats, wrt=(0, 1))(2.0, 3.0) == (24.0, pytest.approx(16 * np.log(2.0)))


def test_abs_has_derivative_zero_at_zero():
    np.testing.assert_array_equal(gradc.grad(t_abs)(np.array([-2.0, 0.0, 3.0])), [-1.0, 0.0, 3.0])


def test_norm_has_gradient_zero_at_the_zero_vector():
    np.testing.assert_array_equal(gradc.grad(t_norm)(np.zeros(3)), np.zeros(3))


def t_std_all(x):
    return np.std(x)


def t_std_axis(x):
    return np.sum(np.std(x, axis=0) * np.array([1.0, 2.0, 3.0]))


def t_std_keepdims_method(x):
    return np.sum(x.std(axis=0, keepdims=True))


@pytest.mark.parametrize("f, x", [(t_std_all, np.array(3.5)), (t_std_all, np.full(4, 0.25)),
                                  (t_std_axis, np.array([[-0.46, -0.47, 0.24]])),
                                  (t_std_keepdims_method, np.array([[0.5, -1.0, 2.0]]))])
def test_std_has_gradient_zero_where_its_elements_are_equal(f, x):
    # (one element: std is 0 whatever it is, so its derivative is 0; equal elements: a subgradient)
    np.testing.assert_array_equal(gradc.grad(f)(x), np.zeros_like(x))
    t = np.ones_like(x)
    assert gradc.jvp(f)(x, t)[1] == 0.0


def test_ravel_order_a_follows_the_memory_layout():
    # finite differences perturb C-ordered copies, so compare with order='F' on the same values instead
    x, weights = np.asfortranarray(r(3, 4)), w(12)
    np.testing.assert_allclose(gradc.grad(f_ravel_order_a)(x, weights), gradc.grad(f_ravel_order_f)(x, weights))


def softplus_sum(z, w):
    return np.sum(np.logaddexp(0.0, z) * w)


def test_logaddexp_gradient_is_exact_and_quiet_at_extremes():
    """d logaddexp(0, z)/dz = sigmoid(z): no overflow warning at |z| ~ 800, and tiny values
    keep their relative precision (exp(-745) is the last double above zero)."""
    import warnings
    z = np.array([-800.0, -740.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0])
    w = np.ones_like(z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gz, gw = gradc.grad(softplus_sum, wrt=(0, 1))(z, w)
    expected = np.array([0.0, math.exp(-740.0), math.exp(-40.0) / (1 + math.exp(-40.0)),
                         1 / (1 + math.e), 0.5, 1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(-40.0)), 1.0])
    np.testing.assert_allclose(gz, expected, rtol=1e-15, atol=0)
    np.testing.assert_allclose(gw, np.logaddexp(0.0, z), rtol=1e-15)
    assert_gradients(softplus_sum, (np.linspace(-3, 3, 7), np.linspace(0.5, 1.5, 7)), wrt=(0, 1))


def softplus(z):
    return np.logaddexp(0.0, z)


@pytest.mark.parametrize("z", [-30.0, -2.0, 0.0, 0.5, 3.0, 30.0])
def test_second_derivative_through_logaddexp(z):
    """The sigmoid helper the rule uses has its own rule: d2/dz2 softplus(z) = s (1 - s)."""
    s = 1 / (1 + math.exp(-z))
    assert gradc.grad(softplus)(z) == pytest.approx(s, rel=1e-15)
    assert gradc.grad(gradc.grad(softplus))(z) == pytest.approx(s * (1 - s), rel=1e-12)


# -- issue 13's non-differentiable points: the documented values ------------------------------------

def t_sort(x):
    return np.sum(np.sort(x) * np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
def t_sort_rows(x):
    return np.sum(np.sort(x, axis=0) * np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
def t_partition(x):
    return np.sum(np.partition(x, 1) * np.array([1.0, 2.0, 3.0, 4.0]))
def t_sort_last(x):
    return np.sort(x)[-1]
def t_nan_to_num(x):
    return np.sum(np.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-2.0) * np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
def t_angle(x, y):
    return np.sum(np.angle(x + 1j * y) * np.array([1.0, 2.0, 3.0]))
def t_sinc(x):
    return np.sinc(x)


def test_sort_gives_tied_elements_the_mean_of_their_gradients():
    """Tied values share the gradient of the positions they sort into equally, so the last
    element of a sort has the gradient of `max` (which splits ties in 1/k)."""
    x = np.array([2.0, 1.0, 2.0, 0.5, 2.0])  # sorted: 0.5, 1, 2, 2, 2 (weights 1, 2, 3, 4, 5)
    np.testing.assert_array_equal(gradc.grad(t_sort)(x), [4.0, 2.0, 4.0, 1.0, 4.0])
    np.testing.assert_array_equal(gradc.grad(t_sort_last)(x), gradc.grad(t_max)(x))
    value, tangent = gradc.jvp(t_sort)(x, np.array([1.0, 0.0, 0.0, 0.0, 0.0]))
    assert tangent == pytest.approx(4.0, rel=1e-15)  # (the JVP agrees: a tied element's tangent spread over the tied positions)
    rows = np.array([[1.0, 3.0], [1.0, 2.0], [0.0, 2.0]])
    np.testing.assert_array_equal(gradc.grad(t_sort_rows)(rows), [[4.0, 6.0], [4.0, 3.0], [1.0, 3.0]])


def test_partition_gives_tied_elements_the_mean_of_their_gradients():
    x = np.array([3.0, 1.0, 1.0, 2.0])  # partitioned around k=1: 1, 1 | then 2 and 3 in some order
    ans = np.partition(x, 1)
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    expected = np.array([weights[ans == 3.0][0], 1.5, 1.5, weights[ans == 2.0][0]])
    np.testing.assert_array_equal(gradc.grad(t_partition)(x), expected)


def test_nan_to_num_passes_no_gradient_to_replaced_values():
    x = np.array([0.5, np.nan, np.inf, -np.inf, -1.5])
    np.testing.assert_array_equal(gradc.grad(t_nan_to_num)(x), [1.0, 0.0, 0.0, 0.0, 5.0])


def test_angle_has_gradient_zero_at_zero():
    x, y = np.array([0.0, 1.0, 0.0]), np.array([0.0, 1.0, 2.0])
    dx, dy = gradc.grad(t_angle, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(dx, [0.0, -1.0, -1.5], atol=1e-15)  # d/dx atan2(y, x) = -y / |z|^2
    np.testing.assert_allclose(dy, [0.0, 1.0, 0.0], atol=1e-15)  # d/dy atan2(y, x) = x / |z|^2


def test_sinc_derivatives_at_zero_are_exact():
    """sinc'(0) = 0, sinc''(0) = -pi**2 / 3, sinc'''(0) = 0 (the helpers' own rules are exact at 0)."""
    first = gradc.grad(t_sinc)
    second = gradc.grad(first)
    third = gradc.grad(second)
    assert first(0.0) == 0.0
    assert second(0.0) == pytest.approx(-np.pi ** 2 / 3, rel=1e-15)
    assert third(0.0) == 0.0
    for x in (0.3, -1.7):
        eps = 1e-5
        assert second(x) == pytest.approx((first(x + eps) - first(x - eps)) / (2 * eps), rel=1e-7)
        assert third(x) == pytest.approx((second(x + eps) - second(x - eps)) / (2 * eps), rel=1e-6)


def t_pad_mean(x):
    return np.sum(np.pad(x, 1, mode="mean"))


def t_pad_odd(x):
    return np.sum(np.pad(x, 1, mode="reflect", reflect_type="odd"))


def test_pad_refuses_modes_that_compute_their_values():
    with pytest.raises(gradc.NoGradientRuleError, match="mode 'mean'"):
        gradc.grad(t_pad_mean)(r(3))
    with pytest.raises(gradc.NoGradientRuleError, match="reflect_type='even'"):
        gradc.grad(t_pad_odd)(r(3))


def t_linspace_retstep(a, b):
    samples, step = np.linspace(a, b, 4, retstep=True)
    return np.sum(samples) + step


def test_linspace_with_retstep_is_refused():
    with pytest.raises(gradc.NoGradientRuleError, match="retstep=True"):
        gradc.grad(t_linspace_retstep, wrt=(0, 1))(0.3, 1.2)


# -- issue 13's helpers that only code of higher order calls: their own rules, checked directly --------

from gradc import runtime as R  # noqa: E402


def h_column_stack_of(a, b, w):
    return np.sum(np.sin(R.column_stack_of([a, b * 2.0], [a, b])) * w)
def h_gradient_of(x, w):
    gy, gx = R.gradient_of(x, (0.5,), None, 2)
    return np.sum(np.sin(gy) * w) + np.sum(np.cos(gx) * w)
def h_diff_tangent(x, w):
    return np.sum(np.sin(R.diff_tangent(x, 2, 0, 0.5, np.ones((1, 4)))) * w)
def h_pad_linear(x, w, mode):
    return np.sum(np.sin(R.pad_linear(x, ((1, 2), (0, 3)), mode, "even")) * w)
def h_full_spectrum(x, w, like):
    return np.sum(np.sin(R.full_spectrum(x, like, (-1,))) * w)
def h_sinc_curvature(x, w):
    return np.sum(np.sin(R.sinc_curvature(x)) * w)


HIGHER_ORDER_HELPER_CASES = [
    (h_column_stack_of, [r(3), r(3, 2), w(3, 3)], (0, 1)),
    (h_gradient_of, [r(4, 5), w(4, 5)], 0),
    (h_diff_tangent, [r(3, 4), w(3, 4)], 0),
    (h_full_spectrum, [r(3, 4), w(3, 6), np.zeros((3, 6))], 0),
    (h_full_spectrum, [r(3, 4), w(3, 7), np.zeros((3, 7))], 0),
    (h_sinc_curvature, [2.0 * r(3, 4), w(3, 4)], 0),
] + [(h_pad_linear, [r(3, 4), w(6, 7), mode], 0) for mode in ("constant", "edge", "reflect", "symmetric", "wrap")]


@pytest.mark.parametrize("fn, args, wrt", HIGHER_ORDER_HELPER_CASES,
                         ids=[f"{fn.__name__}-{i}" for i, (fn, _, _) in enumerate(HIGHER_ORDER_HELPER_CASES)])
def test_rules_of_helpers_only_higher_order_code_calls(fn, args, wrt):
    assert_gradients(fn, args, wrt=wrt, use_autograd=False)


# -- complex intermediates of a real function: a real value's adjoint keeps its real part ----------

def c_real_between_complex(x):
    z = np.exp(1j * x) * (x + 2.0)
    r = np.abs(z)  # (real; its adjoint, reached through the complex q, must be real before it flows on)
    q = r * (0.3 + 0.7j)
    return np.sum(np.real(q * z))


def c_angle_and_fft(x):
    spectrum = np.fft.fft(np.sin(x) + 0.5j * x)
    return np.sum(np.angle(spectrum + 3.0) * np.abs(spectrum) ** 2)


@pytest.mark.parametrize("f", [c_real_between_complex, c_angle_and_fft], ids=lambda f: f.__name__)
def test_real_adjoints_stay_real_among_complex_values(f):
    x = rng.uniform(-1.0, 1.0, 5)
    assert_gradients(f, [x])
    v = rng.standard_normal(5)
    eps = 1e-5
    g = gradc.grad(f)
    np.testing.assert_allclose(gradc.hvp(f)(x, v), (g(x + eps * v) - g(x - eps * v)) / (2 * eps), rtol=1e-5,
                               atol=1e-6)


def c_float_argument(x):
    return np.real(np.add(x, 0.4 + 1.2j) ** 2)


def test_a_real_arguments_gradient_is_real():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no ComplexWarning: the real part is taken, not cast away)
        g = gradc.grad(c_float_argument)(0.4)
        assert type(g) is float and g == pytest.approx(2 * 0.8)
        ga = gradc.grad(c_real_between_complex)(np.array([0.3, -0.9]))
        assert ga.dtype == np.float64
