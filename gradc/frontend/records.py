"""Parameters held in records: a `dataclasses.dataclass`, a `typing.NamedTuple`, a
`types.SimpleNamespace`. They are containers, as dicts are: `p.w` reads a field, resolved when
the function is compiled (as `params["w"]` is), and the gradient is a record of the same class.

A record argument in `wrt` has the kind (see `api._kind`)

    ("record", cls, fields, kinds)      kinds[i]: the field's kind, or ("const", kind)

A field holding floats (a float, a floating array, a container of them) is differentiated; any
other field (an int, a string, an integer array, a function) is a constant of the call, read
when the gradient runs. On entry the lowerer reads every field (`w = p.w`) and works on a
display of them (a dict display for a dataclass or a namespace, a tuple display for a named
tuple, which is a tuple) marked with the record's class: `p.w` is then the field's object,
and a use of the record as a whole (passed to a function gradc does not inline, `isinstance`)
is refused, since the display is not the record. The generated gradient returns a dict of the
differentiated fields' gradients; the api makes it a record of the argument's class.
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import types
from typing import Any, Callable

import numpy as np

from ..errors import UnsupportedSyntaxError

__all__ = ["is_record", "fields_of", "record_kind", "is_constant_kind", "differentiable", "unpack_record",
           "gradient_structure", "read_field", "call_method", "refuse_whole_uses", "as_record", "children"]

RECORD = "record"


def is_record(value: Any) -> bool:
    """Whether `value` is a dataclass instance, a named tuple or a SimpleNamespace."""
    kind = type(value)
    return kind is types.SimpleNamespace or (issubclass(kind, tuple) and hasattr(kind, "_fields")) or \
        (dataclasses.is_dataclass(kind) and not isinstance(value, type))


def fields_of(value: Any) -> list[tuple[str, Any]]:
    """A record's fields and their values, in order."""
    kind = type(value)
    if kind is types.SimpleNamespace:
        return list(vars(value).items())
    if issubclass(kind, tuple):
        return list(zip(kind._fields, value))
    return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value) if hasattr(value, f.name)]


def differentiable(value: Any) -> bool:
    """Whether a field is differentiated: floats, floating (or complex: refused later, by name)
    arrays, and containers holding any (a container of ints, a string, a function: a constant)."""
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return False
    if isinstance(value, (float, complex, np.inexact)):
        return True
    if isinstance(value, np.ndarray):
        return np.issubdtype(value.dtype, np.inexact)
    if type(value) in (list, tuple):
        return any(differentiable(v) for v in value)
    if type(value) is dict:
        return any(differentiable(v) for v in value.values())
    if is_record(value):
        return any(differentiable(v) for _, v in fields_of(value))
    return False


def children(value: Any) -> list[tuple[str, Any]]:
    """The differentiated fields of a record (what its gradient holds), in order."""
    return [(name, v) for name, v in fields_of(value) if differentiable(v)]


def record_kind(value: Any, kind_of: Callable[[Any], Any]) -> tuple:
    """A record argument's kind: its class, its fields and each field's kind (see the docstring)."""
    fields = fields_of(value)
    return (RECORD, type(value), tuple(name for name, _ in fields),
            tuple(kind_of(v) if differentiable(v) else ("const", kind_of(v)) for _, v in fields))


def is_constant_kind(kind: Any) -> bool:
    return type(kind) is tuple and len(kind) == 2 and kind[0] == "const"


def gradient_structure(structure: tuple) -> tuple:
    """The structure of a record's gradient, as the IR builds it: a dict of the differentiated fields."""
    _, _, fields, kinds = structure
    kept = [(name, kind) for name, kind in zip(fields, kinds) if not is_constant_kind(kind)]
    return ("dict", tuple(name for name, _ in kept), tuple(kind for _, kind in kept))


# -- lowering ----------------------------------------------------------------------------------------
def unpack_record(lowerer: Any, value: Any, structure: tuple, name: str, leaves: list) -> Any:
    """The record argument `value` read field by field (`w = p.w`), its differentiated fields
    unpacked into `leaves` (in order), as a display marked with the record's class."""
    from ..analysis.shapes import abstract_kind
    _, cls, fields, kinds = structure
    items = []
    for field, kind in zip(fields, kinds):
        item = lowerer.emit("getattr", [value], None, hint=field, name=field, field=True)  # (pure: effects.py)
        if is_constant_kind(kind):
            if lowerer.facts is not None:
                lowerer.facts[item] = abstract_kind(kind[1])
            items.append(item)
        else:
            if lowerer.facts is not None:
                lowerer.facts[item] = abstract_kind(kind)
            items.append(lowerer.unpack(item, kind, field, leaves))
    if issubclass(cls, tuple):  # (a named tuple is a tuple: indexed, unpacked and iterated as one)
        return lowerer.emit("tuple", items, None, record=cls)
    return lowerer.emit("dict", items, None, keys=tuple(fields), record=cls)


def _record_of(lowerer: Any, value: Any) -> tuple[Any, type, list[str]] | None:
    """(the record object `value` is, or None for an item of a list of them; its class; its field
    names), or None where `value` is no record. An item of a list of records of one class, which a
    loop walks, is the display at run time (a dict, or a tuple for a named tuple)."""
    obj = lowerer.heap.obj_of.get(value)
    if obj is None:
        return None
    if getattr(obj, "record", None) is not None:
        slots = lowerer.heap.state.slots[obj]
        return obj, obj.record, list(slots.keys) if slots.keys is not None else list(obj.record._fields)
    if obj.kind != "ambiguous" or not obj.members:
        return None
    found = {(m.record, lowerer.heap.state.slots[m].keys) for m in obj.members if getattr(m, "record", None)}
    if len(found) != 1 or not all(getattr(m, "record", None) for m in obj.members):
        return None
    cls, keys = found.pop()
    return None, cls, list(keys) if keys is not None else list(cls._fields)


def read_field(lowerer: Any, receiver: Any, node: ast.Attribute) -> Any:
    """`p.w` where `p` is a record argument: the field's object, read; a property of the
    record's class is inlined (its body reads the fields); None where `receiver` is no record."""
    found = _record_of(lowerer, receiver)
    if found is None:
        return None
    obj, cls, names = found
    if node.attr in names:
        slots = lowerer.heap.state.slots[obj] if obj is not None else None
        if slots is not None and slots.known:
            return lowerer.read(slots.items[names.index(node.attr)], node)
        key = names.index(node.attr) if issubclass(cls, tuple) else node.attr
        return lowerer.emit("getitem", [receiver, lowerer.const(key)], node, field=True)  # (the display's item)
    found = _class_attribute(cls, node.attr)
    if isinstance(found, property) and isinstance(found.fget, types.FunctionType):
        result = lowerer.inline_call(found.fget, [receiver], {}, _as_call(node))
        if not isinstance(result, str):
            return result
        raise _refusal(lowerer, node, f"the property `{node.attr}` of `{cls.__name__}` could not be inlined "
                       f"({result})", "compute it from the fields in the function")
    if found is not _MISSING and not callable(found) and not isinstance(found, (property, types.MemberDescriptorType)):
        return lowerer.const(found, node)  # (a class attribute: a constant, as a module's global is)
    raise _refusal(lowerer, node, f"`{ast.unparse(node)}`: `{cls.__name__}` has no field `{node.attr}` "
                   f"(its fields are {', '.join(names)})",
                   "gradc follows the fields of a parameter in wrt; read the value from a field")


def call_method(lowerer: Any, receiver: Any, node: ast.Call, args: list, kwargs: dict) -> Any:
    """`p.apply(x)` where `p` is a record argument and `apply` a method of its class written in
    Python: the method inlined with `p` as `self`; None where `receiver` is no record."""
    found = _record_of(lowerer, receiver)
    if found is None:
        return None
    _, cls, _ = found
    name = node.func.attr
    method = _class_attribute(cls, name)
    if isinstance(method, staticmethod):
        method, args = method.__func__, list(args)
    elif isinstance(method, types.FunctionType):
        args = [receiver] + list(args)
    else:
        raise _refusal(lowerer, node, f"`{ast.unparse(node.func)}` is not a method of `{cls.__name__}` written in "
                       "Python, which gradc could inline", "call a function of yours with the fields instead")
    result = lowerer.inline_call(method, args, kwargs, node)
    if isinstance(result, str):
        raise _refusal(lowerer, node, f"the method `{cls.__name__}.{name}` could not be inlined ({result})",
                       "write it as a function of the fields")
    return result


_MISSING = object()


def _class_attribute(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return _MISSING


def _as_call(node: ast.Attribute) -> ast.Call:
    call = ast.Call(node, [], [])
    return ast.copy_location(call, node)


def _refusal(lowerer: Any, node: ast.AST, message: str, hint: str) -> UnsupportedSyntaxError:
    return UnsupportedSyntaxError(message, lowerer.parsed.loc(node), hint)


def refuse_whole_uses(function: Any) -> None:
    """A record argument in wrt is followed field by field, and stands in the IR for a display of
    its fields (a dict; a tuple for a named tuple). Using it as a whole (passing it to a function
    gradc does not inline, returning it, `isinstance`) would hand over that display, not the
    record: refused, naming the line. Allowed: holding it in a list, tuple or dict, indexing such
    a container, walking it in a loop (`for layer in layers: layer.w`), and indexing a named
    tuple or taking its `len`, as the tuple it is."""
    from ..analysis.activity import loop_items
    marked: dict[Any, type] = {}  # a record display, or a value that holds one or may be one
    direct: set = set()  # (the record displays themselves)
    parents = {region.ops[-1]: op for op in function.walk() for region in op.regions
               if region.ops and region.ops[-1].kind == "yield"}
    for op in function.walk():
        cls = op.attrs.get(RECORD) if op.kind in ("dict", "tuple") else None
        if cls is not None:
            marked[op.result] = cls
            direct.add(op.result)
            continue
        holding = [marked[v] for v in op.operands if v in marked]
        if not holding:
            continue
        first = op.operands[0] if op.operands else None
        if op.kind in ("dict", "tuple", "list"):
            marked[op.result] = holding[0]
            continue
        if op.kind == "getitem" and first in marked:
            if op.attrs.get("field"):  # (a field of a record a loop walks: read by records.read_field)
                continue
            if first in direct:
                if issubclass(marked[first], tuple):
                    continue  # (a named tuple's item: a field)
            else:
                marked[op.result] = marked[first]  # (an item of a list of records: may be one)
                continue
        if op.kind == "call" and op.attrs.get("callee") is len and first in direct and issubclass(holding[0], tuple):
            continue
        if op.kind == "call" and op.attrs.get("callee") in (enumerate, zip, reversed) and not op.kwnames:
            marked[op.result] = holding[0]
            continue
        if op.kind == "yield" and op in parents and len(parents[op].results) == len(op.operands):
            for value, result in zip(op.operands, parents[op].results):  # (a branch's or loop's result)
                if value in marked:
                    marked[result] = marked[value]
            continue
        if op.kind == "for" and first in marked:
            for item, sequence, _, counter, _ in loop_items(op):
                if not counter and sequence in marked:
                    marked[item] = marked[sequence]
            if all(v not in marked for v in op.operands[1:]):
                continue
        culprit = next(v for v in op.operands if v in marked)
        what = "returned" if op.kind == "return" else "used as a whole"
        name = f"`{culprit.hint}`" if culprit.hint else "a parameter"
        raise UnsupportedSyntaxError(
            f"{name} (a {_describe(marked[culprit])} in wrt, which gradc differentiates field by field) is "
            f"{what} here, which gradc cannot follow", op.loc,
            "read its fields where they are used (`p.w`), or pass the fields to the function")


def _describe(cls: type) -> str:
    if cls is types.SimpleNamespace:
        return "SimpleNamespace"
    if issubclass(cls, tuple):
        return f"named tuple `{cls.__name__}`"
    return f"dataclass `{cls.__name__}`"


# -- gradients back in the argument's class ------------------------------------------------------------
def as_record(gradient: dict, like: Any, match: Callable[[Any, Any], Any], every_field: bool = False) -> Any:
    """A record of `like`'s class holding the gradients of its differentiated fields (`match`ed to
    each field) and None for each constant field (an int, a string: no gradient); `every_field`:
    `gradient` has every field (a record already), each `match`ed."""
    values = {name: match(gradient[name], v) if every_field or differentiable(v) else None
              for name, v in fields_of(like)}
    kind = type(like)
    if kind is types.SimpleNamespace:
        return types.SimpleNamespace(**values)
    if issubclass(kind, tuple):
        return kind._make(values[name] for name in kind._fields)
    made = copy.copy(like)  # (no __init__ or __post_init__ run: the fields are gradients, not parameters)
    for name, value in values.items():
        object.__setattr__(made, name, value)
    return made
