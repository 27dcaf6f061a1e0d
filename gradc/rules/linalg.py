"""Derivative rules for `numpy.linalg`: decompositions, determinants, inverses, norms.

tests/test_rules_linalg.py checks every rule here numerically (first order against finite
differences and autograd; second order and the JVP through the shared case list).
"""
import numpy as np

from ..runtime import (
    norm_adjoint, real_spectrum_size, refuse_linalg_option, scatter_add, solve_adjoint_a, solve_adjoint_b,
)
from .registry import Attr, jvp, shapes_known, vjp, zero_gradient


# np.linalg.norm: the 2-norm, Frobenius and vector 1-norm through `norm_adjoint`; the other orders
# here. A vector p-norm's gradient is sign(x) (|x| / norm)^(p - 1) (for p < 1 it is infinite at a
# zero element). Matrix norms move their two axes last: 'nuc' has the gradient U Vᵀ, 2 and -2 the
# outer product of the largest or smallest singular pair (a repeated one has no derivative: the
# pair LAPACK returns is used), 1 and inf (-1 and -inf) the signs of the column or row whose
# absolute sum is largest (smallest), ties sharing evenly, as with np.max. ord=inf on a vector is
# np.max(np.abs(x)), its ties shared the same way; ord=0 counts and has no gradient.

@vjp(np.linalg.norm)
def norm(g, ans, x, ord=None, axis=None, keepdims=False):
    if ord is None or ord == 'fro' or ord in (1, 2) and (
            isinstance(axis, int) or axis is None and shapes_known(x) and np.ndim(x) == 1):
        return norm_adjoint(g, ans, x, ord, axis, keepdims)
    # (with axis=None, x may be a vector or a matrix: where its shape is not known when the
    # gradient is compiled, both gradients are computed and np.ndim(x) picks one at run time)
    either = ord in (2, -2, 1, -1, np.inf, -np.inf) and axis is None and not shapes_known(x)
    matrix = ord == 'nuc' or ord in (2, -2, 1, -1, np.inf, -np.inf) and (
        isinstance(axis, tuple) or axis is None and (either or np.ndim(x) == 2))
    full = g if keepdims or axis is None else np.expand_dims(g, axis)
    n = ans if keepdims or axis is None else np.expand_dims(ans, axis)
    if ord == 0:
        return np.zeros(np.shape(x))
    if either or not matrix:
        if ord in (np.inf, -np.inf):
            hit = np.abs(x) == n
            vector = full * np.sign(x) * hit / np.maximum(np.sum(hit, axis=axis, keepdims=True), 1)
        else:
            vector = full * np.sign(x) * (np.abs(x) / n) ** (ord - 1)
        if not matrix:
            return vector
    xm = np.atleast_2d(x) if either else x if axis is None else np.moveaxis(x, axis, (-2, -1))
    if ord in (1, -1, np.inf, -np.inf):
        sums = np.sum(np.abs(xm), axis=-2 if ord in (1, -1) else -1)
        best = np.max(sums, axis=-1, keepdims=True) if ord in (1, np.inf) else np.min(sums, axis=-1, keepdims=True)
        share = (sums == best) / np.sum(sums == best, axis=-1, keepdims=True)
        direction = np.sign(xm) * np.expand_dims(share, -2 if ord in (1, -1) else -1)
    else:
        u, s, vt = np.linalg.svd(xm, full_matrices=False)
        if ord == 'nuc':
            direction = u @ vt
        elif ord == 2:
            direction = u[..., :1] @ vt[..., :1, :]
        else:
            direction = u[..., -1:] @ vt[..., -1:, :]
    if either:
        return np.where(np.ndim(x) == 2, full * np.reshape(direction, np.shape(x)), vector)
    return full * (direction if axis is None else np.moveaxis(direction, (-2, -1), axis))


@jvp(np.linalg.norm)
def norm_jvp(t, ans, x, ord=None, axis=None, keepdims=False):
    if ord is None or ord == 'fro' or ord in (1, 2) and (
            isinstance(axis, int) or axis is None and shapes_known(x) and np.ndim(x) == 1):
        return np.sum(norm_adjoint(np.ones_like(ans), ans, x, ord, axis, keepdims) * t, axis=axis, keepdims=keepdims)
    either = ord in (2, -2, 1, -1, np.inf, -np.inf) and axis is None and not shapes_known(x)
    matrix = ord == 'nuc' or ord in (2, -2, 1, -1, np.inf, -np.inf) and (
        isinstance(axis, tuple) or axis is None and (either or np.ndim(x) == 2))
    n = ans if keepdims or axis is None else np.expand_dims(ans, axis)
    if ord == 0:
        return np.zeros(np.shape(ans))
    if either or not matrix:
        if ord in (np.inf, -np.inf):
            hit = np.abs(x) == n
            vector = np.sum(np.sign(x) * hit * t, axis=axis, keepdims=keepdims) / \
                np.maximum(np.sum(hit, axis=axis, keepdims=keepdims), 1)
        else:
            vector = np.sum(np.sign(x) * (np.abs(x) / n) ** (ord - 1) * t, axis=axis, keepdims=keepdims)
        if not matrix:
            return vector
    xm = np.atleast_2d(x) if either else x if axis is None else np.moveaxis(x, axis, (-2, -1))
    tm = np.atleast_2d(t) if either else t if axis is None else np.moveaxis(t, axis, (-2, -1))
    if ord in (1, -1, np.inf, -np.inf):
        sums = np.sum(np.abs(xm), axis=-2 if ord in (1, -1) else -1)
        best = np.max(sums, axis=-1, keepdims=True) if ord in (1, np.inf) else np.min(sums, axis=-1, keepdims=True)
        share = (sums == best) / np.sum(sums == best, axis=-1, keepdims=True)
        dm = np.sum(share * np.sum(np.sign(xm) * tm, axis=-2 if ord in (1, -1) else -1), axis=-1)
    else:
        u, s, vt = np.linalg.svd(xm, full_matrices=False)
        ds = np.sum(u * (tm @ np.swapaxes(vt, -1, -2)), axis=-2)
        dm = np.sum(ds, axis=-1) if ord == 'nuc' else ds[..., 0] if ord == 2 else ds[..., -1]
    if either:
        return np.where(np.ndim(x) == 2, np.reshape(dm, np.shape(ans)), vector)
    return np.reshape(dm, np.shape(ans))


@vjp(np.linalg.inv)
def inv(g, ans, a):
    ans_t = np.swapaxes(ans, -1, -2)
    return -(ans_t @ g @ ans_t)


@jvp(np.linalg.inv)
def inv_jvp(t, ans, a):
    return -(ans @ t @ ans)


@vjp(np.linalg.det)
def det(g, ans, a):
    return np.expand_dims(g * ans, (-1, -2)) * np.swapaxes(np.linalg.inv(a), -1, -2)


@jvp(np.linalg.det)
def det_jvp(t, ans, a):
    return ans * np.sum(np.swapaxes(np.linalg.inv(a), -1, -2) * t, axis=(-2, -1))


@vjp(np.linalg.solve)
def solve(g, ans, a, b):
    gb = solve_adjoint_b(g, a)
    return solve_adjoint_a(gb, ans, b), gb


@jvp(np.linalg.solve)
def solve_jvp(t, ans, a, b):
    ta, tb = t  # (zeros where an argument has no tangent)
    return np.linalg.solve(a, tb - ta @ ans)



# -- eigendecompositions ---------------------------------------------------------------------------
# Eigenvectors (and singular vectors) are differentiated through 1 / (w_j - w_i): near-equal
# eigenvalues give large values, as in autograd and JAX. Where two are exactly equal the term is
# taken as 0 (`np.where(d == 0, inf, d)`), not inf or nan: right for every function that does not
# depend on which basis of that eigenspace LAPACK returned (the eigenvalues alone, a projector),
# and there is no derivative otherwise. np.linalg.eigh, eigvalsh and cholesky read one triangle of
# their argument (UPLO), so the gradient is zero on the other and doubled off the diagonal of the
# one read; for a symmetric argument built in the function (`a + a.T`) that is the usual gradient.

@vjp(np.linalg.eigh)
def eigh(g, ans, a, UPLO='L'):
    w = ans[0]
    v = ans[1]
    n = np.shape(w)[-1]
    eye = np.eye(n)
    vt = np.swapaxes(v, -1, -2)
    d = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    f = 1.0 / np.where(d == 0.0, np.inf, d)
    s = v @ (np.expand_dims(g[0], -1) * eye + f * (vt @ g[1])) @ vt
    if UPLO == 'L':
        return s * eye + (s + np.swapaxes(s, -1, -2)) * np.tril(np.ones((n, n)), -1)
    return s * eye + (s + np.swapaxes(s, -1, -2)) * np.triu(np.ones((n, n)), 1)


@jvp(np.linalg.eigh)
def eigh_jvp(t, ans, a, UPLO='L'):
    w = ans[0]
    v = ans[1]
    n = np.shape(w)[-1]
    eye = np.eye(n)
    off = np.tril(np.ones((n, n)), -1) if UPLO == 'L' else np.triu(np.ones((n, n)), 1)
    c = np.swapaxes(v, -1, -2) @ (t * (eye + off) + np.swapaxes(t * off, -1, -2)) @ v
    d = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    return np.sum(c * eye, axis=-1), v @ (c / np.where(d == 0.0, np.inf, d))


@vjp(np.linalg.eigvalsh)
def eigvalsh(g, ans, a, UPLO='L'):
    v = np.linalg.eigh(a, UPLO)[1]
    n = np.shape(v)[-1]
    eye = np.eye(n)
    s = (v * np.expand_dims(g, -2)) @ np.swapaxes(v, -1, -2)
    if UPLO == 'L':
        return s * eye + (s + np.swapaxes(s, -1, -2)) * np.tril(np.ones((n, n)), -1)
    return s * eye + (s + np.swapaxes(s, -1, -2)) * np.triu(np.ones((n, n)), 1)


@jvp(np.linalg.eigvalsh)
def eigvalsh_jvp(t, ans, a, UPLO='L'):
    v = np.linalg.eigh(a, UPLO)[1]
    n = np.shape(v)[-1]
    off = np.tril(np.ones((n, n)), -1) if UPLO == 'L' else np.triu(np.ones((n, n)), 1)
    return np.sum(v * ((t * (np.eye(n) + off) + np.swapaxes(t * off, -1, -2)) @ v), axis=-2)


# np.linalg.eig and eigvals of a real matrix whose eigenvalues are all real (NumPy then returns real
# arrays; a complex spectrum is refused at run time by `real_spectrum_size`). The matrix need not
# be symmetric: with V the eigenvectors (unit columns, as LAPACK normalizes them), dw = diag(C) and
# dV = V (F * C) - V diag(Vᵀ V (F * C)) for C = V⁻¹ dA V, F[i, j] = 1 / (w[j] - w[i]).

@vjp(np.linalg.eig)
def eig(g, ans, a):
    w = ans[0]
    v = ans[1]
    eye = np.eye(real_spectrum_size(w))
    vt = np.swapaxes(v, -1, -2)
    d = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    h = vt @ g[1]
    h = h - (vt @ v) @ (h * eye)
    return np.linalg.solve(vt, (np.expand_dims(g[0], -1) * eye + h / np.where(d == 0.0, np.inf, d)) @ vt)


@jvp(np.linalg.eig)
def eig_jvp(t, ans, a):
    w = ans[0]
    v = ans[1]
    eye = np.eye(real_spectrum_size(w))
    c = np.linalg.solve(v, t @ v)
    d = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    dv = v @ (c / np.where(d == 0.0, np.inf, d))
    return np.sum(c * eye, axis=-1), dv - v * np.sum(v * dv, axis=-2, keepdims=True)


@vjp(np.linalg.eigvals)
def eigvals(g, ans, a):
    w, v = np.linalg.eig(a)
    eye = np.eye(real_spectrum_size(ans))
    # (eig's order, matched to eigvals' by value: gw[j] is g at the eigenvalue nearest w[j])
    distance = np.abs(np.expand_dims(ans, -1) - np.expand_dims(w, -2))
    nearest = distance == np.min(distance, axis=-2, keepdims=True)
    vt = np.swapaxes(v, -1, -2)
    return np.linalg.solve(vt, (np.expand_dims(np.sum(np.expand_dims(g, -1) * nearest, axis=-2), -1) * eye) @ vt)


@jvp(np.linalg.eigvals)
def eigvals_jvp(t, ans, a):
    w, v = np.linalg.eig(a)
    eye = np.eye(real_spectrum_size(ans))
    distance = np.abs(np.expand_dims(ans, -1) - np.expand_dims(w, -2))
    nearest = distance == np.min(distance, axis=-1, keepdims=True)
    dw = np.sum(np.linalg.solve(v, t @ v) * eye, axis=-1)
    return np.sum(nearest * np.expand_dims(dw, -2), axis=-1)


# -- singular value decomposition ------------------------------------------------------------------
# For A = U diag(s) Vᵀ with k = min(m, n) singular values, the thin factors' derivative (Townsend,
# "Differentiating the singular value decomposition"; JAX's svd_jvp): P = Uᵀ dA V, ds = diag(P),
# dU = U (F * (P S + S Pᵀ)) + (I - U Uᵀ) dA V S⁻¹, dV likewise, F[i, j] = 1 / (s[j]² - s[i]²).
# A zero singular value (a rank-deficient matrix) has no derivative of its vectors (inf or nan).
# With full_matrices=True and m != n, the columns of U (rows of Vh) past k are any orthonormal
# completion; gradc differentiates them as turning only with the thin part (dU₂ = -U₁ S⁻¹ Vᵀ dAᵀ U₂,
# no rotation within their span): right for every function of them that does not depend on the
# basis LAPACK picked (`u2 @ u2.T`, or not using them), and there is no derivative otherwise.

@vjp(np.linalg.svd)
def svd(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    if hermitian:
        return refuse_linalg_option("np.linalg.svd with hermitian=True (pass hermitian=False)")
    if not compute_uv:
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        return (u * np.expand_dims(g, -2)) @ vt
    if full_matrices:
        k = min(np.shape(a)[-2:])
        u = ans[0][..., :k]
        vt = ans[2][..., :k, :]
        gu = g[0][..., :k]
        gvt = g[2][..., :k, :]
    else:
        u = ans[0]
        vt = ans[2]
        gu = g[0]
        gvt = g[2]
    s = ans[1]
    eye = np.eye(np.shape(s)[-1])
    d = np.expand_dims(s * s, -2) - np.expand_dims(s * s, -1)
    f = 1.0 / np.where(d == 0.0, np.inf, d)
    j = np.swapaxes(u, -1, -2) @ gu
    h = vt @ np.swapaxes(gvt, -1, -2)
    inner = (f * (j - np.swapaxes(j, -1, -2))) * np.expand_dims(s, -2) + np.expand_dims(g[1], -1) * eye + \
        np.expand_dims(s, -1) * (f * (h - np.swapaxes(h, -1, -2)))
    ga = u @ inner @ vt + ((gu - u @ j) / np.expand_dims(s, -2)) @ vt + \
        u @ ((gvt - np.swapaxes(h, -1, -2) @ vt) / np.expand_dims(s, -1))
    if full_matrices:
        u2 = ans[0][..., k:]
        vt2 = ans[2][..., k:, :]
        gu2 = g[0][..., k:]
        gvt2 = g[2][..., k:, :]
        ga = ga - ((u2 @ np.swapaxes(gu2, -1, -2) @ u) / np.expand_dims(s, -2)) @ vt - \
            u @ ((vt @ np.swapaxes(gvt2, -1, -2) @ vt2) / np.expand_dims(s, -1))
    return ga


@jvp(np.linalg.svd)
def svd_jvp(t, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    if hermitian:
        return refuse_linalg_option("np.linalg.svd with hermitian=True (pass hermitian=False)")
    if not compute_uv:
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        return np.sum(u * (t @ np.swapaxes(vt, -1, -2)), axis=-2)
    if full_matrices:
        k = min(np.shape(a)[-2:])
        u = ans[0][..., :k]
        vt = ans[2][..., :k, :]
    else:
        u = ans[0]
        vt = ans[2]
    v = np.swapaxes(vt, -1, -2)
    s = ans[1]
    eye = np.eye(np.shape(s)[-1])
    d = np.expand_dims(s * s, -2) - np.expand_dims(s * s, -1)
    f = 1.0 / np.where(d == 0.0, np.inf, d)
    tv = t @ v
    tu = np.swapaxes(t, -1, -2) @ u
    p = np.swapaxes(u, -1, -2) @ tv
    pt = np.swapaxes(p, -1, -2)
    du = u @ (f * (p * np.expand_dims(s, -2) + np.expand_dims(s, -1) * pt)) + \
        (tv - u @ (np.swapaxes(u, -1, -2) @ tv)) / np.expand_dims(s, -2)
    dv = v @ (f * (np.expand_dims(s, -1) * p + pt * np.expand_dims(s, -2))) + \
        (tu - v @ (vt @ tu)) / np.expand_dims(s, -2)
    if full_matrices:
        u2 = ans[0][..., k:]
        vt2 = ans[2][..., k:, :]
        du = np.concatenate([du, -u @ ((vt @ np.swapaxes(t, -1, -2) @ u2) / np.expand_dims(s, -1))], axis=-1)
        dv = np.concatenate([dv, -v @ ((np.swapaxes(u, -1, -2) @ t @ np.swapaxes(vt2, -1, -2))
                                       / np.expand_dims(s, -1))], axis=-1)
    return du, np.sum(p * eye, axis=-1), np.swapaxes(dv, -1, -2)


# -- Cholesky, log-determinant, pseudo-inverse, matrix powers --------------------------------------

@vjp(np.linalg.cholesky)
def cholesky(g, ans, a, upper=False):
    # (Murray, "Differentiation of the Cholesky decomposition": L⁻ᵀ Φ(Lᵀ ḡ) L⁻¹, Φ the lower
    # triangle with half the diagonal; upper=True factors a = Uᵀ U reading the upper triangle)
    n = np.shape(ans)[-1]
    eye = np.eye(n)
    low = np.tril(np.ones((n, n)), -1)
    l = np.swapaxes(ans, -1, -2) if upper else ans
    gl = np.swapaxes(g, -1, -2) if upper else g
    lt = np.swapaxes(l, -1, -2)
    y = np.linalg.solve(lt, (lt @ gl) * (low + 0.5 * eye))
    s = np.swapaxes(np.linalg.solve(lt, np.swapaxes(y, -1, -2)), -1, -2)
    off = np.swapaxes(low, -1, -2) if upper else low
    return s * eye + (s + np.swapaxes(s, -1, -2)) * off


@jvp(np.linalg.cholesky)
def cholesky_jvp(t, ans, a, upper=False):
    n = np.shape(ans)[-1]
    eye = np.eye(n)
    low = np.tril(np.ones((n, n)), -1)
    off = np.swapaxes(low, -1, -2) if upper else low
    l = np.swapaxes(ans, -1, -2) if upper else ans
    ds = t * (eye + off) + np.swapaxes(t * off, -1, -2)
    m = np.swapaxes(np.linalg.solve(l, np.swapaxes(np.linalg.solve(l, ds), -1, -2)), -1, -2)
    dl = l @ (m * (low + 0.5 * eye))
    return np.swapaxes(dl, -1, -2) if upper else dl


@vjp(np.linalg.slogdet)
def slogdet(g, ans, a):
    return np.expand_dims(g[1], (-1, -2)) * np.swapaxes(np.linalg.inv(a), -1, -2)


@jvp(np.linalg.slogdet)
def slogdet_jvp(t, ans, a):
    return np.zeros(np.shape(ans[0])), np.sum(np.swapaxes(np.linalg.inv(a), -1, -2) * t, axis=(-2, -1))


@vjp(np.linalg.pinv)
def pinv(g, ans, a, rcond=None, hermitian=False, rtol=None):
    # (the derivative of the pseudo-inverse where the rank does not change: Golub and Pereyra)
    if hermitian:
        return refuse_linalg_option("np.linalg.pinv with hermitian=True (pass hermitian=False)")
    pt = np.swapaxes(ans, -1, -2)
    gt = np.swapaxes(g, -1, -2)
    right = gt @ ans @ pt
    left = pt @ ans @ gt
    return -(pt @ g @ pt) + right - a @ (ans @ right) + left - (left @ ans) @ a


@jvp(np.linalg.pinv)
def pinv_jvp(t, ans, a, rcond=None, hermitian=False, rtol=None):
    if hermitian:
        return refuse_linalg_option("np.linalg.pinv with hermitian=True (pass hermitian=False)")
    pt = np.swapaxes(ans, -1, -2)
    tt = np.swapaxes(t, -1, -2)
    return -(ans @ t @ ans) + ans @ pt @ (tt - (tt @ a) @ ans) + (tt - ans @ (a @ tt)) @ pt @ ans


@vjp(np.linalg.matrix_power)
def matrix_power(g, ans, a, n=1):
    if n == 0:
        return np.zeros(np.shape(a))
    b = np.linalg.inv(a) if n < 0 else a
    bt = np.swapaxes(b, -1, -2)
    gb = g
    q = g  # (the sum over k of (bᵀ)ᵏ g (bᵀ)ᵐ⁻¹⁻ᵏ, m = |n|, built from the left)
    for _ in range(abs(n) - 1):
        q = q @ bt
        gb = bt @ gb + q
    if n < 0:
        return -(bt @ gb @ bt)
    return gb


@jvp(np.linalg.matrix_power)
def matrix_power_jvp(t, ans, a, n=1):
    if n == 0:
        return np.zeros(np.shape(ans))
    b = np.linalg.inv(a) if n < 0 else a
    db = -(b @ t @ b) if n < 0 else t
    d = db
    p = b
    for _ in range(abs(n) - 1):
        d = b @ d + db @ p
        p = p @ b
    return d


# -- the fields of NumPy's named results (`np.linalg.svd(a).S`, `eigh(a).eigenvalues`, ...) ----------

@vjp(Attr("U"), Attr("eigenvalues"), Attr("sign"))
def first_field(g, ans, x):
    return scatter_add(g, x, 0)


@jvp(Attr("U"), Attr("eigenvalues"), Attr("sign"))
def first_field_jvp(t, ans, x):
    return t[0]


@vjp(Attr("S"), Attr("eigenvectors"), Attr("logabsdet"))
def second_field(g, ans, x):
    return scatter_add(g, x, 1)


@jvp(Attr("S"), Attr("eigenvectors"), Attr("logabsdet"))
def second_field_jvp(t, ans, x):
    return t[1]


@vjp(Attr("Vh"))
def third_field(g, ans, x):
    return scatter_add(g, x, 2)


@jvp(Attr("Vh"))
def third_field_jvp(t, ans, x):
    return t[2]


zero_gradient(real_spectrum_size, refuse_linalg_option)
