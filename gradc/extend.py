"""The extension API: registering rules, stopping gradients, checking gradients."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .rules.registry import vjp as _register_vjp
from .rules.registry import zero_gradient

__all__ = ["defvjp", "stop_gradient", "check_grad"]


def defvjp(primitive: Any) -> Callable[[Callable], Callable]:
    """Register a gradient rule for `primitive`, replacing any rule gradc has for it.

    The rule is ``rule(g, ans, x, y, ...)``: `g` is the adjoint of the result, `ans` the result,
    then the primitive's arguments. It returns the gradient for each argument without a default
    (a tuple when there are several; None for one without a gradient). Every cached gradient is
    recompiled on its next use, so the new rule takes effect everywhere.

        @gradc.defvjp(np.sinc)
        def sinc_vjp(g, ans, x):
            return g * (np.cos(np.pi * x) - ans) / x
    """

    def register(rule: Callable) -> Callable:
        _register_vjp(primitive, user=True)(rule)
        return rule

    return register


def stop_gradient(x: Any) -> Any:
    """`x` itself in the forward pass; no gradient flows back through it."""
    return x


zero_gradient(stop_gradient)


def _as_float64(value: Any) -> Any:
    return np.array(value, dtype=np.float64) if isinstance(value, np.ndarray) else float(value)


def check_grad(fun: Callable, *args: Any, wrt: Any = 0, eps: float | None = None,
               rtol: float | None = None) -> None:
    """Compare gradc's gradient of `fun` at `args` with central finite differences, in float64.

    Every element is perturbed for inputs of up to 1000 elements; larger inputs are checked
    along a random direction. Raises AssertionError naming the argument, the worst element
    and both values on a mismatch.
    """
    from .api import GradFunction

    eps = 1e-6 if eps is None else eps
    rtol = 1e-5 if rtol is None else rtol
    gradient = GradFunction(fun, wrt)
    wrt_indices = gradient._wrt
    args64 = [_as_float64(a) if i in wrt_indices else a for i, a in enumerate(args)]
    grads = gradient(*args64)
    grads = (grads,) if not gradient._as_tuple and len(wrt_indices) == 1 else grads
    names = gradient._names

    def value_at(i: int, replacement: Any) -> float:
        trial = list(args64)
        trial[i] = replacement
        return float(fun(*trial))

    rng = np.random.default_rng(0)
    for i, g in zip(wrt_indices, grads):
        x = args64[i]
        name = names[i]
        if np.size(x) <= 1000:
            flat = np.array(x, dtype=np.float64).ravel()
            numeric = np.empty_like(flat)
            for k in range(flat.size):
                up, down = flat.copy(), flat.copy()
                up[k] += eps
                down[k] -= eps
                shape = np.shape(x)
                as_arg = (lambda v: v.reshape(shape)) if isinstance(x, np.ndarray) else (lambda v: float(v[0]))
                numeric[k] = (value_at(i, as_arg(up)) - value_at(i, as_arg(down))) / (2 * eps)
            analytic = np.ravel(g).astype(np.float64)
            error = np.abs(analytic - numeric)
            tolerance = rtol * np.maximum(np.abs(numeric), 1.0) + 1e-9
            worst = int(np.argmax(error - tolerance))
            if error[worst] > tolerance[worst]:
                index = np.unravel_index(worst, np.shape(x)) if np.ndim(x) else ()
                raise AssertionError(
                    f"gradient of {getattr(fun, '__name__', 'f')} with respect to `{name}` is wrong at "
                    f"element {tuple(int(j) for j in index)}: gradc gives {analytic[worst]!r}, finite "
                    f"differences give {numeric[worst]!r}")
        else:
            direction = rng.standard_normal(np.shape(x))
            numeric = (value_at(i, x + eps * direction) - value_at(i, x - eps * direction)) / (2 * eps)
            analytic = float(np.sum(np.asarray(g) * direction))
            if abs(analytic - numeric) > rtol * max(abs(numeric), 1.0):
                raise AssertionError(
                    f"gradient of {getattr(fun, '__name__', 'f')} with respect to `{name}` is wrong along a "
                    f"random direction: gradc gives {analytic!r}, finite differences give {numeric!r}")
