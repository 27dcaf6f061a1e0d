"""Lowering code written against the Python array API standard (`xp.tanh(x)`).

`xp = array_api_compat.array_namespace(...)` (or `x.__array_namespace__()`) binds `xp` to the
standard's namespace, a constant when gradc compiles (`standard.NAMESPACE`): which library provides
it is the arguments' business, and the backend spells the calls for it (backend/standard.py). A call
`xp.f(...)` is lowered to the NumPy function gradc has rules for (`np.f`, or `np.arccos` for
`xp.acos`); the few the standard defines otherwise than NumPy are lowered here to what they compute.
Each op made from the standard's name is marked `standard`, so that a NumPy call the user wrote
(`np.tanh(x)` on another library's array, which that library refuses) can be told apart.
"""
from __future__ import annotations

import ast
import os
from typing import Any

import numpy as np

from ..errors import GradcError
from ..ir.core import Function, Value, static_value
from ..standard import LINALG, NAMESPACE, Namespace, numpy_object

__all__ = ["StandardCalls", "is_namespace_getter", "refuse_numpy_calls"]

#: Whether NumPy's creation functions take `device=` (NumPy 2).
_NUMPY_DEVICES = int(np.__version__.split(".")[0]) >= 2


def is_namespace_getter(callee: Any) -> bool:
    """`array_api_compat.array_namespace` (or its alias `get_namespace`), without importing it."""
    module = getattr(callee, "__module__", None) or ""
    return module.split(".")[0] == "array_api_compat" and \
        getattr(callee, "__name__", None) in ("array_namespace", "get_namespace")


def namespace_of(value: Value) -> Namespace | None:
    """The namespace `value` denotes when gradc compiles (`xp`, `xp.linalg`), or None."""
    ok, obj = static_value(value)
    return obj if ok and isinstance(obj, Namespace) else None


class StandardCalls:
    """`xp.f(...)`, `xp.float64`, `xp.linalg.norm`, for `_Lowerer` (lower.py)."""

    def namespace(self, node: ast.AST) -> Value:
        return self.const(NAMESPACE, node)

    def standard_attribute(self, namespace: Namespace, node: ast.Attribute) -> Value:
        """`xp.linalg`, `xp.pi`, `xp.float64` (a function read as a value is refused)."""
        if namespace is NAMESPACE and node.attr == "linalg":
            return self.const(LINALG, node)
        obj = numpy_object(namespace, node.attr)
        if obj is None or callable(obj) and not isinstance(obj, type):
            raise self.error(node, f"`{namespace.path}.{node.attr}` used as a value: gradc differentiates the "
                             "array API's functions where they are called", "call it here")
        value = self.const(obj, node)
        value.owner.attrs["standard"] = True
        return value

    def standard_call(self, namespace: Namespace, node: ast.Call, args: list[Value],
                      kwargs: dict[str, Value]) -> Value:
        name = node.func.attr
        first = len(self.region.ops)
        special = getattr(self, f"standard_{'linalg_' if namespace is LINALG else ''}{name}", None)
        if special is not None:
            self.read_keywords: set[str] = set()
            value = special(args, kwargs, node)
            ignored = sorted(set(kwargs) - self.read_keywords)
            if ignored:  # (a keyword a lowering would drop: `cumulative_sum(x, dtype=...)` is another sum)
                raise self.error(node, f"`{namespace.path}.{name}` with {', '.join(f'`{k}=`' for k in ignored)} "
                                 "is not supported by gradc")
        else:
            callee = numpy_object(namespace, name)
            if callee is None or not callable(callee):
                raise self.error(node, f"`{namespace.path}.{name}` is not a function of the array API "
                                 "standard that gradc differentiates", "see docs/reference.md, "
                                 "\"Functions written against the array API standard\"")
            value = self.call(callee, args, node, kwargs=self.numpy_keywords(name, kwargs, node))
        for op in self.region.ops[first:]:  # (all the ops it was lowered to: `vecdot` is a sum of products)
            op.attrs["standard"] = True
        return value

    def numpy_keywords(self, name: str, kwargs: dict[str, Value], node: ast.Call) -> dict[str, Value]:
        """The standard's keywords as NumPy's: `correction=` is `ddof=`; `device=` is kept where NumPy
        takes it (2.0 and later: the code for another library's arrays passes it on), else dropped."""
        renamed = {"correction": "ddof"} if name in ("std", "var") else {}
        return {renamed.get(key, key): value for key, value in kwargs.items() if key != "device" or _NUMPY_DEVICES}

    def standard_asarray(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        """`asarray(x, dtype=None, device=None, copy=None)`: `copy=True` is a copy (`np.array`), which
        a write into the result must not reach `x` through."""
        ok, copy = static_value(self.keyword(kwargs, args, 3, "copy", None, node))
        if not ok:
            raise self.error(node, "`asarray` with a `copy=` known only at run time is not supported by gradc")
        rest = self.numpy_keywords("asarray", {k: v for k, v in kwargs.items() if k != "copy"}, node)
        self.read_keywords |= set(kwargs)  # (passed on)
        return self.call(np.array if copy else np.asarray, args[:1], node, kwargs=rest)

    def standard_reshape(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        """`reshape(x, shape, copy=None)`: `copy=True` copies the reshaped array."""
        ok, copy = static_value(self.keyword(kwargs, args, 2, "copy", None, node))
        if not ok:
            raise self.error(node, "`reshape` with a `copy=` known only at run time is not supported by gradc")
        shape = self.keyword(kwargs, args, 1, "shape", None, node)
        reshaped = self.call(np.reshape, [args[0], shape], node)
        return self.call(np.copy, [reshaped], node) if copy else reshaped

    # -- the standard's functions NumPy defines otherwise -------------------------------------------
    def keyword(self, kwargs: dict[str, Value], args: list[Value], position: int, name: str, default: Any,
                node: ast.Call) -> Value:
        self.read_keywords.add(name)
        if len(args) > position:
            return args[position]
        return kwargs[name] if name in kwargs else self.const(default, node)

    def standard_clip(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        """`clip(x, min=None, max=None)`: NumPy's bounds are positional (`a_min`, `a_max`)."""
        low = self.keyword(kwargs, args, 1, "min", None, node)
        high = self.keyword(kwargs, args, 2, "max", None, node)
        return self.call(np.clip, [args[0], low, high], node)

    def standard_astype(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        dtype = self.keyword(kwargs, args, 1, "dtype", None, node)
        return self.emit("method", [args[0], dtype], node, name="astype", kwnames=())

    def standard_matrix_transpose(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        return self.call(np.swapaxes, [args[0], self.const(-1, node), self.const(-2, node)], node)

    standard_linalg_matrix_transpose = standard_matrix_transpose

    def standard_vecdot(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        """`xp.vecdot(a, b, axis=-1)`: the sum over `axis` of `conj(a) * b`."""
        axis = self.keyword(kwargs, args, 2, "axis", -1, node)
        product = self.call(np.multiply, [self.call(np.conj, [args[0]], node), args[1]], node)
        return self.call(np.sum, [product], node, kwargs={"axis": axis})

    standard_linalg_vecdot = standard_vecdot

    def standard_cumulative_sum(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        return self.cumulative(np.cumsum, args, kwargs, node)

    def standard_cumulative_prod(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        return self.cumulative(np.cumprod, args, kwargs, node)

    def cumulative(self, callee: Any, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        ok, initial = static_value(self.keyword(kwargs, args, 3, "include_initial", False, node))
        if not ok or initial:
            raise self.error(node, f"`{node.func.attr}` with include_initial=True is not supported by gradc",
                             "concatenate the initial value yourself")
        axis = self.keyword(kwargs, args, 1, "axis", None, node)
        options = {"axis": axis}
        if "dtype" in kwargs or len(args) > 2:  # (NumPy's rule for cumsum has no `dtype=`: refused by it, by name)
            options["dtype"] = self.keyword(kwargs, args, 2, "dtype", None, node)
        return self.call(callee, [args[0]], node, kwargs=options)

    def standard_linalg_vector_norm(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        """`vector_norm(x, axis=None, keepdims=False, ord=2)`: every element of `x` is one vector's
        when `axis` is None (`np.linalg.norm` would read a 2-D `x` as a matrix)."""
        x = args[0]
        axis = self.keyword(kwargs, args, 1, "axis", None, node)
        keepdims = self.keyword(kwargs, args, 2, "keepdims", False, node)
        order = self.keyword(kwargs, args, 3, "ord", 2, node)
        (axis_known, axis_value), (order_known, order_value) = static_value(axis), static_value(order)
        if not axis_known or not order_known or isinstance(axis_value, tuple):
            raise self.error(node, "`vector_norm` with an axis or order known only at run time, or over several "
                             "axes, is not supported by gradc", "reshape the vectors onto one axis first")
        if axis_value is None:
            ok, keep = static_value(keepdims)
            if not ok or keep:
                raise self.error(node, "`vector_norm` of all elements with keepdims=True is not supported by gradc")
            fact = (self.facts or {}).get(x)
            self.root.kind_dependent |= self.facts is None  # (lowered again for each kind of call)
            if fact is None or fact.shape is None or len(fact.shape) != 1:
                x = self.call(np.reshape, [x, self.const((-1,), node)], node)
        order = self.const(None, node) if order_value == 2 else order
        return self.call(np.linalg.norm, [x, order], node, kwargs={"axis": axis, "keepdims": keepdims})

    def standard_linalg_matrix_norm(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        keepdims = self.keyword(kwargs, args, 1, "keepdims", False, node)
        order = self.keyword(kwargs, args, 2, "ord", "fro", node)
        return self.call(np.linalg.norm, [args[0], order], node,
                         kwargs={"axis": self.const((-2, -1), node), "keepdims": keepdims})

    def standard_linalg_svdvals(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        return self.call(np.linalg.svd, [args[0]], node, kwargs={"compute_uv": self.const(False, node)})

    def standard_linalg_cross(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        return self.call(np.cross, args, node, kwargs={"axis": self.keyword(kwargs, args, 2, "axis", -1, node)})

    def standard_linalg_trace(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        """`trace(x, offset=0)` sums over the last two axes (NumPy's, over the first two)."""
        offset = self.keyword(kwargs, args, 1, "offset", 0, node)
        dtype = self.keyword(kwargs, args, 2, "dtype", None, node)
        return self.call(np.trace, [args[0], offset, self.const(-2, node), self.const(-1, node), dtype], node)

    def standard_linalg_diagonal(self, args: list[Value], kwargs: dict[str, Value], node: ast.Call) -> Value:
        offset = self.keyword(kwargs, args, 1, "offset", 0, node)
        return self.call(np.diagonal, [args[0], offset, self.const(-2, node), self.const(-1, node)], node)


_GRADC_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def refuse_numpy_calls(primal: Function, library: str) -> None:
    """Refuse a NumPy function the user's code calls (not one of the standard's, `xp.f`) in a gradient
    for `library`'s arrays: that library's arrays are not NumPy's, and Python would fail there too."""
    for op in primal.walk():
        if op.kind != "call" or op.attrs.get("standard") or op.loc is None or op.loc.file.startswith("<gradc") \
                or op.loc.file.startswith(_GRADC_DIRECTORY):
            continue  # (gradc's own calls, or a gradient it generated, differentiated again: rules' calls)
        callee = op.attrs["callee"]
        module = (getattr(callee, "__module__", None) or "").split(".")[0]
        if module == "numpy" or isinstance(callee, np.ufunc):
            name = getattr(callee, "__name__", repr(callee))
            raise GradcError(f"`np.{name}` is NumPy's, and this call of the gradient passes {library} arrays",
                             op.loc, hint="call the arrays' own namespace: `xp = array_api_compat.array_namespace(x)`, "
                                          f"then `xp.{name}(...)`")
