"""Gradients on the GPU with CuPy arrays: the array API programs of test_array_api.py, called with CuPy
arrays, give CuPy gradients (computed on the device) equal to the NumPy ones.

Skipped without CuPy or without a CUDA device. To run them on a machine with a GPU:

    pip install cupy-cuda12x ".[test,array-api]"   # (cupy-cuda11x for CUDA 11)
    python3 -m pytest tests/test_cupy.py
"""
import numpy as np
import pytest

cp = pytest.importorskip("cupy", reason="CuPy is not installed (pip install cupy-cuda12x)")
try:
    _DEVICES = cp.cuda.runtime.getDeviceCount()
except Exception:  # noqa: BLE001 - no driver, no runtime: no device
    _DEVICES = 0
if not _DEVICES:
    pytest.skip("no CUDA device", allow_module_level=True)
pytest.importorskip("array_api_compat", reason="the array-api extra is not installed (pip install -e '.[array-api]')")

import gradc  # noqa: E402
from gradc import GradcError  # noqa: E402

import test_array_api as programs  # noqa: E402


def _on_device(value):
    if isinstance(value, np.ndarray):
        return cp.asarray(value)
    if isinstance(value, list):
        return [tuple(_on_device(v) for v in item) if isinstance(item, tuple) else _on_device(item) for item in value]
    return value


@pytest.mark.parametrize("program", programs.PROGRAMS, ids=programs.IDS)
def test_cupy_gradient_equals_numpy(program):
    f, make, wrt = program
    args = make()
    g = gradc.grad(f, wrt=wrt)
    expected = g(*args)
    device_args = [_on_device(a) for a in args]
    got = g(*device_args)
    got, expected = (got, expected) if isinstance(got, tuple) else ((got,), (expected,))
    for a, b, i in zip(got, expected, wrt):
        if isinstance(args[i], float):
            assert isinstance(a, float)
            assert a == pytest.approx(b, rel=1e-10)
        else:
            assert isinstance(a, cp.ndarray) and a.dtype == device_args[i].dtype
            np.testing.assert_allclose(cp.asnumpy(a), b, rtol=1e-9, atol=1e-12)
    assert "xp = array_namespace(" in g.source_for(*device_args)


def test_cupy_hvp_and_value_and_grad():
    f, make, wrt = programs.PROGRAMS[0]
    args = make()
    v = programs._rand(*args[0].shape, seed=5)
    device_args = [_on_device(a) for a in args]
    np.testing.assert_allclose(cp.asnumpy(gradc.hvp(f)(*device_args, cp.asarray(v))), gradc.hvp(f)(*args, v),
                               rtol=1e-9, atol=1e-12)
    value, _ = gradc.value_and_grad(f, wrt=wrt)(*device_args)
    assert float(value) == pytest.approx(float(f(*args)), rel=1e-12)


def test_cupy_and_numpy_arrays_do_not_mix():
    f, make, wrt = programs.PROGRAMS[0]
    args = make()
    with pytest.raises(GradcError, match="mix arrays of two libraries"):
        gradc.grad(f, wrt=wrt)(cp.asarray(args[0]), *args[1:])
