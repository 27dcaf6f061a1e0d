"""What the training examples share: their command line, the extras they need, the digits data,
a progress bar and where their pictures go. The training itself (models, losses, optimizers) is
plain NumPy written in each example; gradc supplies every gradient.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from pathlib import Path
from typing import Any, Iterable

import numpy as np

__all__ = ["require", "arguments", "digits", "one_hot", "progress", "figure_path", "pyplot", "one_blas_thread",
           "OUT"]

OUT = Path(__file__).resolve().parent / "out"  # where the pictures go unless --out says otherwise
_EXTRA = {"sklearn": "scikit-learn", "matplotlib": "matplotlib", "tqdm": "tqdm"}


def require(*modules: str) -> list[Any]:
    """Import `modules`, or stop with a message naming the extra that provides them."""
    found, missing = [], []
    for name in modules:
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            missing.append(_EXTRA.get(name.split(".")[0], name))
    if missing:
        sys.exit(f"this example needs the `examples` extra (missing: {', '.join(missing)}):\n"
                 f"    python3 -m pip install '.[examples]'")
    return found


def arguments(description: str, argv: list[str] | None = None, **options: Any) -> argparse.Namespace:
    """The examples' command line: --quick (a few seconds), --out DIR, --seed, and `options`
    (name=(type, default, help))."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a few seconds: small data, few steps")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for the pictures (default {OUT})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    for name, (kind, default, text) in options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, help=text)
    return parser.parse_args(argv)


def digits(seed: int = 0, validation: float = 0.15, test: float = 0.15) -> tuple[np.ndarray, ...]:
    """scikit-learn's bundled 8x8 digits (1,797 images, nothing downloaded), split into train,
    validation and test sets (stratified), pixels scaled to [0, 1]: x_train, y_train, x_val, y_val,
    x_test, y_test, labels as integers."""
    datasets, model_selection = require("sklearn.datasets", "sklearn.model_selection")
    data = datasets.load_digits()
    x, y = data.data.astype(np.float64) / 16.0, data.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = model_selection.train_test_split(
        x, y, test_size=test, random_state=seed, stratify=y)
    x_train, x_val, y_train, y_val = model_selection.train_test_split(
        x_rest, y_rest, test_size=validation / (1 - test), random_state=seed, stratify=y_rest)
    return x_train, y_train, x_val, y_val, x_test, y_test


def one_hot(labels: np.ndarray, classes: int = 10) -> np.ndarray:
    return np.eye(classes)[labels]


def progress(iterable: Iterable, **options: Any):
    """A tqdm progress bar over `iterable` (`options` as tqdm takes them)."""
    (tqdm,) = require("tqdm")
    return tqdm.tqdm(iterable, **options)


def figure_path(out: Path, name: str) -> Path:
    """`out/name`, the folder made if missing."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return out / name


def pyplot():
    """matplotlib's pyplot, drawing to files (no display needed)."""
    (matplotlib,) = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def one_blas_thread():
    """A context in which BLAS uses one thread (threadpoolctl comes with scikit-learn; without it,
    nothing changes): the examples' matrices are small, and on a busy two-core machine OpenBLAS's
    spinning threads made each step up to 20 times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
