"""SciPy's L-BFGS-B, SLSQP and trust-constr behind the driver's interface.

SciPy runs its own loop; this module wraps the objective and constraints so each design
is evaluated once (the value and the gradient come together), records the history and
writes the checkpoint from SciPy's per-iteration callback, and stops through
``StopIteration`` when the callback or ``max_iterations`` says so. Convergence is the
method's own (its tolerances through ``options``, e.g. ``{"ftol": 1e-10}`` for SLSQP,
``{"gtol": 1e-8}`` for trust-constr): a small step of a trust-region or line-search
method is no sign of convergence, so the driver's ``tol_change`` does not apply.

SciPy's internal state (the quasi-Newton matrices) is not exposed, so a resumed run
restarts the method from the saved design and history: it continues the run, but not
bitwise as OC and MMA do.
"""
from __future__ import annotations

import contextlib
import time

import numpy as np
import scipy.optimize as so

from .base import OptimizationError, evaluate
from .history import IterationInfo

__all__ = ["minimize_scipy"]


class _Cache:
    """Evaluates objective and constraints once per distinct x (checked: gradient
    lengths, finite values)."""

    def __init__(self, fun, constraints, n):
        self.fun, self.constraints, self.n = fun, constraints, n
        self.x = None

    def at(self, x):
        if self.x is None or not np.array_equal(x, self.x):
            ev = evaluate(self.fun, self.constraints, np.asarray(x, dtype=np.float64), self.n)
            self.x = np.array(x, copy=True)
            self.f, self.df, self.g, self.dg = ev.f, ev.df, ev.g, ev.dg
        return self


def minimize_scipy(fun, constraints, x, history, lower, upper, method, *, max_iterations, options, callback,
                   grey, report, save, stop=None, current=None):
    """Run a SciPy method from ``x``, appending to ``history`` (which may hold the
    iterations of a resumed run); ``save(x, iteration, state, history, status)`` writes
    the checkpoint (None: no checkpoint). Returns ``(x, status, message)``; status
    ``"failed"`` when a value or gradient was not finite, ``"interrupted"`` when ``stop``
    (a :class:`~femopt.optimize.interrupt.StopRequest`) was pressed: the run ends after
    the iteration under way. ``current["x"]`` follows the last recorded design."""
    current = {} if current is None else current
    n, m = x.size, len(constraints)
    remaining = max_iterations - len(history)
    if remaining <= 0:
        return x, "max_iterations", f"stopped after max_iterations = {max_iterations}"
    cache = _Cache(fun, constraints, n)
    track = {"previous": x.copy(), "t0": time.perf_counter(), "status": None}

    def on_iteration(xk):
        xk = np.asarray(xk, dtype=np.float64)
        ev = cache.at(xk)
        change = float(np.max(np.abs(xk - track["previous"])))
        info = IterationInfo(len(history), track["previous"], ev.f, ev.g, change, grey(xk),
                             time.perf_counter() - track["t0"])
        with stop.hold() if stop is not None else _nothing():   # recorded and saved whole
            history.append(info)
            track["previous"], track["t0"] = xk.copy(), time.perf_counter()
            current["x"] = track["previous"]
            if save is not None:
                save(xk, len(history), {}, history, "running")
        report(info)
        if stop is not None and stop.requested:
            track["status"] = ("interrupted", "interrupted")
            raise StopIteration
        if callback is not None and callback(info):
            track["status"] = ("callback", "stopped by the callback")
            raise StopIteration
        if len(history) >= max_iterations:
            track["status"] = ("max_iterations", f"stopped after max_iterations = {max_iterations}")
            raise StopIteration

    kwargs = {"jac": True, "bounds": so.Bounds(lower, upper), "options": {**(options or {}), "maxiter": remaining}}
    if method == "trust-constr":
        def trust_callback(intermediate_result):  # SciPy passes the result by this name
            on_iteration(intermediate_result.x)

        kwargs["callback"] = trust_callback
        if m:
            kwargs["constraints"] = [so.NonlinearConstraint(lambda y: cache.at(y).g, -np.inf, 0.0,
                                                            jac=lambda y: cache.at(y).dg)]
    else:
        kwargs["callback"] = on_iteration
        if m:
            kwargs["constraints"] = [{"type": "ineq", "fun": lambda y: -cache.at(y).g,
                                      "jac": lambda y: -cache.at(y).dg}]
    try:
        result = so.minimize(lambda y: (cache.at(y).f, cache.at(y).df), x, method=method, **kwargs)
    except OptimizationError as error:
        return track["previous"], "failed", str(error)
    except KeyboardInterrupt:   # the last design recorded (and checkpointed) is the result
        return track["previous"], "interrupted", "interrupted"
    status, message = track["status"] or ("converged" if result.success else "scipy", str(result.message))
    return np.asarray(result.x, dtype=np.float64), status, message


@contextlib.contextmanager
def _nothing():
    yield
