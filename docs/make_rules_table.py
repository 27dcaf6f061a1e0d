"""Generate docs/rules.md, the table of every function with a gradient rule, from the registry.

    python docs/make_rules_table.py            # rewrite docs/rules.md
    python docs/make_rules_table.py --check    # exit 1 if docs/rules.md is out of date

tests/test_docs.py runs the check, so the table cannot drift from `gradc.rules.REGISTRY`.
"""
from __future__ import annotations

import builtins
import inspect
import math
import operator
import os
import sys
from typing import Any, Hashable

import numpy as np

from gradc.rules import REGISTRY, Attr, Method, Rule

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "rules.md")

SECTIONS = [
    ("numpy", "NumPy functions", "Called as `np.NAME(...)` (or under any name bound to the same object)."),
    ("method", "ndarray methods", "Called on a value: `x.NAME(...)`."),
    ("attr", "ndarray attributes", "Read from a value: `x.NAME`."),
    ("math", "`math` module", "Python's scalar math functions."),
    ("builtins", "Builtins", "Python's built-in functions and types."),
    ("operator", "Operators", "Infix and prefix operators, lowered to calls of the `operator` module."),
    ("gradc", "gradc's own functions", "`gradc.stop_gradient` and the runtime helpers that generated code calls "
     "(they have rules so that a gradient can be differentiated again)."),
]

OPERATOR_SYMBOLS = {
    "add": "a + b", "sub": "a - b", "mul": "a * b", "truediv": "a / b", "floordiv": "a // b", "mod": "a % b",
    "pow": "a ** b", "matmul": "a @ b", "neg": "-a", "pos": "+a", "invert": "~a", "not_": "not a",
    "lt": "a < b", "le": "a <= b", "gt": "a > b", "ge": "a >= b", "eq": "a == b", "ne": "a != b",
    "is_": "a is b", "is_not": "a is not b", "contains": "b in a", "and_": "a & b", "or_": "a | b",
    "xor": "a ^ b", "lshift": "a << b", "rshift": "a >> b", "getitem": "a[i]",
}


def _numpy_name(obj: Any) -> str | None:
    """`np.NAME` or `np.linalg.NAME` for a NumPy object, preferring its own `__name__`."""
    for prefix, module in (("np", np), ("np.linalg", np.linalg), ("np.fft", np.fft)):
        name = getattr(obj, "__name__", None)
        if name and getattr(module, name, None) is obj:
            return f"{prefix}.{name}"
    for prefix, module in (("np", np), ("np.linalg", np.linalg)):
        for name in sorted(dir(module)):
            if not name.startswith("_") and getattr(module, name, None) is obj:
                return f"{prefix}.{name}"
    return None


def numpy_aliases(obj: Any, name: str) -> list[str]:
    """Other public names NumPy binds to the same object (`np.abs` for `np.absolute`)."""
    found = [f"np.{n}" for n in dir(np) if not n.startswith("_") and getattr(np, n, None) is obj]
    found += [f"np.linalg.{n}" for n in dir(np.linalg) if not n.startswith("_") and getattr(np.linalg, n, None) is obj]
    return sorted(set(found) - {name})


def classify(key: Hashable) -> tuple[str, str]:
    """The section and the displayed name of one registry key."""
    if isinstance(key, Method):
        return "method", f"x.{key.name}()"
    if isinstance(key, Attr):
        return "attr", f"x.{key.name}"
    module = getattr(key, "__module__", None) or ""
    name = getattr(key, "__name__", repr(key))
    if module.startswith("gradc"):
        return "gradc", f"gradc.{name}" if module == "gradc.extend" else f"{module.split('.')[-1]}.{name}"
    if module == "math" or getattr(math, name, None) is key:
        return "math", f"math.{name}"
    if getattr(operator, name, None) is key and module in ("_operator", "operator"):
        return "operator", OPERATOR_SYMBOLS.get(name, f"operator.{name}")
    if getattr(builtins, name, None) is key:
        return "builtins", name
    spelled = _numpy_name(key)
    if spelled:
        return "numpy", spelled
    return "gradc", f"{module}.{name}"


def describe(rule: Rule) -> tuple[str, str]:
    """The gradient column and the rule column of one entry."""
    if rule.zero:
        return "zero", "—"
    kind = "rule, broadcasts" if rule.broadcasts else "rule"
    if rule.vjp is None:
        return "none", "—"
    module = rule.vjp.__module__.rsplit(".", 1)[-1]
    return kind, f"[`{module}.py`](../gradc/rules/{module}.py) `{rule.vjp.__name__}`"


def rows() -> dict[str, list[tuple[str, str, str, str]]]:
    """Section → sorted rows `(name, aliases, gradient, rule)`; user rules (`gradc.defvjp`) left out."""
    table: dict[str, list[tuple[str, str, str, str]]] = {key: [] for key, *_ in SECTIONS}
    for key, rule in REGISTRY.items():
        if rule.user:
            continue
        section, name = classify(key)
        aliases = " ".join(f"`{a}`" for a in numpy_aliases(key, name)) if section == "numpy" else ""
        gradient, where = describe(rule)
        table[section].append((name, aliases, gradient, where))
    return {key: sorted(set(value), key=lambda row: row[0].lower()) for key, value in table.items()}


def environment() -> str:
    """The Python and NumPy versions the table was generated with (aliases and a few math
    functions depend on them)."""
    numpy_version = ".".join(np.__version__.split(".")[:2])
    return f"Python {sys.version_info[0]}.{sys.version_info[1]}, NumPy {numpy_version}"


def render() -> str:
    table = rows()
    out = [
        "# Functions with gradient rules",
        "",
        "<!-- Generated by docs/make_rules_table.py from gradc.rules.REGISTRY; do not edit by hand. -->",
        f"<!-- Environment: {environment()} -->",
        "",
        "Every primitive gradc knows, grouped by library. **gradient** says what",
        "flows back through it: `rule` — a VJP rule, inlined into the generated code with names",
        "substituted; `rule, broadcasts` — an elementwise rule whose gradients are summed back to",
        "each operand's shape where NumPy broadcasting stretched it; `zero` — the derivative is zero",
        "almost everywhere or the result is not a number (comparisons, rounding,",
        "`argmax`, shapes, ...), so nothing flows back and the result is a constant of the gradient.",
        "**rule** names the function in `gradc/rules/` that holds the rule; each is a few lines of",
        "NumPy.",
        "",
        "Functions that build arrays from shapes (`np.zeros`, `np.ones`, `np.arange`, `np.eye`, ...)",
        "need no entry: their arguments carry no gradient, so their results are constants. A",
        "differentiable value that reaches a function not listed here raises",
        "`gradc.NoGradientRuleError`; register a rule with `gradc.defvjp` (see `reference.md`).",
        "Some entries exist only where Python or NumPy has the function (`math.exp2` and",
        "`math.cbrt` from Python 3.11; NumPy 2's aliases such as `np.asin`). **also** lists other",
        "names NumPy binds to the same function.",
        "",
    ]
    for key, title, intro in SECTIONS:
        entries = table[key]
        if not entries:
            continue
        if key == "numpy":
            out += [f"## {title}", "", intro, "", "| function | also | gradient | rule |", "| --- | --- | --- | --- |"]
            out += [f"| `{name}` | {aliases} | {gradient} | {where} |" for name, aliases, gradient, where in entries]
        else:
            out += [f"## {title}", "", intro, "", "| function | gradient | rule |", "| --- | --- | --- |"]
            out += [f"| `{name}` | {gradient} | {where} |" for name, _, gradient, where in entries]
        out.append("")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        with open(TARGET, encoding="utf-8") as handle:
            current = handle.read()
        if current != text:
            print(f"{TARGET} is out of date: run python docs/make_rules_table.py", file=sys.stderr)
            return 1
        return 0
    with open(TARGET, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
