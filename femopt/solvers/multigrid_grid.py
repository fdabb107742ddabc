"""Structured meshes for geometric multigrid: the tensor lattice behind a mesh, and the
interpolation from a coarsened lattice to a fine one.

A mesh is *structured* here when its quad4 (2D) or hex8 (3D) cells are exactly the cells
of an ``n_0 x n_1 [x n_2]`` lattice of nodes: every node is one lattice point and every
cell joins the ``2^d`` lattice points ``p + {0, 1}^d``. That is a property of the cells
alone (topology), so it survives any motion of the nodes: graded, mapped
(``quarter_annulus``, ``plate_with_hole``) and shape-optimized versions of a lattice are
found as well as the straight ``box`` / ``rectangle``. Supported:

- any node numbering and any cell order;
- cells that all share one local frame (as generators and transfinite meshers write
  them), found from the connectivity alone;
- otherwise cells whose local node order varies from cell to cell (rotated, mirrored),
  provided each cell is near axis-aligned: the local frame is then rebuilt from the signs
  of ``x - centroid``, and the lattice found from the reordered cells.

Not supported (``structured_grid`` returns None): simplices, quadratic cells (quad8,
quad9, hex20, hex27: their mid-edge nodes would need their own interpolation), several
lattice blocks glued together, lattices with cells missing, and nodes no cell uses.

Coarsening is vertex-centred, by 2 along every axis that has at least 2 cells: coarse
point ``j`` sits on fine point ``min(2 j, n)``, so an odd axis of ``n`` cells coarsens to
``(n + 1) // 2`` cells whose last one spans a single fine cell. Interpolation is linear
along each axis (tensor product: bilinear / trilinear) in a position per lattice line:

- on a tensor-product grid whose lattice lines are straight (an unmoved box or rectangle,
  graded or not, possibly rotated or sheared), the distance along the line, so linear
  fields of ``x`` are reproduced exactly on every level;
- otherwise (mapped or moved lattices) the lattice index, so the coarse space is the one a
  uniformly refined coarse mesh would have, and fields linear in the lattice indices are
  reproduced exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["StructuredGrid", "structured_grid", "coarsen_shape", "interpolation_1d",
           "lattice_interpolation", "Transfer", "transfer_hierarchy"]

#: Lattice offset ``{0, 1}^d`` of each local corner, in VTK order (local axes 0→1, 0→3, 0→4).
CORNER_OFFSETS = {
    "quad4": np.array([[0, 0], [1, 0], [1, 1], [0, 1]]),
    "hex8": np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                      [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]]),
}


@dataclass(frozen=True, eq=False)
class StructuredGrid:
    """The lattice behind a structured mesh.

    Attributes:
        shape: cells per lattice axis ``(n_0, ..., n_{d-1})``.
        nodes: mesh node id of each lattice point, ``(n_0 + 1, ..., n_{d-1} + 1)``
            int64, read-only; lattice axis k runs along the cells' local axis k.
        cell_type: ``"quad4"`` or ``"hex8"``.
        positions: per lattice axis, the position of each lattice line ``(n_k + 1,)``
            that interpolation is linear in: the distance along the line on a
            straight-lined tensor grid, else the lattice index (module docstring).
    """

    shape: tuple[int, ...]
    nodes: np.ndarray
    cell_type: str
    positions: tuple[np.ndarray, ...]

    @property
    def dim(self) -> int:
        return len(self.shape)

    @property
    def n_points(self) -> int:
        return int(self.nodes.size)


def structured_grid(mesh) -> StructuredGrid | None:
    """The tensor lattice of a quad4 / hex8 mesh, or None when the mesh is not one
    (see the module docstring for what is recognised).

    Args:
        mesh: a :class:`~femopt.mesh.Mesh`.

    Returns:
        A :class:`StructuredGrid`, or None.
    """
    name = mesh.cell_type.name
    if name not in CORNER_OFFSETS:
        return None
    offsets = CORNER_OFFSETS[name]
    cells = np.asarray(mesh.cells, dtype=np.int64)
    if cells.size == 0 or np.bincount(cells.ravel(), minlength=mesh.n_nodes).min() == 0:
        return None
    nodes = _lattice(cells, offsets, mesh.n_nodes)
    if nodes is None:
        reordered = _orient_by_coordinates(np.asarray(mesh.points), cells, offsets)
        nodes = None if reordered is None else _lattice(reordered, offsets, mesh.n_nodes)
    if nodes is None:
        return None
    nodes.flags.writeable = False
    return StructuredGrid(tuple(s - 1 for s in nodes.shape), nodes, name,
                          _line_positions(np.asarray(mesh.points, dtype=np.float64)[nodes]))


def _lattice(cells, offsets, n_nodes) -> np.ndarray | None:
    """Lattice node ids ``(n_0 + 1, ...)`` if ``cells`` (one shared local frame) are a
    tensor lattice, else None. Walks the "next node along axis k" maps line by line."""
    dim = offsets.shape[1]
    forward = []
    has_previous = np.zeros(n_nodes, dtype=bool)
    for k in range(dim):
        low = np.flatnonzero(offsets[:, k] == 0)
        high = [int(np.flatnonzero((offsets == offsets[i] + np.eye(dim, dtype=int)[k]).all(axis=1))[0])
                for i in low]
        source, target = cells[:, low].ravel(), cells[:, high].ravel()
        following = np.full(n_nodes, -1, dtype=np.int64)
        following[source] = target
        previous = np.full(n_nodes, -1, dtype=np.int64)
        previous[target] = source
        # one successor and one predecessor per node along each axis, else not a lattice
        if np.any(following[source] != target) or np.any(previous[target] != source):
            return None
        forward.append(following)
        has_previous |= previous >= 0
    origin = np.flatnonzero(~has_previous)
    if origin.size != 1:
        return None
    lattice = origin.reshape(())
    for k in range(dim):
        layers = [lattice]
        while True:
            step = forward[k][layers[-1]]
            if np.all(step < 0):
                break
            if np.any(step < 0) or len(layers) > n_nodes:
                return None
            layers.append(step)
        lattice = np.stack(layers, axis=-1)
    shape = tuple(s - 1 for s in lattice.shape)
    flat = lattice.ravel()
    if (flat.size != n_nodes or min(shape) < 1 or len(cells) != int(np.prod(shape))
            or np.bincount(flat, minlength=n_nodes).max() != 1):
        return None
    expected = np.stack([lattice[tuple(slice(o, o + s) for o, s in zip(offset, shape))].ravel()
                         for offset in offsets], axis=1)
    # each lattice point is the first corner of at most one cell: match cells by it
    if not np.array_equal(expected[np.argsort(expected[:, 0])], cells[np.argsort(cells[:, 0])]):
        return None
    return lattice


def _orient_by_coordinates(points, cells, offsets) -> np.ndarray | None:
    """Cells with their local nodes reordered to the frame of the coordinate axes, from
    the sign pattern of ``x - centroid`` of each node; None when a cell's signs do not
    give each corner once (a cell far from axis-aligned)."""
    dim = offsets.shape[1]
    if points.shape[1] != dim:
        return None
    X = points[cells]                                             # (n_cells, 2^d, d)
    above = X > X.mean(axis=1, keepdims=True)
    weights = 1 << np.arange(dim)
    codes = above @ weights                                       # (n_cells, 2^d)
    order = np.argsort(codes, axis=1, kind="stable")
    if not np.array_equal(np.take_along_axis(codes, order, axis=1),
                          np.broadcast_to(np.arange(len(offsets)), codes.shape)):
        return None
    slot_codes = offsets @ weights
    return np.take_along_axis(cells, order[:, slot_codes], axis=1)


def _line_positions(X) -> tuple[np.ndarray, ...]:
    """Per lattice axis the distance along the lattice lines when ``X (*extent, d)`` is a
    sum of one straight line per axis, ``X[i, j, k] = X_0 + f_0(i) + f_1(j) + f_2(k)``;
    else the lattice indices."""
    dim = X.ndim - 1
    origin = X[(0,) * dim]
    lines = [X[tuple(slice(None) if a == k else 0 for a in range(dim))] - origin for k in range(dim)]
    tol = 1e-10 * max(float(np.ptp(X.reshape(-1, X.shape[-1]), axis=0).max()), 1e-300)
    tensor = origin + sum(line.reshape([-1 if a == k else 1 for a in range(dim)] + [X.shape[-1]])
                          for k, line in enumerate(lines))
    indices = tuple(np.arange(n, dtype=np.float64) for n in X.shape[:-1])
    if np.abs(tensor - X).max() > tol:
        return indices
    positions = []
    for line in lines:
        direction = line[-1] / np.linalg.norm(line[-1])
        along = line @ direction
        straight = np.abs(line - along[:, None] * direction).max() <= tol
        if not straight or np.any(np.diff(along) <= 0):
            return indices
        positions.append(along)
    return tuple(positions)


def coarsen_shape(shape) -> tuple[int, ...]:
    """Cells per axis after one coarsening: ``ceil(n / 2)``, an axis of 1 cell stays."""
    return tuple((n + 1) // 2 if n >= 2 else n for n in shape)


def interpolation_1d(positions) -> tuple[sp.csr_matrix, np.ndarray]:
    """Linear interpolation along one axis of ``n`` cells whose ``n + 1`` points sit at
    increasing ``positions``, from its coarsening (points ``min(2 j, n)``).

    Returns:
        ``P (n + 1, n_coarse + 1)`` CSR, and the index of each coarse point among the
        fine ones ``(n_coarse + 1,)``.
    """
    positions = np.asarray(positions, dtype=np.float64)
    n_fine = positions.size - 1
    (n_coarse,) = coarsen_shape((n_fine,))
    if n_coarse == n_fine:
        return sp.identity(n_fine + 1, format="csr"), np.arange(n_fine + 1)
    selected = np.minimum(2 * np.arange(n_coarse + 1), n_fine)
    fine = np.arange(n_fine + 1)
    left = np.minimum(fine // 2, n_coarse - 1)
    start, end = positions[selected[left]], positions[selected[left + 1]]
    weight = (positions - start) / (end - start)
    rows = np.concatenate([fine, fine])
    cols = np.concatenate([left, left + 1])
    vals = np.concatenate([1.0 - weight, weight])
    keep = vals != 0.0
    P = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n_fine + 1, n_coarse + 1))
    return P, selected


def lattice_interpolation(positions) -> tuple[sp.csr_matrix, tuple[np.ndarray, ...], np.ndarray]:
    """Tensor-product interpolation from the coarsened lattice.

    Lattice points are numbered in C order (last axis fastest), as ``nodes.ravel()``.

    Args:
        positions: per axis the positions of the fine lattice lines ``(n_k + 1,)``.

    Returns:
        ``P (n_fine_points, n_coarse_points)`` CSR, the coarse positions per axis, and the
        fine point each coarse point sits on ``(n_coarse_points,)``.
    """
    factors = [interpolation_1d(p) for p in positions]
    P = factors[0][0]
    for factor, _ in factors[1:]:
        P = sp.kron(P, factor, format="csr")
    fine_extent = tuple(len(p) for p in positions)
    coinciding = np.ravel_multi_index(np.meshgrid(*[selected for _, selected in factors], indexing="ij"),
                                      fine_extent).ravel()
    coarse_positions = tuple(np.asarray(p, dtype=np.float64)[selected]
                             for p, (_, selected) in zip(positions, factors))
    return P, coarse_positions, coinciding


@dataclass(frozen=True, eq=False)
class Transfer:
    """Interpolation between two levels, on their free dofs.

    Attributes:
        P: ``(n_fine_free, n_coarse_free)`` CSR prolongation.
        R: ``P^T`` as CSR (restriction).
        coarse_shape: cells per axis of the coarse lattice (``(n_nodes,)`` of the coarse
            mesh for a refinement hierarchy).
        coarse_nodes: mesh node each coarse free dof sits on ``(n_coarse_free,)``.
        coarse_components: its component ``(n_coarse_free,)``.
    """

    P: sp.csr_matrix
    R: sp.csr_matrix
    coarse_shape: tuple[int, ...]
    coarse_nodes: np.ndarray
    coarse_components: np.ndarray


def transfer_hierarchy(grid: StructuredGrid, n_components: int, free_dofs, *, coarse_dofs: int,
                       max_levels: int) -> list[Transfer]:
    """The prolongations of a multigrid hierarchy, finest first.

    A coarse dof is free when the fine dof it sits on (same node, same component) is
    free; rows of fixed fine dofs and columns of fixed coarse dofs are dropped, so each
    ``P`` maps coarse free dofs to fine free dofs and ``Pᵀ A P`` keeps the Dirichlet
    conditions. Every coarse free dof has weight 1 on the fine dof it sits on, which
    no other coarse dof touches: ``P`` has full column rank, and ``Pᵀ A P`` is SPD when
    ``A`` is.

    Args:
        grid: the lattice.
        n_components: components per node (node-major dofs ``node * c + component``).
        free_dofs: sorted global ids of the free dofs, the order of the finest matrix.
        coarse_dofs: stop coarsening once a level has at most this many free dofs.
        max_levels: at most this many levels, the finest included.

    Returns:
        ``max_levels - 1`` or fewer :class:`Transfer`; empty when no coarsening pays.
    """
    def levels():
        shape, positions = grid.shape, grid.positions
        while coarsen_shape(shape) != shape:
            P_points, positions, coinciding = lattice_interpolation(positions)
            shape = coarsen_shape(shape)
            yield P_points, coinciding, shape

    return build_transfers(levels(), grid.nodes.ravel(), n_components, free_dofs, grid.n_points,
                           coarse_dofs=coarse_dofs, max_levels=max_levels)


def build_transfers(levels, point_nodes, n_components: int, free_dofs, n_points: int, *, coarse_dofs: int,
                    max_levels: int) -> list[Transfer]:
    """Free-dof transfers from point-level ones, finest first, until a level has at most
    ``coarse_dofs`` free dofs, ``max_levels`` are reached or ``levels`` (an iterator of
    ``(P_points, coinciding, coarse_shape)``, asked for the next only when needed) ends.

    ``point_nodes``: the mesh node of each finest-level point ``(n_points,)``."""
    c = int(n_components)
    row = free_rows(point_nodes, c, free_dofs, n_points * c)
    transfers: list[Transfer] = []
    levels = iter(levels)
    while len(transfers) + 1 < max_levels and np.count_nonzero(row >= 0) > coarse_dofs:
        level = next(levels, None)
        if level is None:
            break
        P_points, coinciding, coarse_shape = level
        found = restrict_to_free(P_points, coinciding, row, c, point_nodes, coarse_shape)
        if found is None:
            break
        transfer, row = found
        transfers.append(transfer)
        point_nodes = point_nodes[coinciding]
    return transfers


def free_rows(point_nodes, n_components: int, free_dofs, n_dofs: int) -> np.ndarray:
    """The matrix row of each dof ``point * c + component`` of a level whose points sit
    on the mesh nodes ``point_nodes``; ``-1`` where the dof is fixed."""
    c = int(n_components)
    position = np.full(n_dofs, -1, dtype=np.int64)
    position[free_dofs] = np.arange(len(free_dofs))
    return position[(np.asarray(point_nodes)[:, None] * c + np.arange(c)).ravel()]


def restrict_to_free(P_points, coinciding, row, c: int, point_nodes, coarse_shape):
    """One :class:`Transfer` from a point-level interpolation ``P_points`` (fine points x
    coarse points; coarse point j sits on fine point ``coinciding[j]``), expanded to c
    components and restricted to the free dofs (``row``: fine dof → matrix row or -1).
    Returns ``(transfer, coarse_row)``, or None when no coarse dof is free."""
    coarse_free = row.reshape(-1, c)[coinciding].ravel() >= 0
    if not coarse_free.any():
        return None
    coarse_row = np.where(coarse_free, np.cumsum(coarse_free) - 1, -1)
    P_points = sp.coo_matrix(P_points)
    components = np.arange(c)
    fine = row[(P_points.row[:, None] * c + components).ravel()]
    coarse = coarse_row[(P_points.col[:, None] * c + components).ravel()]
    values = np.repeat(P_points.data, c)
    keep = (fine >= 0) & (coarse >= 0)
    P = sp.csr_matrix((values[keep], (fine[keep], coarse[keep])),
                      shape=(np.count_nonzero(row >= 0), np.count_nonzero(coarse_free)))
    free_index = np.flatnonzero(coarse_free)
    coarse_nodes = np.asarray(point_nodes)[coinciding][free_index // c]
    return Transfer(P, P.T.tocsr(), tuple(coarse_shape), coarse_nodes, free_index % c), coarse_row
