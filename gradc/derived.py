"""Transforms built from the compiled ones: `hvp`, `hessian`, `jacobian`.

- `hvp(f)(*args, v)`: the Hessian-vector product, forward over reverse: the JVP of the generated
  gradient function, compiled into one generated function (`HVPFunction.source` shows it).
- `hessian(f)(*args)`: its columns, one `hvp` per input element, shaped `in.shape + in.shape`.
- `jacobian(f, mode=...)(*args)`: columns by forward mode (one `jvp` per input element) or rows by
  reverse mode (one `vjp` per output element), shaped `out.shape + in.shape` as `jax.jacobian`;
  "auto" takes forward mode when the inputs are fewer than the outputs.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .api import GradFunction, JVPFunction, VJPFunction
from .arrays import is_dask, is_standard_array
from .standard_runtime import namespace_of
from .errors import GradcError, NoGradientRuleError

__all__ = ["hvp", "hessian", "jacobian", "HVPFunction"]


class HVPFunction:
    """`hvp(f)(*args, v)`: the Hessian of scalar `f` at `args` times `v` (a tuple of vectors when
    `wrt` is a tuple), with the structure of the `wrt` argument(s)."""

    def __init__(self, fun: Callable, wrt: int | str | Sequence[int | str] = 0) -> None:
        self.gradient = GradFunction(fun, wrt)
        self.forward = JVPFunction(self.gradient, wrt=wrt)
        self.backward: VJPFunction | None = None  # (reverse over reverse, where forward mode has no rule)
        self.__wrapped__ = fun
        self.__name__ = f"hvp_{getattr(fun, '__name__', 'f')}"

    def __call__(self, *args: Any) -> Any:
        if not args:
            raise GradcError("hvp(f) takes f's arguments, then the vector")
        if self.backward is not None:
            return self.backward(*args)
        try:
            return self._real_where_real(self.forward(*args)[1], args)
        except NoGradientRuleError:
            # A rule of the user's (`defvjp`) has no JVP: the Hessian is symmetric, so the vjp of
            # the gradient along v is the same product, by the user's rule, at about the same cost.
            self.backward = VJPFunction(self.gradient, wrt=self.gradient._wrt if
                                        self.gradient._as_tuple else self.gradient._wrt[0])
            return self.backward(*args)

    def _real_where_real(self, product: Any, args: tuple) -> Any:
        """The product's part for a real argument is real: where the gradient's code goes through
        complex values, it keeps the real part, as `grad` does when it returns the gradient."""
        parts = product if self.gradient._as_tuple else (product,)
        parts = tuple(np.real(p) if isinstance(p, (np.ndarray, np.generic, complex)) and np.iscomplexobj(p)
                      and not np.iscomplexobj(args[i]) else p for p, i in zip(parts, self.gradient._wrt))
        return parts if self.gradient._as_tuple else parts[0]

    @property
    def source(self) -> str:
        """The generated Hessian-vector program (the gradient's code and its tangent, one function)."""
        return self.forward.source

    def source_for(self, *args: Any) -> str:
        return self.forward.source_for(*args)

    def _repr_html_(self) -> str:
        """Notebook view of the Hessian-vector program (beside the gradient code it differentiates)."""
        return self.forward._repr_html_()


def hvp(fun: Callable, *, wrt: int | str | Sequence[int | str] = 0) -> HVPFunction:
    """Hessian-vector product of a scalar function: `hvp(f)(*args, v)`."""
    return HVPFunction(fun, wrt)


def hessian(fun: Callable, *, wrt: int | str | Sequence[int | str] = 0) -> Callable:
    """The Hessian of a scalar function: `hessian(f)(*args)`, shaped `in.shape + in.shape` (one
    `hvp` per element of the input)."""
    product = HVPFunction(fun, wrt)
    if isinstance(wrt, (tuple, list)):
        raise GradcError("hessian takes one argument to differentiate (wrt=index or name): for several, "
                         "use hvp with a tuple of vectors")

    def hessian_of(*args: Any) -> Any:
        index = product.gradient._wrt[0]
        x = args[index]
        _check_array_or_float("hessian", product.gradient._names[index], x)
        columns = [product(*args, basis) for basis in _basis(x)]
        if np.ndim(x) == 0:
            return float(columns[0]) if isinstance(x, float) else columns[0]
        return _stacked(columns, tuple(np.shape(x)) * 2, like=x)

    hessian_of.__name__ = f"hessian_{getattr(fun, '__name__', 'f')}"
    return hessian_of


def jacobian(fun: Callable, *, wrt: int | str | Sequence[int | str] = 0, mode: str = "auto") -> Callable:
    """The Jacobian: `jacobian(f)(*args)`, shaped `out.shape + in.shape` (a tuple of them when `wrt`
    is a tuple). `mode`: "fwd" (a `jvp` per input element), "rev" (a `vjp` per output element), or
    "auto" (forward when the inputs have fewer elements than the output)."""
    if mode not in ("auto", "fwd", "rev"):
        raise GradcError(f"jacobian mode={mode!r}: use 'auto', 'fwd' or 'rev'")
    as_tuple = isinstance(wrt, (tuple, list))
    positions = tuple(wrt) if as_tuple else (wrt,)
    forward = [JVPFunction(fun, wrt=p) for p in positions]
    backward = VJPFunction(fun, wrt=tuple(positions))

    def jacobian_of(*args: Any) -> Any:
        indices = backward._wrt
        for index in indices:
            _check_array_or_float("jacobian", backward._names[index], args[index])
        value = fun(*[np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args])
        if not isinstance(value, (float, np.ndarray, np.generic)) and not is_standard_array(value) and \
                not is_dask(value):
            raise GradcError(f"jacobian needs a function returning an array or a float; "
                             f"{getattr(fun, '__name__', 'f')} returned {type(value).__name__}")
        out_shape = np.shape(value)
        inputs = sum(int(np.size(args[i])) for i in indices)
        use_forward = mode == "fwd" or (mode == "auto" and inputs < int(np.size(value)))
        if use_forward:
            blocks = [_columns(f, args, i, out_shape) for f, i in zip(forward, indices)]
        else:
            blocks = _rows(backward, args, indices, out_shape)
        return tuple(blocks) if as_tuple else blocks[0]

    jacobian_of.__name__ = f"jacobian_{getattr(fun, '__name__', 'f')}"
    return jacobian_of


def _columns(forward: JVPFunction, args: tuple, index: int, out_shape: tuple) -> Any:
    x = args[index]
    columns = [forward(*args, basis)[1] for basis in _basis(x)]
    block = _stacked(columns, tuple(out_shape) + tuple(np.shape(x)), like=x)
    return float(block) if tuple(block.shape) == () and isinstance(x, float) else block


def _rows(backward: VJPFunction, args: tuple, indices: tuple, out_shape: tuple) -> list:
    rows: list[list] = [[] for _ in indices]
    size = int(np.prod(out_shape, dtype=np.int64))
    like = next((args[i] for i in indices if is_standard_array(args[i])), None)
    units = _basis(np.zeros(out_shape) if like is None else _standard_zeros(like, out_shape))
    for k in range(size):
        grads = backward(*args, units[k] if out_shape else 1.0)
        for row, grad in zip(rows, grads):
            row.append(grad)
    blocks = []
    for row, index in zip(rows, indices):
        block = _stacked(row, tuple(out_shape) + tuple(np.shape(args[index])), like=args[index], axis=0)
        blocks.append(float(block) if tuple(block.shape) == () and isinstance(args[index], float) else block)
    return blocks


def _standard_zeros(like: Any, shape: tuple) -> Any:
    return namespace_of(like).zeros(shape, dtype=like.dtype, device=like.device)


def _stacked(items: list, shape: tuple, like: Any, axis: int = -1) -> Any:
    """`items` (columns: one per element of `like`; rows: one per element of an output) stacked on an
    `axis`, as `shape`, with the library of `like`'s arrays (never converted to NumPy's)."""
    if is_standard_array(like):
        xp = namespace_of(like)
        return xp.reshape(xp.stack(list(items), axis=axis), shape)
    items = [c if is_dask(c) else np.asarray(c) for c in items]  # (Dask columns: stacked lazily, by Dask)
    return np.stack(items, axis=axis).reshape(shape)


def _basis(x: Any) -> list:
    """The unit tangents of `x`'s elements, each shaped (and typed) like `x`."""
    if is_standard_array(x):  # (of x's library: a NumPy tangent would not mix with it)
        xp, n = namespace_of(x), int(np.prod(tuple(x.shape), dtype=np.int64))
        eye = xp.eye(n, dtype=x.dtype, device=x.device)
        return [xp.reshape(eye[k, :], tuple(x.shape)) for k in range(n)]
    if np.ndim(x) == 0:
        return [1.0 if isinstance(x, float) else np.ones_like(x)]
    found = []
    for k in range(np.size(x)):
        unit = np.zeros(np.shape(x), dtype=np.result_type(x, np.float64) if not
                        np.issubdtype(np.asarray(x).dtype, np.floating) else np.asarray(x).dtype)
        unit.flat[k] = 1.0
        found.append(unit)
    return found


def _check_array_or_float(what: str, name: str, value: Any) -> None:
    if isinstance(value, (list, tuple, dict)):
        raise GradcError(f"{what} with respect to `{name}`, a {type(value).__name__}: {what} takes arrays and "
                         "floats (differentiate a container with grad or jvp)")
    if isinstance(value, (bool, int, np.integer)) or (isinstance(value, np.ndarray) and
                                                      not np.issubdtype(value.dtype, np.floating)):
        raise GradcError(f"{what} with respect to `{name}`, which is not floating-point ({type(value).__name__})")
