"""Sparsity pattern and the scatter map from element-matrix entries to CSR slots.

Built once per (dof map, block size); afterwards assembling a global matrix is one
``np.bincount`` over a precomputed slot array — no Python loop over cells and no
COO→CSR conversion per assembly.

The pattern is first found at node level (n_cells × n_nodes² pairs) and then expanded
to dofs by the block size c (the number of field components): sorting c² times fewer
keys. Within a CSR row the columns of one neighbour node are contiguous, so the slot of
(row node r, component i; column node s, component k) is
``c·c·node_indptr[r] + i·(c·deg(r)) + c·position(s in row r) + k``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["SparsityPattern", "build_pattern"]


@dataclass(frozen=True)
class SparsityPattern:
    """CSR structure of a global matrix and the element-entry → slot map.

    Attributes:
        indptr, indices: CSR arrays of the ``(n_dofs, n_dofs)`` matrix.
        slots: ``(n_cells, n_local_dofs, n_local_dofs)`` index into the CSR data of each
            element-matrix entry, local dofs ordered node-major like the dof map.
    """

    indptr: np.ndarray
    indices: np.ndarray
    slots: np.ndarray
    n_dofs: int

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    def matrix(self, data: np.ndarray) -> sp.csr_matrix:
        """A CSR matrix with this pattern and the given data (no copy of the pattern)."""
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n_dofs, self.n_dofs))

    def assemble(self, element_matrices: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray:
        """Sum element matrices ``(n, n_local, n_local)`` into CSR data ``(nnz,)``.

        ``cells`` says which cells the matrices belong to (default: all, in order)."""
        slots = self.slots if cells is None else self.slots[cells]
        return np.bincount(slots.ravel(), weights=np.asarray(element_matrices).ravel(),
                           minlength=self.nnz)


def build_pattern(cells: np.ndarray, n_nodes: int, block: int) -> SparsityPattern:
    """Pattern of the matrix coupling all nodes of each cell, ``block`` dofs per node.

    Args:
        cells: ``(n_cells, n_nodes_per_cell)`` node ids.
        n_nodes: number of nodes in the mesh.
        block: dofs per node (field components).
    """
    cells = np.asarray(cells, dtype=np.int64)
    n_cells, m = cells.shape
    rows = np.repeat(cells, m, axis=1).ravel()
    cols = np.tile(cells, (1, m)).ravel()
    keys = rows * n_nodes + cols
    unique_keys, pair_index = np.unique(keys, return_inverse=True)
    node_rows = unique_keys // n_nodes
    node_cols = unique_keys % n_nodes
    node_indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(node_rows, minlength=n_nodes), out=node_indptr[1:])
    degree = np.diff(node_indptr)
    position = np.arange(unique_keys.size) - node_indptr[node_rows]

    c = block
    # Dof-level CSR: row (r, i) holds, for each neighbour s of r in order, columns (s, 0..c-1).
    row_length = np.repeat(degree * c, c)
    indptr = np.zeros(n_nodes * c + 1, dtype=np.int64)
    np.cumsum(row_length, out=indptr[1:])
    # Node pairs of each dof row, concatenated: the pair block of node row r, c times.
    block_start = np.repeat(node_indptr[:-1], c)
    block_length = np.repeat(degree, c)
    offsets = np.cumsum(block_length) - block_length
    pairs = np.repeat(block_start - offsets, block_length) + np.arange(block_length.sum())
    indices = (node_cols[pairs][:, None] * c + np.arange(c)).ravel()
    # Slot of each element entry (cell, a, i, b, k), built in place to bound temporaries.
    pair_index = pair_index.reshape(n_cells, m, m)
    r = cells[:, :, None]
    base = c * c * node_indptr[r] + c * position[pair_index]           # (n_cells, m, m)
    row_stride = c * degree[cells]                                     # (n_cells, m)
    slots = np.empty((n_cells, m, c, m, c), dtype=np.int64)
    slots[...] = base[:, :, None, :, None]
    slots += (np.arange(c)[None, None, :] * row_stride[:, :, None])[:, :, :, None, None]
    slots += np.arange(c)
    slots = slots.reshape(n_cells, m * c, m * c)
    return SparsityPattern(indptr=indptr, indices=indices, slots=slots,
                           n_dofs=n_nodes * c)
