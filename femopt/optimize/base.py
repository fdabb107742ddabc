"""The interface of the step-by-step optimizers the driver runs (OC, MMA).

An optimizer is a strategy object with no hidden state: everything it carries from one
iteration to the next lives in a ``state`` dict of NumPy arrays, which the driver writes
to the checkpoint. A resumed run therefore continues exactly where the killed one stood.
"""
from __future__ import annotations

import abc
from typing import Callable

import numpy as np

from ..errors import SolverError

__all__ = ["Optimizer", "OptimizationError", "Evaluation"]


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
