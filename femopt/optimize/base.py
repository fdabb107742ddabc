"""The interface of the step-by-step optimizers the driver runs (OC, MMA).

An optimizer is a strategy object with no hidden state: everything it carries from one
iteration to the next lives in a ``state`` dict of NumPy arrays, which the driver writes
to the checkpoint. A resumed run therefore continues exactly where the killed one stood.
"""
from __future__ import annotations

import abc
from typing import Callable

import numpy as np

from ..errors import InputError, SolverError

__all__ = ["Optimizer", "OptimizationError", "Evaluation", "evaluate", "format_ids"]


class OptimizationError(SolverError):
    """The optimizer could not continue (non-finite values, failed subproblem); carries
    the history so far."""

    def __init__(self, message, history=None):
        super().__init__(message)
        self.history = history


class Evaluation:
    """Objective and constraints at one design: f, ∇f ``(n,)``, g ``(m,)``, ∇g ``(m, n)``;
    constraints read g ≤ 0."""

    __slots__ = ("f", "df", "g", "dg")

    def __init__(self, f, df, g, dg):
        self.f, self.df, self.g, self.dg = f, df, g, dg


def format_ids(ids, total: int, shown: int = 10) -> str:
    """``"[2, 7, ...] (12 of 300)"``: the first ``shown`` of ``ids`` and how many there are."""
    ids = np.asarray(ids)
    text = ", ".join(str(i) for i in ids[:shown].tolist())
    return f"[{text}{', ...' if ids.size > shown else ''}] ({ids.size} of {total})"


def _ids(mask) -> str:
    return format_ids(np.flatnonzero(mask), mask.size)


def _gradient(what, gradient, n):
    gradient = np.asarray(gradient, dtype=np.float64)
    if gradient.size != n:
        raise InputError(f"the {what} returned a gradient of shape {gradient.shape}; expected {n} entries, "
                         f"one per design variable (the design x has shape ({n},))")
    return gradient.reshape(n)


def _pair(out, what):
    """``(value, gradient)`` from what a user's function returned, or InputError saying so."""
    if isinstance(out, (tuple, list)) and len(out) == 2:
        return out
    kind = f"a {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
    raise InputError(f"{what} must return (value, gradient), got {kind}; for a function of x alone, give "
                     "its gradient too (e.g. with jax.value_and_grad, or femopt.sensitivity.ReducedFunctional)")


def evaluate(fun, constraints, x, n) -> Evaluation:
    """Objective and constraints at ``x``, checked.

    Raises:
        InputError: a gradient has the wrong length.
        OptimizationError: a value or gradient entry is not finite (names the entries).
    """
    f, df = _pair(fun(x), "the objective")
    df = _gradient("objective", df, n)
    values, grads = [], []
    for i, g in enumerate(constraints):
        gv, dg = _pair(g(x), f"constraint {i}")
        values.append(float(gv))
        grads.append(_gradient(f"constraint {i}", dg, n))
    ev = Evaluation(float(f), df, np.array(values), np.array(grads).reshape(len(constraints), n))
    problems = []
    if not np.isfinite(ev.f):
        problems.append(f"objective value {ev.f}")
    if not np.all(np.isfinite(ev.df)):
        problems.append(f"objective gradient at entries {_ids(~np.isfinite(ev.df))}")
    for i in range(len(constraints)):
        if not np.isfinite(ev.g[i]):
            problems.append(f"constraint {i} value {ev.g[i]}")
        if not np.all(np.isfinite(ev.dg[i])):
            problems.append(f"constraint {i} gradient at entries {_ids(~np.isfinite(ev.dg[i]))}")
    if problems:
        raise OptimizationError("non-finite objective, constraint or gradient at this design: "
                                + "; ".join(problems) + f" (f = {ev.f}, g = {ev.g})")
    return ev


class Optimizer(abc.ABC):
    """A step-by-step optimizer for ``min f(x)`` s.t. ``g(x) ≤ 0``, ``lower ≤ x ≤ upper``."""

    #: how many constraints it handles (None: any number)
    max_constraints: int | None = None

    def init_state(self, n: int, m: int) -> dict:
        """The state before the first step (a dict of NumPy arrays)."""
        return {}

    @abc.abstractmethod
    def step(self, iteration: int, x: np.ndarray, evaluation: Evaluation, lower: np.ndarray,
             upper: np.ndarray, state: dict, constraint_values: Callable | None) -> np.ndarray:
        """The next design ``(n,)``; may update ``state`` in place.

        ``constraint_values(x) -> (m,)`` evaluates the constraints cheaply where they allow
        it (None otherwise); optimality criteria bisect on it."""

    def options(self) -> dict:
        """The settings that decide the steps (recorded in the checkpoint)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}
