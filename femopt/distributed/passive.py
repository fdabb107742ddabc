"""Passive (solid / void) cells of a distributed density design.

``minimize_compliance(..., solid=..., void=...)`` takes the selections
:class:`~femopt.design.DensityDesign` takes, resolved by each rank on the cells of
``problem.mesh`` (the whole mesh when it is replicated, the rank's piece otherwise):

* a predicate on cell centroids (``lambda c: c[:, 2] > 3.5``) — the portable form: each
  rank applies it to its cells, so the same script runs on a whole mesh and on pieces;
* a cell tag name of the mesh (on a piece: the piece's part of the tag);
* a boolean mask or cell ids over ``problem.mesh``'s cells (on a piece: its own cells).

The design vector keeps an entry for every own cell; a passive cell's entry is held at
1 (solid) or 0 (void), its density is forced to the same value after the filter, and
the optimizer never moves it (:mod:`.optimize` steps the active entries only). A bad
selection is refused on every rank alike: the ranks first agree whether any of them
found one (a rank-local ``raise`` would leave the others waiting in a collective).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .fingerprint import _hashes, _total

__all__ = ["PassiveCells"]


def _selected(mesh, selection, name: str) -> np.ndarray:
    """Boolean mask ``(mesh.n_cells,)`` of ``selection`` (None, tag, predicate, mask, ids)."""
    mask = np.zeros(mesh.n_cells, dtype=bool)
    if selection is None:
        return mask
    if isinstance(selection, str):
        if selection not in mesh.cell_tags:
            raise InputError(f"{name}: no cell tag {selection!r}; the mesh has {sorted(mesh.cell_tags)}")
        mask[np.asarray(mesh.cell_tags[selection], dtype=np.int64)] = True
        return mask
    if callable(selection):
        mask[mesh.cells_where(selection)] = True    # a piece may hold none of the cells
        return mask
    ids = np.asarray(selection)
    if ids.dtype == bool:
        if ids.shape != (mesh.n_cells,):
            raise InputError(f"{name}: a boolean cell mask needs {mesh.n_cells} entries (the cells of "
                             f"problem.mesh), got shape {ids.shape}")
        return ids.copy()
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise InputError(f"{name}: cell ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64).ravel()
    if ids.size and (ids.min() < 0 or ids.max() >= mesh.n_cells):
        raise InputError(f"{name}: cell ids must lie in 0..{mesh.n_cells - 1} (the cells of problem.mesh), "
                         f"got {ids.min()}..{ids.max()}")
    mask[ids] = True
    return mask


class PassiveCells:
    """Which own cells are solid, void or active, agreed on by every rank.

    Args:
        mesh: ``problem.mesh`` (whole, or the rank's piece).
        layout: the :class:`~femopt.distributed.cells.CellLayout` of the own cells.
        solid, void: the selections (see the module docstring), or None.

    Attributes:
        state: ``(n_own,)`` int8: 0 active, 1 solid, −1 void.
        active, solid, void: ``(n_own,)`` boolean masks.
        counts: global ``(n_solid, n_void, n_active)``.

    Raises:
        InputError (on every rank): a malformed selection, a predicate selecting no cell
        of the whole mesh, a cell both solid and void, no active cell left.
    """

    def __init__(self, mesh, layout, solid=None, void=None):
        self.layout = layout
        error, masks = None, None
        try:
            masks = [_selected(mesh, s, name)[layout.own_cells] for s, name in ((solid, "solid"), (void, "void"))]
        except Exception as caught:         # re-raised below, once every rank knows
            error = caught
        if layout.max(1.0 if error is not None else 0.0) > 0:
            if error is not None:
                raise error
            raise InputError("the solid / void selection was refused on another rank (its error names the reason)")
        solid_mask, void_mask = masks
        for selection, mask, name in ((solid, solid_mask, "solid"), (void, void_mask, "void")):
            if callable(selection) and not self._count(mask):
                raise InputError(f"{name}: the predicate selects no cell of the whole mesh")
        if self._count(solid_mask & void_mask):
            raise InputError(f"{self._count(solid_mask & void_mask)} cells are marked both solid and void")
        self.solid, self.void = solid_mask, void_mask
        self.active = ~(solid_mask | void_mask)
        self.state = solid_mask.astype(np.int8) - void_mask.astype(np.int8)
        self.counts = (self._count(solid_mask), self._count(void_mask), self._count(self.active))
        if self.counts[2] == 0:
            raise InputError("every cell is passive (solid or void): nothing left to design")

    def _count(self, mask) -> int:
        return int(round(self.layout.sum(float(np.count_nonzero(mask)))))

    @property
    def any(self) -> bool:
        """Whether some cell of the whole mesh is passive."""
        return bool(self.counts[0] or self.counts[1])

    def raw(self, active_value: float) -> np.ndarray:
        """``(n_own,)``: ``active_value`` on the active cells, 1 on solid, 0 on void ones."""
        x = np.full(self.state.size, float(active_value))
        x[self.solid], x[self.void] = 1.0, 0.0
        return x

    def force(self, rho) -> np.ndarray:
        """``rho`` with the passive cells' densities set to 1 / 0 (in place; returned)."""
        rho[self.solid], rho[self.void] = 1.0, 0.0
        return rho

    def fingerprint(self) -> dict[str, str]:
        """``{"passive cells": counts and an order-free checksum of the natural ids}``,
        the same on any number of ranks; empty when no cell is passive (so checkpoints
        of runs without passive cells keep their fingerprint). Collective."""
        if not self.any:
            return {}
        passive = self.state != 0
        natural = np.asarray(self.layout.natural_cells)[passive]
        checksum = _total(self.layout, _hashes(natural, self.state[passive].astype(np.float64)))
        return {"passive cells": f"{self.counts[0]} solid, {self.counts[1]} void, checksum {checksum}"}
