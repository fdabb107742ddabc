"""Gradient verification users can run on their own functions.

Taylor test: for a smooth f with gradient g, the remainder
    r1(h) = |f(x + h·dx) − f(x)|              falls like h   (first order),
    r2(h) = |f(x + h·dx) − f(x) − h·g·dx|     falls like h²  when g is right,
and only like h when g is wrong. The observed rates log(r(h_k)/r(h_{k+1}))/log 2 are
reported; a correct gradient shows rate 2 for r2 until round-off takes over.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["TaylorResult", "taylor_test", "finite_difference_check"]

_log = logging.getLogger("femopt.sensitivity")


@dataclass
class TaylorResult:
    """Steps h, remainders r1 (no gradient) and r2 (with gradient), observed rates."""

    steps: np.ndarray
    r1: np.ndarray
    r2: np.ndarray
    rates1: np.ndarray = field(init=False)
    rates2: np.ndarray = field(init=False)

    def __post_init__(self):
        self.rates1 = _rates(self.r1)
        self.rates2 = _rates(self.r2)

    @property
    def rate(self) -> float:
        """Best observed second-order rate before round-off (≈2 for a correct gradient)."""
        usable = self.rates2[np.isfinite(self.rates2)]
        return float(np.max(usable)) if usable.size else float("nan")

    @property
    def passed(self) -> bool:
        """True when the rate is about 2, or the gradient remainder sits at round-off
        already (f is affine in the direction)."""
        at_roundoff = np.all(self.r2 <= 1e-10 * np.maximum(self.r1, 1e-300))
        return bool(at_roundoff or self.rate > 1.8)

    def __str__(self) -> str:
        rows = ["       h          r1 (rate)         r2 (rate)"]
        for k, h in enumerate(self.steps):
            a = f"{self.rates1[k - 1]:5.2f}" if k else "  -  "
            b = f"{self.rates2[k - 1]:5.2f}" if k else "  -  "
            rows.append(f"  {h:9.2e}  {self.r1[k]:10.3e} ({a})  {self.r2[k]:10.3e} ({b})")
        rows.append(f"  observed rate {self.rate:.2f}: {'PASS' if self.passed else 'FAIL'}")
        return "\n".join(rows)


def _rates(r):
    r = np.asarray(r, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(r[:-1] / r[1:]) / np.log(2.0)


def _flat(x):
    if isinstance(x, dict):
        return {k: np.asarray(v, dtype=float) for k, v in x.items()}
    return np.asarray(x, dtype=float)


def _axpy(x, h, dx):
    if isinstance(x, dict):
        return {k: x[k] + h * dx.get(k, 0.0) for k in x}
    return x + h * dx


def _dot(g, dx):
    if isinstance(g, dict):
        return float(sum(np.sum(np.asarray(g[k]) * np.asarray(dx[k])) for k in dx))
    return float(np.sum(np.asarray(g) * np.asarray(dx)))


def taylor_test(f: Callable, x, dx, gradient=None, *, h0: float | None = None, n_steps: int = 5) -> TaylorResult:
    """Check a gradient by Taylor remainders along ``dx``.

    Args:
        f: ``f(x) -> float`` or ``f(x) -> (float, gradient)`` when ``gradient`` is None.
        x, dx: point and direction (arrays, or dicts of arrays of the same keys).
        gradient: the gradient at ``x`` (same structure as ``x``); if None, ``f`` must
            return ``(value, gradient)``.
        h0: first step (default: 1e-2 relative to the size of ``x`` along ``dx``).
        n_steps: steps h0, h0/2, ...
    """
    x, dx = _flat(x), _flat(dx)
    out = f(x)
    if gradient is None:
        f0, gradient = out
        value = lambda y: f(y)[0]
    else:
        f0, value = out, f
    slope = _dot(gradient, dx)
    if h0 is None:
        h0 = 1e-2
    steps = h0 / 2.0 ** np.arange(n_steps)
    r1, r2 = [], []
    for h in steps:
        fh = float(value(_axpy(x, h, dx)))
        r1.append(abs(fh - f0))
        r2.append(abs(fh - f0 - h * slope))
    result = TaylorResult(steps, np.array(r1), np.array(r2))
    _log.info("Taylor test:\n%s", result)
    return result


def finite_difference_check(f: Callable, x, dx, gradient, *, steps=(1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)):
    """Central differences (f(x+h dx) − f(x−h dx)) / 2h over a step sweep against
    ``gradient · dx``. Returns ``(steps, fd_values, exact, relative_errors)``; the smallest
    error over the sweep is the meaningful one (truncation vs round-off)."""
    x, dx = _flat(x), _flat(dx)
    exact = _dot(gradient, dx)
    fd = np.array([(float(f(_axpy(x, h, dx))) - float(f(_axpy(x, -h, dx)))) / (2 * h) for h in steps])
    err = np.abs(fd - exact) / max(abs(exact), 1e-300)
    return np.asarray(steps), fd, exact, err
