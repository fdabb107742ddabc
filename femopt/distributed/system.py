"""The PETSc side of a DistributedProblem: vectors, the preallocated matrix, the KSP,
and the assembly of residual and tangent at a distributed state.

A state lives in a ghosted PETSc vector on the global (PETSc) numbering; its local form
(owned dofs, then ghosts) is the rank's local dof vector, the order of the local mesh.
Residuals are assembled locally and summed onto the owners (reverse ghost update, ADD);
point loads are added by the owner of the node. Rows of prescribed dofs are zeroed in the
residual, and rows *and* columns in the tangent with 1 on the diagonal
(``MatZeroRowsColumns``): an increment solved with it is 0 there, and the matrix of a
symmetric physics stays symmetric for CG. (Columns may be dropped because every state
the Newton loop visits already carries the prescribed values.)
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from ..assembly.parameters import scale_value
from ..errors import InputError
from .local import problem_terms
from .preallocation import piece_row_counts, row_counts
from .reductions import sum_to_all

_log = logging.getLogger("femopt.distributed")

#: PETSc's KSP_DIVERGED_INDEFINITE_PC
_INDEFINITE_PC = -8

__all__ = ["PetscSystem", "LoadLevel"]


@dataclass
class LoadLevel:
    """Everything assembly needs at one set of parameters and one load factor.

    Attributes:
        params: the full parameter dict (load magnitudes scaled).
        split: the rank's (global, per cell, per node) parameters for the kernels.
        point_forces: ``(n_owned_dofs,)`` point loads of the owned dofs.
        prescribed_local: ``(n_local_dofs,)`` prescribed values (0 elsewhere) in local order.
        prescribed_mask: ``(n_local_dofs,)`` True on the prescribed local dofs.
        rows: owned prescribed rows, global (PETSc) numbers.
    """

    params: dict
    split: tuple
    point_forces: np.ndarray
    prescribed_local: np.ndarray
    prescribed_mask: np.ndarray
    rows: np.ndarray


class PetscSystem:
    """Mixin of :class:`~femopt.distributed.problem.DistributedProblem`: expects
    ``PETSc, comm, problem, numbering, piece, local, local_to_global, n_owned_dofs,
    n_dofs, options_prefix, solver, tolerances, timings, matrix, ksp``."""

    # -- PETSc objects -------------------------------------------------------------------
    def _sizes(self):
        return (self.n_owned_dofs, self.n_dofs)

    def create_vector(self):
        """A ghosted PETSc vector on the global numbering (ghosts: this rank's ghost dofs).
        Its local form holds the rank's local dofs, owned first — the local mesh's order."""
        ghosts = self.local_to_global[self.n_owned_dofs:]
        vec = self.PETSc.Vec().createGhost(ghosts, self._sizes(), comm=self.comm)
        vec.setBlockSize(self.problem.space.n_components)
        return vec

    def _create_matrix(self):
        PETSc = self.PETSc
        start = time.perf_counter()
        A = PETSc.Mat().create(comm=self.comm)
        A.setSizes((self._sizes(), self._sizes()))
        A.setType(PETSc.Mat.Type.AIJ)
        A.setBlockSize(self.problem.space.n_components)
        A.setOptionsPrefix(self.options_prefix)
        if self.problem.mesh.piece is None:
            d_nnz, o_nnz = row_counts(self.problem.mesh.cells, self.numbering, self.comm.getRank())
        else:
            d_nnz, o_nnz = piece_row_counts(PETSc, self.comm, self.problem.mesh, self.problem.space.n_components)
        A.setPreallocationNNZ((d_nnz.astype(PETSc.IntType), o_nnz.astype(PETSc.IntType)))
        A.setLGMap(PETSc.LGMap().create(self.local_to_global, comm=self.comm))
        A.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, True)
        A.setOption(PETSc.Mat.Option.KEEP_NONZERO_PATTERN, True)   # zeroed Dirichlet rows keep their slots
        self.matrix = A
        self.timings["preallocation"] = time.perf_counter() - start
        return A

    def _near_null_space(self):
        """Rigid-body modes of the owned nodes (elasticity: c == dim > 1), else None."""
        mesh, c = self.problem.mesh, self.problem.space.n_components
        if c != mesh.dim or c == 1:
            return None
        coordinates = np.ascontiguousarray(mesh.points[self.piece.local_nodes[:self.piece.n_owned]]).ravel()
        vec = self.PETSc.Vec().createWithArray(coordinates, size=self._sizes(), bsize=c, comm=self.comm)
        space = self.PETSc.NullSpace().createRigidBody(vec)
        self._coordinates = (coordinates, vec)            # PETSc keeps pointers into the array
        return space

    def _create_ksp(self):
        PETSc = self.PETSc
        ksp = PETSc.KSP().create(comm=self.comm)
        ksp.setOperators(self.matrix)
        ksp.setOptionsPrefix(self.options_prefix)
        pc = ksp.getPC()
        if self.solver == "cg":
            # CG needs a symmetric tangent; k(T) heat conduction has none: GMRES then
            symmetric = getattr(self.problem.physics, "symmetric", False)
            ksp.setType(PETSc.KSP.Type.CG if symmetric else PETSc.KSP.Type.GMRES)
            pc.setType(PETSc.PC.Type.GAMG)
            # Dropping weak couplings before aggregation (threshold 0.02; PETSc's default
            # keeps all) cut CG's iterations from 24 to 16 and the solve by 15 % on a hex8
            # cantilever of 53k dofs at SIMP contrasts; 0.01-0.05 behave alike, 0.1 is
            # worse. The options database still wins when the user gives one.
            key = f"{self.options_prefix}pc_gamg_threshold"
            if not PETSc.Options().hasName(key):
                PETSc.Options().setValue(key, 0.02)
        else:
            ksp.setType(PETSc.KSP.Type.PREONLY)
            pc.setType(PETSc.PC.Type.LU)
            for package in ("mumps", "superlu_dist"):
                if PETSc.Sys.hasExternalPackage(package):
                    pc.setFactorSolverType(package)
                    break
        ksp.setTolerances(**self.tolerances)
        ksp.setFromOptions()                               # command line last: it wins
        self.ksp = ksp
        return ksp

    def krylov_solve(self, ksp, rhs, x) -> None:
        """``ksp.solve(rhs, x)`` from zero. CG that meets an indefinite preconditioner goes
        on with flexible CG from then on: GAMG on a high-contrast design (SIMP's void
        stiffness) can lose the symmetry and definiteness CG relies on (seen at 12x6x6
        hex8 after a few OC steps, every smoother setting alike); FCG tolerates it and
        gives MUMPS's answer there."""
        ksp.solve(rhs, x)
        if ksp.getConvergedReason() == _INDEFINITE_PC and ksp.getType() == "cg":
            _log.info("CG met an indefinite GAMG preconditioner; switching to flexible CG (FCG)")
            ksp.setType("fcg")
            x.set(0.0)
            ksp.solve(rhs, x)

    def _ready_ksp(self, A):
        """The KSP with operator ``A`` set up (its preconditioner / factorization rebuilt
        for the new values); created on first use."""
        first = self.ksp is None
        ksp = self._create_ksp() if first else self.ksp
        if first and ksp.getType() != "preonly" and (space := self._near_null_space()) is not None:
            A.setNearNullSpace(space)
        start = time.perf_counter()
        ksp.setOperators(A)
        ksp.setUp()
        self.timings["solver_setup"] = self.timings.get("solver_setup", 0.0) + time.perf_counter() - start
        return ksp

    # -- parameters and supports ---------------------------------------------------------
    def load_level(self, params, factor: float = 1.0) -> LoadLevel:
        """The :class:`LoadLevel` of the full parameter dict ``params`` (checked by the
        caller) with load magnitudes and prescribed values scaled by ``factor``."""
        problem = self.problem
        if factor != 1.0:
            loads = {name for _, name, _ in problem.loads()}
            params = {k: (scale_value(v, factor) if k in loads else v) for k, v in params.items()}
        mask, values = self._supports()
        rows = self.local_to_global[:self.n_owned_dofs][mask[:self.n_owned_dofs]]
        owned = self.local.local_dofs[:self.n_owned_dofs]
        return LoadLevel(params=params, split=self.local.split(problem.split(params)),
                         point_forces=problem.external_point_forces(params)[owned],
                         prescribed_local=factor * values, prescribed_mask=mask, rows=rows)

    def _supports(self):
        """``(mask, values)`` of the prescribed local dofs. On a piece of a distributed
        mesh every rank prescribes the dofs of its own nodes; the owner of a shared node
        takes every rank's word (a dof prescribed on any rank is prescribed), and
        different values for one dof are refused."""
        dirichlet = problem_terms(self.problem)[3]
        prescribed = np.fromiter(dirichlet, dtype=np.int64, count=len(dirichlet))
        n = self.problem.space.n_dofs
        full = np.zeros(n)
        full[prescribed] = np.fromiter(dirichlet.values(), dtype=np.float64, count=len(dirichlet))
        mask = np.zeros(n, dtype=bool)
        mask[prescribed] = True
        mask, values = mask[self.local.local_dofs], full[self.local.local_dofs]
        if self.problem.mesh.piece is None:
            return mask, values
        count, total, squares = (self._owned_sum(a).getArray(readonly=True).copy()
                                 for a in (mask.astype(float), values, values ** 2))
        agreed = count > 0
        mean = np.where(agreed, total / np.maximum(count, 1.0), 0.0)
        mean_square = np.where(agreed, squares / np.maximum(count, 1.0), 0.0)
        bad = np.flatnonzero(mean_square - mean ** 2 > 1e-12 * mean_square)
        if self._global_count(bad.size):
            where = f" (global dof {self.first_dof + int(bad[0])} on rank {self.comm.getRank()})" if bad.size else ""
            raise InputError(f"ranks prescribe different values for shared dofs{where}: select supports by "
                             "position or tag, the same on every rank")
        values = self.create_vector()
        values.array[:] = mean
        flags = self.create_vector()
        flags.array[:] = agreed
        local_values, local_flags = self.local_field(values), self.local_field(flags)
        return local_flags > 0.5, np.where(local_flags > 0.5, local_values, 0.0)

    def _global_count(self, n) -> int:
        """Σ over the ranks of the integer ``n`` (collective)."""
        return int(round(sum_to_all(self.PETSc, self.comm, [0], [float(n)], 1)[0]))

    # -- assembly ------------------------------------------------------------------------
    def _owned_sum(self, r_local):
        """A global vector holding the sum over the ranks of local dof vectors."""
        vec = self.create_vector()
        with vec.localForm() as local:
            local.array[:] = r_local
        vec.ghostUpdate(addv=self.PETSc.InsertMode.ADD_VALUES, mode=self.PETSc.ScatterMode.REVERSE)
        return vec

    def _free_residual(self, r_local, level):
        """Global residual minus the point loads, prescribed rows zeroed."""
        r = self._owned_sum(r_local)
        r.array[:] -= level.point_forces
        r.array[level.rows - self.first_dof] = 0.0
        return r

    def residual_vector(self, u_local, level):
        """The global residual (prescribed rows 0) at the local dofs ``u_local``."""
        start = time.perf_counter()
        r_local = self.local.assembler.residual(u_local, level.split)
        self.timings["assembly_kernels"] = time.perf_counter() - start
        return self._free_residual(r_local, level)

    def magnitude_norm(self, u_local, level) -> float:
        """``||Σ|contributions|||`` over the free dofs plus ``||point loads||``: the size of
        what the residual sums at ``u_local`` (femopt's Newton scale; rest state)."""
        magnitude = self._owned_sum(self.local.assembler.residual(u_local, level.split, magnitude=True))
        points = self.create_vector()
        points.array[:] = level.point_forces
        for vec in (magnitude, points):
            vec.array[level.rows - self.first_dof] = 0.0
        return float(magnitude.norm()) + float(points.norm())

    def residual_and_tangent(self, u_local, level):
        """Global residual (prescribed rows 0) and tangent (prescribed rows and columns
        eliminated) at the local dofs ``u_local``; the matrix is :attr:`matrix`."""
        PETSc = self.PETSc
        start = time.perf_counter()
        r_local, K_local = self.local.residual_and_tangent(u_local, level.split)
        self.timings["assembly_kernels"] = time.perf_counter() - start
        A = self.matrix if self.matrix is not None else self._create_matrix()
        start = time.perf_counter()
        A.zeroEntries()
        A.setValuesLocalCSR(K_local.indptr.astype(PETSc.IntType), K_local.indices.astype(PETSc.IntType),
                            K_local.data, addv=PETSc.InsertMode.ADD_VALUES)
        A.assemble()
        A.zeroRowsColumns(level.rows, 1.0)
        if getattr(self.problem.physics, "symmetric", False):
            A.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        r = self._free_residual(r_local, level)
        self.timings["assembly_insert"] = time.perf_counter() - start
        return r, A

    def local_field(self, vec=None) -> np.ndarray:
        """The rank's local dofs (owned, then ghosts) of a ghosted vector (default the
        solution), after a forward ghost update: what local assembly at that state reads."""
        vec = self.solution if vec is None else vec
        vec.ghostUpdate(addv=self.PETSc.InsertMode.INSERT_VALUES, mode=self.PETSc.ScatterMode.FORWARD)
        with vec.localForm() as local:
            return local.array.copy()

    def vector_from_local(self, u_local):
        """A ghosted global vector holding the owned part of local dofs ``u_local``."""
        vec = self.create_vector()
        vec.array[:] = u_local[:self.n_owned_dofs]
        return vec
