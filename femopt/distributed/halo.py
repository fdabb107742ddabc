"""Other ranks' cells near this rank's cells, when no rank holds the whole mesh.

The density filter of a mesh piece reads the cells within its radius, some of them on
other ranks. :func:`foreign_cells_near` finds and fetches them with PETSc alone:

1. every rank learns every rank's bounding box of cell centroids (one small reduction);
2. each rank picks, for every other rank, its cells whose centroids lie within the radius
   of that rank's box (a superset of what the filter there reads: no cell is missed);
3. the counts go to every rank (an ``n_ranks x n_ranks`` reduction), each rank lays its
   picks out in one parallel vector (rank by rank, then by destination), and every rank
   fetches its share with one PETSc scatter: centroid, volume and global number per cell.

Memory and traffic follow the interfaces, not the mesh.
"""
from __future__ import annotations

import numpy as np

__all__ = ["foreign_cells_near"]


def _box_distance(points: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Euclidean distance of each point to the box ``[low, high]`` (0 inside)."""
    gap = np.maximum(np.maximum(low - points, points - high), 0.0)
    return np.sqrt((gap ** 2).sum(axis=1))


def foreign_cells_near(layout, centroids, volumes, radius: float):
    """The other ranks' cells whose centroids lie within ``radius`` of this rank's
    bounding box of centroids: ``(centroids (m, dim), volumes (m,), global numbers (m,))``.

    Args:
        layout: the :class:`~femopt.distributed.cells.CellLayout` (own cells, reductions).
        centroids: ``(n_own, dim)`` centroids of the own cells.
        volumes: ``(n_own,)`` their volumes.
        radius: the search radius (the filter's).

    Collective: every rank calls it.
    """
    PETSc, rank, size = layout.PETSc, layout.rank, layout.size
    centroids = np.asarray(centroids, dtype=np.float64)
    dim = centroids.shape[1]
    boxes = np.zeros((size, 2 * dim))
    if len(centroids):
        boxes[rank] = np.concatenate([centroids.min(axis=0), centroids.max(axis=0)])
    else:                                      # no cells: a box nothing is near
        boxes[rank] = np.concatenate([np.full(dim, np.inf), np.full(dim, -np.inf)])
    boxes = layout.sum_array(boxes)
    picks = []
    for other in range(size):
        if other == rank:
            picks.append(np.zeros(0, dtype=np.int64))
            continue
        near = _box_distance(centroids, boxes[other, :dim], boxes[other, dim:]) <= radius
        picks.append(np.flatnonzero(near))
    counts = np.zeros((size, size))
    counts[rank] = [len(p) for p in picks]
    counts = layout.sum_array(counts).astype(np.int64)           # counts[sender, receiver]
    width = dim + 2                                              # centroid, volume, global number
    mine = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    records = np.empty((mine.size, width))
    records[:, :dim] = centroids[mine]
    records[:, dim] = np.asarray(volumes, dtype=np.float64)[mine]
    records[:, dim + 1] = layout.global_cells[mine]
    sent = counts.sum(axis=1) * width
    outbox = PETSc.Vec().createMPI((int(sent[rank]), int(sent.sum())), comm=layout.comm)
    outbox.array[:] = records.ravel()
    sender_start = np.concatenate([[0], np.cumsum(sent)[:-1]])
    wanted = []
    for sender in range(size):
        n = int(counts[sender, rank])
        if n:
            first = sender_start[sender] + int(counts[sender, :rank].sum()) * width
            wanted.append(first + np.arange(n * width))
    wanted = np.concatenate(wanted) if wanted else np.zeros(0, dtype=np.int64)
    inbox = PETSc.Vec().createSeq(wanted.size, comm=PETSc.COMM_SELF)
    source = PETSc.IS().createGeneral(wanted.astype(PETSc.IntType), comm=PETSc.COMM_SELF)
    scatter = PETSc.Scatter().create(outbox, source, inbox, None)
    scatter.scatter(outbox, inbox, addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.FORWARD)
    received = inbox.getArray(readonly=True).reshape(-1, width).copy()
    for obj in (scatter, source, inbox, outbox):
        obj.destroy()
    return received[:, :dim], received[:, dim], np.rint(received[:, dim + 1]).astype(np.int64)
