"""The intermediate representation: structured SSA.

Grammar (every value is defined exactly once; control flow is nested regions)::

    Function ::= name params:Value* body:Region
    Region   ::= args:Value* ops:Op*            # a region's last op is `yield` or `return`
    Op       ::= kind operands:Value* results:Value* attrs regions:Region* loc

    kind      operands                 results  attrs                          regions
    -------   ----------------------   -------  -----------------------------  ----------------
    const     -                        1        value                          -
    call      args..., kwargs...       1        callee, spelling, kwnames      -
    method    self, args..., kwargs... 1        name, kwnames                  -
    getattr   obj                      1        name                           -
    tuple     items...                 1        -                              -
    list      items...                 1        -                              -
    dict      values...                1        keys (constants)               -
    getitem   obj, index               1        -                              -
    boolop    first                    1        op ("and"/"or")                one per further operand
    if        cond, carried...         n        -                              then, else
    for       iterable, carried...     n        -                              body(item, carried...)
    while     carried...               n        -                              cond(carried...), body(carried...)
    yield     values...                0        -                              -
    return    value                    0        -                              -

Binary and unary operators are `call` ops whose callee is the function of the
`operator` module (`operator.add`, `operator.matmul`, ...); the emitter turns
them back into infix syntax. A `call`'s `spelling` is the AST of the callee as
the user wrote it (``np.linalg.norm``), so generated code reads like the
user's. `if`/`for`/`while` hold their regions as DESIGN.md describes: the
values leaving a branch or loop are the results of the op (the phi, made
explicit) and are handed on by the region's closing `yield`.
"""
from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..errors import Loc

__all__ = ["Value", "Op", "Region", "Function", "OP_KINDS", "STRUCTURED_KINDS", "describe_value", "table_key",
           "LoopParts", "loop_parts", "Insertions", "use_counts", "static_value", "clone_function"]


def table_key(obj: Any) -> Any:
    """`obj` if it can key a dict, else a placeholder that keys nothing (unhashable callees)."""
    try:
        hash(obj)
    except TypeError:
        return _UNHASHABLE
    return obj


_UNHASHABLE = object()

OP_KINDS = frozenset(
    {"const", "call", "method", "getattr", "tuple", "list", "dict", "getitem", "boolop",
     "if", "for", "while", "yield", "return"}
)
STRUCTURED_KINDS = frozenset({"if", "for", "while", "boolop"})

_ids = itertools.count()


@dataclass(eq=False)
class Value:
    """An SSA value.

    Attributes:
        hint: the source variable it came from (``"h"``), or a suggestion for a temporary.
        id: a process-unique number, used only to tell values apart.
        owner: the op that defines it (None for function parameters and region arguments).
    """

    hint: str | None = None
    id: int = field(default_factory=lambda: next(_ids))
    owner: "Op | None" = field(default=None, repr=False)
    #: For an adjoint value: the primal value it is the adjoint of (named `d<name>` on emission).
    adjoint_of: "Value | None" = field(default=None, repr=False)
    #: The hint is a rule's local name, not the user's: it must not take a user's name.
    temp: bool = field(default=False, repr=False)

    def __repr__(self) -> str:
        return f"%{self.hint or 't'}#{self.id}"


@dataclass(eq=False)
class Region:
    """A list of ops with arguments (loop items and carried values bind to `args`)."""

    args: list[Value] = field(default_factory=list)
    ops: list["Op"] = field(default_factory=list)

    def append(self, op: "Op") -> "Op":
        self.ops.append(op)
        return op

    def walk(self) -> Iterator["Op"]:
        """Every op in this region and, recursively, in the regions of its ops."""
        for op in self.ops:
            yield op
            for region in op.regions:
                yield from region.walk()


@dataclass(eq=False)
class Op:
    """One operation. `attrs` holds the static data (callee object, constant, keyword names)."""

    kind: str
    operands: list[Value] = field(default_factory=list)
    results: list[Value] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    regions: list[Region] = field(default_factory=list)
    loc: Loc | None = None
    # The primal statement this op belongs to (for `# line N:` comments); set by lowering.
    stmt: ast.stmt | None = field(default=None, repr=False)
    #: True for ops of the backward sweep (set by the reverse transform).
    backward: bool = False
    #: True for ops computing a tangent (set by the forward transform).
    tangent: bool = False

    @property
    def derivative(self) -> bool:
        """Whether the op computes a derivative (an adjoint or a tangent), not the user's values."""
        return self.backward or self.tangent

    def __post_init__(self) -> None:
        assert self.kind in OP_KINDS, self.kind
        for value in self.results:
            value.owner = self

    @property
    def result(self) -> Value:
        assert len(self.results) == 1, self
        return self.results[0]

    @property
    def kwnames(self) -> tuple[str, ...]:
        return self.attrs.get("kwnames", ())

    def positional(self) -> list[Value]:
        """Operands passed positionally (for `call`; for `method`, after the receiver)."""
        start = 1 if self.kind == "method" else 0
        return self.operands[start:len(self.operands) - len(self.kwnames)]

    def keywords(self) -> dict[str, Value]:
        n = len(self.kwnames)
        return dict(zip(self.kwnames, self.operands[len(self.operands) - n:])) if n else {}


@dataclass(eq=False)
class Function:
    """A function in IR: parameters, a body region, and where it came from."""

    name: str
    params: list[Value]
    body: Region
    file: str = "<unknown>"
    # Source lines of the primal, keyed by line number (for comments and errors).
    lines: dict[int, str] = field(default_factory=dict)
    #: The primal's `ast.arguments` (names, defaults), reused for the generated signature.
    signature: ast.arguments | None = None
    #: "primal", or the reverse-mode mode ("grad", "value_and_grad", "vjp").
    mode: str = "primal"
    #: For a parameter holding a container: its leaves, and the container's structure.
    leaves: dict[int, list[Value]] = field(default_factory=dict)
    structures: dict[int, Any] = field(default_factory=dict)

    def walk(self) -> Iterator[Op]:
        return self.body.walk()

    @property
    def returned(self) -> Value:
        """The value the function returns (straight-line bodies end in one `return`)."""
        last = self.body.ops[-1]
        assert last.kind == "return", last
        return last.operands[0]


# Names for temporaries, by what computes them (shared by the printer and the emitter).
_OPERATOR_NAMES = {"add": "z", "sub": "diff", "mul": "prod", "truediv": "ratio", "matmul": "mm",
                   "pow": "power", "neg": "neg", "getitem": "item"}
# np.sum's result would shadow the builtin `sum`; call it this instead.
_INSTEAD_OF_BUILTINS = {"sum": "total", "max": "largest", "min": "smallest", "abs": "magnitude",
                        "pow": "power", "round": "rounded"}


def describe_value(value: Value, receiver_name: str | None = None) -> str:
    """A readable base name for a temporary: what computes it (`exp`, `mm`, `x_T`)."""
    if value.hint:
        return value.hint
    op = value.owner
    if op is None:
        return "t"
    if op.kind == "call":
        callee = op.attrs["callee"]
        name = getattr(callee, "__name__", "t")
        if getattr(callee, "__module__", None) in ("_operator", "operator") and name in _OPERATOR_NAMES:
            return _OPERATOR_NAMES[name]
        if (getattr(callee, "__module__", None) or "").startswith("gradc."):
            return "grads" if name.startswith("un") else "part"  # never a helper's own name
        name = name.strip("_").removesuffix("_adjoint") or "t"
        return _INSTEAD_OF_BUILTINS.get(name, name)
    if op.kind in ("method", "getattr"):
        return f"{receiver_name}_{op.attrs['name']}" if receiver_name else op.attrs["name"]
    if op.kind == "getitem" and receiver_name:
        index = op.operands[1]
        if index.owner is not None and index.owner.kind == "const" and type(index.owner.attrs["value"]) is int:
            position = index.owner.attrs["value"]
            return f"{receiver_name}_{position}" if position >= 0 else f"{receiver_name}_last{-position - 1 or ''}"
        if index.hint and not index.temp and len(index.hint) <= 3:
            return f"{receiver_name}_{index.hint}"  # x[i] is x_i
    return {"getitem": "item", "tuple": "items", "list": "items", "boolop": "cond"}.get(op.kind, "t")


@dataclass
class LoopParts:
    """A `for`/`while` op taken apart: its body, the items a `for` binds, the carried values
    (the body's arguments for them), their initial values, and what the body yields for them."""

    body: Region
    items: list[Value]
    carried: list[Value]
    inits: list[Value]
    yielded: list[Value]


def loop_parts(op: Op) -> LoopParts:
    """The parts of a loop op (see the grammar: a `for` body's arguments are its items, then
    the carried values; a body that can stop early yields its stop flag first)."""
    body = op.regions[-1]
    n_items = op.attrs.get("n_items", 1) if op.kind == "for" else 0
    inits = op.operands[1:] if op.kind == "for" else op.operands
    stop = 1 if op.attrs.get("stop") else 0
    return LoopParts(body, body.args[:n_items], body.args[n_items:], list(inits), body.ops[-1].operands[stop:])


def static_value(value: Value) -> tuple[bool, Any]:
    """(True, constant) when `value` is a compile-time constant, else (False, None)."""
    if value.owner is not None and value.owner.kind == "const":
        return True, value.owner.attrs["value"]
    return False, None


def clone_function(function: "Function") -> "Function":
    """A copy of `function` that shares no value, op or region with it (the reverse transform
    works on one, leaving the primal it is given as it was). Attributes are copied shallowly:
    the primal's hold no values."""
    values: dict[Value, Value] = {}

    def value(old: Value) -> Value:
        new = values.get(old)
        if new is None:
            new = values[old] = Value(old.hint, temp=old.temp)
        return new

    def region(old: Region) -> Region:
        return Region([value(a) for a in old.args], [op(o) for o in old.ops])

    def op(old: Op) -> Op:
        new = Op(old.kind, [value(v) for v in old.operands], [value(r) for r in old.results], dict(old.attrs),
                 [region(r) for r in old.regions], old.loc, old.stmt)
        new.backward, new.tangent = old.backward, old.tangent
        return new

    params = [value(p) for p in function.params]
    body = region(function.body)
    for old, new in values.items():
        if old.adjoint_of is not None:
            new.adjoint_of = values.get(old.adjoint_of, old.adjoint_of)
    copy = Function(function.name, params, body, function.file, function.lines, function.signature, function.mode,
                    {i: [value(v) for v in leaves] for i, leaves in function.leaves.items()},
                    dict(function.structures))
    for name, extra in vars(function).items():  # (what analyses left on it: kind_dependent, ...)
        if not hasattr(copy, name) or name not in Function.__dataclass_fields__:
            setattr(copy, name, extra)
    return copy


def use_counts(function: "Function") -> dict[Value, int]:
    """How many times each value is read, in the whole function (nested regions included)."""
    uses: dict[Value, int] = {}
    for op in function.walk():
        for value in op.operands:
            uses[value] = uses.get(value, 0) + 1
    return uses


class Insertions:
    """New ops to place just before or just after existing ones, all placed by `apply` in one
    pass over the function (one `list.insert` each would make long regions quadratic)."""

    def __init__(self) -> None:
        self._before: dict[int, list[Op]] = {}
        self._after: dict[int, list[Op]] = {}

    def before(self, anchor: Op, new: Op) -> None:
        self._before.setdefault(id(anchor), []).append(new)

    def after(self, anchor: Op, new: Op) -> None:
        self._after.setdefault(id(anchor), []).append(new)

    def apply(self, function: "Function") -> None:
        if self._before or self._after:
            self._apply(function.body)
            self._before.clear()
            self._after.clear()

    def _apply(self, region: Region) -> None:
        ops: list[Op] = []
        for op in region.ops:
            self._place(op, ops)
            for inner in op.regions:
                self._apply(inner)
        region.ops = ops

    def _place(self, op: Op, ops: list[Op]) -> None:
        """`op` with what goes before and after it (new ops may have their own)."""
        for new in self._before.get(id(op), ()):
            self._place(new, ops)
        ops.append(op)
        for new in self._after.get(id(op), ()):
            self._place(new, ops)
