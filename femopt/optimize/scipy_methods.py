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

import time
from pathlib import Path

import numpy as np
import scipy.optimize as so

from ..errors import InputError
from .checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from .history import History, IterationInfo, Reporter, bounded_grey_level

__all__ = ["minimize_scipy"]


class _Cache:
    """Evaluates objective and constraints once per distinct x."""

    def __init__(self, fun, constraints, n):
        self.fun, self.constraints, self.n = fun, constraints, n
        self.x = None

    def at(self, x):
        if self.x is None or not np.array_equal(x, self.x):
            f, df = self.fun(x)
            gs = [g(x) for g in self.constraints]
            self.x = np.array(x, copy=True)
            self.f, self.df = float(f), np.asarray(df, dtype=np.float64).reshape(self.n)
            self.g = np.array([float(v) for v, _ in gs])
            self.dg = np.array([np.asarray(d, dtype=np.float64).reshape(self.n) for _, d in gs]).reshape(-1, self.n)
        return self


def minimize_scipy(fun, x0, constraints, lower, upper, method, *, max_iterations, options, callback,
                   grey_level, checkpoint, resume, report_every):
    """Run a SciPy method; returns ``(x, history, status, message)``."""
    n, m = x0.size, len(constraints)
    if method == "L-BFGS-B" and m:
        raise InputError("L-BFGS-B handles bounds only; use 'SLSQP', 'trust-constr' or 'mma' for constraints")
    history, x = History(m), np.clip(x0, lower, upper)
    meta = {"method": method, "n": n, "m": m, "options": {}}
    if resume and checkpoint is not None and Path(checkpoint).exists():
        saved = read_checkpoint(checkpoint)
        if (saved.meta.get("method"), saved.meta.get("n"), saved.meta.get("m")) != (method, n, m):
            raise InputError(f"checkpoint {str(checkpoint)!r} does not match this run "
                             f"(method/n/m {saved.meta.get('method')}/{saved.meta.get('n')}/{saved.meta.get('m')})")
        x, history = saved.x.copy(), History.from_arrays(saved.history, m)
        if saved.meta.get("status") == "converged":
            return x, history, "converged", "already converged in the checkpoint"
    remaining = max_iterations - len(history)
    if remaining <= 0:
        return x, history, "max_iterations", f"stopped after max_iterations = {max_iterations}"
    cache = _Cache(fun, constraints, n)
    report = Reporter(report_every)
    grey = grey_level or bounded_grey_level(lower, upper)
    track = {"previous": x.copy(), "t0": time.perf_counter(), "status": None}

    def on_iteration(xk):
        xk = np.asarray(xk, dtype=np.float64)
        ev = cache.at(xk)
        change = float(np.max(np.abs(xk - track["previous"])))
        info = IterationInfo(len(history), track["previous"], ev.f, ev.g, change, grey(xk),
                             time.perf_counter() - track["t0"])
        history.append(info)
        report(info)
        track["previous"], track["t0"] = xk.copy(), time.perf_counter()
        if checkpoint is not None:
            write_checkpoint(checkpoint, Checkpoint(xk, len(history), {}, history.as_arrays(),
                                                    dict(meta, status="running")))
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
    result = so.minimize(lambda y: (cache.at(y).f, cache.at(y).df), x, method=method, **kwargs)
    status, message = track["status"] or ("converged" if result.success else "scipy", str(result.message))
    return np.asarray(result.x, dtype=np.float64), history, status, message
