"""The Python array API standard's names, and the NumPy functions gradc differentiates them as.

A function written against the standard (https://data-apis.org/array-api/) takes its namespace
from its arguments, `xp = array_api_compat.array_namespace(x)`, and calls `xp.tanh(x)`. gradc
reads `xp` as this module's `NAMESPACE`: `xp.tanh` is lowered to `np.tanh`, whose rules gradc has
(frontend/standard_calls.py), and the backend spells NumPy's functions back as the standard's,
`xp.tanh`, when the arguments are another library's arrays (backend/standard.py). With NumPy
arguments the gradient is plain NumPy code.

The two tables here are the only place the names are matched: adding a function the standard
and NumPy share is one line in `SAME_NAMES` (or `NUMPY_NAMES` where NumPy 1 spells it otherwise).
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["NAMESPACE", "LINALG", "Namespace", "numpy_object", "standard_name", "CONSTANTS", "DTYPES"]


class Namespace:
    """What `xp` denotes when gradc compiles: the standard's namespace (or its `linalg` extension),
    whichever library provides it when the gradient runs."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"<array API namespace {self.path}>"


NAMESPACE = Namespace("xp")
LINALG = Namespace("xp.linalg")

#: Functions the standard and NumPy (1.24 and 2.x) name alike and define alike, for the arguments
#: gradc differentiates. (Keyword differences are lowered in frontend/standard_calls.py.)
SAME_NAMES = """abs acosh add asinh atanh ceil clip conj cos cosh divide exp expm1 floor hypot imag log log1p
    log2 log10 logaddexp maximum minimum multiply negative positive real reciprocal round sign signbit sin sinh
    sqrt square subtract tan tanh trunc where sum prod mean max min std var argmax argmin all any matmul tensordot
    reshape expand_dims squeeze stack flip roll tile repeat moveaxis broadcast_to take sort argsort zeros zeros_like
    ones ones_like full full_like empty empty_like eye arange linspace asarray tril triu diff equal not_equal less
    less_equal greater greater_equal isnan isinf isfinite logical_and logical_or logical_not logical_xor
    floor_divide remainder""".split()

#: The standard's names NumPy 1 spells otherwise (NumPy 2 has both).
NUMPY_NAMES = {"acos": "arccos", "asin": "arcsin", "atan": "arctan", "atan2": "arctan2", "pow": "power",
               "concat": "concatenate", "permute_dims": "transpose", "bitwise_invert": "invert"}

#: The `linalg` extension's functions NumPy's `np.linalg` defines alike.
LINALG_SAME = "det inv solve cholesky svd eigh eigvalsh slogdet pinv matrix_power qr".split()

#: The `linalg` extension's functions that are NumPy's main namespace's (`xp.linalg.outer` is `np.outer`).
LINALG_MAIN = {"matmul": np.matmul, "tensordot": np.tensordot, "outer": np.outer}

#: Constants, the same numbers in every library.
CONSTANTS = {"e": np.e, "pi": np.pi, "inf": np.inf, "nan": np.nan, "newaxis": None}

#: The standard's dtypes, as NumPy's.
DTYPES = {name: getattr(np, name) for name in
          "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 complex64 complex128".split()}
DTYPES["bool"] = np.bool_


def _numpy_table() -> dict[str, Any]:
    table = {name: getattr(np, name) for name in SAME_NAMES if hasattr(np, name)}
    table.update({name: getattr(np, numpy_name) for name, numpy_name in NUMPY_NAMES.items()})
    return table


_MAIN = _numpy_table()
_LINALG = {**{name: getattr(np.linalg, name) for name in LINALG_SAME}, **LINALG_MAIN}


def numpy_object(namespace: Namespace, name: str) -> Any:
    """The NumPy function (or constant, or dtype) that `xp.<name>` is differentiated as; None for a
    name that has no such twin (see frontend/standard_calls.py for those lowered otherwise)."""
    if namespace is LINALG:
        return _LINALG.get(name)
    if name in CONSTANTS:
        return CONSTANTS[name]
    return _MAIN.get(name, DTYPES.get(name))


def _standard_names() -> dict[int, tuple[str, str]]:
    """By the id of each NumPy object in the tables (kept alive by them): its standard spelling, in the
    main namespace where the standard has it there (`np.matmul` is `xp.matmul`, `np.outer` `xp.linalg.outer`)."""
    names: dict[int, tuple[str, str]] = {}
    for name, obj in list(DTYPES.items()) + list(_MAIN.items()):
        names.setdefault(id(obj), ("", name))
    for name, numpy_name in NUMPY_NAMES.items():  # (NumPy's `arccos` is spelled `acos`)
        names[id(getattr(np, numpy_name))] = ("", name)
    for name, obj in _LINALG.items():
        names.setdefault(id(obj), ("linalg", name))
    return names


_STANDARD_NAMES = _standard_names()


def standard_name(obj: Any) -> tuple[str, str] | None:
    """The standard's spelling of a NumPy function or dtype: ("", "acos") for `np.arccos`,
    ("linalg", "inv") for `np.linalg.inv`; None where the standard has no such function."""
    return _STANDARD_NAMES.get(id(obj))
