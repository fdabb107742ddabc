"""The fingerprint of a problem set up on mesh pieces, the same whatever the number of
ranks — so a checkpoint written on 4 ranks resumes on 8 and refuses a different problem.

Each rank hashes its own cells (natural id and centroid bits), its owned prescribed dofs
(natural dof number and value bits) and its per-cell parameter values into 40-bit
integers whose sum over the ranks (exact in float64 for up to 4096 ranks) is taken
modulo 2^40: an order-free checksum of the whole mesh, supports and fields.
"""
from __future__ import annotations

import numpy as np

from ..design.fingerprint import describe

__all__ = ["piece_fingerprint"]

_BITS = 40
_MASK = np.uint64((1 << _BITS) - 1)
_MULTIPLIERS = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5,
                         0x85EBCA77C2B2AE63], dtype=np.uint64)


def _hashes(ids, values) -> int:
    """Σ of 40-bit hashes of the rows ``(ids[i], values[i, :])`` (float bits), mod 2^40."""
    ids = np.asarray(ids, dtype=np.int64).astype(np.uint64)
    if not len(ids):
        return 0
    values = np.ascontiguousarray(np.asarray(values, dtype=np.float64).reshape(len(ids), -1)).view(np.uint64)
    with np.errstate(over="ignore"):
        h = ids * _MULTIPLIERS[0]
        for k in range(values.shape[1]):
            h = (h ^ values[:, k]) * _MULTIPLIERS[1 + k % 4]
            h ^= h >> np.uint64(29)
    return int(np.sum(h & _MASK, dtype=np.uint64) & _MASK)


def _total(layout, part: int) -> str:
    return f"{int(round(layout.sum(float(part)))) % (1 << _BITS):010x}"


def piece_fingerprint(distributed, layout) -> dict[str, str]:
    """The fingerprint of ``distributed`` (a DistributedProblem on mesh pieces): whole
    mesh, physics, parameters and supports, computed collectively with ``layout`` (its
    :class:`~femopt.distributed.cells.CellLayout`)."""
    problem = distributed.problem
    mesh, piece = problem.mesh, problem.mesh.piece
    low = [-layout.max(-float(v)) for v in mesh.points.min(axis=0)] if mesh.n_nodes else []
    high = [layout.max(float(v)) for v in mesh.points.max(axis=0)] if mesh.n_nodes else []
    box = " x ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(low, high))
    cells = _total(layout, _hashes(piece.natural_cells, mesh.cell_centroids()))
    out = {"mesh": f"{mesh.cell_type.name} mesh in pieces, {piece.n_nodes} nodes, {piece.n_cells} cells in {box}, "
                   f"checksum {cells}"}
    physics = problem.physics
    settings = ", ".join(f"{k}={describe(v, depth=1)}" for k, v in sorted(vars(physics).items())
                         if not k.startswith("_") and k != "parameters")
    out["physics"] = f"{type(physics).__name__}({settings})"
    pg, pc, pn = problem.split(problem.parameters())
    described = {name: describe(v, depth=0) for name, v in pg.items()}
    described.update({name: f"per-cell field, checksum "
                            f"{_total(layout, _hashes(piece.natural_cells, np.asarray(v)))}" for name, v in pc.items()})
    described.update({name: "per-node field" for name in pn})
    out["problem parameters"] = ", ".join(f"{k}: {v}" for k, v in sorted(described.items()))
    out["loads"] = "; ".join(f"{kind} {name!r}" for kind, name, _ in problem.loads()) or "none"
    level = distributed.load_level(problem.parameters())
    owned = np.flatnonzero(level.prescribed_mask[:distributed.n_owned_dofs])
    c = problem.space.n_components
    natural = np.asarray(piece.natural_nodes)[owned // c] * c + owned % c
    count = int(round(layout.sum(float(owned.size))))
    out["supports"] = (f"{count} prescribed dofs, checksum "
                       f"{_total(layout, _hashes(natural, level.prescribed_local[owned]))}")
    return out
