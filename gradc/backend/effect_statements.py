"""Printing the statements kept for their effect (frontend/effect_statements.py) as they were written.

- `raise_exception(e)` → `raise e` (`raise e from c`); what follows a `raise` in its block (the
  copies a branch's yield needs) is dropped: it never runs.
- the branch of an `assert` (`if not c: raise AssertionError(m)`) → `assert c, m`.
- `enter_context(cm)` ... `exit_context(cm)` → `with cm:` around the statements between; when `cm`
  was made just before (`errstate = np.errstate(...)`) and is read by nothing else, the call
  itself: `with np.errstate(divide='ignore'):`.
- an f-string's `"x was {:.3f}".format(x)` → `f'x was {x:.3f}'`.
"""
from __future__ import annotations

import ast
import string
from typing import Any, Callable, Iterator

from ..ir.core import Op
from . import check
from ..ir.statements import enter_context, exit_context, raise_exception, raises

__all__ = ["statement", "fstring", "finish_block"]

_ENTER, _EXIT = "__gradc_enter__", "__gradc_exit__"


def statement(emitter: Any, op: Op) -> list[ast.stmt] | None:
    """The statements `op` prints as, if it is one of these (else None)."""
    if op.kind == "call":
        callee = op.attrs.get("callee")
        if callee is raise_exception:
            cause = emitter.expr(op.operands[1]) if len(op.operands) > 1 else None
            return [ast.Raise(emitter.expr(op.operands[0]), cause)]
        if callee is enter_context or callee is exit_context:
            mark = _ENTER if callee is enter_context else _EXIT
            return [ast.Expr(ast.Call(ast.Name(mark, ast.Load()), [emitter.expr(op.operands[0])], []))]
    if op.kind == "if" and any(raises(region) for region in op.regions):
        stmts = emitter.if_statement(op)
        for stmt in stmts:
            if isinstance(stmt, ast.If):  # (a branch that raises: the copies its yield needs never run)
                stmt.body, stmt.orelse = _until_raise(stmt.body), _until_raise(stmt.orelse)
        if getattr(op.stmt, "assertion", False) and not op.results:
            stmts = [_assertion(stmt) for stmt in stmts]
        return stmts
    return None


def _until_raise(body: list[ast.stmt]) -> list[ast.stmt]:
    """`body` up to the statement that raises on every path through it."""
    for index, stmt in enumerate(body):
        if _always_raises(stmt):
            return body[:index + 1]
    return body


def _always_raises(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Raise):
        return True
    return isinstance(stmt, ast.If) and bool(stmt.body) and bool(stmt.orelse) and \
        _always_raises(stmt.body[-1]) and _always_raises(stmt.orelse[-1])


def _assertion(stmt: ast.stmt) -> ast.stmt:
    """`if not c: raise AssertionError(m)` as `assert c, m` (anything else as it is)."""
    body = [s for s in getattr(stmt, "body", ()) if not _checker(s)]  # (GRADC_VERIFY's reads go too)
    if not isinstance(stmt, ast.If) or stmt.orelse or len(body) != 1 or not isinstance(body[0], ast.Raise):
        return stmt
    exc = body[0].exc
    if body[0].cause is not None or not isinstance(exc, ast.Call) or exc.keywords or len(exc.args) > 1 or \
            not (isinstance(exc.func, ast.Name) and exc.func.id == "AssertionError"):
        return stmt
    test = stmt.test
    test = test.operand if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) else \
        ast.UnaryOp(ast.Not(), test)
    return ast.Assert(test, exc.args[0] if exc.args else None)


def fstring(emitter: Any, op: Op) -> ast.expr:
    """An f-string's `"...".format(...)` printed back as the f-string (or as the call, where the
    f-string would not read back the same on this Python)."""
    receiver = emitter.expr(op.operands[0])
    values = [emitter.expr(v) for v in op.operands[1:]]
    call = ast.Call(ast.Attribute(receiver, "format", ast.Load()), values, [])
    if not isinstance(receiver, ast.Constant) or not isinstance(receiver.value, str):
        return call
    try:
        joined = _joined(receiver.value, iter(values))
        text = ast.unparse(joined)
        if ast.dump(ast.parse(text, mode="eval").body) != ast.dump(joined):
            return call
    except (SyntaxError, ValueError, StopIteration):
        return call
    return joined


def _joined(template: str, values: Iterator[ast.expr]) -> ast.JoinedStr:
    parts: list[ast.expr] = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        if literal:
            parts.append(ast.Constant(literal))
        if field is None:
            continue
        if field:
            raise ValueError("a numbered or named field")
        value = next(values)
        parts.append(ast.FormattedValue(value, ord(conversion) if conversion else -1,
                                        _joined(spec, values) if spec else None))
    return ast.JoinedStr(parts)


def finish_block(body: list[ast.stmt], is_comment: Callable[[ast.stmt], bool]) -> list[ast.stmt]:
    """A block's statements with what follows a `raise` dropped and each `with` put together."""
    body = _until_raise(body)
    if not any(_mark(stmt) for stmt in body):
        return body
    out: list[ast.stmt] = []
    index = 0
    while index < len(body):
        stmt = body[index]
        if _mark(stmt) != _ENTER:
            out.append(stmt)
            index += 1
            continue
        cm = stmt.value.args[0]
        end = _matching_exit(body, index, cm)
        item = _made_just_before(out, cm, body[index + 1:], is_comment)
        inner = body[index + 1:end]
        if item is not cm:  # (GRADC_VERIFY's checks of the name folded away go with it)
            inner = [s for s in inner if not (_checker(s) and _reads(s, cm.id))]
        while inner and is_comment(inner[-1]):
            inner.pop()  # (the `with` line's own comment, before its end)
        inner = finish_block(inner, is_comment)
        if all(is_comment(stmt) for stmt in inner):  # (nothing of the body is computed: no `with`)
            while out and is_comment(out[-1]) and item is not cm:
                out.pop()  # (the `with` line's comment, heading nothing now)
        else:
            kept = [s for s in inner if not is_comment(s)]
            if len(kept) == 1 and isinstance(kept[0], ast.With):  # (`with a, b:`, or `with a:` around `with b:`)
                out.append(ast.With([ast.withitem(item, None)] + kept[0].items, kept[0].body, lineno=0))
            else:
                out.append(ast.With([ast.withitem(item, None)], inner, lineno=0))
        index = end + 1
    return out


def _mark(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Name) \
            and stmt.value.func.id in (_ENTER, _EXIT):
        return stmt.value.func.id
    return None


def _matching_exit(body: list[ast.stmt], start: int, cm: ast.expr) -> int:
    depth, key = 0, ast.dump(cm)
    for index in range(start, len(body)):
        mark = _mark(body[index])
        if mark and ast.dump(body[index].value.args[0]) == key:
            depth += 1 if mark == _ENTER else -1
            if depth == 0:
                return index
    raise AssertionError("a `with` whose end is not in its block")


def _made_just_before(out: list[ast.stmt], cm: ast.expr, rest: list[ast.stmt],
                      is_comment: Callable[[ast.stmt], bool]) -> ast.expr:
    """`np.errstate(...)` itself where `cm` names it, assigned just before and read by nothing but
    the `with` (the assignment is taken out of `out`); else `cm`."""
    if not isinstance(cm, ast.Name):
        return cm
    at = len(out) - 1
    while at >= 0 and (is_comment(out[at]) or _checker(out[at])):
        at -= 1
    if at < 0:
        return cm
    made = out[at]
    if not (isinstance(made, ast.Assign) and len(made.targets) == 1 and isinstance(made.targets[0], ast.Name)
            and made.targets[0].id == cm.id):
        return cm
    readers = [stmt for stmt in out[:at] + out[at + 1:] + rest if not _checker(stmt) and _reads(stmt, cm.id)]
    if len(readers) != 1:  # (the `with`'s end reads it; nothing else may)
        return cm
    out[at:] = [stmt for stmt in out[at + 1:] if not (_checker(stmt) and _reads(stmt, cm.id))]
    return made.value


def _reads(stmt: ast.stmt, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(stmt))


def _checker(stmt: ast.stmt) -> bool:
    """A statement of the buffer checker's (GRADC_VERIFY=1, backend/check.py)."""
    return isinstance(stmt, (ast.Expr, ast.Assign)) and _reads(stmt, check.CHECK_NAME)
