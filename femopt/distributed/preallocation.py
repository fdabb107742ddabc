"""Nonzeros per owned row of the parallel matrix, split into the diagonal block (columns
the rank owns) and the off-diagonal block (the others): PETSc's ``d_nnz`` / ``o_nnz``.

Counted exactly at node level: the neighbours of an owned node are the nodes of every
cell touching it, whichever rank holds the cell. A row of dof ``(node, i)`` then has
``c`` entries per neighbour node. From the whole mesh when every rank has it
(:func:`row_counts`, plain NumPy); on mesh pieces, where no rank knows all cells touching
its interface nodes, through PETSc (:func:`piece_row_counts`).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .partition import Numbering

__all__ = ["row_counts", "piece_row_counts"]


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


def _node_graph(cells: np.ndarray, n_nodes: int) -> sp.csr_matrix:
    """Node adjacency (nodes sharing a cell, self included) of ``cells``, CSR of int8."""
    m = cells.shape[1]
    incidence = sp.csr_matrix((np.ones(cells.size, dtype=np.int8), cells.ravel(), np.arange(0, cells.size + 1, m)),
                              shape=(len(cells), n_nodes))
    graph = (incidence.T @ incidence).tocsr()
    graph.sum_duplicates()
    graph.sort_indices()
    return graph


def piece_row_counts(PETSc, comm, mesh, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """``(d_nnz, o_nnz)`` of the owned rows of a problem on a mesh piece (``mesh.piece``).

    Each rank's node adjacency of its own cells goes into a PETSc MATIS (one unassembled
    local matrix per rank, on the global node numbers) whose conversion to AIJ unites
    the ranks' rows; the owned node rows are then counted as in :func:`row_counts`. The
    graph is node-level: ``c²`` times smaller than the matrix it sizes. Collective.
    """
    piece = mesh.piece
    graph = _node_graph(np.asarray(mesh.cells, dtype=np.int64), mesh.n_nodes)
    local = PETSc.Mat().createAIJWithArrays(
        graph.shape, (graph.indptr.astype(PETSc.IntType), graph.indices.astype(PETSc.IntType),
                      np.ones(graph.nnz)), comm=PETSc.COMM_SELF)
    lgmap = PETSc.LGMap().create(np.asarray(piece.global_nodes, dtype=PETSc.IntType), comm=comm)
    sizes = (piece.n_owned, piece.n_nodes)
    unassembled = PETSc.Mat().createIS((sizes, sizes), lgmapr=lgmap, lgmapc=lgmap, comm=comm)
    unassembled.setISLocalMat(local)
    unassembled.assemble()
    united = unassembled.convert(PETSc.Mat.Type.AIJ)
    indptr, indices, _ = united.getValuesCSR()
    for obj in (united, unassembled, local, lgmap):
        obj.destroy()
    first = int(piece.node_starts[piece.rank])
    inside = (indices >= first) & (indices < first + piece.n_owned)
    row = np.repeat(np.arange(piece.n_owned), np.diff(indptr))
    diagonal = np.bincount(row[inside], minlength=piece.n_owned)
    off = np.diff(indptr) - diagonal
    c = int(n_components)
    return (np.repeat(diagonal * c, c).astype(np.int32), np.repeat(off * c, c).astype(np.int32))
