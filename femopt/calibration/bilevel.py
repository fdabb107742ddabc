"""Choosing the prior's strength by a bilevel gradient.

The inner problem is the MAP point of ``F(m; α) = misfit(m) + α R(m)``, R the prior's
(or penalty's) cost of one unknown block and α its ``strength``; the outer objective
O(m) judges the result — by default the misfit of held-out observations, i.e. a second
:class:`~.calibration.Calibration` with the same unknowns and other experiments. At the
inner optimum ``∇_m F(m*, α) = 0``, so by implicit differentiation

    dm*/dα = −H⁻¹ ∇R(m*),      dO/dα = −wᵀ ∇R(m*),   H w = ∇O(m*),

H the Hessian of F at m* (symmetric). One solve with H by conjugate gradients on
Hessian-vector products, preconditioned by the prior's covariance (two linear PDE solves per experiment and product for
Gauss–Newton, three for the full Hessian); the tests check it against finite
differences of O with the inner problem re-solved.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.sparse.linalg import LinearOperator, cg

from ..errors import InputError, SolverError
from .posterior import _counts_since, find_map

__all__ = ["BilevelGradient", "prior_strength_gradient", "held_out_misfit"]


@dataclass
class BilevelGradient:
    """``value`` = O(m*), ``derivative`` = dO/dα (``log_derivative`` = dO/d ln α),
    ``cg_iterations``, and the PDE work (``counts``) of the Hessian solve."""

    value: float
    derivative: float
    strength: float
    cg_iterations: int
    counts: object

    @property
    def log_derivative(self) -> float:
        return self.strength * self.derivative


def held_out_misfit(outer):
    """O(m) = the data misfit of the calibration ``outer`` (held-out experiments, same
    unknowns), as ``m → (value, gradient)`` in the unknowns' coordinates."""
    def objective(m):
        value, g_p = outer.misfit_gradient_physical(m)
        return value, g_p * outer._transform_derivative(m)
    return objective


def prior_strength_gradient(calibration, m, objective, *, block: int = 0, hessian: str = "full",
                            rtol: float = 1e-10, max_iterations: int | None = None) -> BilevelGradient:
    """dO/dα at the inner MAP point ``m`` of ``calibration`` for α the strength of unknown
    block ``block``.

    Args:
        calibration: the inner problem, at its current strengths.
        m: its MAP point (``find_map(...).m``) — the formula holds only there.
        objective: ``m → (O, ∇O)`` (e.g. :func:`held_out_misfit`).
        hessian: ``"full"`` (exact) or ``"gauss-newton"`` (cheaper, approximate away
            from a zero-residual fit).
        rtol: relative tolerance of the conjugate-gradient solve ``H w = ∇O``.
    """
    if not 0 <= block < len(calibration.blocks):
        raise InputError(f"block must be 0 ... {len(calibration.blocks) - 1}, got {block!r}")
    m = np.asarray(m, dtype=np.float64)
    start = replace(calibration.counts)
    value, outer_gradient = objective(m)
    target = calibration.blocks[block]
    alpha = float(target.strength)
    if alpha <= 0:
        raise InputError(f"the block's strength must be > 0, got {alpha!r}")
    lo, hi = calibration.offsets[block], calibration.offsets[block + 1]
    prior_gradient = np.zeros(calibration.n)
    prior_gradient[lo:hi] = target.prior_gradient(m[lo:hi]) / alpha        # ∇R: the unscaled prior's
    operator = LinearOperator((calibration.n, calibration.n), dtype=np.float64,
                              matvec=lambda v: calibration.hessian_apply(m, np.ravel(v), kind=hessian))
    iterations = [0]

    def count(_):
        iterations[0] += 1

    _, covariance = calibration.preconditioner()         # the prior's covariance: mesh-independent CG
    preconditioner = LinearOperator((calibration.n, calibration.n), dtype=np.float64,
                                    matvec=lambda v: covariance(np.ravel(v)))
    w, info = cg(operator, np.asarray(outer_gradient, dtype=np.float64), rtol=rtol, atol=0.0,
                 maxiter=max_iterations or 10 * calibration.n, callback=count, M=preconditioner)
    if info != 0:
        raise SolverError(f"CG on the Hessian did not reach rtol = {rtol:g} in {iterations[0]} iterations: is m a "
                          "minimum of the inner problem (positive definite Hessian)?")
    return BilevelGradient(value=float(value), derivative=float(-w @ prior_gradient), strength=alpha,
                           cg_iterations=iterations[0], counts=_counts_since(calibration, start))


def inner_map(calibration, strength, *, block: int = 0, **options):
    """The inner MAP point at ``strength`` (sets the block's strength; ``options`` go to
    :func:`~.posterior.find_map`)."""
    calibration.blocks[block].strength = float(strength)
    return find_map(calibration, **options)
