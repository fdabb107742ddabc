"""Fields for plots: per-cell values averaged to the nodes, and the von Mises stress a
plot colours by.

Stresses themselves are read with :func:`femopt.stress` (at points, quadrature points,
cell centres or recovered at the nodes, with the problem's material) and the one von
Mises definition :func:`femopt.von_mises`; this module only packages them for plots.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..mesh.mesh import Mesh
from ..physics.stress_measures import von_mises as _von_mises
from ..problem.recovery import average_to_nodes
from ..problem.stresses import stress

__all__ = ["cell_to_nodes", "von_mises_field"]


def von_mises_field(problem, u=None, *, at: str = "cells") -> np.ndarray:
    """The von Mises stress that ``plot(scalars="von_mises")`` colours by: per cell at its
    centre (``(n_cells,)``) or recovered at the nodes (``(n_nodes,)``). Scripts write
    ``fo.von_mises(fo.stress(problem, at=...))``."""
    where = "nodes" if at == "nodes" else "centres"
    return np.asarray(_von_mises(np.asarray(stress(problem, u, at=where), dtype=np.float64)))


def cell_to_nodes(mesh: Mesh, values) -> np.ndarray:
    """Per-cell values ``(n_cells, ...)`` averaged to the nodes, each cell weighted by its
    measure (length, area, volume); ``(n_nodes, ...)``. Nodes of no cell get 0. Biased
    at boundaries (a node there sees the cells of one side only): to read stresses at
    nodes use ``femopt.stress(problem, at="nodes")``."""
    if not isinstance(mesh, Mesh):
        raise InputError(f"cell_to_nodes takes the mesh first, got {type(mesh).__name__}")
    try:
        return average_to_nodes(mesh, values)
    except InputError as error:
        raise InputError(f"cell_to_nodes: {error}") from None
