"""Scatter plans: where each chunk's kernel output goes in the global vector and matrix.

A plan is made once per (block, chunk size) and holds, for every chunk, the dof and CSR
slot of each output entry in the kernels' cells-first layout, so accumulating a chunk is
one ``np.bincount`` into the few entries the chunk touches, added to the global
arrays. Only a few chunks' element matrices exist at a time: memory while assembling
is the output (vector, CSR data) plus those chunks.

Entries are numbered relative to the chunk's smallest target when the targets are a
compact range (cells ordered along the mesh, the usual case) and through the sorted
list of distinct targets otherwise. Padded cells of the last chunk, and entries not to
scatter, point at a trash entry past the end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Targets", "ChunkPlan", "make_plan"]

#: use a plain range when it is at most this many times the number of entries
_COMPACT = 4


@dataclass(frozen=True, eq=False)
class Targets:
    """Relative target numbers of a chunk's entries and how they map to global ones."""

    index: np.ndarray          # relative target of each output entry, flat
    base: int                  # global target of relative 0 (compact range) ...
    unique: np.ndarray | None  # ... or the global targets (sorted list of distinct ones)
    span: int                  # number of relative targets (the trash entry is ``span``)

    @classmethod
    def of(cls, targets, valid):
        """``targets``: global targets ``(size, ...)`` of a chunk's output, ``-1`` for
        entries to drop; the padded cells (``~valid`` along the first axis) are dropped
        too. The array is reused (changed in place)."""
        drop = (targets < 0) | ~valid.reshape((-1,) + (1,) * (targets.ndim - 1))
        live = targets[~drop]
        lo, hi = int(live.min()), int(live.max()) + 1
        if hi - lo <= _COMPACT * live.size:
            targets -= lo
            targets[drop] = hi - lo
            return cls(targets.ravel(), lo, None, hi - lo)
        unique = np.unique(live)
        index = np.searchsorted(unique, targets)
        index[drop] = unique.size
        return cls(index.ravel(), 0, unique, unique.size)

    def add_to(self, out: np.ndarray, weights: np.ndarray) -> None:
        """``out[target] += weight`` for every entry of the flat ``weights``."""
        local = np.bincount(self.index, weights=weights, minlength=self.span + 1)
        if self.unique is None:
            out[self.base:self.base + self.span] += local[:-1]
        else:
            out[self.unique] += local[:-1]


@dataclass(frozen=True, eq=False)
class ChunkPlan:
    """One chunk: which entities (positions in the block), padded to the chunk size,
    and the targets of its residual ``(size, c, n)`` and tangent ``(size, c, c, rows)``
    outputs."""

    entities: np.ndarray   # (size,) positions in the block, last one repeated as padding
    n_valid: int
    dofs: Targets
    slots: Targets | None


def make_plan(block, pattern, size: int, rows, tangent: bool, upper: bool = False):
    """Chunk plans of a block for chunks of ``size`` entities; ``rows`` are the node
    pairs (a, b) of the tangent output rows; ``upper``: scatter into the upper triangle
    only (a symmetric kernel; see :meth:`SparsityPattern.entity_slots`)."""
    m = len(block.cells)
    c = pattern.block
    plans = []
    for start in range(0, m, size):
        stop = min(start + size, m)
        entities = np.arange(start, start + size)
        entities[stop - start:] = stop - 1
        valid = np.arange(size) < stop - start
        nodes = block.nodes[entities]                                      # (size, n)
        dofs = nodes[:, None, :] * c + np.arange(c)[None, :, None]          # (size, c, n)
        slots = None
        if tangent:
            local = None if block.local_nodes is None else block.local_nodes[entities]
            slots = Targets.of(pattern.entity_slots(block.cells[entities], rows, local, upper), valid)
        plans.append(ChunkPlan(entities, stop - start, Targets.of(dofs, valid), slots))
    return plans
