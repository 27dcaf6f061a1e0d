"""The rule registry: one entry per primitive, holding its VJP rule and, beside it, its JVP rule.

A primitive is keyed by the object the user's code calls (``np.tanh``,
``math.exp``, ``operator.mul``), or by :class:`Method`/:class:`Attr` for
array methods and attributes (``x.sum()``, ``x.T``).

A VJP rule is a plain, runnable Python function ``rule(g, ans, *args)``:
``g`` is the adjoint of the primitive's result, ``ans`` the result itself,
and the rest mirror the primitive's parameters. Parameters without a default
are the differentiable ones; the rule returns one gradient for each (a tuple
when there are several, ``None`` for one that has no gradient). Parameters
with a default are options (``axis=None``). The compiler inlines the rule's
body into the generated code with names substituted; when it cannot (a
condition that is only known at run time), it calls the rule instead.

A JVP rule ``rule(ans, *args_and_tangents)`` is the forward-mode twin; the
registry carries it so forward mode needs no second table.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

__all__ = ["Rule", "Method", "Attr", "REGISTRY", "vjp", "jvp", "zero_gradient", "lookup", "version",
           "shapes_known"]


def shapes_known(*values: Any) -> bool:
    """In a rule: whether the compiler knows these values' shapes (then `np.ndim(x)` is a
    constant and the rule can choose its plain form). Called at run time, it says False."""
    return False


@dataclass(frozen=True)
class Method:
    """Key for an array method called on a value: ``x.sum(...)`` is ``Method("sum")``."""

    name: str


@dataclass(frozen=True)
class Attr:
    """Key for an attribute read from a value: ``x.T`` is ``Attr("T")``."""

    name: str


@dataclass
class Rule:
    """What gradc knows about one primitive."""

    primitive: Hashable
    vjp: Callable | None = None
    jvp: Callable | None = None
    #: The derivative is zero almost everywhere (floor, sign, comparisons, ...): its
    #: result carries no gradient, and nothing flows back through it.
    zero: bool = False
    #: Elementwise with NumPy broadcasting: each gradient is reduced to its operand's shape.
    broadcasts: bool = False
    #: Registered by the user through `gradc.defvjp` (wins over differentiating source).
    user: bool = False
    #: The names of the differentiable parameters (those without a default), in order.
    diff_params: tuple[str, ...] = field(default=())
    #: Name of a `*args` parameter whose items are all differentiable (einsum's operands).
    var_param: str | None = None
    #: How the primitive is linear, which gives its JVP without a rule of its own: "each" (in each
    #: differentiable argument apart, the others fixed: `a @ b`, `np.sum(a)`, `x[i]`: the tangent is a
    #: sum of the primitive applied with one argument replaced by its tangent), "joint" (in all of
    #: them together: `np.concatenate(items)`, `assign_item(a, i, v)`: applied to the tangents).
    linear: str = ""
    #: The parameters it is linear in, where not all the differentiable ones (`assign_item`'s index).
    linear_in: tuple[str, ...] = field(default=())
    #: Elementwise (diagonal Jacobian, broadcasting): its VJP with `g` replaced by an argument's
    #: tangent is that argument's part of the JVP (`g * cos(x)` gives `dx * cos(x)`).
    elementwise: bool = False


class _Registry(dict):
    """The rules by primitive. Any change bumps the version, so cached gradients recompile."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        _version[0] += 1

    def __delitem__(self, key):
        super().__delitem__(key)
        _version[0] += 1

    def pop(self, *args):
        _version[0] += 1
        return super().pop(*args)


REGISTRY: dict[Hashable, Rule] = _Registry()
_version = [0]


def version() -> int:
    """A counter bumped by every registration, so caches can tell a rule changed."""
    return _version[0]


def _entry(primitive: Hashable) -> Rule:
    rule = REGISTRY.get(primitive)
    if rule is None:
        rule = REGISTRY[primitive] = Rule(primitive)
    _version[0] += 1
    return rule


def _differentiable_params(fn: Callable) -> tuple[tuple[str, ...], str | None]:
    params = list(inspect.signature(fn).parameters.values())[2:]  # skip g, ans
    names = tuple(p.name for p in params
                  if p.default is inspect.Parameter.empty
                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    var = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), None)
    return names, var


def vjp(*primitives: Hashable, broadcasts: bool = False, user: bool = False,
        diff_varargs: bool = False, linear: str = "", elementwise: bool = False,
        linear_in: tuple[str, ...] = ()) -> Callable:
    """Decorator registering a VJP rule for one or more primitives.

    `broadcasts`: the primitive is elementwise with broadcasting, so each gradient
    is summed back to its operand's shape. `diff_varargs`: the items of the rule's
    `*args` parameter are differentiable operands (einsum's), not options. `linear`
    ("each" or "joint") and `elementwise` say how forward mode gets the JVP from the
    primitive or the VJP (see `Rule`); a unary ufunc or `math` function is elementwise.
    """

    def register(fn: Callable) -> Callable:
        diff, var = _differentiable_params(fn)
        var = var if diff_varargs else None
        for primitive in primitives:
            rule = _entry(primitive)
            rule.vjp, rule.broadcasts, rule.user, rule.zero = fn, broadcasts, user, False
            rule.diff_params, rule.var_param, rule.linear = diff, var, linear
            rule.linear_in = linear_in or diff
            rule.elementwise = elementwise or broadcasts or _elementwise(primitive)
        return fn

    return register


def _elementwise(primitive: Any) -> bool:
    import math
    import operator
    import numpy as np
    if isinstance(primitive, np.ufunc):
        return primitive.signature is None  # (np.matmul is a generalized ufunc)
    if primitive in (math.fsum, math.prod, math.dist):  # (of sequences)
        return False
    return getattr(primitive, "__module__", None) == "math" or primitive in (operator.neg, operator.pos) or \
        (callable(primitive) and getattr(math, getattr(primitive, "__name__", ""), None) is primitive)


def jvp(*primitives: Hashable) -> Callable:
    """Decorator registering a JVP (forward-mode) rule beside a primitive's VJP rule."""

    def register(fn: Callable) -> Callable:
        for primitive in primitives:
            _entry(primitive).jvp = fn
        return fn

    return register


def zero_gradient(*primitives: Hashable) -> None:
    """Declare primitives whose derivative is zero almost everywhere (or that return no number)."""
    for primitive in primitives:
        rule = _entry(primitive)
        rule.zero, rule.vjp = True, None


def lookup(primitive: Any) -> Rule | None:
    """The rule for `primitive`, or None. Unhashable callees have no rule."""
    try:
        return REGISTRY.get(primitive)
    except TypeError:
        return None
