"""Scatter plans: where each chunk's kernel output goes in the global vector and matrix.

A plan is made once per (block, chunk size) and holds, for every chunk, the dof and CSR
slot of each output entry in the kernels' cells-first layout, so accumulating a chunk is
one ``np.bincount`` into the few entries the chunk touches, added to the global
arrays. Only one chunk's element matrices exist at a time: memory while assembling is
the output (vector, CSR data) plus one chunk.

Entries are numbered relative to the chunk's smallest target when the targets are a
compact range (cells ordered along the mesh, the usual case) and through the sorted
list of distinct targets otherwise. Padded cells of the last chunk, and entries a part
does not scatter, point at a trash entry past the end.
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

    index: tuple          # arrays of relative targets, one per kernel output part
    base: int             # global target of relative 0 (compact range) ...
    unique: np.ndarray | None  # ... or the global targets (sorted list of distinct ones)
    span: int             # number of relative targets (the trash entry is ``span``)

    @classmethod
    def of(cls, parts, valid):
        """``parts``: global target arrays ``(size, ...)``, ``-1`` for entries to drop; the
        padded cells (``~valid`` along the first axis) are dropped too."""
        parts = [np.where(valid.reshape((-1,) + (1,) * (p.ndim - 1)), p, -1) for p in parts]
        live = np.concatenate([p[p >= 0] for p in parts])
        lo, hi = int(live.min()), int(live.max()) + 1
        if hi - lo <= _COMPACT * live.size:
            index = tuple(np.where(p >= 0, p - lo, hi - lo).ravel() for p in parts)
            return cls(index, lo, None, hi - lo)
        unique = np.unique(live)
        index = tuple(np.where(p >= 0, np.searchsorted(unique, p), unique.size).ravel() for p in parts)
        return cls(index, 0, unique, unique.size)

    def add_to(self, out: np.ndarray, weights) -> None:
        """``out[target] += weight`` for every entry; ``weights`` one array per part."""
        local = None
        for index, w in zip(self.index, weights):
            b = np.bincount(index, weights=w, minlength=self.span + 1)
            local = b if local is None else local + b
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


def make_plan(block, pattern, size: int, rows, n_mirror: int, tangent: bool):
    """Chunk plans of a block for chunks of ``size`` entities.

    ``rows`` are the node pairs of the tangent rows; the first ``n_mirror`` of them are
    also scattered transposed (a symmetric kernel computes rows a ≤ b only): the second
    target part maps the same output, its other rows dropped."""
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
            cells = block.cells[entities]
            local = None if block.local_nodes is None else block.local_nodes[entities]
            parts = [pattern.entity_slots(cells, rows, local)]
            if n_mirror:
                mirrored = pattern.entity_slots(cells, rows, local, mirror=True)
                mirrored[..., n_mirror:] = -1
                parts.append(mirrored)
            slots = Targets.of(parts, valid)
        plans.append(ChunkPlan(entities, stop - start, Targets.of([dofs], valid), slots))
    return plans
