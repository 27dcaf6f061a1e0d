"""Stage 6: IR → Python source, built as an `ast` tree and printed by `ast.unparse`.

The emitted module is a factory that binds the names the gradient needs
(NumPy if the user's module lacks it, gradc's runtime helpers, the user's
closure variables) and returns the gradient function. The gradient itself
runs in the user's module globals, so their names mean what they mean there.

Readability, by construction:
- a temporary read once, in the same statement, is inlined into its reader,
  so a primal statement comes out as the user wrote it;
- values keep the user's names, reusing a name for a new SSA version where the
  old one is dead, and adjoints are called `d<name>`;
- every block starts with a `# line N: <primal statement>` comment.
"""
from __future__ import annotations

import ast
import builtins
import keyword
import math
import operator
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..frontend.lower import BINARY_OPERATORS, COMPARE_OPERATORS, UNARY_OPERATORS
from ..ir.core import Function, Op, Value, describe_value

__all__ = ["Emitted", "emit", "FACTORY_NAME"]

FACTORY_NAME = "__gradc_factory__"
_COMMENT = "__gradc_comment__"

_BINARY_AST = {fn: cls for cls, fn in BINARY_OPERATORS.items()}
_UNARY_AST = {fn: cls for cls, fn in UNARY_OPERATORS.items()}
_COMPARE_AST = {fn: cls for cls, fn in COMPARE_OPERATORS.items() if fn is not operator.contains}

@dataclass
class Emitted:
    """Generated source and what the loader must bind to run it."""

    module_source: str  # the factory module, as compiled and shown by tracebacks
    function_source: str  # the gradient function alone, dedented (GradFunction.source)
    function_name: str
    bindings: dict[str, Any]  # factory parameter → object
    closure_names: list[str]  # factory parameters taken from the primal's closure
    line_map: dict[int, int] = field(default_factory=dict)  # module line → primal line


class _Namespace:
    """Deterministic, collision-free names (never random ids: output is a golden fixture)."""

    def __init__(self, reserved: set[str]):
        self.reserved = set(reserved) | set(keyword.kwlist) | set(dir(builtins))
        self.holders: dict[str, int] = {}  # name → last top-level index its holder is read at

    def claim(self, base: str, start: int, end: int, family: set[str]) -> str:
        """A name derived from `base`, free from `start` on, held until `end`."""
        for k in range(1, 10_000):
            name = base if k == 1 else f"{base}_{k}"
            if name in self.reserved and name not in family:
                continue
            if self.holders.get(name, -2) <= start:  # `dx = dx + c` may reuse the name it reads
                self.holders[name] = end
                return name
        raise AssertionError("no free name")  # pragma: no cover

    def bind(self, base: str) -> str:
        """A name reserved for the whole function (factory bindings)."""
        name, k = base, 1
        while name in self.reserved or name in self.holders:
            k += 1
            name = f"{base}_{k}"
        self.reserved.add(name)
        return name


class _Emitter:
    def __init__(self, function: Function, globals_: dict, closure: dict[str, Any], user_names: set[str]):
        self.function = function
        self.globals = globals_
        self.closure = closure
        self.closure_names = set(closure)
        self.ops = function.body.ops
        spelled = self.spelled = self.spelling_roots()
        self.user_names = user_names
        self.namespace = _Namespace(spelled | user_names | {function.name, FACTORY_NAME, _COMMENT})
        self.bindings: dict[str, Any] = {}
        self.bound_ids: dict[int, str] = {}
        self.names: dict[Value, str] = {}
        self.inlined: set[Value] = set()
        self.used_closure = sorted(spelled & self.closure_names)

    # -- analysis -------------------------------------------------------------------------
    def spelling_roots(self) -> set[str]:
        roots = set()
        for op in self.function.walk():
            spelling = op.attrs.get("spelling")
            if spelling is not None:
                node = spelling
                while isinstance(node, ast.Attribute):
                    node = node.value
                if isinstance(node, ast.Name):
                    roots.add(node.id)
        return roots

    def uses(self) -> dict[Value, list[int]]:
        uses: dict[Value, list[int]] = {}
        for index, op in enumerate(self.ops):
            stack = [op]
            while stack:
                inner = stack.pop()
                for v in inner.operands:
                    uses.setdefault(v, []).append(index)
                for region in inner.regions:
                    stack.extend(region.ops)
        return uses

    def choose_inlined(self, uses: dict[Value, list[int]]) -> None:
        for index, op in enumerate(self.ops):
            if len(op.results) != 1 or op.attrs.get("effect"):
                continue
            value = op.result
            readers = uses.get(value, [])
            if op.kind == "const":
                self.inlined.add(value)
                continue
            if value.hint is not None and not value.temp or value.adjoint_of is not None:
                continue
            if len(readers) == 1 and readers[0] > index:
                reader = self.ops[readers[0]]
                if reader.stmt is op.stmt and reader.backward == op.backward and \
                        (reader.kind != "return" or op.kind == "tuple"):
                    self.inlined.add(value)

    def temp_base(self, value: Value) -> str:
        receiver = value.owner.operands[0] if value.owner is not None and value.owner.operands else None
        return describe_value(value, self.names.get(receiver) if receiver is not None else None)

    def base_name(self, value: Value) -> str:
        if value.adjoint_of is not None:
            primal = value.adjoint_of
            return "d" + (self.names.get(primal) or self.temp_base(primal))
        return self.temp_base(value)

    def assign_names(self, uses: dict[Value, list[int]]) -> None:
        for param in self.function.params:
            self.names[param] = param.hint
            self.namespace.holders[param.hint] = max(uses.get(param, [-1]))
            self.namespace.reserved.add(param.hint)
        for index, op in enumerate(self.ops):
            for value in op.results:
                if value in self.inlined or (op.attrs.get("effect") and not uses.get(value)):
                    continue
                base = self.base_name(value)
                family = {base} if (value.hint and not value.temp) else set()
                end = max(uses.get(value, [index]))
                self.names[value] = self.namespace.claim(base, index, end, family)

    # -- references to objects --------------------------------------------------------------
    def module_alias(self, module: types.ModuleType) -> ast.expr:
        """The user's own name for `module` (the one the function spells, else `np`), or a binding."""
        short = {"numpy": "np"}.get(module.__name__, module.__name__)
        candidates = sorted((name for name, obj in self.globals.items() if obj is module),
                            key=lambda name: (name not in self.spelled, name != short, name))
        for name in candidates:
            if name not in self.user_names and name not in self.closure_names and name not in self.namespace.holders:
                return ast.Name(name, ast.Load())
        return self.bound(module, short)

    def bound(self, obj: Any, base: str) -> ast.expr:
        name = self.bound_ids.get(id(obj))
        if name is None:
            name = self.namespace.bind(base)
            self.bound_ids[id(obj)] = name
            self.bindings[name] = obj
        return ast.Name(name, ast.Load())

    def reference(self, obj: Any) -> ast.expr:
        """An expression that denotes `obj` in the generated code."""
        if obj is np or obj is math:
            return self.module_alias(obj)
        for name in sorted(self.spelled):  # a name the function already uses for it
            if self.closure.get(name, self.globals.get(name)) is obj and name not in self.user_names:
                return ast.Name(name, ast.Load())
        name = getattr(obj, "__name__", None)
        if isinstance(name, str):
            if getattr(np, name, None) is obj:
                return ast.Attribute(self.module_alias(np), name, ast.Load())
            if getattr(np.linalg, name, None) is obj:
                return ast.Attribute(ast.Attribute(self.module_alias(np), "linalg", ast.Load()), name, ast.Load())
            if getattr(math, name, None) is obj:
                return ast.Attribute(self.module_alias(math), name, ast.Load())
            if getattr(builtins, name, None) is obj and name not in self.globals \
                    and name not in self.user_names and name not in self.namespace.holders:
                return ast.Name(name, ast.Load())
            module = getattr(obj, "__module__", "") or ""
            base = name.strip("_")
            if module.startswith("gradc.rules"):
                base = f"{base}_vjp"
            return self.bound(obj, base or "obj")
        return self.bound(obj, "const")

    def literal(self, value: Any) -> ast.expr:
        if value is None or isinstance(value, (bool, str, bytes)) or value is Ellipsis:
            return ast.Constant(value)
        if type(value) in (int, float):
            if value != value or value in (math.inf, -math.inf):
                return ast.Call(ast.Name("float", ast.Load()), [ast.Constant(repr(value))], [])
            if value < 0 or (value == 0 and math.copysign(1, value) < 0):
                return ast.UnaryOp(ast.USub(), ast.Constant(-value))
            return ast.Constant(value)
        if isinstance(value, tuple):
            return ast.Tuple([self.literal(v) for v in value], ast.Load())
        if isinstance(value, slice):
            return ast.Call(ast.Name("slice", ast.Load()),
                            [self.literal(value.start), self.literal(value.stop), self.literal(value.step)], [])
        if isinstance(value, np.generic) and np.ndim(value) == 0 and isinstance(value.item(), (int, float)):
            return ast.Call(ast.Attribute(self.module_alias(np), type(value).__name__, ast.Load()),
                            [self.literal(value.item())], [])
        return self.reference(value)

    # -- expressions -------------------------------------------------------------------------
    def expr(self, value: Value) -> ast.expr:
        if value in self.names:
            return ast.Name(self.names[value], ast.Load())
        assert value.owner is not None, value
        return self.op_expr(value.owner)

    def index_expr(self, value: Value) -> ast.expr:
        """A subscript's index: constant slices print as `a:b`."""
        op = value.owner
        if value not in self.names and op is not None:
            if op.kind == "const":
                return self.slice_literal(op.attrs["value"]) if op.attrs.get("spelling") is None \
                    else op.attrs["spelling"]
            if op.kind == "tuple":
                return ast.Tuple([self.index_expr(v) for v in op.operands], ast.Load())
        return self.expr(value)

    def slice_literal(self, value: Any) -> ast.expr:
        if isinstance(value, slice):
            part = lambda v: None if v is None else self.literal(v)  # noqa: E731
            return ast.Slice(part(value.start), part(value.stop), part(value.step))
        if isinstance(value, tuple):
            return ast.Tuple([self.slice_literal(v) for v in value], ast.Load())
        return self.literal(value)

    def op_expr(self, op: Op) -> ast.expr:
        kind = op.kind
        if kind == "const":
            spelling = op.attrs.get("spelling")
            return spelling if spelling is not None else self.literal(op.attrs["value"])
        if kind == "call":
            return self.call_expr(op)
        if kind == "method":
            receiver = self.expr(op.operands[0])
            func = ast.Attribute(receiver, op.attrs["name"], ast.Load())
            return ast.Call(func, [self.expr(v) for v in op.positional()], self.keywords(op))
        if kind == "getattr":
            return ast.Attribute(self.expr(op.operands[0]), op.attrs["name"], ast.Load())
        if kind == "tuple":
            return ast.Tuple([self.expr(v) for v in op.operands], ast.Load())
        if kind == "list":
            return ast.List([self.expr(v) for v in op.operands], ast.Load())
        if kind == "getitem":
            return ast.Subscript(self.expr(op.operands[0]), self.index_expr(op.operands[1]), ast.Load())
        if kind == "boolop":
            values = [self.expr(op.operands[0])] + [self.expr(r.ops[-1].operands[0]) for r in op.regions]
            return ast.BoolOp(ast.And() if op.attrs["op"] == "and" else ast.Or(), values)
        raise AssertionError(f"cannot emit {kind} as an expression")

    def keywords(self, op: Op) -> list[ast.keyword]:
        return [ast.keyword(k, self.expr(v)) for k, v in op.keywords().items()]

    def call_expr(self, op: Op) -> ast.expr:
        callee = op.attrs["callee"]
        args = op.positional()
        if not op.kwnames:
            if callee in _BINARY_AST and len(args) == 2:
                return ast.BinOp(self.expr(args[0]), _BINARY_AST[callee](), self.expr(args[1]))
            if callee in _UNARY_AST and len(args) == 1:
                return ast.UnaryOp(_UNARY_AST[callee](), self.expr(args[0]))
            if callee in _COMPARE_AST and len(args) == 2:
                return ast.Compare(self.expr(args[0]), [_COMPARE_AST[callee]()], [self.expr(args[1])])
            if callee is operator.contains and len(args) == 2:
                return ast.Compare(self.expr(args[1]), [ast.In()], [self.expr(args[0])])
            if callee is operator.getitem and len(args) == 2:
                return ast.Subscript(self.expr(args[0]), self.index_expr(args[1]), ast.Load())
        spelling = op.attrs.get("spelling")
        func = spelling if spelling is not None else self.reference(callee)
        return ast.Call(func, [self.expr(v) for v in args], self.keywords(op))

    # -- statements --------------------------------------------------------------------------
    def statements(self) -> list[ast.stmt]:
        body: list[ast.stmt] = []
        groups: list[tuple[Any, list[ast.stmt]]] = []
        for op in self.ops:
            if op.results and op.result in self.inlined:
                continue
            if op.kind == "return":
                stmt: ast.stmt = ast.Return(self.expr(op.operands[0]))
            elif op.attrs.get("effect") and op.result not in self.names:
                stmt = ast.Expr(self.op_expr(op))
            else:
                targets = [ast.Name(self.names[op.result], ast.Store())]
                stmt = ast.Assign(targets, self.op_expr(op), lineno=0)
            key = (op.stmt, op.backward) if op.stmt is not None else None
            if not groups or groups[-1][0] != key:
                groups.append((key, []))
            groups[-1][1].append(stmt)
        backward_started = False
        for key, stmts in groups:
            is_backward = key is not None and key[1]
            if is_backward and not backward_started:
                body.append(self.comment("backward"))
                backward_started = True
            if key is not None:
                body.append(self.comment(self.describe(key[0])))
            body.extend(stmts)
        return body

    def describe(self, stmt: ast.stmt) -> str:
        lines = self.function.lines
        first, last = stmt.lineno, getattr(stmt, "end_lineno", stmt.lineno) or stmt.lineno
        text = " ".join(lines.get(n, "").strip() for n in range(first, last + 1)).strip()
        text = text or ast.unparse(stmt)
        if len(text) > 90:
            text = text[:87] + "..."
        return f"line {first}: {text}"

    def comment(self, text: str) -> ast.stmt:
        self.comments.append(text)
        call = ast.Call(ast.Name(_COMMENT, ast.Load()), [ast.Constant(len(self.comments) - 1)], [])
        return ast.Expr(call)

    def run(self) -> Emitted:
        self.comments: list[str] = []
        uses = self.uses()
        self.choose_inlined(uses)
        self.assign_names(uses)
        body = self.statements()
        signature = self.signature()
        inner = ast.FunctionDef(self.function.name, signature, body, [], None, lineno=0)
        if hasattr(inner, "type_params"):
            inner.type_params = []
        params = sorted(self.bindings) + self.used_closure
        outer_args = ast.arguments([], [ast.arg(p) for p in params], None, [], [], None, [])
        outer = ast.FunctionDef(FACTORY_NAME, outer_args, [inner, ast.Return(ast.Name(self.function.name, ast.Load()))],
                                [], None, lineno=0)
        if hasattr(outer, "type_params"):
            outer.type_params = []
        module = ast.Module([outer], [])
        ast.fix_missing_locations(module)
        text = self.restore_comments(ast.unparse(module)) + "\n"
        return Emitted(text, _inner_source(text), self.function.name, dict(self.bindings),
                       self.used_closure, _line_map(text))

    def signature(self) -> ast.arguments:
        import copy
        signature = copy.deepcopy(self.function.signature) if self.function.signature is not None else \
            ast.arguments([], [], None, [], [], None, [])
        known = {a.arg for a in signature.posonlyargs + signature.args + signature.kwonlyargs}
        for param in self.function.params:
            if param.hint not in known:  # the cotangent of a vjp
                signature.args.append(ast.arg(param.hint))
        return signature

    def restore_comments(self, text: str) -> str:
        out = []
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith(_COMMENT + "("):
                index = int(stripped[len(_COMMENT) + 1:-1])
                out.append(line[: len(line) - len(line.lstrip())] + "# " + self.comments[index])
            else:
                out.append(line)
        return "\n".join(out)


def _inner_source(text: str) -> str:
    """The gradient function alone: the factory's body less its closing `return`, dedented."""
    lines = text.splitlines()[1:-1]
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(line[4:] for line in lines) + "\n"


def _line_map(text: str) -> dict[int, int]:
    mapping, current = {}, None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("# line "):
            current = int(stripped[len("# line "):].split(":")[0])
        elif stripped.startswith("# backward"):
            current = None
        if current is not None:
            mapping[number] = current
    return mapping


def emit(function: Function, globals_: dict, closure: dict[str, Any], user_names: set[str]) -> Emitted:
    """Print `function` as a Python module (see the module docstring).

    `globals_` and `closure` are the primal's namespaces: objects found there under a name the
    function spells are referred to by that name."""
    return _Emitter(function, globals_, closure, user_names).run()

