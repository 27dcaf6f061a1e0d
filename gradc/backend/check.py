"""The checker of emitted buffer use (`GRADC_VERIFY=1`): generated code that proves, as it runs,
that no value is read after its array was overwritten and that no two values share an array
unless bufferization put them in one alias class.

Under `GRADC_VERIFY=1` the emitter compiles an instrumented twin of each gradient (the source
users see stays as it is): every statement first tells the checker the values it reads, then
the values it defines. The checker keeps a copy of each value as it was defined and compares
it with what the variable holds when the value is read; it compares each array defined with
the arrays of other classes (`np.shares_memory`); it copies what a loop pushes on its tape and
compares it with what the backward pass pops; and at the end it checks that no argument
changed. Any difference raises `BufferCheckError` naming the value and the statement.

It is slow (a copy of every value) and meant for the test suite (CI runs it once whole).
"""
from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GradcError

__all__ = ["enabled", "BufferCheck", "BufferCheckError", "CheckTable", "CHECK_NAME"]

CHECK_NAME = "__gradc_check__"


def enabled() -> bool:
    """Whether gradients are compiled with the buffer checker (the environment's GRADC_VERIFY)."""
    return os.environ.get("GRADC_VERIFY", "") not in ("", "0")


class BufferCheckError(GradcError, AssertionError):
    """Generated code broke a buffer invariant: a bug in gradc, never the user's fault."""


@dataclass
class CheckTable:
    """What the instrumented code's numbers stand for: each checked value's name and alias
    class, and each statement's description."""

    names: list[str] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)
    owned: list[bool] = field(default_factory=list)  # (arrays of two classes gradc never writes may share)
    where: list[str] = field(default_factory=list)
    function: str = ""

    def value(self, name: str, klass: int, owned: bool) -> int:
        self.names.append(name)
        self.classes.append(klass)
        self.owned.append(owned)
        return len(self.names) - 1

    def statement(self, text: str) -> int:
        self.where.append(text)
        return len(self.where) - 1


def _snapshot(obj: Any) -> Any:
    """A copy of what `obj` holds now (None for what need not be compared: numbers, iterators)."""
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, (list, tuple)):
        return [_snapshot(item) for item in obj]
    if isinstance(obj, dict):
        return {key: _snapshot(item) for key, item in obj.items()}
    return None


def _same(obj: Any, snapshot: Any) -> bool:
    if snapshot is None:
        return True
    if isinstance(snapshot, np.ndarray):
        return isinstance(obj, np.ndarray) and obj.shape == snapshot.shape and obj.dtype == snapshot.dtype \
            and obj.tobytes() == snapshot.tobytes()
    if isinstance(snapshot, list):
        return isinstance(obj, (list, tuple)) and len(obj) == len(snapshot) and \
            all(_same(o, s) for o, s in zip(obj, snapshot))
    if isinstance(snapshot, dict):
        return isinstance(obj, dict) and obj.keys() == snapshot.keys() and \
            all(_same(obj[k], s) for k, s in snapshot.items())
    return True


def _arrays(obj: Any) -> list[np.ndarray]:
    """The array a value is (a container holds its items' arrays: that sharing is expected)."""
    return [obj] if isinstance(obj, np.ndarray) else []


class BufferCheck:
    """One call's checks (made at the generated function's entry)."""

    def __init__(self, table: CheckTable):
        self.table = table
        self.values: dict[int, tuple[Any, Any]] = {}  # value number → (object, snapshot)
        self.arrays: dict[int, list[np.ndarray]] = {}
        self.tapes: dict[int, list[Any]] = {}  # id(tape) → snapshots of what was pushed, in order
        self.params: list[tuple[int, Any]] = []

    def fail(self, message: str, where: int) -> None:
        raise BufferCheckError(f"gradc bug in the gradient of {self.table.function}: {message} "
                               f"(at `{self.table.where[where]}`); please report it")

    def define(self, value: int, obj: Any, where: int) -> None:
        """`obj` is now what value number `value` is."""
        self.values[value] = (obj, _snapshot(obj))
        arrays = _arrays(obj)
        if arrays:
            mine, owned = self.table.classes[value], self.table.owned
            for other, theirs in self.arrays.items():
                if other == value or self.table.classes[other] == mine or not (owned[value] or owned[other]):
                    continue
                for a in arrays:
                    for b in theirs:
                        if np.may_share_memory(a, b) and np.shares_memory(a, b, max_work=10_000):
                            self.fail(f"`{self.table.names[value]}` shares an array with "
                                      f"`{self.table.names[other]}`, which bufferization did not expect", where)
        self.arrays[value] = arrays

    def param(self, value: int, obj: Any) -> None:
        self.define(value, obj, 0)
        self.params.append((value, obj))

    def read(self, value: int, obj: Any, where: int) -> None:
        """The statement `where` reads value number `value` from `obj`: it must be unchanged."""
        found = self.values.get(value)
        if found is None:
            return  # (defined on a path the checker did not see: a name unset there)
        defined, snapshot = found
        if not _same(obj, snapshot):
            self.fail(f"`{self.table.names[value]}` was overwritten before this read", where)

    def push(self, tape: Any, obj: Any) -> None:
        self.tapes.setdefault(id(tape), []).append(_snapshot(obj))

    def pop(self, tape: Any, obj: Any, where: int) -> None:
        saved = self.tapes.get(id(tape))
        if saved and not _same(obj, saved.pop()):
            self.fail("a value saved on the tape changed before the backward pass popped it", where)

    def finish(self, result: Any) -> Any:
        for value, obj in self.params:
            _, snapshot = self.values.get(value, (None, None))
            if not _same(obj, snapshot):
                self.fail(f"the argument `{self.table.names[value]}` changed", 0)
        return result


def call(method: str, *args: ast.expr) -> ast.stmt:
    """`__gradc_check__.method(args...)` as a statement."""
    func = ast.Attribute(ast.Name(CHECK_NAME, ast.Load()), method, ast.Load())
    return ast.Expr(ast.Call(func, list(args), []))


def _uses_checker(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == CHECK_NAME for n in ast.walk(node))


def without_checks(node: ast.AST) -> ast.AST:
    """A copy of `node` with every checker statement removed (what users are shown)."""
    import copy
    node = copy.deepcopy(node)
    for holder in ast.walk(node):
        for name in ("body", "orelse"):
            stmts = getattr(holder, name, None)
            if not isinstance(stmts, list) or not stmts or not isinstance(stmts[0], ast.stmt):
                continue
            kept = []
            for stmt in stmts:
                if isinstance(stmt, ast.Return) and stmt.value is not None and _uses_checker(stmt.value):
                    stmt.value = stmt.value.args[0]  # `return __gradc_check__.finish(e)`
                elif isinstance(stmt, (ast.Expr, ast.Assign)) and _uses_checker(stmt):
                    continue
                kept.append(stmt)
            setattr(holder, name, kept or [ast.Pass()])
    return node
