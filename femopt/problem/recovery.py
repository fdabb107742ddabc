"""Quantities recovered at the nodes: one value per node of a field that the finite
element defines cell by cell (stress, strain, heat flux jump across cell boundaries).

Three methods, cheapest first:

* ``"average"``: the value at each cell's centre, averaged over the cells around a
  node, weighted by cell measure. O(h) at best, and biased at boundaries and corners,
  where a node sees only the cells on one side (the route of ``viz.cell_to_nodes``).
* ``"l2"``: the L2 projection onto the continuous nodal basis, M σ* = ∫ N σ_h dx with
  the consistent mass matrix M (factorized once, every component a column). Global and
  smooth; converges at the rate of σ_h itself.
* ``"spr"``: Zienkiewicz–Zhu superconvergent patch recovery (:mod:`.recovery_spr`): a
  local least-squares polynomial through the values at the superconvergent points of
  the cells around each vertex. One order better than σ_h on regular meshes, also at
  boundaries; the method to read stresses at nodes.

Shapes: values at the nodes ``(n_nodes, ...)``, the quantity's own shape last.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..fem.elements import reference_element
from ..fem.quadrature import quadrature
from ..mesh.quality import cell_measures
from ..solvers.linear import make_solver
from .quantities import compiled_values_at, reference_centre

__all__ = ["RECOVERY_METHODS", "recover", "average_to_nodes", "l2_projection"]

RECOVERY_METHODS = ("spr", "l2", "average")


def recover(problem, name: str, u, params, method: str = "spr") -> np.ndarray:
    """The quantity ``name`` of the field ``u (n_dofs,)`` at every node,
    ``(n_nodes, ...)``, by ``method`` (``"spr"``, ``"l2"`` or ``"average"``)."""
    if method not in RECOVERY_METHODS:
        raise InputError(f"method must be one of {RECOVERY_METHODS} (superconvergent patch recovery, "
                         f"L2 projection, cell-centre average), got {method!r}")
    if method == "spr":
        from .recovery_spr import patch_recovery

        return patch_recovery(problem, name, u, params)
    if method == "l2":
        return l2_projection(problem, name, u, params)
    mesh = problem.mesh
    centre = reference_centre(mesh.cell_type)
    element = reference_element(mesh.cell_type)
    values = compiled_values_at(problem, name, u, params, np.arange(mesh.n_cells),
                                element.shape_functions(centre), element.shape_gradients(centre))
    return average_to_nodes(mesh, values[:, 0])


def average_to_nodes(mesh, values) -> np.ndarray:
    """Per-cell values ``(n_cells, ...)`` averaged to the nodes, each cell weighted by its
    measure (length, area, volume); ``(n_nodes, ...)``. Nodes of no cell get 0."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0 or values.shape[0] != mesh.n_cells:
        raise InputError(f"expected per-cell values of shape ({mesh.n_cells}, ...), got shape {values.shape}")
    weights = np.abs(cell_measures(mesh.points, mesh.cells, mesh.cell_type))       # (n_cells,)
    nodes = mesh.cells.ravel()
    n_per_cell = mesh.cells.shape[1]
    weighted = np.repeat(weights[:, None] * values.reshape(mesh.n_cells, -1), n_per_cell, axis=0)
    total = np.zeros((mesh.n_nodes, weighted.shape[1]))
    np.add.at(total, nodes, weighted)
    weight_sum = np.bincount(nodes, weights=np.repeat(weights, n_per_cell), minlength=mesh.n_nodes)
    averaged = total / np.where(weight_sum > 0, weight_sum, 1.0)[:, None]
    return averaged.reshape((mesh.n_nodes,) + values.shape[1:])


def l2_projection(problem, name: str, u, params) -> np.ndarray:
    """L2 projection of the quantity onto the nodal basis: solve M σ* = ∫ N σ_h dx once
    with every component a right-hand side column. M is the consistent mass matrix of
    the mesh's own element, integrated exactly on affine cells (degree 2p); the
    solve goes through :mod:`femopt.solvers.linear`. Nodes of no cell get 0."""
    mesh = problem.mesh
    ct = mesh.cell_type
    element = reference_element(ct)
    rule = quadrature(ct, 2 * element.order)
    N, dN = element.shape_functions(rule.points), element.shape_gradients(rule.points)   # (q, n), (q, n, d)
    values = compiled_values_at(problem, name, u, params, np.arange(mesh.n_cells), N, dN)  # (m, q, ...)
    shape = values.shape[2:]
    values = values.reshape(mesh.n_cells, rule.n_points, -1)
    X = mesh.points[mesh.cells]
    jacobian = np.einsum("qaj,mai->mqij", dN, X)
    wJ = rule.weights * np.abs(np.linalg.det(jacobian))                                  # (m, q)
    local_mass = np.einsum("mq,qa,qb->mab", wJ, N, N)
    rows = np.repeat(mesh.cells, mesh.cells.shape[1], axis=1).ravel()
    cols = np.tile(mesh.cells, (1, mesh.cells.shape[1])).ravel()
    mass = sp.csr_matrix((local_mass.ravel(), (rows, cols)), shape=(mesh.n_nodes, mesh.n_nodes))
    rhs = np.zeros((mesh.n_nodes, values.shape[2]))
    np.add.at(rhs, mesh.cells.ravel(), np.einsum("mq,qa,mqk->mak", wJ, N, values).reshape(-1, values.shape[2]))
    used = np.unique(mesh.cells)
    out = np.zeros_like(rhs)
    factorization = make_solver("direct").factorize(mass[used][:, used].tocsr())
    out[used] = np.asarray(factorization.solve(rhs[used])).reshape(used.size, -1)
    return out.reshape((mesh.n_nodes,) + shape)
