"""Structural checks of the IR, run by the tests on every lowered and transformed function.

- every op's kind is known and its results are defined by it alone;
- every value is defined exactly once, before it is read, in the same region
  or an enclosing one (or is a parameter or region argument);
- regions of `if`/`for`/`while`/`boolop` end in `yield`; a function's body ends in `return`.
"""
from __future__ import annotations

from .core import OP_KINDS, STRUCTURED_KINDS, Function, Region, Value

__all__ = ["verify", "VerificationError"]


class VerificationError(AssertionError):
    """The IR breaks an invariant: a bug in gradc, never the user's fault."""


def _check_region(region: Region, visible: set[Value], defined: set[Value], where: str) -> None:
    scope = set(visible) | set(region.args)
    for arg in region.args:
        if arg in defined:
            raise VerificationError(f"{where}: region argument {arg} defined twice")
        defined.add(arg)
    for index, op in enumerate(region.ops):
        if op.kind not in OP_KINDS:
            raise VerificationError(f"{where}: unknown op kind {op.kind!r}")
        for operand in op.operands:
            if not isinstance(operand, Value):
                raise VerificationError(f"{where}: operand {operand!r} of {op.kind} is not a Value")
            if operand not in scope:
                raise VerificationError(f"{where}: {op.kind} reads {operand} before it is defined")
        for inner in op.regions:
            _check_region(inner, scope, defined, f"{where}/{op.kind}")
            if not inner.ops or inner.ops[-1].kind != "yield":
                raise VerificationError(f"{where}: a region of {op.kind} does not end in yield")
        if op.kind in STRUCTURED_KINDS and not op.regions:
            raise VerificationError(f"{where}: {op.kind} has no regions")
        for result in op.results:
            if result in defined:
                raise VerificationError(f"{where}: {result} defined twice")
            if result.owner is not op:
                raise VerificationError(f"{where}: {result} does not name its defining op")
            defined.add(result)
            scope.add(result)
        if op.kind == "return" and index != len(region.ops) - 1:
            raise VerificationError(f"{where}: return before the end of a region")


def verify(function: Function) -> Function:
    """Raise VerificationError if `function` breaks an IR invariant; return it otherwise."""
    params = set(function.params)
    if len(params) != len(function.params):
        raise VerificationError("a parameter is listed twice")
    if not function.body.ops or function.body.ops[-1].kind != "return":
        raise VerificationError("the function body does not end in return")
    _check_region(function.body, params, set(params), function.name)
    return function
