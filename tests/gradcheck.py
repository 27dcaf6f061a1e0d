"""Test helpers: central finite differences in float64, and autograd as a second oracle.

`assert_gradients(f, args, wrt)` compiles `gradc.grad(f, wrt=wrt)`, then checks the
result against central differences on every element and, when autograd can run the
same function with `np` rebound to `autograd.numpy`, against autograd.
"""
from __future__ import annotations

import types

import numpy as np

import gradc

try:
    import autograd
    import autograd.numpy as anp
except ImportError:  # autograd is an optional oracle
    autograd = anp = None


def import_source(tmp_path, name, source):
    """Write `source` to `<tmp_path>/<name>.py` and import it (gradc reads functions' source files)."""
    import importlib.util
    import sys
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def numeric_gradient(f, args, index, eps=1e-6):
    """Central differences of scalar `f(*args)` with respect to `args[index]` (float64)."""
    args = list(args)
    x = args[index]
    flat = np.array(x, dtype=np.float64).ravel()
    out = np.empty_like(flat)
    for k in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[k] += eps
        down[k] -= eps
        if isinstance(x, np.ndarray):
            args[index] = up.reshape(np.shape(x))
            f_up = float(f(*args))
            args[index] = down.reshape(np.shape(x))
            f_down = float(f(*args))
        else:
            args[index] = float(up[0])
            f_up = float(f(*args))
            args[index] = float(down[0])
            f_down = float(f(*args))
        out[k] = (f_up - f_down) / (2 * eps)
    args[index] = x
    return out.reshape(np.shape(x)) if isinstance(x, np.ndarray) else float(out[0])


def autograd_version(f):
    """`f` with `np` bound to autograd.numpy, or None when autograd is not installed."""
    if autograd is None:
        return None
    namespace = dict(f.__globals__)
    namespace["np"] = anp
    return types.FunctionType(f.__code__, namespace, f.__name__, f.__defaults__, f.__closure__)


def assert_gradients(f, args, wrt=0, rtol=1e-5, atol=1e-7, use_autograd=True):
    """gradc's gradient of `f` at `args` equals finite differences (and autograd when it runs)."""
    indices = wrt if isinstance(wrt, tuple) else (wrt,)
    ours = gradc.grad(f, wrt=indices)(*args)
    assert isinstance(ours, tuple) and len(ours) == len(indices)
    for index, grad in zip(indices, ours):
        x = args[index]
        if isinstance(x, np.ndarray):
            assert isinstance(grad, np.ndarray), f"gradient of argument {index} is {type(grad)}, not ndarray"
            assert grad.shape == x.shape and grad.dtype == x.dtype, (grad.shape, grad.dtype, x.shape, x.dtype)
        else:
            assert isinstance(grad, float), f"gradient of a float argument is {type(grad)}"
        expected = numeric_gradient(f, args, index)
        np.testing.assert_allclose(grad, expected, rtol=rtol, atol=max(atol, 1e-6),
                                   err_msg=f"finite differences, argument {index}")
    if use_autograd:
        oracle = autograd_version(f)
        if oracle is not None:
            try:
                theirs = autograd.grad(oracle, argnum=indices)(*args)
            except Exception:  # autograd does not support this function: finite differences decided
                return ours
            for grad, expected in zip(ours, theirs):
                np.testing.assert_allclose(grad, expected, rtol=1e-7, atol=1e-10, err_msg="autograd")
    return ours


import os as _os

import pytest as _pytest

#: For tests of the generated text: skipped in the stress run (`GRADC_REUSE_MIN_ELEMENTS=1`, see
#: .ci/run), where every array, however small, is updated in place and the code reads differently.
default_build_only = _pytest.mark.skipif(bool(_os.environ.get("GRADC_REUSE_MIN_ELEMENTS")),
                                         reason="checks the code the default build generates")

#: For tests of what a debugger or traceback shows of the compiled code: skipped when the buffer
#: checker (`GRADC_VERIFY=1`, see .ci/run) compiles the instrumented twin of every gradient.
clean_build_only = _pytest.mark.skipif(_os.environ.get("GRADC_VERIFY", "") not in ("", "0"),
                                       reason="checks the code compiled without the buffer checker")
