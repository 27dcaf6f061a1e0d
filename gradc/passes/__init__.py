"""Optimization passes on the adjoint IR; `optimize` runs them in order."""
from __future__ import annotations

import math

from ..ir.core import Function
from .contract import contract_sums_of_products
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .factors import fold_factors
from .bufferize import NUMPY, REUSE_MIN_ELEMENTS, Target, bufferize
from .simplify import simplify

__all__ = ["optimize", "share_primal", "eliminate_dead_code", "eliminate_common_subexpressions", "simplify",
           "bufferize", "Target", "NUMPY",
           "fold_factors", "contract_sums_of_products"]


def share_primal(function: Function, enabled: bool = True) -> Function:
    """Before differentiation: one op for each pure expression of the primal, so an expression
    read twice (`x[:-1]` in two statements) gets one adjoint, scattered back once."""
    return eliminate_common_subexpressions(function) if enabled else function


def _largest_known_array(function: Function) -> int:
    """The number of elements of the largest array whose shape is known (0: none)."""
    sizes = [math.prod(f.shape) for f in getattr(function, "facts", {}).values() if f.shape]
    return max(sizes, default=0)


def optimize(function: Function, enabled: bool = True, target: Target = NUMPY) -> Function:
    """Simplify, share common subexpressions, and drop dead code (dead code always goes:
    a rule's gradient for an inactive operand may not even be computable, e.g. log of a
    negative base); then bufferize, which always runs: it decides what shares an array."""
    largest = _largest_known_array(function)  # (scalar code skips the passes for arrays)
    if enabled:
        simplify(function)
        eliminate_common_subexpressions(function)
        eliminate_dead_code(function)  # (so that use counts are the live ones)
        if fold_factors(function):
            simplify(function)  # (`x * 1.0` that folding left)
        if largest and target.einsum:
            eliminate_dead_code(function)  # (what folding left unread must not count as a reader)
            contract_sums_of_products(function)
    eliminate_dead_code(function)
    bufferize(function, enabled, target, REUSE_MIN_ELEMENTS if largest >= REUSE_MIN_ELEMENTS else 1 << 62)
    function.optimized = enabled  # (the emitter then also releases big arrays early)
    return function
