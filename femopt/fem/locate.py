"""Where a point lies in a mesh: the cell holding it and the shape-function values there.

Candidates by bounding box, then Newton on the isoparametric map ``x(ξ) = Σ N_a(ξ) X_a``
inside each candidate; the first whose ξ lies in the reference cell wins (a point on a
shared facet belongs to either cell: the field is continuous there). A field's value at
the point is then ``Σ_a N_a(ξ) u[nodes[a]]``.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .elements import reference_element

__all__ = ["locate_points"]

_NEWTON_STEPS = 25


def locate_points(mesh, points, tol: float = 1e-9):
    """The cells holding ``points`` and the shape functions at them.

    Args:
        mesh: the mesh.
        points: ``(dim,)`` or ``(m, dim)``.
        tol: how far outside the reference cell (in ξ) a point may lie and still count.

    Returns:
        ``(cells (m,), nodes (m, n_nodes_per_cell), weights (m, n_nodes_per_cell))``: a
        field ``u (n_nodes, ...)`` has the values ``Σ_a weights[:, a] u[nodes[:, a]]``.

    Raises:
        InputError: a point has the wrong dimension or lies outside the mesh.
    """
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if points.ndim != 2 or points.shape[1] != mesh.dim:
        raise InputError(f"points must have shape ({mesh.dim},) or (m, {mesh.dim}), got {np.shape(points)}")
    element = reference_element(mesh.cell_type)
    corners = mesh.points[mesh.cells[:, :mesh.cell_type.n_corners]]
    low, high = corners.min(axis=1), corners.max(axis=1)
    span = max(float(np.max(np.ptp(mesh.points, axis=0))), 1.0)
    cells, weights = [], []
    for k, x in enumerate(points):
        found = _locate(mesh, element, x, low, high, span, tol)
        if found is None:
            raise InputError(f"point {k} at {x.tolist()} is not inside the mesh (bounding box "
                             f"{mesh.points.min(axis=0).tolist()} .. {mesh.points.max(axis=0).tolist()})")
        cells.append(found[0])
        weights.append(found[1])
    cells = np.asarray(cells, dtype=np.int64)
    return cells, mesh.cells[cells], np.asarray(weights)


def _locate(mesh, element, x, low, high, span, tol):
    pad = 1e-9 * span
    candidates = np.flatnonzero(np.all((x >= low - pad) & (x <= high + pad), axis=1))
    for cell in candidates:
        X = mesh.points[mesh.cells[cell]]
        xi = element.nodes.mean(axis=0)
        for _ in range(_NEWTON_STEPS):
            N = element.shape_functions(xi[None])[0]
            step = np.linalg.solve(X.T @ element.shape_gradients(xi[None])[0], N @ X - x)
            xi = xi - step
            if np.linalg.norm(step) < 1e-14:
                break
        N = element.shape_functions(xi[None])[0]
        if _inside(element, xi, tol) and np.linalg.norm(N @ X - x) <= 1e-10 * span:
            return cell, N
    return None


def _inside(element, xi, tol) -> bool:
    if element.cell_type.family == "simplex":
        return bool(np.all(xi >= -tol) and xi.sum() <= 1.0 + tol)
    return bool(np.all(np.abs(xi) <= 1.0 + tol))
