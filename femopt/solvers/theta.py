"""The theta method for first-order systems ``M u' + r(u, t) = 0``.

Step k takes ``u_{k-1}`` at ``t_{k-1}`` to ``u_k`` at ``t_k`` (``Δt_k = t_k − t_{k-1}``) by
solving

    R_k(u_k) = M (u_k − u_{k-1}) / Δt_k + θ r(u_k, t_k) + (1 − θ) r(u_{k-1}, t_{k-1}) + f_k = 0

with the tangent ``M / Δt_k + θ K(u_k, t_k)``; ``f_k`` is an optional term that depends on
neither state (a transient problem puts there the mass coupling to prescribed values
that change in time). θ = 1 is backward Euler (first order, L-stable), θ = 1/2
Crank–Nicolson (second order, A-stable but not L-stable: stiff modes of large steps
are not damped and oscillate from step to step). θ < 1/2 is only conditionally stable
and not offered.

Everything here works on callables and matrices of the unknowns (the free dofs of a
finite-element problem); nothing knows about meshes. A nonlinear ``r`` is solved by
:func:`~femopt.solvers.newton.newton` each step, started from ``u_{k-1}``. A *linear*
``r`` (affine in u, with a tangent that does not change in time) needs no Newton: the
step matrix ``M / Δt + θ K`` is factorized once per step size and reused for every
step with that size (:meth:`ThetaStepper.factorization`, also what an adjoint solves
with, transposed). Steps whose sizes agree to :data:`SAME_STEP` relative share a
factorization; the step then corrects its solution with the exact step matrix, so the
result is exact to the Newton tolerance either way.

A step is a deterministic function of ``(k, u_{k-1})``: run again from the same state
(as an adjoint's checkpointing does) it gives the same ``u_k`` bit for bit. A nonlinear
step carries ``r(u_{k-1}, t_{k-1})`` from the previous step only when it is exactly what
evaluating it again would give; a linear step writes ``r(u, t) = K u + b(t)`` with the
load vector ``b(t) = r(0, t)`` assembled once per time level (once in all when
``time_invariant``), so θ < 1 costs no extra assembly in either case.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import scipy.sparse as sp

from femopt.errors import InputError, NewtonError
from femopt.solvers.linear import Factorization, LinearSolver, make_solver
from femopt.solvers.newton import newton
from femopt.solvers.newton_records import NewtonIteration, NewtonOptions, NewtonResult

__all__ = ["ThetaStepper", "ThetaStep", "ThetaRun", "check_theta", "check_times", "SAME_STEP"]

_log = logging.getLogger("femopt.solvers.theta")

#: Relative difference below which two step sizes share the factorization of a linear system.
SAME_STEP = 1e-9

#: Factorizations of distinct step sizes a linear stepper keeps (least recently used dropped).
_KEPT_FACTORIZATIONS = 4

#: Corrections with a shared factorization before a linear step counts as failed.
_MAX_CORRECTIONS = 5


def check_theta(theta) -> float:
    """θ as a float in [1/2, 1], or InputError saying what the values mean."""
    if isinstance(theta, bool) or not isinstance(theta, (int, float, np.integer, np.floating)) \
            or not 0.5 <= float(theta) <= 1.0:
        raise InputError(f"theta must be a number in [0.5, 1] (1: backward Euler, 0.5: Crank-Nicolson); "
                         f"got {theta!r}. Below 0.5 the theta method is only conditionally stable")
    return float(theta)


def check_times(times) -> np.ndarray:
    """Time levels ``t_0 < t_1 < ... < t_n`` as float64 ``(n + 1,)``, or InputError."""
    try:
        array = np.asarray(times, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"times must be numbers t_0 < t_1 < ... < t_n, got {type(times).__name__}") from None
    if array.ndim != 1 or array.size < 2:
        raise InputError(f"times must be a 1D array of at least two time levels (start and end), got shape "
                         f"{array.shape}")
    if not np.isfinite(array).all():
        raise InputError("times hold NaN or Inf entries")
    bad = np.flatnonzero(np.diff(array) <= 0.0)
    if bad.size:
        k = int(bad[0])
        raise InputError(f"times must increase strictly: t[{k}] = {float(array[k])!r} is followed by t[{k + 1}] = "
                         f"{float(array[k + 1])!r} ({bad.size} non-increasing step(s))")
    return array


@dataclass
class ThetaStep:
    """The outcome of one step.

    Attributes:
        u: ``u_k`` ``(n,)``.
        residual: ``r(u_k, t_k)`` ``(n,)``, the next step's ``(1 − θ)`` term (None when θ = 1).
        newton: the step's :class:`NewtonResult` (a linear step reports its solve and
            corrections as iterations).
    """

    u: np.ndarray
    residual: np.ndarray | None
    newton: NewtonResult


@dataclass
class ThetaRun:
    """A run of steps.

    Attributes:
        times: ``(n_steps + 1,)``.
        states: ``(n_kept, n)``: every state ``u_0 ... u_n`` by default; up to the failed
            step when ``converged`` is False.
        steps: one :class:`NewtonResult` per step taken.
        converged: whether every step converged.
        message: why the run stopped early (empty when it did not).
    """

    times: np.ndarray
    states: np.ndarray
    steps: list
    converged: bool = True
    message: str = ""


class ThetaStepper:
    """Theta-method steps of ``M u' + r(u, t) = 0``.

    Args:
        residual: ``residual(u, t) -> r (n,)``.
        residual_and_jacobian: ``(u, t) -> (r (n,), K (n, n) sparse)``, ``K = ∂r/∂u``.
        mass: ``M (n, n)``, sparse (constant in time and state).
        times: ``t_0 < ... < t_n``.
        theta: in [1/2, 1].
        linear: ``r`` is affine in u with a tangent constant in time (e.g. linear heat
            conduction with loads that change in time): factorize ``M / Δt + θ K`` once
            per step size, no Newton.
        forcing: optional ``forcing(t_prev, t) -> (n,)``, the term ``f_k`` of step
            ``t_prev → t`` (independent of both states).
        linear_solver: a LinearSolver or a name (see :func:`~femopt.solvers.linear.make_solver`).
        newton: :class:`NewtonOptions` (the linear path uses its ``rtol`` / ``atol``).
        keep_factorizations: keep each nonlinear step's factorization in its record
            (memory: one factorization per step); by default they are dropped.
        time_invariant: ``r(u, t)`` does not depend on t (no load or prescribed value
            changes in time): a linear system assembles its load vector once.
        load: optional ``load(t) -> b(t) = r(0, t)`` of a linear system, when the caller
            has a cheaper way than assembling the residual at 0.

    Attributes:
        n_factorizations: step matrices factorized so far (Newton's included).
    """

    def __init__(self, residual: Callable, residual_and_jacobian: Callable, mass, times, *, theta=1.0,
                 linear: bool = False, forcing: Callable | None = None, linear_solver=None,
                 newton: NewtonOptions | None = None, keep_factorizations: bool = False,
                 time_invariant: bool = False, load: Callable | None = None):
        self.times = check_times(times)
        self.theta = check_theta(theta)
        if not sp.issparse(mass) or mass.ndim != 2 or mass.shape[0] != mass.shape[1]:
            raise InputError(f"mass must be a square scipy.sparse matrix, got {type(mass).__name__} with shape "
                             f"{getattr(mass, 'shape', None)}")
        self.mass = sp.csr_matrix(mass, dtype=np.float64)
        self.residual = residual
        self.residual_and_jacobian = residual_and_jacobian
        self.linear = bool(linear)
        self.forcing = forcing
        self.linear_solver = make_solver(linear_solver, n_hint=self.mass.shape[0])
        self.newton_options = newton or NewtonOptions()
        self.keep_factorizations = keep_factorizations
        self.n_factorizations = 0
        self.tangent: sp.csr_matrix | None = None      # the constant K of a linear system
        self.time_invariant = bool(time_invariant)
        self._loads: OrderedDict = OrderedDict()      # t → b(t) = r(0, t) of a linear system
        self.load = load
        self._factorizations: OrderedDict[float, Factorization] = OrderedDict()

    @property
    def n_steps(self) -> int:
        return self.times.size - 1

    def step_size(self, k: int) -> float:
        """``Δt_k = t_k − t_{k-1}`` (k = 1 ... n)."""
        return float(self.times[k] - self.times[k - 1])

    # -- one step -------------------------------------------------------------------------
    def step(self, k: int, u_prev, residual_prev=None) -> ThetaStep:
        """Step k: ``u_{k-1} → u_k``.

        Args:
            k: 1 ... n_steps.
            u_prev: ``u_{k-1}`` ``(n,)``.
            residual_prev: ``r(u_{k-1}, t_{k-1})`` if known (the previous step's
                :attr:`ThetaStep.residual`); evaluated when needed and not given (a
                linear system does not use it).

        Raises:
            NewtonError: the step did not converge; the message names the step and times.
        """
        if not 1 <= k <= self.n_steps:
            raise InputError(f"step k must be in 1 ... {self.n_steps}, got {k}")
        u_prev = np.asarray(u_prev, dtype=np.float64)
        if u_prev.shape != (self.mass.shape[0],):
            raise InputError(f"the state must have shape ({self.mass.shape[0]},), got {u_prev.shape}")
        t_prev, t, dt = float(self.times[k - 1]), float(self.times[k]), self.step_size(k)
        constant = np.zeros_like(u_prev)            # the part of R_k that does not depend on u_k
        if self.theta < 1.0 and self.linear:
            constant += (1.0 - self.theta) * self.load_vector(t_prev)
        elif self.theta < 1.0:
            if residual_prev is None:
                residual_prev = self.residual(u_prev, t_prev)
            constant += (1.0 - self.theta) * np.asarray(residual_prev, dtype=np.float64)
        if self.forcing is not None:
            constant += np.asarray(self.forcing(t_prev, t), dtype=np.float64)
        stored = self.mass @ u_prev / dt
        scale = float(np.linalg.norm(stored))      # tolerances relative to the storage term, at least
        try:
            if self.linear:
                return self._linear_step(k, u_prev, t, dt, constant, scale)
            return self._newton_step(u_prev, t, dt, constant, stored, scale)
        except NewtonError as error:
            message = f"theta step {k} of {self.n_steps} (t = {t_prev:.6g} -> {t:.6g}, dt = {dt:.3g}): {error}"
            failed = NewtonError(message, history=error.history, reason=error.reason)
            failed.step, failed.time = k, t
            failed.last_u = getattr(error, "last_u", None)
            failed.result = getattr(error, "result", None)
            raise failed from error

    def _newton_step(self, u_prev, t, dt, constant, stored, scale) -> ThetaStep:
        theta, mass = self.theta, self.mass
        last = {}

        def remember(u, r):
            last["u"], last["r"] = u.copy(), r
            return r

        def residual(u):
            r = np.asarray(self.residual(u, t), dtype=np.float64)
            remember(u, r)
            return mass @ u / dt - stored + theta * r + constant

        def residual_and_jacobian(u):
            # not remembered: the carried r must be what residual() gives (bitwise reruns)
            r, K = self.residual_and_jacobian(u, t)
            r = np.asarray(r, dtype=np.float64)
            return mass @ u / dt - stored + theta * r + constant, (mass / dt + theta * K).tocsr()

        # The factorization at the solution is only made when it is kept (an adjoint that
        # restarts from checkpoints factorizes again anyway).
        options = replace(self.newton_options.scaled_to(scale), refactor_at_solution=self.keep_factorizations)
        result = newton(residual, residual_and_jacobian, u_prev, options=options,
                        linear_solver=_Counting(self.linear_solver, self))
        if not self.keep_factorizations:
            result = replace(result, factorization=None)
        r_new = None
        if theta < 1.0:
            r_new = last["r"] if np.array_equal(last.get("u"), result.u) else self.residual(result.u, t)
        return ThetaStep(result.u, r_new, result)

    def load_vector(self, t: float) -> np.ndarray:
        """``b(t) = r(0, t)`` of a linear system (so ``r(u, t) = K u + b(t)``), assembled
        once per time level (once in all when ``time_invariant``); the first one is checked
        against the assembled residual at a nonzero state."""
        key = None if self.time_invariant else float(t)
        if key in self._loads:
            self._loads.move_to_end(key)
            return self._loads[key]
        zero = np.zeros(self.mass.shape[0])
        first = self.tangent is None
        if first:
            _, K = self.residual_and_jacobian(zero, t)
            self.tangent = sp.csr_matrix(K, dtype=np.float64)
        # always the same function of t (never the tangent assembly's r): bitwise reruns
        b = np.asarray(self.load(t) if self.load is not None else self.residual(zero, t), dtype=np.float64)
        if first:
            self._check_affine(t, b)
        self._loads[key] = b
        while len(self._loads) > 2:
            self._loads.popitem(last=False)
        return b

    def _check_affine(self, t, b) -> None:
        """Refuse a 'linear' system whose residual is not ``K u + b`` (a physics that
        declares ``linear = True`` wrongly would give silently wrong steps)."""
        probe = np.sin(np.arange(1.0, b.size + 1.0))
        assembled = np.asarray(self.residual(probe, t), dtype=np.float64)
        affine = self.tangent @ probe + b
        scale = max(float(np.linalg.norm(assembled)), float(np.linalg.norm(b)), 1e-300)
        if float(np.linalg.norm(assembled - affine)) > 1e-8 * scale:
            raise InputError(f"the system was declared linear, but its residual is not K u + r(0): off by "
                             f"{float(np.linalg.norm(assembled - affine)) / scale:.2e} (relative) at a test state; "
                             "does the physics declare linear = True wrongly?")

    def _linear_step(self, k, u_prev, t, dt, constant, scale) -> ThetaStep:
        theta = self.theta
        b = self.load_vector(t)
        Ku = self.tangent @ u_prev
        R = Ku + theta * b + constant              # R_k(u_{k-1}): the storage term vanishes there
        r0 = float(np.linalg.norm(R))
        options = self.newton_options.scaled_to(scale)
        tol = options.atol + options.rtol * max(r0, options.residual_scale or 0.0)
        factorization = self.factorization(k)
        du = np.zeros_like(u_prev)
        iterations, r_norm = [], r0
        while r_norm > tol or (r0 > 0.0 and not iterations):     # one solve at least: cheap, and exact
            if len(iterations) == _MAX_CORRECTIONS:
                raise NewtonError(f"the linear step did not reach |R| <= {tol:.1e} in {_MAX_CORRECTIONS} solves "
                                  f"(|R| = {r_norm:.3e}): is the system really linear with a constant tangent?",
                                  history=iterations, reason="max_iterations")
            correction = factorization.solve(-R)
            du += correction
            R = R + self.mass @ correction / dt + theta * (self.tangent @ correction)
            previous, r_norm = r_norm, float(np.linalg.norm(R))
            iterations.append(NewtonIteration(iteration=len(iterations) + 1, residual_norm=r_norm,
                                              increment_norm=float(np.linalg.norm(correction)), step_length=1.0,
                                              line_search_steps=0, ratio=r_norm / previous,
                                              quadratic_ratio=r_norm / previous ** 2, merit="full"))
        u = u_prev + du
        r_new = self.tangent @ u + b if theta < 1.0 else None
        record = NewtonResult(u=u, converged=True, iterations=iterations, reason="residual",
                              factorization=factorization, residual_norm=r_norm, initial_residual_norm=r0,
                              message=f"linear step: {len(iterations)} solve(s) with the step matrix, "
                                      f"|R| = {r_norm:.3e} <= {tol:.1e}")
        return ThetaStep(u, r_new, record)

    def factorization(self, k: int) -> Factorization:
        """The factorization of the step matrix ``M / Δt_k + θ K`` of a linear system
        (made at the first step, or now, and shared by the steps of the same size); an
        adjoint solves ``(M / Δt_k + θ K)^T λ = g`` with its ``solve_transpose``."""
        if not self.linear:
            raise InputError("factorization(k) is for linear systems; a nonlinear step's factorization is in "
                             "its Newton record (keep_factorizations=True)")
        dt = self.step_size(k)
        for size, factorization in self._factorizations.items():
            if abs(size - dt) <= SAME_STEP * dt:
                self._factorizations.move_to_end(size)
                return factorization
        if self.tangent is None:
            _, K = self.residual_and_jacobian(np.zeros(self.mass.shape[0]), float(self.times[k]))
            self.tangent = sp.csr_matrix(K, dtype=np.float64)
        factorization = _Counting(self.linear_solver, self).factorize((self.mass / dt + self.theta * self.tangent)
                                                                      .tocsr())
        self._factorizations[dt] = factorization
        while len(self._factorizations) > _KEPT_FACTORIZATIONS:
            self._factorizations.popitem(last=False)
        return factorization

    # -- a run ----------------------------------------------------------------------------
    def run(self, u0, *, residual0=None, raise_on_failure: bool = True,
            on_step: Callable | None = None) -> ThetaRun:
        """Every step from ``u_0``; keeps every state.

        Args:
            u0: ``u_0`` ``(n,)``.
            residual0: ``r(u_0, t_0)`` if known.
            raise_on_failure: raise the failing step's NewtonError (default), else return
                the run up to that step with ``converged=False``.
            on_step: ``on_step(k, step: ThetaStep)`` after each step (progress, output).
        """
        u = np.array(u0, dtype=np.float64)
        if u.shape != (self.mass.shape[0],):
            raise InputError(f"the initial state must have shape ({self.mass.shape[0]},), got {u.shape}")
        states, steps, r = [u.copy()], [], residual0
        for k in range(1, self.n_steps + 1):
            try:
                step = self.step(k, u, r)
            except NewtonError as error:
                if raise_on_failure:
                    raise
                _log.warning("%s", error)
                return ThetaRun(self.times, np.asarray(states), steps, converged=False, message=str(error))
            u, r = step.u, step.residual
            states.append(u.copy())
            steps.append(step.newton)
            if on_step is not None:
                on_step(k, step)
        return ThetaRun(self.times, np.asarray(states), steps)


class _Counting(LinearSolver):
    """The stepper's linear solver, counting its factorizations on the stepper."""

    def __init__(self, solver: LinearSolver, stepper: ThetaStepper):
        self.solver, self.stepper = solver, stepper

    def factorize(self, A) -> Factorization:
        self.stepper.n_factorizations += 1
        return self.solver.factorize(A)

    def _factorize(self, A) -> Factorization:
        return self.solver.factorize(A)
