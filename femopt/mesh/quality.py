"""Cell quality on the corner-node (linear) geometry: corner Jacobians, inverted and
degenerate cells, cell measures.

Only corners are checked, also for quadratic cells: a quadratic cell whose corners are
valid can still fold if a mid-edge node is far off, which these checks do not see.

The "corner Jacobian" of a cell at one of its corners is the determinant of the edge
vectors leaving that corner along the reference axes (for simplices: the edges from
corner 0, the same at every corner). It equals the Jacobian of the corner-node map at
that corner up to a positive factor, so its sign tells orientation: positive for a
counterclockwise triangle or quad, and for tets and hexes in VTK ordering.
"""
from __future__ import annotations

import math

import numpy as np

from ._ids import describe_ids
from .cell_types import CellType, cell_type as _lookup
from .reference import reference_nodes
from ..errors import MeshError

__all__ = ["corner_jacobians", "cell_jacobian_signs", "inverted_cells", "degenerate_cells",
           "cell_measures", "check_cells", "corner_edge_pairs", "unit_scaled"]

DEGENERATE_RTOL = 1e-12
# check_cells works through the cells in chunks of this many: its temporaries (about 450
# bytes per hex8 cell) stay a few MiB instead of several times the mesh; smaller chunks
# are also faster (they stay in cache).
CHECK_CHUNK = 1 << 13


def unit_scaled(points: np.ndarray) -> tuple[np.ndarray, float]:
    """``(points / scale, scale)``: for coordinates of extreme magnitude (largest beyond
    ``2**±100``) the points divided by a power of two that brings the largest near 1, else
    the points themselves and 1.0.

    The checks are invariant to scale, but their arithmetic is not: 3x3 Jacobians and
    squared distances overflow to Inf / NaN (an inverted cell then passes unseen, and
    SciPy's KD-tree refuses the points) above ~1e100, and underflow to 0 (every cell
    "degenerate") below ~1e-100. A power of two scales exactly; the usual mesh is not
    copied."""
    largest = max(float(points.max()), -float(points.min())) if points.size else 0.0  # no |points| copy
    if largest == 0.0 or 2.0 ** -100 <= largest <= 2.0 ** 100:
        return points, 1.0
    scale = 2.0 ** math.frexp(largest)[1]
    return points / scale, scale


def _corner_edges(ctype: CellType) -> np.ndarray:
    """``(n_corners, dim, 2)`` local node ids ``(head, tail)`` of the edge vector that
    forms row ``k`` of the corner Jacobian at each corner."""
    d, nc = ctype.dim, ctype.n_corners
    edges = np.zeros((nc, d, 2), dtype=np.int64)
    if ctype.family == "simplex":
        edges[:, :, 0] = np.arange(1, d + 1)
        return edges
    ref = reference_nodes(ctype)[:nc]
    for c in range(nc):
        for k in range(d):
            flipped = ref[c].copy()
            flipped[k] = -flipped[k]
            partner = int(np.flatnonzero(np.all(ref == flipped, axis=1))[0])
            edges[c, k] = (c, partner) if ref[c, k] > 0 else (partner, c)
    return edges


def corner_edge_pairs(ctype: CellType) -> np.ndarray:
    """The edges between corners of a cell, ``(n_edges, 2)`` local node ids: every corner
    pair for simplices, the edges along the reference axes for quads and hexes."""
    edges = _corner_edges(ctype).reshape(-1, 2)
    if ctype.family == "simplex":
        edges = np.array([(a, b) for a in range(ctype.n_corners) for b in range(a + 1, ctype.n_corners)],
                         dtype=np.int64)
    return np.unique(np.sort(edges, axis=1), axis=0)


def _determinant(M) -> np.ndarray:
    """Determinant of a d x d nested list of equally shaped arrays (d = 1, 2, 3), written
    out: elementwise on contiguous arrays it beats ``np.linalg.det`` on millions of tiny
    matrices."""
    if len(M) == 1:
        return M[0][0]
    if len(M) == 2:
        return M[0][0] * M[1][1] - M[0][1] * M[1][0]
    return (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1])
            - M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0])
            + M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0]))


def _measure_of_rows(rows) -> np.ndarray:
    """Signed determinant of the d x dim nested list ``rows`` when square, else the
    unsigned ``sqrt(det(J J^T))`` (a surface or line embedded in a higher dimension)."""
    if len(rows) == len(rows[0]):
        return _determinant(rows)
    gram = [[sum(ri * rj for ri, rj in zip(row_i, row_j)) for row_j in rows] for row_i in rows]
    return np.sqrt(np.maximum(_determinant(gram), 0.0))


def corner_jacobians(points: np.ndarray, cells: np.ndarray, cell_type) -> np.ndarray:
    """Corner Jacobians of every cell, shape ``(n_cells, n_corners)``.

    Signed when the spatial dimension equals the cell dimension; for cells embedded in
    a higher dimension (a surface mesh in 3D) the unsigned measure.

    Args:
        points: ``(n_nodes, dim)`` float coordinates.
        cells: ``(n_cells, n_nodes_per_cell)`` node ids.
        cell_type: a :class:`CellType` or its name.
    """
    ctype = _lookup(cell_type)
    points, cells = np.asarray(points), np.asarray(cells)
    edges = _corner_edges(ctype)
    # coords[c][a]: coordinate a of corner c of every cell, contiguous (n_cells,).
    coords = [[points[:, a][cells[:, c]] for a in range(points.shape[1])]
              for c in range(ctype.n_corners)]
    jac = np.empty((len(cells), ctype.n_corners))
    for c in range(ctype.n_corners):
        rows = [[xh - xt for xh, xt in zip(coords[head], coords[tail])] for head, tail in edges[c]]
        jac[:, c] = _measure_of_rows(rows)
    return jac


def cell_jacobian_signs(mesh) -> np.ndarray:
    """Signs (-1, 0, +1) of the corner Jacobians of a mesh, ``(n_cells, n_corners)`` int8.

    For cells embedded in a higher dimension the sign is +1 (0 where degenerate):
    orientation is not defined there.
    """
    return np.sign(corner_jacobians(mesh.points, mesh.cells, mesh.cell_type)).astype(np.int8)


def inverted_cells(points: np.ndarray, cells: np.ndarray, cell_type) -> np.ndarray:
    """Ids of the cells with a negative corner Jacobian at some corner (clockwise 2D
    cells, inside-out 3D cells, and non-convex quads / twisted hexes), sorted int64.
    Empty when the cells are embedded in a higher dimension."""
    jac = corner_jacobians(points, cells, cell_type)
    return np.flatnonzero(np.any(jac < 0.0, axis=1)).astype(np.int64)


def _degenerate(points, cells, ctype: CellType, jac: np.ndarray, rtol: float) -> np.ndarray:
    corners = np.asarray(cells)[:, : ctype.n_corners]
    size = np.zeros(len(corners))
    for axis in range(np.asarray(points).shape[1]):
        x = np.asarray(points)[:, axis][corners]  # (n_cells, n_corners)
        size = np.maximum(size, x.max(axis=1) - x.min(axis=1))
    tol = rtol * size ** ctype.dim
    return np.flatnonzero(np.any(np.abs(jac) <= tol[:, None], axis=1)).astype(np.int64)


def degenerate_cells(points: np.ndarray, cells: np.ndarray, cell_type,
                     rtol: float = DEGENERATE_RTOL) -> np.ndarray:
    """Ids of the cells whose corner Jacobian is below ``rtol * h**dim`` in magnitude at
    some corner, where ``h`` is the largest extent of the cell's corners along an axis
    (collapsed edges, flat triangles and tets, three collinear quad corners). Sorted int64."""
    ctype = _lookup(cell_type)
    return _degenerate(points, cells, ctype, corner_jacobians(points, cells, ctype), rtol)


def cell_measures(points: np.ndarray, cells: np.ndarray, cell_type) -> np.ndarray:
    """Length, area or volume of each cell's corner-node geometry, ``(n_cells,)``.

    Exact for linear cells and for quadratic cells with straight edges and mid-edge
    nodes at the midpoints. Signed (negative for inverted cells) when the spatial
    dimension equals the cell dimension, unsigned for embedded cells.
    """
    ctype = _lookup(cell_type)
    X = np.asarray(points)[np.asarray(cells)[:, : ctype.n_corners]]  # (n_cells, n_corners, dim)
    d = ctype.dim
    if ctype.family == "simplex":
        J = X[:, 1: d + 1] - X[:, :1]  # (n_cells, d, dim)
        return _measure_of_rows(_nested(J)) / math.factorial(d)
    # Bi/trilinear map: 2^d Gauss points (weights 1) integrate its Jacobian exactly.
    ref = reference_nodes(ctype)[: ctype.n_corners]  # (n_corners, d)
    gauss = np.array(np.meshgrid(*[[-1.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T / math.sqrt(3.0)
    factors = 1.0 + gauss[:, None, :] * ref[None, :, :]  # (n_gauss, n_corners, d)
    dN = np.empty_like(factors)
    for k in range(d):
        others = np.prod(np.delete(factors, k, axis=2), axis=2)
        dN[:, :, k] = ref[None, :, k] * others / 2 ** d
    J = np.einsum("gck,ncx->ngkx", dN, X)  # (n_cells, n_gauss, d, dim)
    return _measure_of_rows(_nested(J)).sum(axis=1)


def _nested(J: np.ndarray) -> list:
    """``(..., d, dim)`` -> d x dim nested list of ``(...)`` arrays."""
    return [[J[..., i, a] for a in range(J.shape[-1])] for i in range(J.shape[-2])]


def check_cells(points: np.ndarray, cells: np.ndarray, cell_type) -> None:
    """Raise :class:`MeshError` listing the inverted cells, else the degenerate ones.

    Works in chunks of ``CHECK_CHUNK`` cells, so that checking a large mesh needs little
    memory beyond the mesh itself."""
    ctype = _lookup(cell_type)
    points, _ = unit_scaled(points)
    inverted, degenerate = [], []
    for start in range(0, len(cells), CHECK_CHUNK):
        part = cells[start:start + CHECK_CHUNK]
        jac = corner_jacobians(points, part, ctype)
        inverted.append(start + np.flatnonzero(np.any(jac < 0.0, axis=1)))
        if not inverted[-1].size:
            degenerate.append(start + _degenerate(points, part, ctype, jac, DEGENERATE_RTOL))
    bad = np.concatenate(inverted or [np.zeros(0, dtype=np.int64)])
    if bad.size:
        raise MeshError(
            f"{bad.size} inverted {ctype.name} cell(s) (negative corner Jacobian: corners "
            f"clockwise or inside out; expected VTK ordering, counterclockwise in 2D): "
            f"cell ids {describe_ids(bad)}", cells=bad)
    bad = np.concatenate(degenerate or [np.zeros(0, dtype=np.int64)])
    if bad.size:
        raise MeshError(
            f"{bad.size} degenerate {ctype.name} cell(s) (corner Jacobian ~ 0: collapsed "
            f"edge or flat cell): cell ids {describe_ids(bad)}", cells=bad)
