"""`gradc FILE.py:FUNC --check --args SPEC`: the gradient against finite differences at random inputs.

SPEC is `NAME=VALUE` items separated by spaces. A tuple of integers is a shape: a random float64
array of that shape (standard normal); `()` a random float; a number is passed as it is (`n=5`
stays an int, `lr=0.1` a float). Arguments with defaults may be left out.

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

_ITEM = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*(\([^()]*\)|[^\s()]+)\s*")


def parse_spec(spec: str) -> dict[str, Any]:
    """`'W=(3,4) n=5'` → `{'W': (3, 4), 'n': 5}`; raises ValueError saying what is wrong."""
    values: dict[str, Any] = {}
    position = 0
    while position < len(spec):
        match = _ITEM.match(spec, position)
        if match is None:
            raise ValueError(f"cannot read {spec[position:].strip()!r}: expected NAME=(SHAPE) or NAME=NUMBER")
        name, text = match.groups()
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"{name}={text}: expected a shape such as (3, 4) or a number") from None
        shape_ok = isinstance(value, tuple) and all(isinstance(n, int) and n >= 0 for n in value)
        number_ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (shape_ok or number_ok):
            raise ValueError(f"{name}={text}: expected a shape such as (3, 4) or a number")
        if name in values:
            raise ValueError(f"{name} is given twice")
        values[name] = value
        position = match.end()
    return values


def _make(value: Any, rng: np.random.Generator) -> Any:
    if isinstance(value, tuple):
        return float(rng.standard_normal()) if value == () else rng.standard_normal(value)
    return value


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
            parser.error(f"--args: no value for `{parameter.name}` (give it as {parameter.name}=(SHAPE) "
                         f"or {parameter.name}=NUMBER)")
    return inputs


def _describe(comparison: Comparison, value: Any) -> tuple[str, str]:
    """The argument's shape and how it was checked, for the summary line."""
    shape = str(np.shape(value)) if isinstance(value, np.ndarray) else "scalar"
    how = f"every element ({comparison.size})" if comparison.method == "elementwise" \
        else f"a random direction ({comparison.size} elements)"
    return shape, how


def run_check(function: Callable, gradient: Any, inputs: list[Any], wrt: Any) -> int:
    """Print one line per argument, then the verdict; 0 if every gradient matches, else 1."""
    names = [gradient._names[i] for i in gradient._wrt]
    print(f"checking {gradient.__name__} with respect to {', '.join(names)} at random inputs")
    comparisons = compare_gradients(function, *inputs, wrt=gradient._wrt)
    width = max(len(c.name) for c in comparisons)
    rows = [(c, *_describe(c, inputs[i])) for c, i in zip(comparisons, gradient._wrt)]
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
