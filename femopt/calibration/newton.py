"""Inexact Newton-CG in a trust region, preconditioned by the prior.

Each step approximately minimizes the quadratic model ``gᵀp + ½ pᵀ H p`` inside the trust
region ``‖p‖_P ≤ Δ`` by the Steihaug–Toint conjugate-gradient method (Steihaug 1983;
Nocedal & Wright, Numerical Optimization, 2nd ed., Alg. 7.2), with ``H`` applied by
Hessian-vector products and the preconditioner ``P⁻¹`` the prior's covariance: in the
prior's norm the misfit Hessian's large eigenvalues are the few data-informed
directions, so CG needs about as many iterations as there are of them, whatever the
mesh (Bui-Thanh et al. 2013 use the same preconditioner). CG stops at negative
curvature, at the boundary, or at the Eisenstat–Walker-like tolerance
``min(0.5, √(|g| / |g₀|)) |g|``. The radius follows the ratio of actual to predicted
reduction. Without a Gaussian prior (a penalty) P is the identity.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

__all__ = ["TrustRegionResult", "trust_region_newton_cg"]

_log = logging.getLogger("femopt.calibration")


@dataclass
class TrustRegionResult:
    x: np.ndarray
    fun: float
    jac: np.ndarray
    nit: int
    cg_iterations: int
    success: bool
    message: str


def _to_boundary(p, d, P_apply, radius):
    """τ ≥ 0 with ‖p + τ d‖_P = radius."""
    Pd = P_apply(d)
    a, b, c = d @ Pd, 2.0 * (p @ Pd), p @ P_apply(p) - radius**2
    return (-b + np.sqrt(max(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)


def _steihaug(g, hessp, P_apply, P_inverse, radius, tolerance, max_iterations):
    """(step p, H p, CG iterations, why it stopped)."""
    p, Hp = np.zeros_like(g), np.zeros_like(g)
    r = g.copy()
    z = P_inverse(r)
    d = -z
    rz = r @ z
    for j in range(max_iterations):
        Hd = hessp(d)
        curvature = d @ Hd
        if curvature <= 0.0:
            tau = _to_boundary(p, d, P_apply, radius)
            return p + tau * d, Hp + tau * Hd, j + 1, "negative curvature"
        alpha = rz / curvature
        trial = p + alpha * d
        if np.sqrt(trial @ P_apply(trial)) >= radius:
            tau = _to_boundary(p, d, P_apply, radius)
            return p + tau * d, Hp + tau * Hd, j + 1, "boundary"
        p, Hp = trial, Hp + alpha * Hd
        r = r + alpha * Hd
        if np.linalg.norm(r) <= tolerance:
            return p, Hp, j + 1, "converged"
        z = P_inverse(r)
        rz_new = r @ z
        d = -z + (rz_new / rz) * d
        rz = rz_new
    return p, Hp, max_iterations, "max CG iterations"


def trust_region_newton_cg(fun, x0, hessp, *, P_apply=None, P_inverse=None, gtol=1e-8, max_iterations=200,
                           radius=None, max_cg=None, ftol=1e-13) -> TrustRegionResult:
    """Minimize ``fun(x) -> (value, gradient)`` with Hessian products ``hessp(x, v)``.

    Args:
        P_apply, P_inverse: the preconditioner's matrix P (the trust region's norm) and
            its inverse (applied to the gradient in CG); default the identity.
        gtol: stop when ``|g| <= gtol``.
        ftol: also stop when the model's predicted decrease is below ``ftol |F|``: F
            comes from states converged to Newton's tolerance, and a smaller decrease
            cannot be told from its round-off.
        radius: initial trust radius in the P-norm (default ``√n``: about one prior
            standard deviation per unknown).
    """
    identity = (lambda v: v)
    P_apply, P_inverse = P_apply or identity, P_inverse or identity
    x = np.array(x0, dtype=np.float64)
    n = x.size
    value, g = fun(x)
    g0 = max(float(np.linalg.norm(g)), 1e-300)
    radius = float(radius or np.sqrt(n))
    total_cg = 0
    for k in range(max_iterations):
        gnorm = float(np.linalg.norm(g))
        if gnorm <= gtol:
            return TrustRegionResult(x, value, g, k, total_cg, True, f"|grad| = {gnorm:.3e} <= gtol = {gtol:.1e}")
        tolerance = min(0.5, np.sqrt(gnorm / g0)) * gnorm
        p, Hp, iterations, why = _steihaug(g, lambda v: hessp(x, v), P_apply, P_inverse, radius, tolerance,
                                           max_cg or 2 * n + 20)
        total_cg += iterations
        predicted = -(g @ p + 0.5 * (p @ Hp))
        if predicted <= ftol * max(1.0, abs(value)):
            return TrustRegionResult(x, value, g, k, total_cg, True,
                                     f"the model predicts a decrease of {predicted:.2e}, below ftol |F| (F is computed "
                                     f"from converged states to about that accuracy); |grad| = {gnorm:.3e}")
        trial_value, trial_g = fun(x + p)
        actual = value - trial_value
        ratio = actual / predicted if predicted > 0 else -1.0
        step = float(np.sqrt(p @ P_apply(p)))
        if not np.isfinite(trial_value) or ratio < 0.25:
            radius = 0.25 * step
        elif ratio > 0.75 and why in ("boundary", "negative curvature"):
            radius = 2.0 * radius
        _log.debug("Newton-CG %d: F = %.6g, |g| = %.3e, CG %d (%s), ratio %.3f, radius %.3e", k, value, gnorm,
                   iterations, why, ratio, radius)
        if np.isfinite(trial_value) and ratio > 0.1:
            x, value, g = x + p, trial_value, trial_g
        if radius < 1e-14 * max(1.0, float(np.sqrt(x @ P_apply(x)))):
            return TrustRegionResult(x, value, g, k + 1, total_cg, False,
                                     "the trust region collapsed: no step reduces F (gradient or Hessian inexact?)")
    return TrustRegionResult(x, value, g, max_iterations, total_cg, False,
                             f"stopped at max_iterations = {max_iterations} (|grad| = {np.linalg.norm(g):.3e})")
