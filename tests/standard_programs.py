"""Random programs written against the array API standard, checked on numbers (tests/test_array_api.py).

    python3 tests/standard_programs.py --count 2000 --seed 1

The programs are pass_programs.py's (the patterns the optimization passes rewrite: signs, factors,
shared subexpressions, sums of products, helpers, branches and loops), written as SciPy writes
array API code: `xp = array_namespace(x, w)` and `xp.f(...)` calls, no array methods, matmul,
`tensordot`, `vecdot` and `linalg.outer` where pass_programs.py has `einsum` and `dot`; helpers take
`xp` as their first parameter. Each program's gradient is computed with NumPy arrays (checked
against central finite differences) and with array_api_strict arrays, optimized and not (each equal
to the NumPy gradient, value too, within `RTOL`): the code that ran on the strict arrays is the
emitter of backend/standard.py, on what every pass left.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pass_programs  # noqa: E402
from fuzz_memory import import_program  # noqa: E402
from gradcheck import numeric_gradient  # noqa: E402

__all__ = ["generate", "check_program", "RTOL"]

#: The strict arrays run NumPy underneath, in the same order but for the emitter's spellings: equal to
#: rounding (a sum of two adjoints in another order, `xp.sum(xp.astype(m, d))` for a count).
RTOL = 1e-10


class _StandardBuilder(pass_programs._Builder):
    REDUCERS = ("np.sum", "np.mean")  # (the standard's arrays have no methods: its functions)
    HELPER_PREFIX = "xp, "

    def _product(self, kind: str, depth: int) -> str:
        options = {"C": ["{M} @ {V}", "xp.matmul({M}, {V})", "xp.vecdot({M}, {M2}, axis=1)",
                         "xp.tensordot({M}, {V}, axes=1)"],
                   "V": ["{C} @ {M}", "xp.vecdot({M}, {M2}, axis=0)", "xp.tensordot({C}, {M}, axes=1)"],
                   "S": ["{V} @ {V2}", "xp.vecdot({V}, {V2})", "xp.tensordot({M}, {M2}, axes=2)"],
                   "M": ["xp.linalg.outer({C}, {V})", "{M} * xp.sum({M2}, axis=0)"],
                   "K": ["xp.expand_dims({M} @ {V}, axis=1)"]}[kind]
        template = self.pick(options)
        parts = {name: self.expr(name[0], depth) for name in ("M", "M2", "V", "V2", "C", "C2")
                 if "{" + name + "}" in template}
        return template.format(**parts)


def generate(seed: int) -> pass_programs.Program:
    """A random program of `f(x, w, s)` (x (3, 4), w (4,), s a float) in the standard's functions."""
    rng = np.random.default_rng(seed)
    builder = _StandardBuilder(rng)
    for _ in range(int(rng.integers(1, 5))):
        builder.statement()
    body = "\n".join(["    xp = array_namespace(x, w)"] + builder.lines + [f"    return {builder.result()}"])
    helpers = "\n\n".join(builder.helpers)
    source = ("from array_api_compat import array_namespace\n\n\n" + helpers + ("\n\n" if helpers else "")
              + f"def f(x, w, s):\n{body}\n").replace("np.", "xp.")
    return pass_programs.Program(source, int(rng.integers(2**31)))


def check_program(program: pass_programs.Program, directory: str, name: str) -> list[str]:
    """What is wrong with the program's gradients (empty: nothing)."""
    import array_api_strict as xps

    import gradc
    f = import_program(program.source, directory, name).f
    x, w, s = program.args()
    problems = []
    value, grads = gradc.value_and_grad(f, wrt=(0, 1, 2))(x, w, s)
    if not np.isclose(value, float(f(x, w, s)), rtol=1e-12, atol=1e-12):
        problems.append(f"NumPy value {value} != {float(f(x, w, s))}")
    for i, g in enumerate(grads):
        numeric, finer = numeric_gradient(f, [x, w, s], i), numeric_gradient(f, [x, w, s], i, eps=1e-7)
        reliable = np.allclose(numeric, finer, rtol=1e-4, atol=1e-5)  # (sin of 1e5: no difference quotient is)
        # (near a pole only a small step agrees; rounding in f of 1e7 is 1e-3 in a quotient of step 1e-6)
        agrees = any(np.allclose(g, n, rtol=1e-5, atol=1e-6 + 1e-7 * np.max(np.abs(n))) for n in
                     (numeric, finer, numeric_gradient(f, [x, w, s], i, eps=1e-8)))
        if reliable and not agrees:
            problems.append(f"NumPy gradient {i} differs from finite differences by "
                            f"{np.max(np.abs(np.asarray(g) - numeric)):.3g}")
    for optimize in (True, False):
        strict_value, strict_grads = gradc.value_and_grad(f, wrt=(0, 1, 2), optimize=optimize)(
            xps.asarray(x), xps.asarray(w), s)
        if not np.isclose(float(strict_value), value, rtol=RTOL, atol=1e-12):
            problems.append(f"strict value (optimize={optimize}) {float(strict_value)} != {value}")
        for i, (got, expected) in enumerate(zip(strict_grads, grads)):
            got = got if isinstance(got, float) else np.from_dlpack(got)
            if i < 2 and not isinstance(strict_grads[i], type(xps.asarray(0.0))):
                problems.append(f"strict gradient {i} is a {type(strict_grads[i]).__name__}")
            if not np.allclose(got, expected, rtol=RTOL, atol=1e-12):
                problems.append(f"strict gradient {i} (optimize={optimize}) differs from NumPy's by "
                                f"{np.max(np.abs(np.asarray(got) - expected)):.3g}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    counts: collections.Counter = collections.Counter()
    with tempfile.TemporaryDirectory() as directory:
        for k in range(options.count):
            program = generate(options.seed * 1_000_003 + k)
            try:
                problems = check_program(program, directory, f"standard_{options.seed}_{k}")
            except Exception as exc:  # noqa: BLE001 - counted and shown
                from gradc import GradcError
                counts["refused" if isinstance(exc, GradcError) else "crash"] += 1
                print(f"program {k}: {type(exc).__name__}: {str(exc).splitlines()[0]}\n{program.source}")
                continue
            counts["wrong" if problems else "ok"] += 1
            if problems:
                print(f"program {k}: {problems}\n{program.source}")
    print(dict(counts))
    return 1 if counts["wrong"] or counts["crash"] or counts["refused"] else 0


if __name__ == "__main__":
    sys.exit(main())
