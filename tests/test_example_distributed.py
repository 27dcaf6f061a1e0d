"""examples/distributed.py: data-parallel SGD on a LocalCluster (two worker processes); the loss
falls, the gradients computed on the cluster equal NumPy's on the same batch, the picture is written,
the numbers are printed, and the cluster is closed afterwards."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _without_examples(path: list) -> list:
    """`path` with examples/ last: there, distributed.py would stand for the `distributed` package (other
    test modules put examples/ first; worker processes start with this process's path)."""
    return [p for p in path if Path(p or ".").resolve() != EXAMPLES] + [str(EXAMPLES)]


sys.path[:] = _without_examples(sys.path)
pytest.importorskip("dask.distributed")
pytest.importorskip("matplotlib")
psutil = pytest.importorskip("psutil")


def _load_example():
    """examples/distributed.py under another module name: `distributed` is the package's."""
    spec = importlib.util.spec_from_file_location("distributed_example", EXAMPLES / "distributed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


distributed_example = _load_example()


def workers():
    """This process's children but multiprocessing's resource tracker (started once, kept by design)."""
    return {p.pid for p in psutil.Process().children(recursive=True)
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
            and not any("resource_tracker" in part for part in p.cmdline())}


def test_quick_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "path", _without_examples(sys.path))  # (tests run after this module put it first)
    before = workers()
    results = distributed_example.main(["--quick", "--out", str(tmp_path)])
    printed = capsys.readouterr().out

    for model, result in results["models"].items():
        steps, validation = result["steps"], result["validation"]
        assert validation[-1] < validation[0] - 0.05, model
        assert np.mean(steps[-5:]) < np.mean(steps[:5]), model
        assert result["cluster_grads"].keys() == result["numpy_grads"].keys()
        for name, expected in result["numpy_grads"].items():
            np.testing.assert_allclose(result["cluster_grads"][name], expected, rtol=1e-10, atol=1e-15)
    assert (tmp_path / "distributed.png").stat().st_size > 10_000
    for text in ("cluster: 2 workers", "memory limit per worker 400 MB", "dashboard http", "dataset:",
                 "epoch 3: training loss", "peak worker memory", "time per step", "Dask, persisted", "NumPy",
                 "saved"):
        assert text in printed, text
    assert 0 < results["peak_worker_memory"] < results["memory_limit"]

    assert not workers() - before, "worker processes left running"
