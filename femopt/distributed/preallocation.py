"""Nonzeros per owned row of the parallel matrix, split into the diagonal block (columns
the rank owns) and the off-diagonal block (the others): PETSc's ``d_nnz`` / ``o_nnz``.

Counted exactly at node level from the full mesh (every rank has it): the neighbours of
an owned node are the nodes of every cell touching it, whichever rank holds the cell.
A row of dof ``(node, i)`` then has ``c`` entries per neighbour node.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .partition import Numbering

__all__ = ["row_counts"]


def row_counts(cells: np.ndarray, numbering: Numbering, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """``(d_nnz, o_nnz)``, each ``(n_owned_dofs,)`` int32, of the rows ``rank`` owns, in
    global (PETSc) order.

    Args:
        cells: ``(n_cells, m)`` the full mesh's cells (original node ids).
        numbering: the partition (:func:`~femopt.distributed.partition.partition_mesh`).
        rank: whose rows.
    """
    cells = np.asarray(cells, dtype=np.int64)
    n_nodes = numbering.new_node.size
    c = numbering.n_components
    first, last = int(numbering.node_starts[rank]), int(numbering.node_starts[rank + 1])
    owned = numbering.old_node[first:last]                       # original ids, global order
    touching = np.flatnonzero((numbering.owner[cells] == rank).any(axis=1))
    sub = cells[touching]
    m = sub.shape[1]
    incidence = sp.csr_matrix((np.ones(sub.size, dtype=np.int8), sub.ravel(), np.arange(0, sub.size + 1, m)),
                              shape=(len(sub), n_nodes))
    graph = (incidence[:, owned].T @ incidence).tocsr()          # (n_owned, n_nodes) neighbour nodes
    graph.sum_duplicates()
    row = np.repeat(np.arange(owned.size), np.diff(graph.indptr))
    inside = numbering.owner[graph.indices] == rank
    diagonal = np.bincount(row[inside], minlength=owned.size)
    off = np.diff(graph.indptr) - diagonal
    return (np.repeat(diagonal * c, c).astype(np.int32), np.repeat(off * c, c).astype(np.int32))
