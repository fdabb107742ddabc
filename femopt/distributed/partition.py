"""Cells to ranks, nodes to owners, and the global numbering PETSc needs — pure NumPy.

Every rank runs the same deterministic code on the same full mesh, so every rank
computes the same partition without any communication.

* **Cells** are split by recursive coordinate bisection (RCB) of their centroids: the
  cells are cut across the longest extent of their bounding box at the position that
  gives each side its share of the parts (``n_parts // 2`` on the left), and each side
  is cut again until there are ``n_parts`` pieces. The piece sizes differ by at most one
  cell per cut level. RCB is used instead of PETSc's ``MatPartitioning`` (ParMETIS /
  PT-Scotch) because it needs no optional PETSc package, gives the same answer on every
  rank from the replicated mesh, and on femopt's structured boxes cuts along grid planes
  (interfaces close to minimal). On unstructured meshes with holes a graph partitioner
  gives smaller interfaces; that is the next step once meshes are read in parallel.
* **Nodes** are owned by the lowest rank among the cells that touch them (a node in no
  cell goes to rank 0), so every owned node is a node of one of the owner's cells.
* **Numbering**: nodes are renumbered rank by rank (owned nodes in their original order)
  so that each rank owns a contiguous range of nodes, hence of dofs (node-major, as in
  femopt: ``dof = node * n_components + component``), which is PETSc's layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import InputError
from ..mesh.pieces import bisect_cells, node_owners

__all__ = ["bisect_cells", "node_owners", "Numbering", "RankPiece", "partition_mesh", "PieceNumbering"]


@dataclass(frozen=True)
class RankPiece:
    """What one rank holds.

    Attributes:
        rank: the rank.
        cells: ``(n,)`` ids of its cells (original numbering, sorted).
        local_nodes: ``(n_owned + n_ghost,)`` original ids of the nodes of its cells: its
            owned nodes first (in global order), then the ghosts (owned elsewhere, in
            global order). Local node ``i`` is ``local_nodes[i]``.
        n_owned: number of nodes it owns.
        first_node: global (new) number of its first owned node.
    """

    rank: int
    cells: np.ndarray
    local_nodes: np.ndarray
    n_owned: int
    first_node: int

    @property
    def ghost_nodes(self) -> np.ndarray:
        """Original ids of the ghost nodes."""
        return self.local_nodes[self.n_owned:]


@dataclass(frozen=True)
class Numbering:
    """The partition and the global numbering of nodes and dofs.

    Attributes:
        n_parts: number of ranks.
        cell_part: ``(n_cells,)`` rank of each cell.
        owner: ``(n_nodes,)`` rank owning each node.
        new_node: ``(n_nodes,)`` global (PETSc) number of each original node.
        node_starts: ``(n_parts + 1,)`` first global node of each rank (and the total).
        n_components: dofs per node.
    """

    n_parts: int
    cell_part: np.ndarray
    owner: np.ndarray
    new_node: np.ndarray
    node_starts: np.ndarray
    n_components: int

    @cached_property
    def old_node(self) -> np.ndarray:
        """``(n_nodes,)`` original id of each global (PETSc) node."""
        old = np.empty_like(self.new_node)
        old[self.new_node] = np.arange(self.new_node.size)
        return old

    def new_dofs(self, old_dofs) -> np.ndarray:
        """Global (PETSc) dof numbers of original femopt dofs."""
        old_dofs = np.asarray(old_dofs, dtype=np.int64)
        c = self.n_components
        return self.new_node[old_dofs // c] * c + old_dofs % c

    @cached_property
    def dof_permutation(self) -> np.ndarray:
        """``(n_dofs,)`` PETSc dof of each femopt dof: ``u_femopt = x_petsc[perm]``."""
        return self.new_dofs(np.arange(self.new_node.size * self.n_components))

    def dof_range(self, rank: int) -> tuple[int, int]:
        """The contiguous range ``[start, end)`` of global dofs ``rank`` owns."""
        c = self.n_components
        return int(self.node_starts[rank] * c), int(self.node_starts[rank + 1] * c)

    def piece(self, cells: np.ndarray, rank: int) -> RankPiece:
        """The cells, owned nodes and ghosts of ``rank`` (``cells``: the mesh's cells)."""
        mine = np.flatnonzero(self.cell_part == rank)
        touched = np.zeros(self.new_node.size, dtype=bool)
        touched[np.asarray(cells)[mine].ravel()] = True
        owned_mask = self.owner == rank                    # includes rank 0's nodes in no cell
        owned = np.flatnonzero(owned_mask)
        ghosts = np.flatnonzero(touched & ~owned_mask)
        owned = owned[np.argsort(self.new_node[owned], kind="stable")]
        ghosts = ghosts[np.argsort(self.new_node[ghosts], kind="stable")]
        return RankPiece(rank=rank, cells=mine, local_nodes=np.concatenate([owned, ghosts]),
                         n_owned=int(owned.size), first_node=int(self.node_starts[rank]))


def partition_mesh(mesh, n_parts: int, n_components: int, cell_part: np.ndarray | None = None) -> Numbering:
    """Partition ``mesh`` into ``n_parts`` (RCB, or the given ``cell_part``) and number
    its nodes so each part owns a contiguous range.

    Raises:
        InputError: bad ``n_parts``, or a ``cell_part`` of the wrong size or range.
    """
    if cell_part is None:
        cell_part = bisect_cells(mesh.cell_centroids(), n_parts)
    else:
        cell_part = np.asarray(cell_part, dtype=np.int64)
        if cell_part.shape != (mesh.n_cells,) or cell_part.min() < 0 or cell_part.max() >= n_parts:
            raise InputError(f"cell_part must give each of the {mesh.n_cells} cells a rank in 0..{n_parts - 1}")
    owner = node_owners(mesh.cells, cell_part, mesh.n_nodes)
    order = np.lexsort((np.arange(mesh.n_nodes), owner))   # by owner, then original id
    new_node = np.empty(mesh.n_nodes, dtype=np.int64)
    new_node[order] = np.arange(mesh.n_nodes)
    counts = np.bincount(owner, minlength=n_parts)
    node_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Numbering(n_parts=int(n_parts), cell_part=cell_part, owner=owner, new_node=new_node,
                     node_starts=node_starts, n_components=int(n_components))


class PieceNumbering:
    """The numbering of a problem set up on one rank's piece of a distributed mesh
    (:mod:`femopt.mesh.pieces`): the problem's nodes *are* the rank's local nodes.

    Args:
        piece: the mesh's :class:`~femopt.mesh.pieces.MeshPiece`.
        n_components: dofs per node.
    """

    def __init__(self, piece, n_components: int):
        self.mesh_piece = piece
        self.n_parts = piece.n_ranks
        self.node_starts = np.asarray(piece.node_starts, dtype=np.int64)
        self.n_components = int(n_components)

    def new_dofs(self, local_dofs) -> np.ndarray:
        """Global (PETSc) dof numbers of the piece's (local) dofs."""
        local_dofs = np.asarray(local_dofs, dtype=np.int64)
        c = self.n_components
        return np.asarray(self.mesh_piece.global_nodes)[local_dofs // c] * c + local_dofs % c

    def dof_range(self, rank: int) -> tuple[int, int]:
        """The contiguous range ``[start, end)`` of global dofs ``rank`` owns."""
        c = self.n_components
        return int(self.node_starts[rank] * c), int(self.node_starts[rank + 1] * c)

    def piece(self, cells: np.ndarray, rank: int) -> RankPiece:
        """All of the piece's cells and nodes (the identity cut)."""
        n_local = len(self.mesh_piece.global_nodes)
        return RankPiece(rank=rank, cells=np.arange(len(cells)), local_nodes=np.arange(n_local),
                         n_owned=int(self.mesh_piece.n_owned), first_node=int(self.node_starts[rank]))

    def natural_dofs(self) -> np.ndarray:
        """Natural (whole-mesh) dof numbers of the owned dofs, in global order."""
        c = self.n_components
        nodes = np.asarray(self.mesh_piece.natural_nodes[:self.mesh_piece.n_owned], dtype=np.int64)
        return (nodes[:, None] * c + np.arange(c)).ravel()
