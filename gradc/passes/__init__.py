"""Optimization passes on the adjoint IR; `optimize` runs them in order."""
from __future__ import annotations

from ..ir.core import Function
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .inplace import accumulate_in_place
from .simplify import simplify

__all__ = ["optimize", "eliminate_dead_code", "eliminate_common_subexpressions", "simplify", "accumulate_in_place"]


def optimize(function: Function, enabled: bool = True) -> Function:
    """Simplify, share common subexpressions, and drop dead code (dead code always goes:
    a rule's gradient for an inactive operand may not even be computable, e.g. log of a
    negative base)."""
    if enabled:
        simplify(function)
        eliminate_common_subexpressions(function)
    eliminate_dead_code(function)
    return accumulate_in_place(function) if enabled else function
