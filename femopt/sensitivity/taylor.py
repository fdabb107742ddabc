"""Gradient verification users can run on their own functions.

Taylor test: for a smooth f with gradient g, along a direction dx,

    r1(h) = |f(x + h·dx) − f(x)|              falls like h   (first order),
    r2(h) = |f(x + h·dx) − f(x) − h·g·dx|     falls like h²  when g is right,

and only like h when g is wrong. The observed rates log₂(r(h)/r(h/2)) are reported. A
correct gradient shows rate 2 until round-off takes over, so the verdict uses the rates at
the smallest steps whose remainders stand clear of round-off (about 1e-12 of |f|, or the
``noise`` the caller states): the larger of the last two such rates must exceed 1.8. A
wrong gradient has rate 1 there even when the curvature term hides the error at large h;
taking the larger of two keeps one noisy last remainder from failing a right gradient.
For a vector-valued f (e.g. a gradient, to check a Hessian-vector product) pass the
directional derivative instead of a gradient; remainders are then Euclidean norms.

Finite differences: central differences over a sweep of steps against g·dx; the best
relative error over the sweep is the meaningful one (truncation falls with h, round-off
grows as h shrinks).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import InputError

__all__ = ["TaylorResult", "taylor_test", "FiniteDifferenceResult", "finite_difference_check"]

_log = logging.getLogger("femopt.sensitivity")

#: Remainders below this fraction of |f| are treated as round-off.
ROUNDOFF = 1e-12


@dataclass
class TaylorResult:
    """Steps h, remainders r1 (no gradient) and r2 (with gradient), observed rates.

    Attributes:
        steps, r1, r2: arrays over the steps h0, h0/2, ...
        rates1, rates2: observed rates between consecutive steps.
        noise: remainders up to this are treated as noise (round-off, ROUNDOFF · |f(x)|,
            or the caller's ``noise``).
    """

    steps: np.ndarray
    r1: np.ndarray
    r2: np.ndarray
    noise: float = 0.0
    rates1: np.ndarray = field(init=False)
    rates2: np.ndarray = field(init=False)

    def __post_init__(self):
        self.rates1 = _rates(self.r1)
        self.rates2 = _rates(self.r2)

    @property
    def usable(self) -> np.ndarray:
        """Which rates2 come from remainders clear of round-off."""
        r2 = np.asarray(self.r2)
        return (r2[1:] > self.noise) & np.isfinite(self.rates2)

    @property
    def rate(self) -> float:
        """Observed second-order rate at the smallest steps clear of noise: the larger of
        the last two usable rates (≈ 2 for a correct gradient, ≈ 1 for a wrong one); NaN
        when no remainder is clear of noise."""
        usable = np.flatnonzero(self.usable)
        return float(np.max(self.rates2[usable[-2:]])) if usable.size else float("nan")

    @property
    def at_roundoff(self) -> bool:
        """The gradient remainders are at noise level from the first step on (f is affine
        along dx, or h0 is tiny)."""
        return bool(np.all(np.asarray(self.r2) <= 10.0 * self.noise))

    @property
    def passed(self) -> bool:
        """Rate above 1.8, or every gradient remainder at round-off (the first-order
        model is exact along dx)."""
        return bool(self.at_roundoff or self.rate > 1.8)

    def __str__(self) -> str:
        rows = ["       h          r1 (rate)         r2 (rate)"]
        for k, h in enumerate(self.steps):
            a = f"{self.rates1[k - 1]:5.2f}" if k else "  -  "
            b = f"{self.rates2[k - 1]:5.2f}" if k else "  -  "
            rows.append(f"  {h:9.2e}  {self.r1[k]:10.3e} ({a})  {self.r2[k]:10.3e} ({b})")
        verdict = "PASS" if self.passed else "FAIL"
        what = "remainders at round-off" if self.at_roundoff else f"observed rate {self.rate:.2f}"
        rows.append(f"  {what}: {verdict}")
        return "\n".join(rows)


def _rates(r):
    r = np.asarray(r, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(r[:-1] / r[1:]) / np.log(2.0)


def _as_arrays(x):
    if isinstance(x, dict):
        return {k: np.asarray(getattr(v, "values", v), dtype=float) for k, v in x.items()}
    return np.asarray(x, dtype=float)


def _axpy(x, h, dx):
    if isinstance(x, dict):
        return {k: x[k] + h * dx[k] if k in dx else x[k] for k in x}
    return x + h * dx


def _dot(g, dx):
    if isinstance(g, dict):
        missing = [k for k in dx if k not in g]
        if missing:
            raise InputError(f"the gradient has no entry for {missing} of the direction")
        return float(sum(np.sum(np.asarray(g[k]) * np.asarray(dx[k])) for k in dx))
    g, dx = np.asarray(g, dtype=float), np.asarray(dx, dtype=float)
    if g.shape != dx.shape:
        raise InputError(f"gradient has shape {g.shape} but the direction has {dx.shape}")
    return float(np.sum(g * dx))


def _check_structure(x, dx):
    if isinstance(x, dict) != isinstance(dx, dict):
        raise InputError("x and dx must both be arrays or both be dicts")
    if isinstance(x, dict):
        extra = [k for k in dx if k not in x]
        if extra:
            raise InputError(f"direction names {extra} are not in x ({sorted(x)})")
        for k in dx:
            if np.shape(dx[k]) != np.shape(x[k]):
                raise InputError(f"dx[{k!r}] has shape {np.shape(dx[k])}, x[{k!r}] has {np.shape(x[k])}")
    elif np.shape(x) != np.shape(dx):
        raise InputError(f"dx has shape {np.shape(dx)}, x has {np.shape(x)}")


def taylor_test(f: Callable, x, dx, gradient=None, *, derivative=None, h0: float = 1e-2,
                n_steps: int = 5, noise: float | None = None) -> TaylorResult:
    """Check a derivative by Taylor remainders along ``dx``.

    Args:
        f: ``f(x) -> float`` (or an array, with ``derivative``), or ``f(x) -> (value,
            gradient)`` when neither ``gradient`` nor ``derivative`` is given.
        x, dx: point and direction (arrays, or dicts of arrays; ``dx`` may name a subset
            of ``x``'s keys). Scale dx to a meaningful perturbation: h runs from ``h0``.
        gradient: the gradient at ``x`` (same structure as ``x``).
        derivative: instead of ``gradient``, the directional derivative f'(x)·dx itself
            (a number, or an array of f's shape for a vector-valued f).
        h0: first step; then h0/2, h0/4, ...
        n_steps: number of steps (at least 3).
        noise: how accurately f is computed, absolute (default: round-off, 1e-12 |f(x)|);
            give it when f comes from an iterative solve with a looser tolerance —
            remainders below it are not used for the rate.

    Returns:
        :class:`TaylorResult`; ``print`` it for the table, ``.passed`` for the verdict.
    """
    if n_steps < 3:
        raise InputError(f"n_steps must be at least 3, got {n_steps}")
    if gradient is not None and derivative is not None:
        raise InputError("give gradient= or derivative=, not both")
    x, dx = _as_arrays(x), _as_arrays(dx)
    _check_structure(x, dx)
    out = f(x)
    if gradient is None and derivative is None:
        f0, gradient = out
        value = lambda y: f(y)[0]  # noqa: E731
    else:
        f0, value = out, f
    f0 = np.asarray(f0, dtype=float)
    slope = np.asarray(derivative, dtype=float) if derivative is not None else _dot(gradient, dx)
    if np.shape(slope) not in ((), f0.shape):
        raise InputError(f"derivative has shape {np.shape(slope)}, f returns shape {f0.shape}")
    steps = h0 / 2.0 ** np.arange(n_steps)
    r1, r2 = [], []
    for h in steps:
        fh = np.asarray(value(_axpy(x, h, dx)), dtype=float)
        r1.append(float(np.linalg.norm(np.ravel(fh - f0))))
        r2.append(float(np.linalg.norm(np.ravel(fh - f0 - h * slope))))
    floor = ROUNDOFF * float(np.linalg.norm(np.ravel(f0)))
    result = TaylorResult(steps, np.array(r1), np.array(r2), max(floor, noise or 0.0))
    _log.info("Taylor test:\n%s", result)
    return result


@dataclass
class FiniteDifferenceResult:
    """Central differences over a step sweep against the exact directional derivative.

    Attributes:
        steps, fd: the steps and the central differences at each.
        exact: g·dx.
        errors: |fd − exact| / |exact| per step.
    """

    steps: np.ndarray
    fd: np.ndarray
    exact: float
    errors: np.ndarray

    @property
    def best_error(self) -> float:
        """Smallest relative error over the sweep."""
        return float(np.min(self.errors))

    @property
    def best_step(self) -> float:
        return float(self.steps[int(np.argmin(self.errors))])

    def passed(self, tol: float = 1e-6) -> bool:
        """Best relative error below ``tol``."""
        return self.best_error <= tol

    def __str__(self) -> str:
        rows = [f"  exact g·dx = {self.exact:.10e}", "       h          central difference    rel. error"]
        rows += [f"  {h:9.2e}  {v:20.12e}  {e:10.3e}" for h, v, e in zip(self.steps, self.fd, self.errors)]
        rows.append(f"  best relative error {self.best_error:.2e} at h = {self.best_step:.1e}")
        return "\n".join(rows)


def finite_difference_check(f: Callable, x, dx, gradient, *,
                            steps=(1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)) -> FiniteDifferenceResult:
    """Central differences (f(x+h·dx) − f(x−h·dx)) / 2h over a sweep of ``steps``
    against ``gradient · dx`` (``x``, ``dx``, ``gradient``: arrays or dicts of arrays)."""
    x, dx = _as_arrays(x), _as_arrays(dx)
    _check_structure(x, dx)
    exact = _dot(gradient, dx)
    steps = np.asarray(steps, dtype=float)
    fd = np.array([(float(f(_axpy(x, h, dx))) - float(f(_axpy(x, -h, dx)))) / (2 * h) for h in steps])
    err = np.abs(fd - exact) / max(abs(exact), 1e-300)
    result = FiniteDifferenceResult(steps, fd, exact, err)
    _log.info("finite-difference check:\n%s", result)
    return result
