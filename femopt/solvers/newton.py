"""Newton's method with a backtracking line search, for ``r(u) = 0`` on the free dofs.

Each iteration factorizes the Jacobian ``K = dr/du``, solves ``K du = -r`` and takes the
longest step ``u + a du`` (a = 1, then smaller) that decreases the merit
``phi(a) = 0.5 ||r(u + a du)||^2`` enough (Armijo). The factorization of the Jacobian at
the returned solution is kept in the result, so the adjoint solve ``K^T lambda = g``
costs two triangular solves.

Convergence (``tol = atol + rtol * max(||r_0||, residual_scale)``), tested at ``u_0`` and
after every accepted step: (1) residual test ``||r_k|| <= tol``, or (2) increment test
``||a du|| <= inc_tol * max(1, ||u_k||)`` with ``||r_k|| <= atol + increment_rtol *
max(||r_0||, residual_scale)`` and ``||r_k|| > ||r_{k-1}|| / 2``: Newton no longer moves
``u`` and the residual, already reduced by ``increment_rtol``, no longer falls — it sits at
its round-off floor above the requested ``tol``. The result's message then says that the
residual test was NOT met and by how much. A tiny step with a large residual is not
convergence (a stalled line search, a singular direction), nor is a tiny step after which
the residual still falls fast (Newton is still converging: it iterates on). A floor above
even that test — constitutive terms that cancel at tiny strains make the residual's
round-off 1e-4 of tiny loads — shows as Newton steps that leave ``|r|`` where it was (within
10 %): three in a row, or a line search that finds no step at all, once ``|r|`` is below 1e-3
of its reference, also end Newton with reason "increment", a warning and the estimated
accuracy in the message.

Variational problems backtrack on the total potential energy; where the energy change a
full step predicts (``r·du``) is below the energy's round-off, comparing energies says
nothing, and that iteration backtracks on the residual instead (near the solution, where
this happens, the full Newton step passes it at once). So does an iteration whose energy
line search finds no decrease: an energy whose terms cancel (tiny strains) is round-off
although its predicted change is not below eps |E|; the step must then pass the residual
test, and a failure of both is a line-search failure naming both. Such noise can also
accept a step by chance: an energy step shorter than 2^-10 (u does not move) gives way to
a longer step that decreases the residual merit, where there is one; and once |r| is below
1e-3 of its reference, a shortened energy step gives way to the full Newton step whenever
that passes the residual test (there the energy's change ~ r·du is comparable to the
round-off of its cancelling terms, and shortened steps stall Newton above its tolerance).

The residual at the new iterate is the one the line search evaluated, so a linear problem
takes one iteration: one assembly of ``(r_0, K)``, one solve, one residual evaluation.
``refactor_at_solution`` (default True) then assembles and factorizes ``K`` once more at
the solution; an affine residual (linear physics) has a constant ``K``: pass False.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Callable

import numpy as np
import scipy.sparse as sp

from femopt.errors import InputError, NewtonError, SingularMatrixError, SolverError
from femopt.solvers.line_search import backtrack, energy_backtrack
from femopt.solvers.linear import Factorization, LinearSolver, make_solver
from femopt.solvers.newton_records import (FAILURE_REASONS, NewtonIteration, NewtonOptions, NewtonResult,
                                           newton_message)

__all__ = ["newton", "NewtonOptions", "NewtonResult", "NewtonIteration", "FAILURE_REASONS"]

_log = logging.getLogger("femopt.newton")

#: Relative size below which a change of the total energy is indistinguishable from the
#: round-off of summing it over the cells (~1e3 machine epsilons).
_ENERGY_ROUND_OFF = 1e3 * np.finfo(np.float64).eps

#: An energy line-search step shorter than this is checked against the residual merit.
_SHORT_ENERGY_STEP = 2.0 ** -10

#: Round-off floor: this many Newton steps in a row that leave |r| above _FLOOR_RATIO of
#: its last value, once |r| is below _FLOOR_RTOL of its reference, end Newton (reason
#: "increment", with a warning).
_FLOOR_STALLS = 3
_FLOOR_RTOL = 1e-3
_FLOOR_RATIO = 0.9


class _Failure(Exception):
    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def newton(residual: Callable, residual_and_jacobian: Callable, u0, options: NewtonOptions | None = None,
           linear_solver: LinearSolver | str | None = None, raise_on_failure: bool = True,
           energy: Callable | None = None) -> NewtonResult:
    """Solve ``r(u) = 0`` by Newton's method with a backtracking line search.

    Args:
        residual: ``residual(u) -> r``, float64 ``(n,)`` arrays on the free dofs.
        residual_and_jacobian: ``(u) -> (r, K)``, K a scipy.sparse ``(n, n)`` matrix
            ``dr/du`` at u.
        u0: starting point ``(n,)``; never modified.
        options: :class:`NewtonOptions` (defaults if None).
        linear_solver: a :class:`LinearSolver`, a name for
            :func:`~femopt.solvers.linear.make_solver`, or None (``"auto"``).
        raise_on_failure: raise :class:`NewtonError` when it does not converge
            (default), else return the result with ``converged=False``.
        energy: optional ``energy(u) -> float`` whose gradient is ``residual`` (a total
            potential). The line search then backtracks on the energy (Armijo with slope
            ``r·du``) instead of ``0.5 ||r||²``: in bending-dominated problems a good
            Newton step often raises ||r|| a hundredfold while lowering the energy, and
            a residual merit would crawl. Where ``r·du >= 0`` (an indefinite tangent) that
            iteration falls back to the residual merit.

    Returns:
        :class:`NewtonResult`.

    Raises:
        NewtonError: with ``reason`` in :data:`FAILURE_REASONS`, ``history`` (the
            iteration records), ``last_u`` (a copy of the last iterate) and ``result``.
        InputError: u0, or an r / K returned by the callbacks, has the wrong shape.
    """
    options = options if options is not None else NewtonOptions()
    u = np.array(u0, dtype=np.float64, copy=True)
    if u.ndim != 1 or u.size == 0:
        raise InputError(f"u0 must be a non-empty 1D array of free dofs, got shape {np.shape(u0)}")
    if not np.isfinite(u).all():
        raise InputError("u0 holds NaN or Inf entries")
    solver = make_solver(linear_solver, n_hint=u.size)
    iteration = _Iteration(residual, residual_and_jacobian, u, options, solver, energy)
    try:
        reason, why = iteration.run()
    except _Failure as failure:
        result = iteration.result(False, failure.reason, str(failure))
        if raise_on_failure:
            error = NewtonError(result.message, history=result.iterations, reason=failure.reason)
            error.last_u = result.u.copy()
            error.result = result
            raise error from failure.__cause__
        _log.warning("%s", result.message)
        return result
    return iteration.result(True, reason, why)


class _Iteration:
    """Mutable state of one Newton solve."""

    def __init__(self, residual, residual_and_jacobian, u, options, solver, energy=None):
        self.energy_fn = energy
        self.residual_fn = residual
        self.residual_and_jacobian_fn = residual_and_jacobian
        self.u = u
        self.options = options
        self.solver = solver
        self.iterations: list[NewtonIteration] = []
        self.factorization = None
        self.r_norm = self.r0_norm = float("nan")
        self.energy_rejected: str | None = None

    def run(self) -> tuple[str, str]:
        """Iterate to convergence; returns (reason, explanation) or raises _Failure."""
        o = self.options
        r, K = self.residual_and_jacobian(self.u)
        self.r_norm = self.r0_norm = _norm(r)
        reference = self.reference = max(self.r0_norm, o.residual_scale or 0.0)
        tol = o.atol + o.rtol * reference
        increment_residual_tol = o.atol + o.increment_rtol * reference
        _log.debug("newton it %2d  |r| %.3e  (tolerance %.1e)", 0, self.r_norm, tol)
        # The start counts as a solution only by a relative test (against residual_scale) or
        # when r_0 is exactly 0: atol is absolute, and a problem whose loads are all below it
        # (tiny units, a small load) would otherwise return u_0 = 0 as its solution.
        if self.r_norm == 0.0 or self.r_norm <= o.rtol * (o.residual_scale or 0.0):
            self.factorize(K)
            return "residual", f"|r_0| = {self.r_norm:.3e} at the start"
        stalled = 0
        for k in range(1, o.max_iterations + 1):
            if K is None:
                r, K = self.residual_and_jacobian(self.u)
            du = self.solve(self.factorize(K), r)
            # At the residual's round-off floor the Armijo test cannot judge a step below the
            # increment tolerance: such a step is taken in full.
            floor = (_norm(du) <= o.inc_tol * max(1.0, _norm(self.u))
                     and self.r_norm <= increment_residual_tol)
            try:
                step, u_new, r_new, reductions, merit = self.line_search(r, du, full_step=floor)
            except _Failure as failure:
                # no step reduces a residual that is already round-off: the floor, not a failure
                if failure.reason != "line_search" or k == 1 or self.r_norm > _FLOOR_RTOL * reference:
                    raise
                return self.at_floor(tol, reference, "no step reduces |r| any further")
            r_norm_new = _norm(r_new)
            increment = step * _norm(du)
            previous = self.r_norm
            self.record(k, r_norm_new, increment, step, reductions, merit)
            self.u, r, K, self.r_norm = u_new, r_new, None, r_norm_new
            if r_norm_new <= tol:
                why = f"|r| = {r_norm_new:.3e} <= {tol:.1e}"
                return self.at_solution("residual", why)
            # a step that leaves |r| about where it was (not a slow contraction: Newton with a
            # right tangent converges fast until the floor, and then |r| stays put)
            stalled = stalled + 1 if r_norm_new >= _FLOOR_RATIO * previous else 0
            if stalled >= _FLOOR_STALLS and r_norm_new <= _FLOOR_RTOL * reference:
                return self.at_floor(tol, reference, f"Newton steps stopped reducing |r| ({stalled} steps in a row)")
            if (increment <= o.inc_tol * max(1.0, _norm(self.u))
                    and r_norm_new <= increment_residual_tol and r_norm_new > 0.5 * previous):
                why = (f"the residual test was NOT met: |r| = {r_norm_new:.3e} > tolerance {tol:.1e} "
                       f"({r_norm_new / tol:.3g}x); Newton stopped because its step |du| = {increment:.3e} "
                       f"no longer changes u and |r| no longer falls (ratio {r_norm_new / previous:.2f}): "
                       f"the residual's round-off floor, below the increment test's "
                       f"{increment_residual_tol:.1e} (atol + increment_rtol |r_0|)")
                return self.at_solution("increment", why)
        raise _Failure("max_iterations", f"no convergence in {o.max_iterations} iterations, "
                                         f"|r| = {self.r_norm:.3e} > tolerance {tol:.1e}")

    def at_floor(self, tol, reference, evidence):
        """End at the residual's round-off floor (reason "increment"), with a warning."""
        why = (f"the residual test was NOT met: |r| = {self.r_norm:.3e} > tolerance {tol:.1e}; {evidence}: "
               f"the residual's round-off floor, {self.r_norm / reference:.1e} of its reference "
               f"{reference:.1e} — the solution is about that accurate (loads tiny against the "
               "stiffness, or terms that cancel)")
        _log.warning("Newton at the round-off floor: %s", why)
        return self.at_solution("increment", why)

    def at_solution(self, reason, why):
        if self.options.refactor_at_solution:
            _, K = self.residual_and_jacobian(self.u)
            try:
                self.factorize(K)
            except _Failure as failure:
                raise _Failure(failure.reason, f"converged ({why}), but the Jacobian at the solution "
                                               f"cannot be factorized: {failure}") from failure.__cause__
        return reason, why

    # -- callbacks, checked -------------------------------------------------------------
    def evaluate_residual(self, u) -> np.ndarray:
        return _as_residual(self.residual_fn(u), self.u.shape)

    def residual_and_jacobian(self, u):
        r, K = self.residual_and_jacobian_fn(u)
        r = _as_residual(r, self.u.shape)
        if not np.isfinite(r).all():
            raise _Failure("non_finite", f"the residual is NaN/Inf at the current iterate "
                                         f"(|u| = {_norm(u):.3e})")
        n = self.u.size
        if getattr(K, "shape", None) != (n, n):
            raise InputError(f"residual_and_jacobian must return a ({n}, {n}) Jacobian, got "
                             f"{type(K).__name__} with shape {getattr(K, 'shape', None)}")
        if not np.isfinite(K.data if sp.issparse(K) else np.asarray(K)).all():
            raise _Failure("non_finite", "the Jacobian holds NaN/Inf entries at the current iterate")
        return r, K

    # -- linear algebra -----------------------------------------------------------------
    def factorize(self, K) -> Factorization:
        with _linear_solver_failures("factorizing the Jacobian"):
            self.factorization = self.solver.factorize(K)
        return self.factorization

    def solve(self, factorization, r) -> np.ndarray:
        with _linear_solver_failures("solving with the Jacobian"):
            du = factorization.solve(-r)
        if not np.isfinite(du).all():
            raise _Failure("singular", "the Newton direction is NaN/Inf: the Jacobian is (nearly) singular")
        return du

    # -- line search --------------------------------------------------------------------
    def line_search(self, r, du, full_step=False):
        """Backtrack from the full step; returns (step, u_new, r_new, reductions, merit)."""
        o = self.options
        slope = float(np.dot(r, du))
        self.energy_rejected = None
        if self.energy_fn is not None and o.line_search and not full_step and slope < 0:
            found = self.energy_line_search(du, slope)
            if found is not None and found[0] < 1.0 and self.r_norm <= _FLOOR_RTOL * self.reference:
                # Close to the solution the full Newton step is the right one; an energy that
                # rejects it there is comparing round-off (its change ~ r·du is near eps of
                # its cancelling terms), and a shortened step stalls Newton above the
                # tolerance. The full step is taken when it passes the residual test.
                full = self.full_step_if_residual_falls(r, du)
                if full is not None:
                    return full
            if found is not None and found[0] >= _SHORT_ENERGY_STEP:
                return found + ("energy",)
            if found is not None:
                # A step this short leaves u as it was. An energy of cancelling terms can be
                # noise even where -r.du is above eps |E| and accepts such a step by chance;
                # a longer step that reduces |r| is taken instead.
                try:
                    by_residual = self.residual_line_search(r, du)
                except _Failure:
                    by_residual = None
                if by_residual is not None and by_residual[0] > found[0]:
                    return by_residual
                return found + ("energy",)
        return self.residual_line_search(r, du, full_step)

    def full_step_if_residual_falls(self, r, du):
        """The full Newton step as a line-search result if it passes the Armijo test on
        ½‖r‖², else None."""
        u_trial = self.u + du
        r_trial = self.evaluate_residual(u_trial)
        if np.isfinite(r_trial).all() and _merit(r_trial) <= (1.0 - 2.0 * self.options.armijo) * _merit(r):
            return 1.0, u_trial, r_trial, 0, "residual"
        return None

    def residual_line_search(self, r, du, full_step=False):
        """Armijo backtracking on 0.5 ||r||^2; returns (step, u_new, r_new, reductions, merit)."""
        o = self.options
        phi0 = _merit(r)
        step, previous, non_finite = 1.0, None, 0
        for reductions in range(o.max_line_search + 1):
            u_trial = self.u + step * du
            r_trial = self.evaluate_residual(u_trial)
            finite = bool(np.isfinite(r_trial).all())
            phi = _merit(r_trial) if finite else np.inf
            if full_step or not o.line_search:
                if not finite:
                    raise _Failure("non_finite", "the residual is NaN/Inf after a full Newton step "
                                                 "(line search off, or a round-off-sized step)")
                return step, u_trial, r_trial, 0, "full"
            if phi <= (1.0 - 2.0 * o.armijo * step) * phi0:
                return step, u_trial, r_trial, reductions, "residual"
            non_finite += not finite
            next_step = backtrack(step, phi, previous, phi0)
            if finite:
                previous = (step, phi)
            step = next_step
        energy = f"; {self.energy_rejected}" if self.energy_rejected else ""
        raise _Failure("line_search", f"no sufficient decrease of |r| = {np.sqrt(2 * phi0):.3e} "
                                      f"in {o.max_line_search} step reductions ({non_finite} trials gave "
                                      f"NaN/Inf){energy}: the Newton direction is not a descent direction "
                                      "(wrong Jacobian?), the energy does not match the residual, or there "
                                      "is no solution near this iterate")

    def energy_line_search(self, du, slope):
        """Armijo backtracking on the energy E(u + a du), E'(0) = r·du < 0; None when the
        decrease a full step predicts is below the energy's round-off (the caller then
        backtracks on the residual)."""
        o = self.options
        e0 = float(self.energy_fn(self.u))
        if -slope <= _ENERGY_ROUND_OFF * abs(e0):
            _log.debug("energy change r.du = %.3e below the round-off of E = %.6e: residual merit", slope, e0)
            return None
        step = 1.0
        for reductions in range(o.max_line_search + 1):
            u_trial = self.u + step * du
            e = float(self.energy_fn(u_trial))
            if np.isfinite(e) and e <= e0 + o.armijo * step * slope:
                r_trial = self.evaluate_residual(u_trial)
                if np.isfinite(r_trial).all():
                    return step, u_trial, r_trial, reductions
                e = np.inf
            step = energy_backtrack(step, e, e0, slope)
        # The energy may be all round-off although -r.du is above eps |E|: its terms cancel
        # (a neo-Hookean energy at strains of 1e-8 is mu (I1 - 3 - 2 ln J) ~ 1e-16 mu, each
        # term rounded at 1e-16 mu). The residual merit is the judge then; if it rejects the
        # step too, the failure names both.
        _log.debug("no energy decrease from E = %.6e in %d reductions: residual merit", e0, o.max_line_search)
        self.energy_rejected = (f"the energy ({e0:.6e}) did not decrease enough in {o.max_line_search} step "
                                "reductions either")
        return None

    # -- bookkeeping --------------------------------------------------------------------
    def record(self, k, r_norm, increment, step, reductions, merit):
        previous = self.r_norm  # > 0: it failed the convergence test
        ratio = r_norm / previous
        self.iterations.append(NewtonIteration(
            iteration=k, residual_norm=r_norm, increment_norm=increment, step_length=step,
            line_search_steps=reductions, ratio=ratio, quadratic_ratio=ratio / previous, merit=merit))
        _log.debug("newton it %2d  |r| %.3e  |du| %.3e  step %.3g  ls %d (%s)", k, r_norm, increment, step,
                  reductions, merit)

    def result(self, converged, reason, why) -> NewtonResult:
        result = NewtonResult(u=self.u, converged=converged, iterations=list(self.iterations), reason=reason,
                              factorization=self.factorization, residual_norm=self.r_norm,
                              initial_residual_norm=self.r0_norm)
        result.message = newton_message(result, converged, reason, why)
        return result


@contextlib.contextmanager
def _linear_solver_failures(doing):
    """Linear-solver errors become Newton failures ("singular", "linear_solver")."""
    try:
        yield
    except SingularMatrixError as error:
        raise _Failure("singular", f"singular Jacobian while {doing}: {error}") from error
    except SolverError as error:
        raise _Failure("linear_solver", f"linear solver failed while {doing}: {error}") from error


def _as_residual(r, shape) -> np.ndarray:
    r = np.asarray(r, dtype=np.float64)
    if r.shape != shape:
        raise InputError(f"the residual must have shape {shape} like u, got {r.shape}")
    return r


def _norm(x) -> float:
    """Euclidean norm; inf (not an overflow warning) for a run-away iterate."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.linalg.norm(x))


def _merit(r) -> float:
    """``0.5 ||r||^2`` (inf on overflow)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(0.5 * np.dot(r, r))
