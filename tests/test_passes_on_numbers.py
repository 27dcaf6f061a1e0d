"""Each optimization pass proven on numbers, alone (fuzz_passes.py): random programs compiled with
one more pass at a time, every step equal to the step before it, bit for bit or within a few
ulps where a sum is taken in another order. `GRADC_PROGRAMS` sets how many programs run (default
12 here, with known argument kinds, and a third of that for arguments of any kind); the seeds are
fixed. Thousands, with a table: `python3 tests/fuzz_passes.py --count 10000`.
"""
import os
import re

import numpy as np
import pytest

from fuzz_passes import STAGE_NAMES, check_program
from pass_programs import generate

COUNT = int(os.environ.get("GRADC_PROGRAMS", 12))
SEED = 20261206


@pytest.mark.parametrize("general", [False, True], ids=["kinds known", "any kinds"])
@pytest.mark.parametrize("index", range(COUNT))
def test_every_pass_keeps_the_numbers(tmp_path, index, general):
    if general and index % 3:
        pytest.skip("a third of the programs for arguments of any kind")
    program = generate(np.random.default_rng([SEED, index]))
    outcome = check_program(program, str(tmp_path), f"pass_program_{index}_{general}", general)
    bad = {stage: detail for stage, (cls, detail) in outcome.items() if cls not in ("same", "close")}
    assert not bad, f"{bad}\n--- program (args seed {program.seed}) ---\n{program.source}"


# What the generator must make, as regular expressions over the program text: a generator that
# never produces the pattern a pass rewrites tests nothing about that pass.
PATTERNS = {
    "a constant on the left": r"[^\w.](0\.5|2\.0|-1\.5|3\.0|0\.25|-2\.0|4\.0|0\.1) \* \(",
    "a constant on the right": r"\) \* (0\.5|2\.0|-1\.5|3\.0|0\.25|-2\.0|4\.0|0\.1)\b",
    "a constant divisor": r"\) / (0\.5|2\.0|-1\.5|3\.0|0\.25|-2\.0|4\.0|0\.1)\b",
    "a constant numerator": r"(0\.5|2\.0|-1\.5|3\.0|0\.25|-2\.0|4\.0|0\.1) / \(1\.0 \+",
    "a negation outside a sum": r"-\(\(?[\w.]+ \+ ",
    "a negation of a product": r"-\(\w+ \* \w+\)|-\(\(.*\) \* \(.*\)\)",
    "a negated operand of a product": r"-\w+ \* \w+|\* -\w+",
    "the issue's -(a + 0.5 * b)": r"-\(.* \+ 0\.5 \* ",
    "1.0 / -(...)": r"1\.0 / -\(2\.0 \+ ",
    "a shared factor": r"(\(.+\)|\w+) \* (\(.+\)|\w+) \+ \1 \* ",
    "a power of two": r"\* 2\.0 \* 0\.5|\* 0\.5\) \* 2\.0",
    "x + x": r"(\w+) \+ \1\b",
    "x * 1.0": r"\* 1\.0\b",
    "x ** 1": r"\*\* 1\b",
    "0.0 + x": r"0\.0 \+ ",
    "a square": r"\*\* 2|np\.square",
    "a sum of a product along an axis": r"np\.(sum|mean)\(\(.*\) \* .*, axis=[01]",
    "a method sum": r"\)\.sum\(axis=",
    "keepdims": r"keepdims=True",
    "einsum": r"np\.einsum\('ij,ij->j'", "matmul": r" @ ", "outer": r"np\.outer\(",
    "a subexpression twice": r"np\.sin\((.+)\) \* np\.sin\(\1\)",
    "a helper called": r"helper\d+\(", "a branch": r"if s > 0\.0:", "a loop": r"for i in range\(2\):",
}


def test_the_generator_makes_what_each_pass_rewrites():
    sources = [generate(np.random.default_rng([SEED, 1, k])).source for k in range(600)]
    missing = [name for name, pattern in PATTERNS.items() if not any(re.search(pattern, s) for s in sources)]
    assert not missing, f"never generated: {missing}"
    assert STAGE_NAMES[0] == "share_primal" and "factors" in STAGE_NAMES and "contract" in STAGE_NAMES
