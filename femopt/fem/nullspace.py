"""The motions that cost no energy: rigid-body modes of elasticity, the constant of a
scalar field.

They are the null space of an unsupported stiffness matrix, so they serve twice: to say
which motions a set of supports leaves free (a singular tangent), and as the
near-null space that smoothed-aggregation AMG needs to converge fast on elasticity.
"""
from __future__ import annotations

import numpy as np

__all__ = ["rigid_body_modes", "mode_names"]

_AXES = "xyz"


def mode_names(n_components: int, dim: int) -> tuple[str, ...] | None:
    """Names of the columns of :func:`rigid_body_modes`; None when the field is neither
    scalar nor a displacement (``n_components == dim``)."""
    if n_components == 1:
        return ("uniform value",)
    if n_components != dim:
        return None
    if dim == 1:
        return ("translation x",)
    if dim == 2:
        return ("translation x", "translation y", "rotation about z")
    return ("translation x", "translation y", "translation z",
            "rotation about x", "rotation about y", "rotation about z")


def rigid_body_modes(points, n_components: int | None = None, *, center: bool = True) -> np.ndarray | None:
    """Zero-energy modes, node-major ``(n_nodes * n_components, k)``.

    Args:
        points: node coordinates ``(n_nodes, dim)``.
        n_components: field components (default ``dim``): 1 gives the constant
            (k = 1), ``dim`` the rigid-body modes (k = 1, 3, 6 in 1D, 2D, 3D).
        center: rotate about the centroid of ``points`` (better conditioned than the
            origin for a body far from it; spans the same space).

    Returns:
        The modes as columns (translations first, then rotations about x, y, z), or
        None when ``n_components`` is neither 1 nor ``dim``.
    """
    X = np.asarray(points, dtype=np.float64)
    n, dim = X.shape
    c = dim if n_components is None else int(n_components)
    if c == 1:
        return np.ones((n, 1))
    if c != dim:
        return None
    if center:
        X = X - X.mean(axis=0)
    if dim == 1:
        return np.ones((n, 1))
    if dim == 2:
        B = np.zeros((n, 2, 3))
        B[:, 0, 0] = B[:, 1, 1] = 1.0
        B[:, 0, 2], B[:, 1, 2] = -X[:, 1], X[:, 0]
        return B.reshape(2 * n, 3)
    B = np.zeros((n, 3, 6))
    B[:, 0, 0] = B[:, 1, 1] = B[:, 2, 2] = 1.0
    B[:, 1, 3], B[:, 2, 3] = -X[:, 2], X[:, 1]          # rotation about x: (0, -z, y)
    B[:, 0, 4], B[:, 2, 4] = X[:, 2], -X[:, 0]          # rotation about y: (z, 0, -x)
    B[:, 0, 5], B[:, 1, 5] = -X[:, 1], X[:, 0]          # rotation about z: (-y, x, 0)
    return B.reshape(3 * n, 6)
