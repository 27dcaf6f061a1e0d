"""Every optimization pass proven on numbers, alone: random programs (pass_programs.py) compiled
with the passes run one more at a time, each step against the step before it.

    python3 tests/fuzz_passes.py --count 10000 --seed 1 [--save-dir DIR] [--general]

For each program, `compile_through(f, k)` runs the pipeline with only the first k stages of
`_stages()` (in `optimize`'s order) and no in-place writes; stage k is checked by running the
gradients through k and through k + 1 on the same inputs: value and every gradient must be equal
bit for bit ("same") or within `ULPS` ulps of the magnitude of what was summed ("close": a sum
in another order or over another memory layout). The last step turns in-place writing on
(bufferization). `--general` compiles for arguments
of any shape too (`GradFunction.source`'s path, where fewer shapes are known).

A program lands in one class per stage: `same`, `close`, `differs` (a failure), `crash` (gradc raised
something other than a GradcError: a failure) or `refused` (a GradcError: counted, not a failure,
though the generator only makes programs gradc supports). Exit status 1 on any failure.
Inlining (a lowering, not a pass) is checked the same way: each program that calls helpers against
itself with the helpers' expressions pasted in by hand (`inline_helpers`), neither optimized.
`check_program` is what tests/test_passes_on_numbers.py runs.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fuzz_memory import import_program  # noqa: E402
from pass_programs import generate  # noqa: E402


def _stages():
    from gradc.passes import (contract_sums_of_products, eliminate_common_subexpressions, eliminate_dead_code,
                              fold_factors, simplify)
    return [("share_primal", None), ("simplify", simplify), ("cse", eliminate_common_subexpressions),
            ("dce", eliminate_dead_code), ("factors", fold_factors), ("simplify_again", simplify),
            ("dce_again", eliminate_dead_code), ("contract", contract_sums_of_products), ("in_place", None)]


STAGE_NAMES = [name for name, _ in _stages()]
#: What "close" allows: a sum in another order (the contraction's einsum; CSE of the primal, which
#: gives two equal expressions one adjoint, `(g1 + g2) * f'` for `g1 * f' + g2 * f'`), or over
#: another memory layout (BLAS and NumPy's pairwise sums add a broadcast view and a contiguous
#: array of the same values in different orders). Every other change is a wrong number.
ULPS = 16


def compile_through(fn, k, kinds, wrt=(0, 1, 2)):
    """`fn`'s value_and_grad function with only the first `k` stages run (the rest of the pipeline
    as `optimize=False` runs it: dead code dropped, bufferized without writing in place)."""
    from gradc.api import _closure, _user_names, _vjp_of_callee
    from gradc.ad.reverse import reverse
    from gradc.backend.emit import emit
    from gradc.backend.load import compile_factory, instantiate
    from gradc.frontend.lower import lower_function
    from gradc.frontend.source import parse_function
    from gradc.ir.verify import verify
    from gradc.passes import NUMPY, bufferize, eliminate_dead_code, share_primal
    stages = _stages()
    parsed = parse_function(fn)
    primal = verify(lower_function(parsed, {}, kinds or None))
    adjoint = reverse(share_primal(primal, k > 0), list(wrt), "value_and_grad", kinds or (), _vjp_of_callee)
    for _, run in stages[1:k]:
        if run is not None:
            run(adjoint)
    eliminate_dead_code(adjoint)
    in_place = k >= len(stages)
    bufferize(adjoint, in_place, NUMPY, 1)  # (in place: every array, however small, where it may be)
    adjoint.optimized = in_place
    verify(adjoint)
    emitted = emit(adjoint, fn.__globals__, _closure(fn), _user_names(parsed, adjoint))
    return instantiate(compile_factory(emitted), emitted, fn)


def _ulps(a, b, scale):
    """How many ulps of `scale` (the magnitude of what was summed) a and b are apart."""
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0) / np.spacing(scale))


def _compare(a, b, scale):
    """"same" (bit for bit), "close" (within ULPS ulps of the summed magnitude: a sum or product
    in another order or over another memory layout), or why they differ."""
    if np.shape(a) != np.shape(b) or np.asarray(a).dtype != np.asarray(b).dtype:
        return f"shape or dtype: {np.shape(a)} {np.asarray(a).dtype} vs {np.shape(b)} {np.asarray(b).dtype}"
    if np.array_equal(a, b, equal_nan=True):
        return "same"
    if np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and _ulps(a, b, scale) <= ULPS:
        return "close"
    return f"{np.asarray(a).tolist()} vs {np.asarray(b).tolist()} ({_ulps(a, b, scale):.3g} ulps)"


def inline_helpers(source):
    """`source` with every call of a one-line helper (`def helper0(p, q): return ...`) replaced by the
    helper's expression, its parameters by the call's arguments: what gradc's inlining must match."""
    import ast
    import copy
    tree = ast.parse(source)
    helpers = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name != "f"}

    class Substitute(ast.NodeTransformer):
        def __init__(self, bindings):
            self.bindings = bindings

        def visit_Name(self, node):
            return copy.deepcopy(self.bindings[node.id]) if node.id in self.bindings else node

    class Inline(ast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            helper = helpers.get(getattr(node.func, "id", None))
            if helper is None:
                return node
            params = [a.arg for a in helper.args.args]
            return Substitute(dict(zip(params, node.args))).visit(copy.deepcopy(helper.body[0].value))

    f = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "f")
    Inline().visit(f)
    tree.body = [node for node in tree.body if not (isinstance(node, ast.FunctionDef) and node.name != "f")]
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def check_inlining(program, directory, name, general=False):
    """("same" | "close" | "differs" | "crash" | "refused", detail): the program against itself with its
    helpers inlined by hand, neither optimized."""
    import gradc
    from gradc.api import _kind
    args = program.args()
    kinds = None if general else tuple(_kind(a) for a in args)
    results = []
    for label, source in (("calls", program.source), ("inlined", inline_helpers(program.source))):
        f = import_program(source, directory, f"{name}_{label}").f
        sys.modules.pop(f"{name}_{label}", None)
        try:
            value, grads = compile_through(f, 0, kinds)(*args)
        except gradc.GradcError as error:
            return "refused", f"{label}: {type(error).__name__}: {error}"
        except Exception:
            return "crash", f"{label}: " + traceback.format_exc(limit=-4)
        results.append((value,) + tuple(grads))
    scale = 1.0 + sum(float(np.sum(np.abs(r))) for r in results[0])
    verdicts = [_compare(a, b, scale) for a, b in zip(*results)]
    wrong = [v for v in verdicts if v not in ("same", "close")]
    if wrong:
        return "differs", wrong[0]
    return ("same" if all(v == "same" for v in verdicts) else "close"), ""


def check_program(program, directory, name, general=False):
    """{stage: (class, detail)} for one program (and "inlining": `check_inlining`'s)."""
    import gradc
    from gradc.api import _kind
    f = import_program(program.source, directory, name).f
    args = program.args()
    try:
        with np.errstate(all="raise"):
            float(f(*program.args()))
    except Exception:
        return {stage: ("bad_program", traceback.format_exc(limit=-2)) for stage in STAGE_NAMES}
    kinds = None if general else tuple(_kind(a) for a in args)
    results, outcome = [], {}
    for k in range(len(STAGE_NAMES) + 1):
        try:
            value, grads = compile_through(f, k, kinds)(*args)
            results.append((value,) + tuple(grads))
        except gradc.GradcError as error:
            results.append(("refused", f"{type(error).__name__}: {error}"))
        except Exception:
            results.append(("crash", traceback.format_exc(limit=-4)))
    # (the magnitude a reassociated sum may be off by: the sums of the absolute values, bounded)
    scale = 1.0 + sum(float(np.sum(np.abs(r))) for r in results[0]) if results[0][0] not in ("refused", "crash") \
        else 1.0
    for k, stage in enumerate(STAGE_NAMES):
        before, after = results[k], results[k + 1]
        if after[0] in ("refused", "crash") or before[0] in ("refused", "crash"):
            outcome[stage] = after if after[0] in ("refused", "crash") else before
            continue
        verdicts = [(part, _compare(a, b, scale)) for part, (a, b) in enumerate(zip(before, after))]
        wrong = [(part, why) for part, why in verdicts if why not in ("same", "close")]
        if wrong:
            part, why = wrong[0]
            outcome[stage] = ("differs", f"{'value' if part == 0 else f'gradient {part - 1}'}: {why}")
        else:
            outcome[stage] = ("same" if all(why == "same" for _, why in verdicts) else "close", "")
    if "def helper" in program.source:
        outcome["inlining"] = check_inlining(program, directory, name, general)
    return outcome


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-dir")
    parser.add_argument("--general", action="store_true", help="compile for arguments of any shape")
    options = parser.parse_args(argv)
    table = collections.defaultdict(collections.Counter)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="gradc_fuzz_passes_") as directory:
        for k in range(options.count):
            program = generate(np.random.default_rng([options.seed, k]))
            name = f"pass_program_{options.seed}_{k}"
            outcome = check_program(program, directory, name, options.general)
            sys.modules.pop(name, None)
            bad = {stage: r for stage, r in outcome.items() if r[0] in ("differs", "crash", "bad_program")}
            for stage, (cls, _) in outcome.items():
                table[stage][cls] += 1
            if bad:
                failures += 1
                if options.save_dir:
                    os.makedirs(options.save_dir, exist_ok=True)
                    with open(os.path.join(options.save_dir, f"{name}.py"), "w") as file:
                        notes = "".join(f"# {stage}: {cls}: {line}\n" for stage, (cls, detail) in bad.items()
                                        for line in detail.splitlines()[:20])
                        file.write(notes + f"# args seed {program.seed}\n" + program.source)
    classes = ("same", "close", "differs", "crash", "refused", "bad_program")
    print(f"{'stage':<16}" + "".join(f"{c:>12}" for c in classes))
    for stage in STAGE_NAMES + ["inlining"]:
        print(f"{stage:<16}" + "".join(f"{table[stage][c]:>12}" for c in classes))
    print(f"programs: {options.count}, with a failing stage: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
