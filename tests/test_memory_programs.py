"""Random programs that fill and alias arrays in place (memory_programs.py) through gradc.

Each program's value and gradients (optimized and not) must match plain Python and central
finite differences, and gradc must leave the arguments untouched; a `gradc.GradcError` is
accepted only for programs whose aliasing depends on a run-time condition, or that write an array a
loop appended to a list (`must_work=False`).
`GRADC_PROGRAMS` sets how many programs run (default 40); the seeds are fixed. The same check,
for thousands of programs and with a table of the outcomes: `python3 tests/fuzz_memory.py`.
"""
import collections
import os
import re

import numpy as np
import pytest

from fuzz_memory import check_program, time_limit
from memory_programs import KINDS, generate

COUNT = int(os.environ.get("GRADC_PROGRAMS", 40))
SEED = 20240601

pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")


def program(index):
    return generate(np.random.default_rng([SEED, index]))


@pytest.mark.parametrize("index", range(COUNT))
def test_memory_program(tmp_path, index):
    p = program(index)
    with time_limit(120):
        outcome, detail = check_program(p, str(tmp_path), f"memory_program_{index}")
    allowed = ("ok",) if p.must_work else ("ok", "refused_allowed")
    assert outcome in allowed, (f"{outcome} ({p.kind}, wrt={p.wrt}, x shape {p.x_shape}, "
                                f"w {'float' if p.w_size is None else 'array'}, args {p.args()!r})\n"
                                f"{detail}\n--- program ---\n{p.source}")


# Every pattern the generator promises, as a regular expression over the program text: a
# generator that never produces a pattern tests nothing about it.
PATTERNS = {
    "equal constructor calls": r"(\w+) = (np\.zeros_like\(x\)|np\.ones_like\(x\)|x\.copy\(\)|np\.zeros\(x\.shape\))"
                               r"\n    \w+ = \2\n",
    "a helper returning a copy, called twice": r"(\w+) = (\w+)\(x\)\n    \w+ = \2\(x\)\n",
    "helper returning p.copy()": r"def \w+\((\w+)\):\n    return \1\.copy\(\)",
    "helper returning np.zeros_like(p)": r"def \w+\((\w+)\):\n    return np\.zeros_like\(\1\)",
    "element fill in a for loop": r"for (\w+) in range\(\d\):\n\s+\w+\[\1\] = ",
    "fill in a while loop": r"while (\w+) < [1-4]:\n\s+\w+\[[^\]]*\1[^\]]*\] [-+*]?= ",
    "if inside a loop": r"for (\w+) in .*:\n\s+if \1 % 2 == 0:\n",
    "+= of an element": r"\w+\[[^\]]+\] \+= ",
    "*= of an element": r"\w+\[[^\]]+\] \*= ",
    "y[1:] +=": r"\w+\[1:\] \+= ",
    "y[::2] *= y[::2]": r"(\w+)\[::2\] \*= \1\[::2\]",
    "Y[i, :] =": r"\w+\[\w+, :\] = ",
    "Y[:, j] +=": r"\w+\[:, \w+\] \+= ",
    "negative index": r"\w+\[-1 - \w+\]",
    "alias then write": r"\n    (t|alias|same|ref)\d* = (\w+)\n(.*\n)*\s+(\1|\2)\[",
    "alias written in a loop": r"\n    (t|alias|same|ref)\d* = (\w+)\n    for .*:\n(.*\n)*?\s+\1\[",
    "view y[1:]": r"= \w+\[1:\]\n", "view Y[1]": r"= \w+\[1\]\n", "view np.flip(y)": r"= np\.flip\(\w+\)\n",
    "view y.T": r"= \w+\.T\n", "view y[::-1]": r"= \w+\[::-1\]\n",
    "helper tail(p)": r"def \w+\((\w+)\):\n    return \1\[1:\]",
    "write through a view": r"= \w+\[1:\]\n(.*\n)*\s+(\w+)\[0\] = ",
    "tape y[i] = sin(y[i]) * y[j]": r"(\w+)\[([^\]]+)\] = np\.sin\(\1\[\2\]\) \* \1\[",
    "y = y * 1.0": r"(\w+) = \1 \* 1\.0\n",
    "list of arrays": r"= \[\w+, \w+\]\n", "append": r"\w+\.append\(\w+\)",
    "dict of arrays": r'= \{"a": \w+, "b": \w+\}', "loop over saved arrays": r"for \w+ in \w+:\n",
    "append in a loop, then a write": r"for .*:\n        \w+\.append\((\w+)\)\n        \1\[",
    "a write, then an append in a loop": r"for .*:\n        (\w+)\[.*\n        \w+\.append\(\1\)\n",
    "a write after a loop of appends": r"\.append\((\w+)\)\n    \1\[",
    "an append in a branch": r"if .*:\n        \w+\.append\(\w+\)\n    else:\n",
    "list + list": r"= \[\w+\] \+ \[\w+\]\n", "tuple + tuple": r"= \(\w+,\) \+ \(\w+, w\)\n",
    "list * n": r"= \[\w+\] \* 2\n", "n * list": r"= 2 \* \[\w+, \w+\]\n",
    "identity helper": r"def (\w+)\((\w+), q\):\n    return \2\n(.*\n)*    \w+ = \1\(x, w\)",
    "helper writing into its argument": r"def \w+\((\w+), v\):\n    \1\[0\] = v\n    return \1",
    "scalar recursion": r"if (\w+) < 1\.0:\n        return \1\n    return (\w+)\(\1 / 2\.0\) \* 1\.5",
    "array recursion": r"if np\.sum\((\w+)\) < 1\.0:\n        return \1\n",
    "recursion writing its argument": r"    (\w+)\[n\] = np\.tanh\(\1\[n - 1\]\) \* 0\.9\n    return \w+\(\1, n - 1\)",
    "a view by a counter, in a loop": r"for (\w+) in .*:\n        \w+ = \w+\[(\1:|:\1 \+ 1|\1:\1 \+ 2)\]\n",
    "s = x[1]; s += 1.0": r"(\w+) = x\[1\]\n    \1 \+= 1\.0\n",
    "h = c; h += x[0]": r"(\w+) = 2\.0\n    (\w+) = \1\n    \2 \+= x\[0\]",
    "run-time alias": r"(\w+) = (\w+) if w(\[0\])? > 0\.0 else \2 \* 2\.0\n    \1\[0\] = ",
    "loop of 0 steps": r"range\(0\)", "loop of 4 steps": r"range\(4\)",
    "comprehension, then a write": r"= \[.* for (\w+) in range\(\d\)\]\n    \w+\[",
    "comprehension of views": r"= \[(\w+)\[[^\]]+\] for \w+ in range\(\d\)\]",
    "nested def writing a closed buffer": r"def (\w+)\((\w+)\):\n        (\w+)\[.*\] = \3\[",
    "generator in sum, then a write": r"= sum\(np\.sum\(.*\) for \w+ in range\(\d\)\)\n    \w+\[",
    "dict comprehension": r"= \{\w+: .* for \w+, \w+ in \(\(",
    "lambda read after a write": r"(\w+) = lambda \w+: .*\n(    .*\n)*    return .*\1\(",
    "reduce with a lambda": r"functools\.reduce\(lambda \w+, \w+:",
    "nested def called before and after a write": r"(\w+) = (\w+)\(.*\)\n    \w+\[.*\n(    .*\n)*    return .*\2\(",
}


def test_the_generator_makes_every_pattern_and_only_runnable_programs(tmp_path):
    programs = [generate(np.random.default_rng([SEED, 1, k])) for k in range(1500)]
    kinds = collections.Counter(p.kind for p in programs)
    assert set(kinds) == set(KINDS), kinds
    missing = [name for name, pattern in PATTERNS.items() if not any(re.search(pattern, p.source) for p in programs)]
    assert not missing, f"never generated: {missing}"
    assert {len(p.x_shape) for p in programs} == {1, 2}
    assert {p.w_size for p in programs} == {None, 3} and {p.wrt for p in programs} == {(0,), (1,), (0, 1)}
    # (a GradcError is acceptable only where a run-time condition decides the aliasing, and for an
    # array written after a loop appended it to a list: see memory_programs._container)
    assert {p.kind for p in programs if not p.must_work} <= {"runtime_alias", "container_of_arrays", "recursion",
                                                             "scopes", "mixed"}
    assert all(p.kind == "runtime_alias" or ".append(" in p.source or "n - 1)" in p.source or
               re.search(r"= \[\w+\[[^\]]+\] for ", p.source) for p in programs if not p.must_work)
    # Plain Python runs them all, smoothly: what check_program calls a bad program never appears.
    from fuzz_memory import import_program, reference
    for k, p in enumerate(programs[:300]):
        f = import_program(p.source, str(tmp_path), f"memory_program_plain_{k}").f
        reference(f, p)  # raises on a generator bug
        assert p.args()[0].tolist() == p.args()[0].tolist()  # args() is deterministic
