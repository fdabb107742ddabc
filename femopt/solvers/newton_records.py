"""What Newton's method is told (:class:`NewtonOptions`) and what it reports
(:class:`NewtonIteration` per step, :class:`NewtonResult`); the method is in
:mod:`femopt.solvers.newton`."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from femopt.errors import InputError
from femopt.solvers.linear import Factorization

__all__ = ["NewtonOptions", "NewtonIteration", "NewtonResult", "FAILURE_REASONS", "newton_message"]

FAILURE_REASONS = ("max_iterations", "line_search", "non_finite", "singular", "linear_solver")


@dataclass(frozen=True)
class NewtonOptions:
    """Tolerances and switches of :func:`newton`.

    Attributes:
        atol: absolute residual tolerance, in the residual's own units (force, heat
            flow); default 0 (none). An absolute number is wrong in some units: 1e-10
            N accepts the first, linearized step of a problem whose loads are 1e-12 N
            (micrometre cells in SI) as converged. Set it only knowing the units.
        rtol: residual tolerance relative to ``max(||r_0||, residual_scale)``.
        residual_scale: optional reference norm, e.g. ``||f_ext||``: keeps ``rtol``
            meaningful for warm starts whose ``||r_0||`` is already small.
            :meth:`femopt.Problem.solve` sets it to the size of what the residual sums at
            rest (free dofs zero, prescribed values applied; absolute cell and facet
            contributions): the loads the problem carries.
        inc_tol: increment test, ``||a du|| <= inc_tol * max(1, ||u||)``.
        increment_rtol: residual reduction the increment test also requires.
        max_iterations: Newton iterations (factorizations) before giving up.
        line_search: backtrack on the merit ``0.5 ||r||^2``; ``False`` takes full steps.
        max_line_search: step reductions per iteration before giving up.
        armijo: sufficient-decrease constant c: accept when
            ``phi(a) <= (1 - 2 c a) phi(0)`` (Newton's direction has ``phi'(0) = -2 phi(0)``).
        refactor_at_solution: factorize the Jacobian at the returned solution, so
            ``result.factorization`` belongs to ``result.u`` (exact nonlinear adjoints).
    """

    atol: float = 0.0
    rtol: float = 1e-10
    residual_scale: float | None = None
    inc_tol: float = 1e-10
    increment_rtol: float = 1e-6
    max_iterations: int = 30
    line_search: bool = True
    max_line_search: int = 12
    armijo: float = 1e-4
    refactor_at_solution: bool = True

    def __post_init__(self):
        for name in ("atol", "rtol", "inc_tol", "increment_rtol", "max_iterations", "max_line_search"):
            value = getattr(self, name)
            integer = name.startswith("max_")
            if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)) \
                    or value < 0:
                raise InputError(f"NewtonOptions.{name} must be a{' whole' if integer else ''} "
                                 f"number >= 0, got {value!r}")
        if self.max_iterations < 1 or (self.atol == 0 and self.rtol == 0) or not 0 < self.armijo < 0.5:
            raise InputError(f"NewtonOptions needs max_iterations >= 1, atol or rtol > 0, 0 < armijo < 0.5; got "
                             f"max_iterations={self.max_iterations}, atol={self.atol}, rtol={self.rtol}, "
                             f"armijo={self.armijo}")
        if self.residual_scale is not None and not self.residual_scale >= 0:
            raise InputError(f"NewtonOptions.residual_scale must be >= 0 or None, got {self.residual_scale}")


    def scaled_to(self, load_norm: float) -> "NewtonOptions":
        """These options with ``residual_scale`` at least ``load_norm`` (the norm of the
        loads a solve carries); a NaN/Inf norm (a rest state that is not admissible)
        leaves them as they are."""
        if not np.isfinite(load_norm) or load_norm <= (self.residual_scale or 0.0):
            return self
        return replace(self, residual_scale=float(load_norm))


@dataclass(frozen=True)
class NewtonIteration:
    """One Newton iteration.

    Attributes:
        iteration: 1 for the first step from ``u_0``.
        residual_norm: ``||r(u_k)||`` after the step.
        increment_norm: ``||a du||``, the step actually taken.
        step_length: line-search factor ``a`` (1 = full Newton step).
        line_search_steps: step reductions the line search made.
        ratio: ``||r_k|| / ||r_{k-1}||`` (linear contraction factor).
        quadratic_ratio: ``||r_k|| / ||r_{k-1}||^2``, bounded under quadratic convergence.
        merit: what chose the step: ``"energy"`` (Armijo on the total potential),
            ``"residual"`` (Armijo on ½‖r‖², also where the energy's change is below its
            round-off), or ``"full"`` (a full step at the round-off floor / no line search).
    """

    iteration: int
    residual_norm: float
    increment_norm: float
    step_length: float
    line_search_steps: int
    ratio: float
    quadratic_ratio: float
    merit: str = "residual"


@dataclass
class NewtonResult:
    """Outcome of :func:`newton`.

    Attributes:
        u: the solution (or last iterate when not converged), ``(n,)``.
        converged: whether a convergence test passed.
        iterations: one :class:`NewtonIteration` per step taken.
        reason: ``"residual"`` or ``"increment"`` (which test passed), else one of
            :data:`FAILURE_REASONS`.
        factorization: when converged, the factorization of the Jacobian at ``u`` (at the
            previous iterate if ``refactor_at_solution=False``); after a failure the last
            one computed (or None), not necessarily at ``u``.
        residual_norm: ``||r(u)||``.
        initial_residual_norm: ``||r(u_0)||``.
        message: why it stopped, in words.
    """

    u: np.ndarray
    converged: bool
    iterations: list
    reason: str
    factorization: Factorization | None
    residual_norm: float
    initial_residual_norm: float
    message: str = ""

    @property
    def n_iterations(self) -> int:
        """Number of Newton steps taken."""
        return len(self.iterations)

    @property
    def residual_history(self) -> list[float]:
        """``[||r_0||, ||r_1||, ...]``."""
        return [self.initial_residual_norm] + [it.residual_norm for it in self.iterations]


def newton_message(result: "NewtonResult", converged: bool, reason: str, why: str, solver: str = "Newton") -> str:
    """The one-line summary a :class:`NewtonResult` carries: how it converged, or why it
    stopped with the last residual norms."""
    shown = ", ".join(f"{value:.2e}" for value in result.residual_history[-6:])
    if converged:
        return f"{solver} converged in {result.n_iterations} iterations ({reason} test): {why}"
    return (f"{solver} stopped after {result.n_iterations} iterations ({reason}): {why.rstrip('.')}. "
            f"|r_0| = {result.initial_residual_norm:.2e}; last residual norms: {shown}")
