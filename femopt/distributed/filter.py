"""The density (cone) filter of :mod:`femopt.design.filters` across ranks.

The filtered density of a cell is a weighted mean over the cells whose centroids lie
within the radius, some of which belong to other ranks near the partition's interfaces.
On a replicated mesh each rank finds its rows of the filter by itself (:func:`filter_rows`:
a k-d tree over all centroids, queried with its own cells — plain NumPy/SciPy, the same
distances and weights as the serial :func:`~femopt.design.filters.filter_matrix`); on a
mesh piece it first fetches the other ranks' cells near its own
(:func:`~femopt.distributed.halo.foreign_cells_near`) and searches those. The foreign
cells its rows read are its *ghost cells* (:func:`ghost_cells`). The normalized rows ``W = diag(1/Σ_j H_ij) H``
become a PETSc AIJ matrix with the own cells as rows and all cells as columns, so that

* ρ̃ = W x is one parallel ``MatMult`` (PETSc exchanges the ghost cells' values), and
* the chain rule x̄ = Wᵀ ρ̄ is ``MatMultTranspose`` (the transpose's exchange goes the
  other way: contributions to foreign cells are summed onto their owners).

The rows equal the serial filter's rows entry by entry; the products differ from the
serial ones by round-off only (PETSc sums the on-rank and ghost columns separately).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ..errors import InputError
from ..mesh.quality import cell_measures
from .halo import foreign_cells_near

__all__ = ["filter_rows", "ghost_cells", "DistributedFilter"]


def filter_rows(centroids, radius: float, own_cells, volumes=None) -> tuple[sp.csr_matrix, np.ndarray]:
    """The rows of the cone weights ``H_ij = max(0, r − |c_i − c_j|) v_j`` for the cells
    ``own_cells``, and their sums.

    Args:
        centroids: ``(n_cells, dim)`` centroids of all cells.
        radius: filter radius (> 0, the coordinates' unit).
        own_cells: ``(n_own,)`` original ids of the rows wanted.
        volumes: ``(n_cells,)`` cell volumes (default: all 1).

    Returns:
        ``(H, row_sums)``: CSR ``(n_own, n_cells)`` with original cell ids as columns
        (sorted in each row), and ``(n_own,)``. Stacking every rank's rows gives the
        serial filter's matrix.

    Raises:
        InputError: a radius that is not a positive number.
    """
    centroids = np.asarray(centroids, dtype=np.float64)
    own_cells = np.asarray(own_cells, dtype=np.int64)
    if not np.isfinite(radius) or radius <= 0:
        raise InputError(f"filter radius must be a positive number, got {radius!r}")
    n, n_own = len(centroids), own_cells.size
    every = cKDTree(centroids)
    distances = cKDTree(centroids[own_cells]).sparse_distance_matrix(every, radius, output_type="coo_matrix")
    weights = radius - distances.data
    keep = (weights > 0) & (own_cells[distances.row] != distances.col)
    # as in the serial filter: self-distances dropped, the diagonal added with weight r
    rows = np.concatenate([distances.row[keep], np.arange(n_own)])
    cols = np.concatenate([distances.col[keep], own_cells])
    weights = np.concatenate([weights[keep], np.full(n_own, float(radius))])
    if volumes is not None:
        weights = weights * np.asarray(volumes, dtype=np.float64)[cols]
    H = sp.csr_matrix((weights, (rows, cols)), shape=(n_own, n))
    H.sum_duplicates()
    H.sort_indices()
    return H, np.asarray(H.sum(axis=1)).ravel()


def ghost_cells(rows: sp.csr_matrix, own_cells) -> np.ndarray:
    """Original ids (sorted) of the foreign cells that ``rows`` (from :func:`filter_rows`)
    read: the cells other ranks must send each time the filter is applied."""
    return np.setdiff1d(np.unique(rows.indices), np.asarray(own_cells, dtype=np.int64))


class DistributedFilter:
    """ρ̃ = W x over the ranks' own cells, with W the serial
    :class:`~femopt.design.DensityFilter`'s normalized matrix.

    Args:
        mesh: the (replicated) mesh, or the rank's piece (then the other ranks' cells
            within the radius are fetched: :func:`~femopt.distributed.halo.foreign_cells_near`).
        radius: filter radius in mesh units.
        layout: the :class:`~femopt.distributed.cells.CellLayout` of the own cells.

    Attributes:
        matrix: the PETSc matrix (own cells' rows, global cell numbering).
        ghosts: ``(n_ghost,)`` ids of the foreign cells the rows read (original ids on a
            replicated mesh, global numbers on pieces).
        volumes: ``(n_own,)`` volumes of the own cells.
    """

    def __init__(self, mesh, radius: float, layout):
        PETSc = layout.PETSc
        self.layout = layout
        self.radius = float(radius)
        volumes = np.abs(np.asarray(cell_measures(mesh.points, mesh.cells, mesh.cell_type), dtype=np.float64))
        if layout.on_pieces:
            # the rank's piece and the other ranks' cells near it (fetched: no rank has them all)
            own_centroids = mesh.cell_centroids()
            near_centroids, near_volumes, near_cells = foreign_cells_near(layout, own_centroids, volumes, radius)
            rows, row_sums = filter_rows(np.concatenate([own_centroids, near_centroids]), radius,
                                         np.arange(layout.n_own), np.concatenate([volumes, near_volumes]))
            columns = np.concatenate([layout.global_cells, near_cells])
            self.ghosts = np.unique(columns[ghost_cells(rows, np.arange(layout.n_own))])
            self.volumes = volumes
        else:
            rows, row_sums = filter_rows(mesh.cell_centroids(), radius, layout.own_cells, volumes)
            columns = layout.new_cell
            self.ghosts = ghost_cells(rows, layout.own_cells)
            self.volumes = volumes[layout.own_cells]
        W = (sp.diags(1.0 / row_sums) @ rows).tocsr()        # the serial DensityFilter.matrix's rows
        W = sp.csr_matrix((W.data, columns[W.indices], W.indptr), shape=(layout.n_own, layout.n_cells))
        W.sort_indices()                                      # columns in the global cell numbering
        size = (layout.n_own, layout.n_cells)
        self.matrix = PETSc.Mat().createAIJWithArrays(
            (size, size), (W.indptr.astype(PETSc.IntType), W.indices.astype(PETSc.IntType), W.data),
            comm=layout.comm)
        self.matrix.assemble()
        self._x, self._y = self.matrix.createVecs()

    def __call__(self, own_values) -> np.ndarray:
        """ρ̃ = W x: the own cells' filtered values ``(n_own,)`` from every rank's own
        values. Collective."""
        self._x.array[:] = own_values
        self.matrix.mult(self._x, self._y)
        return self._y.array.copy()

    def transpose(self, own_values) -> np.ndarray:
        """x̄ = Wᵀ ρ̄ (the chain rule of :meth:`__call__`), own parts. Collective."""
        self._y.array[:] = own_values
        self.matrix.multTranspose(self._y, self._x)
        return self._x.array.copy()
