"""Random array programs built around what the optimization passes rewrite (fuzz_passes.py).

`generate(rng)` returns a `Program`: module text defining `f(x, w, s)` (x a (3, 4) array, w a
(4,) array, s a float) and the helpers it calls. Expressions are typed by shape kind, so every
program runs: "M" (3, 4), "V" (4,), "C" (3,), "K" (3, 1) and "S" (a scalar); each kind combines
with the ones NumPy broadcasts it with.

The templates lean on each pass's patterns:
- folding (simplify): constants on either side, `x * 1.0`, `x ** 1`, `0.0 + x`, constant arithmetic;
- factors: negation inside and outside (`-(a + 0.5 * b)`, `-a * b`, `a * -b`, `(-a).sum()`),
  powers of two (`a * 2.0`, `0.5 * a`, `a ** 2`, `a + a`), divisions (`1.0 / -(2.0 + b * b)`);
- contractions: sums and means of products along an axis (`np.sum(a * b, axis=0)`), with a
  shared or constant factor (`np.sum(a * b * 0.5, axis=1)`), einsum and matmul;
- CSE: the same subexpression twice, in one statement and in two;
- inlining: helpers of the user's called with expressions, one or several times.
Branches on the sign of `s` (|s| >= 0.2) and loops of two steps add control flow.
Every function is total on its inputs (denominators are at least 1, exp of a tanh, log of 1 + a²).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Program", "generate", "SHAPES"]

SHAPES = {"M": (3, 4), "V": (4,), "C": (3,), "K": (3, 1), "S": ()}
#: kind of a op b (None: they do not broadcast together)
_BROADCAST = {("M", "M"): "M", ("M", "V"): "M", ("M", "K"): "M", ("M", "S"): "M", ("V", "V"): "V",
              ("V", "S"): "V", ("C", "C"): "C", ("C", "S"): "C", ("K", "K"): "K", ("K", "S"): "K",
              ("K", "V"): "M", ("S", "S"): "S"}
CONSTANTS = ["0.5", "2.0", "-1.5", "3.0", "1.0", "0.25", "-2.0", "4.0", "0.1"]


def broadcast(a: str, b: str) -> str | None:
    return _BROADCAST.get((a, b)) or _BROADCAST.get((b, a))


@dataclass
class Program:
    source: str
    seed: int

    def args(self):
        rng = np.random.default_rng(self.seed)
        s = float(rng.uniform(0.2, 1.2) * rng.choice([-1.0, 1.0]))
        return rng.uniform(-1.2, 1.2, SHAPES["M"]), rng.uniform(-1.2, 1.2, SHAPES["V"]), s


class _Builder:
    #: How sums and means are written (methods too: `(a).sum(0)`), and what a helper takes first.
    REDUCERS = ("np.sum", "np.mean", "method_sum", "method_mean")
    HELPER_PREFIX = ""

    def __init__(self, rng, elementwise: bool = False):
        self.rng = rng
        self.elementwise = elementwise  # (only elementwise arithmetic of x and numbers: nothing summed)
        self.names = {"M": ["x"], "V": ["w"], "S": ["s"], "C": [], "K": []}
        self.lines: list[str] = []
        self.helpers: list[str] = []
        self.count = 0

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def const(self) -> str:
        return self.pick(CONSTANTS)

    # -- expressions of a kind ---------------------------------------------------------------------
    def leaf(self, kind: str) -> str:
        if kind == "S" and self.chance(0.3):
            return self.const()
        if self.names[kind] and self.chance(0.8):
            return self.pick(self.names[kind])
        return {"M": "x", "V": "w", "S": "s", "C": "np.sum(x, axis=1)", "K": "x[:, :1]"}[kind]

    def expr(self, kind: str, depth: int) -> str:
        if depth <= 0 or self.chance(0.15):
            return self.leaf(kind)
        forms = ["unary", "unary", "binary", "binary", "factor", "helper"] if self.elementwise else \
            ["unary", "unary", "binary", "binary", "factor", "reduce", "product", "twice", "helper"]
        form = self.pick(forms)
        return f"({getattr(self, '_' + form)(kind, depth - 1)})"  # (a compound operand keeps its own precedence)

    def _unary(self, kind: str, depth: int) -> str:
        a, c = self.expr(kind, depth), self.const()
        return self.pick([f"np.sin({a})", f"np.tanh({a})", f"-{a}", f"-({a})", f"{a} * {c}", f"{c} * {a}",
                          f"{a} / {c}", f"{c} / (1.0 + {a} * {a})", f"{a} ** 2", f"np.square({a})",
                          f"np.exp(np.tanh({a}))", f"np.sqrt(1.0 + {a} * {a})", f"np.log(1.0 + {a} * {a})",
                          f"{a} * 1.0", f"1.0 * {a}", f"{a} ** 1", f"0.0 + {a}", f"{a} - 0.0", f"{a} + {a}",
                          f"({c} * {c}) * {a}", f"{a} * 2.0 * 0.5", f"-(-{a})", f"{a} ** 3"])

    def _operand_kinds(self, kind: str) -> tuple[str, str]:
        if self.elementwise:
            return self.pick([(kind, kind), (kind, "S"), ("S", kind)]) if kind != "S" else ("S", "S")
        pairs = [(a, b) for (a, b) in _BROADCAST if broadcast(a, b) == kind]
        pairs += [(b, a) for a, b in pairs]
        return self.pick(pairs)

    def _binary(self, kind: str, depth: int) -> str:
        ka, kb = self._operand_kinds(kind)
        a, b = self.expr(ka, depth), self.expr(kb, depth)
        return self.pick([f"{a} + {b}", f"{a} - {b}", f"{a} * {b}", f"{a} / (1.5 + {b} * {b})",
                          f"-({a} + {b})", f"-{a} * {b}", f"{a} * -{b}", f"-({a} * {b})", f"{a} - -{b}"])

    def _factor(self, kind: str, depth: int) -> str:
        """Patterns the factor folding rewrites: signs, powers of two, shared factors, divisions."""
        ka, kb = self._operand_kinds(kind)
        a, b, c = self.expr(ka, depth), self.expr(kb, depth), self.const()
        return self.pick([f"1.0 / -(2.0 + {a} * {a} + {c} * {b} * {b})", f"-({a} + 0.5 * {b})",
                          f"{a} * {b} + {a} * {c}", f"{a} * {b} - {c} * {a}", f"({a} + {b}) * 0.5",
                          f"2.0 * ({a} - {b})", f"-(0.5 * {a}) * {b}", f"{a} * {b} + {a} * {b}",
                          f"-{a} / (1.0 + {b} * {b})", f"{c} * {a} * {b} * 2.0", f"({a} * 0.5) * 2.0 + {b}"])

    def _reduce(self, kind: str, depth: int) -> str:
        """A sum or mean producing `kind`, often of a product (the contraction pass's input)."""
        source = {"V": ("M", "axis=0"), "C": ("M", "axis=1"), "K": ("M", "axis=1, keepdims=True")}
        if kind == "M":
            return self._unary(kind, depth)  # (no reduction makes a matrix)
        if kind in source:
            from_kind, axis = source[kind]
        else:
            from_kind, axis = self.pick(["M", "V", "C"]), None
        a = self.expr(from_kind, depth)
        if self.chance(0.6):
            kb = self.pick([k for k in ("M", "V", "K", "S", "C") if broadcast(from_kind, k) == from_kind])
            b, c = self.expr(kb, depth), self.const()
            a = self.pick([f"{a} * {b}", f"{a} * {b} * {c}", f"{c} * {a} * {b}", f"-{a} * {b}", f"{a} * {a}"])
        reducer = self.pick(list(self.REDUCERS))
        options = f", {axis}" if axis else ""
        if reducer.startswith("method"):
            return f"({a}).{reducer[7:]}({axis or ''})"
        return f"{reducer}({a}{options})"

    def _product(self, kind: str, depth: int) -> str:
        """matmul, dot, einsum and outer producing `kind` (where one does)."""
        options = {"C": ["{M} @ {V}", "np.dot({M}, {V})", "np.einsum('ij,j->i', {M}, {V})",
                         "np.einsum('ij,ij->i', {M}, {M2})"],
                   "V": ["{C} @ {M}", "np.einsum('ij,i->j', {M}, {C})", "np.einsum('ij,ij->j', {M}, {M2})"],
                   "S": ["{V} @ {V2}", "np.einsum('ij,ij->', {M}, {M2})", "np.dot({C}, {C2})"],
                   "M": ["np.outer({C}, {V})", "np.einsum('i,j->ij', {C}, {V})", "{M} * np.einsum('ij->j', {M2})"],
                   "K": ["({M} @ {V})[:, None]"]}[kind]
        template = self.pick(options)
        parts = {name: self.expr(name[0], depth) for name in ("M", "M2", "V", "V2", "C", "C2") if "{" + name + "}" in template}
        return template.format(**parts)

    def _twice(self, kind: str, depth: int) -> str:
        """The same subexpression twice (CSE)."""
        a = self.expr(kind, depth)
        return self.pick([f"np.sin({a}) * np.sin({a})", f"({a}) * ({a}) + np.tanh({a})", f"np.exp(np.tanh({a})) - ({a})"])

    def _helper(self, kind: str, depth: int) -> str:
        """A call of a helper of the user's (inlined), with expressions as arguments."""
        ka, kb = self._operand_kinds(kind)
        name = f"helper{len(self.helpers)}"
        body = self.pick(["p * q - 0.5 * p", "-(p + 0.5 * q)", "np.tanh(p) * q * 2.0", "p / (1.0 + q * q)",
                          "np.sin(p) + np.sin(p) * q"])
        self.helpers.append(f"def {name}({self.HELPER_PREFIX}p, q):\n    return {body}\n")
        a, b = self.expr(ka, depth), self.expr(kb, depth)
        call = f"{name}({self.HELPER_PREFIX}{a}, {b})"
        return f"{call} + {name}({self.HELPER_PREFIX}{b}, {a}) * 0.5" if ka == kb and self.chance(0.3) else call

    # -- statements -----------------------------------------------------------------------------
    def new_name(self, kind: str) -> str:
        self.count += 1
        return f"t{self.count}"

    def statement(self) -> None:
        kind = "M" if self.elementwise else self.pick(["M", "M", "V", "C", "S", "K"])
        name = self.new_name(kind)
        form = self.pick(["plain", "plain", "plain", "branch", "loop"])
        if form == "branch":
            self.lines += [f"    if s > 0.0:", f"        {name} = {self.expr(kind, 3)}", "    else:",
                           f"        {name} = {self.expr(kind, 3)}"]
        elif form == "loop":
            self.lines += [f"    {name} = {self.expr(kind, 2)}", "    for i in range(2):",
                           f"        {name} = np.tanh({name} * {self.const()} + {self.expr(kind, 2)})"]
        else:
            self.lines.append(f"    {name} = {self.expr(kind, 4)}")
        self.names[kind].append(name)

    def result(self) -> str:
        if self.elementwise:
            return f"np.sum({self.names['M'][-1]})"
        terms = []
        for kind in ("M", "V", "C", "K", "S"):
            for name in self.names[kind][-2:]:
                terms.append(f"np.sum({name})" if kind != "S" else name)
        if len(self.names["M"]) > 1:
            terms.append(f"np.sum({self.names['M'][-1]} * {self.names['M'][-2]}) * 0.5")
        return " + ".join(terms)


def generate(rng_or_seed, elementwise: bool = False) -> Program:
    """A random program; `elementwise`: of x and numbers only, elementwise (no sum but the last),
    so that nothing any pass does may change a bit of it."""
    rng = rng_or_seed if isinstance(rng_or_seed, np.random.Generator) else np.random.default_rng(rng_or_seed)
    b = _Builder(rng, elementwise)
    for _ in range(int(rng.integers(1, 5))):
        b.statement()
    body = "\n".join(b.lines + [f"    return {b.result()}"])
    source = "import numpy as np\n\n\n" + "\n\n".join(b.helpers) + ("\n\n" if b.helpers else "") + \
        f"def f(x, w, s):\n{body}\n"
    return Program(source, int(rng.integers(2**31)))
