"""Higher-order and forward-mode workloads for benchmarks/run.py (`--higher` runs only these).

1. hvp   Hessian-vector product of the 784-256-10 MLP loss (batch 128), with respect to W1:
         gradc.hvp (forward over reverse, one generated function) against autograd's
         hessian_vector_product, jax.jit(jvp of grad), torch.func.jvp of torch.func.grad; the gradient's own time is
         timed beside it (the cheap-gradient bound: an hvp costs at most about 4 gradients).
2. hessian  The full Hessian of a 10-dimensional Rosenbrock function: gradc.hessian (10 hvps)
         against autograd.hessian, jax.jit(jax.hessian), torch.autograd.functional.hessian.
3. jacobian  The Jacobian of a function of 5 inputs with 500 outputs: gradc.jacobian (forward:
         5 jvps) against autograd.jacobian, jax.jit(jax.jacfwd), torch.func.jacfwd.
4. jvp   A JVP of the RNN (T=50, hidden 64) along a tangent of Whh, against the primal's own time
         (target: at most 2x), autograd's make_jvp, jax.jit(jax.jvp), torch.func.jvp.
Every contender's result is checked against gradc's before timing (a mismatch fails the run).
"""
from __future__ import annotations

import numpy as np

import gradc
import workloads as W


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def fan_out(x):
    """5 inputs, 500 outputs: smooth functions of every input at 100 frequencies."""
    k = np.linspace(0.1, 3.0, 100)
    return np.concatenate([np.sin(k * x[0]) * x[1], np.cos(k * x[1]) + x[2] * k, np.tanh(k * x[3] - x[4]),
                           np.exp(-k * x[0] * x[0]) * x[3], x[4] * x[2] * k])


def build_hvp():
    args = W.mlp_build()
    v = np.random.default_rng(11).standard_normal(args[0].shape) / 30.0
    return args, v


def build_hessian():
    return (np.linspace(-1.0, 1.5, 10),)


def build_jacobian():
    return (np.array([0.3, -0.7, 1.1, 0.4, -0.2]),)


def build_jvp():
    args = W.rnn_build()
    v = np.random.default_rng(12).standard_normal(args[1].shape) * 0.05
    return args, v


def contenders(name, peers):
    """{who: zero-argument callable} and the reference (gradc's) result for one workload."""
    autograd, anp, jax, jnp, torch = peers
    out = {}
    if name == "hvp":
        args, v = build_hvp()
        product, gradient = gradc.hvp(W.mlp, wrt=0), gradc.grad(W.mlp, wrt=0)
        out["gradc.grad"] = lambda: gradient(*args)
        out["gradc"] = lambda: product(*args, v)
        if autograd is not None:
            from autograd import hessian_vector_product
            ag = hessian_vector_product(W.rebind(W.mlp, np=anp), argnum=0)
            out["autograd"] = lambda: ag(*args, v)
        if jax is not None:
            f = W.rebind(W.mlp, np=jnp)
            jargs, jv = tuple(jnp.asarray(a) for a in args), jnp.asarray(v)
            hv = jax.jit(lambda *a: jax.jvp(lambda w: jax.grad(f)(w, *a[1:-1]), (a[0],), (a[-1],))[1])
            out["jax.jit"] = lambda: jax.block_until_ready(hv(*jargs, jv))
        if torch is not None:
            from torch.func import grad as torch_grad, jvp as torch_jvp  # (torch.func's hvp recipe)
            targs = tuple(torch.tensor(a) for a in args)
            tv = torch.tensor(v)
            gradient_of = torch_grad(lambda w: W.mlp_torch(w, *targs[1:]))
            out["torch"] = lambda: torch_jvp(gradient_of, (targs[0],), (tv,))[1]
        return out, lambda: product(*args, v)
    if name == "hessian":
        (x,) = build_hessian()
        hess = gradc.hessian(rosenbrock)
        out["gradc"] = lambda: hess(x)
        if autograd is not None:
            ah = autograd.hessian(W.rebind(rosenbrock, np=anp))
            out["autograd"] = lambda: ah(x)
        if jax is not None:
            jh = jax.jit(jax.hessian(W.rebind(rosenbrock, np=jnp)))
            jx = jnp.asarray(x)
            out["jax.jit"] = lambda: jax.block_until_ready(jh(jx))
        if torch is not None:
            tx = torch.tensor(x)
            out["torch"] = lambda: torch.autograd.functional.hessian(W.rebind(rosenbrock, np=torch), tx)
        return out, lambda: hess(x)
    if name == "jacobian":
        (x,) = build_jacobian()
        jac = gradc.jacobian(fan_out)
        out["gradc"] = lambda: jac(x)
        out["primal"] = lambda: fan_out(x)
        if autograd is not None:
            aj = autograd.jacobian(W.rebind(fan_out, np=anp))
            out["autograd"] = lambda: aj(x)
        if jax is not None:
            jj = jax.jit(jax.jacfwd(W.rebind(fan_out, np=jnp)))
            jx = jnp.asarray(x)
            out["jax.jit"] = lambda: jax.block_until_ready(jj(jx))
        if torch is not None:
            from torch.func import jacfwd
            tf = W.rebind(fan_out, np=_TorchNumpy(torch))
            tx = torch.tensor(x)
            out["torch"] = lambda: jacfwd(tf)(tx)
        return out, lambda: jac(x)
    if name == "jvp":
        args, v = build_jvp()
        forward = gradc.jvp(W.rnn, wrt=1)
        out["primal"] = lambda: W.rnn(*args)
        out["gradc"] = lambda: forward(*args, v)[1]
        if autograd is not None:
            from autograd import make_jvp
            af = make_jvp(W.rebind(W.rnn, np=anp), argnum=1)
            out["autograd"] = lambda: af(*args)(v)[1]
        if jax is not None:
            f = W.rebind(W.rnn, np=jnp)
            jargs, jv = tuple(jnp.asarray(a) for a in args), jnp.asarray(v)
            jf = jax.jit(lambda *a: jax.jvp(lambda u: f(a[0], u, *a[2:8]), (a[1],), (a[8],))[1])
            out["jax.jit"] = lambda: jax.block_until_ready(jf(*jargs, jv))
        if torch is not None:
            from torch.func import jvp as torch_jvp
            targs = tuple(torch.tensor(a) for a in args)
            tv = torch.tensor(v)
            out["torch"] = lambda: torch_jvp(lambda u: W.rnn_torch(targs[0], u, *targs[2:]), (targs[1],), (tv,))[1]
        return out, lambda: forward(*args, v)[1]
    raise ValueError(name)


class _TorchNumpy:
    """The few NumPy names `fan_out` uses, on torch (for torch.func.jacfwd)."""

    def __init__(self, torch):
        self.torch = torch

    def __getattr__(self, name):
        torch = self.torch
        if name == "linspace":
            return lambda a, b, n: torch.linspace(a, b, n, dtype=torch.float64)
        if name == "concatenate":
            return torch.cat
        return getattr(torch, name)


NAMES = ("hvp", "hessian", "jacobian", "jvp")
TITLES = {"hvp": "Hessian-vector product, MLP 128 x 784-256-10 (w.r.t. W1)",
          "hessian": "full Hessian, Rosenbrock in 10 dimensions",
          "jacobian": "Jacobian, 5 inputs -> 500 outputs",
          "jvp": "JVP of the RNN (T=50, H=64) along a tangent of Whh"}
