"""B-spline bases on [0, 1] for shape parametrizations (written here in NumPy, Cox–de Boor).

A clamped, open uniform B-spline of degree p with n control points has the knots

    0 (p + 1 times), 1/(n − p), 2/(n − p), …, (n − p − 1)/(n − p), 1 (p + 1 times),

so the curve starts at the first control point and ends at the last. With n = p + 1 there
are no interior knots and the basis is Bernstein's (a Bézier curve). The basis is a
partition of unity, non-negative, and reproduces linear functions when the control points
sit at the Greville abscissae ξ_j = (t_{j+1} + … + t_{j+p}) / p:  Σ_j N_j(s) ξ_j = s.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["clamped_knots", "bspline_basis", "greville_abscissae", "check_degree"]


def check_degree(n_control, degree, what: str = "B-spline") -> tuple[int, int]:
    """Validated ``(n_control, degree)``: degree >= 1 and n_control >= degree + 1."""
    if isinstance(n_control, bool) or not isinstance(n_control, (int, np.integer)):
        raise InputError(f"{what}: the number of control points must be an integer, got {n_control!r}")
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise InputError(f"{what}: degree must be an integer >= 1, got {degree!r}")
    if n_control < degree + 1:
        raise InputError(f"{what}: degree {degree} needs at least {degree + 1} control points "
                         f"(degree <= n - 1), got n = {n_control}; lower the degree or add control points")
    return int(n_control), int(degree)


def clamped_knots(n_control: int, degree: int) -> np.ndarray:
    """Knot vector ``(n_control + degree + 1,)`` of the clamped open uniform B-spline."""
    interior = np.arange(1, n_control - degree) / (n_control - degree)
    return np.concatenate([np.zeros(degree + 1), interior, np.ones(degree + 1)])


def greville_abscissae(n_control: int, degree: int) -> np.ndarray:
    """Parameters ``(n_control,)`` at which the control points sit for linear precision."""
    knots = clamped_knots(n_control, degree)
    return np.array([knots[j + 1: j + degree + 1].mean() for j in range(n_control)])


def bspline_basis(s, n_control: int, degree: int) -> np.ndarray:
    """Values of the clamped B-spline basis at the parameters ``s (n,)`` in [0, 1].

    Cox–de Boor recursion, vectorized over the points; 0/0 terms (repeated knots) are 0.
    At s = 1 the last basis function is 1 (the half-open spans are closed on the right).

    Returns:
        ``(n, n_control)``; every row sums to 1.
    """
    s = np.asarray(s, dtype=np.float64)
    knots = clamped_knots(n_control, degree)
    # Degree 0: the indicator of the span [t_i, t_{i+1}) holding s; the last non-empty span
    # (index n_control - 1) also holds s = 1.
    span = np.clip(np.searchsorted(knots, s, side="right") - 1, degree, n_control - 1)
    N = np.zeros((s.size, knots.size - 1))
    N[np.arange(s.size), span] = 1.0
    for k in range(1, degree + 1):
        left, right = knots[:-k - 1], knots[k:-1]         # t_i, t_{i+k}
        left1, right1 = knots[1:-k], knots[k + 1:]        # t_{i+1}, t_{i+k+1}
        width, width1 = right - left, right1 - left1
        a = np.divide(s[:, None] - left, width, out=np.zeros((s.size, width.size)), where=width > 0)
        b = np.divide(right1 - s[:, None], width1, out=np.zeros((s.size, width.size)), where=width1 > 0)
        N = a * N[:, :-1] + b * N[:, 1:]
    return N
