"""Chebyshev–Jacobi preconditioning and conjugate gradients that need only products.

The preconditioner is ``z = p(D⁻¹A) D⁻¹ r``: a fixed number of steps of the Chebyshev
iteration for ``A z = r`` from ``z = 0``, Jacobi-scaled, for the eigenvalues of ``D⁻¹A``
in ``[upper / ratio, upper]`` (Saad, *Iterative Methods for Sparse Linear Systems*,
2nd ed., Alg. 12.1). A fixed polynomial is a fixed linear map, symmetric because
``p(D⁻¹A) D⁻¹`` is, and positive definite when ``upper`` bounds the spectrum: its error
polynomial is below 1 in magnitude on ``(0, upper]``. So it is a valid CG
preconditioner, and it needs ``diag(A)`` and ``degree - 1`` products — no matrix.

``upper`` is 1.1 × the largest Ritz value of a few Lanczos steps on ``D^-1/2 A D^-1/2``
from a seeded start vector, so runs are reproducible bit for bit.

The arithmetic is written once for NumPy and JAX arrays alike; :func:`pcg` is a JAX
``while_loop`` (device-resident when the products are JAX functions).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError

__all__ = ["ChebyshevJacobi", "chebyshev", "largest_ritz_value", "pcg"]


def largest_ritz_value(product, inverse_diagonal, steps: int = 20, seed: int = 0) -> float:
    """Largest Ritz value of ``D^-1/2 A D^-1/2`` (the spectrum of ``D⁻¹A``) after
    ``steps`` Lanczos steps with full re-orthogonalization from a seeded random start.

    Args:
        product: ``x -> A x`` on NumPy arrays ``(n,)``.
        inverse_diagonal: ``1 / diag(A)`` ``(n,)``.
        steps: Lanczos steps (capped at ``n``).
        seed: seed of the start vector.
    """
    n = inverse_diagonal.shape[0]
    scale = np.sqrt(np.asarray(inverse_diagonal, dtype=np.float64))
    q = np.random.default_rng(seed).standard_normal(n)
    basis = [q / np.linalg.norm(q)]
    alphas, betas = [], []
    for _ in range(min(steps, n)):
        w = scale * np.asarray(product(scale * basis[-1]))
        alphas.append(float(basis[-1] @ w))
        for v in basis:  # full re-orthogonalization: a few vectors, no ghost eigenvalues
            w = w - (v @ w) * v
        beta = float(np.linalg.norm(w))
        if beta <= 1e-12 * abs(alphas[-1]):
            break
        betas.append(beta)
        basis.append(w / beta)
    k = len(alphas)
    T = np.diag(alphas) + np.diag(betas[:k - 1], 1) + np.diag(betas[:k - 1], -1)
    return float(np.linalg.eigvalsh(T)[-1])


def chebyshev(product, r, inverse_diagonal, lower, upper, degree: int):
    """``p(D⁻¹A) D⁻¹ r``: ``degree`` Chebyshev steps for ``A z = r`` from ``z = 0``
    (``degree - 1`` products), targeting the eigenvalues of ``D⁻¹A`` in ``[lower, upper]``.

    Args:
        product: ``x -> A x`` (NumPy or JAX arrays ``(n,)``).
        r: right-hand side ``(n,)``.
        inverse_diagonal: ``1 / diag(A)`` ``(n,)``.
        lower, upper: the target interval, ``0 < lower < upper``.
        degree: number of steps (>= 1).
    """
    theta = 0.5 * (upper + lower)
    delta = 0.5 * (upper - lower)
    sigma = theta / delta
    rho = 1.0 / sigma
    d = inverse_diagonal * r / theta
    z = d
    for _ in range(degree - 1):
        r = r - product(d)
        rho_next = 1.0 / (2.0 * sigma - rho)
        d = (rho_next * rho) * d + (2.0 * rho_next / delta) * (inverse_diagonal * r)
        z = z + d
        rho = rho_next
    return z


class ChebyshevJacobi:
    """Chebyshev–Jacobi polynomial preconditioner, built from products and a diagonal.

    Args:
        degree: polynomial steps (``degree - 1`` products per application).
        ratio: target interval ``[upper / ratio, upper]``; larger damps more of the
            low end of the spectrum per application.
        lanczos_steps: Lanczos steps of the eigenvalue bound.
        seed: seed of the Lanczos start vector.

    ``setup(A) -> apply`` works with anything that has ``A @ x`` and ``A.diagonal()``:
    a :class:`~femopt.solvers.matrix_free.MatrixFreeOperator` or an assembled matrix, so
    it plugs into :class:`~femopt.solvers.linear_iterative.CGSolver` too.
    """

    def __init__(self, degree: int = 4, *, ratio: float = 30.0, lanczos_steps: int = 20, seed: int = 0):
        if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
            raise InputError(f"degree must be a positive integer, got {degree!r}")
        if not np.isfinite(ratio) or ratio <= 1.0:
            raise InputError(f"ratio must be a number > 1 (target interval [upper/ratio, upper]), got {ratio!r}")
        self.degree = int(degree)
        self.ratio = float(ratio)
        self.lanczos_steps = int(lanczos_steps)
        self.seed = int(seed)
        self.upper = None

    def bounds(self, A, inverse_diagonal) -> tuple[float, float]:
        """Target interval ``(lower, upper)`` of ``D⁻¹A`` (also kept in ``self.upper``)."""
        self.upper = 1.1 * largest_ritz_value(lambda x: A @ x, inverse_diagonal, self.lanczos_steps, self.seed)
        return self.upper / self.ratio, self.upper

    def setup(self, A):
        """``r -> z`` on NumPy arrays ``(n,)`` for the operator or matrix ``A``."""
        inverse_diagonal = 1.0 / np.asarray(A.diagonal(), dtype=np.float64)
        lower, upper = self.bounds(A, inverse_diagonal)
        degree = self.degree
        return lambda r: chebyshev(lambda x: A @ x, np.asarray(r, dtype=np.float64).reshape(-1),
                                   inverse_diagonal, lower, upper, degree)

    def __repr__(self) -> str:
        return f"ChebyshevJacobi(degree={self.degree}, ratio={self.ratio})"


def pcg(product, precondition, b, *, rtol, maxiter):
    """Preconditioned CG from ``x = 0`` as a JAX ``while_loop`` (call it inside ``jit``).

    Args:
        product, precondition: ``x -> A x`` and ``r -> M⁻¹ r`` on JAX arrays ``(n,)``.
        b: right-hand side ``(n,)``.
        rtol: stop when ``|b - A x| <= rtol |b|``.
        maxiter: iteration limit.

    Returns:
        ``(x (n,), iterations, |b - A x| / |b|)``; the residual is CG's recurrence.
    """
    b_norm = jnp.linalg.norm(b)
    target = rtol * b_norm
    z = precondition(b)
    state = (jnp.zeros_like(b), b, z, z, b @ z, jnp.asarray(0))

    def keep_going(state):
        _, r, _, _, _, k = state
        return (jnp.linalg.norm(r) > target) & (k < maxiter)

    def step(state):
        x, r, _, p, rz, k = state
        Ap = product(p)
        alpha = rz / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        z = precondition(r)
        rz_next = r @ z
        p = z + (rz_next / rz) * p
        return x, r, z, p, rz_next, k + 1

    x, r, _, _, _, k = jax.lax.while_loop(keep_going, step, state)
    return x, k, jnp.linalg.norm(r) / jnp.where(b_norm > 0, b_norm, 1.0)
