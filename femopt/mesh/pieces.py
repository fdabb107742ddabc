"""Pieces of a mesh for distributed runs: each MPI rank holds only its cells, the nodes of
those cells, and what it needs to number them globally — never the whole mesh.

A *piece* is an ordinary :class:`~femopt.mesh.Mesh` of the rank's cells with a
:class:`MeshPiece` attached (``mesh.piece``), so a :class:`~femopt.Problem` is set up on
it with the usual verbs (``fix("xmin")``, ``traction("xmax", ...)``, per-cell fields of
the rank's cells). ``femopt.distributed.DistributedProblem`` reads ``mesh.piece`` and
solves the whole problem across the ranks. On one rank the piece is the whole mesh.

Conventions (the same as femopt's replicated partition):

* every cell is on exactly one rank; a node is *owned* by the lowest rank among the cells
  touching it; the piece's local nodes are its owned nodes first, then its *ghosts*
  (nodes of its cells owned by other ranks);
* global numbers are rank by rank: rank r owns nodes ``node_starts[r]..node_starts[r+1]``
  and cells ``cell_starts[r]..cell_starts[r+1]`` (PETSc's contiguous layout);
* *natural* numbers are the ids of the same nodes and cells in the whole mesh (the serial
  mesh a generator would make, or the mesh that was cut), for gathering results in the
  order a serial run uses;
* the piece's boundary is the whole mesh's boundary: facets between two ranks are not
  boundary facets, so a predicate selection (``traction(lambda x: ...)``) never picks
  them. A selection may be empty on a rank.

Pieces come from a generator that builds only the rank's part
(:mod:`femopt.mesh.box_pieces`, arithmetic on the lattice; ``femopt.distributed.box``
takes the rank from MPI) or from :func:`cut_piece`, which
cuts a whole mesh (every rank then reads the whole mesh once, and may drop it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, MeshError
from .topology import boundary_facets

__all__ = ["MeshPiece", "bisect_cells", "node_owners", "cut_piece", "require_whole"]


@dataclass(frozen=True, eq=False)
class MeshPiece:
    """What makes a mesh one rank's piece of a larger mesh.

    Attributes:
        rank, n_ranks: the rank and the number of ranks.
        n_owned: the first ``n_owned`` local nodes are owned by this rank.
        global_nodes: ``(n_local_nodes,)`` global (rank-by-rank) number of each local node;
            the owned ones are ``node_starts[rank] + arange(n_owned)``.
        node_starts: ``(n_ranks + 1,)`` first global node of each rank, and the total.
        cell_starts: ``(n_ranks + 1,)`` first global cell of each rank, and the total;
            local cell ``i`` is global cell ``cell_starts[rank] + i``.
        natural_nodes, natural_cells: ids of the local nodes / cells in the whole mesh.
        boundary: ``(n, 2)`` local facets (cell, local facet) on the whole mesh's boundary.
    """

    rank: int
    n_ranks: int
    n_owned: int
    global_nodes: np.ndarray
    node_starts: np.ndarray
    cell_starts: np.ndarray
    natural_nodes: np.ndarray
    natural_cells: np.ndarray
    boundary: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Nodes of the whole mesh."""
        return int(self.node_starts[-1])

    @property
    def n_cells(self) -> int:
        """Cells of the whole mesh."""
        return int(self.cell_starts[-1])

    def check(self, n_nodes: int, n_cells: int) -> None:
        """MeshError unless the arrays fit a local mesh of ``n_nodes`` nodes and
        ``n_cells`` cells and the owned nodes are numbered as the layout says."""
        r = self.rank
        problems = []
        if not 0 <= r < self.n_ranks or len(self.node_starts) != self.n_ranks + 1 \
                or len(self.cell_starts) != self.n_ranks + 1:
            problems.append(f"rank {r} of {self.n_ranks} with {len(self.node_starts)} node starts")
        elif self.node_starts[r + 1] - self.node_starts[r] != self.n_owned:
            problems.append(f"{self.n_owned} owned nodes, but the layout gives rank {r} "
                            f"{self.node_starts[r + 1] - self.node_starts[r]}")
        elif self.cell_starts[r + 1] - self.cell_starts[r] != n_cells:
            problems.append(f"{n_cells} cells, but the layout gives rank {r} {self.cell_starts[r + 1] - self.cell_starts[r]}")
        for name, array, size in (("global_nodes", self.global_nodes, n_nodes),
                                  ("natural_nodes", self.natural_nodes, n_nodes),
                                  ("natural_cells", self.natural_cells, n_cells)):
            if np.shape(array) != (size,):
                problems.append(f"{name} of shape {np.shape(array)} for {size}")
        if not problems and not np.array_equal(self.global_nodes[:self.n_owned],
                                               self.node_starts[r] + np.arange(self.n_owned)):
            problems.append("owned nodes not numbered node_starts[rank] + 0, 1, ...")
        if problems:
            raise MeshError("a mesh piece does not fit its mesh: " + "; ".join(problems))


def require_whole(mesh, what: str) -> None:
    """InputError when ``mesh`` is one of several pieces: ``what`` (a serial solve or
    assembly) would treat the piece's interfaces with the other ranks as free boundaries
    and give a wrong answer without a word."""
    piece = getattr(mesh, "piece", None)
    if piece is not None and piece.n_ranks > 1:
        raise InputError(f"{what} on piece {piece.rank} of {piece.n_ranks} of a distributed mesh would solve this "
                         "rank's part alone; solve the whole problem with "
                         "femopt.distributed.DistributedProblem(problem) (or minimize_compliance) on every rank")


def bisect_cells(centroids: np.ndarray, n_parts: int) -> np.ndarray:
    """Part of each cell ``(n_cells,)`` in ``0..n_parts-1`` by recursive coordinate
    bisection of the centroids ``(n_cells, dim)``: cut across the longest extent of the
    cells' bounding box, giving each side its share of the parts, until there are
    ``n_parts`` pieces (sizes differ by at most one cell per level of cuts; ties in a
    coordinate are broken by cell id, so every rank and run gets the same answer).

    Raises:
        InputError: ``n_parts`` not a positive integer, or more parts than cells.
    """
    centroids = np.asarray(centroids, dtype=np.float64)
    if centroids.ndim != 2:
        raise InputError(f"centroids must be (n_cells, dim), got shape {centroids.shape}")
    if isinstance(n_parts, bool) or not isinstance(n_parts, (int, np.integer)) or n_parts < 1:
        raise InputError(f"n_parts must be a positive integer, got {n_parts!r}")
    n_cells = len(centroids)
    if n_parts > n_cells:
        raise InputError(f"cannot split {n_cells} cells into {n_parts} parts (one cell at least per rank); "
                         "run on fewer ranks or refine the mesh")
    part = np.empty(n_cells, dtype=np.int64)
    stack = [(np.arange(n_cells), 0, int(n_parts))]      # (cell ids, first part, number of parts)
    while stack:
        ids, first, count = stack.pop()
        if count == 1:
            part[ids] = first
            continue
        x = centroids[ids]
        axis = int(np.argmax(x.max(axis=0) - x.min(axis=0)))
        left_parts = count // 2
        n_left = int(round(len(ids) * left_parts / count))
        order = np.lexsort((ids, x[:, axis]))                # by coordinate, then cell id
        stack.append((ids[order[:n_left]], first, left_parts))
        stack.append((ids[order[n_left:]], first + left_parts, count - left_parts))
    return part


def node_owners(cells: np.ndarray, cell_part: np.ndarray, n_nodes: int) -> np.ndarray:
    """Owner of each node ``(n_nodes,)``: the lowest part among the cells touching it
    (nodes in no cell: part 0)."""
    cells = np.asarray(cells, dtype=np.int64)
    cell_part = np.asarray(cell_part, dtype=np.int64)
    owner = np.full(n_nodes, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(owner, cells.ravel(), np.repeat(cell_part, cells.shape[1]))
    owner[owner == np.iinfo(np.int64).max] = 0
    return owner


def cut_piece(mesh, rank: int, n_ranks: int, cell_part=None):
    """Rank ``rank``'s piece of the whole ``mesh``: a Mesh of its cells (tags restricted to
    them) with :class:`MeshPiece` attached.

    Args:
        mesh: the whole mesh (its nodes must all belong to cells).
        rank, n_ranks: which piece, of how many.
        cell_part: ``(n_cells,)`` rank of each cell; default recursive coordinate
            bisection (:func:`bisect_cells`) of the centroids.

    Raises:
        InputError: a bad rank or ``cell_part``, or nodes in no cell.
    """
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank < n_ranks:
        raise InputError(f"rank must be an integer in 0..{n_ranks - 1}, got {rank!r}")
    if mesh.piece is not None:
        raise InputError("this mesh is already a piece of a distributed mesh")
    if cell_part is None:
        cell_part = bisect_cells(mesh.cell_centroids(), n_ranks)
    cell_part = np.asarray(cell_part, dtype=np.int64)
    if cell_part.shape != (mesh.n_cells,) or (cell_part.size and (cell_part.min() < 0 or cell_part.max() >= n_ranks)):
        raise InputError(f"cell_part must give each of the {mesh.n_cells} cells a rank in 0..{n_ranks - 1}")
    used = np.zeros(mesh.n_nodes, dtype=bool)
    used[mesh.cells.ravel()] = True
    if not used.all():
        raise InputError(f"{int((~used).sum())} node(s) belong to no cell (e.g. node {int(np.argmin(used))}); "
                         "drop them from the mesh (Mesh.submesh keeps the used nodes only)")
    owner = node_owners(mesh.cells, cell_part, mesh.n_nodes)
    order = np.lexsort((np.arange(mesh.n_nodes), owner))      # by owner, then natural id
    global_of = np.empty(mesh.n_nodes, dtype=np.int64)
    global_of[order] = np.arange(mesh.n_nodes)
    node_starts = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n_ranks))]).astype(np.int64)
    cell_starts = np.concatenate([[0], np.cumsum(np.bincount(cell_part, minlength=n_ranks))]).astype(np.int64)
    mine = np.flatnonzero(cell_part == rank)
    touched = np.zeros(mesh.n_nodes, dtype=bool)
    touched[mesh.cells[mine].ravel()] = True
    owned = np.flatnonzero(owner == rank)
    ghosts = np.flatnonzero(touched & (owner != rank))
    local_nodes = np.concatenate([owned, ghosts[np.argsort(global_of[ghosts], kind="stable")]])
    local_of = np.full(mesh.n_nodes, -1, dtype=np.int64)
    local_of[local_nodes] = np.arange(local_nodes.size)
    local_cell = np.full(mesh.n_cells, -1, dtype=np.int64)
    local_cell[mine] = np.arange(mine.size)

    def facets_here(facets):
        kept = facets[local_cell[facets[:, 0]] >= 0]
        return np.stack([local_cell[kept[:, 0]], kept[:, 1]], axis=1)

    node_tags = {name: np.sort(local_of[ids][local_of[ids] >= 0]) for name, ids in mesh.node_tags.items()}
    cell_tags = {name: local_cell[ids][local_cell[ids] >= 0] for name, ids in mesh.cell_tags.items()}
    facet_tags = {name: facets_here(f) for name, f in mesh.facet_tags.items()}
    from .mesh import Mesh

    piece = Mesh(mesh.points[local_nodes], local_of[mesh.cells[mine]], mesh.cell_type, node_tags=node_tags,
                 facet_tags=facet_tags, cell_tags=cell_tags, check=False)
    whole_boundary = boundary_facets(mesh.cells, mesh.cell_type, mesh.n_nodes)
    return piece.as_piece(MeshPiece(rank=int(rank), n_ranks=int(n_ranks), n_owned=int(owned.size),
                                    global_nodes=global_of[local_nodes], node_starts=node_starts,
                                    cell_starts=cell_starts, natural_nodes=local_nodes, natural_cells=mine,
                                    boundary=facets_here(whole_boundary)))
