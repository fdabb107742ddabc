"""Superconvergent patch recovery (Zienkiewicz & Zhu, Int. J. Numer. Meth. Eng. 33
(1992) 1331–1364): nodal values of a quantity by local least-squares fits.

For every vertex (corner) node v away from the boundary, the *patch* is the cells that
hold v. Through the quantity's values at the superconvergent sampling points of those
cells — the Gauss points of the reduced rule: ``order`` points per direction on
quadrilaterals and hexahedra (the centre of a quad4/hex8, the 2x2(x2) points of the
quadratic cells), the degree-``order`` rule on triangles and tetrahedra — goes the
least-squares complete polynomial of the element's degree p in physical coordinates
(P1 for linear cells, P2 for quadratic ones, whatever their shape), centred at v and
scaled by the patch size; see :func:`polynomial_exponents` for why not the element's
own tensor space. Every component is fitted at once.

Which patch gives a node its value:

* an interior vertex: its own patch's polynomial at v (the classic recovery);
* every other node — vertices on the boundary, mid-side, face and centre nodes of
  quadratic cells: the mean of the polynomials of all interior-vertex patches whose
  cells hold it, evaluated there (Zienkiewicz–Zhu's treatment of boundary and
  mid-side nodes; a boundary corner in one cell takes its value from the patch of the
  interior vertex across that cell);
* a node that no interior patch covers (meshes one or two cells thick): a patch grown
  around the node itself by layers of neighbouring cells until the fit is determined,
  falling back to lower degrees (linear, then constant) on the coarsest meshes.

A quantity that is a polynomial of degree p is recovered exactly; so is the
constant stress of a patch test, at every node.
"""
from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

from ..fem.elements import reference_element
from ..fem.quadrature import quadrature
from .quantities import compiled_values_at

__all__ = ["patch_recovery", "sampling_rule", "polynomial_exponents"]

_RANK_TOLERANCE = 1e-8
_MAX_LAYERS = 4


def sampling_rule(cell_type):
    """The superconvergent sampling points of a cell type: the Gauss rule with ``order``
    points per direction on tensor cells, the degree-``order`` rule on simplices."""
    degree = 2 * cell_type.order - 1 if cell_type.family == "tensor" else cell_type.order
    return quadrature(cell_type, degree)


def polynomial_exponents(cell_type) -> np.ndarray:
    """Exponents ``(n_terms, dim)`` of the complete polynomials of degree ``order`` (P1
    for linear cells, P2 for quadratic ones), the constant first. Complete polynomials
    do not depend on how the patch is turned: the tensor spaces of quads and hexes
    (1, x, y, xy) do, and lose rank on a patch turned by 45° (xy vanishes at its four
    sampling points)."""
    d, p = cell_type.dim, cell_type.order
    every = [np.array(e) for e in itertools.product(range(p + 1), repeat=d)]
    return np.array([e for e in every if e.sum() <= p], dtype=np.int64)


def _monomials(local, exponents):
    """Monomials ``(..., n_terms)`` at local coordinates ``(..., dim)``."""
    return np.prod(local[..., None, :] ** exponents, axis=-1)


def _fit(A, b):
    """Least squares ``A c = b`` for stacks: A (g, P, T), b (g, P, K) → coefficients
    (g, T, K) and whether each fit is determined (full column rank)."""
    g, n_points, n_terms = A.shape
    if n_points < n_terms:
        return np.zeros((g, n_terms, b.shape[2])), np.zeros(g, dtype=bool)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    ok = s[:, -1] > _RANK_TOLERANCE * s[:, 0]
    projected = np.einsum("gpt,gpk->gtk", U, b) / np.where(ok[:, None], s, 1.0)[:, :, None]
    return np.einsum("gtu,gtk->guk", Vt, projected), ok


def patch_recovery(problem, name: str, u, params) -> np.ndarray:
    """Nodal values ``(n_nodes, ...)`` of the quantity ``name`` by superconvergent patch
    recovery (see the module docstring). Nodes of no cell get 0."""
    mesh = problem.mesh
    ct = mesh.cell_type
    element = reference_element(ct)
    rule = sampling_rule(ct)
    N, dN = element.shape_functions(rule.points), element.shape_gradients(rule.points)
    values = compiled_values_at(problem, name, u, params, np.arange(mesh.n_cells), N, dN)   # (m, q, ...)
    shape = values.shape[2:]
    values = values.reshape(mesh.n_cells, rule.n_points, -1)
    samples = np.einsum("qa,mai->mqi", N, mesh.points[mesh.cells])                          # (m, q, d)
    exponents = polynomial_exponents(ct)

    n_corners = ct.n_corners
    corners = mesh.cells[:, :n_corners]
    vertex_cells = sp.csr_matrix((np.ones(corners.size), (corners.ravel(), np.repeat(np.arange(mesh.n_cells),
                                                                                    n_corners))),
                                 shape=(mesh.n_nodes, mesh.n_cells))
    vertex_cells.sort_indices()
    boundary = np.unique(mesh.facet_nodes(mesh.boundary_facets()))
    interior = np.setdiff1d(np.unique(corners), boundary)

    total = np.zeros((mesh.n_nodes, values.shape[2]))
    count = np.zeros(mesh.n_nodes)
    own = np.full(mesh.n_nodes, np.nan)
    own_values = np.zeros_like(total)
    sizes = np.diff(vertex_cells.indptr)[interior]
    for size in np.unique(sizes):
        vertices = interior[sizes == size]
        patches = vertex_cells.indices[vertex_cells.indptr[vertices][:, None] + np.arange(size)]   # (g, size)
        centre = mesh.points[vertices]                                                         # (g, d)
        points = samples[patches].reshape(len(vertices), -1, mesh.dim) - centre[:, None, :]
        scale = np.max(np.linalg.norm(points, axis=2), axis=1)                                # (g,)
        coefficients, ok = _fit(_monomials(points / scale[:, None, None], exponents),
                                values[patches].reshape(len(vertices), -1, values.shape[2]))
        # the vertex itself: the constant term of its own polynomial (centred there)
        own[vertices[ok]] = 1.0
        own_values[vertices[ok]] = coefficients[ok, 0]
        # every node of the patch's cells: mean over the covering patches
        keys = np.unique(np.arange(len(vertices))[:, None] * mesh.n_nodes
                         + mesh.cells[patches].reshape(len(vertices), -1))
        patch, node = np.divmod(keys, mesh.n_nodes)
        keep = ok[patch]
        patch, node = patch[keep], node[keep]
        local = (mesh.points[node] - centre[patch]) / scale[patch][:, None]
        estimate = np.einsum("et,etk->ek", _monomials(local, exponents), coefficients[patch])
        np.add.at(total, node, estimate)
        np.add.at(count, node, 1.0)

    recovered = total / np.where(count > 0, count, 1.0)[:, None]
    has_own = ~np.isnan(own)
    recovered[has_own] = own_values[has_own]
    uncovered = np.setdiff1d(np.unique(mesh.cells), np.flatnonzero(count > 0))
    if uncovered.size:
        recovered[uncovered] = _grown_patches(mesh, uncovered, samples, values, exponents)
    return recovered.reshape((mesh.n_nodes,) + shape)


def _grown_patches(mesh, nodes, samples, values, exponents) -> np.ndarray:
    """Values ``(len(nodes), K)`` at nodes no interior patch covers, each from a patch
    grown around the node itself: its cells, then layers of neighbours, until the fit
    is determined; on the coarsest meshes a linear, then a constant fit."""
    node_cells = sp.csr_matrix((np.ones(mesh.cells.size), (mesh.cells.ravel(),
                                                            np.repeat(np.arange(mesh.n_cells), mesh.cells.shape[1]))),
                               shape=(mesh.n_nodes, mesh.n_cells))
    linear = exponents[exponents.sum(axis=1) <= 1]
    out = np.zeros((len(nodes), values.shape[2]))
    for k, node in enumerate(nodes):
        cells = node_cells[node].indices
        for layer in range(_MAX_LAYERS + 1):
            result = _fit_at(mesh.points[node], samples[cells], values[cells], (exponents,) if layer < _MAX_LAYERS
                             else (exponents, linear, exponents[:1]))
            if result is not None:
                out[k] = result
                break
            cells = np.unique(node_cells[np.unique(mesh.cells[cells])].indices)
    return out


def _fit_at(x, samples, values, bases):
    """The first determined fit among ``bases`` through ``samples (c, q, d)``, evaluated
    at ``x`` (the fit is centred there); None if none is determined."""
    points = samples.reshape(-1, samples.shape[-1]) - x
    scale = max(float(np.max(np.linalg.norm(points, axis=1))), 1e-300)
    for exponents in bases:
        coefficients, ok = _fit(_monomials(points / scale, exponents)[None],
                                values.reshape(1, -1, values.shape[-1]))
        if ok[0]:
            return coefficients[0, 0]
    return None
