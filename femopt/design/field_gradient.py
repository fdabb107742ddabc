"""Discrete gradients of a material field (one value per cell or per node), the raw
material of the regularizers in :mod:`femopt.design.regularization`.

A :class:`FieldGradient` samples the gradient of a field m linearly,

    g = D m,   g of shape (n_samples, k),      ∫ φ(∇m) dx ≈ Σ_s a_s φ(g_s),

with a weight a_s per sample, and samples the field itself for L2 terms,
∫ m² dx ≈ Σ_p w_p (V m)_p².

* Per-cell fields, :func:`cell_gradient`: one sample per interior facet f shared by cells
  i and j (found from the mesh topology, any cell type, structured or not): the
  difference quotient g_f = (m_j − m_i) / |δ_f| along the centroid offset δ_f = c_j − c_i
  (k = 1), weighted by a_f = |f| |δ_f · n_f| — ``dim`` times the volume of the
  "diamond" spanned by the facet and the two centroids. On an orthogonal grid (rectangles,
  boxes) δ_f is normal to f and Σ_f a_f g_f² is exactly ∫ |∇m|² for a linear field over the
  region between the outermost centroids (the two-point finite-volume flux); on other
  meshes it is the usual two-point approximation (it sees the gradient component along δ_f
  only). The field samples are the cell values with the cell volumes as weights.
* Per-node fields, :func:`node_gradient`: the finite-element gradient Σ_a m_a ∇N_a at
  the quadrature points of femopt's own element tables (k = dim), weighted by w_q det J_q;
  exact for any field the element reproduces. Field samples: N m at a rule of degree
  2 · order, so Σ w (V m)² = mᵀ M m with the consistent mass matrix.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from ..assembly.kernels import cell_tables, geometry
from ..errors import InputError
from ..fem.elements import reference_element
from ..fem.quadrature import quadrature
from ..mesh.quality import cell_measures
from ..mesh.topology import facet_corner_table, interior_facets

__all__ = ["FieldGradient", "cell_gradient", "node_gradient", "field_gradient", "KINDS"]

KINDS = ("cell", "node")


@dataclass(frozen=True)
class FieldGradient:
    """Linear samples of a field's gradient and of the field.

    Attributes:
        kind: ``"cell"`` or ``"node"``: where the field's values live.
        n_values: length of the field vector (cells or nodes).
        gradient: ``(n_samples * components, n_values)`` CSR; row ``s * components + k``
            is component k of the gradient at sample s.
        weights: ``(n_samples,)`` the volume each gradient sample stands for.
        components: gradient components per sample (1 for cells, dim for nodes).
        values: ``(n_points, n_values)`` CSR, the field at the points of the L2 integral.
        value_weights: ``(n_points,)`` quadrature weights of those points.
    """

    kind: str
    n_values: int
    gradient: sp.csr_matrix
    weights: np.ndarray
    components: int
    values: sp.csr_matrix
    value_weights: np.ndarray

    def samples(self, field) -> np.ndarray:
        """Gradient samples ``(n_samples, components)`` of a field ``(n_values,)``."""
        return (self.gradient @ field).reshape(-1, self.components)

    def pull_back(self, samples_bar) -> np.ndarray:
        """Dᵀ applied to cotangents of the samples ``(n_samples, components)``:
        ``(n_values,)``."""
        return self.gradient.T @ np.asarray(samples_bar).reshape(-1)


def cell_gradient(mesh) -> FieldGradient:
    """Facet difference quotients of a per-cell field (see the module docstring)."""
    pairs = interior_facets(mesh.cells, mesh.cell_type, mesh.n_nodes)
    if pairs.size == 0:
        raise InputError(f"the mesh has no interior facets ({mesh.n_cells} cell(s)): a per-cell "
                         "field has no gradient to regularize")
    centroids = mesh.cell_centroids()
    offset = centroids[pairs[:, 2]] - centroids[pairs[:, 0]]             # (n_facets, dim)
    distance = np.linalg.norm(offset, axis=1)
    corners = mesh.points[mesh.cells[pairs[:, :1], facet_corner_table(mesh.cell_type)[pairs[:, 1]]]]
    measure, normal = _facet_measure_and_normal(corners)
    weights = measure * np.abs(np.sum(offset * normal, axis=1))
    n, rows = len(pairs), np.repeat(np.arange(len(pairs)), 2)
    gradient = sp.csr_matrix((np.stack([-1.0 / distance, 1.0 / distance], axis=1).ravel(),
                              (rows, pairs[:, [0, 2]].ravel())), shape=(n, mesh.n_cells))
    volumes = np.abs(cell_measures(mesh.points, mesh.cells, mesh.cell_type))
    return FieldGradient("cell", mesh.n_cells, gradient, weights, 1,
                         sp.identity(mesh.n_cells, format="csr"), volumes)


def _facet_measure_and_normal(corners):
    """Measure ``(n,)`` and unit normal ``(n, dim)`` of facets given by their corner
    coordinates ``(n, n_corners, dim)`` (points in 1D, segments in 2D, triangles and
    quadrilaterals — through their diagonals — in 3D)."""
    n, n_corners, dim = corners.shape
    if dim == 1:
        return np.ones(n), np.ones((n, 1))
    if dim == 2:
        edge = corners[:, 1] - corners[:, 0]
        area_vector = np.stack([edge[:, 1], -edge[:, 0]], axis=1)
    elif n_corners == 3:
        area_vector = 0.5 * np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    else:
        area_vector = 0.5 * np.cross(corners[:, 2] - corners[:, 0], corners[:, 3] - corners[:, 1])
    measure = np.linalg.norm(area_vector, axis=1)
    return measure, area_vector / measure[:, None]


def node_gradient(mesh, *, quadrature_degree: int | None = None) -> FieldGradient:
    """Finite-element gradient of a per-node field at quadrature points.

    Args:
        mesh: any femopt mesh whose cells have the spatial dimension.
        quadrature_degree: of the gradient samples (default: the element's stiffness
            degree, exact for ∫|∇m|² on affine cells).
    """
    element = reference_element(mesh.cell_type)
    if element.dim != mesh.dim:
        raise InputError(f"{mesh.cell_type.name} cells in {mesh.dim}D: a per-node field gradient needs "
                         "cells of the full spatial dimension")
    degree = element.default_quadrature_degree if quadrature_degree is None else quadrature_degree
    X = jnp.asarray(mesh.points[mesh.cells])                          # (n_cells, n, dim)
    G, wJ = _gradients_and_weights(element, quadrature(mesh.cell_type, degree), X)
    n_cells, n_q, n, dim = G.shape
    rows = np.broadcast_to(np.arange(n_cells * n_q * dim).reshape(n_cells, n_q, 1, dim), G.shape)
    cols = np.broadcast_to(mesh.cells[:, None, :, None], G.shape)
    gradient = sp.csr_matrix((G.ravel(), (rows.ravel(), cols.ravel())), shape=(n_cells * n_q * dim, mesh.n_nodes))
    mass_rule = quadrature(mesh.cell_type, 2 * element.order)
    _, mass_weights = _gradients_and_weights(element, mass_rule, X)
    N = element.shape_functions(mass_rule.points)                       # (n_points, n)
    n_points = N.shape[0]
    values = sp.csr_matrix((np.broadcast_to(N, (n_cells, n_points, n)).ravel(),
                            (np.repeat(np.arange(n_cells * n_points), n),
                             np.broadcast_to(mesh.cells[:, None, :], (n_cells, n_points, n)).ravel())),
                           shape=(n_cells * n_points, mesh.n_nodes))
    return FieldGradient("node", mesh.n_nodes, gradient, wJ.ravel(), dim, values, mass_weights.ravel())


def _gradients_and_weights(element, rule, X):
    """Physical shape-function gradients ``(n_cells, q, n, dim)`` and weights ``(n_cells, q)``."""
    tables = cell_tables(element, rule)
    G, wJ = jax.jit(jax.vmap(lambda x: geometry(tables, x)))(X)
    return np.asarray(G), np.asarray(wJ)


def field_gradient(mesh, kind: str) -> FieldGradient:
    """:func:`cell_gradient` or :func:`node_gradient` by ``kind``."""
    if kind == "cell":
        return cell_gradient(mesh)
    if kind == "node":
        return node_gradient(mesh)
    raise InputError(f"kind must be one of {KINDS} (where the field's values live), got {kind!r}")
