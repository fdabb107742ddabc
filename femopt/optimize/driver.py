"""``minimize``: one driver for OC, MMA and SciPy's methods.

::

    result = femopt.optimize.minimize(objective, x0, constraints=[volume], bounds=(0, 1),
                                      method="oc", checkpoint="run.npz")

``objective`` and each constraint are callables ``x -> (value, gradient)``; constraints
read g(x) ≤ 0. A constraint may also offer ``value(x)`` (no gradient, cheap), which OC
bisects on. Each iteration evaluates the functions at x, records the history, asks the
optimizer for the next design, writes the checkpoint (design, optimizer state, history)
and calls the callback. Iteration k evaluates the design the update of iteration k − 1
produced, so ``change`` is the size of the step taken *after* that evaluation, as in
top88 (whose reported compliance is the last one evaluated).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import InputError
from .base import Evaluation, OptimizationError, Optimizer
from .checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from .history import History, IterationInfo, Reporter, bounded_grey_level
from .mma import MMA
from .oc import OC
from .scipy_methods import minimize_scipy

__all__ = ["minimize", "OptimizeResult", "STEP_METHODS", "SCIPY_METHODS"]

_log = logging.getLogger("femopt.optimize")

STEP_METHODS = {"oc": OC, "mma": MMA}
SCIPY_METHODS = ("L-BFGS-B", "SLSQP", "trust-constr")


@dataclass
class OptimizeResult:
    """Outcome of :func:`minimize`.

    Attributes:
        x: the final design (after the last update).
        fun: objective at the last evaluated design.
        constraints: constraint values (g ≤ 0) at the last evaluated design.
        iterations: number of evaluations (iterations) done in total.
        status: ``"converged"``, ``"max_iterations"``, ``"callback"``, or a SciPy message.
        success: True when converged.
        history: the :class:`~femopt.optimize.History`.
        message: a sentence explaining the status.
    """

    x: np.ndarray
    fun: float
    constraints: np.ndarray
    iterations: int
    status: str
    success: bool
    history: History
    message: str


def _as_bounds(bounds, n):
    lower, upper = bounds if bounds is not None else (-np.inf, np.inf)
    lower = np.broadcast_to(np.asarray(lower, dtype=np.float64), (n,)).copy()
    upper = np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,)).copy()
    if np.any(lower > upper):
        raise InputError("bounds: some lower bounds exceed their upper bounds")
    return lower, upper


def _evaluate(fun, constraints, x, n):
    f, df = fun(x)
    values, grads = [], []
    for g in constraints:
        gv, dg = g(x)
        values.append(float(gv))
        grads.append(np.asarray(dg, dtype=np.float64).reshape(n))
    df = np.asarray(df, dtype=np.float64).reshape(n)
    ev = Evaluation(float(f), df, np.array(values), np.array(grads).reshape(len(constraints), n))
    if not (np.isfinite(ev.f) and np.all(np.isfinite(ev.df)) and np.all(np.isfinite(ev.g))
            and np.all(np.isfinite(ev.dg))):
        raise OptimizationError(f"non-finite objective, constraint or gradient at this design "
                                f"(f = {ev.f}, g = {ev.g})")
    return ev


def minimize(fun: Callable, x0, *, constraints: Sequence[Callable] = (), bounds=(0.0, 1.0),
             method: str | Optimizer = "mma", max_iterations: int = 200, tol_change: float = 0.01,
             tol_objective: float | None = None, tol_feasibility: float = 1e-3,
             callback: Callable | None = None, schedule=None, grey_level: Callable | None = None,
             checkpoint=None, resume: bool = False, report_every: int = 1,
             raise_on_failure: bool = True, options: dict | None = None) -> OptimizeResult:
    """Minimize ``fun`` subject to ``g_i(x) ≤ 0`` and bounds.

    Args:
        fun: ``x -> (f, ∇f)``.
        x0: starting design ``(n,)`` (ignored when resuming from a checkpoint).
        constraints: callables ``x -> (g, ∇g)``, each meaning g(x) ≤ 0; optional
            ``.value(x)`` without gradient (OC bisects on it).
        bounds: ``(lower, upper)``, numbers or arrays ``(n,)``.
        method: ``"oc"``, ``"mma"``, an :class:`Optimizer` instance (``OC(move=0.1)``), or
            one of SciPy's ``"L-BFGS-B"`` (bounds only), ``"SLSQP"``, ``"trust-constr"``.
        max_iterations: total iterations, counted across resumes.
        tol_change: OC / MMA converged when max|Δx| ≤ tol_change (and feasible, and the
            schedule is at its last step). SciPy methods use their own tests instead.
        tol_objective: also converged when |f_k − f_{k−1}| ≤ tol_objective |f_k| (off by default).
        tol_feasibility: largest constraint value counted as feasible.
        callback: ``callback(info: IterationInfo)`` after each iteration; returning True stops.
        schedule: an object with ``set_iteration(k)`` (called before evaluating iteration k)
            and ``is_final(k)``: e.g. a :class:`~femopt.design.DensityDesign` whose
            projection sharpness follows a continuation.
            A schedule that also has ``state_dict()`` (name → array) and
            ``load_state_dict(d)`` has that state written in the checkpoint and restored
            on resume (e.g. :class:`~femopt.design.AugmentedLagrangianSchedule`'s
            multipliers), so a resumed run continues exactly.
        grey_level: ``x -> float`` for the history (default: 4 mean(t(1−t)) of x scaled to
            its bounds).
        checkpoint: a file path: the state is written there after every iteration.
        resume: continue from ``checkpoint`` if the file exists (OC and MMA continue
            exactly; SciPy methods restart from the saved design).
        report_every: progress line on ``femopt.optimize`` (INFO) every this many iterations.
        raise_on_failure: raise :class:`OptimizationError` on non-finite values (default)
            or return a result with ``status="failed"``.
        options: SciPy methods only: their ``options`` (tolerances), e.g. ``{"ftol": 1e-10}``.
    """
    x0 = np.asarray(x0, dtype=np.float64).ravel().copy()
    n = x0.size
    constraints = list(constraints)
    lower, upper = _as_bounds(bounds, n)
    if max_iterations < 1:
        raise InputError(f"max_iterations must be >= 1, got {max_iterations}")
    if isinstance(method, str) and method in SCIPY_METHODS:
        x, history, status, message = minimize_scipy(fun, x0, constraints, lower, upper, method, max_iterations=max_iterations,
                              options=options, callback=callback, grey_level=grey_level,
                              checkpoint=checkpoint, resume=resume, report_every=report_every)
        return _result(x, history, status, message)
    optimizer = _optimizer(method)
    if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))):
        raise InputError(f"{type(optimizer).__name__} needs finite bounds on every variable (its move "
                         "limits are fractions of upper - lower); got infinite ones")
    if optimizer.max_constraints is not None and len(constraints) > optimizer.max_constraints:
        raise InputError(f"{type(optimizer).__name__} handles at most {optimizer.max_constraints} "
                         f"constraint(s), got {len(constraints)}; use method='mma'")
    m = len(constraints)
    meta = {"method": type(optimizer).__name__, "n": n, "m": m, "options": optimizer.options()}
    x, iteration, state, history = np.clip(x0, lower, upper), 0, optimizer.init_state(n, m), History(m)
    if resume and checkpoint is not None and Path(checkpoint).exists():
        x, iteration, state, history, status = _restore(checkpoint, meta, state, schedule)
        if status == "converged":
            return _result(x, history, "converged", "already converged in the checkpoint")
    grey = grey_level or bounded_grey_level(lower, upper)
    report = Reporter(report_every)
    constraint_values = None
    if constraints and all(hasattr(g, "value") for g in constraints):
        constraint_values = lambda y: np.array([g.value(y) for g in constraints])  # noqa: E731
    status, message = "max_iterations", f"stopped after max_iterations = {max_iterations}"
    while iteration < max_iterations:
        t0 = time.perf_counter()
        if schedule is not None:
            schedule.set_iteration(iteration)
        try:
            ev = _evaluate(fun, constraints, x, n)
            x_next = optimizer.step(iteration, x, ev, lower, upper, state, constraint_values)
        except OptimizationError as error:
            error.history = history
            if raise_on_failure:
                raise
            return _result(x, history, "failed", str(error))
        change = float(np.max(np.abs(x_next - x)))
        info = IterationInfo(iteration, x, ev.f, ev.g, change, grey(x), time.perf_counter() - t0)
        history.append(info)
        report(info)
        x, iteration = x_next, iteration + 1
        done, why = _converged(history, ev, schedule, iteration - 1, tol_change, tol_objective, tol_feasibility)
        if done:
            status, message = "converged", why
        if checkpoint is not None:
            write_checkpoint(checkpoint, Checkpoint(x, iteration, state, history.as_arrays(),
                                                    dict(meta, status=status if done else "running"),
                                                    schedule=_schedule_state(schedule)))
        if done:
            break
        if callback is not None and callback(info):
            status, message = "callback", f"stopped by the callback at iteration {info.iteration}"
            break
    if status == "max_iterations":
        _log.warning("optimization %s", message)
    return _result(x, history, status, message)


def _optimizer(method):
    if isinstance(method, Optimizer):
        return method
    key = method.lower() if isinstance(method, str) else method
    if key not in STEP_METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {sorted(STEP_METHODS)}, "
                         f"{list(SCIPY_METHODS)} or pass an Optimizer instance")
    return STEP_METHODS[key]()


def _converged(history, ev, schedule, iteration, tol_change, tol_objective, tol_feasibility):
    if schedule is not None and not schedule.is_final(iteration):
        return False, ""
    feasible = ev.g.size == 0 or float(np.max(ev.g)) <= tol_feasibility
    if not feasible:
        return False, ""
    change = history.change[-1]
    if change <= tol_change:
        return True, f"max|dx| = {change:.4g} <= {tol_change}"
    if tol_objective is not None and len(history) > 1:
        f = history.objective
        if abs(f[-1] - f[-2]) <= tol_objective * abs(f[-1]):
            return True, f"relative objective change <= {tol_objective}"
    return False, ""


def _schedule_state(schedule) -> dict:
    if schedule is None or not hasattr(schedule, "state_dict"):
        return {}
    return {k: np.asarray(v) for k, v in schedule.state_dict().items()}


def _restore(path, meta, fresh_state, schedule):
    saved = read_checkpoint(path)
    for key in ("method", "n", "m"):
        if saved.meta.get(key) != meta[key]:
            raise InputError(f"checkpoint {str(path)!r} was written by a run with {key} = "
                             f"{saved.meta.get(key)!r}, this run has {meta[key]!r}")
    if saved.meta.get("options") != meta["options"]:
        _log.warning("resuming %s with different optimizer options: %s (checkpoint: %s)", path,
                     meta["options"], saved.meta.get("options"))
    if hasattr(schedule, "load_state_dict"):
        if not saved.schedule:
            raise InputError(f"checkpoint {str(path)!r} holds no schedule state, but this run's schedule "
                             f"({type(schedule).__name__}) keeps one: it was written by a different run")
        schedule.load_state_dict(saved.schedule)
    state = dict(fresh_state)
    state.update(saved.state)
    _log.info("resuming from %s at iteration %d", path, saved.iteration)
    return (saved.x.copy(), saved.iteration, state, History.from_arrays(saved.history, meta["m"]),
            saved.meta.get("status"))


def _result(x, history, status, message):
    last_f = float(history.objective[-1]) if len(history) else float("nan")
    last_g = history.constraints[-1] if len(history) else np.zeros(history.n_constraints)
    return OptimizeResult(x=x, fun=last_f, constraints=last_g, iterations=len(history), status=status,
                          success=status == "converged", history=history, message=message)
