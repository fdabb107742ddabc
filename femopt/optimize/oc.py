"""Optimality criteria with one constraint, as in the 88-line code (Andreassen et al. 2011).

The update is the fixed point of the KKT condition ∂f/∂x_e + λ ∂g/∂x_e = 0 for a
separable problem, with damping η and a move limit:

    B_e = max(0, −∂f/∂x_e) / (λ ∂g/∂x_e),
    x_e⁺ = clip(x_e B_e^η, max(lower, x_e − m), min(upper, x_e + m)),   m = move (upper − lower),

and the multiplier λ found by bisection so that g(x⁺) = 0 (top88: λ in [0, 10⁹],
stop when (λ₂ − λ₁)/(λ₁ + λ₂) ≤ 10⁻³). OC assumes ∂g/∂x > 0 (a volume-like constraint)
and ∂f/∂x ≤ 0 (more material helps, as for compliance).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .base import OptimizationError, Optimizer

__all__ = ["OC"]


class OC(Optimizer):
    """Optimality criteria for one volume-like constraint.

    Args:
        move: move limit as a fraction of (upper − lower) (top88: 0.2).
        damping: exponent η (top88: 0.5, the square root).
        bisection_tol: relative tolerance on λ (top88: 1e-3).
        lambda_max: upper end of the initial bisection bracket (top88: 1e9).
    """

    max_constraints = 1

    def __init__(self, move: float = 0.2, damping: float = 0.5, bisection_tol: float = 1e-3,
                 lambda_max: float = 1e9):
        if not 0 < move <= 1 or not 0 < damping <= 1 or not 0 < bisection_tol < 1 or not lambda_max > 0:
            raise InputError(f"OC needs 0 < move <= 1, 0 < damping <= 1, 0 < bisection_tol < 1 and "
                             f"lambda_max > 0; got move={move}, damping={damping}, "
                             f"bisection_tol={bisection_tol}, lambda_max={lambda_max}")
        self.move, self.damping = float(move), float(damping)
        self.bisection_tol, self.lambda_max = float(bisection_tol), float(lambda_max)

    def step(self, iteration, x, evaluation, lower, upper, state, constraint_values):
        if evaluation.g.size != 1:
            raise InputError(f"OC handles exactly one constraint, got {evaluation.g.size}; use method='mma'")
        dg = evaluation.dg[0]
        if np.any(dg <= 0):
            raise OptimizationError("OC needs a constraint increasing in every variable (dg/dx > 0), "
                                    f"found {int(np.sum(dg <= 0))} entries <= 0; use method='mma'")
        step = self.move * (upper - lower)
        low, high = np.maximum(lower, x - step), np.minimum(upper, x + step)
        descent = np.maximum(0.0, -evaluation.df) / dg
        g0, x_evaluated = evaluation.g[0], x

        def g_at(x_new):
            if constraint_values is not None:
                return float(constraint_values(x_new)[0])
            return float(g0 + dg @ (x_new - x_evaluated))  # linearized constraint

        return self.bisect(x, descent, low, high, g_at)

    def bisect(self, x, descent, low, high, constraint):
        """The OC update ``clip(x (descent / λ)^η, low, high)`` whose multiplier λ is
        bisected until ``constraint(x_new) ≤ 0`` is just met (``constraint`` may be a
        collective over MPI ranks: every rank then takes the same decisions)."""
        l1, l2 = 0.0, self.lambda_max
        x_new = x
        while (l2 - l1) / (l1 + l2) > self.bisection_tol:
            lmid = 0.5 * (l1 + l2)
            x_new = np.clip(x * (descent / lmid) ** self.damping, low, high)
            if constraint(x_new) > 0.0:
                l1 = lmid
            else:
                l2 = lmid
        return x_new
