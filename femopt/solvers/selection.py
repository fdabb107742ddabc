"""The automatic choice of linear solver, in one place, and what it needs to know.

A :class:`SolverContext` describes the system a problem will solve: the node coordinates,
the field's components, which dofs are free and whether the tangent is symmetric. A
solver bound to a context (:meth:`LinearSolver.with_context`) can use it: CG with AMG
gets the near-null space (the rigid-body modes of elasticity at the free dofs, the
constant of a scalar field), without which smoothed aggregation converges several times
more slowly on elasticity (211 against 20 CG iterations on a 205k-dof cantilever).

:class:`AutoSolver` (``linear_solver="auto"``, the default) picks by the measured
figures below and logs the choice and why on ``femopt.solvers`` (INFO):

==================================================  ==========================================
system                                              choice
==================================================  ==========================================
nonsymmetric tangent (k(T) conduction, custom)      sparse direct (SuperLU; no CG without SPD)
structured quad4 / hex8 lattice, or a mesh from     CG + geometric multigrid
``femopt.mesh.refine`` whose coarsest mesh is       (:mod:`femopt.solvers.multigrid`)
small, symmetric, more than 20 000 free dofs
3D, symmetric, more than 30 000 free dofs           CG + smoothed-aggregation AMG with the
                                                    near-null space (pyamg; extra ``amg``)
2D, symmetric, more than 200 000 free dofs          the same
linear transient run, 2D, up to 200 000 free dofs  sparse direct (one factorization serves
                                                    every step)
otherwise                                           sparse direct, told the matrix is
                                                    symmetric (PARDISO from 10 000 dofs when
                                                    the extra ``fast`` is installed, except
                                                    2D scalar fields up to 60 000: SuperLU)
==================================================  ==========================================

Measured on this project's 2-core reference machine (3D hex8 elasticity): SuperLU
factorizes 46 848 dofs in 20 s and 101 400 dofs in ~140 s, PARDISO in 1.3 s and ~16 s,
CG + AMG with rigid-body modes solves 52 728 dofs in 2.2-2.7 s and 206 763 dofs in
9.5-10.5 s; 2D direct fill stays small (200k 2D dofs factorize in seconds).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from femopt.fem.nullspace import rigid_body_modes
from femopt.solvers.linear_base import LinearSolver

__all__ = ["SolverContext", "AutoSolver", "ITERATIVE_3D_MIN_DOFS", "ITERATIVE_2D_MIN_DOFS", "MULTIGRID_MIN_DOFS",
           "REFINED_COARSE_MAX_DOFS", "SUPERLU_2D_SCALAR_MAX_DOFS"]

_log = logging.getLogger("femopt.solvers")

#: Free dofs above which "auto" solves symmetric 3D systems with AMG-preconditioned CG.
ITERATIVE_3D_MIN_DOFS = 30_000
#: The same for 2D, where direct fill grows slowly.
ITERATIVE_2D_MIN_DOFS = 200_000
#: Free dofs above which a structured quad4 / hex8 lattice gets CG + geometric multigrid
#: (MBB 300 x 100, 60 700 dofs: 0.23-0.26 s against 1.2 s SuperLU, 0.48 s PARDISO; 3D
#: hex8 elasticity 201 720 dofs: 2.1 s against 8.3 s for AMG-CG).
MULTIGRID_MIN_DOFS = 20_000
#: A refined mesh gets geometric multigrid when its coarsest mesh has at most this many
#: dofs (the V-cycle factorizes that level at every set-up; SuperLU's 3D fill grows fast).
REFINED_COARSE_MAX_DOFS = {1: 200_000, 2: 50_000, 3: 10_000}
#: A symmetric 2D scalar field (heat) up to this many free dofs is factorized by SuperLU
#: even when PARDISO is installed. Measured (2D quad4 heat, 2 cores), SuperLU / PARDISO:
#: 10 100 dofs factorize in 0.022 / 0.052 s and solve in 0.9 / 2.5 ms; 40 200 dofs 0.13 /
#: 0.36 s and 4.3 / 13.6 ms; from 160 400 dofs PARDISO factorizes faster (0.37 / 0.85 s).
#: 2D elasticity factorizes faster with PARDISO from 10 000 dofs and keeps it.
SUPERLU_2D_SCALAR_MAX_DOFS = 60_000


@dataclass(frozen=True, eq=False)
class SolverContext:
    """What a linear solver may know about the system besides its matrix.

    Attributes:
        points: node coordinates ``(n_nodes, dim)``.
        n_components: field components per node.
        free: global ids of the free dofs ``(n_free,)`` (the matrix's rows), node-major.
        symmetric: whether the tangent is symmetric (the physics says so).
        mesh: the mesh, when known (a structured quad4 / hex8 lattice gets geometric
            multigrid).
        repeated_solves: many solves will follow each factorization (the steps of a
            linear transient run): a factorization pays off sooner than an iteration.
    """

    points: np.ndarray
    n_components: int
    free: np.ndarray
    symmetric: bool
    mesh: object = None
    repeated_solves: bool = False

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    @property
    def n_free(self) -> int:
        return int(self.free.size)

    @cached_property
    def structured_grid(self):
        """The lattice of a structured quad4 / hex8 mesh, or None."""
        if self.mesh is None:
            return None
        from femopt.solvers.multigrid_grid import structured_grid

        return structured_grid(self.mesh)

    @cached_property
    def multigrid_hierarchy(self):
        """The lattice, else a refined mesh (:func:`femopt.mesh.refine`) whose coarsest
        mesh is small enough for the coarse direct solve (:data:`REFINED_COARSE_MAX_DOFS`),
        else None: what geometric multigrid can use."""
        if self.structured_grid is not None or self.mesh is None:
            return self.structured_grid
        from femopt.solvers.multigrid_refined import coarsest_mesh, refinement_depth

        if refinement_depth(self.mesh) == 0:
            return None
        coarse_dofs = coarsest_mesh(self.mesh).n_nodes * self.n_components
        return self.mesh if coarse_dofs <= REFINED_COARSE_MAX_DOFS[self.dim] else None

    @cached_property
    def near_nullspace(self) -> np.ndarray | None:
        """The zero-energy modes at the free dofs ``(n_free, k)``: rigid-body modes for a
        displacement field (3 in 2D, 6 in 3D), the constant for a scalar field; None for
        other fields."""
        modes = rigid_body_modes(self.points, self.n_components)
        return None if modes is None else np.ascontiguousarray(modes[self.free])


def _direct_2d(n: int, n_components: int):
    """The direct solver for a symmetric 2D system: SuperLU for a scalar field up to
    :data:`SUPERLU_2D_SCALAR_MAX_DOFS` (faster than PARDISO there, factorization and solve
    alike), else the fastest installed backend."""
    from femopt.solvers.linear_direct import DirectSolver

    if n_components == 1 and n <= SUPERLU_2D_SCALAR_MAX_DOFS:
        return DirectSolver(symmetric=True, backend="superlu")
    return DirectSolver(symmetric=True)


class AutoSolver(LinearSolver):
    """``linear_solver="auto"``: the fastest installed path for the system, chosen when
    bound to a :class:`SolverContext` (see the module table). Unbound (a bare matrix),
    it factorizes directly below :data:`ITERATIVE_2D_MIN_DOFS` rows and uses AMG-CG above.
    """

    def __init__(self, n_hint: int | None = None):
        self.n_hint = n_hint

    def choose(self, context: SolverContext | None) -> tuple[LinearSolver, str]:
        """The solver for ``context`` and the reason, in words."""
        from femopt.solvers.linear_direct import DirectSolver
        from femopt.solvers.linear_iterative import FAST_AMG_SETUP, CGSolver, import_pyamg

        if context is None:
            n = self.n_hint
            if n is not None and n > ITERATIVE_2D_MIN_DOFS and import_pyamg() is not None:
                return CGSolver("amg"), f"{n} unknowns > {ITERATIVE_2D_MIN_DOFS}, no context"
            return DirectSolver(), "no context: direct"
        n, dim = context.n_free, context.dim
        if not context.symmetric:
            return DirectSolver(symmetric=False), f"nonsymmetric tangent ({n} free dofs): CG does not apply"
        if context.repeated_solves and dim <= 2 and n <= ITERATIVE_2D_MIN_DOFS:
            solver = _direct_2d(n, context.n_components)
            return solver, (f"{dim}D, symmetric, {n} free dofs, one factorization for many solves: sparse direct "
                            f"({solver.backend_for(n)})")
        if n > MULTIGRID_MIN_DOFS and context.multigrid_hierarchy is not None:
            from femopt.solvers.multigrid import GeometricMultigrid

            multigrid = GeometricMultigrid(context.multigrid_hierarchy, context.n_components, context.free)
            kind = "structured" if context.structured_grid is not None else "refined"
            return (CGSolver(multigrid, rtol=1e-10),
                    f"{dim}D {kind} {context.mesh.cell_type.name} mesh ({multigrid.hierarchy}), symmetric, {n} "
                    f"free dofs > {MULTIGRID_MIN_DOFS}: CG + geometric multigrid ({len(multigrid.level_dofs)} levels)")
        threshold = ITERATIVE_3D_MIN_DOFS if dim == 3 else ITERATIVE_2D_MIN_DOFS
        if n > threshold:
            if import_pyamg() is not None:
                modes = context.near_nullspace
                what = "no near-null space" if modes is None else f"{modes.shape[1]} near-null-space modes"
                return (CGSolver("amg", rtol=1e-10, near_nullspace=modes, amg_options=FAST_AMG_SETUP),
                        f"{dim}D, symmetric, {n} free dofs > {threshold}: CG + smoothed-aggregation AMG ({what})")
            _log.warning("%d free dofs in %dD: a direct factorization will be slow and memory-hungry; "
                         "pip install 'femopt[amg]' for AMG-preconditioned CG", n, dim)
        solver = _direct_2d(n, context.n_components) if dim <= 2 else DirectSolver(symmetric=True)
        return solver, f"{dim}D, symmetric, {n} free dofs: sparse direct ({solver.backend_for(n)})"

    def with_context(self, context: SolverContext) -> LinearSolver:
        solver, why = self.choose(context)
        _log.info("linear solver: %s — %s", type(solver).__name__, why)
        return solver.with_context(context)

    def _factorize(self, A):
        solver, why = self.choose(None)
        _log.debug("linear solver without context: %s (%s)", type(solver).__name__, why)
        return solver._factorize(A)

    def __repr__(self) -> str:
        return "AutoSolver()"

