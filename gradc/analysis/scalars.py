"""Which values are scalars (Python numbers or 0-d), given which arguments are.

A gradient is compiled per *signature*: which arguments are Python or NumPy scalars
at the call. Where every operand of an elementwise op but one is a scalar, the
result has that operand's shape, so its gradient needs no `unbroadcast`; where a
value a loop saves is a scalar, its shape is `()` and needs no saving. Scalar code
(the interpreter-bound case) then compiles to plain arithmetic.

The analysis is a forward pass over the structured IR. A loop's carried value is
assumed scalar when its initial value is, and the assumption is dropped (and the
loop analysed again) if the body yields a non-scalar for it.
"""
from __future__ import annotations

import builtins
import operator
import types

import numpy as np

from ..ir.core import Function, Op, Region, Value, loop_parts, table_key

__all__ = ["scalar_values"]

_SCALAR_TYPES = (bool, int, float, np.generic)

# Callees whose result is a scalar when every argument is.
_ELEMENTWISE = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod, operator.pow,
    operator.neg, operator.pos, operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
    operator.not_, operator.and_, operator.or_, builtins.abs, builtins.min, builtins.max, builtins.pow,
    builtins.round,
}
# Callees whose result is always a scalar.
_ALWAYS = {builtins.float, builtins.int, builtins.len, builtins.bool, np.ndim, np.size}
# Reductions that give a scalar when called on one array with no other argument.
_FULL_REDUCTIONS = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.var, np.std}
_FULL_REDUCTION_METHODS = {"sum", "mean", "prod", "max", "min", "var", "std"}


def _scalar_callee(op: Op, scalars: set[Value]) -> bool:
    callee = table_key(op.attrs["callee"])
    if callee in _ALWAYS:
        return True
    if getattr(callee, "__module__", None) == "math" and isinstance(callee, types.BuiltinFunctionType):
        return True  # math functions return Python numbers
    if callee in _FULL_REDUCTIONS and len(op.operands) == 1 and not op.kwnames:
        return True
    elementwise = callee in _ELEMENTWISE or isinstance(callee, np.ufunc)
    return elementwise and not op.kwnames and all(v in scalars for v in op.operands)


def _is_none(value: Value) -> bool:
    return value.owner is not None and value.owner.kind == "const" and value.owner.attrs["value"] is None


def _transfer(op: Op, scalars: set[Value]) -> None:
    kind = op.kind
    if kind == "const":
        if isinstance(op.attrs["value"], _SCALAR_TYPES):
            scalars.add(op.result)
    elif kind == "call":
        if _scalar_callee(op, scalars):
            scalars.add(op.result)
    elif kind == "method":
        if op.attrs["name"] in _FULL_REDUCTION_METHODS and len(op.operands) == 1:
            scalars.add(op.result)
        elif op.attrs["name"] == "item":
            scalars.add(op.result)
    elif kind == "getattr":
        if op.attrs["name"] in ("ndim", "size"):
            scalars.add(op.result)
    elif kind == "boolop":
        if op.operands[0] in scalars and all(r.ops[-1].operands[0] in scalars for r in op.regions):
            scalars.add(op.result)
    elif kind == "if":
        for region in op.regions:
            _region(region, scalars)
        for i, result in enumerate(op.results):
            yielded = [region.ops[-1].operands[i] for region in op.regions]
            if all(v in scalars or _is_none(v) for v in yielded) and not all(_is_none(v) for v in yielded):
                scalars.add(result)  # (None: a name not assigned on that path, never read there)
    elif kind in ("for", "while"):
        _loop(op, scalars)


def _loop(op: Op, scalars: set[Value]) -> None:
    parts = loop_parts(op)
    carried, inits = parts.carried, parts.inits
    if op.kind == "for":
        iterable = op.operands[0].owner
        if iterable is not None and iterable.kind == "call" and iterable.attrs["callee"] is range:
            scalars.update(parts.items)  # integers
    assumed = {i for i, init in enumerate(inits) if init in scalars}
    while True:
        trial = set(scalars)
        for i in assumed:
            trial.add(carried[i])
            if op.kind == "while":
                trial.add(op.regions[0].args[i])
        for region in op.regions:
            _region(region, trial)
        yielded = parts.yielded
        broken = {i for i in assumed if yielded[i] not in trial}
        if not broken:
            break
        assumed -= broken
    scalars |= trial
    scalars.update(op.results[i] for i in assumed)


def _region(region: Region, scalars: set[Value]) -> None:
    for op in region.ops:
        _transfer(op, scalars)


def scalar_values(function: Function, scalar_params: set[Value]) -> set[Value]:
    """Every value known to be a scalar when the parameters in `scalar_params` are."""
    scalars = set(scalar_params)
    _region(function.body, scalars)
    return scalars

