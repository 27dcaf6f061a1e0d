"""Derivative rules, one module per library; importing this package registers them all."""
from . import builtins, linalg, math, numpy, operators, runtime_rules  # noqa: F401  (registration)
from .registry import REGISTRY, Attr, Method, Rule, jvp, lookup, vjp, zero_gradient

__all__ = ["REGISTRY", "Attr", "Method", "Rule", "jvp", "lookup", "vjp", "zero_gradient"]
