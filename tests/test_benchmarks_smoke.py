"""The benchmark's references are right: every hand-written gradient in benchmarks/workloads.py
matches central finite differences on small inputs, gradc's gradient matches it, and (where
the peers are installed) so do autograd's, JAX's and PyTorch's versions of the same workload."""
import sys
from pathlib import Path

import numpy as np
import pytest

import gradc
from gradcheck import numeric_gradient

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import workloads  # noqa: E402

NAMES = [w.name for w in workloads.WORKLOADS]


def _close(ours, reference, what):
    assert len(ours) == len(reference), what
    for k, (a, b) in enumerate(zip(ours, reference)):
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                                   rtol=1e-6, atol=1e-9, err_msg=f"{what}, gradient {k}")


def test_eight_workloads():
    assert [w.number for w in workloads.WORKLOADS] == list(range(1, 9))


@pytest.mark.parametrize("name", NAMES)
def test_hand_written_matches_finite_differences(name):
    w = workloads.BY_NAME[name]
    args = w.build(small=True)
    hand = w.hand(*args)
    assert isinstance(hand, tuple) and len(hand) == len(w.wrt)
    for index, grad in zip(w.wrt, hand):
        expected = numeric_gradient(w.f, args, index)
        assert np.shape(grad) == np.shape(args[index])
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name}: hand-written gradient of argument {index}")


@pytest.mark.parametrize("name", NAMES)
def test_gradc_matches_hand_written(name):
    w = workloads.BY_NAME[name]
    args = w.build(small=True)
    _close(gradc.grad(w.f, wrt=w.wrt)(*args), w.hand(*args), f"{name}: gradc")


def test_chain_module_is_generated():
    assert (BENCHMARKS / "_chain200.py").read_text() == workloads.chain_module_text(), \
        "benchmarks/_chain200.py is stale: run `python benchmarks/workloads.py`"
    assert workloads.chain_source(200, "chain200", with_gradient=False).count("\n    v") == 200


@pytest.mark.parametrize("name", NAMES)
def test_autograd_version(name):
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    w = workloads.BY_NAME[name]
    args = w.build(small=True)
    _close(autograd.grad(w.peer(anp), argnum=w.wrt)(*args), w.hand(*args), f"{name}: autograd")


@pytest.mark.parametrize("name", NAMES)
def test_jax_version(name):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    w = workloads.BY_NAME[name]
    args = w.build(small=True)
    _close(jax.grad(w.peer(jnp), argnums=w.wrt)(*args), w.hand(*args), f"{name}: jax")


@pytest.mark.parametrize("name", NAMES)
def test_torch_version(name):
    torch = pytest.importorskip("torch")
    w = workloads.BY_NAME[name]
    args = w.build(small=True)
    targs = [torch.tensor(a, dtype=torch.float64, requires_grad=i in w.wrt)
             if isinstance(a, np.ndarray) or i in w.wrt else a for i, a in enumerate(args)]
    out = w.torch_version()(*targs)
    grads = torch.autograd.grad(out, [targs[i] for i in w.wrt])
    _close([g.numpy() for g in grads], w.hand(*args), f"{name}: torch")
