"""Statements that change no gradient, kept in the forward sweep: `print`, `assert`, `raise`,
`warnings.warn`, `logging`, `with np.errstate(...):`, and f-strings.

They run where the primal runs them, once per call of the gradient, in program order with the
other effects (the effect table declares them `io`, so no pass drops, merges or reorders them),
and the generated source shows them as the statements they were (backend/effect_statements.py).
What each becomes (see ir/statements.py for the ops):

- `print(...)`, `warnings.warn(...)`, `logging.info(...)`, `log.info(...)` (a `logging.Logger`
  the function reaches by name), `warnings.simplefilter(...)`: the call, as it is; any callee the
  effect table declares as output (or as global settings) and not as a write into an argument.
- `assert c, m`             → `if not c: raise AssertionError(m)`, printed back as `assert c, m`
                              (the message is computed only when the assertion fails).
- `raise E(...)`, `raise E from C` → `raise_exception(E(...))`; a branch that raises hands
                              nothing on (the values after the `if` are the other branch's).
- `with np.errstate(...):`  → `enter_context(cm)`, the body, `exit_context(cm)`: the forward
  sweep's computation of the body runs in the context, as in the primal; the backward sweep runs
  outside it, as it would without the `with` (it changes how floating-point errors are reported,
  never a value). Also `np.printoptions(...)`, `warnings.catch_warnings()`; nothing else.
- `f"x was {x:.3f}"`        → `"x was {:.3f}".format(x)`: a string, which carries no gradient.
"""
from __future__ import annotations

import ast
import warnings
from typing import Any, Callable

import numpy as np

from ..errors import UnsupportedSyntaxError
from ..ir.core import Value
from ..ir.effects import effect_of
from ..ir.statements import enter_context, exit_context, raise_exception
from .source import ParsedFunction

__all__ = ["normalize_statement", "lower_statement", "lower_fstring", "is_effect_call", "CONTEXT_MANAGERS"]

#: The context managers a `with` may use: they change how errors are reported or values printed,
#: never a value the program computes.
CONTEXT_MANAGERS = (np.errstate, np.printoptions, warnings.catch_warnings)


_WITH_REFUSED = "`with` of anything but `np.errstate(...)`, `np.printoptions(...)` or `warnings.catch_warnings()`"
_WITH_HINT = "gradc keeps a `with` whose context changes how errors are reported or values are printed, " \
    "never a value; a context manager of your own would run in the forward sweep only"


def _allowed_context(parsed: ParsedFunction, expr: ast.expr) -> bool:
    """Whether `expr` is a call of one of the CONTEXT_MANAGERS, by a name the function reaches."""
    if not isinstance(expr, ast.Call):
        return False
    chain, node = [], expr.func
    while isinstance(node, ast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return False
    obj = parsed.resolve(node.id)
    for attr in reversed(chain):
        obj = getattr(obj, attr, None)
    return any(obj is allowed for allowed in CONTEXT_MANAGERS)


def _refuse(parsed: ParsedFunction, node: ast.AST, what: str, hint: str = "") -> None:
    raise UnsupportedSyntaxError(f"{what} is not supported by gradc", parsed.loc(node), hint)


# -- normalize ----------------------------------------------------------------------------------------
def normalize_statement(parsed: ParsedFunction, stmt: ast.stmt,
                        normalize_block: Callable, check_expression: Callable) -> list[ast.stmt]:
    """`assert`, `raise` and `with`, checked and desugared (see the module docstring)."""
    if isinstance(stmt, ast.Assert):
        check_expression(parsed, stmt.test)
        args = []
        if stmt.msg is not None:
            check_expression(parsed, stmt.msg)
            args = [stmt.msg]
        exc = ast.copy_location(ast.Call(ast.Name("AssertionError", ast.Load()), args, []), stmt)
        fail = ast.copy_location(ast.Raise(exc, None), stmt)
        fail.flag = True  # (written by gradc: no comment of its own)
        fail, = normalize_block(parsed, [fail])  # (a comprehension in the message: its scope rewritten)
        test = ast.copy_location(ast.UnaryOp(ast.Not(), stmt.test), stmt.test)
        branch = ast.copy_location(ast.If(test, [fail], []), stmt)
        branch.assertion = True  # (printed back as `assert`)
        return [branch]
    if isinstance(stmt, ast.Raise):
        if stmt.exc is None:
            _refuse(parsed, stmt, "a bare `raise` (re-raising needs an `except`)")
        check_expression(parsed, stmt.exc)
        if stmt.cause is not None:
            check_expression(parsed, stmt.cause)
        return [stmt]
    assert isinstance(stmt, ast.With), stmt
    for item in stmt.items:
        check_expression(parsed, item.context_expr)
        if not _allowed_context(parsed, item.context_expr):
            _refuse(parsed, stmt, _WITH_REFUSED, _WITH_HINT)
        if item.optional_vars is not None:
            _refuse(parsed, item.optional_vars, "`with ... as name`", "write `with np.errstate(...):`, without `as`")
    body = normalize_block(parsed, stmt.body)
    for item in reversed(stmt.items[1:]):  # (`with a, b:` is `with a: with b:`)
        inner = ast.copy_location(ast.With([item], body), stmt)
        body = [inner]
    stmt.items, stmt.body = stmt.items[:1], body
    return [stmt]


# -- lower --------------------------------------------------------------------------------------------
def lower_statement(lowerer: Any, stmt: ast.stmt) -> None:
    """Lower a `raise` or a `with` (normalized) into the lowerer's current region."""
    if isinstance(stmt, ast.Raise):
        operands = [lowerer.lower_expr(stmt.exc)]
        if stmt.cause is not None:
            operands.append(lowerer.lower_expr(stmt.cause))
        lowerer.emit("call", operands, stmt, callee=raise_exception, spelling=None, kwnames=())
        return
    item = stmt.items[0]
    func = item.context_expr.func
    callee = lowerer.resolve_static(func) if lowerer.is_static(func) else None
    if not any(callee is allowed for allowed in CONTEXT_MANAGERS):  # (a local name hiding the global one)
        raise lowerer.error(stmt, _WITH_REFUSED + " is not supported by gradc", _WITH_HINT)
    cm = lowerer.lower_expr(item.context_expr)
    lowerer.emit("call", [cm], stmt, callee=enter_context, spelling=None, kwnames=())
    lowerer.lower_block([s for s in stmt.body if not isinstance(s, ast.Pass)])
    lowerer.emit("call", [cm], stmt, callee=exit_context, spelling=None, kwnames=())


def is_effect_call(value: Value) -> bool:
    """Whether `value` is computed by a call made for its output (`print`, `log.info`, ...) or
    for global settings (`warnings.simplefilter`), which a statement may make for its effect."""
    op = value.owner
    if op is None or op.kind not in ("call", "method") or op.attrs.get("not_inlined"):
        return False
    effect = effect_of(op)
    return (effect.io or effect.hidden) and not effect.writes and effect.result != "unknown"


# -- f-strings ----------------------------------------------------------------------------------------
def lower_fstring(lowerer: Any, node: ast.JoinedStr) -> Value:
    """`f"x was {x:.3f}"` as `"x was {:.3f}".format(x)` (marked `fstring`: printed back as it was)."""
    values: list[ast.expr] = []
    template = _template(node, values)
    receiver = lowerer.const(template, node)
    operands = [lowerer.lower_expr(v) for v in values]
    if not operands:
        return lowerer.const(template.replace("{{", "{").replace("}}", "}"), node)
    return lowerer.emit("method", [receiver] + operands, node, name="format", kwnames=(), fstring=True)


def _template(node: ast.JoinedStr, values: list[ast.expr]) -> str:
    parts = []
    for part in node.values:
        if isinstance(part, ast.Constant):
            parts.append(str(part.value).replace("{", "{{").replace("}", "}}"))
            continue
        assert isinstance(part, ast.FormattedValue), part
        values.append(part.value)
        field = "{"
        if part.conversion != -1:
            field += "!" + chr(part.conversion)
        if part.format_spec is not None:
            field += ":" + _template(part.format_spec, values)
        parts.append(field + "}")
    return "".join(parts)
