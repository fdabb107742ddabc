"""Step-length choice for Newton's line search: on the residual merit phi = ½‖r‖², or on
the total potential energy of a variational problem."""
from __future__ import annotations

import numpy as np

__all__ = ["backtrack", "energy_backtrack"]


def backtrack(step, phi, previous, phi0):
    """Next trial step: minimizer of a quadratic / cubic model of phi, clipped to [0.1, 0.5]·step.

    Models use phi(0) = phi0 and phi'(0) = -2 phi0 (the Newton direction), the current trial
    (step, phi) and, when there is one, the previous finite trial (Dennis & Schnabel,
    Algorithm A6.3.1). A NaN/Inf trial just halves the step.
    """
    if not np.isfinite(phi):
        return 0.5 * step
    phi, phi0, step = np.float64(phi), np.float64(phi0), np.float64(step)
    slope = -2.0 * phi0
    with np.errstate(all="ignore"):
        if previous is None:
            curvature = phi - phi0 - slope * step
            trial = -slope * step**2 / (2.0 * curvature) if curvature > 0 else 0.5 * step
        else:
            step_prev, phi_prev = previous
            t1 = phi - phi0 - slope * step
            t2 = phi_prev - phi0 - slope * step_prev
            scale = 1.0 / (step - step_prev)
            cubic = scale * (t1 / step**2 - t2 / step_prev**2)
            quadratic = scale * (-step_prev * t1 / step**2 + step * t2 / step_prev**2)
            if cubic == 0.0:
                trial = -slope / (2.0 * quadratic)
            else:
                discriminant = quadratic**2 - 3.0 * cubic * slope
                trial = (-quadratic + np.sqrt(discriminant)) / (3.0 * cubic)
    if not np.isfinite(trial):
        trial = 0.5 * step
    return float(np.clip(trial, 0.1 * step, 0.5 * step))


def energy_backtrack(step, energy, energy0, slope):
    """Next trial step for the energy merit: the minimizer of the quadratic through E(0),
    E'(0) = ``slope`` < 0 and E(step) = ``energy``, clipped to [0.1, 0.5]·step; 0.1·step
    when the trial energy is NaN/Inf or the quadratic has no minimum."""
    curvature = energy - energy0 - slope * step
    if not (np.isfinite(energy) and curvature > 0):
        return 0.1 * step
    return float(np.clip(-slope * step**2 / (2.0 * curvature), 0.1 * step, 0.5 * step))
