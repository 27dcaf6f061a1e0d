"""The effect table: what every op kind and every callee does to memory and to the world.

Declared once, asked by every pass (lowering's object model, CSE, dead code, bufferization and
the buffer checker); no pass infers purity from the rule registry. An op's effect says:

- what its result is (`Effect.result`):
    ``"new"``     a new object (an array, a number) whose value depends only on the operands;
                  two equal ops compute equal values, so CSE may merge them.
    ``"alloc"``   a new *mutable* object made to be filled or grown (`np.zeros_like`, `x.copy()`,
                  a list display): every call its own, never merged by CSE.
    ``"view"``    shares memory with operand(s) `of` (`x.T`, `np.flip(x)`, basic slicing).
    ``"maybe"``   may be operand(s) `of` themselves, a view of them, or new, depending on layout
                  or type (`np.reshape`, `np.asarray`, `unbroadcast_to`, an index of unknown kind).
    ``"shared"``  an object this program does not own (a constant array, a module global).
    ``"unknown"`` anything at all, including one of its operands or a global's array.
- `read_only`: writing into the result raises (`np.broadcast_to`, `np.diagonal`).
- `writes`: the operands it updates in place (`tape.append(v)`, `np.add.at`).
- `hidden`: it reads or changes state other than its operands (`np.random`, frame access): two
  calls differ and neither can be dropped.
- `io`: it does input or output, or exists to raise (`print`, gradc's `check_scalar`).

An unknown callee gets ``Effect("unknown")``: not pure, its result may alias its operands.
"""
from __future__ import annotations

import builtins
import math
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import runtime
from .core import Op, table_key

__all__ = ["Effect", "effect_of", "mergeable", "has_effect", "NEW", "ALLOC", "UNKNOWN"]


@dataclass(frozen=True)
class Effect:
    """The declared effect of one op kind or callee (see the module docstring)."""

    result: str = "new"
    of: tuple[int, ...] = ()
    read_only: bool = False
    writes: tuple[int, ...] = ()
    hidden: bool = False
    io: bool = False

    @property
    def pure(self) -> bool:
        """No writes, no hidden state, no I/O, and declared."""
        return not (self.writes or self.hidden or self.io) and self.result != "unknown"


NEW = Effect("new")
ALLOC = Effect("alloc")
SHARED = Effect("shared")
UNKNOWN = Effect("unknown")
HIDDEN = Effect("new", hidden=True)
IO = Effect("new", io=True)


def view(k: int = 0, read_only: bool = False) -> Effect:
    return Effect("view", (k,), read_only)


def maybe(*ks: int) -> Effect:
    return Effect("maybe", ks or (0,))


# -- callees ---------------------------------------------------------------------------------------
#: Functions that always return a view of their first operand.
_NUMPY_VIEWS = ["transpose", "swapaxes", "moveaxis", "rollaxis", "flip", "fliplr", "flipud", "rot90",
                "expand_dims", "squeeze", "permute_dims", "matrix_transpose"]
_NUMPY_READ_ONLY_VIEWS = ["broadcast_to", "diagonal"]
#: Functions that may return their operand itself or a view of it (layout, dtype or type decide).
_NUMPY_MAYBE = ["reshape", "ravel", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray",
                "atleast_1d", "atleast_2d", "atleast_3d", "real", "imag", "diag", "einsum", "squeeze",
                "require", "broadcast_arrays", "split", "array_split", "hsplit", "vsplit", "dsplit",
                "unstack", "asmatrix", "conj", "conjugate", "trim_zeros", "nan_to_num"]
#: Functions returning a new array made to be written into.
_NUMPY_ALLOC = ["zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like",
                "array", "copy", "eye", "identity", "arange", "linspace", "logspace", "geomspace", "tri",
                "meshgrid", "indices", "asarray_chkfinite"]
#: Functions that update an operand in place.
_NUMPY_WRITES = {"copyto": 0, "put": 0, "place": 0, "putmask": 0, "fill_diagonal": 0,
                 "put_along_axis": 0}
#: NumPy namespaces that hold no state and return new arrays unless declared otherwise above.
_PURE_NUMPY_MODULES = ("numpy", "numpy.linalg", "numpy.fft", "numpy.lib")


def _numpy_entries() -> dict[Any, Effect]:
    table: dict[Any, Effect] = {}
    for names, effect in ((_NUMPY_ALLOC, ALLOC), (_NUMPY_MAYBE, maybe(0))):
        for name in names:
            if hasattr(np, name):
                table[getattr(np, name)] = effect
    for name in _NUMPY_VIEWS:
        if hasattr(np, name):
            table[getattr(np, name)] = view(0)
    for name in _NUMPY_READ_ONLY_VIEWS:
        if hasattr(np, name):
            table[getattr(np, name)] = view(0, read_only=True)
    for name, k in _NUMPY_WRITES.items():
        if hasattr(np, name):
            table[getattr(np, name)] = Effect("new", writes=(k,))
    table[np.einsum] = maybe(*range(1, 32))  # ('ij->ji' relabels its operand: a view)
    for name in dir(np.random):
        obj = getattr(np.random, name)
        if callable(obj):
            table[table_key(obj)] = HIDDEN
    return table


_BUILTINS_PURE = [len, range, slice, isinstance, float, int, bool, abs, min, max, sum, pow, round, tuple,
                  sorted, type, divmod, complex, all, any, hash, str, repr, format]
#: (iterators are consumed by a loop: `enumerate(v)` twice is two iterators)
_BUILTINS_ALLOC = [list, dict, set, bytearray, enumerate, zip, reversed, map, filter, iter]
_BUILTINS_HIDDEN = [next, eval, exec, compile, locals, vars, globals, __import__, input, id, open, getattr,
                    setattr, delattr, hasattr, breakpoint, help, dir]

_RUNTIME: dict[Any, Effect] = {
    # (helpers that hand back their operand when there is nothing to do)
    runtime.unbroadcast: maybe(0), runtime.unbroadcast_to: maybe(0), runtime.reshape_like: maybe(0),
    runtime.index_order: NEW, runtime.check_scalar: IO,
    runtime.scatter_add: ALLOC, runtime.zeros_for: ALLOC,
    runtime.assign_item: ALLOC, runtime.erase_item: ALLOC, runtime.list_append: ALLOC,
    runtime.assigned_part: maybe(0), runtime.unappend: view(0),
    runtime.add_at: Effect("view", (0,), writes=(0,)),
    runtime.add_adjoints: maybe(0, 1),
    runtime.sigmoid: NEW, runtime.tie_step: NEW,
    runtime.matmul_lhs: maybe(0, 2), runtime.matmul_rhs: maybe(0, 1), runtime.dot_lhs: maybe(0, 2),
    runtime.dot_rhs: maybe(0, 1), runtime.inner_lhs: NEW, runtime.inner_rhs: NEW,
    runtime.tensordot_lhs: maybe(0), runtime.tensordot_rhs: maybe(0),
    runtime.prod_adjoint: NEW, runtime.split_like: maybe(0), runtime.unstack: maybe(0),
    runtime.hstack_adjoint: maybe(0), runtime.vstack_adjoint: maybe(0), runtime.untile: maybe(0),
    runtime.unrepeat: maybe(0), runtime.norm_adjoint: NEW, runtime.inverse_axes: NEW,
    runtime.einsum_adjoint: maybe(1, 2, 3, 4, 5, 6, 7, 8), runtime.einsum_adjoints: maybe(0, 2),
    runtime.diag_adjoint: maybe(0), runtime.solve_adjoint_b: NEW, runtime.solve_adjoint_a: NEW,
    runtime.astype_adjoint: NEW,
}


def _call_table() -> dict[Any, Effect]:
    table = _numpy_entries()
    for fn in vars(operator).values():
        if callable(fn):
            table[table_key(fn)] = NEW
    for name in ("iadd", "isub", "imul", "itruediv", "imatmul", "ipow", "ifloordiv", "imod", "iand", "ior",
                 "ixor", "ilshift", "irshift", "iconcat"):
        table[getattr(operator, name)] = Effect("maybe", (0,), writes=(0,))
    table[operator.getitem] = maybe(0)
    for fn in vars(math).values():
        if callable(fn):
            table[table_key(fn)] = NEW
    table.update({fn: NEW for fn in _BUILTINS_PURE})
    table.update({fn: ALLOC for fn in _BUILTINS_ALLOC})
    table.update({fn: HIDDEN for fn in _BUILTINS_HIDDEN})
    table[print] = IO
    table.update(_RUNTIME)
    return table


_CALLS = _call_table()

# -- ndarray methods and attributes, by name -------------------------------------------------------
_METHODS: dict[str, Effect] = {
    **{name: NEW for name in ("sum", "mean", "prod", "max", "min", "std", "var", "cumsum", "cumprod", "dot",
                              "clip", "round", "argmax", "argmin", "argsort", "all", "any", "nonzero", "repeat",
                              "take", "trace", "item", "tolist", "conj", "conjugate", "ptp", "searchsorted",
                              "compress", "choose", "tobytes", "__array__", "index", "count", "keys",
                              "values", "items", "get")},
    **{name: ALLOC for name in ("copy", "flatten", "astype")},
    **{name: view(0) for name in ("transpose", "swapaxes", "squeeze", "view")},
    "diagonal": view(0, read_only=True),
    **{name: maybe(0) for name in ("reshape", "ravel")},
    # (a list's, when gradc's own code calls them: tapes)
    "append": Effect("new", writes=(0,)), "extend": Effect("new", writes=(0,)),
    "pop": Effect("maybe", (0,), writes=(0,)),
    **{name: Effect("new", writes=(0,)) for name in ("fill", "sort", "resize", "itemset", "partition",
                                                     "setflags", "put", "clear", "insert", "remove",
                                                     "update", "setdefault")},
}
_ATTRS: dict[str, Effect] = {
    **{name: NEW for name in ("shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides")},
    **{name: view(0) for name in ("T", "mT", "real", "imag")},
    "flat": view(0), "base": maybe(0),
}


def _call_effect(op: Op) -> Effect:
    if op.attrs.get("rule_call"):
        return Effect("maybe", tuple(range(len(op.operands))))  # a rule called, not inlined: pure
    callee = table_key(op.attrs["callee"])
    if isinstance(callee, np.ufunc):
        if "out" in op.kwnames:
            return Effect("view", (len(op.operands) - len(op.kwnames) + op.kwnames.index("out"),),
                          writes=(len(op.operands) - len(op.kwnames) + op.kwnames.index("out"),))
        return NEW
    found = _CALLS.get(callee)
    if found is not None:
        return found
    module = getattr(callee, "__module__", None) or ""
    if module in _PURE_NUMPY_MODULES or (module.startswith("numpy.") and not module.startswith("numpy.random")):
        return NEW  # (NumPy's other functions compute new arrays from their arguments)
    if module.startswith("gradc.rules") or module == "gradc.extend":
        return Effect("maybe", tuple(range(len(op.operands))))  # rules are pure, may return an input
    return UNKNOWN


def effect_of(op: Op) -> Effect:
    """The declared effect of `op` (structured ops: see `has_effect`)."""
    kind = op.kind
    if kind == "call":
        effect = _call_effect(op)
    elif kind == "method":
        effect = _METHODS.get(op.attrs["name"], UNKNOWN)
    elif kind == "getattr":
        effect = _ATTRS.get(op.attrs["name"], UNKNOWN)
    elif kind == "getitem":
        effect = maybe(0)  # a view for a basic index of an array, an item of a container, else new
    elif kind == "const":
        value = op.attrs["value"]
        effect = SHARED if isinstance(value, (np.ndarray, list, dict, set)) else NEW
    elif kind == "tuple":
        effect = NEW
    elif kind in ("list", "dict"):
        effect = ALLOC
    elif kind in ("yield", "return"):
        effect = Effect("new", io=True)  # (control: never dropped, never merged)
    else:
        effect = NEW  # if/for/while/boolop: their regions' ops carry the effects
    if op.attrs.get("effect"):  # (a gradc check called for its effect)
        effect = Effect(effect.result, effect.of, effect.read_only, effect.writes, effect.hidden, True)
    return effect


def mergeable(op: Op) -> bool:
    """Whether CSE may replace `op` by an equal op before it: pure, no regions, not an allocation."""
    if op.regions or op.kind in ("const", "yield", "return") or len(op.results) != 1:
        return False
    effect = effect_of(op)
    return effect.pure and effect.result in ("new", "view", "maybe")


def has_effect(op: Op) -> bool:
    """Whether `op` must run even when nothing reads its results (a write, hidden state, I/O, an
    unknown callee; a loop or branch holding such an op)."""
    if op.regions:
        return any(has_effect(inner) and inner.kind != "yield" for region in op.regions for inner in region.ops)
    return not effect_of(op).pure
