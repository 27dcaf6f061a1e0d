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
import functools
import inspect
import math
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import runtime
from .core import Op, table_key

__all__ = ["Effect", "effect_of", "effect_of_method", "writes_into", "mergeable", "has_effect", "NEW", "ALLOC",
           "UNKNOWN"]


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
# (Classified by trying each on 1-D, 2-D and transposed arrays: np.shares_memory, `is`,
# flags.writeable, the arguments before and after, two calls with equal arguments.)

#: NumPy functions that always return a view of their first operand (a list of views for split).
_NUMPY_VIEWS = ["transpose", "swapaxes", "moveaxis", "rollaxis", "flip", "fliplr", "flipud", "rot90",
                "expand_dims", "squeeze", "real", "permute_dims", "matrix_transpose", "split", "array_split",
                "hsplit", "vsplit", "dsplit", "trim_zeros"]
_NUMPY_READ_ONLY_VIEWS = ["broadcast_to", "diagonal"]
#: NumPy functions that may return their operand itself, or a view of it, or a new array (layout,
#: dtype, type or an option decide): `np.reshape` of a transpose copies, `np.asarray(x)` is `x`.
_NUMPY_MAYBE = ["reshape", "ravel", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "require",
                "atleast_1d", "atleast_2d", "atleast_3d", "asarray_chkfinite", "asmatrix", "frombuffer",
                "real_if_close", "diff", "unstack", "float64", "float32", "float16", "int64", "int32", "bool_",
                "complex128"]
#: ... and those whose result may be read-only: `np.imag` of a real array is a read-only array of
#: zeros, `np.diag` of a matrix its read-only diagonal.
_NUMPY_MAYBE_READ_ONLY = ["imag", "diag"]
#: NumPy functions that make a new array to be filled or grown: every call its own.
_NUMPY_ALLOC = ["zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like",
                "array", "copy", "eye", "identity", "arange", "linspace", "logspace", "geomspace", "tri",
                "meshgrid", "indices"]
#: NumPy functions that update an operand in place (and their position).
_NUMPY_WRITES = {"copyto": 0, "put": 0, "place": 0, "putmask": 0, "fill_diagonal": 0, "put_along_axis": 0}
#: NumPy functions with global state: error handling, printing, buffers.
_NUMPY_STATEFUL = ["seterr", "geterr", "seterrcall", "geterrcall", "errstate", "set_printoptions",
                   "get_printoptions", "printoptions", "setbufsize", "getbufsize"]
_NUMPY_IO = ["save", "savez", "savez_compressed", "load", "savetxt", "loadtxt", "genfromtxt", "fromfile"]
#: NumPy namespaces whose other functions compute new arrays from their arguments.
_PURE_NUMPY_MODULES = ("numpy", "numpy.linalg", "numpy.fft", "numpy._core.numeric",
                       "numpy._core.fromnumeric", "numpy.lib._function_base_impl")


def _numpy_entries() -> dict[Any, Effect]:
    table: dict[Any, Effect] = {}
    declared = ((_NUMPY_ALLOC, ALLOC), (_NUMPY_MAYBE, maybe(0)), (_NUMPY_VIEWS, view(0)),
                (_NUMPY_READ_ONLY_VIEWS, view(0, read_only=True)),
                (_NUMPY_MAYBE_READ_ONLY, Effect("maybe", (0,), read_only=True)),
                (_NUMPY_STATEFUL, HIDDEN), (_NUMPY_IO, IO))
    for names, effect in declared:
        for name in names:
            if hasattr(np, name):
                table[getattr(np, name)] = effect
    for name, k in _NUMPY_WRITES.items():
        table[getattr(np, name)] = Effect("new", writes=(k,))
    table[np.einsum] = maybe(*range(1, 32))  # ('ij->ji', 'ii->i' of one operand: a view of it)
    table[np.broadcast_arrays] = Effect("maybe", tuple(range(32)), read_only=True)
    table[np.linalg.matrix_power] = maybe(0)  # (n=1: the operand itself)
    if hasattr(np.linalg, "diagonal"):
        table[np.linalg.diagonal] = view(0, read_only=True)
    if hasattr(np.linalg, "matrix_transpose"):
        table[np.linalg.matrix_transpose] = view(0)
    from numpy.lib import stride_tricks
    table[stride_tricks.as_strided] = view(0)
    table[stride_tricks.sliding_window_view] = view(0, read_only=True)
    for ufunc in (np.add, np.subtract, np.multiply, np.divide, np.maximum, np.minimum, np.negative):
        table[table_key(ufunc.at)] = Effect("new", writes=(0,))
    for name in dir(np.random):
        obj = getattr(np.random, name)
        if callable(obj):
            table[table_key(obj)] = HIDDEN
    table[np.random.shuffle] = Effect("new", writes=(0,), hidden=True)
    return table


_BUILTINS_PURE = [len, range, slice, isinstance, issubclass, callable, float, int, bool, complex, abs, sum,
                  pow, round, sorted, type, divmod, hash, repr, str, format, ord, chr, bin, hex, oct, all, any,
                  frozenset, object, hasattr]
#: (a new container or iterator whose items are the operand's own: `list(x2)` holds views of its
#: rows, `tuple(t)` is `t`, `max(a, b)` one of them; an iterator is consumed by one loop)
_BUILTINS_SHARING = {list: ALLOC, dict: ALLOC, set: ALLOC, bytearray: ALLOC,
                     tuple: maybe(0), max: maybe(*range(8)), min: maybe(*range(8)),
                     enumerate: Effect("alloc", (0,)), reversed: Effect("alloc", (0,)), iter: Effect("alloc", (0,)),
                     zip: Effect("alloc", tuple(range(8))), map: UNKNOWN, filter: UNKNOWN}
_BUILTINS_HIDDEN = [eval, exec, compile, locals, vars, globals, __import__, id, dir, getattr]
_BUILTINS_WRITES = {next: Effect("maybe", (0,), writes=(0,), hidden=True), setattr: Effect("new", writes=(0,)),
                    delattr: Effect("new", writes=(0,))}
_BUILTINS_IO = [print, open, input, breakpoint, help]

_RUNTIME: dict[Any, Effect] = {
    # (helpers that may hand back their operand, a view of it, or a read-only broadcast of it)
    runtime.unbroadcast: Effect("maybe", (0,), read_only=True),
    runtime.unbroadcast_to: Effect("maybe", (0,), read_only=True),
    runtime.reshape_like: Effect("maybe", (0,), read_only=True),
    runtime.einsum_adjoint: Effect("maybe", (1,), read_only=True),
    runtime.einsum_adjoints: Effect("maybe", (0,), read_only=True),
    runtime.diag_adjoint: Effect("maybe", (0,), read_only=True),
    runtime.assigned_part: Effect("new", read_only=True),  # (a copy of g's part, maybe broadcast)
    runtime.split_like: maybe(0), runtime.unstack: maybe(0), runtime.hstack_adjoint: view(0),
    runtime.vstack_adjoint: view(0), runtime.unrepeat: maybe(0), runtime.unappend: maybe(0),
    runtime.unconcat: maybe(0), runtime.unrepeat_items: maybe(0),
    runtime.add_adjoints: maybe(0, 1),
    # (new arrays)
    runtime.scatter_add: ALLOC,  # (of a list: Adjoints holding g itself, see analysis/buffers.py)
    runtime.zeros_for: ALLOC, runtime.copy_of: ALLOC, runtime.added_at: ALLOC,
    runtime.assign_item: ALLOC, runtime.erase_item: ALLOC, runtime.list_append: ALLOC,  # (holds items: buffers.py)
    runtime.repeat_items: ALLOC,  # (a new list or tuple of its operand's items: buffers.py)
    runtime.list_without_last: ALLOC, runtime.unpop: maybe(0),  # (holds items: buffers.py)
   
    runtime.sigmoid: NEW, runtime.tie_step: NEW, runtime.matmul_lhs: NEW, runtime.matmul_rhs: NEW,
    runtime.dot_lhs: NEW, runtime.dot_rhs: NEW, runtime.inner_lhs: NEW, runtime.inner_rhs: NEW,
    runtime.tensordot_lhs: NEW, runtime.tensordot_rhs: NEW, runtime.prod_adjoint: NEW, runtime.untile: NEW,
    runtime.norm_adjoint: NEW, runtime.solve_adjoint_a: NEW, runtime.solve_adjoint_b: NEW,
    runtime.astype_adjoint: NEW, runtime.inverse_axes: NEW, runtime.index_order: NEW, runtime.adjoint_dtype: NEW, runtime.floating: NEW,
    runtime.Adjoints: Effect("alloc", (0,)), runtime.AdjointDict: Effect("alloc", (0,)),
    # (writes its accumulator and returns it)
    runtime.add_at: Effect("view", (0,), writes=(0,)),
    runtime.check_scalar: IO,  # (called for the error it raises)
    # (the helpers of the NumPy rules added for issue 13: g itself or a view of it, or new arrays)
    runtime.match_complex: maybe(0), runtime.pad_adjoint: maybe(0), runtime.column_stack_adjoint: maybe(0),
    runtime.no_rule_for: IO,  # (called for the error it raises)
    runtime.resized: maybe(0), runtime.half_spectrum: NEW, runtime.full_spectrum: NEW, runtime.fft_plan: NEW,
    # (`np.r_`/`np.c_` as calls: new arrays; the parts of their adjoint are views of it)
    runtime.r_of: NEW, runtime.c_of: NEW, runtime.join_back: NEW, runtime.shapes_of: NEW,
    runtime.joined_parts: maybe(0),
    **{fn: NEW for fn in (runtime.sinc_slope, runtime.sinc_curvature, runtime.unpermute, runtime.gradient_adjoint,
                          runtime.gradient_of, runtime.undiff, runtime.diff_tangent, runtime.pad_linear,
                          runtime.kron_lhs, runtime.kron_rhs, runtime.diagonal_adjoint, runtime.column_stack_of,
                          runtime.select_adjoints)},
}


def _call_table() -> dict[Any, Effect]:
    table = _numpy_entries()
    for fn in vars(operator).values():
        if callable(fn):
            table[table_key(fn)] = NEW
    for name in ("iadd", "isub", "imul", "itruediv", "imatmul", "ipow", "ifloordiv", "imod", "iand", "ior",
                 "ixor", "ilshift", "irshift", "iconcat"):
        table[getattr(operator, name)] = Effect("maybe", (0,), writes=(0,))
    table[operator.setitem] = table[operator.delitem] = Effect("new", writes=(0,))
    table[operator.concat] = ALLOC  # (a new list or tuple of its operands' items: buffers.py)
    table[operator.getitem] = maybe(0)
    if hasattr(operator, "call"):  # (Python 3.11+)
        table[operator.call] = UNKNOWN
    for fn in vars(math).values():
        if callable(fn):
            table[table_key(fn)] = NEW
    table.update({fn: NEW for fn in _BUILTINS_PURE})
    table.update(_BUILTINS_SHARING)
    table.update({fn: HIDDEN for fn in _BUILTINS_HIDDEN})
    table.update(_BUILTINS_WRITES)
    table.update({fn: IO for fn in _BUILTINS_IO})
    import logging
    import time
    import warnings
    for fn in (logging.debug, logging.info, logging.warning, logging.error, logging.critical,
               logging.exception, logging.log, warnings.warn, warnings.warn_explicit):
        table[fn] = IO
    for fn in (warnings.simplefilter, warnings.filterwarnings, warnings.resetwarnings):
        table[fn] = HIDDEN  # (the filters: global state, as np.seterr's)
    from . import statements  # (`raise`, `with` kept in the forward sweep: calls of these)
    table[statements.raise_exception] = IO
    for fn in statements.CONTEXTS:
        table[fn] = Effect("new", hidden=True, io=True)
    for obj in vars(builtins).values():  # (making an exception or a warning category's instance)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            table[obj] = ALLOC
    for name in dir(time):
        if callable(getattr(time, name)):
            table[table_key(getattr(time, name))] = HIDDEN
    table.update(_RUNTIME)
    from ..extend import stop_gradient
    table[stop_gradient] = maybe(0)  # (x itself)
    return table


_CALLS = _call_table()

# -- ndarray methods and attributes (and a list's or dict's), by name -------------------------------
_METHODS: dict[str, Effect] = {
    **{name: NEW for name in ("sum", "mean", "prod", "max", "min", "std", "var", "cumsum", "cumprod", "dot",
                              "clip", "round", "argmax", "argmin", "argsort", "all", "any", "nonzero", "repeat",
                              "take", "trace", "item", "tolist", "ptp", "searchsorted", "compress", "choose",
                              "tobytes", "index", "count", "byteswap")},
    **{name: ALLOC for name in ("copy", "flatten", "astype", "__copy__", "__deepcopy__")},
    **{name: view(0) for name in ("transpose", "swapaxes", "squeeze", "view")},
    "diagonal": view(0, read_only=True),
    **{name: maybe(0) for name in ("reshape", "ravel", "conj", "conjugate", "__array__", "get", "keys",
                                   "values", "items", "__getitem__")},
    # (a list's, as gradc's own code calls them on tapes; `pop` returns the item itself)
    "append": Effect("new", writes=(0,)), "pop": Effect("maybe", (0,), writes=(0,)),
    **{name: Effect("new", writes=(0,)) for name in ("extend", "insert", "remove", "clear", "reverse", "fill",
                                                     "sort", "partition", "put", "resize", "setfield",
                                                     "setflags", "itemset", "update", "setdefault", "popitem",
                                                     "__setitem__", "__delitem__")},
}
#: Where an ndarray method takes its output array positionally (operands: the receiver is 0).
_METHOD_OUT = {**{name: 3 for name in ("sum", "prod", "mean", "cumsum", "cumprod", "std", "var", "clip", "take",
                                       "compress")},
               **{name: 2 for name in ("max", "min", "argmax", "argmin", "all", "any", "ptp", "round", "dot",
                                       "choose")},
               "trace": 5}
_ATTRS: dict[str, Effect] = {
    **{name: NEW for name in ("shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides")},
    **{name: view(0) for name in ("T", "mT", "real", "flat")},
    "imag": Effect("maybe", (0,), read_only=True), "base": maybe(0),
}


_CALL_EFFECTS: dict[tuple, Effect] = {}  # (callee, keyword names, operand count) → effect, once found


def _call_effect(op: Op) -> Effect:
    callee = table_key(op.attrs["callee"])
    if callee is np.einsum or op.attrs.get("rule_call"):
        return _call_effect_of(op)  # (these depend on the operands)
    key = (callee, op.kwnames, len(op.operands))
    try:
        return _CALL_EFFECTS[key]
    except KeyError:
        effect = _CALL_EFFECTS[key] = _call_effect_of(op)
        return effect
    except TypeError:  # (an unhashable callee)
        return _call_effect_of(op)


def _call_effect_of(op: Op) -> Effect:
    if op.attrs.get("rule_call"):
        return Effect("maybe", tuple(range(len(op.operands))))  # a rule called, not inlined: pure
    callee = table_key(op.attrs["callee"])
    if "out" in op.kwnames:  # (any ufunc, reduction or product given `out=` writes it and returns it)
        out = len(op.operands) - len(op.kwnames) + op.kwnames.index("out")
        return Effect("view", (out,), writes=(out,))
    out = _positional_out(callee, len(op.operands) - len(op.kwnames))
    if out is not None:  # (the same, passed by position: `np.negative(y, y)`, `np.sum(a, 0, None, y)`)
        return Effect("view", (out,), writes=(out,))
    if "copy" in op.kwnames and callee in (np.array, np.asarray, np.reshape):
        return maybe(0)  # (`copy=False`: the operand itself where no copy is needed)
    if isinstance(callee, np.ufunc):
        return NEW
    if callee is np.einsum:
        return _einsum_effect(op)
    found = _CALLS.get(callee)
    if found is not None:
        return found
    module = getattr(callee, "__module__", None) or ""
    if module in _PURE_NUMPY_MODULES or (module.startswith("numpy.") and not module.startswith("numpy.random")):
        return NEW  # (NumPy's other functions compute new arrays from their arguments)
    if module.startswith("gradc.rules") or module == "gradc.extend":
        return Effect("maybe", tuple(range(len(op.operands))))  # rules are pure, may return an input
    if _outputs(callee):
        return IO
    return UNKNOWN


_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "critical", "exception", "log"}
_STREAM_METHODS = {"write", "writelines", "flush"}


def _outputs(callee: Any) -> bool:
    """`log.info` of a `logging.Logger` (or adapter), `sys.stdout.write` of a text stream, that
    the function reaches by name: output only."""
    import io
    import logging
    owner = getattr(callee, "__self__", None)
    name = getattr(callee, "__name__", None)
    return (isinstance(owner, (logging.Logger, logging.LoggerAdapter)) and name in _LOG_METHODS) or \
        (isinstance(owner, io.TextIOBase) and name in _STREAM_METHODS)


def _positional_out(callee: Any, count: int) -> int | None:
    """The position of the output array a NumPy function or ufunc called with `count` positional
    arguments is given by position, if it is."""
    position = _out_position(table_key(callee))  # (an unhashable callee: a key that finds nothing)
    return position if position is not None and count > position else None


@functools.lru_cache(maxsize=None)
def _out_position(callee: Any) -> int | None:
    if isinstance(callee, np.ufunc):
        return callee.nin
    module = getattr(callee, "__module__", None) or ""
    if module.split(".")[0] != "numpy":
        return None
    try:
        params = list(inspect.signature(callee).parameters.values())
    except (TypeError, ValueError):
        return None
    for k, param in enumerate(params):
        if param.kind not in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            return None
        if param.name == "out":
            return k
    return None


def writes_into(callee: Any, count: int) -> tuple[int, ...]:
    """The positions of the arguments a call of `callee` with `count` positional arguments writes into."""
    found = _CALLS.get(table_key(callee), NEW).writes
    out = _positional_out(callee, count)
    return found + ((out,) if out is not None else ())


def effect_of_method(name: str) -> Effect:
    """The declared effect of the ndarray (or list, dict) method `name`."""
    return _METHODS.get(name, UNKNOWN)


def _einsum_effect(op: Op) -> Effect:
    """`np.einsum('ij->ji', a)` relabels its one operand (a view of it); of two operands or more,
    it computes a new array (declared so, or every einsum's operands would share one class)."""
    positional = op.positional()
    if positional and positional[0].owner is not None and positional[0].owner.kind == "const" and \
            isinstance(positional[0].owner.attrs["value"], str):
        return maybe(1) if len(positional) == 2 else NEW
    return maybe(*range(len(positional)))  # (the operand, sublist, ... form)


def effect_of(op: Op) -> Effect:
    """The declared effect of `op` (structured ops: see `has_effect`)."""
    kind = op.kind
    if kind == "call":
        effect = _call_effect(op)
    elif kind == "method":
        effect = _METHODS.get(op.attrs["name"], UNKNOWN)
        positional_out = _METHOD_OUT.get(op.attrs["name"])
        if "out" in op.kwnames:
            out = len(op.operands) - len(op.kwnames) + op.kwnames.index("out")
            effect = Effect("view", (out,), writes=(out,))
        elif positional_out is not None and len(op.operands) - len(op.kwnames) > positional_out:
            effect = Effect("view", (positional_out,), writes=(positional_out,))  # (`y.sum(0, None, out)`)
        elif "copy" in op.kwnames and op.attrs["name"] in ("astype", "reshape"):
            effect = maybe(0)  # (`x.astype(x.dtype, copy=False)` is x)
        if op.attrs.get("fstring"):
            effect = NEW  # (an f-string: `"x was {:.3f}".format(x)`, see ir/statements.py)
    elif kind == "getattr":
        effect = _ATTRS.get(op.attrs["name"], maybe(0) if op.attrs.get("field") else UNKNOWN)  # (a record's field)
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
