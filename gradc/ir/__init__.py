"""The structured SSA intermediate representation (see `core` for its grammar)."""
from .core import OP_KINDS, Function, Op, Region, Value
from .printer import print_function
from .verify import VerificationError, verify

__all__ = ["OP_KINDS", "Function", "Op", "Region", "Value", "print_function", "verify", "VerificationError"]
