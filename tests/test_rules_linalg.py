"""Numeric checks of the `numpy.linalg` rules (gradc/rules/linalg.py).

Cases are written like those of test_rules_numpy.py (and with its helpers); `rule_cases.CASES`
joins both lists for the registry, second-order and forward-mode tests.
"""
import numpy as np
import pytest

import gradc
from gradc.rules import Attr
from gradcheck import assert_gradients, numeric_gradient
from test_rules_numpy import Case, pos, r, rng, unit, w, well_conditioned  # noqa: F401

CASES: list[Case] = []


def case(fn, args, *primitives, wrt=0, **options):
    CASES.append(Case(fn, args, primitives, wrt, options))


# -- norms, inverses, determinants, solves -------------------------------------------------------

def f_norm(x):
    return np.sin(np.linalg.norm(x))
def f_norm_fro(x):
    return np.sin(np.linalg.norm(x, 'fro'))
def f_norm_ord2(x):
    return np.sin(np.linalg.norm(x, ord=2))
def f_norm_ord1(x):
    return np.sin(np.linalg.norm(x, ord=1))
def f_norm_axis(x, w):
    return np.sum(np.sin(np.linalg.norm(x, axis=1)) * w)
def f_norm_neg_axis_keepdims(x):
    return np.sum(np.sin(x) * np.linalg.norm(x, axis=-1, keepdims=True))
def f_norm_axis_ord1(x, w):
    return np.sum(np.sin(np.linalg.norm(x, ord=1, axis=0)) * w)
def f_norm_matrix_axes(x, w):
    return np.sum(np.sin(np.linalg.norm(x, axis=(1, 2))) * w)
def f_inv(a, w):
    return np.sum(np.sin(np.linalg.inv(a)) * w)
def f_det(a):
    return np.sin(np.linalg.det(a))
def f_det_batched(a, w):
    return np.sum(np.sin(np.linalg.det(a)) * w)
def f_solve(a, b, w):
    return np.sum(np.sin(np.linalg.solve(a, b)) * w)


case(f_norm, [r(5)], np.linalg.norm)
case(f_norm, [r(3, 4)], np.linalg.norm)
case(f_norm_fro, [r(3, 4)], np.linalg.norm)
case(f_norm_ord2, [r(5)], np.linalg.norm)
case(f_norm_ord1, [r(5)], np.linalg.norm)
case(f_norm_axis, [r(3, 4), w(3)], np.linalg.norm)
case(f_norm_neg_axis_keepdims, [r(3, 4)], np.linalg.norm)
case(f_norm_axis_ord1, [r(3, 4), w(4)], np.linalg.norm)
case(f_norm_matrix_axes, [r(2, 3, 4), w(2)], np.linalg.norm)
case(f_inv, [well_conditioned(3, 3), w(3, 3)], np.linalg.inv)
case(f_inv, [well_conditioned(2, 3, 3), w(2, 3, 3)], np.linalg.inv)
case(f_det, [well_conditioned(3, 3)], np.linalg.det)
case(f_det_batched, [well_conditioned(2, 3, 3), w(2)], np.linalg.det)
case(f_solve, [well_conditioned(3, 3), r(3), w(3)], np.linalg.solve, wrt=(0, 1))
case(f_solve, [well_conditioned(3, 3), r(3, 2), w(3, 2)], np.linalg.solve, wrt=(0, 1))
case(f_solve, [well_conditioned(2, 3, 3), r(2, 3, 2), w(2, 3, 2)], np.linalg.solve, wrt=(0, 1))



# -- decompositions: helpers for inputs with well-separated spectra -------------------------------
# (equal eigenvalues or singular values leave the vectors undefined, see gradc/rules/linalg.py)

def spread(*shape):
    """Square matrices `r(...)` scaled down, plus a diagonal 1, 3, 5, ...: the eigenvalues are real
    and at least about 1 apart (Gershgorin), whether or not the matrix is symmetric."""
    return 0.3 * r(*shape) + np.diag(1.0 + 2.0 * np.arange(shape[-1]))


def spread_svd(*shape):
    """Matrices with singular values about 1, 2, 3, ... (random singular vectors)."""
    m, n = shape[-2:]
    k = min(m, n)
    u = np.linalg.qr(r(*shape[:-2], m, m))[0][..., :k]
    v = np.linalg.qr(r(*shape[:-2], n, n))[0][..., :k]
    s = 1.0 + np.arange(k)[::-1] + 0.1 * rng.uniform(size=shape[:-2] + (k,))
    return (u * s[..., None, :]) @ np.swapaxes(v, -1, -2)


def spd(*shape):
    """Symmetric positive definite matrices (for cholesky)."""
    b = r(*shape)
    return b @ np.swapaxes(b, -1, -2) + shape[-1] * np.eye(shape[-1])


# -- symmetric eigendecompositions -----------------------------------------------------------------

def f_eigh(a, w, m):
    vals, vecs = np.linalg.eigh(a + a.T)
    return np.sum(np.sin(vals) * w) + np.sum(vecs * vecs * m)
def f_eigh_lower(a, w, m):
    vals, vecs = np.linalg.eigh(a)
    return np.sum(np.sin(vals) * w) + np.sum(vecs * vecs * m)
def f_eigh_upper(a, w, m):
    vals, vecs = np.linalg.eigh(a, UPLO='U')
    return np.sum(np.sin(vals) * w) + np.sum(np.sin(vecs @ vecs.T * m))
def f_eigh_batched(a, w, m):
    vals, vecs = np.linalg.eigh(a)
    return np.sum(np.sin(vals) * w) + np.sum(vecs * vecs * m)
def f_eigh_values_only(a, w):
    return np.sum(np.sin(np.linalg.eigh(a)[0]) * w)
def f_eigh_fields(a, w, m):
    result = np.linalg.eigh(a)
    return np.sum(np.sin(result.eigenvalues) * w) + np.sum(result.eigenvectors ** 2 * m)
def f_eigvalsh(a, w):
    return np.sum(np.sin(np.linalg.eigvalsh(a + a.T)) * w)
def f_eigvalsh_lower(a, w):
    return np.sum(np.sin(np.linalg.eigvalsh(a)) * w)
def f_eigvalsh_upper(a, w):
    return np.sum(np.sin(np.linalg.eigvalsh(a, UPLO='U')) * w)


case(f_eigh, [spread(3, 3), w(3), w(3, 3)], np.linalg.eigh)
case(f_eigh_lower, [spread(4, 4), w(4), w(4, 4)], np.linalg.eigh)
case(f_eigh_upper, [spread(3, 3), w(3), w(3, 3)], np.linalg.eigh)
case(f_eigh_batched, [spread(2, 3, 3), w(2, 3), w(2, 3, 3)], np.linalg.eigh)
case(f_eigh_values_only, [spread(3, 3), w(3)], np.linalg.eigh)
case(f_eigh_fields, [spread(3, 3), w(3), w(3, 3)], np.linalg.eigh, Attr("eigenvalues"), Attr("eigenvectors"))
case(f_eigvalsh, [spread(3, 3), w(3)], np.linalg.eigvalsh)
case(f_eigvalsh_lower, [spread(2, 4, 4), w(2, 4)], np.linalg.eigvalsh)
case(f_eigvalsh_upper, [spread(3, 3), w(3)], np.linalg.eigvalsh)


# -- general eigendecompositions (real spectra: eig's order is LAPACK's, so each function pairs an
# eigenvalue with its own vector and does not depend on the order) -----------------------------------

# (np.real: from NumPy 2.5, eig and eigvals return complex arrays, with no imaginary part here)
def f_eig(a, m):
    vals, vecs = np.linalg.eig(a)
    return np.real(np.sum(np.sin(vals) * np.sum(vecs * vecs * m, axis=0)))
def f_eig_symmetric(a, m):
    vals, vecs = np.linalg.eig(a + a.T)
    return np.real(np.sum(np.sin(vals) * np.sum(vecs * vecs * m, axis=0)))
def f_eig_batched(a, m):
    vals, vecs = np.linalg.eig(a)
    return np.real(np.sum(np.sin(vals) * np.sum(vecs * vecs * m, axis=-2)))
def f_eig_fields(a):
    result = np.linalg.eig(a)
    return np.real(np.sum(np.cos(result.eigenvalues) * result.eigenvectors[0] ** 2))
def f_eigvals(a):
    vals = np.linalg.eigvals(a)
    return np.real(np.sum(np.sin(vals)) + np.prod(vals))
def f_eigvals_batched(a):
    return np.real(np.sum(np.sin(np.linalg.eigvals(a)) ** 2))


case(f_eig, [spread(3, 3), w(3, 3)], np.linalg.eig)
case(f_eig_symmetric, [spread(3, 3), w(3, 3)], np.linalg.eig)
case(f_eig_batched, [spread(2, 3, 3), w(2, 3, 3)], np.linalg.eig)
case(f_eig_fields, [spread(3, 3)], np.linalg.eig, Attr("eigenvalues"), Attr("eigenvectors"))
case(f_eigvals, [spread(4, 4)], np.linalg.eigvals)
case(f_eigvals_batched, [spread(2, 3, 3)], np.linalg.eigvals)


# -- singular value decomposition --------------------------------------------------------------------

def f_svd(a, w, m1, m2):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return np.sum(np.sin(s) * w) + np.sum(u * u * m1) + np.sum(vt * vt * m2)
def f_svd_full_square(a, w, m1, m2):
    u, s, vt = np.linalg.svd(a)
    return np.sum(np.sin(s) * w) + np.sum(u * u * m1) + np.sum(vt * vt * m2)
def f_svd_full_tall(a, w, m1, m2):
    u, s, vt = np.linalg.svd(a)
    rest = u[:, 3:]
    return np.sum(np.sin(s) * w) + np.sum(u[:, :3] ** 2 * m1) + np.sum(np.sin(rest @ rest.T) * m2)
def f_svd_full_wide(a, w, m1, m2):
    u, s, vt = np.linalg.svd(a)
    rest = vt[3:]
    return np.sum(np.sin(s) * w) + np.sum(vt[:3] ** 2 * m1) + np.sum(np.sin(rest.T @ rest) * m2)
def f_svd_values(a, w):
    return np.sum(np.sin(np.linalg.svd(a, compute_uv=False)) * w)
def f_svd_fields(a, w, m1, m2):
    result = np.linalg.svd(a, full_matrices=False)
    return np.sum(np.sin(result.S) * w) + np.sum(result.U ** 2 * m1) + np.sum(result.Vh ** 2 * m2)


case(f_svd, [spread_svd(3, 3), w(3), w(3, 3), w(3, 3)], np.linalg.svd)
case(f_svd, [spread_svd(4, 3), w(3), w(4, 3), w(3, 3)], np.linalg.svd)
case(f_svd, [spread_svd(3, 5), w(3), w(3, 3), w(3, 5)], np.linalg.svd)
case(f_svd, [spread_svd(2, 4, 3), w(2, 3), w(2, 4, 3), w(2, 3, 3)], np.linalg.svd)
case(f_svd_full_square, [spread_svd(3, 3), w(3), w(3, 3), w(3, 3)], np.linalg.svd)
case(f_svd_full_tall, [spread_svd(5, 3), w(3), w(5, 3), w(5, 5)], np.linalg.svd)
case(f_svd_full_wide, [spread_svd(3, 5), w(3), w(3, 5), w(5, 5)], np.linalg.svd)
case(f_svd_values, [spread_svd(4, 3), w(3)], np.linalg.svd)
case(f_svd_values, [spread_svd(2, 3, 4), w(2, 3)], np.linalg.svd)
case(f_svd_fields, [spread_svd(4, 3), w(3), w(4, 3), w(3, 3)], np.linalg.svd, Attr("S"), Attr("U"), Attr("Vh"))


# -- Cholesky, log-determinant, pseudo-inverse, matrix powers -----------------------------------------

def f_cholesky(b, w):
    return np.sum(np.sin(np.linalg.cholesky(b @ b.T + 3.0 * np.eye(3))) * w)
def f_cholesky_argument(a, w):
    return np.sum(np.sin(np.linalg.cholesky(a)) * w)
def f_cholesky_upper(a, w):
    return np.sum(np.sin(np.linalg.cholesky(a, upper=True)) * w)
def f_slogdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * np.sin(logdet)
def f_slogdet_batched(a, w):
    return np.sum(np.sin(np.linalg.slogdet(a)[1]) * w)
def f_slogdet_fields(a):
    result = np.linalg.slogdet(a)
    return result.sign * np.sin(result.logabsdet)
def f_pinv(a, w):
    return np.sum(np.sin(np.linalg.pinv(a)) * w)
def f_matrix_power(a, w):
    return np.sum(np.sin(np.linalg.matrix_power(a, 3)) * w)
def f_matrix_power_one(a, w):
    return np.sum(np.sin(np.linalg.matrix_power(a, 1)) * w)
def f_matrix_power_negative(a, w):
    return np.sum(np.sin(np.linalg.matrix_power(a, -2)) * w)
def f_matrix_power_zero(a, w):
    return np.sum(np.sin(np.linalg.matrix_power(a, 0) * a) * w)


case(f_cholesky, [r(3, 3), w(3, 3)], np.linalg.cholesky)
case(f_cholesky_argument, [spd(3, 3), w(3, 3)], np.linalg.cholesky, use_autograd=False)  # (autograd symmetrizes)
case(f_cholesky_argument, [spd(2, 3, 3), w(2, 3, 3)], np.linalg.cholesky, use_autograd=False)
case(f_cholesky_upper, [spd(3, 3), w(3, 3)], np.linalg.cholesky)
case(f_slogdet, [well_conditioned(3, 3)], np.linalg.slogdet)
case(f_slogdet, [-well_conditioned(3, 3)], np.linalg.slogdet)
case(f_slogdet_batched, [well_conditioned(2, 3, 3), w(2)], np.linalg.slogdet)
case(f_slogdet_fields, [well_conditioned(3, 3)], np.linalg.slogdet, Attr("sign"), Attr("logabsdet"))
case(f_pinv, [well_conditioned(3, 3), w(3, 3)], np.linalg.pinv)
case(f_pinv, [spread_svd(4, 3), w(3, 4)], np.linalg.pinv)
case(f_pinv, [spread_svd(3, 5), w(5, 3)], np.linalg.pinv)
case(f_pinv, [spread_svd(2, 4, 3), w(2, 3, 4)], np.linalg.pinv)
case(f_matrix_power, [r(3, 3), w(3, 3)], np.linalg.matrix_power)
case(f_matrix_power, [r(2, 3, 3), w(2, 3, 3)], np.linalg.matrix_power)
case(f_matrix_power_one, [r(3, 3), w(3, 3)], np.linalg.matrix_power)
case(f_matrix_power_negative, [well_conditioned(3, 3), w(3, 3)], np.linalg.matrix_power)
case(f_matrix_power_zero, [r(3, 3), w(3, 3)], np.linalg.matrix_power)


# -- norms of other orders -----------------------------------------------------------------------------

def f_norm_ord3(x):
    return np.sin(np.linalg.norm(x, ord=3))
def f_norm_ord4_axis(x, w):
    return np.sum(np.sin(np.linalg.norm(x, ord=4, axis=1)) * w)
def f_norm_ord_half(x):
    return np.sin(np.linalg.norm(x, ord=0.5))
def f_norm_ord_minus1(x):
    return np.sin(np.linalg.norm(x, ord=-1))
def f_norm_ord3_keepdims(x):
    return np.sum(np.sin(x * np.linalg.norm(x, ord=3, axis=0, keepdims=True)))
def f_norm_ord_inf(x):
    return np.sin(np.linalg.norm(x, ord=np.inf))
def f_norm_ord0(x):
    return np.sin(np.linalg.norm(x, ord=0)) * np.sum(x)
def f_norm_nuc(x):
    return np.sin(np.linalg.norm(x, 'nuc'))
def f_norm_spectral(x):
    return np.sin(np.linalg.norm(x, 2))
def f_norm_smallest(x):
    return np.sin(np.linalg.norm(x, -2))
def f_norm_matrix_ord1(x):
    return np.sin(np.linalg.norm(x, 1))
def f_norm_matrix_inf(x):
    return np.sin(np.linalg.norm(x, np.inf))
def f_norm_matrix_minus1(x):
    return np.sin(np.linalg.norm(x, -1))
def f_norm_nuc_axes(x, w):
    return np.sum(np.sin(np.linalg.norm(x, 'nuc', axis=(1, 2))) * w)
def f_norm_spectral_axes_keepdims(x, w):
    return np.sum(np.sin(np.linalg.norm(x, 2, axis=(2, 0), keepdims=True)) * w)


case(f_norm_ord3, [r(5)], np.linalg.norm)
case(f_norm_ord4_axis, [r(3, 4), w(3)], np.linalg.norm)
case(f_norm_ord_half, [r(5)], np.linalg.norm)
case(f_norm_ord_minus1, [r(5)], np.linalg.norm)
case(f_norm_ord3_keepdims, [r(3, 4)], np.linalg.norm)
case(f_norm_ord_inf, [r(5)], np.linalg.norm, use_autograd=False)  # (autograd's p-norm formula at p = inf)
case(f_norm_ord0, [r(5)], np.linalg.norm)
case(f_norm_nuc, [spread_svd(4, 3)], np.linalg.norm)
case(f_norm_spectral, [spread_svd(3, 4)], np.linalg.norm)
case(f_norm_smallest, [spread_svd(4, 3)], np.linalg.norm)
case(f_norm_matrix_ord1, [r(3, 4)], np.linalg.norm)
case(f_norm_matrix_inf, [r(3, 4)], np.linalg.norm)
case(f_norm_matrix_minus1, [r(4, 3)], np.linalg.norm)
case(f_norm_nuc_axes, [spread_svd(2, 4, 3), w(2)], np.linalg.norm)
case(f_norm_spectral_axes_keepdims, [np.moveaxis(spread_svd(3, 4, 2), 0, 1), w(1, 3, 1)], np.linalg.norm)


# -- what the rules refuse, and exactly repeated eigenvalues -------------------------------------------

def r_eig_values(a):
    return np.sum(np.sin(np.linalg.eigvals(a)).real)
def r_eig(a):
    vals, vecs = np.linalg.eig(a)
    return np.sum(vals.real)
def r_svd_hermitian(a):
    return np.sum(np.linalg.svd(a, compute_uv=False, hermitian=True))
def r_pinv_hermitian(a):
    return np.sum(np.linalg.pinv(a, hermitian=True))
def r_eigh_values(a):
    vals, vecs = np.linalg.eigh(a)
    return np.sum(np.sin(vals))
def r_eigh_projector(a):
    vals, vecs = np.linalg.eigh(a)
    top = vecs[:, 1:]
    return np.sum(top @ top.T * np.arange(9.0).reshape(3, 3))


@pytest.mark.parametrize("f", [r_eig_values, r_eig])
def test_eig_of_a_complex_spectrum_is_refused(f):
    rotation = np.array([[0.0, -1.0, 0.2], [1.0, 0.0, 0.1], [0.3, 0.0, 2.0]])  # (eigenvalues near +-i)
    with pytest.raises(gradc.NoGradientRuleError, match="complex"):
        gradc.grad(f)(rotation)


@pytest.mark.parametrize("f", [r_svd_hermitian, r_pinv_hermitian])
def test_hermitian_options_are_refused(f):
    with pytest.raises(gradc.NoGradientRuleError, match="hermitian=True"):
        gradc.grad(f)(spd(3, 3))


def test_exactly_repeated_eigenvalues_give_finite_gradients():
    """At a = diag(1, 2, 2) the eigenvector term of the repeated pair is taken as 0 (documented in
    gradc/rules/linalg.py): the gradient of a function of the eigenvalues, or of the projector onto
    the repeated eigenspace, is the true one, with no inf or nan."""
    a = np.diag([1.0, 2.0, 2.0])
    np.testing.assert_allclose(gradc.grad(r_eigh_values)(a), np.diag(np.cos([1.0, 2.0, 2.0])), atol=1e-12)
    projector = gradc.grad(r_eigh_projector)(a)
    assert np.all(np.isfinite(projector))
    np.testing.assert_allclose(projector, numeric_gradient(r_eigh_projector, [a], 0), atol=1e-6)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_rule(c):
    assert_gradients(c.fn, c.args, wrt=c.wrt, **c.options)
