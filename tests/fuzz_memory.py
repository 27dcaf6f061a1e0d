"""Differential fuzzer: random in-place/aliasing NumPy programs (memory_programs.py) through gradc.

    python3 tests/fuzz_memory.py --count 400 --seed 1 [--save-dir DIR] [--kinds k1,k2] [--stress]

For each program: the value of `f(x, w)` in plain Python and central finite differences
(float64, fresh copies of the inputs for every evaluation) are the reference;
`gradc.value_and_grad(f, wrt=...)` with and without optimization must match them, agree with
each other and leave the arguments untouched. Each program lands in one class:

  ok               everything matches
  wrong_value      gradc's value differs from f's by more than 1e-9 relative
  wrong_gradient   a gradient differs from finite differences (rtol 1e-5, atol 1e-7 scaled by
                   max(1, |f|)), has the wrong shape or type, or the optimized one differs from
                   the unoptimized one by more than 1e-9 relative
  mutated_argument gradc changed x or w
  crash            gradc raised something other than a gradc.GradcError
  refused          gradc raised a gradc.GradcError on a program it must handle
  refused_allowed  ... on a program whose aliasing depends on a run-time condition (not a failure)
  bad_program      plain-Python f raised, returned a non-float, changed its arguments, or its
                   finite differences are unstable: a generator bug, which must not happen

`--stress` sets GRADC_REUSE_MIN_ELEMENTS=1 before gradc is imported (every array, however
small, is then reused in place where gradc may). Exit status 1 when any program failed.
`check_program` is also what tests/test_memory_programs.py runs.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import importlib.util
import os
import signal
import sys
import tempfile
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory_programs import KINDS, generate  # noqa: E402

FAILURES = ("wrong_value", "wrong_gradient", "mutated_argument", "crash", "refused", "bad_program")
CLASSES = ("ok", "refused_allowed") + FAILURES
# When the optimized and the unoptimized gradient fail differently, the worst class is reported.
SEVERITY = ("wrong_value", "wrong_gradient", "mutated_argument", "crash", "refused", "ok")


def import_program(source, directory, name):
    """Write `source` to `<directory>/<name>.py` and import it: gradc reads `f`'s source file."""
    path = os.path.join(directory, f"{name}.py")
    with open(path, "w") as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fresh(args):
    return tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args)


def finite_differences(f, args, index, rel_step):
    """Central differences of `f(*args)` w.r.t. `args[index]`, step rel_step * max(1, |element|)."""
    base = args[index]
    flat = np.array(base, dtype=np.float64).ravel()
    out = np.empty_like(flat)
    for k in range(flat.size):
        h = rel_step * max(1.0, abs(flat[k]))
        values = []
        for sign in (1.0, -1.0):
            moved = flat.copy()
            moved[k] += sign * h
            varied = list(fresh(args))
            varied[index] = moved.reshape(np.shape(base)) if isinstance(base, np.ndarray) else float(moved[0])
            values.append(float(f(*varied)))
        out[k] = (values[0] - values[1]) / (2 * h)
    return out.reshape(np.shape(base)) if isinstance(base, np.ndarray) else float(out[0])


def reference(f, program):
    """(value, {index: gradient}) of plain-Python f, or raise ValueError naming a generator bug."""
    args = program.args()
    value = f(*fresh(args))
    if not isinstance(value, float) or not np.isfinite(value):
        raise ValueError(f"f returned {value!r}, not a finite float")
    given = program.args()
    f(*given)
    if any(not np.array_equal(a, b) for a, b in zip(given, args)):
        raise ValueError("f changes its own arguments")
    grads = {}
    for index in program.wrt:
        fine, coarse = finite_differences(f, args, index, 1e-6), finite_differences(f, args, index, 1e-4)
        if not np.allclose(fine, coarse, rtol=1e-5, atol=1e-7 * max(1.0, abs(value))):
            raise ValueError(f"finite differences of argument {index} depend on the step: {fine} vs {coarse}")
        grads[index] = fine
    return value, grads


def run_gradc(f, program, optimize, value, expected):
    """Run gradc once; return (class, message, gradients or None)."""
    import gradc
    args = program.args()
    before = fresh(args)
    try:
        got, grads = gradc.value_and_grad(f, wrt=program.wrt, optimize=optimize)(*args)
    except gradc.GradcError as error:
        return "refused", f"{type(error).__name__}: {error}", None
    except Exception:
        return "crash", traceback.format_exc(limit=-4), None
    for index, (a, b) in enumerate(zip(args, before)):
        if not np.array_equal(a, b):
            return "mutated_argument", f"argument {index} changed: {b!r} -> {a!r}", None
    if not np.isclose(float(got), value, rtol=1e-9, atol=1e-9):
        return "wrong_value", f"value {float(got)!r}, f gives {value!r}", None
    if not isinstance(grads, tuple) or len(grads) != len(program.wrt):
        return "wrong_gradient", f"gradients {grads!r} for wrt={program.wrt}", None
    for index, grad in zip(program.wrt, grads):
        arg = args[index]
        if isinstance(arg, np.ndarray) != isinstance(grad, np.ndarray) or np.shape(grad) != np.shape(arg):
            return "wrong_gradient", f"gradient of argument {index} is {grad!r}, argument {arg!r}", None
        if not np.allclose(grad, expected[index], rtol=1e-5, atol=1e-7 * max(1.0, abs(value))):
            return "wrong_gradient", (f"gradient of argument {index}:\n  gradc {np.asarray(grad).tolist()}\n"
                                      f"  finite differences {np.asarray(expected[index]).tolist()}"), None
    return "ok", "", grads


def check_program(program, directory, name):
    """Classify one program (see the module docstring); returns (class, discrepancy text)."""
    try:
        f = import_program(program.source, directory, name).f
        value, expected = reference(f, program)
    except Exception:
        return "bad_program", traceback.format_exc(limit=-3)
    runs = {optimize: run_gradc(f, program, optimize, value, expected) for optimize in (True, False)}
    (c_opt, m_opt, g_opt), (c_plain, m_plain, g_plain) = runs[True], runs[False]
    if c_opt == c_plain == "ok":
        for index, a, b in zip(program.wrt, g_opt, g_plain):
            if not np.allclose(a, b, rtol=1e-9, atol=1e-9 * max(1.0, float(np.max(np.abs(b))))):
                return "wrong_gradient", (f"optimized and unoptimized gradients of argument {index} differ:\n"
                                          f"  {np.asarray(a).tolist()}\n  {np.asarray(b).tolist()}")
    worst = min(c_opt, c_plain, key=SEVERITY.index)
    if worst == "refused" and not program.must_work:
        worst = "refused_allowed"
    detail = "\n".join(f"optimize={opt}: {c}{': ' + m if m else ''}" for opt, (c, m, _) in runs.items())
    return worst, "" if worst == "ok" else detail


def failure_report(program, outcome, detail, label):
    """A runnable file: the discrepancy as a comment, then the program."""
    comment = "\n".join("# " + line for line in [
        f"{label}: kind={program.kind} class={outcome} must_work={program.must_work}",
        f"x shape {program.x_shape}, w {'float' if program.w_size is None else f'array({program.w_size})'}"
        f", wrt={program.wrt}", f"args: {program.args()!r}", *detail.splitlines()])
    return comment + "\n" + program.source


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-dir", help="write each failing program, with its discrepancy, here")
    parser.add_argument("--kinds", help=f"comma-separated subset of: {','.join(KINDS)}")
    parser.add_argument("--stress", action="store_true", help="set GRADC_REUSE_MIN_ELEMENTS=1 first")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per program")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each failure as it happens")
    options = parser.parse_args(argv)
    if options.stress:
        os.environ["GRADC_REUSE_MIN_ELEMENTS"] = "1"  # gradc reads it when imported
    import gradc  # noqa: F401  (imported here, after the environment is set)
    kinds = options.kinds.split(",") if options.kinds else None
    if kinds and set(kinds) - set(KINDS):
        parser.error(f"unknown kinds {sorted(set(kinds) - set(KINDS))}")
    if options.save_dir:
        os.makedirs(options.save_dir, exist_ok=True)
    table = collections.defaultdict(collections.Counter)
    with tempfile.TemporaryDirectory(prefix="gradc_fuzz_memory_") as directory:
        for k in range(options.count):
            program = generate(np.random.default_rng([options.seed, k]), kinds)
            name = f"memory_program_{options.seed}_{k}"
            try:
                with time_limit(options.timeout):
                    outcome, detail = check_program(program, directory, name)
            except TimeoutError as error:  # raised again outside what check_program catches
                outcome, detail = "crash", str(error)
            sys.modules.pop(name, None)  # (so that its functions, and gradc's cache of them, can go)
            table[program.kind][outcome] += 1
            if outcome in FAILURES:
                if options.verbose:
                    print(f"--- {name} ({program.kind}): {outcome}\n{detail}\n{program.source}")
                if options.save_dir:
                    path = os.path.join(options.save_dir, f"{name}_{program.kind}_{outcome}.py")
                    with open(path, "w") as file:
                        file.write(failure_report(program, outcome, detail, name))
    print_table(table)
    return 1 if any(table[kind][c] for kind in table for c in FAILURES) else 0


@contextlib.contextmanager
def time_limit(seconds):
    """A hang in gradc becomes a crash: TimeoutError, raised again every second in case something
    swallows it (main thread, POSIX only)."""
    def expire(signum, frame):
        raise TimeoutError(f"the program took longer than {seconds} seconds")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def print_table(table):
    columns = [c for c in CLASSES if any(table[kind][c] for kind in table)]
    width = max([len("kind"), len("total")] + [len(kind) for kind in table])
    print(f"{'kind':<{width}}  " + "  ".join(f"{c:>{max(len(c), 5)}}" for c in columns) + "  total")
    totals = collections.Counter()
    for kind in sorted(table):
        totals.update(table[kind])
        print(f"{kind:<{width}}  " + "  ".join(f"{table[kind][c]:>{max(len(c), 5)}}" for c in columns)
              + f"  {sum(table[kind].values()):>5}")
    print(f"{'total':<{width}}  " + "  ".join(f"{totals[c]:>{max(len(c), 5)}}" for c in columns)
          + f"  {sum(totals.values()):>5}")


if __name__ == "__main__":
    sys.exit(main())
