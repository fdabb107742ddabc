"""Newton's method on PETSc: femopt's Newton loop over the distributed residual.

Each iteration assembles the rank's residual and tangent (:mod:`.system`), solves
``K du = -r`` with the problem's KSP (its preconditioner or factorization rebuilt for the
new tangent; ``-femopt_ksp_reuse_preconditioner`` keeps it), and backtracks on the merit
``phi(a) = 0.5 ||r(u + a du)||²`` (Armijo, the step choice of
:func:`femopt.solvers.line_search.backtrack`). Every test reads norms PETSc reduced over
all ranks, so every rank takes the same decisions and stops together — a failure raises
the same :class:`~femopt.errors.NewtonError` on every rank, never a hang.

The tests are those of the serial Newton (:mod:`femopt.solvers.newton`) with its
:class:`~femopt.solvers.newton.NewtonOptions`: ``tol = atol + rtol * max(||r_0||,
residual_scale)``, ``residual_scale`` at least the size of what the residual sums at rest
(``Problem.solve``'s scale); the increment test; a full step where the step is below the
increment tolerance and ``|r|`` already below ``increment_rtol``. Variational problems
(hyperelasticity with dead loads) backtrack on the total potential energy
``Σ_ranks (Σ_cells ∫ψ − f·u)`` where it is above its round-off, as the serial Newton
does (a bent beam's good Newton step often raises ``|r|``); otherwise on the residual.
Not here: the automatic halving of load steps (``load_steps`` are equal increments).
"""
from __future__ import annotations

import logging
import time

import numpy as np

import jax
import jax.numpy as jnp

from ..assembly.traced import has_energy, traced_energy
from ..errors import NewtonError
from ..solvers.line_search import backtrack, energy_backtrack
from ..solvers.newton_records import NewtonIteration, NewtonOptions, NewtonResult, newton_message
from .reductions import sum_to_all

__all__ = ["distributed_newton"]

_log = logging.getLogger("femopt.distributed")

#: as in femopt.solvers.newton: energy changes below this relative size are round-off
_ENERGY_ROUND_OFF = 1e3 * np.finfo(np.float64).eps
_SHORT_ENERGY_STEP = 2.0 ** -10


def energy_merit(system, level):
    """``energy(u_local) -> float``, the total potential summed over the ranks (the same
    on every rank), when the problem is variational and nonlinear; else None."""
    problem = system.problem
    if getattr(problem.physics, "linear", False) or not has_energy(problem.assembler):
        return None
    local_problem = system.local_problem
    X = jnp.asarray(local_problem.mesh.points)
    if getattr(system, "_energy_jit", None) is None:
        assembler = local_problem.assembler
        system._energy_jit = jax.jit(lambda u, split: traced_energy(assembler, u, split, X))
    loads = np.asarray(local_problem.external_loads(local_problem.localize(level.params), X))
    PETSc, comm = system.PETSc, system.comm

    def energy(u_local):
        local = float(system._energy_jit(jnp.asarray(u_local), level.split)) - float(loads @ u_local)
        return float(sum_to_all(PETSc, comm, [0], [local], 1)[0])

    return energy


class _Failure(Exception):
    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def _finite(x: float) -> bool:
    return bool(np.isfinite(x))


class _Step:
    """One Newton solve at one load level."""

    def __init__(self, system, level, u, options, energy=None):
        self.system, self.level, self.u, self.options = system, level, u, options
        self.energy = energy
        self.iterations: list[NewtonIteration] = []
        self.r_norm = self.r0_norm = float("nan")

    def residual(self, u):
        return self.system.residual_vector(self.system.local_field(u), self.level)

    def solve_increment(self, r, A):
        ksp = self.system._ready_ksp(A)
        rhs = r.copy()
        rhs.scale(-1.0)
        du = self.system.create_vector()
        start = time.perf_counter()
        self.system.krylov_solve(ksp, rhs, du)
        self.system.timings["solve"] = self.system.timings.get("solve", 0.0) + time.perf_counter() - start
        self.system.iterations += ksp.getIterationNumber()
        reason = ksp.getConvergedReason()
        if reason < 0:
            raise _Failure("linear_solver", f"PETSc KSP ({ksp.getType()}/{ksp.getPC().getType()}) did not solve "
                                            f"for the Newton step: reason {reason} after "
                                            f"{ksp.getIterationNumber()} iterations")
        if not _finite(du.norm()):
            raise _Failure("singular", "the Newton direction is NaN/Inf: the tangent is (nearly) singular")
        return du

    def run(self):
        o = self.options
        r, A = self.system.residual_and_tangent(self.system.local_field(self.u), self.level)
        self.r_norm = self.r0_norm = float(r.norm())
        if not _finite(self.r_norm):
            raise _Failure("non_finite", "the residual is NaN/Inf at the starting state")
        reference = max(self.r0_norm, o.residual_scale or 0.0)
        tol = o.atol + o.rtol * reference
        increment_residual_tol = o.atol + o.increment_rtol * reference
        if self.r_norm == 0.0 or self.r_norm <= o.rtol * (o.residual_scale or 0.0):
            return "residual", f"|r_0| = {self.r_norm:.3e} at the start"
        for k in range(1, o.max_iterations + 1):
            if A is None:
                r, A = self.system.residual_and_tangent(self.system.local_field(self.u), self.level)
            du = self.solve_increment(r, A)
            du_norm, u_norm = float(du.norm()), float(self.u.norm())
            floor = du_norm <= o.inc_tol * max(1.0, u_norm) and self.r_norm <= increment_residual_tol
            step, u_new, r_new, r_new_norm, reductions, merit = self.line_search(r, du, floor)
            previous = self.r_norm
            self.iterations.append(NewtonIteration(
                iteration=k, residual_norm=r_new_norm, increment_norm=step * du_norm, step_length=step,
                line_search_steps=reductions, ratio=r_new_norm / previous,
                quadratic_ratio=r_new_norm / previous ** 2, merit=merit))
            _log.debug("distributed newton it %2d  |r| %.3e  |du| %.3e  step %.3g", k, r_new_norm,
                       step * du_norm, step)
            self.u, r, A, self.r_norm = u_new, r_new, None, r_new_norm
            if r_new_norm <= tol:
                return "residual", f"|r| = {r_new_norm:.3e} <= {tol:.1e}"
            if (step * du_norm <= o.inc_tol * max(1.0, float(self.u.norm()))
                    and r_new_norm <= increment_residual_tol and r_new_norm > 0.5 * previous):
                return "increment", (f"the residual test was NOT met: |r| = {r_new_norm:.3e} > tolerance "
                                     f"{tol:.1e}; the step no longer changes u and |r| no longer falls "
                                     "(the residual's round-off floor)")
        raise _Failure("max_iterations", f"no convergence in {o.max_iterations} iterations, "
                                         f"|r| = {self.r_norm:.3e} > tolerance {tol:.1e}")

    def line_search(self, r, du, full_step):
        """The step: on the energy where it can judge, else on the residual;
        ``(step, u, r, ||r||, reductions, merit)``."""
        o = self.options
        slope = float(r.dot(du))
        if self.energy is not None and o.line_search and not full_step and slope < 0:
            found = self.energy_line_search(du, slope)
            if found is not None and found[0] >= _SHORT_ENERGY_STEP:
                return found + ("energy",)
            if found is not None:            # a step this short leaves u as it was: prefer a longer one
                try:
                    by_residual = self.residual_line_search(du, False)
                except _Failure:
                    by_residual = None
                if by_residual is not None and by_residual[0] > found[0]:
                    return by_residual + ("residual",)
                return found + ("energy",)
        return self.residual_line_search(du, full_step) + ("full" if full_step else "residual",)

    def energy_line_search(self, du, slope):
        """Armijo on the energy; None where its change is round-off or it finds no step."""
        o = self.options
        u_local = self.system.local_field(self.u)
        du_local = self.system.local_field(du)
        e0 = self.energy(u_local)
        if -slope <= _ENERGY_ROUND_OFF * abs(e0):
            return None
        step = 1.0
        for reductions in range(o.max_line_search + 1):
            e = self.energy(u_local + step * du_local)
            if np.isfinite(e) and e <= e0 + o.armijo * step * slope:
                u_trial = self.u.copy()
                u_trial.axpy(step, du)
                r_trial = self.residual(u_trial)
                norm = float(r_trial.norm())
                if _finite(norm):
                    return step, u_trial, r_trial, norm, reductions
                e = np.inf
            step = energy_backtrack(step, e, e0, slope)
        return None

    def residual_line_search(self, du, full_step):
        """Backtrack from the full step on 0.5 ||r||²; ``(step, u, r, ||r||, reductions)``."""
        o = self.options
        phi0 = 0.5 * self.r_norm ** 2
        step, previous, non_finite = 1.0, None, 0
        for reductions in range(o.max_line_search + 1):
            u_trial = self.u.copy()
            u_trial.axpy(step, du)
            r_trial = self.residual(u_trial)
            norm = float(r_trial.norm())
            phi = 0.5 * norm ** 2 if _finite(norm) else np.inf
            if full_step or not o.line_search:
                if not _finite(phi):
                    raise _Failure("non_finite", "the residual is NaN/Inf after a full Newton step")
                return step, u_trial, r_trial, norm, 0
            if phi <= (1.0 - 2.0 * o.armijo * step) * phi0:
                return step, u_trial, r_trial, norm, reductions
            non_finite += not _finite(phi)
            next_step = backtrack(step, phi, previous, phi0)
            if _finite(phi):
                previous = (step, phi)
            step = next_step
        raise _Failure("line_search", f"no sufficient decrease of |r| = {self.r_norm:.3e} in "
                                      f"{o.max_line_search} step reductions ({non_finite} trials gave NaN/Inf): "
                                      "the Newton direction is not a descent direction, or there is no solution "
                                      "near this iterate; apply the load in more steps (load_steps=)")

    def result(self, converged, reason, why) -> NewtonResult:
        result = NewtonResult(u=self.u.array.copy(), converged=converged, iterations=list(self.iterations),
                              reason=reason, factorization=None, residual_norm=self.r_norm,
                              initial_residual_norm=self.r0_norm)
        result.message = newton_message(result, converged, reason, why, "distributed Newton")
        return result


def distributed_newton(system, params, u_local, *, load_steps: int = 1, options: NewtonOptions | None = None):
    """Solve the distributed nonlinear problem from the local dofs ``u_local``.

    Args:
        system: the :class:`~femopt.distributed.problem.DistributedProblem`.
        params: the full, checked parameter dict.
        u_local: ``(n_local_dofs,)`` starting state (prescribed entries are overwritten).
        load_steps: loads and prescribed values applied in this many equal increments.
        options: :class:`NewtonOptions` (default: the problem's).

    Returns:
        ``(u, results)``: the solution as a ghosted PETSc vector and one
        :class:`NewtonResult` per load step (``u`` in it: the rank's owned dofs).

    Raises:
        NewtonError: on every rank alike, with ``reason``, ``history`` (the iterations of
            the failing step) and the message of the serial Newton plus the load step.
    """
    options = options or system.problem.newton_options
    u_local = np.array(u_local, dtype=np.float64, copy=True)
    results = []
    for step in range(1, load_steps + 1):
        factor = step / load_steps
        level = system.load_level(params, factor)
        u_local[level.prescribed_mask] = level.prescribed_local[level.prescribed_mask]
        rest = np.where(level.prescribed_mask, level.prescribed_local, 0.0)
        scaled = options.scaled_to(system.magnitude_norm(rest, level))
        newton = _Step(system, level, system.vector_from_local(u_local), scaled, energy_merit(system, level))
        try:
            reason, why = newton.run()
        except _Failure as failure:
            result = newton.result(False, failure.reason, str(failure))
            where = f" (load step {step} of {load_steps}, load factor {factor:.3g})" if load_steps > 1 else ""
            raise NewtonError(result.message + where, history=result.iterations, reason=failure.reason) from None
        results.append(newton.result(True, reason, why))
        _log.info("%s", results[-1].message)
        u_local = system.local_field(newton.u)
    return newton.u, results
