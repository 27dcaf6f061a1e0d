"""The opt-in on-disk cache: reuse across processes, keys, integrity, atomicity, privacy."""
import json
import multiprocessing
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import gradc
import gradc.api as api
from gradc.backend import cache as disk_cache
from gradc.rules.registry import REGISTRY

ROOT = Path(__file__).resolve().parent.parent

MODEL = '''
import numpy as np

SCALE = 2.0


def loss(W, x):
    h = np.tanh(x @ W)
    return SCALE * np.sum(h * h)
'''

# Run in a fresh process: compile (or load) `model.loss`'s gradient, report whether the pipeline ran.
PROBE = '''
import json, sys
import numpy as np
import gradc, gradc.api as api
import model
ran = []
original = api.compile_gradient
api.compile_gradient = lambda *a, **k: (ran.append(1), original(*a, **k))[1]
W, x = np.full((3, 2), 0.1), np.arange(3.0)
g = gradc.grad(model.loss)(W, x)
print(json.dumps({"compiled": len(ran), "g": g.tolist()}))
'''


def _env(cache_dir: Path, path: Path) -> dict:
    return {**os.environ, "GRADC_CACHE_DIR": str(cache_dir), "PYTHONPATH": f"{path}{os.pathsep}{ROOT}"}


def _probe(cache_dir: Path, path: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=path,
                            env=_env(cache_dir, path), timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("*.json"))


@pytest.fixture
def model_dir(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    return tmp_path


@pytest.fixture(autouse=True)
def _fresh_memory_cache(monkeypatch):
    monkeypatch.delenv("GRADC_CACHE_DIR", raising=False)
    api.clear_cache()
    yield
    api.clear_cache()


def test_a_new_process_reuses_the_entry_without_compiling(model_dir):
    cache_dir = model_dir / "cache"
    first = _probe(cache_dir, model_dir)
    second = _probe(cache_dir, model_dir)
    assert first["compiled"] == 1 and second["compiled"] == 0
    assert np.allclose(first["g"], second["g"])
    assert len(_entries(cache_dir)) == 1


def test_directory_is_private_and_entry_is_symbolic(model_dir):
    cache_dir = model_dir / "cache"
    _probe(cache_dir, model_dir)
    for folder in [cache_dir, *[p for p in cache_dir.rglob("*") if p.is_dir()]]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    entry = json.loads(_entries(cache_dir)[0].read_text())
    bindings = entry["payload"]["bindings"]
    checker = ("check_table" in b or b.get("module") == "gradc.backend.check" for b in bindings.values())
    assert all(c or (b["module"] == "gradc.runtime" and "qualname" in b) for b, c in zip(bindings.values(), checker))
    assert len(entry["sha256"]) == 64
    assert not list(cache_dir.rglob(".tmp-*"))  # no temporary file left behind


@pytest.mark.parametrize("damage", ["truncate", "edit"])
def test_damaged_entry_is_detected_regenerated_and_never_executed(model_dir, damage):
    cache_dir = model_dir / "cache"
    _probe(cache_dir, model_dir)
    path = _entries(cache_dir)[0]
    text = path.read_text()
    if damage == "truncate":
        path.write_text(text[: len(text) // 2])
    else:  # valid JSON, stale hash, a payload that would leave a mark if it ran
        entry = json.loads(text)
        marker = model_dir / "executed"
        entry["payload"]["module_source"] = f"open({str(marker)!r}, 'w').close()\n" + \
            entry["payload"]["module_source"]
        path.write_text(json.dumps(entry))
    again = _probe(cache_dir, model_dir)
    assert again["compiled"] == 1
    assert not (model_dir / "executed").exists()
    assert disk_cache._read(path) is not None  # rewritten whole
    assert _probe(cache_dir, model_dir)["compiled"] == 0


def test_key_follows_source_globals_and_options(model_dir):
    cache_dir = model_dir / "cache"
    _probe(cache_dir, model_dir)
    (model_dir / "model.py").write_text(MODEL.replace("SCALE = 2.0", "SCALE = 3.0"))
    changed_constant = _probe(cache_dir, model_dir)
    assert changed_constant["compiled"] == 1
    (model_dir / "model.py").write_text(MODEL.replace("h * h", "h * h * h"))
    assert _probe(cache_dir, model_dir)["compiled"] == 1
    assert len(_entries(cache_dir)) == 3


def _import(path: Path, name: str, text: str):
    import importlib.util
    file = path / f"{name}.py"
    file.write_text(textwrap.dedent(text))
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_options_give_separate_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADC_CACHE_DIR", str(tmp_path / "cache"))
    module = _import(tmp_path, "gradc_dc_options", MODEL)
    W, x = np.full((3, 2), 0.1), np.arange(3.0)
    gradc.grad(module.loss, wrt=0)(W, x)
    gradc.grad(module.loss, wrt=(0, 1))(W, x)
    gradc.grad(module.loss, wrt=0, optimize=False)(W, x)
    assert len(_entries(tmp_path / "cache")) == 3


def test_helper_function_source_is_part_of_the_key(tmp_path):
    text = '''
    import numpy as np
    def helper(z):
        return z * z
    def f(x):
        return np.sum(helper(x))
    '''
    first = _import(tmp_path, "gradc_dc_helper_a", text)
    second = _import(tmp_path, "gradc_dc_helper_b", text.replace("return z * z", "return z * z * z"))
    key_a, key_b = disk_cache.function_key(first.f), disk_cache.function_key(second.f)
    assert key_a and key_b and key_a != key_b


def test_undescribable_global_keeps_the_function_out(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADC_CACHE_DIR", str(tmp_path / "cache"))
    module = _import(tmp_path, "gradc_dc_opaque", '''
    import numpy as np
    class Config:
        scale = 2.0
    CONFIG = Config()
    def f(x):
        return np.sum(x) * CONFIG.scale
    ''')
    assert disk_cache.function_key(module.f) is None
    assert gradc.grad(module.f)(np.ones(2)).tolist() == [2.0, 2.0]
    assert not _entries(tmp_path / "cache")


def test_defvjp_changes_the_key(tmp_path):
    module = _import(tmp_path, "gradc_dc_rule", '''
    import numpy as np
    def cube(x):
        return x ** 3
    def f(x):
        return np.sum(np.sin(x))
    ''')
    before = disk_cache.function_key(module.f)

    @gradc.defvjp(module.cube)
    def cube_vjp(g, ans, x):
        return 3 * g * x * x

    try:
        after = disk_cache.function_key(module.f)
        assert after is not None and after != before
    finally:
        del REGISTRY[module.cube]
    assert disk_cache.function_key(module.f) == before


def test_cache_false_overrides_the_environment_and_cache_true_uses_xdg(tmp_path, monkeypatch):
    module = _import(tmp_path, "gradc_dc_switch", MODEL)
    W, x = np.full((3, 2), 0.1), np.arange(3.0)
    monkeypatch.setenv("GRADC_CACHE_DIR", str(tmp_path / "env"))
    gradc.grad(module.loss, cache=False)(W, x)
    assert not (tmp_path / "env").exists()
    monkeypatch.delenv("GRADC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    api.clear_cache()
    gradc.grad(module.loss, cache=True)(W, x)
    assert len(_entries(tmp_path / "xdg" / "gradc")) == 1


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_directory_others_can_write_is_not_used(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("GRADC_CACHE_DIR", str(shared))
    module = _import(tmp_path, "gradc_dc_shared", MODEL)
    with pytest.warns(RuntimeWarning, match="not private"):
        gradc.grad(module.loss)(np.full((3, 2), 0.1), np.arange(3.0))
    assert not _entries(shared)


def _compile_in_child(args):
    """A worker process: wait for the others, then compile model.loss into the shared directory."""
    path, cache_dir, barrier = args
    sys.path.insert(0, path)
    os.environ["GRADC_CACHE_DIR"] = cache_dir
    import model  # noqa: F401  (in the child's fresh interpreter)
    barrier.wait()
    return gradc.grad(model.loss)(np.full((3, 2), 0.1), np.arange(3.0)).tolist()


def test_concurrent_processes_leave_one_valid_entry(model_dir):
    cache_dir = model_dir / "cache"
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(4)
        with context.Pool(4) as pool:
            results = pool.map(_compile_in_child, [(str(model_dir), str(cache_dir), barrier)] * 4)
    assert all(np.allclose(r, results[0]) for r in results)
    entries = _entries(cache_dir)
    assert len(entries) == 1 and disk_cache._read(entries[0]) is not None
    assert not list(cache_dir.rglob(".tmp-*"))
    fresh = _probe(cache_dir, model_dir)
    assert fresh["compiled"] == 0 and np.allclose(fresh["g"], results[0])
