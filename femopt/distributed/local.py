"""A rank's share of a Problem: its cells as a local mesh, assembled by femopt's own
Assembler (the same JAX kernels, chunks and scatter as a serial run).

The local mesh holds the rank's cells with their nodes renumbered in the order of
:attr:`RankPiece.local_nodes` (owned nodes first, then ghosts), which is also the local
layout of a PETSc ghosted vector, so a local dof vector and a ghosted vector's local
form are the same array. Volume terms keep the rank's cells, boundary terms the facets
of the rank's cells; per-cell and per-node parameters are cut to the rank's cells and
nodes. Point loads are not here: the owner of a node adds them (see ``problem.py``).

The sub-problem is built from the problem's public term lists (``Problem.terms()``).
"""
from __future__ import annotations

import numpy as np

from ..assembly.assembler import Assembler, CellTerm, FacetTerm
from ..errors import InputError
from ..fem.space import FunctionSpace
from ..mesh.mesh import Mesh
from .partition import RankPiece

__all__ = ["LocalSystem", "problem_terms"]


def problem_terms(problem):
    """``(cell terms, facet terms, point loads [(name, nodes)], dirichlet {dof: value})``
    of a femopt Problem.

    Raises:
        InputError: ``problem`` is not a femopt Problem (no term lists).
    """
    if not callable(getattr(problem, "terms", None)):
        raise InputError(f"DistributedProblem needs a femopt Problem, got {type(problem).__name__}")
    return tuple(problem.terms())


class LocalSystem:
    """The rank's cells of ``problem`` as an Assembler on a local mesh.

    Args:
        problem: the serial Problem (set up identically on every rank).
        piece: what this rank holds (:meth:`Numbering.piece`).

    Attributes:
        assembler: femopt Assembler over the local mesh (``n_local_nodes * c`` dofs).
        local_nodes: original ids of the local nodes (owned first, then ghosts).
        local_dofs: original femopt dofs of the local dofs ``(n_local_nodes * c,)``.
    """

    def __init__(self, problem, piece: RankPiece):
        mesh = problem.mesh
        c = problem.space.n_components
        self.piece = piece
        self.local_nodes = piece.local_nodes
        self.local_dofs = (self.local_nodes[:, None] * c + np.arange(c)).ravel()
        local_of = np.full(mesh.n_nodes, -1, dtype=np.int64)
        local_of[self.local_nodes] = np.arange(self.local_nodes.size)
        local_cell = np.full(mesh.n_cells, -1, dtype=np.int64)
        local_cell[piece.cells] = np.arange(piece.cells.size)
        self._cells = piece.cells
        cells = local_of[mesh.cells[piece.cells]]
        # cells of the full mesh were checked when it was made; the local copy needs no second check
        local_mesh = Mesh(mesh.points[self.local_nodes], cells, mesh.cell_type, check=False, coincident="ignore")
        space = FunctionSpace(local_mesh, c, quadrature_degree=problem.space.quadrature.degree)
        cell_terms, facet_terms, _, _ = problem_terms(problem)
        terms = []
        for term in cell_terms:
            if term.cells is None:
                ids = np.arange(piece.cells.size)
            else:
                ids = local_cell[np.asarray(term.cells, dtype=np.int64)]
                ids = np.sort(ids[ids >= 0])
            if ids.size:
                terms.append(CellTerm(term.law, ids))
        facets = []
        for term in facet_terms:
            f = np.asarray(term.facets, dtype=np.int64).reshape(-1, 2)
            kept = f[local_cell[f[:, 0]] >= 0]
            if kept.size:
                facets.append(FacetTerm(term.load, np.stack([local_cell[kept[:, 0]], kept[:, 1]], axis=1)))
        self.space = space
        self.assembler = Assembler(space, terms, facets)

    def split(self, split):
        """Restrict the problem's split parameters ``(global, per cell, per node)`` to
        this rank's cells and local nodes."""
        pg, pc, pn = split
        return (pg, {k: np.asarray(v)[self._cells] for k, v in pc.items()},
                {k: np.asarray(v)[self.local_nodes] for k, v in pn.items()})

    def residual_and_tangent(self, u_local, split):
        """Local residual ``(n_local_dofs,)`` and CSR tangent of the rank's cells at the
        local dof vector ``u_local``, parameters already restricted by :meth:`split`."""
        return self.assembler.residual_and_tangent(u_local, split)
