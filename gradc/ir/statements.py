"""The ops that stand for Python statements kept for their effect in the forward sweep.

`print(...)`, `warnings.warn(...)` and `logging` calls are plain `call` ops whose callee the effect
table declares `io`. Three statements have no call of their own; they are calls of these helpers:

    raise_exception(exc)          # raise exc
    raise_exception(exc, cause)   # raise exc from cause
    enter_context(cm)             # with cm:          (np.errstate(...) and the like)
    exit_context(cm)              #     ... (the ops of the body, in between, in the same region)

The emitter prints them back as the statements (backend/effect_statements.py); called, they do
what the statement does, so a program that keeps them as calls still means the same. An
`assert c, m` is the branch `if not c: raise_exception(AssertionError(m))` whose statement
(`op.stmt`) carries `assertion = True`; the emitter prints it as the `assert` it was. An f-string
is the method call `"x was {:.3f}".format(x)` with the attribute `fstring`, a pure op.
"""
from __future__ import annotations

from typing import Any

from .core import Op, Region

__all__ = ["raise_exception", "enter_context", "exit_context", "CONTEXTS", "raises"]


def raise_exception(exc: Any, cause: Any = None) -> None:
    """`raise exc` (`raise exc from cause` when given a cause)."""
    if cause is not None:
        raise exc from cause
    raise exc


def enter_context(cm: Any) -> None:
    """The start of `with cm:` (its body is what follows, up to `exit_context(cm)`)."""
    cm.__enter__()


def exit_context(cm: Any) -> None:
    """The end of `with cm:`."""
    cm.__exit__(None, None, None)


CONTEXTS = (enter_context, exit_context)


def raises(region: Region) -> bool:
    """Whether every path through `region` ends in a `raise` (it hands nothing on: what follows
    the op that raises, the values its yield needs included, never runs)."""
    return any(_raises(op) for op in region.ops)


def _raises(op: Op) -> bool:
    if op.kind == "call" and op.attrs.get("callee") is raise_exception:
        return True
    return op.kind == "if" and len(op.regions) == 2 and all(raises(r) for r in op.regions)
