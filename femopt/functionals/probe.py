"""Point evaluation: find the cell holding a point and its reference coordinates.

The search is NumPy, done once: candidate cells by bounding box, then Newton on the
isoparametric map x(ξ) = Σ N_a(ξ) X_a. The value at the point is Σ N_a(ξ) U_a — linear
in u, so its derivative is exact. The reference coordinates ξ are held fixed when node
coordinates change (the probe moves with the material).
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..fem.elements import reference_element

__all__ = ["PointProbe"]


def _inside(element, xi, tol=1e-9):
    if element.cell_type.family == "simplex":
        return bool(np.all(xi >= -tol) and xi.sum() <= 1 + tol)
    return bool(np.all(np.abs(xi) <= 1 + tol))


def _locate(mesh, element, x, tol=1e-9):
    X = mesh.points[mesh.cells[:, : mesh.cell_type.n_corners]]
    lo, hi = X.min(axis=1), X.max(axis=1)
    span = float(np.max(mesh.points.max(0) - mesh.points.min(0)))
    pad = 1e-9 * span
    candidates = np.flatnonzero(np.all((x >= lo - pad) & (x <= hi + pad), axis=1))
    centre = element.nodes.mean(axis=0)
    for cell in candidates:
        Xc = mesh.points[mesh.cells[cell]]
        xi = centre.copy()
        for _ in range(25):
            N = element.shape_functions(xi[None])[0]
            dN = element.shape_gradients(xi[None])[0]
            residual = N @ Xc - x
            J = Xc.T @ dN
            step = np.linalg.solve(J, residual)
            xi -= step
            if np.linalg.norm(step) < 1e-14:
                break
        if _inside(element, xi, tol) and np.linalg.norm(element.shape_functions(xi[None])[0] @ Xc - x) <= 1e-10 * max(span, 1.0):
            return cell, xi
    return None, None


class PointProbe:
    """Interpolation of a field at fixed points ``(m, dim)`` of a mesh."""

    def __init__(self, mesh, points):
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if points.shape[1] != mesh.dim:
            raise InputError(f"points must have shape (m, {mesh.dim}), got {points.shape}")
        element = reference_element(mesh.cell_type)
        cells, weights = [], []
        for k, x in enumerate(points):
            cell, xi = _locate(mesh, element, x)
            if cell is None:
                raise InputError(f"point {k} at {x.tolist()} is not inside the mesh")
            cells.append(cell)
            weights.append(element.shape_functions(xi[None])[0])
        self.points = points
        self.cells = np.asarray(cells)
        self.nodes = mesh.cells[self.cells]            # (m, n)
        self.weights = np.asarray(weights)             # (m, n)

    def values(self, problem, u):
        """Field values at the points, ``(m, n_components)``, in JAX."""
        c = problem.space.n_components
        U = jnp.reshape(u, (problem.mesh.n_nodes, c))[self.nodes]   # (m, n, c)
        return jnp.einsum("mn,mnc->mc", self.weights, U)
