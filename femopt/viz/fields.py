"""Post-processing for plots: stress and von Mises stress per cell or per node, and
averaging of per-cell values to the nodes.

Thin views of the public functions: :func:`femopt.stress` (the physics' own pointwise
stress with the problem's parameters: ``LinearElasticity.stress`` — small strain, σ_zz
of plane strain included — and the hyperelastic laws' Cauchy stress), and the one von
Mises definition :func:`femopt.von_mises`. A physics without a stress has none to show;
the error says so.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..mesh.mesh import Mesh
from ..physics.stress_measures import von_mises as _von_mises
from ..problem.recovery import average_to_nodes
from ..problem.stresses import stress

__all__ = ["cell_stress", "von_mises", "von_mises_of", "cell_to_nodes"]


def cell_stress(problem, u=None, *, params=None) -> np.ndarray:
    """Cauchy stress at the centre of every cell, ``(n_cells, 3, 3)``:
    ``femopt.stress(problem, u, at="centres", params=params)``.

    Args:
        problem: a :class:`~femopt.Problem` whose physics defines ``stress``.
        u: a State, nodal displacements ``(n_nodes, dim)`` or the flat dof vector;
            default the problem's last state.
        params: parameter overrides (name -> value, as for ``problem.solve``); default
            the parameters of the last solve, else the problem's defaults.

    Raises:
        InputError: the physics has no stress, no displacement is given and the problem
            has not been solved, or ``u`` has the wrong size.
    """
    return stress(problem, u, at="centres", params=params)


def von_mises_of(stress_values) -> np.ndarray:
    """von Mises stress of ``(..., 3, 3)`` stresses, ``(...)``: :func:`femopt.von_mises`
    (kept under this name for existing code)."""
    return np.asarray(_von_mises(np.asarray(stress_values, dtype=np.float64)))


def von_mises(problem, u=None, *, params=None, at: str = "cells") -> np.ndarray:
    """von Mises stress of a solved problem.

    Args:
        problem, u, params: as for :func:`cell_stress`.
        at: ``"cells"`` — one value per cell, at its centre, ``(n_cells,)``; ``"nodes"``
            — from the stress recovered at the nodes by superconvergent patch recovery
            (``femopt.stress(problem, at="nodes")``), ``(n_nodes,)``.
    """
    if at not in ("cells", "nodes"):
        raise InputError(f"at must be 'cells' or 'nodes', got {at!r}")
    where = "nodes" if at == "nodes" else "centres"
    return von_mises_of(stress(problem, u, at=where, params=params))


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
