"""A linear problem whose stiffness is linear in one per-cell parameter: the fast path
of density-based topology optimization.

For linear elasticity with a per-cell Young's modulus ``E_e`` (or heat conduction with a
per-cell conductivity ``k_e``) the free–free tangent is

    K(s) = K_0 + Σ_e s_e K_e            (K_e: cell e's matrix at s_e = 1)

so one design iteration needs no element kernel at all. Both the assembly and the
sensitivity become one sparse mat-vec with a matrix ``A`` built once
(``n_free_entries × n_cells``; column e holds K_e scattered into the CSR slots of the
free–free block):

    data(K) = data(K_0) + A s,          dJ/ds = ∂J/∂s − Aᵀ (λ[rows] ⊙ u[cols]),

with λ the adjoint (λ = u for compliance). The cell matrices come from femopt's own
element kernels (``femopt.assembly.kernels.cell_tangent``, the same JAX code Newton
uses), and the construction checks the decomposition against the problem's assembled
tangent and load at a random parameter field — so this is an exact re-organisation of
the problem's discretization, not a second one.

Why it exists: the general path (``Problem.solve`` + ``femopt.sensitivity.gradient``)
runs Newton with a second factorization at the solution and traces the residual in JAX
for every gradient; for a linear problem that is 10–100x the work of a top88-style
iteration (see docs/optimization.md for the profile).
"""
from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp

from ..assembly.kernels import tangents_at_rest
from ..assembly.parameters import cell_field
from ..errors import InputError
from ..solvers.linear import AutoSolver, CGSolver, DirectSolver, SolverContext, make_solver

from ..solvers.linear_iterative import import_pyamg
from ..solvers.threaded import ThreadedCSR

__all__ = ["CellScaledModel"]

_log = logging.getLogger("femopt.design")

#: Element-matrix entries computed per JAX call while building the model.
_CHUNK_ENTRIES = 4_000_000


class CellScaledModel:
    """Solve and differentiate ``K(s) u = f`` for a per-cell field ``s`` of one parameter.

    Args:
        problem: a :class:`~femopt.Problem` with a linear physics, homogeneous Dirichlet
            conditions and loads that do not depend on ``parameter``.
        parameter: name of the parameter that scales the cell matrices (``"E"``, ``"k"``).
        linear_solver: ``"auto"`` (default: a direct solver told the matrix is symmetric,
            or in 3D above 30k dofs CG with AMG and rigid-body modes), ``"direct"``,
            ``"cg"`` or a :class:`~femopt.solvers.linear.LinearSolver`.
        check: verify the decomposition against the problem's assembly (one assembly).

    Attributes:
        timings: seconds spent per phase (``"assembly"``, ``"solve"``, ``"sensitivity"``),
            accumulated over calls; reset with ``timings.clear()``.
    """

    def __init__(self, problem, parameter: str, *, linear_solver="auto", check: bool = True):
        if parameter not in problem.params:
            raise InputError(f"{parameter!r} is not a parameter of this problem "
                             f"(parameters: {sorted(problem.params)})")
        if not getattr(problem.physics, "linear", False):
            raise InputError(f"{type(problem.physics).__name__} is nonlinear: CellScaledModel needs a "
                             "linear physics; use femopt.sensitivity.gradient for nonlinear problems")
        if np.any(problem.prescribed_values() != 0.0):
            raise InputError("CellScaledModel needs homogeneous Dirichlet conditions (prescribed "
                             "values 0); use femopt.sensitivity.gradient for prescribed displacements")
        self.problem = problem
        self.parameter = parameter
        self.n_cells = problem.mesh.n_cells
        self.partition = problem.partition
        self.symmetric = bool(getattr(problem.physics, "symmetric", False))
        if linear_solver == "auto":
            self.linear_solver = self._default_solver()
        else:
            self.linear_solver = make_solver(linear_solver, n_hint=self.partition.free.size).with_context(
                SolverContext(problem.mesh.points, problem.space.n_components, self.partition.free,
                              self.symmetric, mesh=problem.mesh))
        self._setup_values = None        # the field the kept preconditioner was set up for
        self._pending_setup = None       # ... to set up again after a resume
        self.timings: dict[str, float] = {}
        self._last_u = None
        t0 = time.perf_counter()
        self._build()
        if check:
            self._check()
        _log.info("CellScaledModel: %d cells, %d free dofs, %d matrix entries, built in %.2f s",
                  self.n_cells, self.partition.free.size, self._indices.size, time.perf_counter() - t0)

    def _default_solver(self):
        """The problem's solver, bound to this model's free dofs: with "auto", direct
        (symmetric ordering) in 2D and for small 3D problems, and in 3D above
        :data:`ITERATIVE_3D_MIN_DOFS` free dofs CG (relative tolerance 1e-8, enough for
        design updates) with smoothed-aggregation AMG told the rigid-body modes, its
        set-up reused across designs while CG iterations stay low (Jacobi without pyamg)."""
        pb = self.problem
        context = SolverContext(pb.mesh.points, pb.space.n_components, self.partition.free, self.symmetric,
                                mesh=pb.mesh)
        solver = pb.linear_solver
        if isinstance(solver, AutoSolver):
            solver, why = solver.choose(context)
            if isinstance(solver, CGSolver) and not isinstance(solver.preconditioner, str):
                solver = CGSolver(solver.preconditioner, rtol=1e-8)           # geometric multigrid
            elif isinstance(solver, CGSolver):
                preconditioner = "amg" if import_pyamg() is not None else "jacobi"
                solver = CGSolver(preconditioner, rtol=1e-8, near_nullspace=solver.near_nullspace)
            _log.info("CellScaledModel solver: %s (%s)", solver, why)
        elif isinstance(solver, DirectSolver) and self.symmetric and solver.symmetric == "auto":
            solver = DirectSolver(symmetric=True, backend=solver.backend, residual_tol=solver.residual_tol)
        return solver.with_context(context)

    # -- construction --------------------------------------------------------------------
    def _base_params(self, values):
        return self.problem.parameters({self.parameter: cell_field(np.asarray(values, dtype=np.float64))})

    def _cell_matrices(self):
        """Yield (cell ids, matrices (k, nd, nd)) at unit parameter, in chunks."""
        pb = self.problem
        split = pb.split(self._base_params(np.ones(self.n_cells)))
        yield from tangents_at_rest(pb.physics, pb.space, split, _CHUNK_ENTRIES)

    def _build(self):
        pb = self.problem
        part = self.partition
        pattern = pb.assembler.pattern
        nnz = pattern.nnz
        # Which full-matrix slot each free-free entry is: slice a matrix of slot numbers.
        marker = pattern.matrix(np.arange(1, nnz + 1, dtype=np.float64))
        free_block = part.free_block(marker).tocsr()
        free_block.sort_indices()
        self._indptr = free_block.indptr
        self._indices = free_block.indices
        slot_of_entry = free_block.data.astype(np.int64) - 1
        entry_of_slot = np.full(nnz, -1, dtype=np.int64)
        entry_of_slot[slot_of_entry] = np.arange(slot_of_entry.size)
        rows, cols, vals = [], [], []
        cell_sum = np.zeros(nnz)
        for ids, K_e in self._cell_matrices():
            slots = pattern.slots[ids]
            cell_sum += np.bincount(slots.ravel(), weights=K_e.ravel(), minlength=nnz)
            entries = entry_of_slot[slots]
            keep = (entries >= 0) & (K_e != 0.0)
            rows.append(entries[keep])
            cols.append(np.broadcast_to(ids[:, None, None], entries.shape)[keep])
            vals.append(K_e[keep])
        self._A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                shape=(self._indices.size, self.n_cells))
        self._AT = ThreadedCSR(self._A.T.tocsr())       # the sensitivities' product, on all cores
        self._A = ThreadedCSR(self._A)
        # K_0: whatever the cell matrices do not explain (boundary terms such as convection).
        # The problem's tangent has the pattern's slot order, so its data lines up.
        zero = np.zeros(pb.space.n_dofs)
        residual, K_unit = pb.residual_and_tangent(zero, self._base_params(np.ones(self.n_cells)))
        rest = (np.asarray(K_unit.data) - cell_sum)[slot_of_entry]
        self._K0 = np.where(np.abs(rest) > 1e-12 * np.abs(cell_sum).max(), rest, 0.0)
        self._force = -residual[part.free]
        self._rows = np.repeat(np.arange(self._indptr.size - 1), np.diff(self._indptr))

    def _check(self):
        """Compare with the problem's own assembly at a random field (catches a physics
        that is not linear in the parameter, or loads that depend on it)."""
        pb, part = self.problem, self.partition
        s = np.random.default_rng(0).uniform(0.5, 2.0, self.n_cells)
        zero = np.zeros(pb.space.n_dofs)
        residual, K = pb.residual_and_tangent(zero, self._base_params(s))
        K = K[part.free][:, part.free]
        difference = abs(K - self.stiffness(s)).max()
        if difference > 1e-10 * abs(K).max():
            raise InputError(f"the tangent is not linear in {self.parameter!r} (mismatch {difference:.2e}): "
                             "CellScaledModel can not represent this problem; use femopt.sensitivity.gradient")
        if np.abs(-residual[part.free] - self._force).max() > 1e-10 * max(np.abs(self._force).max(), 1e-300):
            raise InputError(f"the loads depend on {self.parameter!r}: CellScaledModel needs loads "
                             "independent of the design parameter")

    # -- evaluation ----------------------------------------------------------------------
    def _tick(self, phase, t0):
        self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - t0

    @property
    def force(self) -> np.ndarray:
        """Load vector on the free dofs ``(n_free,)``."""
        return self._force

    def stiffness(self, values) -> sp.csr_matrix:
        """Free–free tangent ``K(s)`` (CSR) for the per-cell values ``s (n_cells,)``."""
        t0 = time.perf_counter()
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.n_cells,):
            raise InputError(f"{self.parameter!r}: expected {self.n_cells} cell values, got shape {values.shape}")
        # a design-driven field is checked like any other value: finite, admissible (E >= 0)
        self.problem.check_parameters({self.parameter: cell_field(values)})
        K = sp.csr_matrix((self._K0 + self._A @ values, self._indices, self._indptr),
                          shape=(self._indptr.size - 1,) * 2)
        self._tick("assembly", t0)
        return K

    def solve(self, values):
        """Free dof values ``(n_free,)`` and the factorization (kept for adjoints)."""
        K = self.stiffness(values)
        t0 = time.perf_counter()
        reuse = getattr(self.linear_solver, "reuse", None)
        if self._pending_setup is not None and reuse is not None:
            # a resumed run: rebuild the preconditioner the interrupted run was using
            field, counters = self._pending_setup
            self._pending_setup = None
            reuse.forget()
            self.linear_solver.factorize(self.stiffness(field))
            reuse.load_state_dict(counters)
            self._setup_values = field
        setups = None if reuse is None else reuse.setups
        factorization = self.linear_solver.factorize(K)
        # an optimizer's next design is close to its last: an iterative solver starts from
        # the last solution (a direct one ignores the guess)
        u = factorization.solve(self._force, guess=self._last_u)
        self._last_u = u
        if reuse is not None and reuse.setups != setups:
            # set up at the factorization or, when the kept one stopped helping, in the solve
            self._setup_values = np.array(values, dtype=np.float64)
        self._tick("solve", t0)
        return u, factorization

    def expand(self, u_free) -> np.ndarray:
        """Nodal field ``(n_nodes,)`` or ``(n_nodes, c)`` from free dof values."""
        return self.problem.space.as_field(self.partition.expand(u_free, np.zeros(self.partition.prescribed.size)))

    def energy_density(self, a, b) -> np.ndarray:
        """``a_eᵀ K_e b_e`` per cell, ``(n_cells,)``, for free-dof vectors ``a``, ``b``."""
        t0 = time.perf_counter()
        out = self._AT @ (a[self._rows] * b[self._indices])
        self._tick("sensitivity", t0)
        return out

    def compliance(self, values):
        """``(C, dC/ds, u_free)``: compliance f·u and its gradient ``(n_cells,)``.

        Compliance is self-adjoint (λ = u), so dC/ds_e = −u_eᵀ K_e u_e costs no solve."""
        u, _ = self.solve(values)
        return float(self._force @ u), -self.energy_density(u, u), u

    # -- checkpoint protocol (femopt.optimize.minimize) -----------------------------------
    def state_dict(self) -> dict:
        """The warm start of the next solve (the last solution; empty before any): an
        iterative solver's answer depends on it to its tolerance, so minimize's checkpoint
        keeps it and a resumed run solves bitwise as the uninterrupted one."""
        state = {"warm_start": np.zeros(0) if self._last_u is None else np.array(self._last_u)}
        reuse = getattr(self.linear_solver, "reuse", None)
        if reuse is not None and self._setup_values is not None:
            # the kept preconditioner is part of what the next solve does: keep how to rebuild it
            state["preconditioner_field"] = np.array(self._setup_values)
            state.update(reuse.state_dict())
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output. A warm start of another size (a checkpoint
        of another problem resumed on purpose) is only a guess: dropped, with a warning."""
        u = np.asarray(state.get("warm_start", np.zeros(0)), dtype=np.float64)
        if u.size and u.shape != self._force.shape:
            _log.warning("warm start of %d values does not fit this model's %d free dofs: not used",
                         u.size, self._force.size)
            u = np.zeros(0)
        self._last_u = u.copy() if u.size else None
        field = np.asarray(state.get("preconditioner_field", np.zeros(0)), dtype=np.float64)
        if field.shape == (self.n_cells,) and "reuse_counters" in state:
            self._pending_setup = (field, {"reuse_counters": state["reuse_counters"]})

    def adjoint_gradient(self, factorization, u, dJ_du):
        """dJ/ds from ∂J/∂u on the free dofs (explicit ∂J/∂s not included):
        Kᵀλ = ∂J/∂u, dJ/ds = −λ_eᵀ K_e u_e."""
        t0 = time.perf_counter()
        lam = factorization.solve_transpose(np.asarray(dJ_du, dtype=np.float64))
        self._tick("solve", t0)
        return -self.energy_density(lam, u)
