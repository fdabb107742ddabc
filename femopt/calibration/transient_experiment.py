"""Sensor time series as calibration data: an experiment that is a transient run.

A :class:`TransientExperiment` is one run of a :class:`~femopt.TransientProblem` (its
``run`` keywords: times, initial field, loads in time, ...) observed by sensors
(:func:`~femopt.functionals.sensor_misfit`: points read at sample times, noise σ). In a
:class:`~.calibration.Calibration` it contributes its misfit ½ Σ ((y − d)/σ)² and

* the gradient: one forward run and one adjoint run backward in time
  (:func:`~femopt.transient_gradient`, with ``checkpoints``);
* Gauss–Newton products ``Jᵀ Γ⁻¹ J v``: the tangent-linear run along v gives the
  sensors' change δy (:func:`~femopt.sensitivity.transient_tangent`); ``Jᵀ Γ⁻¹ δy`` is
  the gradient of the same misfit with the data moved to ``y(m) − δy`` (whose residual
  is then δy), one more adjoint run. The full Hessian of a transient experiment is not
  offered.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import InputError
from ..functionals.trajectory import SensorMisfit
from ..sensitivity.transient_adjoint import transient_gradient
from ..sensitivity.transient_direct import transient_tangent

__all__ = ["TransientExperiment"]

_RUN = ("times", "t_end", "steps", "initial", "loads", "prescribed")


class TransientExperiment:
    """A transient run and its sensor data.

    Args:
        transient: the :class:`~femopt.TransientProblem` (its steady problem must be the
            calibration's problem).
        data: a :class:`~femopt.functionals.SensorMisfit` (``sensor_misfit(...)``).
        run: the run's keywords: ``t_end`` / ``steps`` or ``times``, ``initial``,
            ``loads``, ``prescribed``.
        params: parameter overrides of this run (not unknowns).
        checkpoints: the adjoint's checkpoint strategy (default: every state kept).
        name: a label.
    """

    def __init__(self, transient, data, run: Mapping[str, Any], *, params=None, checkpoints=None, name=""):
        if not isinstance(data, SensorMisfit):
            raise InputError(f"data must be a sensor_misfit(...) of the run, got {type(data).__name__}")
        unknown = sorted(set(run) - set(_RUN))
        if unknown:
            raise InputError(f"run keywords {unknown} are not those of TransientProblem.solve: {list(_RUN)}")
        if "initial" not in run:
            raise InputError("run must give the initial field: run={'initial': ..., 't_end': ..., 'steps': ...}")
        self.transient, self.data, self.run = transient, data, dict(run)
        self.params = dict(params or {})
        self.checkpoints, self.name = checkpoints, name
        self._predicted = None                  # (parameters key, predictions)

    @property
    def size(self) -> int:
        return self.data.observations.size

    def _kwargs(self, unknowns):
        return {**self.run, "params": {**self.params, **unknowns}}

    def gradient(self, unknowns, names):
        """(misfit, {name: ∂misfit/∂p}) by the adjoint backward in time."""
        result = transient_gradient(self.data, self.transient, wrt=names, checkpoints=self.checkpoints,
                                    **self._kwargs(unknowns))
        return result.value, result.grads

    def predictions(self, unknowns) -> np.ndarray:
        """The sensors' readings ``(s, m)`` of a run at these unknowns (kept for the last)."""
        key = _key(unknowns)
        if self._predicted is None or self._predicted[0] != key:
            result = self.transient.solve(**self._kwargs(unknowns))
            space = self.transient.problem.space
            states = [np.asarray(u).reshape(space.n_dofs) for u in result.states]
            self._predicted = (key, self.data.predictions(result.times, states))
        return self._predicted[1]

    def _remember(self, unknowns, times, states) -> None:
        """Keep the readings of states a caller has run anyway (no second forward run)."""
        self._predicted = (_key(unknowns), self.data.predictions(times, states))

    def residuals(self, unknowns) -> np.ndarray:
        """Whitened residuals ``(y − d) / σ``, flattened."""
        return ((self.predictions(unknowns) - self.data.observations) / self.data.sigma).ravel()

    def gauss_newton(self, unknowns, direction, names):
        """{name: (Jᵀ Γ⁻¹ J v)} for the physical direction ``direction`` (name → value)."""
        setup, states, tangents, _ = transient_tangent(self.transient, direction, **self._kwargs(unknowns))
        self._remember(unknowns, setup.times, states)      # the tangent run ran the forward states too
        change = self.data.predictions(setup.times, tangents)
        moved = self.data.with_observations(self.predictions(unknowns) - change)
        result = transient_gradient(moved, self.transient, wrt=names, checkpoints=self.checkpoints,
                                    **self._kwargs(unknowns))
        return result.grads

    def __repr__(self):
        return f"TransientExperiment({self.data!r}, {self.name!r})"


def _key(unknowns):
    return tuple((name, np.asarray(getattr(v, "values", v), dtype=np.float64).tobytes())
                 for name, v in sorted(unknowns.items()))
