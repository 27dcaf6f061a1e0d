"""gradc against hand-written NumPy, autograd, JAX and PyTorch on the eight workloads of
benchmarks/workloads.py; plus peak memory, compile time and call overhead.

    python benchmarks/run.py                 # everything (a few minutes)
    python benchmarks/run.py --only mlp      # one workload (the extra sections are skipped)
    python benchmarks/run.py --quick         # a fast smoke run
    python benchmarks/run.py --json out.json # also write the table as JSON

Contenders run in the same process, interleaved round by round (the order rotates each
round); each sample times a batch of calls long enough to read the clock reliably, and the
median per-call time over the rounds is reported. The number of rounds adapts so each
workload takes about 2 s (`--budget`). Peers (`pip install ".[bench]"`: autograd, jax,
torch) are skipped when not installed. Before timing, every contender's gradient is
compared with the hand-written one; a mismatch is printed loudly and makes the exit
status 1.

Contenders: `primal` (the function itself, the baseline for "/ primal"), `hand`
(hand-written NumPy gradient), `gradc` (the GradFunction, as a user calls it), `autograd`,
`jax` (`jax.grad`, op by op), `jax.jit` (`jax.jit(jax.grad(f))`, compiled before timing),
`torch` (PyTorch CPU eager: forward, then `torch.autograd.grad`). JAX runs in float64
(`jax_enable_x64`) and PyTorch on float64 tensors, like NumPy.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.pop("GRADC_CACHE_DIR", None)  # compile times are measured without the disk cache


def _threads_from_argv(argv) -> int:
    """--threads N, read before NumPy is imported (BLAS reads its thread count at load)."""
    for k, arg in enumerate(argv):
        if arg == "--threads" and k + 1 < len(argv):
            return int(argv[k + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 1


THREADS = _threads_from_argv(sys.argv[1:])
if THREADS > 0:
    # One thread everywhere by default: every contender then does the same arithmetic on one
    # core, and multithreaded BLAS on a small shared machine swings by 10x and more when another
    # process takes a core (measured here: the hand-written RNN 2 ms alone, 107 ms under load).
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(THREADS)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen="
                               + ("false" if THREADS == 1 else "true")
                               + f" intra_op_parallelism_threads={THREADS}").strip()

import numpy as np  # noqa: E402

import gradc  # noqa: E402
import workloads as W  # noqa: E402

MISMATCHES: list[str] = []


# ---------------------------------------------------------------------------------------------
# Peers
# ---------------------------------------------------------------------------------------------
def _import(name):
    try:
        return importlib.import_module(name)
    except Exception:  # not installed (or broken): skipped
        return None


autograd = _import("autograd")
anp = _import("autograd.numpy") if autograd else None
jax = _import("jax")
if jax is not None:
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp
torch = _import("torch")
if torch is not None and THREADS > 0:
    torch.set_num_threads(THREADS)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


# ---------------------------------------------------------------------------------------------
# Machine
# ---------------------------------------------------------------------------------------------
def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas():
    try:
        import threadpoolctl
        infos = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            return "; ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
                             f"{i.get('num_threads')} threads, {Path(i.get('filepath', '')).name})"
                             for i in infos)
    except Exception:
        pass
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} (np.show_config)"
    except Exception:
        return "unknown"


def machine_info():
    info = {
        "cpu": _cpu_model(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "blas": _blas(),
        "gradc": getattr(gradc, "__version__", "?"),
        "autograd": _version("autograd") if autograd else None,
        "jax": jax.__version__ if jax else None,
        "torch": torch.__version__ if torch else None,
        "torch_threads": torch.get_num_threads() if torch else None,
        "threads": f"{THREADS} (BLAS, OpenMP, XLA, torch; --threads N to change, 0 = libraries' defaults)",
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var):
            info[var] = os.environ[var]
    try:
        import subprocess
        info["gradc_commit"] = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
                                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain", "gradc"],
                               capture_output=True, text=True).stdout.strip()
        if dirty:
            info["gradc_commit"] += " (+ uncommitted changes under gradc/)"
    except Exception:
        pass
    return info


def _version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return "?"


# ---------------------------------------------------------------------------------------------
# Contenders: each a zero-argument callable computing the gradient, and a converter of its
# result to a tuple of NumPy values for the comparison with hand-written.
# ---------------------------------------------------------------------------------------------
def contenders(w: W.Workload, args: tuple):
    out = {}
    out["primal"] = (lambda: w.f(*args), None)
    out["hand"] = (lambda: w.hand(*args), tuple)
    g = gradc.grad(w.f, wrt=w.wrt)
    out["gradc"] = (lambda: g(*args), tuple)
    if autograd is not None:
        ag = autograd.grad(w.peer(anp), argnum=w.wrt)
        out["autograd"] = (lambda: ag(*args), tuple)
    if jax is not None:
        jargs = tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
        jg = jax.grad(w.peer(jnp), argnums=w.wrt)
        jj = jax.jit(jg)
        out["jax"] = (lambda: jax.block_until_ready(jg(*jargs)), _from_jax)
        out["jax.jit"] = (lambda: jax.block_until_ready(jj(*jargs)), _from_jax)
    if torch is not None:
        tf = w.torch_version()
        targs = tuple(torch.tensor(a, dtype=torch.float64, requires_grad=i in w.wrt)
                      if isinstance(a, np.ndarray) or i in w.wrt else a for i, a in enumerate(args))
        inputs = [targs[i] for i in w.wrt]

        def torch_grad():
            return torch.autograd.grad(tf(*targs), inputs)
        out["torch"] = (torch_grad, lambda r: tuple(t.detach().numpy() for t in r))
    return out


def _from_jax(result):
    return tuple(np.asarray(r) for r in result)


def verify(name, results, reference):
    """Every contender's gradient against hand-written; returns {contender: ok}."""
    ok = {}
    for who, grads in results.items():
        good = len(grads) == len(reference)
        worst = ""
        for k, (a, b) in enumerate(zip(grads, reference)):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
            if a.shape != b.shape or not np.allclose(a, b, rtol=1e-6, atol=1e-9 * scale):
                good = False
                err = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("nan")
                worst = f"gradient {k}: shape {a.shape} vs {b.shape}, max abs error {err:.3g}"
        ok[who] = good
        if not good:
            message = f"MISMATCH in workload {name}: {who}'s gradient differs from hand-written ({worst})"
            MISMATCHES.append(message)
            print("\n" + "!" * 100 + f"\n!!! {message}\n" + "!" * 100, file=sys.stderr, flush=True)
    return ok


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------
def _once(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(calls: dict, budget: float, min_rounds: int, sample_s: float = 2e-3) -> dict:
    """Median seconds per call of each callable, interleaved: each round runs every callable
    (rotating the order) for a batch of `inner` calls lasting about `sample_s`."""
    names = list(calls)
    estimate = {n: min(_once(calls[n]) for _ in range(3)) for n in names}
    inner = {n: max(1, int(sample_s / max(estimate[n], 1e-9))) for n in names}
    per_round = sum(inner[n] * estimate[n] for n in names)
    rounds = max(min_rounds, min(2000, int(budget / max(per_round, 1e-9))))
    samples = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            fn, count = calls[n], inner[n]
            gc.disable()
            start = time.perf_counter()
            for _ in range(count):
                fn()
            elapsed = time.perf_counter() - start
            gc.enable()
            samples[n].append(elapsed / count)
    return {n: statistics.median(s) for n, s in samples.items()} | {"_rounds": rounds}


def peak_memory(fn) -> int:
    """Peak bytes traced (Python objects and NumPy buffers) during one call."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:8.1f} µs"
    if s < 1:
        return f"{s * 1e3:8.2f} ms"
    return f"{s:8.3f} s "


def fmt_bytes(n):
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def run_workload(w: W.Workload, budget: float, min_rounds: int) -> dict:
    args = w.build()
    calls = contenders(w, args)
    print(f"\n[{w.number}] {w.name}: {w.title}  (gradient w.r.t. {len(w.wrt)} argument(s))", flush=True)
    results = {}
    for who, (fn, convert) in calls.items():
        try:
            result = fn()   # also the warm-up: gradc compiles, jax.jit compiles here
            fn()
        except Exception as exc:  # a peer that cannot run this workload is reported, not fatal
            print(f"    {who}: FAILED ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})", flush=True)
            MISMATCHES.append(f"{w.name}: {who} failed: {type(exc).__name__}")
            continue
        if convert is not None:
            results[who] = convert(result)
    reference = results.pop("hand")
    ok = verify(w.name, results, reference)
    ok["hand"] = True
    runnable = {who: fn for who, (fn, _) in calls.items() if who == "primal" or who == "hand" or who in ok}
    times = measure(runnable, budget, min_rounds)
    rounds = times.pop("_rounds")
    hand, primal = times["hand"], times["primal"]
    row = {"number": w.number, "title": w.title, "rounds": rounds, "contenders": {}}
    print(f"    {'contender':<10} {'median':>11} {'/ hand':>8} {'/ primal':>9}  {'/ gradc':>8}  check")
    for who, t in times.items():
        row["contenders"][who] = {"median_s": t, "ratio_hand": t / hand, "ratio_primal": t / primal,
                                  "ok": ok.get(who)}
        check = "" if who == "primal" else ("ref" if who == "hand" else ("ok" if ok[who] else "MISMATCH"))
        per_gradc = t / times["gradc"] if "gradc" in times else float("nan")
        print(f"    {who:<10} {fmt_time(t):>11} {t / hand:8.2f} {t / primal:9.2f}  {per_gradc:8.2f}  {check}")
    mem_hand = peak_memory(calls["hand"][0])
    mem_gradc = peak_memory(calls["gradc"][0])
    row["memory"] = {"hand_bytes": mem_hand, "gradc_bytes": mem_gradc, "ratio": mem_gradc / max(mem_hand, 1)}
    print(f"    peak memory of one gradient call: gradc {fmt_bytes(mem_gradc)}, hand {fmt_bytes(mem_hand)},"
          f" ratio {mem_gradc / max(mem_hand, 1):.2f}   ({rounds} rounds)", flush=True)
    return row


# ---------------------------------------------------------------------------------------------
# Higher order and forward mode (benchmarks/higher_order.py)
# ---------------------------------------------------------------------------------------------
def run_higher(budget: float, min_rounds: int) -> dict:
    import higher_order as H
    peers = (autograd, anp, jax, jnp if jax is not None else None, torch)
    rows = {}
    for number, name in enumerate(H.NAMES, 1):
        calls, reference_fn = H.contenders(name, peers)
        print(f"\n[h{number}] {name}: {H.TITLES[name]}", flush=True)
        reference = np.asarray(reference_fn(), dtype=float)
        ok = {}
        for who, fn in list(calls.items()):
            try:
                result = fn()
                fn()
            except Exception as exc:
                print(f"    {who}: FAILED ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})", flush=True)
                MISMATCHES.append(f"{name}: {who} failed: {type(exc).__name__}")
                calls.pop(who)
                continue
            if who in ("primal", "gradc.grad"):
                continue
            value = np.asarray(result.detach().numpy() if hasattr(result, "detach") else result, dtype=float)
            ok[who] = value.shape == reference.shape and np.allclose(value, reference, rtol=1e-6,
                                                                     atol=1e-9 * max(1.0, np.max(np.abs(reference))))
            if not ok[who]:
                MISMATCHES.append(f"{name}: {who}'s result differs from gradc's")
                print(f"!!! MISMATCH in {name}: {who} differs from gradc", file=sys.stderr, flush=True)
        times = measure(calls, budget, min_rounds)
        rounds = times.pop("_rounds")
        base = times.get("gradc.grad", times.get("primal"))
        base_name = "gradc.grad" if "gradc.grad" in times else "primal"
        row = {"title": H.TITLES[name], "rounds": rounds, "contenders": {}}
        print(f"    {'contender':<11} {'median':>11} {'/ gradc':>8} {'/ ' + base_name:>12}  check")
        for who, t in times.items():
            row["contenders"][who] = {"median_s": t, "ratio_gradc": t / times["gradc"],
                                      f"ratio_{base_name}": t / base if base else None, "ok": ok.get(who)}
            check = "ok" if ok.get(who) else ("" if who in ("primal", "gradc.grad") else "MISMATCH")
            ratio_base = f"{t / base:12.2f}" if base else " " * 12
            print(f"    {who:<11} {fmt_time(t):>11} {t / times['gradc']:8.2f} {ratio_base}  {check}")
        rows[name] = row
    return rows


# ---------------------------------------------------------------------------------------------
# Compile time and call overhead
# ---------------------------------------------------------------------------------------------
COMPILE_PROGRAM = """
import gc, importlib, statistics, sys, time
from pathlib import Path
sys.path[:0] = [{tmp!r}, {here!r}, {root!r}]
import gradc, workloads
times = []
for k in range({repeats}):
    name = "_gradc_bench_chain_{n}_%d" % k
    Path({tmp!r}, name + ".py").write_text("import math\\n\\n\\n" + workloads.chain_source({n}, "chain", False))
    module = importlib.import_module(name)
    gc.collect()
    start = time.perf_counter()
    g = gradc.grad(module.chain, wrt=(0, 1, 2))
    g(0.3, -0.8, 1.1)
    times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def compile_times(sizes, repeats, limit) -> list:
    """Time of `gradc.grad(f)` plus the first call (parse, lower, reverse, optimize, emit,
    compile, run once) for generated straight-line scalar chains of n statements, each size
    in a fresh process (gradc and NumPy already imported when the clock starts), cut off
    after `limit` seconds."""
    import subprocess
    rows = []
    print(f"\ncompile time: gradc.grad(f) + first call, straight-line scalar chain of n statements"
          f" (median of {repeats} for n <= 1000, fresh process per size)")
    print(f"    {'n':>6} {'median':>11} {'ms / 100 stmts':>15}")
    env = dict(os.environ)
    env.pop("GRADC_CACHE_DIR", None)
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            code = COMPILE_PROGRAM.format(tmp=tmp, here=str(HERE), root=str(HERE.parent), n=n,
                                          repeats=repeats if n <= 1000 else 1)
            try:
                done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                      timeout=limit)
            except subprocess.TimeoutExpired:
                rows.append({"statements": n, "seconds": None, "over_limit_s": limit})
                print(f"    {n:>6}  over the {limit:.0f} s limit (> {limit * 1e3 / n * 100:.0f} ms per 100)",
                      flush=True)
                continue
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["?"])[-1]
            rows.append({"statements": n, "seconds": None, "error": tail})
            print(f"    {n:>6}  FAILED: {tail}", flush=True)
            continue
        t = float(done.stdout.split()[-1])
        rows.append({"statements": n, "seconds": t, "ms_per_100": t * 1e3 / n * 100})
        print(f"    {n:>6} {fmt_time(t):>11} {t * 1e3 / n * 100:15.2f}", flush=True)
    timed = [r for r in rows if r.get("seconds")]
    if len(timed) > 1:
        growth = timed[-1]["ms_per_100"] / timed[0]["ms_per_100"]
        print(f"    ms per 100 statements at n={timed[-1]['statements']} / at n={timed[0]['statements']}:"
              f" {growth:.2f} (1.0 = linear)")
    return rows


def tiny(x, y):
    return x * y + x


def tiny_sum(x, y):
    return np.sum(x * y + x)


def call_overhead(quick) -> dict:
    """Per-call time of a GradFunction minus that of the raw generated function it calls."""
    print("\nper-call overhead of a GradFunction over its raw generated function"
          " (x * y + x of floats; np.sum(x * y + x) of arrays of 4)")
    out = {}
    for label, f, args in (("floats", tiny, (0.5, 2.0)), ("arrays(4)", tiny_sum, (np.ones(4), np.full(4, 2.0)))):
        g = gradc.grad(f, wrt=0)
        g(*args)
        raw = g._function_for(g._signature(args, {}))
        inner, rounds = (2000, 7) if quick else (20000, 21)
        t = measure({"gradfunction": lambda: g(*args), "raw": lambda: raw(*args)}, 0.0, rounds,
                    sample_s=inner * 1e-6)
        over = t["gradfunction"] - t["raw"]
        out[label] = {"gradfunction_us": t["gradfunction"] * 1e6, "raw_us": t["raw"] * 1e6, "overhead_us": over * 1e6}
        print(f"    {label:<10} GradFunction {t['gradfunction'] * 1e6:7.2f} µs   raw {t['raw'] * 1e6:7.2f} µs"
              f"   overhead {over * 1e6:6.2f} µs", flush=True)
    return out


# ---------------------------------------------------------------------------------------------
def summary(rows: dict) -> dict:
    print("\nsummary (ratios of medians; > 1 in a 'peer / gradc' column means gradc is faster)")
    peers = [p for p in ("autograd", "jax", "jax.jit", "torch") if any(p in r["contenders"] for r in rows.values())]
    head = f"    {'workload':<11} {'gradc/hand':>10} {'mem g/h':>8}" + "".join(f" {p + '/gradc':>14}" for p in peers)
    print(head)
    ratios = []
    for name, r in rows.items():
        c = r["contenders"]
        gh = c["gradc"]["ratio_hand"]
        ratios.append(gh)
        cells = "".join(f" {c[p]['median_s'] / c['gradc']['median_s']:14.2f}" if p in c else f" {'-':>14}"
                        for p in peers)
        print(f"    {name:<11} {gh:10.3f} {r['memory']['ratio']:8.2f}{cells}")
    geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
    print(f"    geometric mean of gradc/hand over {len(ratios)} workload(s): {geo:.3f}")
    return {"geomean_gradc_over_hand": geo}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=[w.name for w in W.WORKLOADS], help="run one workload")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument("--higher", action="store_true",
                        help="run only the higher-order and forward-mode workloads (benchmarks/higher_order.py)")
    parser.add_argument("--json", metavar="PATH", help="write the table as JSON")
    parser.add_argument("--budget", type=float, default=None, help="seconds of timing per workload (default 2)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for BLAS/OpenMP/XLA/torch (default 1; 0 leaves the libraries' defaults)")
    parser.add_argument("--compile-limit", type=float, default=300.0,
                        help="seconds allowed to one compile-time measurement before it is reported as over")
    opts = parser.parse_args(argv)
    budget = opts.budget if opts.budget is not None else (0.2 if opts.quick else 2.0)
    min_rounds = 3 if opts.quick else 7

    info = machine_info()
    print("gradc benchmark suite: benchmarks/run.py" + (" --quick" if opts.quick else ""))
    for key, value in info.items():
        if value is not None:
            print(f"  {key:<14} {value}")
    missing = [p for p, m in (("autograd", autograd), ("jax", jax), ("torch", torch)) if m is None]
    if missing:
        print(f"  skipped peers  {', '.join(missing)} (not installed: pip install '.[bench]')")

    if opts.higher:
        report = {"machine": info, "higher_order": run_higher(budget, min_rounds), "mismatches": MISMATCHES}
        if opts.json:
            Path(opts.json).write_text(json.dumps(report, indent=2, default=str))
        return 1 if MISMATCHES else 0
    chosen = [W.BY_NAME[opts.only]] if opts.only else W.WORKLOADS
    rows = {w.name: run_workload(w, budget, min_rounds) for w in chosen}
    report = {"machine": info, "workloads": rows}
    report.update(summary(rows))
    if not opts.only:
        report["higher_order"] = run_higher(budget, min_rounds)
        sizes = (100, 1000) if opts.quick else (100, 1000, 10000)
        report["compile"] = compile_times(sizes, 1 if opts.quick else 3, opts.compile_limit)
        report["overhead"] = call_overhead(opts.quick)
    report["mismatches"] = MISMATCHES
    if MISMATCHES:
        print("\n" + "!" * 100)
        for m in MISMATCHES:
            print(f"!!! {m}")
        print("!" * 100)
    if opts.json:
        Path(opts.json).write_text(json.dumps(report, indent=2, default=str))
        print(f"\nwrote {opts.json}")
    return 1 if MISMATCHES else 0


if __name__ == "__main__":
    sys.exit(main())
