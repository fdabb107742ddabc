"""Per-cell vectors across ranks: each rank owns the cells of its partition, and the
few collective operations a design loop needs (sums, maxima, gathers) go through PETSc.

The global cell numbering is rank by rank (rank 0's cells first, each rank's cells in
their original order), so a rank owns a contiguous range of cells — PETSc's layout for a
``Vec`` of per-cell values and for the rows of the filter matrix. Every rank computes
this numbering from the replicated partition without communicating
(:func:`cell_numbering`, plain NumPy).

Reductions use PETSc rather than mpi4py (which femopt does not require): every rank
receives the vector of the ranks' values (one entry per rank, a PETSc scatter to all)
and adds it up in rank order itself, so every rank gets the same bits whatever the MPI
library's reduction order — decisions taken on every rank (the optimality-criteria
bisection, the convergence test) stay in step.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["cell_numbering", "CellLayout"]


def cell_numbering(cell_part: np.ndarray, n_parts: int) -> tuple[np.ndarray, np.ndarray]:
    """``(new_cell (n_cells,), starts (n_parts + 1,))``: the rank-by-rank global number
    of each original cell, and the first global cell of each rank (and the total).

    Raises:
        InputError: ``cell_part`` has entries outside ``0..n_parts-1``.
    """
    cell_part = np.asarray(cell_part, dtype=np.int64)
    if cell_part.size and (cell_part.min() < 0 or cell_part.max() >= n_parts):
        raise InputError(f"cell_part must hold ranks in 0..{n_parts - 1}, got {cell_part.min()}..{cell_part.max()}")
    order = np.lexsort((np.arange(cell_part.size), cell_part))       # by rank, then original id
    new_cell = np.empty(cell_part.size, dtype=np.int64)
    new_cell[order] = np.arange(cell_part.size)
    starts = np.concatenate([[0], np.cumsum(np.bincount(cell_part, minlength=n_parts))]).astype(np.int64)
    return new_cell, starts


class CellLayout:
    """The rank's own cells and collective operations on per-cell values.

    Args:
        problem: a :class:`~femopt.distributed.DistributedProblem` (its partition and
            communicator are used). On a mesh piece the own cells are the piece's cells.

    Attributes:
        own_cells: ``(n_own,)`` ids of the rank's cells in ``problem.problem.mesh``
            (sorted; on a piece all of them) — the order of every "own" array (design,
            densities, gradients).
        natural_cells: ``(n_own,)`` their ids in the whole mesh (the order of gathered
            arrays and of the checkpoint).
        global_cells: ``(n_own,)`` their global (PETSc) numbers, rank by rank.
        starts: ``(n_ranks + 1,)`` first global cell of each rank.
        new_cell: ``(n_cells,)`` global number of each cell of the whole mesh (replicated
            meshes only; None on pieces).
        on_pieces: whether the problem is set up on a mesh piece.
    """

    def __init__(self, problem):
        self.PETSc = problem.PETSc
        self.comm = problem.comm
        self.rank, self.size = self.comm.getRank(), self.comm.getSize()
        numbering = problem.numbering
        self.own_cells = problem.piece.cells
        piece = problem.problem.mesh.piece
        self.on_pieces = piece is not None
        if self.on_pieces:
            self.new_cell = None
            self.starts = np.asarray(piece.cell_starts, dtype=np.int64)
            self.natural_cells = np.asarray(piece.natural_cells, dtype=np.int64)
        else:
            self.new_cell, self.starts = cell_numbering(numbering.cell_part, numbering.n_parts)
            self.natural_cells = self.own_cells
        self.n_cells = int(self.starts[-1])
        self.n_own = int(self.starts[self.rank + 1] - self.starts[self.rank])
        if self.n_own != self.own_cells.size:
            raise InputError("the cell layout does not match the problem's partition")
        self.global_cells = self.starts[self.rank] + np.arange(self.n_own)
        self._one = self.PETSc.Vec().createMPI((1, self.size), comm=self.comm)
        self._to_all, self._all = self.PETSc.Scatter.toAll(self._one)
        self._scatters = {}
        self._array_scatters = {}
        self._natural = None

    def problem_field(self, own_values, fill: float) -> np.ndarray:
        """A per-cell field of ``problem.problem`` holding ``own_values`` on the own cells:
        on a piece the values themselves, on a replicated mesh a whole-mesh array with
        ``fill`` on the other ranks' cells (which this rank never reads)."""
        if self.on_pieces:
            return np.asarray(own_values, dtype=np.float64)
        field = np.full(self.n_cells, float(fill))
        field[self.own_cells] = own_values
        return field

    # -- vectors ---------------------------------------------------------------------------
    def vec(self, values=None):
        """A PETSc vector of the own cells (global layout), filled with ``values (n_own,)``."""
        vec = self.PETSc.Vec().createMPI((self.n_own, self.n_cells), comm=self.comm)
        if values is not None:
            vec.array[:] = values
        return vec

    # -- reductions ------------------------------------------------------------------------
    def values(self, value: float) -> np.ndarray:
        """``(n_ranks,)``: every rank's ``value``, on every rank. Collective."""
        self._one.array[0] = value
        self._to_all.scatter(self._one, self._all, addv=self.PETSc.InsertMode.INSERT_VALUES,
                             mode=self.PETSc.ScatterMode.FORWARD)
        return self._all.getArray(readonly=True).copy()

    def sum(self, value: float) -> float:
        """Σ over ranks of ``value``, added in rank order (the same bits on every rank)."""
        total = 0.0
        for part in self.values(value):
            total += float(part)
        return total

    def max(self, value: float) -> float:
        """max over ranks of ``value``."""
        return float(self.values(value).max())

    def sum_array(self, local) -> np.ndarray:
        """Σ over ranks of the array ``local`` (same shape on every rank), added in rank
        order (the same bits on every rank). Collective."""
        local = np.asarray(local, dtype=np.float64)
        k = local.size
        if k not in self._array_scatters:
            one = self.PETSc.Vec().createMPI((k, k * self.size), comm=self.comm)
            self._array_scatters[k] = (one,) + tuple(self.PETSc.Scatter.toAll(one))
        one, to_all, whole = self._array_scatters[k]
        one.array[:] = local.ravel()
        to_all.scatter(one, whole, addv=self.PETSc.InsertMode.INSERT_VALUES, mode=self.PETSc.ScatterMode.FORWARD)
        parts = whole.getArray(readonly=True).reshape(self.size, k)
        total = np.zeros(k)
        for part in parts:
            total = total + part
        return total.reshape(local.shape)

    def dot(self, a, b) -> float:
        """Σ over all cells of ``a * b`` (own parts ``(n_own,)``)."""
        return self.sum(float(np.dot(a, b)))

    # -- gathers ---------------------------------------------------------------------------
    def _natural_vec(self, template):
        """A vector of all cells in natural (whole-mesh) order and the scatter to it."""
        if self._natural is None:
            PETSc = self.PETSc
            natural = PETSc.Vec().createMPI((PETSc.DECIDE, self.n_cells), comm=self.comm)
            source = PETSc.IS().createStride(self.n_own, first=int(self.starts[self.rank]), step=1, comm=self.comm)
            target = PETSc.IS().createGeneral(self.natural_cells.astype(PETSc.IntType), comm=self.comm)
            self._natural = (natural, PETSc.Scatter().create(template, source, natural, target))
        return self._natural

    def _scatter(self, root_only):
        if root_only not in self._scatters:
            template = self.vec()
            natural, to_natural = self._natural_vec(template)
            make = self.PETSc.Scatter.toZero if root_only else self.PETSc.Scatter.toAll
            self._scatters[root_only] = (template, natural, to_natural) + tuple(make(natural))
        return self._scatters[root_only]

    def gather(self, own_values, *, root_only: bool = False):
        """The per-cell array ``(n_cells,)`` in the whole mesh's cell order from every
        rank's own part, on every rank (or on rank 0 only: the others get None). Collective."""
        PETSc = self.PETSc
        template, natural, to_natural, scatter, whole = self._scatter(root_only)
        template.array[:] = own_values
        to_natural.scatter(template, natural, addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.FORWARD)
        scatter.scatter(natural, whole, addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.FORWARD)
        if root_only and self.rank != 0:
            return None
        return whole.getArray(readonly=True).copy()

    def scatter_from_root(self, values) -> np.ndarray:
        """Each rank's own part of the array ``(n_cells,)`` (whole-mesh order) that rank 0
        holds (the other ranks pass None). Collective."""
        PETSc = self.PETSc
        template, natural, to_natural, scatter, whole = self._scatter(True)
        if self.rank == 0:
            whole.array[:] = np.asarray(values, dtype=np.float64)
        scatter.scatter(whole, natural, addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.REVERSE)
        to_natural.scatter(natural, template, addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.REVERSE)
        return template.array.copy()

    def agree(self, code: int) -> int:
        """Rank 0's small non-negative integer ``code``, on every rank (a broadcast)."""
        return int(round(self.sum(float(code) if self.rank == 0 else 0.0)))
