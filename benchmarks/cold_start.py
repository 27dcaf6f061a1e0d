"""Cold-process time to obtain the MLP gradient, with and without the on-disk cache.

Each run is a fresh `python -c` that imports gradc and examples/mlp.py and calls the gradient
of `loss` with respect to W1, b1, W2, b2 once; the wall time of the whole process is measured,
and the median of several runs reported. "without" runs with the disk cache off; "with" runs
after one process has filled a fresh cache directory (GRADC_CACHE_DIR), so every timed run
loads the generated source instead of parsing and transforming. "import only" is the floor:
the same process without the gradient call.

    python benchmarks/cold_start.py [--runs 15]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
import sys
sys.path.insert(0, {examples!r})
import time
import numpy as np
import gradc
start = time.perf_counter()
import mlp  # creates mlp.dloss = gradc.grad(loss, wrt=(0, 1, 2, 3))
rng = np.random.default_rng(0)
W1, b1, W2, b2 = mlp.init(rng, n_in=20, n_hidden=32, n_out=3)
x, y = rng.standard_normal((8, 20)), np.eye(3)[rng.integers(0, 3, 8)]
{call}
print(time.perf_counter() - start)
"""
CALL = "grads = mlp.dloss(W1, b1, W2, b2, x, y)"


def _time(code: str, env: dict) -> tuple[float, float]:
    """(whole process, import of mlp + first gradient call inside it), in seconds."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, float(result.stdout.split()[-1])


def _median(code: str, env: dict, runs: int) -> tuple[float, float]:
    times = [_time(code, env) for _ in range(runs)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    examples = str(ROOT / "examples")
    base = {k: v for k, v in os.environ.items() if k != "GRADC_CACHE_DIR"}
    base["PYTHONPATH"] = str(ROOT)
    call, no_call = PROGRAM.format(examples=examples, call=CALL), PROGRAM.format(examples=examples, call="")
    with tempfile.TemporaryDirectory() as folder:
        cached = {**base, "GRADC_CACHE_DIR": os.path.join(folder, "cache")}
        _time(call, cached)  # fill the cache
        _time(call, base)  # warm the OS file cache for both
        results = {
            "import only (floor)": _median(no_call, base, runs),
            "without disk cache": _median(call, base, runs),
            "with disk cache": _median(call, cached, runs),
        }
    print(f"Python {sys.version.split()[0]}, median of {runs} fresh processes")
    print(f"  {'':<22} {'process':>9} {'import mlp + first gradient':>29}")
    for label, (process, inside) in results.items():
        print(f"  {label:<22} {process * 1000:6.1f} ms {inside * 1000:26.1f} ms")


if __name__ == "__main__":
    main()
