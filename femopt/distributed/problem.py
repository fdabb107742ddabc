"""DistributedProblem: a femopt Problem solved on PETSc across MPI ranks.

::

    problem = Problem(mesh, LinearElasticity()).fix("xmin").traction("xmax", [0, 0, -1])
    u = DistributedProblem(problem).solve()         # (n_nodes, 3) on every rank

Run the same script serially or with ``mpirun -n 4 python script.py``. Either every rank
builds the same serial Problem on the whole mesh (replicated: memory per rank grows with
the whole mesh), or each rank sets its Problem up on its own piece of the mesh
(``femopt.distributed.box(...)``, ``cut(mesh)``; :mod:`femopt.mesh.pieces`) and no rank
ever holds the whole mesh. Each rank then

1. takes its cells and the nodes it owns — of the recursive-coordinate-bisection
   partition of a whole mesh (:mod:`.partition`), or of its piece: a contiguous range of
   global dofs, PETSc's layout;
2. assembles its cells with femopt's own Assembler and JAX kernels on a local mesh
   (:mod:`.local`) and adds the local CSR matrix into a preallocated PETSc AIJ matrix
   (``d_nnz``/``o_nnz`` from :mod:`.preallocation`) through a local-to-global map; the
   residual goes into a ghosted vector, summed onto owners by a reverse ghost update
   (on pieces the pattern of the rows is first gathered through a PETSc MATIS, since no
   rank knows all cells touching its interface nodes);
3. applies Dirichlet conditions the way femopt's Newton step does: it solves for the
   increment from the prescribed state ``u_D``, ``K du = -r(u_D)``, with the prescribed
   rows and columns of K zeroed and a 1 on the diagonal (``MatZeroRowsColumns``), so the
   matrix stays symmetric and ``du = 0`` there;
4. solves with KSP (CG + GAMG with the rigid-body near-null space for elasticity, or a
   direct LU through MUMPS) under the options prefix ``femopt_`` — every choice can be
   changed from the command line (``-femopt_ksp_type preonly -femopt_pc_type lu
   -femopt_pc_factor_mat_solver_type mumps``, ``-femopt_ksp_monitor``, ...);
5. returns the field of ``problem.mesh`` (the whole mesh's, gathered; or the piece's),
   or gathers it in the whole mesh's node order on every rank (or rank 0).

Nonlinear physics (NeoHookean, StVenantKirchhoff, HeatConduction with k(T)) are solved by
Newton's method on the distributed residual (:mod:`.newton`); ``gradient`` computes
adjoint gradients of functionals (:mod:`.gradient`). The PETSc objects and the assembly
are in :mod:`.system`.
"""
from __future__ import annotations

import logging
import resource
import time

import numpy as np

from ..errors import InputError, SolverError
from ..functionals.compiled import same_params
from ..problem.validate import initial_vector
from ..solvers.newton_records import NewtonOptions
from ._petsc import import_petsc
from .local import LocalSystem, problem_terms
from .newton import distributed_newton
from .partition import PieceNumbering, partition_mesh
from .system import PetscSystem

__all__ = ["DistributedProblem", "SOLVERS"]

_log = logging.getLogger("femopt.distributed")

#: ``solver=`` names: KSP type and PC type set before the options database is read.
SOLVERS = ("cg", "direct")


class DistributedProblem(PetscSystem):
    """A femopt Problem assembled and solved on PETSc across the ranks of ``comm``.

    Args:
        problem: a :class:`~femopt.Problem`, set up identically on every rank on the whole
            mesh, or on each rank's mesh piece (``femopt.distributed.box``, ``cut``).
            Its loads are read here: make the DistributedProblem after the last load verb
            (supports and parameter values are read at every solve).
        solver: ``"cg"`` (CG + GAMG, rigid-body near-null space for elasticity; GMRES +
            GAMG where the tangent is unsymmetric, e.g. k(T) heat conduction) or
            ``"direct"`` (LU: MUMPS where the PETSc build has it, else SuperLU_DIST, else
            PETSc's own on one rank). Command-line options under ``options_prefix``
            override either.
        rtol, atol, max_it: KSP tolerances (relative to the right-hand side's norm).
        comm: a PETSc communicator (default ``PETSc.COMM_WORLD``).
        options_prefix: PETSc options prefix of the matrix, vectors and KSP.
        cell_part: ``(n_cells,)`` rank of each cell, to use instead of the bisection.
        newton: :class:`~femopt.solvers.newton.NewtonOptions` for nonlinear physics
            (default: the problem's own, ``problem.newton_options``).

    Attributes:
        numbering: the partition (:class:`~femopt.distributed.partition.Numbering`).
        ksp, matrix: the PETSc objects (after the first solve).
        timings: seconds of the last set-up and solve by phase; ``iterations`` (KSP
            iterations of the last solve, summed over its Newton steps).
        newton_results: one :class:`~femopt.solvers.newton.NewtonResult` per load step of
            the last nonlinear solve (``u`` in it: the rank's owned dofs).

    Raises:
        ImportError: petsc4py is missing (the message names the install command).
        InputError: a bad ``solver`` name, no supports, or nodes in no cell.
    """

    def __init__(self, problem, *, solver: str = "cg", rtol: float = 1e-10, atol: float = 1e-50,
                 max_it: int = 10000, comm=None, options_prefix: str = "femopt_", cell_part=None,
                 newton: NewtonOptions | None = None):
        PETSc = import_petsc()
        self.PETSc = PETSc
        if solver not in SOLVERS:
            raise InputError(f"solver must be one of {SOLVERS}, got {solver!r}")
        _, _, _, dirichlet = problem_terms(problem)
        if newton is not None and not isinstance(newton, NewtonOptions):
            raise InputError(f"newton must be a femopt NewtonOptions, got {type(newton).__name__}")
        if problem.mesh.piece is None:
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
        piece = problem.mesh.piece
        if piece is None:
            self.numbering = partition_mesh(problem.mesh, size, c, cell_part)
            self.n_dofs = problem.space.n_dofs
        else:
            if cell_part is not None:
                raise InputError("cell_part is for a whole (replicated) mesh; this problem's mesh is already a piece")
            if (piece.rank, piece.n_ranks) != (rank, size):
                raise InputError(f"this rank's problem is set up on piece {piece.rank} of {piece.n_ranks}, but it "
                                 f"runs as rank {rank} of {size}: make the mesh with femopt.distributed.box(...) "
                                 "(or cut_piece with the communicator's rank and size) in the same run")
            self.numbering = PieceNumbering(piece, c)
            self.n_dofs = piece.n_nodes * c
        self.piece = self.numbering.piece(problem.mesh.cells, rank)
        self.local = LocalSystem(problem, self.piece)
        self.n_owned_dofs = self.piece.n_owned * c
        self.first_dof = self.numbering.dof_range(rank)[0]
        self.local_to_global = self.numbering.new_dofs(self.local.local_dofs).astype(PETSc.IntType)
        self.timings["partition"] = time.perf_counter() - start
        if not self._global_count(len(dirichlet)) and not problem.physics_allows_no_supports():
            raise InputError("the problem has no Dirichlet conditions (fix(...)) on any rank: its matrix is singular")
        self.newton_options = newton
        self.newton_results: list = []
        self.matrix = None
        self.ksp = None
        self.solution = None
        self._solution_params = None          # the parameters of self.solution
        self._operator_at_solution = False    # whether the KSP's operator is the tangent there
        self._gradient_context = None

    # -- solve -------------------------------------------------------------------------
    def assemble(self, params=None):
        """Assemble ``K`` and ``b = -r(u_D)`` (plus point loads) with the Dirichlet rows
        and columns eliminated; returns ``(K, b, u_D)``, u_D the prescribed state as a
        PETSc vector."""
        params = self.problem.parameters(params)
        self.problem.check_parameters(params)
        level = self.load_level(params)
        r, A = self.residual_and_tangent(level.prescribed_local, level)
        r.scale(-1.0)
        return A, r, self.vector_from_local(level.prescribed_local)

    def solve(self, params=None, *, gather: str | None = None, load_steps: int = 1, initial=None):
        """Solve; returns the field on ``problem.mesh``: ``(n_nodes,)`` / ``(n_nodes, c)``.

        Args:
            params: parameter overrides, as in :meth:`Problem.solve`.
            gather: ``"all"`` (every rank gets the whole field, in the whole mesh's node
                order), ``"root"`` (rank 0 gets it, the others None), ``"local"`` (the
                rank's local nodes, owned then ghosts: on a mesh piece, the nodes of
                ``problem.mesh``) or ``"none"`` (returns None; see :attr:`solution`).
                Default: ``"local"`` on a mesh piece, else ``"all"`` — the field of
                ``problem.mesh`` either way.
            load_steps: nonlinear physics: apply the loads and prescribed values in this
                many equal increments (no automatic halving, unlike ``Problem.solve``).
            initial: nonlinear physics: the starting field (femopt's ordering, the same on
                every rank); default the last solution, else zero.

        Raises:
            SolverError: KSP did not converge (reason and iterations in the message).
            NewtonError: Newton did not converge (reason, iterations, residual history),
                raised on every rank alike.
        """
        if gather is None:
            gather = "local" if self.problem.mesh.piece is not None else "all"
        if gather not in ("all", "root", "local", "none"):
            raise InputError(f"gather must be 'all', 'root', 'local' or 'none', got {gather!r}")
        if isinstance(load_steps, bool) or not isinstance(load_steps, (int, np.integer)) or load_steps < 1:
            raise InputError(f"load_steps must be a positive integer (1 = apply the full load at once), "
                             f"got {load_steps!r}")
        self.iterations = 0
        self.solution = self._load_vector = None
        params = self.problem.parameters(params)
        self.problem.check_parameters(params)
        if getattr(self.problem.physics, "linear", False):
            u = self._solve_linear(params)
        else:
            u = self._solve_newton(params, load_steps, initial)
        self.solution, self._solution_params = u, params
        _log.info("distributed solve on %d rank(s): %d KSP iterations, %s", self.comm.getSize(), self.iterations,
                  {k: round(v, 3) for k, v in self.timings.items()})
        if gather == "none":
            return None
        if gather == "local":
            return self.local_solution(u)
        return self.gather(u, root_only=gather == "root")

    def _solve_linear(self, params):
        A, b, u_D = self.assemble(params)
        self.timings["solver_setup"] = 0.0
        ksp = self._ready_ksp(A)
        du = self.create_vector()
        start = time.perf_counter()
        self.krylov_solve(ksp, b, du)
        self.timings["solve"] = time.perf_counter() - start
        self.iterations = ksp.getIterationNumber()
        reason = ksp.getConvergedReason()
        if reason < 0:
            raise SolverError(f"PETSc KSP ({ksp.getType()}/{ksp.getPC().getType()}) did not converge: reason "
                              f"{reason} after {self.iterations} iterations (residual {ksp.getResidualNorm():.3e}); "
                              f"try -{self.options_prefix}ksp_monitor_true_residual, or solver='direct'")
        du.axpy(1.0, u_D)
        self._operator_at_solution = True     # an affine residual has one tangent
        self._load_vector = b                 # the adjoint of a self-adjoint load is u
        return du

    def _solve_newton(self, params, load_steps, initial):
        if initial is not None:
            u_local = initial_vector(initial, self.problem.space)[self.local.local_dofs]
        elif self._last_local is not None:
            u_local = self._last_local
        else:
            u_local = np.zeros(self.local.local_dofs.size)
        for key in ("solve", "solver_setup"):
            self.timings[key] = 0.0
        self._operator_at_solution = False
        self._last_local = None
        u, self.newton_results = distributed_newton(self, params, u_local, load_steps=load_steps,
                                                    options=self.newton_options)
        self._last_local = self.local_field(u)
        return u

    _last_local = None
    _load_vector = None

    def ksp_at_solution(self):
        """The KSP with the tangent at :attr:`solution` as its operator (assembled and set
        up again after a Newton solve, whose last tangent belongs to the iterate before)."""
        if self.solution is None:
            raise InputError("no solution yet: call solve() first")
        if not self._operator_at_solution:
            level = self.load_level(self._solution_params)
            _, A = self.residual_and_tangent(self.local_field(self.solution), level)
            self._ready_ksp(A)
            self._operator_at_solution = True
        return self.ksp

    # -- gradients -----------------------------------------------------------------------
    @property
    def local_problem(self):
        """The rank's cells as a problem-like view (:class:`.local_problem.LocalProblem`),
        for femopt's functionals and residual products."""
        if getattr(self, "_local_problem", None) is None:
            from .local_problem import LocalProblem

            self._local_problem = LocalProblem(self.problem, self.local)
        return self._local_problem

    def gradient_context(self):
        """The rank's local problem view, residual products and compiled functionals
        (made on first use, kept)."""
        if self._gradient_context is None:
            from .gradient import GradientContext

            self._gradient_context = GradientContext(self)
        return self._gradient_context

    def gradient(self, functional, wrt=None, params=None, *, solve_options=None):
        """Value and adjoint gradient of ``functional`` at the solution, on every rank.

        Args:
            functional: a femopt Functional (``fo.functionals.compliance()``, ``volume``,
                ``mean``, ``p_norm``, ...), or a list of them (then a list of results,
                sharing the solve; one adjoint solve each).
            wrt: a parameter name or a list of them (global constants, load magnitudes,
                per-cell and per-node fields), ``"coordinates"`` (the shape derivative)
                or ``"prescribed"`` (the prescribed values); default all parameters.
            params: parameter overrides; the last solution is used when it is at these
                parameters (None: the last solution as it is), else it is solved now.
            solve_options: keywords for :meth:`solve` when a solve is needed
                (``{"load_steps": 4}``).

        Returns:
            :class:`~femopt.sensitivity.adjoint.Gradient` (``value`` and ``grads[name]``),
            with ``value`` and global parameters' gradients the same on every rank.
            Fields follow ``problem.mesh``: on a whole (replicated) mesh per-cell
            ``(n_cells, ...)`` and per-node ``(n_nodes, ...)`` gradients in its order, the
            same on every rank — as ``fo.gradient(functional, problem, wrt=...)`` returns
            serially; on a mesh piece the piece's cells and nodes, a node shared by
            ranks holding the total on each. ``grads["prescribed"]`` is dJ/dū, one entry
            per prescribed dof of ``problem.partition.prescribed`` (on a piece, its local
            ones; shared dofs hold the total).

        Raises:
            InputError: an unknown name (or one given twice), a bad functional, or on mesh
                pieces a functional that is not a sum over cells (no rank holds the whole
                mesh to evaluate it).
        """
        from .gradient import _names, distributed_gradient

        single = not isinstance(functional, (list, tuple))
        items = [functional] if single else list(functional)
        for f in items:
            if not callable(getattr(f, "evaluate", None)):
                raise InputError(f"expected a femopt Functional (with evaluate(problem, u, params, X)), got "
                                 f"{type(f).__name__}; wrap a function with functionals.from_function")
        if not items:
            raise InputError("no functional given")
        names = _names(self.problem, wrt)
        options = dict(solve_options or {})
        unknown = sorted(set(options) - {"load_steps", "initial"})
        if unknown:
            raise InputError(f"solve_options {unknown} are not keywords of DistributedProblem.solve; it accepts "
                             "['load_steps', 'initial']")
        wanted = self.problem.parameters(params) if params is not None else self._solution_params
        if self.solution is None or wanted is None or not same_params(self._solution_params, wanted):
            self.solve(params, gather="none", **options)
        results = distributed_gradient(self, items, names, self._solution_params)
        return results[0] if single else results

    def gather(self, vec, *, root_only: bool = False):
        """A global PETSc vector (global numbering) as a field in the whole mesh's node
        order (the serial mesh's: natural ids on mesh pieces), on every rank (or on rank 0
        only: the others get None)."""
        PETSc = self.PETSc
        if self.problem.mesh.piece is not None:
            vec = self._natural_order(vec)
        scatter, whole = (PETSc.Scatter.toZero if root_only else PETSc.Scatter.toAll)(vec)
        scatter.scatter(vec, whole, addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.FORWARD)
        if root_only and self.comm.getRank() != 0:
            return None
        values = whole.getArray(readonly=True)
        values = values.copy() if self.problem.mesh.piece is not None else values[self.numbering.dof_permutation]
        c = self.problem.space.n_components
        return values if c == 1 else values.reshape(-1, c)

    def _natural_order(self, vec):
        """A copy of ``vec`` (global numbering) in the whole mesh's natural dof order."""
        PETSc = self.PETSc
        if getattr(self, "_to_natural", None) is None:
            natural = PETSc.Vec().createMPI((PETSc.DECIDE, self.n_dofs), comm=self.comm)
            source = PETSc.IS().createStride(self.n_owned_dofs, first=self.first_dof, step=1, comm=self.comm)
            target = PETSc.IS().createGeneral(self.numbering.natural_dofs().astype(PETSc.IntType), comm=self.comm)
            self._to_natural = (natural, PETSc.Scatter().create(vec, source, natural, target))
        natural, scatter = self._to_natural
        scatter.scatter(vec, natural, addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.FORWARD)
        return natural

    def local_solution(self, vec=None) -> np.ndarray:
        """The field on this rank's local nodes (owned, then ghosts): on a mesh piece, the
        field of ``problem.mesh``, in its node order."""
        values = self.local_field(vec)
        c = self.problem.space.n_components
        return values if c == 1 else values.reshape(-1, c)

    @staticmethod
    def peak_memory_mb() -> float:
        """This process's peak resident memory (MB, from getrusage)."""
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

