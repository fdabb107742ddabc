"""Point evaluation: the cell holding a point and its shape-function values there.

The search is NumPy, done once (:func:`femopt.fem.locate.locate_points`: candidate cells
by bounding box, then Newton on the isoparametric map x(ξ) = Σ N_a(ξ) X_a). The value at
the point is Σ N_a(ξ) U_a — linear
in u, so its derivative is exact. The reference coordinates ξ are held fixed when node
coordinates change (the probe moves with the material).
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..fem.locate import locate_points

__all__ = ["PointProbe"]


class PointProbe:
    """Interpolation of a field at fixed points ``(m, dim)`` of a mesh."""

    def __init__(self, mesh, points):
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if points.shape[1] != mesh.dim:
            raise InputError(f"points must have shape (m, {mesh.dim}), got {points.shape}")
        self.points = points
        self.cells, self.nodes, self.weights = locate_points(mesh, points)   # (m,), (m, n), (m, n)

    def values(self, problem, u):
        """Field values at the points, ``(m, n_components)``, in JAX."""
        c = problem.space.n_components
        U = jnp.reshape(u, (problem.mesh.n_nodes, c))[self.nodes]   # (m, n, c)
        return jnp.einsum("mn,mnc->mc", self.weights, U)
