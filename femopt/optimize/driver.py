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
from typing import Callable, Sequence

import numpy as np

from .._progress import progress_output
from ..errors import CheckpointError, InputError
from .arguments import as_bounds, as_design, as_objective, design_defaults
from .base import OptimizationError, Optimizer, evaluate, format_ids
from .checkpoint import Checkpoint, write_checkpoint
from .history import History, IterationInfo, Reporter
from .interrupt import interrupted_message, stop_requests
from .mma import MMA
from .oc import OC
from .resume import check_resume_arguments, function_states, load_function_states, run_fingerprint, start
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

    def stop_if_interrupted(self) -> "OptimizeResult":
        """Raise KeyboardInterrupt again if the run was stopped by Ctrl-C (``status ==
        "interrupted"``), else return the result: for scripts with several stages, after
        saving what the interrupted stage produced, so that Ctrl-C stops the script."""
        if self.status == "interrupted":
            raise KeyboardInterrupt(self.message)
        return self

    def __repr__(self) -> str:
        g = f", max constraint {float(np.max(self.constraints)):.3g}" if np.size(self.constraints) else ""
        return (f"OptimizeResult({self.status}: objective {self.fun:.6g}{g}, {self.iterations} iterations, "
                f"{self.x.size} variables; {self.message})")


def minimize(fun: Callable, x0, *, constraints: Sequence[Callable] = (), bounds=None,
             method: str | Optimizer = "mma", max_iterations: int = 200, tol_change: float = 0.01,
             tol_objective: float | None = None, tol_feasibility: float = 1e-3,
             callback: Callable | None = None, schedule=None, grey_level: Callable | None = None,
             checkpoint=None, resume: bool | str = False, check_fingerprint: bool = True,
             report_every: int = 1, verbose: bool | None = None, raise_on_failure: bool = True,
             options: dict | None = None) -> OptimizeResult:
    """Minimize ``fun`` subject to ``g_i(x) ≤ 0`` and bounds.

    Args:
        fun: ``x -> (f, ∇f)``.
        x0: starting design ``(n,)``, finite (ignored when resuming from a checkpoint).
        constraints: callables ``x -> (g, ∇g)``, each meaning g(x) ≤ 0; optional
            ``.value(x)`` without gradient (OC bisects on it).
        bounds: ``(lower, upper)``, numbers or arrays ``(n,)`` (no NaN; ±inf for none).
            Not given: the bounds the variables declare — ``(0, 1)`` when the objective
            or a constraint is built on a :class:`~femopt.design.DensityDesign` (logged);
            otherwise none. OC and MMA need finite bounds and ask for them.
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
            multipliers), so a resumed run continues exactly. The objective and the
            constraints may do the same (e.g. :class:`~femopt.design.Compliance` keeps
            its model's warm start).
        grey_level: ``x -> float`` for the history and the progress line (default: the
            design's ``grey_level`` when the variables are densities; otherwise none
            is recorded, NaN in the history).
        checkpoint: a file path: the state is written there after every iteration. Its
            folder is created and checked to be writable before the first iteration, and
            temporary files that a killed write of this checkpoint left are removed.
        resume: ``False``: start from x0 (an existing checkpoint is overwritten);
            ``True``: continue from ``checkpoint`` if the file exists, else start from x0
            (logged at INFO); ``"require"``: continue from it, and raise
            :class:`~femopt.errors.CheckpointError` if it is missing. OC and MMA continue
            bitwise; SciPy methods restart from the saved design.
        check_fingerprint: a checkpoint records the run's fingerprint (method and
            options, design size, bounds, names of the functions, mesh, supports,
            design settings: see :mod:`femopt.optimize.resume`); resuming one written by
            a different run raises :class:`~femopt.errors.CheckpointError` listing what
            differs. ``False`` resumes anyway, with a WARNING listing the differences
            (a different design size or number of constraints is always refused).
        report_every: a progress line every this many iterations: ``it k/max``,
            objective, largest constraint, change, grey level, elapsed time and the
            longest time left (INFO records on ``femopt.optimize``).
        verbose: show the progress lines on standard error: ``None`` (default) when the
            script has not configured logging itself, ``True`` always, ``False`` never
            (the records still go to logging).
        raise_on_failure: raise :class:`OptimizationError` on non-finite values (default)
            or return a result with ``status="failed"``.
        options: SciPy methods only: their ``options`` (tolerances), e.g. ``{"ftol": 1e-10}``.

    Ctrl-C stops the run cleanly: the first press lets the iteration under way finish (and
    its checkpoint be written), a second stops at once; the log says where the checkpoint
    is and how to resume, and the result returned has ``status="interrupted"`` and the
    last recorded design (see :mod:`femopt.optimize.interrupt`).

    Raises:
        InputError: bad x0 (non-finite entries, named), bounds (NaN, wrong length,
            crossed), method, options or resume arguments; a gradient of the wrong length.
        CheckpointError: the checkpoint folder is not writable, the file is unreadable,
            missing with ``resume="require"``, or written by a different run.
        OptimizationError: a non-finite value or gradient (entries named).
    """
    with progress_output(verbose):
        return _minimize(fun, x0, constraints, bounds, method, max_iterations, tol_change, tol_objective,
                         tol_feasibility, callback, schedule, grey_level, checkpoint, resume, check_fingerprint,
                         report_every, raise_on_failure, options)


def _minimize(fun, x0, constraints, bounds, method, max_iterations, tol_change, tol_objective, tol_feasibility,
              callback, schedule, grey_level, checkpoint, resume, check_fingerprint, report_every,
              raise_on_failure, options):
    x0 = as_design(x0)
    n = x0.size
    declared_bounds, declared_grey, source = design_defaults([fun, *constraints])
    if bounds is None and declared_bounds is not None:
        bounds = declared_bounds
        _log.info("bounds %s from the design variables of %s", declared_bounds, source)
    grey = grey_level or declared_grey
    fun = as_objective(fun, "fun")
    constraints = [as_objective(g, f"constraint {i}") for i, g in enumerate(constraints)]
    m = len(constraints)
    lower, upper = as_bounds(bounds, n)
    if max_iterations < 1:
        raise InputError(f"max_iterations must be >= 1, got {max_iterations}")
    check_resume_arguments(checkpoint, resume, check_fingerprint)
    scipy = isinstance(method, str) and method in SCIPY_METHODS
    if scipy:
        if method == "L-BFGS-B" and m:
            raise InputError("L-BFGS-B handles bounds only; use 'SLSQP', 'trust-constr' or 'mma' for constraints")
        if schedule is not None:
            raise InputError(f"SciPy's {method} runs its own loop and cannot follow a schedule "
                             f"({type(schedule).__name__}); use method='mma' or 'oc' with schedule=")
        optimizer, name, settings = None, method, dict(options or {})
    else:
        optimizer = _optimizer(method, m, lower, upper)
        if options:
            raise InputError(f"options= are for SciPy's methods; give {type(optimizer).__name__}'s settings "
                             f"to its constructor, e.g. method=fopt.{type(optimizer).__name__}(move=0.2)")
        name, settings = type(optimizer).__name__, optimizer.options()
    meta = {"method": name, "n": n, "m": m, "options": settings,
            "fingerprint": run_fingerprint(fun, constraints, schedule, name, settings, n, lower, upper)}
    functions = [("objective", fun)] + [(f"constraint{i}", g) for i, g in enumerate(constraints)]
    saved = start(checkpoint, resume, meta, check_fingerprint)
    save = None if checkpoint is None else _saver(checkpoint, meta, schedule, functions)
    x, iteration, state, history = np.clip(x0, lower, upper), 0, {} if scipy else optimizer.init_state(n, m), History(m)
    if saved is not None:
        x, iteration, state, history = _restore(saved, checkpoint, state, schedule, functions, m)
        if saved.meta.get("status") == "converged":
            return _result(x, history, "converged", "already converged in the checkpoint")
    grey = grey or (lambda y: float("nan"))
    report = Reporter(report_every, max_iterations)
    current = {"x": x}            # the last design recorded, for a run stopped by an exception
    with stop_requests() as stop:
        try:
            if scipy:
                x, status, message = minimize_scipy(fun, constraints, x, history, lower, upper, method,
                                                    max_iterations=max_iterations, options=options,
                                                    callback=callback, grey=grey, report=report, save=save,
                                                    stop=stop, current=current)
                if status == "failed" and raise_on_failure:
                    raise OptimizationError(message, history)
                if status == "converged" and save is not None:
                    save(x, len(history), {}, history, status)
                if status == "interrupted":
                    message = interrupted_message(len(history), checkpoint)
                return report.finish(_result(x, history, status, message))
            x, status, message = _iterate(fun, constraints, optimizer, x, iteration, state, history, lower, upper,
                                          n, max_iterations, tol_change, tol_objective, tol_feasibility, callback,
                                          schedule, grey, save, report, raise_on_failure, stop, current)
        except BaseException as error:
            # a second Ctrl-C stops at once; on its way out of a JAX callback or SciPy it
            # may have become another exception: the run is interrupted all the same
            if not (isinstance(error, KeyboardInterrupt) or stop.presses >= 2):
                raise
            x, status = current["x"], "interrupted"
    if status == "interrupted":
        message = interrupted_message(len(history), checkpoint)
    return report.finish(_result(x, history, status, message))


def _iterate(fun, constraints, optimizer, x, iteration, state, history, lower, upper, n, max_iterations,
             tol_change, tol_objective, tol_feasibility, callback, schedule, grey, save, report,
             raise_on_failure, stop, current):
    """OC / MMA iterations from ``x``; returns ``(x, status, message)``; ``current["x"]``
    follows the last recorded design."""
    constraint_values = None
    if constraints and all(hasattr(g, "value") for g in constraints):
        constraint_values = lambda y: np.array([g.value(y) for g in constraints])  # noqa: E731
    status, message = "max_iterations", f"stopped after max_iterations = {max_iterations}"
    while iteration < max_iterations:
        t0 = time.perf_counter()
        if schedule is not None:
            schedule.set_iteration(iteration)
        try:
            ev = evaluate(fun, constraints, x, n)
            x_next = optimizer.step(iteration, x, ev, lower, upper, state, constraint_values)
        except OptimizationError as error:
            error.history = history
            if raise_on_failure or stop.presses >= 2:
                raise
            return x, "failed", str(error)
        change = float(np.max(np.abs(x_next - x)))
        info = IterationInfo(iteration, x, ev.f, ev.g, change, grey(x), time.perf_counter() - t0)
        done, why = _converged_after(history, info, ev, schedule, tol_change, tol_objective, tol_feasibility)
        with stop.hold():   # the iteration is recorded and saved whole
            history.append(info)
            x, iteration = x_next, iteration + 1
            current["x"] = x
            if done:
                status, message = "converged", why
            if save is not None:
                save(x, iteration, state, history, status if done else "running")
        report(info)
        if done:
            break
        if callback is not None and callback(info):
            status, message = "callback", f"stopped by the callback at iteration {info.iteration}"
            break
        if stop.requested:
            return x, "interrupted", ""
    return x, status, message


def _optimizer(method, m, lower, upper) -> Optimizer:
    if isinstance(method, Optimizer):
        optimizer = method
    else:
        key = method.lower() if isinstance(method, str) else method
        if key not in STEP_METHODS:
            raise InputError(f"unknown method {method!r}; choose one of {sorted(STEP_METHODS)}, "
                             f"{list(SCIPY_METHODS)} or pass an Optimizer instance")
        optimizer = STEP_METHODS[key]()
    if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))):
        which = "no bounds were given" if np.all(~np.isfinite(lower) & ~np.isfinite(upper)) else \
            f"infinite ones at ids {format_ids(np.flatnonzero(~np.isfinite(upper - lower)), lower.size)}"
        raise InputError(f"{type(optimizer).__name__} needs finite bounds on every variable (its move "
                         f"limits are fractions of upper - lower), but {which}: give bounds=(lower, upper), "
                         "e.g. bounds=(0, 1) for densities, or use method='L-BFGS-B' (no constraints) or "
                         "'SLSQP' / 'trust-constr' for unbounded variables")
    if optimizer.max_constraints is not None and m > optimizer.max_constraints:
        raise InputError(f"{type(optimizer).__name__} handles at most {optimizer.max_constraints} "
                         f"constraint(s), got {m}; use method='mma'")
    return optimizer


def _converged_after(history, info, ev, schedule, tol_change, tol_objective, tol_feasibility):
    """Whether the run has converged once ``info`` (not yet in ``history``) is recorded."""
    if schedule is not None and not schedule.is_final(info.iteration):
        return False, ""
    feasible = ev.g.size == 0 or float(np.max(ev.g)) <= tol_feasibility
    if not feasible:
        return False, ""
    if info.change <= tol_change:
        return True, f"max|dx| = {info.change:.4g} <= {tol_change}"
    if tol_objective is not None and len(history):
        previous = history.objective[-1]
        if abs(info.objective - previous) <= tol_objective * abs(info.objective):
            return True, f"relative objective change <= {tol_objective}"
    return False, ""


def _schedule_state(schedule) -> dict:
    if schedule is None or not hasattr(schedule, "state_dict"):
        return {}
    return {k: np.asarray(v) for k, v in schedule.state_dict().items()}


def _saver(path, meta, schedule, functions):
    def save(x, iteration, state, history, status):
        write_checkpoint(path, Checkpoint(x, iteration, state, history.as_arrays(), dict(meta, status=status),
                                          schedule=_schedule_state(schedule), functions=function_states(functions)))
    return save


def _restore(saved, path, fresh_state, schedule, functions, m):
    if hasattr(schedule, "load_state_dict"):
        if not saved.schedule:
            raise CheckpointError(f"checkpoint {str(path)!r} holds no schedule state, but this run's schedule "
                                  f"({type(schedule).__name__}) keeps one: it was written by a different run",
                                  path=path)
        schedule.load_state_dict(saved.schedule)
    load_function_states(saved.functions, functions)
    state = dict(fresh_state)
    state.update(saved.state)
    return saved.x.copy(), saved.iteration, state, History.from_arrays(saved.history, m)


def _result(x, history, status, message):
    last_f = float(history.objective[-1]) if len(history) else float("nan")
    last_g = history.constraints[-1] if len(history) else np.zeros(history.n_constraints)
    return OptimizeResult(x=x, fun=last_f, constraints=last_g, iterations=len(history), status=status,
                          success=status == "converged", history=history, message=message)
