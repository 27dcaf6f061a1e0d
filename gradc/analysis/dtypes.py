"""Dtypes of values, as far as they follow from the arguments' dtypes.

A gradient compiled for arguments of known dtypes (the call's kinds) knows the dtype of
most values it computes: NumPy's own promotion, run on one-element stand-ins, says what
`x * 2.0` or `np.sum(mask)` makes of them. The in-place passes need it: `a *= b` is only
right where the result has `a`'s dtype.
"""
from __future__ import annotations

import operator

import numpy as np

from .. import runtime
from ..ir.core import Value, static_value, table_key
from .shapes import is_array_kind

__all__ = ["Dtypes", "python_number"]

_ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.truediv, operator.neg, operator.matmul,
               operator.pow, runtime.sigmoid}
_SAME_DTYPE_METHODS = {"reshape", "transpose", "copy", "ravel", "squeeze"}
_SAME_DTYPE_CALLS = {np.broadcast_to, np.expand_dims, np.reshape, np.transpose, np.squeeze, np.zeros_like}
_REDUCTION_METHODS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}
_REDUCTIONS = {np.sum, np.mean, np.max, np.min, np.amax, np.amin}
_COMPARISONS = {operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge}


class Dtypes:
    """The dtype of values, as far as it follows from the arguments' dtypes by NumPy's own
    promotion (run on one-element stand-ins). A Python number's is its type (`float`, `int`:
    "weak" in NumPy's promotion); None when unknown."""

    def __init__(self, kinds: dict) -> None:
        self.known: dict[Value, object] = {}
        for param, kind in kinds.items():
            if kind is float or kind is int:
                self.known[param] = kind
            elif is_array_kind(kind):
                self.known[param] = kind[1]

    def of(self, value: Value) -> object:
        if value not in self.known:
            self.known[value] = None  # (no cycles in SSA, but be safe)
            self.known[value] = self._infer(value)
        return self.known[value]

    def _infer(self, value: Value) -> object:
        op = value.owner
        if op is None:
            return None
        ok, constant = static_value(value)
        if ok:
            return type(constant) if type(constant) in (int, float) else None
        if op.kind == "getitem" or (op.kind == "method" and op.attrs["name"] in _SAME_DTYPE_METHODS):
            return self._array_dtype(op.operands[0])
        if op.kind == "getattr" and op.attrs["name"] == "T":
            return self._array_dtype(op.operands[0])
        if op.kind == "method" and op.attrs["name"] in _REDUCTION_METHODS and "dtype" not in op.kwnames:
            return self._reduced(_REDUCTION_METHODS[op.attrs["name"]], op.operands[0])
        if op.kind != "call":
            return None
        callee = op.attrs["callee"]
        if table_key(callee) in _SAME_DTYPE_CALLS and "dtype" not in op.kwnames:
            return self._array_dtype(op.operands[0])  # (`np.zeros_like(x, dtype=...)`: not x's)
        if table_key(callee) in _REDUCTIONS and op.positional() and "dtype" not in op.kwnames:
            return self._reduced(callee, op.operands[0])
        if callee is np.einsum and not op.attrs.get("kwnames") and len(op.operands) >= 2:
            dtypes = [self._array_dtype(v) for v in op.operands[1:]]
            return None if any(d is None for d in dtypes) else np.result_type(*dtypes)  # (dtype == None holds)
        if callee is runtime.scatter_add:  # zeros of g's and x's promoted dtype (`adjoint_dtype`), g added
            g, x = self.of(op.operands[0]), self._array_dtype(op.operands[1])
            if g is None or x is None:
                return None
            return runtime.adjoint_dtype(g(1) if python_number(g) else np.ones(1, g), np.ones(1, x))
        arithmetic = callee in _ARITHMETIC or callee in _COMPARISONS or isinstance(callee, np.ufunc)
        if op.attrs.get("kwnames") or not arithmetic:
            return None
        stand_ins = []
        for operand in op.operands:
            dtype = self.of(operand)
            if dtype is None:
                return None
            stand_ins.append(dtype(1) if python_number(dtype) else np.ones((1, 1), dtype))
        try:
            with np.errstate(all="ignore"):
                result = callee(*stand_ins)
        except Exception:  # noqa: BLE001 - whatever NumPy refuses is simply unknown
            return None
        return type(result) if type(result) in (int, float) else np.asarray(result).dtype

    def _reduced(self, reduction, value: Value) -> object:
        """The dtype of a sum (mean, max...) of `value` (a sum of booleans is an integer)."""
        dtype = self._array_dtype(value)
        return None if dtype is None else np.asarray(reduction(np.ones((1, 1), dtype))).dtype

    def _array_dtype(self, value: Value) -> object:
        """The dtype of an array made of `value` (a Python float makes float64, an int int64)."""
        dtype = self.of(value)
        return np.asarray(dtype(1)).dtype if python_number(dtype) else dtype


def python_number(dtype: object) -> bool:
    """Whether a `Dtypes` answer is a Python number's type rather than a NumPy dtype."""
    return dtype is int or dtype is float  # (`np.dtype("int64") == int` holds: no `in`)
