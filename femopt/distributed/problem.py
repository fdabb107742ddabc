"""DistributedProblem: a femopt Problem solved on PETSc across MPI ranks.

::

    problem = Problem(mesh, LinearElasticity()).fix("xmin").traction("xmax", [0, 0, -1])
    u = DistributedProblem(problem).solve()         # (n_nodes, 3) on every rank

Run the same script serially or with ``mpirun -n 4 python script.py``. Every rank builds
the same serial Problem (the mesh is replicated: memory per rank grows with the whole
mesh, see docs/distributed.md); each rank then

1. takes its cells of the recursive-coordinate-bisection partition and the nodes it owns
   (:mod:`.partition`): a contiguous range of global dofs, PETSc's layout;
2. assembles its cells with femopt's own Assembler and JAX kernels on a local mesh
   (:mod:`.local`) and adds the local CSR matrix into a preallocated PETSc AIJ matrix
   (``d_nnz``/``o_nnz`` from :mod:`.preallocation`) through a local-to-global map; the
   residual goes into a ghosted vector, summed onto owners by a reverse ghost update;
3. applies Dirichlet conditions the way femopt's Newton step does: it solves for the
   increment from the prescribed state ``u_D``, ``K du = -r(u_D)``, with the prescribed
   rows and columns of K zeroed and a 1 on the diagonal (``MatZeroRowsColumns``), so the
   matrix stays symmetric and ``du = 0`` there;
4. solves with KSP (CG + GAMG with the rigid-body near-null space for elasticity, or a
   direct LU through MUMPS) under the options prefix ``femopt_`` — every choice can be
   changed from the command line (``-femopt_ksp_type preonly -femopt_pc_type lu
   -femopt_pc_factor_mat_solver_type mumps``, ``-femopt_ksp_monitor``, ...);
5. gathers the solution into femopt's node ordering on every rank (or rank 0).

Linear physics only for now (LinearElasticity, HeatConduction, with their loads).
"""
from __future__ import annotations

import logging
import resource
import time

import numpy as np

from ..errors import InputError, SolverError
from ._petsc import import_petsc
from .local import LocalSystem, problem_terms
from .partition import partition_mesh
from .preallocation import row_counts

__all__ = ["DistributedProblem", "SOLVERS"]

_log = logging.getLogger("femopt.distributed")

#: ``solver=`` names: KSP type and PC type set before the options database is read.
SOLVERS = ("cg", "direct")


class DistributedProblem:
    """A linear femopt Problem assembled and solved on PETSc across the ranks of ``comm``.

    Args:
        problem: the serial :class:`~femopt.Problem`, set up identically on every rank.
            Its loads are read here: make the DistributedProblem after the last load verb
            (supports and parameter values are read at every solve).
        solver: ``"cg"`` (CG + GAMG, rigid-body near-null space for elasticity) or
            ``"direct"`` (LU: MUMPS where the PETSc build has it, else SuperLU_DIST, else
            PETSc's own on one rank). Command-line options under ``options_prefix``
            override either.
        rtol, atol, max_it: KSP tolerances (relative to the right-hand side's norm).
        comm: a PETSc communicator (default ``PETSc.COMM_WORLD``).
        options_prefix: PETSc options prefix of the matrix, vectors and KSP.
        cell_part: ``(n_cells,)`` rank of each cell, to use instead of the bisection.

    Attributes:
        numbering: the partition (:class:`~femopt.distributed.partition.Numbering`).
        ksp, matrix: the PETSc objects (after the first solve).
        timings: seconds of the last set-up and solve by phase; ``iterations``.

    Raises:
        ImportError: petsc4py is missing (the message names the install command).
        InputError: nonlinear physics, a bad ``solver`` name, no supports, or nodes in
            no cell.
    """

    def __init__(self, problem, *, solver: str = "cg", rtol: float = 1e-10, atol: float = 1e-50,
                 max_it: int = 10000, comm=None, options_prefix: str = "femopt_", cell_part=None):
        PETSc = import_petsc()
        self.PETSc = PETSc
        if solver not in SOLVERS:
            raise InputError(f"solver must be one of {SOLVERS}, got {solver!r}")
        _, _, _, dirichlet = problem_terms(problem)
        if not getattr(problem.physics, "linear", False):
            raise InputError(f"DistributedProblem solves linear physics only so far; {type(problem.physics).__name__} "
                             "is nonlinear (distributed Newton is the next step): solve it serially with "
                             "problem.solve()")
        if not dirichlet and not problem.physics_allows_no_supports():
            raise InputError("the problem has no Dirichlet conditions (fix(...)): its matrix is singular")
        used = np.zeros(problem.mesh.n_nodes, dtype=bool)
        used[problem.mesh.cells.ravel()] = True
        if not used.all():
            raise InputError(f"{int((~used).sum())} node(s) belong to no cell (e.g. node {int(np.argmin(used))}); "
                             "drop them from the mesh (Mesh.submesh keeps the used nodes only)")
        self.problem = problem
        self.solver = solver
        self.tolerances = dict(rtol=float(rtol), atol=float(atol), max_it=int(max_it))
        self.comm = comm if comm is not None else PETSc.COMM_WORLD
        self.options_prefix = options_prefix
        self.timings: dict[str, float] = {}
        self.iterations = 0
        start = time.perf_counter()
        c = problem.space.n_components
        rank, size = self.comm.getRank(), self.comm.getSize()
        self.numbering = partition_mesh(problem.mesh, size, c, cell_part)
        self.piece = self.numbering.piece(problem.mesh.cells, rank)
        self.local = LocalSystem(problem, self.piece)
        self.n_owned_dofs = self.piece.n_owned * c
        self.n_dofs = problem.space.n_dofs
        self.local_to_global = self.numbering.new_dofs(self.local.local_dofs).astype(PETSc.IntType)
        self.timings["partition"] = time.perf_counter() - start
        self.matrix = None
        self.ksp = None
        self.solution = None

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
        d_nnz, o_nnz = row_counts(self.problem.mesh.cells, self.numbering, self.comm.getRank())
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
            ksp.setType(PETSc.KSP.Type.CG)
            pc.setType(PETSc.PC.Type.GAMG)
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

    # -- assembly and solve --------------------------------------------------------------
    def assemble(self, params=None):
        """Assemble ``K`` and ``b = -r(u_D)`` (plus point loads) with the Dirichlet rows
        and columns eliminated; returns ``(K, b, u_D)``, u_D the prescribed state as a
        PETSc vector."""
        PETSc = self.PETSc
        problem = self.problem
        params = problem.parameters(params)
        problem.check_parameters(params)
        split = self.local.split(problem.split(params))
        _, _, _, dirichlet = problem_terms(problem)
        prescribed = np.fromiter(dirichlet, dtype=np.int64, count=len(dirichlet))
        u_full = np.zeros(self.n_dofs)
        u_full[prescribed] = np.fromiter(dirichlet.values(), dtype=np.float64, count=len(dirichlet))
        u_local = u_full[self.local.local_dofs]
        start = time.perf_counter()
        r_local, K_local = self.local.residual_and_tangent(u_local, split)
        self.timings["assembly_kernels"] = time.perf_counter() - start
        A = self.matrix if self.matrix is not None else self._create_matrix()
        start = time.perf_counter()
        A.zeroEntries()
        A.setValuesLocalCSR(K_local.indptr.astype(PETSc.IntType), K_local.indices.astype(PETSc.IntType),
                            K_local.data, addv=PETSc.InsertMode.ADD_VALUES)
        A.assemble()
        b = self.create_vector()
        with b.localForm() as local:
            local.array[:] = -r_local
        b.ghostUpdate(addv=PETSc.InsertMode.ADD_VALUES, mode=PETSc.ScatterMode.REVERSE)
        owned = self.local.local_dofs[:self.n_owned_dofs]
        b.array[:] += problem.external_point_forces(params)[owned]
        rows = self.numbering.new_dofs(prescribed)
        start_dof, end_dof = self.numbering.dof_range(self.comm.getRank())
        mine = np.sort(rows[(rows >= start_dof) & (rows < end_dof)]).astype(PETSc.IntType)
        b.array[mine - start_dof] = 0.0                     # du = 0 where u is prescribed
        A.zeroRowsColumns(mine, 1.0)
        if getattr(problem.physics, "symmetric", False):
            A.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        u_D = self.create_vector()
        u_D.array[:] = u_full[owned]
        self.timings["assembly_insert"] = time.perf_counter() - start
        return A, b, u_D

    def solve(self, params=None, *, gather: str = "all"):
        """Solve; returns the field in femopt's ordering ``(n_nodes,)`` / ``(n_nodes, c)``.

        Args:
            params: parameter overrides, as in :meth:`Problem.solve`.
            gather: ``"all"`` (every rank gets the field), ``"root"`` (rank 0 gets it,
                the others None) or ``"none"`` (returns None; see :attr:`solution`).

        Raises:
            SolverError: KSP did not converge (reason and iterations in the message).
        """
        if gather not in ("all", "root", "none"):
            raise InputError(f"gather must be 'all', 'root' or 'none', got {gather!r}")
        A, b, u_D = self.assemble(params)
        first = self.ksp is None
        ksp = self._create_ksp() if first else self.ksp
        if first and ksp.getType() != "preonly" and (space := self._near_null_space()) is not None:
            A.setNearNullSpace(space)
        du = self.create_vector()
        start = time.perf_counter()
        ksp.setOperators(A)
        ksp.setUp()
        self.timings["solver_setup"] = time.perf_counter() - start
        start = time.perf_counter()
        ksp.solve(b, du)
        self.timings["solve"] = time.perf_counter() - start
        self.iterations = ksp.getIterationNumber()
        reason = ksp.getConvergedReason()
        if reason < 0:
            raise SolverError(f"PETSc KSP ({ksp.getType()}/{ksp.getPC().getType()}) did not converge: reason "
                              f"{reason} after {self.iterations} iterations (residual {ksp.getResidualNorm():.3e}); "
                              f"try -{self.options_prefix}ksp_monitor_true_residual, or solver='direct'")
        du.axpy(1.0, u_D)
        self.solution = du
        _log.info("distributed solve on %d rank(s): %d iterations, %s", self.comm.getSize(), self.iterations,
                  {k: round(v, 3) for k, v in self.timings.items()})
        if gather == "none":
            return None
        return self.gather(du, root_only=gather == "root")

    def gather(self, vec, *, root_only: bool = False):
        """A global PETSc vector (global numbering) as a field in femopt's ordering, on
        every rank (or on rank 0 only: the others get None)."""
        PETSc = self.PETSc
        scatter, whole = (PETSc.Scatter.toZero if root_only else PETSc.Scatter.toAll)(vec)
        scatter.scatter(vec, whole, addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.FORWARD)
        if root_only and self.comm.getRank() != 0:
            return None
        values = whole.getArray(readonly=True)[self.numbering.dof_permutation].copy()
        return self.problem.space.as_field(values)

    def local_field(self, vec=None) -> np.ndarray:
        """The rank's local dofs (owned, then ghosts) of a ghosted vector (default the
        solution), after a forward ghost update: what local assembly at that state reads."""
        vec = self.solution if vec is None else vec
        vec.ghostUpdate(addv=self.PETSc.InsertMode.INSERT_VALUES, mode=self.PETSc.ScatterMode.FORWARD)
        with vec.localForm() as local:
            return local.array.copy()

    @staticmethod
    def peak_memory_mb() -> float:
        """This process's peak resident memory (MB, from getrusage)."""
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

