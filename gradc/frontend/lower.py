"""Stage 3: normalized AST → IR.

`lower_function` turns a user's function into an IR :class:`~gradc.ir.Function`.
`inline_rule` lowers the body of a derivative rule into an existing region,
with the rule's parameters bound to IR values; options that are compile-time
constants (``axis=0``) are folded so that `if axis is None:` in a rule picks
its branch statically. A rule whose body cannot be folded raises
:class:`CannotInline`, and the caller emits a call to the rule instead.

Names are resolved by object, not spelling: a name that is not a local
variable is looked up in the function's closure, globals and builtins, and
attribute chains on modules (``np.linalg.norm``) are followed at compile time.
"""
from __future__ import annotations

import ast
import builtins
import functools
import inspect
import operator
import sys
import types
from typing import Any, Callable

import numpy as np

from ..errors import GradcError, KindDependentError, Loc, SourceSyntaxError, UnresolvedNameError, UnsupportedSyntaxError
from .. import runtime
from ..analysis.shapes import Inference, abstract_kind
from ..ir.core import Function, Op, Region, Value, static_value, table_key
from ..ir.effects import effect_of
from ..rules.registry import lookup, shapes_known
from .binding import Binding
from .control import ControlFlow, stored_names
from . import effect_statements
from . import dependencies
from .inner_scopes import LocalDef
from .lower_scopes import InnerScopes
from .standard_calls import StandardCalls, is_namespace_getter, namespace_of
from .normalize import normalize
from .objects import Heap, Obj
from . import records
from .source import UNRESOLVED, ParsedFunction, parse_function
from .writes import parameters_written

__all__ = ["lower_function", "inline_rule", "known_dtypes", "CannotInline", "BINARY_OPERATORS",
           "UNARY_OPERATORS", "COMPARE_OPERATORS"]

BINARY_OPERATORS: dict[type, Callable] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.MatMult: operator.matmul, ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
    ast.BitXor: operator.xor, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}
UNARY_OPERATORS: dict[type, Callable] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_, ast.Invert: operator.invert,
}
COMPARE_OPERATORS: dict[type, Callable] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: operator.contains,  # operands swapped: `a in b` is contains(b, a)
}

# Operators on constants in the user's code (and in helpers, on flags and literal options) are
# evaluated at compile time; their results are immutable numbers and booleans.
_FOLDABLE_IN_USER_CODE = set(BINARY_OPERATORS.values()) | set(UNARY_OPERATORS.values()) | \
    set(COMPARE_OPERATORS.values()) - {operator.contains}

# Pure callees a rule may evaluate at compile time when every argument is a constant.
_FOLDABLE = set(BINARY_OPERATORS.values()) | set(UNARY_OPERATORS.values()) | set(COMPARE_OPERATORS.values()) | {
    len, isinstance, tuple, list, range, int, float, bool, sorted, min, max, abs, type}


_OPERATOR_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
                     ast.Pow: "**", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
                     ast.LShift: "<<", ast.RShift: ">>"}

_LIST_METHODS = {"append", "pop", "extend", "insert", "remove", "clear", "reverse"}

RECURSIVE = "recursive"  # what `inline_call` answers for a function already being inlined


class CannotInline(Exception):
    """A rule's body needs a value only known at run time to pick its path; call it instead."""


def local_names(node: ast.FunctionDef) -> set[str]:
    """The function's local variables: its arguments and every name it assigns."""
    args = node.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg] if a}
    defined = {n.name for stmt in node.body for n in ast.walk(stmt) if isinstance(n, LocalDef)}
    return names | stored_names(node.body) | _written_names(node.body) | defined


class _Lowerer(Binding, ControlFlow, InnerScopes, StandardCalls):
    """Lowers statements and expressions of one function body into a region, following Python's
    object semantics with a heap (objects.py): `env` maps each name to the object it refers to."""

    def __init__(self, parsed: ParsedFunction, region: Region, env: dict[str, Obj],
                 local_names: set[str], rule_mode: bool = False, heap: Heap | None = None,
                 parent: "_Lowerer | None" = None, facts: dict | None = None):
        self.parsed = parsed
        self.region = region
        self.env = env
        self.local_names = local_names
        self.rule_mode = rule_mode
        self.heap = heap if heap is not None else Heap()
        self.parent = parent  # the caller, while a helper is inlined (its names see the same heap)
        self.facts = facts  # what is known of each value's shape, when the call's argument kinds are
        self.inference = Inference(facts) if facts is not None else None
        self.stmt: ast.stmt | None = None
        self.returned: Value | None = None
        self.root: _Lowerer = self  # the function being compiled (differs while inlining a helper)
        self.ndims: dict[Value, int] = {}  # (rules only) the dimensions of values of known shape
        self.dtypes: dict[Value, Any] = {}  # (rules only) the dtypes of values whose dtype is known
        self.inlining: list[Callable] = []  # the helpers being inlined, outermost first
        self.kind_dependent = False  # (a decision the argument kinds would have made)
        self.counters: set[Value] = set()  # (`i` in `for i in range(n)`: an integer)
        self.arguments: dict[Obj, tuple] = {}  # (root only) an argument's object → (position, path in it)
        self.written: set[tuple] = set()  # (root only) the arguments (and leaves) written into
        # (root only) the positions each recursive callee may write into (None: not known yet, and
        # `recursive_callees` collects the callees a first lowering met)
        self.recursive_writes: dict[Callable, set[int]] | None = None
        self.recursive_callees: set[Callable] = set()
        self.functions: dict[str, tuple] = {}  # local functions: (definition, definer, defaults, kw_defaults)
        self.consumed_at_once = False  # (lowering a call's argument or a loop's iterable)
        self.dependencies: dict[tuple, Any] = {}  # (root only) see dependencies.py
        self.forgotten: dict[str, int] = {}  # (local functions defined in a loop that has ended: its line)

    # -- building ops -------------------------------------------------------------------
    def emit(self, kind: str, operands: list[Value], node: ast.AST | None = None,
             hint: str | None = None, regions: list[Region] | None = None, **attrs: Any) -> Value:
        result = Value(hint)
        loc = self.parsed.loc(node) if node is not None else None
        op = Op(kind, list(operands), [result], attrs, regions or [], loc, self.stmt)
        if node is not None and not self.rule_mode and kind in ("call", "method") and effect_of(op).writes:
            what = "a list" if kind == "method" and attrs.get("name") in _LIST_METHODS else "an array"
            raise self.error(node, f"{_callee_text(op)} changes {what} in place, which gradc does not follow here",
                             "write the update as an assignment (`y[...] = value`), or compute a new array")
        self.region.append(op)
        if self.inference is not None and not op.regions:
            self.inference.run(op)
        return result

    def const(self, value: Any, node: ast.AST | None = None, spelling: ast.expr | None = None) -> Value:
        # A rule's spellings name things in the rule's module, not the user's: drop them.
        if self.rule_mode or spelling is None:
            return self.emit("const", [], node, value=value, spelling=None)
        portable = self.portable(spelling)
        if portable is None and not isinstance(value, (types.ModuleType, types.FunctionType, type)):
            # A global of an inlined helper's own module: read through that module when the
            # gradient runs (`nn_inner.SCALE`), as Python would, not frozen at compile time.
            root = spelling
            while isinstance(root, ast.Attribute):
                root = root.value
            module = sys.modules.get(getattr(self.parsed.fn, "__module__", "") or "")
            if isinstance(root, ast.Name) and module is not None and root.id in vars(module):
                return self.emit("const", [], node, value=value, spelling=spelling, module=module)
        return self.emit("const", [], node, value=value, spelling=portable)

    def call(self, callee: Any, args: list[Value], node: ast.AST | None,
             spelling: ast.expr | None = None, kwargs: dict[str, Value] | None = None) -> Value:
        kwargs = kwargs or {}
        operands = list(args) + list(kwargs.values())
        if self.rule_mode and callee is shapes_known:
            return self.const(all(v in self.ndims for v in operands), node)
        if self.rule_mode and callee is np.ndim and len(operands) == 1 and operands[0] in self.ndims:
            return self.const(self.ndims[operands[0]], node)
        if self.rule_mode and callee is np.iscomplexobj and len(operands) == 1 and operands[0] in self.dtypes:
            return self.const(self.dtypes[operands[0]].kind == "c", node)
        foldable = _FOLDABLE if self.rule_mode else _FOLDABLE_IN_USER_CODE
        # A global's value (it has a spelling) is read when the gradient runs: never folded.
        literal = all(v.owner is None or v.owner.attrs.get("spelling") is None for v in operands)
        if literal and table_key(callee) in foldable:
            statics = [static_value(v) for v in operands]
            if all(ok for ok, _ in statics):
                values = [v for _, v in statics]
                kw = dict(zip(kwargs, values[len(args):]))
                try:
                    return self.const(callee(*values[:len(args)], **kw), node)
                except Exception:  # noqa: BLE001 - `1 / 0` is the user's to raise at run time
                    pass
        return self.emit("call", operands, node, callee=callee, spelling=None if self.rule_mode else spelling,
                         kwnames=tuple(kwargs))

    def error(self, node: ast.AST, message: str, hint: str = "") -> GradcError:
        if self.rule_mode:
            return CannotInline(message)
        if self.root.kind_dependent and self.facts is None:  # (the call's argument kinds may decide it)
            hint = (hint + "\n" if hint else "") + "gradc decides this for each call's argument kinds: " \
                "call the gradient, or see `source_for(...)`"
            return KindDependentError(message, self.parsed.loc(node), hint)
        return UnsupportedSyntaxError(message, self.parsed.loc(node), hint)

    # -- statements -----------------------------------------------------------------------
    def lower_block(self, stmts: list[ast.stmt]) -> bool:
        """Lower statements in order; True once a `return` has been reached."""
        for stmt in stmts:
            if self.lower_statement(stmt):
                return True
        return False

    def lower_statement(self, stmt: ast.stmt) -> bool:
        outer, self.stmt = self.stmt, (self.stmt if self.rule_mode else stmt)
        try:
            if isinstance(stmt, ast.Return):
                value = self.lower_expr(stmt.value) if stmt.value is not None else self.const(None)
                self.returned = value
                if not self.rule_mode and self.root is self:  # an inlined helper's result is just a value
                    self.region.append(Op("return", [value], [], {}, [], self.parsed.loc(stmt), stmt))
                return True
            if isinstance(stmt, ast.Assign):
                value = self.lower_expr(stmt.value)
                if getattr(stmt, "augmented", False):
                    self.augmented(stmt.targets[0], value, _OPERATOR_SYMBOLS.get(type(stmt.value.op), "op"))
                    return False
                for target in stmt.targets:
                    self.bind(target, value)
                return False
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and not self.rule_mode:
                self.lower_check(stmt.value)
                return False
            if self.rule_mode and isinstance(stmt, ast.If):
                return self.lower_block(stmt.body if self.static_truth(stmt.test) else stmt.orelse)
            if isinstance(stmt, ast.If):
                self.lower_if(stmt)
                return False
            if isinstance(stmt, ast.For):
                self.lower_for(stmt)
                self.forget_functions_of(stmt)
                return False
            if isinstance(stmt, ast.While):
                self.lower_while(stmt)
                self.forget_functions_of(stmt)
                return False
            if isinstance(stmt, (ast.Raise, ast.With)) and not self.rule_mode:
                effect_statements.lower_statement(self, stmt)  # (kept in the forward sweep)
                return False
            if isinstance(stmt, ast.Pass):
                return False
            if isinstance(stmt, LocalDef) and not self.rule_mode:
                self.define_local(stmt)  # (called later: each call inlines its body)
                return False
            if self.rule_mode and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                return False  # a rule's docstring
            raise self.error(stmt, f"`{type(stmt).__name__}` is not supported here")
        finally:
            self.stmt = outer

    def unpack(self, value: Value, structure: Any, name: str, leaves: list[Value]) -> Value:
        """The container `value` rebuilt as a literal of its leaves (which are appended to `leaves`)."""
        if not is_structure(structure):
            leaves.append(value)
            if value.owner is not None:  # (a leaf of a container argument: an array the program follows)
                self.heap.new(value, "array", label=name, mutable=_mutable_kind(structure))
            return value
        if structure[0] == "record":  # (a dataclass, named tuple or namespace: frontend/records.py)
            return records.unpack_record(self, value, structure, name, leaves)
        kind, keys, subs = structure if structure[0] == "dict" else (structure[0], range(len(structure[1])),
                                                                        structure[1])
        items = []
        for key, sub in zip(keys, subs):
            label = key if isinstance(key, str) and key.isidentifier() else f"{name}_{key}"
            item = self.emit("getitem", [value, self.const(key)], None, hint=label)
            items.append(self.unpack(item, sub, label, leaves))
        if kind == "dict":
            return self.emit("dict", items, None, keys=tuple(keys))
        return self.emit(kind, items)

    # -- calls to the user's own functions ------------------------------------------------------
    def portable(self, spelling: ast.expr | None) -> ast.expr | None:
        """`spelling` if it means the same in the function being compiled (an inlined helper may
        live in another module, where `np` or a constant's name denote something else)."""
        if spelling is None or self.root is self:
            return spelling
        node = spelling
        while isinstance(node, ast.Attribute):
            node = node.value
        if not isinstance(node, ast.Name) or node.id in self.root.local_names:
            return None
        mine, theirs = self.parsed.resolve(node.id), self.root.parsed.resolve(node.id)
        return spelling if mine is theirs and mine is not UNRESOLVED else None

    def inline_call(self, callee: Callable, args: list[Value], kwargs: dict[str, Value],
                    node: ast.Call) -> Value | str:
        """Lower a call to the user's function by lowering its body here, with its parameters bound
        to the arguments. Returns the result, or why it could not be inlined."""
        if callee in self.inlining:
            return RECURSIVE  # a call of its own: differentiated by the function's own vjp, at run time
        try:
            parsed, tree, names = _parsed_helper(callee)
        except SourceSyntaxError:
            raise  # (the helper's file does not parse: said where, not called as it is)
        except GradcError as exc:
            return exc.message
        try:
            bound = inspect.signature(callee).bind(*args, **kwargs)
        except TypeError as exc:
            raise UnsupportedSyntaxError(f"call to `{callee.__name__}`: {exc}", self.parsed.loc(node)) from None
        env: dict[str, Obj] = {}
        for name, param in inspect.signature(callee).parameters.items():
            value = bound.arguments[name] if name in bound.arguments else \
                self.emit("tuple", [], node) if param.kind is param.VAR_POSITIONAL else \
                self.emit("dict", [], node, keys=()) if param.kind is param.VAR_KEYWORD else \
                self.const(param.default, node)
            if name in bound.arguments and param.kind is param.VAR_POSITIONAL:
                value = self.emit("tuple", list(value), node)  # (`*args`: a tuple of the extra arguments)
            elif name in bound.arguments and param.kind is param.VAR_KEYWORD:
                value = self.emit("dict", list(value.values()), node, keys=tuple(value))
            env[name] = self.obj(value)
        scratch = Region()
        child = _Lowerer(parsed, scratch, env, names, heap=self.heap, parent=self, facts=self.facts)
        child.root, child.inlining = self.root, self.inlining + [callee]
        before = self.heap.state.copy()
        try:
            child.lower_block(tree.body)
        except UnsupportedSyntaxError as exc:
            self.heap.state = before  # (what the helper did before it failed did not happen)
            return exc.message
        self.region.ops.extend(scratch.ops)
        result = child.returned
        made_here = any(result is r for op in scratch.ops for r in op.results)
        if made_here:  # (a helper may return the caller's own value: `first(a, b)` returns `a`)
            if result.hint is None or result.temp:
                result.hint = callee.__name__  # `layer = ...` names a helper's result...
            result.temp = True  # ...unless the caller assigns it to a name of its own
        return result

    def recursive_call(self, callee: Callable, args: list[Value], kwargs: dict[str, Value],
                       node: ast.Call) -> Value:
        """A call of a function being lowered (differentiated by its vjp at run time). The callee
        runs the primal, so an array it writes into is passed as a copy (`copies`: the caller's array
        keeps the value the vjp is called with), and the caller's array, which Python would see
        changed in a way only the run decides, is poisoned: reading it afterwards is refused."""
        root = self.root
        root.recursive_callees.add(callee)
        value = self.call(callee, args, node, spelling=self.portable(node.func), kwargs=kwargs)
        op = value.owner
        op.attrs["recursive"] = True
        written = (root.recursive_writes or {}).get(callee, set())
        params = list(inspect.signature(callee).parameters)
        names = params[:len(args)] + list(kwargs)
        copies = [k for k, (name, operand) in enumerate(zip(names, op.operands))
                  if params.index(name) in written and self.obj(operand).mutable is not False
                  and self.obj(operand).kind != "immutable"]
        if copies:
            op.attrs["copies"] = tuple(copies)
        for k in copies:
            self.heap.poison_all(self.obj(op.operands[k]), f"passed to `{callee.__name__}` at line {node.lineno}, "
                                 "which writes into it", self.envs())
        return value

    def refuse_hidden_writes(self, callee: Callable, why: str, args: list[Value], kwargs: dict[str, Value],
                             node: ast.Call) -> None:
        """A helper of the user's that could not be inlined (`why`) is called as it is: refused where
        its source writes into an array it is passed that anything else here reaches (the caller
        would see the write, gradc would not)."""
        written = parameters_written(callee)
        if not written:
            return
        try:
            bound = inspect.signature(callee).bind(*args, **kwargs).arguments
        except TypeError:
            return
        for name, value in bound.items():
            obj = self.obj(value)
            if name in written and obj.kind != "immutable" and obj.mutable is not False and \
                    not self.heap.private(obj, self.envs(), set()):
                raise self.error(node, f"`{callee.__name__}` writes into its argument `{name}`, and gradc could not "
                                 f"inline it to follow the write ({why})",
                                 "pass it a copy (`.copy()`), or make the helper return a new array")

    def lower_check(self, call: ast.Call) -> None:
        """A call made for its effect: `items.append(x)`, a helper of the user's that updates its
        arguments, and gradc's run-time checks (in generated code); nothing else."""
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "append" and isinstance(func.value, ast.Name) \
                and func.value.id in self.env and len(call.args) == 1 and not call.keywords:
            return self.append(func.value, self.lower_expr(call.args[0]), call)
        if isinstance(func, (ast.Name, ast.Attribute)) and self.is_static(func) and \
                self.resolve_static(func) is runtime.add_at and len(call.args) == 3 and not call.keywords and \
                isinstance(call.args[0], ast.Name) and call.args[0].id in self.env:
            return self.accumulate_at(call)  # (gradc's own `add_at(dxs, k, g)`, in a gradient read again)
        if isinstance(func, ast.Name) and func.id in self.functions and func.id not in self.env:
            self.lower_expr(call)  # (a local function called for what it does: inlined, its result unused)
            return
        value = self.lower_expr(call)
        op = value.owner
        if op is not None and op.kind == "call" and op.attrs["callee"] in runtime.CHECKS:
            op.attrs["effect"] = True
            return
        if effect_statements.is_effect_call(value):  # (`print(...)`, `log.info(...)`: run in the forward sweep)
            op.attrs["effect"] = True
            return
        if isinstance(func, (ast.Name, ast.Attribute)) and self.is_static(func) and \
                _inlinable(self.resolve_static(func)) and not (op is not None and op.kind == "call" and
                                                               op.attrs.get("callee") is self.resolve_static(func)):
            return  # (a helper of the user's, inlined: what it updated is updated; its result unused)
        raise UnsupportedSyntaxError(
            "an expression statement (a call made for its side effect) is not supported by gradc",
            self.parsed.loc(call), "assign the result to a name, or move the call out of the "
            "differentiated function")

    def accumulate_at(self, call: ast.Call) -> None:
        """`add_at(acc, index, g)` as the update `acc[index] += g` (an update the IR follows)."""
        target = call.args[0]
        obj = self.env[target.id]
        current = self.read(obj, target, target.id)
        index, g = self.lower_expr(call.args[1]), self.lower_expr(call.args[2])
        update = self.call(runtime.add_at, [current, index, g], None)  # (node None: gradc's own update)
        update.owner.loc, update.hint = self.parsed.loc(call), target.id
        self.write(obj, update, target, f"adding into `{target.id}`")

    def static_truth(self, test: ast.expr) -> bool:
        ok, value = static_value(self.lower_expr(test))
        if not ok:
            raise CannotInline("condition known only at run time")
        return bool(value)

    # -- expressions ----------------------------------------------------------------------
    def lower_expr(self, node: ast.expr) -> Value:
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            raise self.error(node, f"this expression (`{type(node).__name__}`) is not supported")
        return method(node)

    def expr_Constant(self, node: ast.Constant) -> Value:
        return self.const(node.value, node)

    def expr_Name(self, node: ast.Name) -> Value:
        if node.id in self.env:
            return self.read(self.env[node.id], node, node.id)
        if node.id in self.functions:
            self.refuse_function_value(node)
        if node.id in self.local_names:
            raise self.error(node, f"`{node.id}` is used before it is assigned")
        return self.const(self.resolve_static(node), node, spelling=node)

    def resolve_static(self, node: ast.expr) -> Any:
        """The object a non-local name or attribute chain (`np.linalg.norm`) denotes (noted among
        the compilation's dependencies where its identity matters: see dependencies.py)."""
        if isinstance(node, ast.Name):
            obj = self.parsed.resolve(node.id)
            if obj is UNRESOLVED:
                raise UnresolvedNameError(f"name `{node.id}` is not defined", self.parsed.loc(node))
            self.note_dependency((node.id,), obj, obj)
            return obj
        assert isinstance(node, ast.Attribute)
        base = self.resolve_static(node.value)
        try:
            obj = getattr(base, node.attr)
        except AttributeError:
            raise GradcError(f"`{ast.unparse(node.value)}` has no attribute `{node.attr}`",
                             self.parsed.loc(node)) from None
        chain = _chain(node)
        if chain is not None:
            self.note_dependency(chain, self.parsed.resolve(chain[0]), obj)
        return obj

    def note_dependency(self, chain: tuple, root: Any, obj: Any) -> None:
        fn = self.parsed.fn
        if self.rule_mode or not isinstance(fn, types.FunctionType) or \
                not dependencies.worth_recording(fn, chain, root, obj):
            return
        owner = None if fn is self.root.parsed.fn else fn
        self.root.dependencies[(owner, chain)] = obj

    def is_static(self, node: ast.expr) -> bool:
        """True for a name chain rooted in a non-local name (a module, a global)."""
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id not in self.env and node.id not in self.local_names

    def expr_Attribute(self, node: ast.Attribute) -> Value:
        if self.is_static(node):
            value = self.const(self.resolve_static(node), node, spelling=node)
            if _library_module(self.resolve_static(_root_name(node))):
                value.owner.attrs["library_constant"] = True  # (`np.inf`: never rebound, unlike `CONFIG.scale`)
            return value
        obj = self.lower_expr(node.value)
        namespace = namespace_of(obj)
        if namespace is not None:  # (`xp.float64`, `xp.linalg`: see standard_calls.py)
            return self.standard_attribute(namespace, node)
        ok, value = static_value(obj)
        if ok and self.rule_mode:
            return self.const(getattr(value, node.attr), node)
        field = None if self.rule_mode else records.read_field(self, obj, node)  # (`p.w`, p a dataclass)
        if field is not None:
            return field
        return self.emit("getattr", [obj], node, name=node.attr)

    def expr_BinOp(self, node: ast.BinOp) -> Value:
        left, right = self.lower_expr(node.left), self.lower_expr(node.right)
        joined = None if self.rule_mode else self.sequence_arithmetic(node, left, right)
        if joined is not None:
            return joined
        return self.call(BINARY_OPERATORS[type(node.op)], [left, right], node)

    def expr_UnaryOp(self, node: ast.UnaryOp) -> Value:
        operand = self.lower_expr(node.operand)
        ok, value = static_value(operand)
        if ok and type(value) in (int, float, complex) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return self.const(-value if isinstance(node.op, ast.USub) else value, node)  # `-3.0` is a constant
        return self.call(UNARY_OPERATORS[type(node.op)], [operand], node)

    def compare(self, op: ast.cmpop, left: Value, right: Value, node: ast.AST) -> Value:
        if isinstance(op, ast.In):
            return self.call(operator.contains, [right, left], node)
        if isinstance(op, ast.NotIn):
            return self.call(operator.not_, [self.call(operator.contains, [right, left], node)], node)
        return self.call(COMPARE_OPERATORS[type(op)], [left, right], node)

    def expr_Compare(self, node: ast.Compare) -> Value:
        left = self.lower_expr(node.left)
        right = self.lower_expr(node.comparators[0])
        first = self.compare(node.ops[0], left, right, node)
        if len(node.ops) == 1:
            return first
        # a < b < c  is  (a < b) and (b < c), with b evaluated once.
        rest = ast.Compare(node.comparators[0], node.ops[1:], node.comparators[1:])
        ast.copy_location(rest, node)
        return self.boolop("and", first, [rest], node, reuse={node.comparators[0]: right})

    def expr_BoolOp(self, node: ast.BoolOp) -> Value:
        kind = "and" if isinstance(node.op, ast.And) else "or"
        return self.boolop(kind, self.lower_expr(node.values[0]), node.values[1:], node)

    def boolop(self, kind: str, first: Value, rest: list[ast.expr], node: ast.AST,
               reuse: dict | None = None) -> Value:
        """`a and b and c`: later operands live in regions, so they run only when needed."""
        ok, value = static_value(first)
        if self.rule_mode and not ok:
            raise CannotInline("and/or known only at run time")
        if ok and isinstance(value, (bool, int, float, type(None))):  # decided now (flags of inlined helpers)
            if (kind == "and") != bool(value) or not rest:
                return first
            return self.boolop(kind, self.lower_expr(rest[0]), rest[1:], node)
        regions = []
        for operand in rest:
            region = Region()
            saved, self.region = self.region, region
            state, self.heap.state = self.heap.state, self.heap.state.copy()  # (what it reads stays in it)
            try:
                if reuse and isinstance(operand, ast.Compare) and operand.left in reuse:
                    right = self.lower_expr(operand.comparators[0])
                    value = self.compare(operand.ops[0], reuse[operand.left], right, operand)
                    if len(operand.ops) > 1:
                        tail = ast.copy_location(
                            ast.Compare(operand.comparators[0], operand.ops[1:], operand.comparators[1:]), node)
                        value = self.boolop("and", value, [tail], node, reuse={operand.comparators[0]: right})
                else:
                    value = self.lower_expr(operand)
                if self.changes(state, self.env, [(self.heap.state, self.env)]):
                    raise self.error(operand, "an `and`/`or` operand that updates an array in place",
                                     "update it in a statement of its own")
                region.append(Op("yield", [value], [], {}, [], self.parsed.loc(operand), self.stmt))
            finally:
                self.region, self.heap.state = saved, state
            regions.append(region)
        return self.emit("boolop", [first], node, regions=regions, op=kind)

    def expr_JoinedStr(self, node: ast.JoinedStr) -> Value:
        return effect_statements.lower_fstring(self, node)  # (a string: no gradient)

    def expr_Tuple(self, node: ast.Tuple) -> Value:
        items = [self.lower_expr(e) for e in node.elts]
        if self.rule_mode and all(static_value(v)[0] for v in items):
            return self.const(tuple(static_value(v)[1] for v in items), node)
        return self.emit("tuple", items, node)

    def expr_List(self, node: ast.List) -> Value:
        return self.emit("list", [self.lower_expr(e) for e in node.elts], node)

    def expr_Dict(self, node: ast.Dict) -> Value:
        keys = []
        for key in node.keys:
            ok, value = static_value(self.lower_expr(key)) if key is not None else (False, None)
            if not ok:
                raise self.error(key or node, "a dict display whose keys are not constants (or `**` in it)")
            keys.append(value)
        return self.emit("dict", [self.lower_expr(v) for v in node.values], node, keys=tuple(keys))

    def expr_Subscript(self, node: ast.Subscript) -> Value:
        obj = self.lower_expr(node.value)
        ok_obj, obj_value = static_value(obj)
        if ok_obj and not self.rule_mode and type(obj_value) in _CONCATENATORS:
            return self.concatenator(_CONCATENATORS[type(obj_value)], node)
        index = self.lower_expr(node.slice)
        ok_index, index_value = static_value(index)
        if self.rule_mode and ok_obj and ok_index:
            return self.const(obj_value[index_value], node)
        container = self.heap.obj_of.get(obj)
        slots = self.heap.state.slots.get(container) if container is not None else None
        if ok_index and slots is not None and slots.known and not self.rule_mode:
            item = None  # an item of a display, known statically: the object it holds
            if container.display in ("tuple", "list") and isinstance(index_value, int) and \
                    -len(slots.items) <= index_value < len(slots.items):
                item = slots.items[index_value]
            elif container.display == "dict" and index_value in (slots.keys or ()) and container.record is None:
                item = slots.items[list(slots.keys).index(index_value)]
            if item is not None:
                return self.read(item, node)
        owner = obj.owner
        if self.rule_mode and ok_index and owner is not None and owner.kind in ("tuple", "list") and \
                isinstance(index_value, int) and -len(owner.operands) <= index_value < len(owner.operands):
            return owner.operands[index_value]
        return self.emit("getitem", [obj, index], node)

    def concatenator(self, helper: Callable, node: ast.Subscript) -> Value:
        """`np.r_[a, 0:3, b]` and `np.c_[a, b]` as `r_of(a, np.arange(0, 3), b)` and `c_of(a, b)`
        (a slice's range is a constant; the string directives are refused)."""
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        name = "np.r_" if helper is runtime.r_of else "np.c_"
        items = []
        for part in parts:
            if isinstance(part, ast.Slice):
                bounds = [static_value(self.lower_expr(p)) if p is not None else (True, None)
                          for p in (part.lower, part.upper, part.step)]
                if not all(ok for ok, _ in bounds):
                    raise self.error(part, f"a range in `{name}[...]` whose bounds gradc does not know when it compiles")
                items.append(self.const(np.r_[slice(*(b for _, b in bounds))], part))
            elif isinstance(part, ast.Constant) and isinstance(part.value, str):
                raise self.error(part, f"a directive string in `{name}[...]`",
                                 "use np.concatenate, np.stack or np.column_stack with the axis you mean")
            else:
                items.append(self.lower_expr(part))
        return self.call(helper, items, node)

    def expr_Slice(self, node: ast.Slice) -> Value:
        parts = [self.lower_expr(p) if p is not None else self.const(None) for p in (node.lower, node.upper, node.step)]
        if all(static_value(p)[0] for p in parts):
            return self.const(slice(*(static_value(p)[1] for p in parts)), node)
        return self.call(slice, parts, node, spelling=ast.Name("slice", ast.Load()))

    def expr_Call(self, node: ast.Call) -> Value:
        func = node.func
        static = self.is_static(func)
        callee = self.resolve_static(func) if static else None
        outer, self.consumed_at_once = self.consumed_at_once, True
        try:
            args = [self.argument(a, callee) for a in node.args]
            kwargs = {k.arg: self.argument(k.value, callee) for k in node.keywords}
        finally:
            self.consumed_at_once = outer
        if isinstance(func, ast.Name) and func.id in self.functions and func.id not in self.env and \
                not self.rule_mode:
            return self.call_local(func.id, args, kwargs, node)
        if static and not self.rule_mode and is_namespace_getter(callee):
            return self.namespace(node)  # (`xp = array_api_compat.array_namespace(x)`: standard_calls.py)
        if static and not self.rule_mode:
            known = self.fold_extremum(callee, args, node) if not kwargs else None
            known = known if known is not None else self.sequence_copy(callee, args, kwargs, node)
            if known is not None:
                return known
        if static:
            as_callee = getattr(callee, "_as_callee", None)
            if callable(as_callee) and not self.rule_mode:
                callee = as_callee()  # (a gradient gradc compiled: its generated function, inlined like a helper)
            if _reads_the_frame(callee, node):
                raise self.error(node, f"`{ast.unparse(func)}` reads or writes the function's variables by name, "
                                 "which gradc cannot follow (a computation hidden from it: a wrong gradient)",
                                 "write the computation out in the function")
            if not self.rule_mode and _inlinable(callee):
                inlined = self.inline_call(callee, args, kwargs, node)
                if isinstance(inlined, Value):
                    return inlined
                if inlined is RECURSIVE:
                    return self.recursive_call(callee, args, kwargs, node)
                self.refuse_hidden_writes(callee, inlined, args, kwargs, node)
                value = self.call(callee, args, node, spelling=self.portable(func), kwargs=kwargs)
                value.owner.attrs["not_inlined"] = inlined  # why: shown if a gradient must flow through it
                return value
            return self.call(callee, args, node, spelling=self.portable(func), kwargs=kwargs)
        if isinstance(func, ast.Attribute) and func.attr == "pop" and not node.args and not node.keywords and \
                isinstance(func.value, ast.Name) and func.value.id in self.env and not self.rule_mode:
            return self.pop_item(func.value, node)  # (`tape.pop()`: gradc's own backward sweeps, read again)
        if isinstance(func, ast.Attribute):
            receiver = self.lower_expr(func.value)
            namespace = namespace_of(receiver)
            if namespace is not None and not self.rule_mode:
                return self.standard_call(namespace, node, args, kwargs)
            if func.attr == "__array_namespace__" and not args and not kwargs and not self.rule_mode:
                return self.namespace(node)
            ok, value = static_value(receiver)
            if ok and self.rule_mode:
                return self.call(getattr(value, func.attr), args, node, kwargs=kwargs)
            inlined = None if self.rule_mode else records.call_method(self, receiver, node, args, kwargs)
            if inlined is not None:  # (`p.apply(x)`, p a dataclass: its method inlined)
                return inlined
            if not self.rule_mode:
                known = self.dict_method(receiver, func.attr, args, kwargs, node)
                if known is not None:
                    return known
            return self.emit("method", [receiver] + args + list(kwargs.values()), node,
                             name=func.attr, kwnames=tuple(kwargs))
        if isinstance(func, ast.Name) and func.id in self.forgotten:
            raise self.error(node, f"`{func.id}`, a function defined in the loop at line "
                             f"{self.forgotten[func.id]}, called after that loop",
                             "define it before the loop, or call it inside the loop")
        raise self.error(node, f"calling `{ast.unparse(func)}`, a value computed inside the function, "
                         "is not supported", "gradc resolves callees when it compiles; call a function "
                         "by its module-level name")


#: Callees that read or write a frame's variables by name (what they compute is hidden from gradc).
_FRAME_ACCESS = {eval, exec, compile, locals, vars, globals, __import__, sys._getframe, inspect.currentframe,
                 inspect.stack, inspect.getouterframes, inspect.getframeinfo, inspect.trace}


def _chain(node: ast.expr) -> tuple | None:
    """`a.b.c` as ("a", "b", "c"); None for anything else."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    return (node.id, *reversed(names)) if isinstance(node, ast.Name) else None


def _root_name(node: ast.expr) -> ast.Name:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def _library_module(obj: Any) -> bool:
    """NumPy's and the standard library's math modules: their constants are never rebound."""
    return isinstance(obj, types.ModuleType) and obj.__name__.split(".")[0] in ("numpy", "math", "cmath")


#: NumPy's index tricks that join arrays, and the helpers they are lowered to.
_CONCATENATORS = {type(np.r_): runtime.r_of, type(np.c_): runtime.c_of}


def _reads_the_frame(callee: Any, node: ast.Call) -> bool:
    try:
        if callee in _FRAME_ACCESS:
            return True
    except TypeError:  # (an unhashable callee)
        return False
    return callee is dir and not node.args  # (`dir()` lists the local names)


_NOT_INLINED_MODULES = ("numpy", "gradc", "scipy", "autograd", "jax", "torch")


def _inlinable(callee: Any) -> bool:
    """The user's own Python functions: no rule, defined outside NumPy, gradc and the stdlib."""
    if not isinstance(callee, types.FunctionType) or lookup(callee) is not None:
        return False
    full = getattr(callee, "__module__", None) or ""
    if full.startswith("gradc.rules."):
        return True  # (a rule a gradient calls, not inlined there: differentiated again through its body)
    module = full.split(".")[0]
    return module not in _NOT_INLINED_MODULES and module not in getattr(sys, "stdlib_module_names", ())


@functools.lru_cache(maxsize=256)
def _parsed_helper(callee: Callable) -> tuple[ParsedFunction, ast.FunctionDef, set[str]]:
    """A helper's parsed and normalized source; each statement remembers which function it is from."""
    parsed = parse_function(callee)
    tree = normalize(parsed, root=False)
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            node.origin = (callee.__name__, parsed.lines)
    return parsed, tree, local_names(tree)


def is_structure(kind: Any) -> bool:
    """Whether an argument's kind describes a container: `("list", (...))`, `("dict", keys, (...))`."""
    return type(kind) is tuple and bool(kind) and kind[0] in ("list", "tuple", "dict", "record")


def _written_names(stmts: list[ast.AST]) -> set[str]:
    """Names written into (`y[i] = v`) or appended to (`items.append(x)`) in `stmts`."""
    names = set()
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
                names.add(node.value.id)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and \
                    isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "append" and \
                    isinstance(node.value.func.value, ast.Name):
                names.add(node.value.func.value.id)
    return names


def lower_function(parsed: ParsedFunction, structures: dict[int, Any] | None = None,
                   kinds: tuple | None = None, recursive_writes: dict | None = None) -> Function:
    """Lower the user's function to IR (after normalization).

    `structures` maps a parameter's position to the shape of the container it holds
    (`("list", (None, None))`, `("dict", ("W", "b"), (None, None))`; None is a leaf): such
    a parameter is unpacked into its leaves on entry, and the function works on a literal
    rebuilt from them, so `params["W"]` and `W, b = layers[0]` resolve at compile time.
    `kinds` (the call's argument kinds, when known) say which values are arrays and which are
    numbers, where Python's object semantics depend on it (`s = x[1]; s += 1.0`); without them,
    such a decision is refused, and `function.kind_dependent` says one was met.
    """
    node = normalize(parsed)
    args = node.args
    params = [Value(a.arg) for a in args.posonlyargs + args.args + args.kwonlyargs]
    body = Region()
    facts = {p: abstract_kind(k) for p, k in zip(params, kinds)} if kinds else None
    lowerer = _Lowerer(parsed, body, {}, local_names(node), facts=facts)
    lowerer.inlining = [parsed.fn]
    lowerer.recursive_writes = recursive_writes
    for index, param in enumerate(params):
        kind = kinds[index] if kinds and index < len(kinds) else None
        lowerer.env[param.hint] = lowerer.heap.new(param, "array", label=param.hint, mutable=_mutable_kind(kind))
        lowerer.arguments[lowerer.env[param.hint]] = (index, ())
    leaves: dict[int, list[Value]] = {}
    for index, structure in (structures or {}).items():
        found: list[Value] = []
        rebuilt = lowerer.unpack(params[index], structure, params[index].hint, found)
        for leaf_index, leaf in enumerate(found):
            if leaf in lowerer.heap.obj_of:
                lowerer.arguments[lowerer.heap.obj_of[leaf]] = (index, leaf_index)
        if rebuilt is not params[index]:
            rebuilt.hint = params[index].hint  # the literal stands for the argument
        lowerer.bind_name(params[index].hint, rebuilt)
        leaves[index] = found
    lowerer.lower_block(node.body)
    if lowerer.recursive_writes is None and _recursion_may_write(lowerer, parsed):
        # (lowered again, now knowing which arguments its recursive calls write into)
        writes = {callee: ({i for i, _ in lowerer.written} if callee is parsed.fn else
                           set(range(len(inspect.signature(callee).parameters))))
                  for callee in lowerer.recursive_callees}
        return lower_function(parsed, structures, kinds, writes)
    function = Function(node.name, params, body, parsed.file, dict(parsed.lines))
    function.signature = node.args  # the primal's `arguments` node, reused for the gradient's signature
    function.leaves = leaves
    function.structures = dict(structures or {})
    function.kind_dependent = lowerer.kind_dependent
    function.written_arguments = tuple(sorted(lowerer.written, key=repr))
    function.dependencies = tuple(lowerer.dependencies.items())
    return function


def _recursion_may_write(lowerer: _Lowerer, parsed: ParsedFunction) -> bool:
    """Whether a recursive call may write into an array it is passed: the function writes into an
    argument, or the callee is a helper (whose own writes are not told apart)."""
    return any(callee is not parsed.fn or lowerer.written for callee in lowerer.recursive_callees)


def _mutable_kind(kind: Any) -> bool | None:
    """Whether an argument of this kind is mutable (an array, a container) or a number."""
    if kind is None:
        return None
    if isinstance(kind, type):
        return False
    return True


@functools.lru_cache(maxsize=None)
def _parsed_rule(rule: Callable) -> tuple[ParsedFunction, set[str]] | None:
    try:
        parsed = parse_function(rule)
    except GradcError:
        return None
    return parsed, local_names(parsed.node)


def _option_constant(value: Value, lowerer: "_Lowerer") -> Value:
    """An option the rule may decide on when compiled: a tuple of constants (`axis=(1, 2)`) or a
    library module's constant (`ord=np.inf`), as the rule's own constant (a rule's `if` on it is
    then settled); anything else as it is (a user's global is read when the gradient runs)."""
    op = value.owner
    if op is None:
        return value
    if op.kind == "const" and op.attrs.get("library_constant") and \
            isinstance(op.attrs["value"], (int, float, str, bool)):
        return lowerer.const(op.attrs["value"])  # (not a global of the user's: it may be rebound)
    if op.kind == "tuple" and all(static_value(v)[0] and v.owner.attrs.get("spelling") is None for v in op.operands):
        return lowerer.const(tuple(static_value(v)[1] for v in op.operands))
    return value


def inline_rule(rule: Callable, bindings: dict[str, Value], region: Region,
                stmt: ast.stmt | None, loc: Loc | None, ndims: dict[Value, int] | None = None,
                dtypes: dict[Value, Any] | None = None) -> Value:
    """Lower `rule`'s body into `region` with its parameters bound; return the value it returns.

    `ndims` gives the number of dimensions of values whose shape the compiler knows: in the
    rule, `shapes_known(a, b)` is then True and `np.ndim(a)` a constant, so a rule can pick
    the plain form for the common case (`g @ b.T` for matrices). `dtypes`, the NumPy dtypes it
    knows: `np.iscomplexobj(x)` is then a constant (a rule's complex form costs real code nothing).

    Raises CannotInline when the body's path depends on run-time values; nothing is
    added to `region` then.
    """
    found = _parsed_rule(rule)
    if found is None:
        raise CannotInline("the rule's source is unavailable")
    parsed, local_names = found
    scratch = Region()
    lowerer = _Lowerer(parsed, scratch, {}, local_names, rule_mode=True)
    bindings = {name: _option_constant(value, lowerer) for name, value in bindings.items()}
    lowerer.env = {name: lowerer.heap.new(value, "array") for name, value in bindings.items()}
    lowerer.ndims = ndims or {}
    lowerer.dtypes = dtypes or {}
    lowerer.stmt = stmt
    try:
        returned = lowerer.lower_block(parsed.node.body)
    except GradcError as exc:
        raise CannotInline(str(exc)) from None
    if not returned or lowerer.returned is None:
        raise CannotInline("the rule does not end in a return")
    for op in scratch.ops:
        op.loc = loc  # errors in rule code point at the primal statement
        for result in op.results:
            result.temp = True
    region.ops.extend(scratch.ops)
    return lowerer.returned


def known_dtypes(facts: dict, values: Any) -> dict[Value, Any]:
    """The NumPy dtypes the shape facts know of `values` (for `inline_rule`)."""
    found = {}
    for value in values:
        fact = facts.get(value) if isinstance(value, Value) else None
        if fact is not None and fact.dtype is not None:
            found[value] = np.dtype(fact.dtype)
        elif fact is not None and fact.shape == () and not fact.known and fact.seq is None:
            found[value] = np.dtype(float)  # (a Python number of the user's: complex ones have no facts)
    return found


def _callee_text(op: Op) -> str:
    if op.kind == "method":
        return f"`.{op.attrs['name']}()`"
    keywords = " with `out=`" if "out" in op.kwnames else ""
    return f"`{callee_name(op.attrs['callee'])}`{keywords}"


def callee_name(callee: Any) -> str:
    """A short readable name for a callee (for messages)."""
    if isinstance(callee, (types.FunctionType, types.BuiltinFunctionType, np.ufunc)) or hasattr(callee, "__name__"):
        module = getattr(callee, "__module__", None) or ""
        name = getattr(callee, "__qualname__", None) or callee.__name__
        if isinstance(callee, np.ufunc) or module.startswith("numpy"):
            return f"numpy.{callee.__name__}"
        if module in ("builtins", "_operator", "operator", ""):
            return name
        return f"{module}.{name}"
    return repr(callee)


builtins_names = set(dir(builtins))
