"""Stage 6 for arrays of the array API standard: IR → Python source that calls `xp`, not `np`.

The IR of every gradient calls NumPy's functions (the user's `xp.tanh` was lowered to `np.tanh`,
and the rules are written with NumPy). For another library's arrays (array_api_strict, PyTorch
through array_api_compat) this emitter spells each call as the standard's: `xp.tanh`, `xp.acos` for
`np.arccos`, `xp.sum(g, axis=0)` for `g.sum(axis=0)`, `xp.matrix_transpose(b)` for
`np.swapaxes(b, -1, -2)`, and gradc's run-time helpers as their standard twins
(gradc/standard_runtime.py). The gradient starts by asking its arguments for their namespace:

    xp = array_namespace(W, x, y)

A NumPy function the standard does not have (`np.einsum`, `np.add.at`) is refused with a
GradcError naming it and the line whose gradient needs it: a library that cannot express a rule
is never handed NumPy arrays instead.
"""
from __future__ import annotations

import ast
import operator
from typing import Any

import numpy as np

from .. import runtime, standard_runtime
from ..analysis.shapes import shape_of
from ..errors import GradcError
from ..ir.core import Function, Op, Region, static_value, table_key
from ..standard import standard_name
from .emit import _BINARY_AST, _COMPARE_AST, _UNARY_AST, Emitted, _Emitter

__all__ = ["emit_standard"]

#: Array methods NumPy has and the standard spells as functions of the array: `g.sum(axis=0)`.
_METHOD_FUNCTIONS = {"sum", "mean", "prod", "max", "min", "std", "var", "any", "all", "argmax", "argmin"}


class _StandardEmitter(_Emitter):
    def __init__(self, function: Function, globals_: dict, closure: dict[str, Any], user_names: set[str],
                 library: str, namespace_args: list[str]):
        super().__init__(function, globals_, closure, user_names, reserved={"xp"})
        self.checking = False  # (the buffer checker follows NumPy's memory; these arrays are the library's)
        self.library = library
        self.namespace_args = namespace_args
        self.current: Op | None = None

    # -- the namespace ------------------------------------------------------------------------
    def xp(self, *path: str) -> ast.expr:
        node: ast.expr = ast.Name("xp", ast.Load())
        for part in path:
            node = ast.Attribute(node, part, ast.Load())
        return node

    def block(self, region: Region, top: bool = False) -> list[ast.stmt]:
        body = super().block(region, top)
        if not top:
            return body
        if self.namespace_args:
            import array_api_compat
            getter = self.bound(array_api_compat.array_namespace, "array_namespace")
        else:
            getter = self.bound(standard_runtime.namespace_of, "namespace_of")
        args = [ast.Name(name, ast.Load()) for name in self.namespace_args or self.parameter_names()]
        return [ast.Assign([ast.Name("xp", ast.Store())], ast.Call(getter, args, []), lineno=0)] + body

    def parameter_names(self) -> list[str]:
        signature = self.signature()
        return [a.arg for a in signature.posonlyargs + signature.args + signature.kwonlyargs]

    def statement(self, op: Op) -> list[ast.stmt]:
        self.current = op
        return super().statement(op)

    def refuse(self, what: str, why: str = "the array API standard does not have it") -> GradcError:
        op = self.current
        where = op.loc if op is not None else None
        role = "the gradient of this line" if op is not None and op.derivative else "this line"
        return GradcError(f"{role} calls {what} on {self.library} arrays, and {why}", where,
                          hint="pass NumPy arrays for this function, or write it with functions whose gradients "
                               "the standard can express (docs/reference.md, \"Functions written against the "
                               "array API standard\")")

    # -- references -----------------------------------------------------------------------------
    def reference(self, obj: Any) -> ast.expr:
        if isinstance(obj, np.dtype) or (isinstance(obj, type) and issubclass(obj, np.generic)):
            found = standard_name(np.dtype(obj).type)
            if found is None:
                raise self.refuse(f"the dtype {np.dtype(obj)}")
            return self.xp(found[1])
        if isinstance(obj, np.ndarray):
            return ast.Call(self.xp("asarray"), [super().reference(obj)], [])
        module = getattr(obj, "__module__", None) or ""
        name = getattr(obj, "__name__", None)
        if module == runtime.__name__ or obj is getattr(runtime, str(name), None):
            twin = getattr(standard_runtime, str(name), None)
            if twin is None:
                raise self.refuse(f"gradc's helper `{name}`", "it is written for NumPy arrays only")
            return super().reference(twin)
        if module.startswith("gradc.rules"):  # (a rule gradc could not inline, run as the NumPy code it is)
            raise self.refuse(f"the rule `{name}` as NumPy code (gradc could not write it out here, where the "
                              "shapes it depends on are not known)", "that code would take NumPy arrays only")
        if module.split(".")[0] == "numpy" or isinstance(obj, np.ufunc) or getattr(np, str(name), None) is obj:
            found = standard_name(obj)
            if found is None:
                raise self.refuse(f"`np.{name}`")
            return self.xp(*filter(None, found))
        return super().reference(obj)

    def literal(self, value: Any) -> ast.expr:
        if isinstance(value, np.generic) and np.ndim(value) == 0 and isinstance(value.item(), (int, float)):
            return self.literal(value.item())  # (a Python number: the standard's arrays keep their dtype)
        return super().literal(value)

    # -- calls ----------------------------------------------------------------------------------
    def call_expr(self, op: Op) -> ast.expr:
        callee = table_key(op.attrs["callee"])
        if op.attrs.get("spelling") is not None and _is_numpy_or_gradc(op.attrs["callee"]):
            op = _respelled(op)  # (`np.sin` as a gradient gradc generated spells it: spelled for `xp` here)
        if callee in _INDEXED and self.is_array(op.operands[_INDEXED[callee]]):
            raise self.refuse(f"`{callee.__name__}` at an index array (a scatter-add)")
        special = _SPECIAL_CALLS.get(callee)
        if special is not None:
            return special(self, op)
        folded = self.folded(op)
        if folded is not None:
            return folded
        if callee in _BINARY_AST and any(_is_comparison(v) for v in op.operands):
            return self.arithmetic_of_masks(op)
        if callee in (np.std, np.var) and "ddof" in op.kwnames:
            op = _renamed_keyword(op, "ddof", "correction")
        call = super().call_expr(op)
        if isinstance(call, ast.Call):
            self.adjust_arguments(call, op, callee)
        return call

    def adjust_arguments(self, call: ast.Call, op: Op, callee: Any) -> None:
        """NumPy's arguments as the standard takes them, in place."""
        keywords = {k.arg for k in call.keywords}
        if call.args and op.positional() and standard_name(callee) is not None and callee not in _CREATORS and \
                callee not in _SEQUENCE_FIRST and not self.is_array(op.positional()[0]) and \
                not _is_comparison(op.positional()[0]):
            call.args[0] = self.number_array(call.args[0])  # (the standard's functions take arrays)
        if callee in _KEYWORD_ONLY:  # (`np.flip(g, -1)` is `xp.flip(g, axis=-1)`)
            leading, names = _KEYWORD_ONLY[callee]
            extra, call.args = call.args[leading:], call.args[:leading]
            call.keywords = [ast.keyword(name, value) for name, value in zip(names, extra)] + call.keywords
            keywords = {k.arg for k in call.keywords}
        if callee in (np.sum, np.prod, np.mean) and "dtype" in keywords:  # (a sum of booleans as floats: cast first)
            dtype = next(k.value for k in call.keywords if k.arg == "dtype")
            call.keywords = [k for k in call.keywords if k.arg != "dtype"]
            call.args[0] = ast.Call(self.xp("astype"), [call.args[0], dtype], [])
        if callee in _DEFAULT_FLOAT_CREATORS and op.derivative and "dtype" not in keywords:
            call.keywords.append(ast.keyword("dtype", self.xp("float64")))  # (a rule's `np.eye(n)` is NumPy's
            # float64; PyTorch's default is float32)
        if callee is np.where and len(call.args) == 3 and _is_number(call.args[1]) and _is_number(call.args[2]):
            call.args[1] = self.number_array(call.args[1])  # (the standard wants one array of the two)

    def folded(self, op: Op) -> ast.expr | None:
        """A NumPy function of Python numbers only (`np.negative(1)`, a rule's shift) as the number it
        gives: the standard's functions take arrays."""
        values = _constant_operands(op)
        return None if values is None else self.literal(op.attrs["callee"](*values).item())

    def arithmetic_of_masks(self, op: Op) -> ast.expr:
        """`winners * g` where `winners = x == m` (a rule's mask): the standard does no arithmetic on
        booleans, so the mask is cast to the result's dtype first."""
        fact = getattr(self.function, "facts", {}).get(op.result)
        dtype = getattr(fact, "dtype", None)
        name = np.dtype(dtype).name if dtype is not None and np.issubdtype(dtype, np.inexact) else "float64"
        operands = [ast.Call(self.xp("astype"), [self.expr(v), self.xp(name)], []) if _is_comparison(v)
                    else self.expr(v) for v in op.operands]
        return ast.BinOp(operands[0], _BINARY_AST[op.attrs["callee"]](), operands[1])

    def is_number(self, value: Any) -> bool:
        """Whether gradc knows `value` to be a Python number (not an array) when it runs."""
        fact = getattr(self.function, "facts", {}).get(value)
        return fact is not None and (fact.known and type(fact.value) in (int, float) or
                                     fact.shape == () and fact.array is False and fact.dtype is None)

    def is_array(self, value: Any) -> bool:
        """Whether gradc knows `value` to be an array when it runs. (A NumPy scalar where NumPy's code
        would have one may be a 0-d array of the library's, or a number: not known.)"""
        fact = getattr(self.function, "facts", {}).get(value)
        if fact is not None and (fact.array is True or bool(fact.shape)):
            return True
        owner = value.owner  # (what the standard's functions return is an array, 0-d for a full reduction,
        if owner is None:    # unless gradc works it out as a number: `folded`)
            return False
        if owner.kind == "call" and table_key(owner.attrs["callee"]) in _OPERATORS:  # (`a * 2.0`, a an array)
            return any(self.is_array(v) for v in owner.operands)
        if owner.kind == "call":
            return standard_name(table_key(owner.attrs["callee"])) is not None and _constant_operands(owner) is None
        return owner.kind == "method" and owner.attrs["name"] in _METHOD_FUNCTIONS | _METHODS

    def number_array(self, number: ast.expr) -> ast.expr:
        """A Python number as a 0-d array; a float one as NumPy's would be, float64 (PyTorch's default is
        float32). Anything but a literal number goes through `array_of`, which leaves an array as it is."""
        if not _is_number(number):  # (an expression: its type is known when it runs)
            return ast.Call(super().reference(standard_runtime.array_of), [ast.Name("xp", ast.Load()), number], [])
        value = number.operand.value if isinstance(number, ast.UnaryOp) else number.value
        dtype = [ast.keyword("dtype", self.xp("float64"))] if isinstance(value, float) else []
        return ast.Call(self.xp("asarray"), [number], dtype)

    def args(self, op: Op) -> list[ast.expr]:
        return [self.expr(v) for v in op.positional()]

    def known(self, op: Op, position: int, keyword: str = "", default: Any = None) -> Any:
        """A constant argument's value, passed at `position` or as `keyword`; `default` where absent."""
        values = op.positional()
        value = values[position] if position < len(values) else op.keywords().get(keyword)
        if value is None:
            return default
        owner = value.owner
        if owner is None or owner.kind != "const":
            raise self.refuse(f"`{op.attrs['callee'].__name__}` with an argument known only when it runs",
                              "the standard's spelling of it depends on that argument")
        return owner.attrs["value"]

    def swapaxes(self, op: Op) -> ast.expr:
        x = op.positional()[0]
        axes = {self.known(op, 1), self.known(op, 2)}
        ndim = len(shape_of(x, self.shapes) or ()) or None
        if axes == {-1, -2} or (ndim is not None and axes == {ndim - 1, ndim - 2}) or \
                (ndim == 2 and axes == {0, 1}):
            return ast.Call(self.xp("matrix_transpose"), [self.expr(x)], [])
        return self.permuted(x, lambda axes_: _swapped(axes_, *sorted(axes)))

    def transpose(self, op: Op) -> ast.expr:
        x = op.positional()[0]
        axes = op.positional()[1] if len(op.positional()) > 1 else op.keywords().get("axes")
        if axes is not None:
            return ast.Call(self.xp("permute_dims"), [self.expr(x), self.expr(axes)], [])
        return self.permuted(x, lambda axes_: tuple(reversed(axes_)))

    def on_last_axes(self, op: Op) -> ast.expr:
        """`np.trace(a, offset, -2, -1)` (what `xp.linalg.trace` was lowered to) is `xp.linalg.trace`."""
        name = op.attrs["callee"].__name__
        offset = self.known(op, 1, "offset", 0)
        axes = (self.known(op, 2, "axis1", 0), self.known(op, 3, "axis2", 1))
        ndim = len(shape_of(op.positional()[0], self.shapes) or ()) or None
        if axes not in ((-2, -1), (ndim - 2 if ndim else -2, ndim - 1 if ndim else -1)) and \
                not (ndim == 2 and axes == (0, 1)):
            raise self.refuse(f"`np.{name}` over the axes {axes}", "the standard's works on the last two")
        keywords = [ast.keyword("offset", self.literal(offset))]
        dtype = self.known(op, 4, "dtype") if name == "trace" else None
        if dtype is not None:
            keywords.append(ast.keyword("dtype", self.literal(dtype)))
        return ast.Call(self.xp("linalg", name), self.args(op)[:1], keywords)

    def permuted(self, x: Any, permute: Any) -> ast.expr:
        shape = shape_of(x, self.shapes)
        if shape is None:
            raise self.refuse("a transpose of an array whose number of axes gradc does not know",
                              "the standard's `permute_dims` needs the axes")
        return ast.Call(self.xp("permute_dims"), [self.expr(x), self.literal(permute(tuple(range(len(shape)))))], [])

    def cumsum(self, op: Op) -> ast.expr:
        axis, dtype = self.known(op, 1, "axis"), self.known(op, 2, "dtype")
        keywords = [ast.keyword("axis", self.literal(axis))]
        if dtype is not None:
            keywords.append(ast.keyword("dtype", self.literal(dtype)))
        return ast.Call(self.xp("cumulative_sum"), self.args(op)[:1], keywords)

    def norm(self, op: Op) -> ast.expr:
        order, axis = self.known(op, 1, "ord"), self.known(op, 2, "axis")
        keepdims = op.keywords().get("keepdims")
        keep = [ast.keyword("keepdims", self.expr(keepdims))] if keepdims is not None else []
        x = self.args(op)[0]
        if order in (None, 2) and not isinstance(axis, tuple) and \
                (axis is not None or len(shape_of(op.positional()[0], self.shapes) or (0, 0)) == 1):
            return ast.Call(self.xp("linalg", "vector_norm"), [x], [ast.keyword("axis", self.literal(axis))] + keep)
        if order in (None, "fro", "nuc") and (axis is None or isinstance(axis, tuple)):
            return ast.Call(self.xp("linalg", "matrix_norm"), [x], [ast.keyword("ord", self.literal(order or "fro"))]
                            + keep)
        raise self.refuse(f"`np.linalg.norm` with ord={order!r}, axis={axis!r}")

    def copy(self, op: Op) -> ast.expr:
        """`np.array(x)` and `np.copy(x)` (a copy: `xp.asarray(x, copy=True)`'s lowering)."""
        return ast.Call(self.xp("asarray"), self.args(op)[:1],
                        self.keywords(op) + [ast.keyword("copy", ast.Constant(True))])

    def ravel(self, op: Op) -> ast.expr:
        return ast.Call(self.xp("reshape"), self.args(op)[:1] + [self.literal((-1,))], [])

    def shape_call(self, op: Op) -> ast.expr:
        """`np.shape(x)` is `x.shape` for an array; a number's shape is `()`."""
        value = op.positional()[0]
        fact = getattr(self.function, "facts", {}).get(value)
        if self.is_number(value):
            return self.literal(() if op.attrs["callee"] is np.shape else 0)
        if fact is None or not fact.array:
            helper = standard_runtime.shape_of if op.attrs["callee"] is np.shape else standard_runtime.ndim_of
            return ast.Call(super().reference(helper), self.args(op)[:1], [])
        return ast.Attribute(self.args(op)[0], "shape" if op.attrs["callee"] is np.shape else "ndim", ast.Load())

    def complex_test(self, op: Op) -> ast.expr:
        """`np.iscomplexobj(x)` (in a rule): whether x's dtype is complex."""
        return ast.Call(super().reference(standard_runtime.is_complex), self.args(op)[:1], [])

    # -- methods and attributes -------------------------------------------------------------------
    def op_expr(self, op: Op) -> ast.expr:
        if op.kind == "const" and op.attrs.get("spelling") is not None and \
                (isinstance(op.attrs["value"], np.dtype) or _is_numpy_or_gradc(op.attrs["value"])):
            return self.literal(op.attrs["value"])  # (`np.float64` as a gradient gradc generated spells it)
        if op.kind == "method" and (op.attrs["name"] in _METHOD_FUNCTIONS or op.attrs["name"] in _METHODS):
            return self.method_call(op)
        if op.kind == "getattr" and op.attrs["name"] in ("real", "imag"):
            return ast.Call(self.xp(op.attrs["name"]), [self.expr(op.operands[0])], [])
        if op.kind == "getattr" and op.attrs["name"] == "T":
            shape = shape_of(op.operands[0], self.shapes)
            if shape is not None and len(shape) != 2:
                return ast.Call(self.xp("permute_dims"), [self.expr(op.operands[0]),
                                                          self.literal(tuple(reversed(range(len(shape)))))], [])
        return super().op_expr(op)

    def method_call(self, op: Op) -> ast.expr:
        """An array method as the standard's function. Arguments it would not pass on (`order=`) are refused:
        dropped, they could change the value."""
        name = op.attrs["name"]
        receiver, args = self.expr(op.operands[0]), [self.expr(v) for v in op.positional()]
        keywords = self.keywords(op)
        if name in _METHOD_FUNCTIONS and len(args) <= 1:
            keywords = [ast.keyword("correction" if k.arg == "ddof" else k.arg, k.value) for k in keywords]
            axis = [ast.keyword("axis", args[0])] if args else []  # (a method's first argument: the axis)
            return ast.Call(self.xp(name), [receiver], axis + keywords)
        if name == "reshape" and not keywords:
            single = len(args) == 1 and not isinstance(static_value(op.positional()[0])[1], int)
            shape = args[0] if single else ast.Tuple(args, ast.Load())  # (`x.reshape(6)` is to the shape (6,))
            return ast.Call(self.xp("reshape"), [receiver, shape], [])
        if name in ("ravel", "flatten") and not args and not keywords:
            return ast.Call(self.xp("reshape"), [receiver, self.literal((-1,))], [])
        if name == "astype" and len(args) == 1 and all(k.arg == "copy" for k in keywords):
            return ast.Call(self.xp("astype"), [receiver] + args, keywords)
        if name == "copy" and not args and not keywords:
            return ast.Call(self.xp("asarray"), [receiver], [ast.keyword("copy", ast.Constant(True))])
        if name in ("conj", "squeeze", "clip"):
            return ast.Call(self.xp(name), [receiver] + args, keywords)
        if name == "dot" and len(args) == 1 and not keywords and \
                all(len(shape_of(v, self.shapes) or (0, 0, 0)) <= 2 for v in op.operands):
            return ast.BinOp(receiver, ast.MatMult(), args[0])  # (`a.dot(b)` of 1-D and 2-D arrays is `a @ b`)
        raise self.refuse(f"the method `.{name}()` with these arguments")


_METHODS = {"reshape", "ravel", "flatten", "astype", "copy", "conj", "squeeze", "clip", "dot", "transpose",
            "cumsum", "swapaxes", "tolist", "item", "fill", "put", "sort"}


#: Functions that make arrays of the default floating dtype (NumPy's float64) unless told otherwise.
_DEFAULT_FLOAT_CREATORS = {np.zeros, np.ones, np.empty, np.full, np.eye, np.linspace}

#: gradc's helpers that write at an index, and the index's position: at an index array, a scatter-add.
_INDEXED = {runtime.scatter_add: 2, runtime.added_at: 1, runtime.assign_item: 1, runtime.erase_item: 1}

#: Functions whose first argument is a sequence of arrays.
_SEQUENCE_FIRST = {np.concatenate, np.stack, np.broadcast_arrays, np.meshgrid}

#: Functions whose first argument is a shape or a number, not an array.
_CREATORS = {np.zeros, np.ones, np.empty, np.full, np.eye, np.arange, np.linspace, np.asarray}


def _is_number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


#: NumPy functions whose arguments after the first `leading` the standard takes by keyword only:
#: what NumPy takes at those positions, named.
_KEYWORD_ONLY = {
    **{f: (1, ("axis", "dtype", "out", "keepdims")) for f in (np.sum, np.prod, np.mean)},
    **{f: (1, ("axis", "out", "keepdims")) for f in (np.max, np.min, np.amax, np.amin, np.any, np.all,
                                                     np.argmax, np.argmin)},
    **{f: (1, ("axis",)) for f in (np.flip, np.expand_dims, np.concatenate, np.stack)},
    np.roll: (2, ("axis",)), np.tril: (1, ("k",)), np.triu: (1, ("k",)), np.take: (2, ("axis",)), np.tensordot: (2, ("axes",)),
    np.eye: (2, ("k", "dtype")), np.std: (1, ("axis", "dtype", "out", "correction", "keepdims")),
    np.var: (1, ("axis", "dtype", "out", "correction", "keepdims")),
}


#: What an array among the operands makes an array of (`a * 2.0`, `-a`, `a[0]`).
_OPERATORS = set(_BINARY_AST) | set(_UNARY_AST) | {operator.getitem}
_COMPARISONS = set(_COMPARE_AST) | {np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal}


def _constant_operands(op: Op) -> list | None:
    """The operands of a ufunc's call when all are Python numbers gradc knows (it is folded), else None."""
    if not isinstance(op.attrs.get("callee"), np.ufunc) or op.kwnames:
        return None
    values = []
    for value in op.operands:
        owner = value.owner
        if owner is None or owner.kind != "const" or type(owner.attrs["value"]) not in (int, float):
            return None
        values.append(owner.attrs["value"])
    return values


def _is_comparison(value: Any) -> bool:
    owner = value.owner
    return owner is not None and owner.kind == "call" and table_key(owner.attrs["callee"]) in _COMPARISONS


def _swapped(axes: tuple, a: int, b: int) -> tuple:
    axes = list(axes)
    axes[a], axes[b] = axes[b], axes[a]
    return tuple(axes)


def _is_numpy_or_gradc(obj: Any) -> bool:
    module = (getattr(obj, "__module__", None) or "").split(".")[0]
    return module in ("numpy", "gradc") or isinstance(obj, np.ufunc)


def _respelled(op: Op) -> Op:
    copy = Op(op.kind, op.operands, [], dict(op.attrs), op.regions, op.loc)
    copy.attrs["spelling"] = None
    copy.backward, copy.tangent = op.backward, op.tangent
    return copy


def _renamed_keyword(op: Op, old: str, new: str) -> Op:
    renamed = _respelled(op)
    renamed.attrs["kwnames"] = tuple(new if k == old else k for k in op.kwnames)
    return renamed


_SPECIAL_CALLS = {np.swapaxes: _StandardEmitter.swapaxes, np.transpose: _StandardEmitter.transpose,
                  np.cumsum: _StandardEmitter.cumsum,
                  np.linalg.norm: _StandardEmitter.norm, np.shape: _StandardEmitter.shape_call,
                  np.ndim: _StandardEmitter.shape_call, np.trace: _StandardEmitter.on_last_axes,
                  np.diagonal: _StandardEmitter.on_last_axes, np.ravel: _StandardEmitter.ravel,
                  np.array: _StandardEmitter.copy, np.copy: _StandardEmitter.copy,
                  np.iscomplexobj: _StandardEmitter.complex_test}


def emit_standard(function: Function, globals_: dict, closure: dict[str, Any], user_names: set[str],
                  library: str, namespace_args: list[str]) -> Emitted:
    """Print `function` as a Python module whose arrays are `library`'s, through the standard's `xp`."""
    return _StandardEmitter(function, globals_, closure, user_names, library, namespace_args).run()
