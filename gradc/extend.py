"""The extension API: registering rules, stopping gradients, checking gradients."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .rules.registry import vjp as _register_vjp
from .rules.registry import zero_gradient

__all__ = ["defvjp", "stop_gradient", "check_grad", "compare_gradients", "Comparison"]


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


SMALL = 1000  # inputs of up to this many elements are checked element by element


@dataclass
class Comparison:
    """gradc's gradient against finite differences for one argument (what `check_grad` decides on)."""

    name: str
    method: str  # "elementwise" or "directional"
    ok: bool
    index: tuple[int, ...] | None  # the worst element (None for a directional check)
    analytic: float
    numeric: float
    error: float  # the largest absolute difference
    size: int
    shape: tuple | None = None  # the leaf's shape (None for a number)

    def message(self, function: str) -> str:
        """The failure message: the argument, the worst element and both values."""
        where = f"at element {self.index}" if self.method == "elementwise" else "along a random direction"
        return (f"gradient of {function} with respect to `{self.name}` is wrong {where}: gradc gives "
                f"{self.analytic!r}, finite differences give {self.numeric!r} (difference {self.error:.3g})")


def _as_float64(value: Any) -> Any:
    """A differentiable argument in float64: arrays (float32 included) copied, numbers as float."""
    if isinstance(value, np.ndarray):
        return np.array(value, dtype=np.float64)
    if isinstance(value, (int, float, np.number)):
        return float(value)
    raise TypeError(f"check_grad compares gradients of floats and float arrays; got {type(value).__name__}")


def _tolerance(numeric: Any, rtol: float) -> Any:
    return rtol * np.maximum(np.abs(numeric), 1.0) + 1e-9


def _elementwise(value_at: Callable, x: Any, g: Any, eps: float, rtol: float, name: str) -> Comparison:
    """Central differences on every element of `x`."""
    shape = np.shape(x)
    if np.size(x) == 0:
        return Comparison(name, "elementwise", True, (), 0.0, 0.0, 0.0, 0)
    rebuild = (lambda v: v.reshape(shape)) if isinstance(x, np.ndarray) else (lambda v: float(v[0]))
    flat = np.array(x, dtype=np.float64).ravel()
    numeric = np.empty_like(flat)
    for k in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[k] += eps
        down[k] -= eps
        numeric[k] = (value_at(rebuild(up)) - value_at(rebuild(down))) / (2 * eps)
    analytic = np.broadcast_to(np.asarray(g, dtype=np.float64), shape).ravel()
    error = np.abs(analytic - numeric)
    worst = int(np.argmax(error - _tolerance(numeric, rtol)))
    index = tuple(int(j) for j in np.unravel_index(worst, shape)) if shape else ()
    ok = bool(error[worst] <= _tolerance(numeric[worst], rtol))
    return Comparison(name, "elementwise", ok, index, float(analytic[worst]), float(numeric[worst]),
                      float(error.max()), flat.size)


def _directional(value_at: Callable, x: Any, g: Any, eps: float, rtol: float, name: str,
                 rng: np.random.Generator) -> Comparison:
    """The derivative along one random direction: `<gradient, d>` against a central difference."""
    direction = rng.standard_normal(np.shape(x))
    numeric = (value_at(x + eps * direction) - value_at(x - eps * direction)) / (2 * eps)
    analytic = float(np.sum(np.asarray(g, dtype=np.float64) * direction))
    error = abs(analytic - numeric)
    return Comparison(name, "directional", bool(error <= _tolerance(numeric, rtol)), None, analytic,
                      float(numeric), error, int(np.size(x)))


def compare_gradients(fun: Callable, *args: Any, wrt: Any = 0, eps: float | None = None,
                      rtol: float | None = None) -> list[Comparison]:
    """gradc's gradient of `fun` at `args` against finite differences, in float64 (the `wrt`
    arguments' floats are converted; integers, and arguments not in `wrt`, are passed as they are):
    one `Comparison` per `wrt` argument, or per float leaf of a list, tuple, dict or record
    (dataclass, named tuple, SimpleNamespace) argument. `check_grad` raises on a failure."""
    from .api import GradFunction
    from .arrays import is_standard_array

    eps = 1e-6 if eps is None else eps
    rtol = 1e-5 if rtol is None else rtol
    gradient = GradFunction(fun, wrt)
    library_grads = None
    if any(is_standard_array(a) for a in args):  # (the library's gradient, checked by differences of the
        library_grads = _numpy_tree(gradient(*args))  # function run on NumPy copies of its arguments)
        args = tuple(_numpy_tree(a) for a in args)
    args64 = [_tree_float64(a) if i in gradient._wrt else a for i, a in enumerate(args)]
    grads = gradient(*_copied(args64)) if library_grads is None else library_grads
    grads = (grads,) if not gradient._as_tuple and len(gradient._wrt) == 1 else grads
    rng = np.random.default_rng(0)
    results = []
    for i, g in zip(gradient._wrt, grads):
        for path, name, x in _leaves(args64[i], gradient._names[i]):
            def value_at(replacement: Any, i: int = i, path: tuple = path) -> float:
                replaced = _replaced(args64[i], path, replacement)
                return float(fun(*_copied(args64[:i]), replaced, *_copied(args64[i + 1:])))

            leaf_gradient = _get(g, path)
            comparison = _elementwise(value_at, x, leaf_gradient, eps, rtol, name) if np.size(x) <= SMALL \
                else _directional(value_at, x, leaf_gradient, eps, rtol, name, rng)
            comparison.shape = np.shape(x) if isinstance(x, np.ndarray) else None
            results.append(comparison)
    return results


def _numpy_tree(value: Any) -> Any:
    """Arrays of an array API library (array_api_strict, torch, CuPy) as NumPy's, within containers too."""
    from .arrays import is_standard_array, to_numpy
    if type(value) in (list, tuple):
        return type(value)(_numpy_tree(item) for item in value)
    if type(value) is dict:
        return {key: _numpy_tree(item) for key, item in value.items()}
    return to_numpy(value) if is_standard_array(value) else value


def _is_record(value: Any) -> bool:
    from .frontend.records import is_record
    return is_record(value)


def _tree_float64(value: Any) -> Any:
    """A `wrt` argument in float64: numbers and float arrays converted, within lists, tuples and dicts
    too; a record's differentiated fields converted and its other fields (ints, strings) kept."""
    if type(value) is dict:
        return {key: _tree_float64(item) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_tree_float64(item) for item in value)
    if _is_record(value):
        from .frontend.records import as_record, differentiable, fields_of
        return as_record(dict(fields_of(value)), value,
                         lambda v, like: _tree_float64(like) if differentiable(like) else like, every_field=True)
    return _as_float64(value)


def _leaves(value: Any, name: str, path: tuple = ()) -> list[tuple[tuple, str, Any]]:
    """(path, name, leaf) of every float leaf of an argument (the argument itself for an array)."""
    if type(value) is dict:
        return [leaf for key, item in value.items() for leaf in _leaves(item, f"{name}[{key!r}]", path + (key,))]
    if type(value) in (list, tuple):
        return [leaf for k, item in enumerate(value) for leaf in _leaves(item, f"{name}[{k}]", path + (k,))]
    if _is_record(value):
        from .frontend.records import children
        return [leaf for field, item in children(value) for leaf in _leaves(item, f"{name}.{field}", path + (field,))]
    return [(path, name, value)]


def _get(tree: Any, path: tuple) -> Any:
    for key in path:
        tree = getattr(tree, key) if _is_record(tree) else tree[key]
    return tree


def _replaced(tree: Any, path: tuple, leaf: Any) -> Any:
    """A copy of `tree` (copies of its containers and arrays) with the leaf at `path` replaced."""
    if not path:
        return leaf
    head, rest = path[0], path[1:]
    if _is_record(tree):
        from .frontend.records import as_record, fields_of
        fields = {k: (_replaced(v, rest, leaf) if k == head else _copied([v])[0]) for k, v in fields_of(tree)}
        return as_record(fields, tree, lambda v, like: v, every_field=True)
    if type(tree) is dict:
        return {k: (_replaced(v, rest, leaf) if k == head else _copied([v])[0]) for k, v in tree.items()}
    return type(tree)(_replaced(v, rest, leaf) if k == head else _copied([v])[0] for k, v in enumerate(tree))


def _copied(values: list) -> list:
    """Copies of arrays and of the containers holding them (a function that writes into its
    argument must not carry one evaluation's change into the next)."""
    found = []
    for value in values:
        if isinstance(value, np.ndarray):
            found.append(value.copy())
        elif type(value) in (list, tuple):
            found.append(type(value)(_copied(list(value))))
        elif type(value) is dict:
            found.append(dict(zip(value, _copied(list(value.values())))))
        elif _is_record(value):
            from .frontend.records import as_record, fields_of
            found.append(as_record(dict(fields_of(value)), value, lambda v, like: _copied([like])[0],
                                   every_field=True))
        else:
            found.append(value)
    return found


def check_grad(fun: Callable, *args: Any, wrt: Any = 0, eps: float | None = None,
               rtol: float | None = None) -> None:
    """Compare gradc's gradient of `fun` at `args` with central finite differences, in float64.

    Every element is perturbed for inputs of up to 1000 elements; larger inputs are checked
    along a random direction. Raises AssertionError naming the argument, the worst element
    and both values on a mismatch.

        def loss(W, x):
            return np.sum(np.tanh(x @ W))

        gradc.check_grad(loss, np.ones((3, 2)), np.arange(3.0), wrt=("W", "x"))
    """
    for comparison in compare_gradients(fun, *args, wrt=wrt, eps=eps, rtol=rtol):
        if not comparison.ok:
            raise AssertionError(comparison.message(getattr(fun, "__name__", "f")))
