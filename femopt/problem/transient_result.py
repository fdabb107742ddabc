"""The outcome of a transient solve: the time levels, the state at each, the Newton
record of each step, and what produced them (for output and for an adjoint)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..fem.locate import locate_points

__all__ = ["TransientResult"]


@dataclass
class TransientResult:
    """A time series of fields on one mesh.

    Attributes:
        times: ``(n_levels,)``, ``t_0 ... t_n`` (up to the failed step when not converged).
        states: ``(n_levels, n_nodes)`` for a scalar field, ``(n_levels, n_nodes, c)``
            otherwise; ``states[0]`` is the initial field with the prescribed values of
            ``t_0``.
        steps: one :class:`~femopt.solvers.newton.NewtonResult` per step (``steps[k - 1]``
            for step k, ``t_{k-1} → t_k``).
        theta: the theta of the run.
        mesh: the mesh the fields live on.
        converged: False when a step failed and the run was returned up to it.
        message: why it stopped early (empty when it did not).
        parameters: the values constant in time, ``capacity`` included (name → value).
        data: the per-level parameters and prescribed values
            (:class:`~femopt.problem.transient_data.StepData`).
        stepper: the :class:`~femopt.solvers.theta.ThetaStepper` that ran (its mass
            matrix, the shared factorization of a linear run).
    """

    times: np.ndarray
    states: np.ndarray
    steps: list
    theta: float
    mesh: Any = field(repr=False)
    converged: bool = True
    message: str = ""
    parameters: dict = field(default_factory=dict, repr=False)
    data: Any = field(default=None, repr=False)
    stepper: Any = field(default=None, repr=False)

    @property
    def n_steps(self) -> int:
        """Steps taken (time levels less one)."""
        return len(self.times) - 1

    @property
    def n_factorizations(self) -> int:
        """Step matrices factorized during the run."""
        return 0 if self.stepper is None else self.stepper.n_factorizations

    @property
    def newton_iterations(self) -> np.ndarray:
        """Newton iterations (solves) of each step, ``(n_steps,)``."""
        return np.array([s.n_iterations for s in self.steps], dtype=np.int64)

    @property
    def final(self) -> np.ndarray:
        """The last state."""
        return self.states[-1]

    def field(self, k: int) -> np.ndarray:
        """The state at time level k (negative k counts from the end)."""
        n = len(self.states)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not -n <= k < n:
            raise InputError(f"time level k must be an integer in [{-n}, {n - 1}], got {k!r}")
        return self.states[k]

    def at(self, point) -> np.ndarray:
        """The field at one point over time: ``(n_levels,)`` for a scalar field, else
        ``(n_levels, c)`` (interpolated with the cell's shape functions)."""
        point = np.asarray(point, dtype=np.float64)
        if point.shape != (self.mesh.dim,):
            raise InputError(f"at(point): expected one point of shape ({self.mesh.dim},), got shape {point.shape}")
        _, nodes, weights = locate_points(self.mesh, point)
        return np.tensordot(self.states[:, nodes[0]], weights[0], axes=(1, 0))

    def __repr__(self) -> str:
        status = "converged" if self.converged else f"stopped early: {self.message[:80]}"
        return (f"TransientResult({self.n_steps} steps, t = {self.times[0]:g} .. {self.times[-1]:g}, "
                f"theta = {self.theta:g}, {self.n_factorizations} factorization(s), {status})")
