"""Load stepping: reach the full load through converged intermediate states.

The load factor goes from 0 to 1 in ``n_steps`` equal increments. When Newton fails on an
increment, the increment is halved and retried from the last converged state (up to
``max_cutbacks`` times in a row); after each success it grows back by 1.5x, never beyond
the initial ``1 / n_steps``. This handles stiffening and softening problems whose full
Newton step from the unloaded state is too long; it does not follow snap-through (a limit
point needs arc-length continuation).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from femopt.errors import InputError, NewtonError, SingularMatrixError, SolverError
from femopt.solvers.newton import NewtonResult

__all__ = ["load_stepping", "LoadSteppingResult", "Cutback"]

_log = logging.getLogger("femopt.solvers")

_GROWTH = 1.5


@dataclass(frozen=True)
class Cutback:
    """A failed increment that was halved.

    Attributes:
        from_load_factor: the converged load factor the attempt started from.
        attempted_load_factor: the load factor Newton failed to reach.
        reason: Newton's failure reason (``"max_iterations"``, ``"line_search"``...).
    """

    from_load_factor: float
    attempted_load_factor: float
    reason: str


@dataclass
class LoadSteppingResult:
    """Outcome of :func:`load_stepping`.

    Attributes:
        load_factors: the converged load factors, increasing, ending at 1.0 on success
            (the starting state at 0 is not included).
        states: solutions ``(n,)`` at those load factors.
        results: the :class:`NewtonResult` of each converged step (iteration histories).
        cutbacks: every failed attempt, in order.
        converged: whether load factor 1 was reached.
        message: why it stopped, when it did not converge.
    """

    load_factors: list[float] = field(default_factory=list)
    states: list[np.ndarray] = field(default_factory=list)
    results: list[NewtonResult] = field(default_factory=list)
    cutbacks: list[Cutback] = field(default_factory=list)
    converged: bool = False
    message: str = ""

    @property
    def final(self) -> NewtonResult | None:
        """Newton result at the last converged load factor (None if none converged)."""
        return self.results[-1] if self.results else None

    @property
    def u(self) -> np.ndarray | None:
        """State at the last converged load factor."""
        return self.states[-1] if self.states else None

    @property
    def histories(self) -> list[list]:
        """Newton iteration records of each converged step."""
        return [result.iterations for result in self.results]


def load_stepping(solve_at: Callable[[float, np.ndarray], NewtonResult], u0, n_steps: int = 10,
                  min_fraction: float = 1e-4, max_cutbacks: int = 8,
                  raise_on_failure: bool = True) -> LoadSteppingResult:
    """Solve at increasing load factors up to 1, halving increments where Newton fails.

    Args:
        solve_at: ``solve_at(load_factor, u_start) -> NewtonResult``; the caller closes
            over its problem and scales loads / prescribed values by ``load_factor``.
            A non-converged result or a raised :class:`~femopt.errors.SolverError`
            (``NewtonError``, ``SingularMatrixError``) counts as a failed increment.
        u0: state at load factor 0, ``(n,)`` (copied; never modified).
        n_steps: number of equal increments when nothing fails.
        min_fraction: smallest increment, as a fraction of the total load; a cut-back
            below it stops.
        max_cutbacks: consecutive halvings allowed before giving up.
        raise_on_failure: raise :class:`~femopt.errors.NewtonError` when load factor 1 is
            not reached (default), else return the partial result (``converged=False``).

    Returns:
        :class:`LoadSteppingResult`.

    Raises:
        NewtonError: naming the load factor attempted and the last converged one;
            ``last_converged = (load_factor, u)``, ``history`` (the failed attempt's
            Newton iterations), ``reason`` (its Newton reason), ``result`` (partial).
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise InputError(f"n_steps must be a positive integer, got {n_steps!r}")
    if not 0 < min_fraction <= 1:
        raise InputError(f"min_fraction must lie in (0, 1], got {min_fraction!r}")
    if isinstance(max_cutbacks, bool) or not isinstance(max_cutbacks, int) or max_cutbacks < 0:
        raise InputError(f"max_cutbacks must be an integer >= 0, got {max_cutbacks!r}")
    u = np.array(u0, dtype=np.float64, copy=True)
    full_increment = 1.0 / n_steps
    increment = full_increment
    load_factor = 0.0
    in_a_row = 0
    out = LoadSteppingResult()
    while load_factor < 1.0:
        target = load_factor + increment
        if target > 1.0 - 1e-12:
            target = 1.0
        result, reason, history, error = _attempt(solve_at, target, u)
        if error is not None and reason == "singular" and not history:
            # The tangent at the starting state is singular: a smaller increment starts from
            # the same state and meets the same tangent, so cutting back cannot help.
            raise error
        if result is not None:
            load_factor, u = target, np.array(result.u, dtype=np.float64, copy=True)
            out.load_factors.append(load_factor)
            out.states.append(u)
            out.results.append(result)
            in_a_row = 0
            _log.info("load factor %.6g converged in %d Newton iterations", load_factor, result.n_iterations)
            increment = min(full_increment, _GROWTH * increment)
            continue
        out.cutbacks.append(Cutback(load_factor, target, reason))
        in_a_row += 1
        increment *= 0.5
        if in_a_row > max_cutbacks or increment < min_fraction:
            limit = (f"{max_cutbacks} cut-backs in a row" if in_a_row > max_cutbacks
                     else f"the increment would drop below min_fraction = {min_fraction:g}")
            message = (f"load stepping failed: Newton did not converge at load factor {target:.6g} "
                       f"({reason}) and {limit}; last converged load factor {load_factor:.6g} "
                       f"after {len(out.cutbacks)} cut-backs in all")
            if raise_on_failure:
                error = NewtonError(message, history=history, reason=reason)
                error.last_converged = (load_factor, u.copy())
                error.last_u = u.copy()
                error.result = out
                raise error
            _log.warning("%s", message)
            out.message = message
            return out
        _log.info("Newton failed at load factor %.6g (%s): increment halved to %.3g", target, reason, increment)
    out.converged = True
    return out


def _attempt(solve_at, load_factor, u_start):
    """(result, None, [], None) on success, else (None, reason, failed Newton history,
    the error raised or None)."""
    try:
        result = solve_at(load_factor, u_start.copy())
    except NewtonError as error:
        return None, error.reason, error.history, error
    except SingularMatrixError as error:
        return None, "singular", [], error
    except SolverError as error:
        return None, "linear_solver", [], error
    if not result.converged:
        return None, result.reason, result.iterations, None
    return result, None, [], None
