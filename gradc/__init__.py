"""gradc: a source-to-source gradient compiler for Python and NumPy.

    >>> import numpy as np, gradc
    >>> def loss(W, x):
    ...     return np.sum(np.tanh(x @ W))
    >>> dW = gradc.grad(loss)(np.ones((3, 2)), np.ones(3))
"""
from .api import GradFunction, grad, jvp, source, value_and_grad, vjp
from .derived import hessian, hvp, jacobian
from .errors import (
    GradcError, NoGradientRuleError, NonDifferentiableArgumentError, NonScalarOutputError,
    SourceUnavailableError, UnsupportedSyntaxError,
)
from .extend import check_grad, defvjp, stop_gradient

__version__ = "0.1.0"

__all__ = [
    "grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp", "source", "GradFunction", "defvjp", "stop_gradient", "check_grad",
    "GradcError", "UnsupportedSyntaxError", "NoGradientRuleError", "NonScalarOutputError",
    "NonDifferentiableArgumentError", "SourceUnavailableError", "__version__",
]
