"""`gradc FILE.py:FUNC --check --args SPEC`: the gradient against finite differences at random inputs.

SPEC is `NAME=VALUE` items separated by spaces. A tuple of integers is a shape: a random float64
array of that shape (standard normal); `()` a random float; a number is passed as it is (`n=5`
stays an int, `lr=0.1` a float); `array([0, 2])` is an array literal (integers stay integers);
`randint(5, (3,))` random integers in [0, 5); `[...]`, a tuple of values and `{'key': ...}` build
lists, tuples and dicts of these, checked leaf by leaf. Arguments with defaults may be left out.

    $ gradc examples/mlp.py:loss --wrt W1 --wrt b2 --check --args 'W1=(4,3) b1=(3,) W2=(3,2) b2=(2,) x=(5,4) y=(5,2)'
    checking dloss with respect to W1, b2 at random inputs (seed 0)
      W1  (4, 3)  every element (12)   max |gradc - numeric| 2.1e-10   ok
      b2  (2,)    every element (2)    max |gradc - numeric| 5.6e-11   ok
    gradient check passed
"""
from __future__ import annotations

import argparse
import ast
import inspect
import re
import sys
from typing import Any, Callable

import numpy as np

from .extend import Comparison, compare_gradients

__all__ = ["parse_spec", "check_inputs", "run_check"]

_NAME = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*")
_CLOSING = {"(": ")", "[": "]", "{": "}"}


def parse_spec(spec: str) -> dict[str, Any]:
    """`'W=(3,4) n=5 idx=array([0, 2]) layers=[(3,4), (4,)]'` → each name's value description (a
    shape is a tuple of ints, a number itself, the rest an `ast` expression to `_make`); raises
    ValueError saying what is wrong."""
    values: dict[str, Any] = {}
    position = 0
    while position < len(spec):
        if not spec[position:].strip():
            break
        match = _NAME.match(spec, position)
        if match is None:
            raise ValueError(f"cannot read {spec[position:].strip()!r}: expected NAME=VALUE, e.g. W=(3,4) or n=5")
        name, end = match.group(1), _value_end(spec, match.end())
        text = spec[match.end():end]
        if not text:
            raise ValueError(f"{name}= has no value")
        if name in values:
            raise ValueError(f"{name} is given twice")
        values[name] = _description(name, text)
        position = end
    return values


def _value_end(spec: str, start: int) -> int:
    """Where the value starting at `start` ends: the first space outside brackets and quotes."""
    depth, quote, k = [], None, start
    while k < len(spec):
        char = spec[k]
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in _CLOSING:
            depth.append(_CLOSING[char])
        elif depth and char == depth[-1]:
            depth.pop()
        elif char.isspace() and not depth:
            break
        k += 1
    if depth or quote:
        raise ValueError(f"cannot read {spec[start:].strip()!r}: unbalanced brackets or quotes")
    return k


_FORMS = ("a shape such as (3, 4), a number, array([0, 2, 1]), randint(HIGH, (SHAPE)), a list [...], "
          "a tuple of them or a dict {'key': ...}")


def _description(name: str, text: str) -> Any:
    try:
        node = ast.parse(text, mode="eval").body
        _check(node)
    except (SyntaxError, ValueError):
        raise ValueError(f"{name}={text}: expected {_FORMS}") from None
    return node if not isinstance(node, ast.Constant) and not _is_shape(node) else ast.literal_eval(node)


def _is_shape(node: ast.AST) -> bool:
    return isinstance(node, ast.Tuple) and all(isinstance(e, ast.Constant) and type(e.value) is int and e.value >= 0
                                               for e in node.elts)


def _check(node: ast.AST) -> None:
    """The value's forms (see `_FORMS`), or ValueError."""
    if _is_shape(node):
        return
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return _check(node.operand)
    if isinstance(node, (ast.List, ast.Tuple)):
        for element in node.elts:
            _check(element)
        return
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
        for value in node.values:
            _check(value)
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id == "array" and len(node.args) == 1:
            ast.literal_eval(node.args[0])
            return
        if node.func.id == "randint" and len(node.args) == 2 and isinstance(node.args[0], ast.Constant) and \
                type(node.args[0].value) is int and _is_shape(node.args[1]):
            return
    raise ValueError(ast.unparse(node))


def _make(value: Any, rng: np.random.Generator) -> Any:
    """The argument a description makes: a random float64 array for a shape (a random float for
    `()`), a number as it is, an array literal (integers stay integers), random integers in
    [0, HIGH), and lists, tuples and dicts of these."""
    if isinstance(value, tuple):
        return float(rng.standard_normal()) if value == () else rng.standard_normal(value)
    if not isinstance(value, ast.AST):
        return value
    if _is_shape(value):
        return _make(ast.literal_eval(value), rng)
    if isinstance(value, (ast.Constant, ast.UnaryOp)):
        return ast.literal_eval(value)
    if isinstance(value, ast.List):
        return [_make(e, rng) for e in value.elts]
    if isinstance(value, ast.Tuple):
        return tuple(_make(e, rng) for e in value.elts)
    if isinstance(value, ast.Dict):
        return {k.value: _make(v, rng) for k, v in zip(value.keys, value.values)}
    if value.func.id == "array":
        literal = np.array(ast.literal_eval(value.args[0]))
        return literal.astype(np.float64) if literal.dtype.kind == "f" else literal
    return rng.integers(0, value.args[0].value, ast.literal_eval(value.args[1]))


def check_inputs(parser: argparse.ArgumentParser, function: Callable, spec: str, seed: int) -> list[Any]:
    """The positional arguments SPEC describes for `function` (a usage error, exit 2, if it does not fit)."""
    try:
        values = parse_spec(spec)
    except ValueError as exc:
        parser.error(f"--args: {exc}")
    parameters = list(inspect.signature(function).parameters.values())
    names = [p.name for p in parameters]
    unknown = [n for n in values if n not in names]
    if unknown:
        parser.error(f"--args: {function.__name__} has no argument {', '.join(unknown)} "
                     f"(its arguments are {', '.join(names)})")
    rng = np.random.default_rng(seed)
    inputs = []
    for parameter in parameters:
        if parameter.name in values:
            inputs.append(_make(values[parameter.name], rng))
        elif parameter.default is not inspect.Parameter.empty:
            inputs.append(parameter.default)
        else:
            parser.error(f"--args: no value for `{parameter.name}` (give it as {parameter.name}=(SHAPE), "
                         f"{parameter.name}=NUMBER, {parameter.name}=array([...]) or {parameter.name}=[...])")
    return inputs


def _describe(comparison: Comparison) -> tuple[str, str]:
    """The argument's (or leaf's) shape and how it was checked, for the summary line."""
    shape = str(comparison.shape) if comparison.shape is not None else "scalar"
    how = f"every element ({comparison.size})" if comparison.method == "elementwise" \
        else f"a random direction ({comparison.size} elements)"
    return shape, how


def run_check(function: Callable, gradient: Any, inputs: list[Any], wrt: Any) -> int:
    """Print one line per argument, then the verdict; 0 if every gradient matches, else 1."""
    names = [gradient._names[i] for i in gradient._wrt]
    print(f"checking {gradient.__name__} with respect to {', '.join(names)} at random inputs")
    comparisons = compare_gradients(function, *inputs, wrt=gradient._wrt)
    width = max(len(c.name) for c in comparisons)
    rows = [(c, *_describe(c)) for c in comparisons]
    shape_width = max(len(shape) for _, shape, _ in rows)
    how_width = max(len(how) for _, _, how in rows)
    for comparison, shape, how in rows:
        verdict = "ok" if comparison.ok else "FAILED"
        print(f"  {comparison.name:<{width}}  {shape:<{shape_width}}  {how:<{how_width}}  "
              f"max |gradc - numeric| {comparison.error:.2g}  {verdict}")
    failed = [c for c in comparisons if not c.ok]
    for comparison in failed:
        print(f"gradc: error: {comparison.message(function.__name__)}", file=sys.stderr)
    print("gradient check failed" if failed else "gradient check passed")
    return 1 if failed else 0
