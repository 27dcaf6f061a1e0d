"""Stage 6: IR → Python source, built as an `ast` tree and printed by `ast.unparse`.

The emitted module is a factory that binds the names the gradient needs
(NumPy if the user's module lacks it, gradc's runtime helpers, the user's
closure variables) and returns the gradient function. The gradient itself
runs in the user's module globals, so their names mean what they mean there.

Which values are inlined and what each variable is called is decided in
`names.py`; this module builds the statements: a structured `if`/`for`/`while`
op becomes the Python statement, with the copies its yields need (rare: only
where two versions of a variable are needed at once), and every block starts
with a `# line N: <primal statement>` comment.
"""
from __future__ import annotations

import ast
import builtins
import math
import operator
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..frontend.lower import BINARY_OPERATORS, COMPARE_OPERATORS, UNARY_OPERATORS
from .. import runtime
from ..analysis.shapes import shape_of
from ..passes.bufferize import REUSE_MIN_ELEMENTS, UFUNC_OF
from ..analysis.buffers import UPDATES, Buffers
from ..ir.core import Function, Op, Region, Value, table_key
from . import check, effect_statements
from .names import Layout, _is_undefined

__all__ = ["Emitted", "emit", "FACTORY_NAME"]

FACTORY_NAME = "__gradc_factory__"
_COMMENT = "__gradc_comment__"

_BINARY_AST = {fn: cls for cls, fn in BINARY_OPERATORS.items()}
_BINARY_AST.update({operator.concat: ast.Add, runtime.repeat_items: ast.Mult})  # (of lists and tuples)
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


class _Emitter:
    def __init__(self, function: Function, globals_: dict, closure: dict[str, Any], user_names: set[str],
                 reserved: set[str] = frozenset()):
        self.function = function
        self.globals = globals_
        self.closure = closure
        self.closure_names = set(closure)
        self.spelled = self.spelling_roots()
        self.user_names = user_names
        helpers = set(runtime.__all__) | {"np", "math"} | reserved
        self.layout = Layout(function, self.spelled | helpers | {function.name, FACTORY_NAME, _COMMENT, check.CHECK_NAME},
                             user_names)
        self.names = self.layout.names
        self.inlined = self.layout.inlined
        self.taken = set(self.names.values()) | self.spelled | user_names | {function.name, FACTORY_NAME}
        self.bindings: dict[str, Any] = {}
        self.bound_ids: dict[int, str] = {}
        self.used_closure = sorted(self.spelled & self.closure_names)
        self.comments: list[str] = []
        self.aliases: dict[int, str] = {}
        self.spelled_objects: dict[int, str] | None = None
        self.shapes = {v: f.shape for v, f in getattr(function, "facts", {}).items() if f.shape is not None}
        self.checking = check.enabled()  # (GRADC_VERIFY=1: compile the instrumented twin, backend/check.py)
        if self.checking:
            self.check_table = check.CheckTable(function=function.name)
            self.check_numbers: dict[Value, int] = {}
            self.check_buffers = getattr(function, "buffers", None) or Buffers(function)

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

    # -- references to objects --------------------------------------------------------------
    def module_alias(self, module: types.ModuleType) -> ast.expr:
        """The user's own name for `module` (the one the function spells, else `np`), or a binding."""
        if id(module) not in self.aliases:
            self.aliases[id(module)] = self.find_module_alias(module)
        return ast.Name(self.aliases[id(module)], ast.Load())

    def find_module_alias(self, module: types.ModuleType) -> str:
        short = {"numpy": "np"}.get(module.__name__, module.__name__)
        candidates = sorted((name for name, obj in self.globals.items() if obj is module),
                            key=lambda name: (name not in self.spelled, name != short, name))
        variables = set(self.names.values())
        for name in candidates:
            if name not in self.user_names and name not in self.closure_names and name not in variables:
                return name
        return self.bound(module, short).id

    def bound(self, obj: Any, base: str) -> ast.expr:
        name = self.bound_ids.get(id(obj))
        if name is None:
            name, k = base, 1
            while name in self.taken or name in self.bindings:
                k += 1
                name = f"{base}_{k}"
            self.bound_ids[id(obj)] = name
            self.bindings[name] = obj
        return ast.Name(name, ast.Load())

    def reference(self, obj: Any) -> ast.expr:
        """An expression that denotes `obj` in the generated code."""
        if obj is np or obj is math:
            return self.module_alias(obj)
        if self.spelled_objects is None:  # the objects the function's own names denote
            self.spelled_objects = {}
            for name in sorted(self.spelled, reverse=True):
                if name not in self.user_names:
                    self.spelled_objects[id(self.closure.get(name, self.globals.get(name)))] = name
        if id(obj) in self.spelled_objects:
            return ast.Name(self.spelled_objects[id(obj)], ast.Load())
        name = getattr(obj, "__name__", None)
        if isinstance(name, str):
            if getattr(np, name, None) is obj:
                return ast.Attribute(self.module_alias(np), name, ast.Load())
            if getattr(np.linalg, name, None) is obj:
                return ast.Attribute(ast.Attribute(self.module_alias(np), "linalg", ast.Load()), name, ast.Load())
            if getattr(math, name, None) is obj:
                return ast.Attribute(self.module_alias(math), name, ast.Load())
            if getattr(builtins, name, None) is obj and name not in self.globals and name not in self.taken:
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
            if spelling is not None and op.attrs.get("module") is not None:
                return self.through_module(spelling, op.attrs["module"])
            return spelling if spelling is not None else self.literal(op.attrs["value"])
        if kind == "call":
            return self.call_expr(op)
        if kind == "method":
            if op.attrs.get("fstring"):
                return effect_statements.fstring(self, op)  # (printed back as the f-string it was)
            receiver = self.expr(op.operands[0])
            func = ast.Attribute(receiver, op.attrs["name"], ast.Load())
            return ast.Call(func, [self.expr(v) for v in op.positional()], self.keywords(op))
        if kind == "getattr":
            return ast.Attribute(self.expr(op.operands[0]), op.attrs["name"], ast.Load())
        if kind == "tuple":
            return ast.Tuple([self.expr(v) for v in op.operands], ast.Load())
        if kind == "list":
            return ast.List([self.expr(v) for v in op.operands], ast.Load())
        if kind == "dict":
            return ast.Dict([self.literal(k) for k in op.attrs["keys"]], [self.expr(v) for v in op.operands])
        if kind == "getitem":
            return ast.Subscript(self.expr(op.operands[0]), self.index_expr(op.operands[1]), ast.Load())
        if kind == "boolop":
            values = [self.expr(op.operands[0])] + [self.expr(r.ops[-1].operands[0]) for r in op.regions]
            return ast.BoolOp(ast.And() if op.attrs["op"] == "and" else ast.Or(), values)
        raise AssertionError(f"cannot emit {kind} as an expression")

    def through_module(self, spelling: ast.expr, module: types.ModuleType) -> ast.expr:
        """`SCALE` of another module's function, spelled `nn_inner.SCALE` (read when it runs)."""
        if isinstance(spelling, ast.Attribute):
            return ast.Attribute(self.through_module(spelling.value, module), spelling.attr, ast.Load())
        name = module.__name__.rsplit(".", 1)[-1]
        return ast.Attribute(self.bound(module, name), spelling.id, ast.Load())

    def keywords(self, op: Op) -> list[ast.keyword]:
        return [ast.keyword(k, self.expr(v)) for k, v in op.keywords().items()]

    def call_expr(self, op: Op) -> ast.expr:
        callee = table_key(op.attrs["callee"])
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
        exprs = [self.expr(v) for v in op.operands]
        for k in op.attrs.get("copies", ()):  # (a recursive call writes into these: it gets copies)
            exprs[k] = ast.Call(self.reference(runtime.copy_of), [exprs[k]], [])
        keywords = [ast.keyword(name, e) for name, e in zip(op.kwnames, exprs[len(args):])]
        return ast.Call(func, exprs[:len(args)], keywords)

    # -- statements --------------------------------------------------------------------------
    def block(self, region: Region, top: bool = False) -> list[ast.stmt]:
        """The statements of a region, with a comment heading each primal statement's block."""
        body: list[ast.stmt] = []
        current: Any = ()
        backward_started = False
        for op in region.ops:
            if op.kind == "yield" or (op.results and op.results[0] in self.inlined):
                continue
            stmts = self.statement(op)
            if not stmts:
                continue
            if self.checking:
                stmts = self.checked(op, stmts)
            stmt = getattr(op.stmt, "comment_as", op.stmt)  # (a comprehension's loop: its statement's)
            key = (stmt, op.backward) if stmt is not None else None
            if top and op.backward and not backward_started:
                body.append(self.comment("backward"))
                backward_started = True
                current = ()
            if key != current and key is not None and not getattr(stmt, "flag", False):
                body.append(self.comment(self.describe(stmt)))
            current = key
            body.extend(stmts)
        return effect_statements.finish_block(body, _is_comment)  # (`with`, and nothing after a `raise`)

    def statement(self, op: Op) -> list[ast.stmt]:
        kept = effect_statements.statement(self, op)  # (`raise`, `assert`, `with` as written)
        if kept is not None:
            return kept
        if op.kind == "return":
            return [ast.Return(self.expr(op.operands[0]))]
        if op.kind == "if":
            return self.if_statement(op)
        if op.kind == "for":
            return self.for_statement(op)
        if op.kind == "while":
            return self.while_statement(op)
        if op.kind == "call" and table_key(op.attrs["callee"]) in UPDATES:
            return self.update_statement(op)
        if op.attrs.get("inplace") and self.names.get(op.result) is not None and \
                self.names.get(op.result) == self.names.get(op.operands[0]):
            scatter = op.attrs.get("into")
            if scatter is not None and op.operands[1] in self.inlined:  # `dx[1:] += g`
                g, _, index = scatter.operands
                target = ast.Subscript(self.expr(op.operands[0]), self.index_expr(index), ast.Store())
                return [ast.AugAssign(target, ast.Add(), self.expr(g))]
            target = ast.Name(self.names[op.result], ast.Store())
            update = _BINARY_AST[op.attrs["callee"]]()
            return [ast.AugAssign(target, update, self.expr(op.operands[1]))]  # `dx += c`, `a *= b`
        in_place = op.attrs.get("inplace") and op.attrs.get("into") is None and op.attrs.get("callee") in UFUNC_OF
        if op.kind == "call" and op.result in self.names and (op.attrs.get("out") is not None or (
                in_place and op.operands[0] in self.names and op.operands[0] not in self.inlined)):
            # (`a *= b` whose result could not share `a`'s variable: `dx = np.subtract(dxc, g, out=dxc)`)
            return [ast.Assign([ast.Name(self.names[op.result], ast.Store())], self.out_call(op), lineno=0)]
        if op.results and op.result in self.names:
            return [ast.Assign([ast.Name(self.names[op.result], ast.Store())], self.op_expr(op), lineno=0)]
        return [ast.Expr(self.op_expr(op))]

    def update_statement(self, op: Op) -> list[ast.stmt]:
        """An update of an array or list: written in place where bufferization decided so
        (`y[i] = v`, `items.append(x)`, `dv[k] += g`, `dy[i] = 0.0`), else the helper that copies."""
        callee = op.attrs["callee"]
        result = self.names.get(op.result)
        if not op.attrs.get("inplace"):
            helper = runtime.added_at if callee is runtime.add_at else callee
            call = ast.Call(self.reference(helper), [self.expr(v) for v in op.operands], [])
            return [ast.Assign([ast.Name(result, ast.Store())], call, lineno=0)] if result else [ast.Expr(call)]
        before: list[ast.stmt] = []
        target = self.expr(op.operands[0])
        if result is not None and result != self.names.get(op.operands[0]):
            before.append(ast.Assign([ast.Name(result, ast.Store())], target, lineno=0))  # (one array, two names)
            target = ast.Name(result, ast.Load())
        if callee is runtime.list_append:
            append = ast.Attribute(target, "append", ast.Load())
            return before + [ast.Expr(ast.Call(append, [self.expr(op.operands[1])], []))]
        if callee is runtime.list_without_last:
            return before + [ast.Expr(ast.Call(ast.Attribute(target, "pop", ast.Load()), [], []))]
        if callee is runtime.add_at and not shape_of(op.operands[0], self.shapes):
            call = ast.Call(self.reference(runtime.add_at), [target] + [self.expr(v) for v in op.operands[1:]], [])
            return before + [ast.Expr(call)]  # (a list's accumulator: the helper reaches into it)
        item = ast.Subscript(target, self.index_expr(op.operands[1]), ast.Store())
        if callee is runtime.add_at:
            return before + [ast.AugAssign(item, ast.Add(), self.expr(op.operands[2]))]
        value = ast.Constant(0.0) if callee is runtime.erase_item else self.expr(op.operands[2])
        return before + [ast.Assign([item], value, lineno=0)]

    def out_call(self, op: Op) -> ast.expr:
        """`np.multiply(a, b, out=a)`: the operator's ufunc writing into the operand that dies."""
        callee = op.attrs["callee"]
        ufunc = UFUNC_OF.get(callee, callee)
        func = op.attrs.get("spelling") if ufunc is callee and op.attrs.get("spelling") is not None \
            else self.reference(ufunc)
        target = self.expr(op.operands[op.attrs.get("out") or 0])
        return ast.Call(func, [self.expr(v) for v in op.operands], [ast.keyword("out", target)])

    def copies(self, targets: list[Value], sources: list[Value]) -> list[ast.stmt]:
        """Assignments that make each target's variable hold its source (parallel when they overlap)."""
        pairs = []
        for target, source in zip(targets, sources):
            name = self.names.get(target)
            if name is None or self.names.get(source) == name:
                continue  # (a name unassigned on this path still gets None: a loop may save it)
            pairs.append((name, source))
        if not pairs:
            return []
        read = {n for _, source in pairs for n in self.source_names(source)}
        if len(pairs) > 1 and read & {name for name, _ in pairs}:
            targets_ast = ast.Tuple([ast.Name(n, ast.Store()) for n, _ in pairs], ast.Store())
            values = ast.Tuple([self.expr(v) for _, v in pairs], ast.Load())
            return [ast.Assign([targets_ast], values, lineno=0)]
        return [ast.Assign([ast.Name(n, ast.Store())], self.expr(v), lineno=0) for n, v in pairs]

    def source_names(self, value: Value) -> set[str]:
        return {self.names[v] for v in self.layout.reads(value.owner) if v in self.names} \
            if value in self.inlined and value.owner is not None else {self.names.get(value, "")}

    def region_with_yield(self, region: Region, targets: list[Value], skip: int = 0) -> list[ast.stmt]:
        body = self.block(region)
        body += self.copies(targets, region.ops[-1].operands[skip:])
        return body

    def if_statement(self, op: Op) -> list[ast.stmt]:
        then = self.region_with_yield(op.regions[0], op.results)
        orelse = self.region_with_yield(op.regions[1], op.results)
        test = self.expr(op.operands[0])
        if not then and not orelse:
            return []
        if not then:
            test, then, orelse = ast.UnaryOp(ast.Not(), test), orelse, []
        return [ast.If(test, then, orelse)]

    def loop_tail(self, op: Op, body_region: Region, carried: list[Value]) -> list[ast.stmt]:
        stop = 1 if op.attrs.get("stop") else 0
        body = self.region_with_yield(body_region, carried, skip=stop)
        if self.checking:  # (what each iteration starts with)
            body = self.check_defines(body_region.args, op) + body
        if stop:
            body.append(ast.If(self.expr(body_region.ops[-1].operands[0]), [ast.Break()], []))
        return body or [ast.Pass()]

    def for_statement(self, op: Op) -> list[ast.stmt]:
        body_region = op.regions[0]
        n_items = op.attrs.get("n_items", 1)
        items, carried = body_region.args[:n_items], body_region.args[n_items:]
        before = self.copies(*self.needed_inits(op, [carried], op.operands[1:]))
        target = self.target(op.attrs.get("pattern"), iter(items))
        loop = ast.For(target, self.expr(op.operands[0]), self.loop_tail(op, body_region, carried), [], lineno=0)
        return before + [loop]

    def needed_inits(self, op: Op, arg_lists: list[list[Value]], inits: list[Value]) -> tuple[list, list]:
        """The loop-carried variables to assign before `op`, with their initial values.

        A name first assigned inside the loop starts undefined (None); when no iteration reads
        its previous value and nothing after the loop reads it, that `x = None` is dead.
        """
        uses = self.layout.uses
        assert len(op.results) == len(inits) and all(len(args) == len(inits) for args in arg_lists), op
        keep = [i for i, init in enumerate(inits)
                if not _is_undefined(init) or uses.get(op.results[i])
                or any(uses.get(args[i]) for args in arg_lists)]
        return [arg_lists[0][i] for i in keep], [inits[i] for i in keep]

    def target(self, pattern: Any, items: Any) -> ast.expr:
        if pattern is None:
            value = next(items)
            return ast.Name(self.names.get(value, "_"), ast.Store())
        return ast.Tuple([self.target(p, items) for p in pattern], ast.Store())

    def while_statement(self, op: Op) -> list[ast.stmt]:
        cond_region, body_region = op.regions
        before = self.copies(*self.needed_inits(op, [cond_region.args, body_region.args], op.operands))
        cond_stmts = self.block(cond_region)
        test = self.expr(cond_region.ops[-1].operands[0])
        body = self.loop_tail(op, body_region, body_region.args)
        if cond_stmts:  # the condition needs statements: test it at the top of the body
            body = cond_stmts + [ast.If(ast.UnaryOp(ast.Not(), test), [ast.Break()], [])] + body
            test = ast.Constant(True)
        return before + [ast.While(test, body, [])]

    # -- the buffer checker's instrumentation (GRADC_VERIFY=1) -------------------------------------
    def check_number(self, value: Value) -> int:
        if value not in self.check_numbers:
            buffers = self.check_buffers
            self.check_numbers[value] = self.check_table.value(self.names.get(value, "?"), id(buffers.find(value)),
                                                               buffers.owned(value))
        return self.check_numbers[value]

    def is_tape(self, value: Value) -> bool:
        """Whether `value` is a loop's tape (pushed and popped: its contents are checked item by item)."""
        if not hasattr(self, "tape_classes"):
            self.tape_classes = {self.check_buffers.find(op.result) for op in self.function.walk()
                                 if op.kind == "list" and op.attrs.get("tape")}
        return self.check_buffers.find(value) in self.tape_classes

    def check_where(self, op: Op) -> ast.expr:
        text = self.describe(op.stmt) if op.stmt is not None else op.kind
        return ast.Constant(self.check_table.statement(("backward, " if op.backward else "") + text))

    def checkable(self, value: Value) -> bool:
        return value in self.names and not self.is_tape(value)

    def check_defines(self, values: list[Value], op: Op) -> list[ast.stmt]:
        where = self.check_where(op)
        return [check.call("define", ast.Constant(self.check_number(v)), ast.Name(self.names[v], ast.Load()), where)
                for v in values if self.checkable(v)]

    def checked(self, op: Op, stmts: list[ast.stmt]) -> list[ast.stmt]:
        """`stmts` (what `op` became) between the checks of what they read and what they define."""
        where = self.check_where(op)
        if op.kind == "if":
            reads = self.layout.reads(op, op.operands[:1])
        elif op.kind == "return":
            value = self.expr(op.operands[0])
            return [ast.Return(ast.Call(ast.Attribute(ast.Name(check.CHECK_NAME, ast.Load()), "finish", ast.Load()),
                                        [value], []))]
        else:
            reads = self.layout.reads(op)
        before = [check.call("read", ast.Constant(self.check_number(v)), ast.Name(self.names[v], ast.Load()), where)
                  for v in sorted(reads, key=lambda v: v.id) if self.checkable(v)]
        after = self.check_defines([r for r in op.results if r in self.names], op)
        if op.kind == "method" and op.attrs["name"] in ("append", "pop") and op.operands[0] in self.names:
            tape = ast.Name(self.names[op.operands[0]], ast.Load())
            pushed = op.operands[1] if op.attrs["name"] == "append" else op.attrs["restores"].operands[1]
            if self.is_tape(pushed):
                pass  # (a loop's tape saved on the enclosing loop's: checked item by item itself)
            elif op.attrs["name"] == "append":
                after.append(check.call("push", tape, self.expr(op.operands[1])))
            else:
                popped = ast.Name(self.names[op.result], ast.Load()) if op.result in self.names else ast.Constant(None)
                after.insert(0, check.call("pop", tape, popped, where))
        return before + stmts + after

    def check_start(self) -> list[ast.stmt]:
        """The checker made at the function's entry, and the arguments as they came."""
        make = ast.Call(self.bound(check.BufferCheck, "BufferCheck"), [self.bound(self.check_table, "check_table")], [])
        start = [ast.Assign([ast.Name(check.CHECK_NAME, ast.Store())], make, lineno=0)]
        for param in self.function.params:
            if param in self.names:
                start.append(check.call("param", ast.Constant(self.check_number(param)),
                                        ast.Name(self.names[param], ast.Load())))
        return start

    def describe(self, stmt: ast.stmt) -> str:
        helper, lines = getattr(stmt, "origin", (None, self.function.lines))
        first = stmt.lineno
        last = getattr(stmt, "end_lineno", first) or first
        if isinstance(stmt, (ast.If, ast.For, ast.While, ast.With)):
            last = first  # a compound statement: its header
        text = " ".join(lines.get(n, "").strip() for n in range(first, last + 1)).strip()
        text = text or ast.unparse(stmt)
        if len(text) > 90:
            text = text[:87] + "..."
        return f"line {first}: {text}" if helper is None else f"{helper}, line {first}: {text}"

    def comment(self, text: str) -> ast.stmt:
        self.comments.append(text)
        call = ast.Call(ast.Name(_COMMENT, ast.Load()), [ast.Constant(len(self.comments) - 1)], [])
        return ast.Expr(call)

    def big_array_names(self) -> set[str]:
        """Variables that hold, at some point, an array known to be big (see `release_dead_arrays`);
        not those that only ever hold slices of other arrays (deleting them frees nothing)."""
        facts = getattr(self.function, "facts", {})
        if not getattr(self.function, "optimized", True) or \
                not any(f.shape and math.prod(f.shape) >= REUSE_MIN_ELEMENTS for f in facts.values()):
            return set()
        shapes = {v: f.shape for v, f in facts.items() if f.shape is not None}
        params = {self.names.get(p) for p in self.function.params}
        big, owns_memory = set(), set()
        for value, name in self.names.items():
            shape = shape_of(value, shapes)
            if name not in params and shape and math.prod(shape) >= REUSE_MIN_ELEMENTS:
                big.add(name)
            if value.owner is None or value.owner.kind != "getitem":
                owns_memory.add(name)
        return big & owns_memory

    def run(self) -> Emitted:
        body = release_dead_arrays(self.block(self.function.body, top=True), self.big_array_names())
        if self.checking:
            body = self.check_start() + body
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
        # (ast.unparse needs no line numbers: the text is compiled, not the tree)
        text = self.restore_comments(ast.unparse(module)) + "\n"
        shown = text
        if self.checking:  # (users see the gradient without the checker's calls)
            shown = self.restore_comments(ast.unparse(check.without_checks(module))) + "\n"
        return Emitted(text, _inner_source(shown), self.function.name, dict(self.bindings),
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
        elif stripped.startswith("# backward") or (stripped.startswith("# ") and ", line " in stripped.split(":")[0]):
            current = None  # a helper's line is in another file: never attributed to the primal's
        if current is not None:
            mapping[number] = current
    return mapping


def release_dead_arrays(body: list[ast.stmt], big: set[str]) -> list[ast.stmt]:
    """`del a` after the statement that last reads a big array `a` (at the top level of the
    function): a local variable otherwise holds its array until the function returns, and the
    memory freed early is what the next big array is made in (warm pages, no new mapping)."""
    if not big:
        return body
    last: dict[str, int] = {}
    in_blocks: set[str] = set()  # (names a loop or branch binds may be unbound after it)
    for i, stmt in enumerate(body):
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and node.id in big:
                last[node.id] = i
                if isinstance(stmt, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
                    in_blocks.add(node.id)
    for name in in_blocks:
        last.pop(name, None)
    work = [i for i, stmt in enumerate(body) if not _is_comment(stmt)]
    final = work[-2] if len(work) >= 2 and isinstance(body[work[-1]], ast.Return) else len(body)
    released: dict[int, list[str]] = {}
    for name, i in last.items():
        if i < final and _reads(body[i], name):  # (not just before the return: that frees them too)
            released.setdefault(i, []).append(name)
    out = []
    for i, stmt in enumerate(body):
        out.append(stmt)
        if i in released:
            out.append(ast.Delete([ast.Name(n, ast.Del()) for n in sorted(released[i])]))
    return out


def _is_comment(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and \
        isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == _COMMENT


def _reads(stmt: ast.stmt, name: str) -> bool:
    """Whether `stmt` reads `name` (a statement that only assigns it leaves it to be read later)."""
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name:
        return True
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) for n in ast.walk(stmt))


def emit(function: Function, globals_: dict, closure: dict[str, Any], user_names: set[str]) -> Emitted:
    """Print `function` as a Python module (see the module docstring).

    `globals_` and `closure` are the primal's namespaces: objects found there under a name the
    function spells are referred to by that name."""
    return _Emitter(function, globals_, closure, user_names).run()
