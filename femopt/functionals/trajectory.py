"""Functionals of a transient run: scalar outputs of the whole trajectory u_0 … u_n.

A trajectory functional J(u_0, …, u_n, p_0, …, p_n) is evaluated level by level, which is
all a checkpointed adjoint can offer (it never holds every state at once):

* during the forward sweep it *observes* each level once, in order (u_k with the
  steady problem's parameters of level k), and keeps only scalars or a few sensor
  values;
* after the sweep it has its value;
* running backward, it gives at each level its partial derivatives ∂J/∂u_k, ∂J/∂p_k,
  ∂J/∂X (the adjoint's right-hand side and the explicit part of the gradient).

Built in: :func:`time_integral`, :func:`time_mean`, :func:`final_value`,
:func:`time_weighted` and :func:`time_peak` of any steady :class:`Functional` (the
integral by the trapezoidal rule over the time levels, the peak as a
Kreisselmeier–Steinhauser smooth maximum), and :func:`sensor_misfit`, least squares
against sensor time series. They add and scale like steady functionals:
``J = sensor_misfit(...) + 0.5 * time_integral(mean(problem))``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..fem.locate import locate_points
from .base import Functional
from .compiled import partials, value

__all__ = ["TrajectoryFunctional", "TimeFunctional", "SensorMisfit", "time_integral", "time_mean",
           "final_value", "time_weighted", "time_peak", "sensor_misfit"]


class TrajectoryFunctional(ABC):
    """A scalar output of a transient run. :meth:`start` returns a fresh evaluator for
    one run (so one functional object serves many runs, and nothing of a run is kept on
    it); see the module docstring for the protocol."""

    @abstractmethod
    def start(self, setup, *, deferred: bool = False) -> "_Evaluator":
        """A fresh evaluator for one run. ``deferred``: the caller will ask for the
        partials of every level (an adjoint), so a level's value may be taken from them
        instead of being evaluated when observed."""

    def __add__(self, other):
        if not isinstance(other, TrajectoryFunctional):
            return NotImplemented
        return _TrajectorySum(((1.0, self), (1.0, other)))

    def __mul__(self, factor):
        if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)):
            return NotImplemented
        return _TrajectorySum(((float(factor), self),))

    __rmul__ = __mul__

    def __sub__(self, other):
        return self + (-1.0) * other


class _Evaluator(ABC):
    """One run's evaluation. ``observe`` each level once in order, then ``value()``, then
    ``partials(k, ...)`` in any order (the adjoint asks n, n-1, …, 0)."""

    @abstractmethod
    def observe(self, k: int, u: np.ndarray, params: dict) -> None:
        """Level k of the forward sweep: the full state and the level's parameters."""

    @abstractmethod
    def value(self) -> float:
        """J, once every level was observed (or, deferred, every partial taken)."""

    @abstractmethod
    def partials(self, k: int, u: np.ndarray, params: dict, *, parameters=True, coordinates=True):
        """``(∂J/∂u_k (n_dofs,) or None, {name: ∂J/∂p_k}, ∂J/∂X (n_nodes, dim) or None)``;
        None (or an absent name) means zero; ``parameters`` / ``coordinates`` False: those
        parts are not wanted."""


# -- a steady functional aggregated over the time levels -------------------------------------
def _trapezoid(times: np.ndarray) -> np.ndarray:
    dt = np.diff(times)
    w = np.zeros(times.size)
    w[:-1] += dt / 2.0
    w[1:] += dt / 2.0
    return w


class TimeFunctional(TrajectoryFunctional):
    """``G(j_0, …, j_n)`` with ``j_k = f(u_k, p_k)`` for a steady functional ``f``.

    Args:
        functional: the steady :class:`Functional` ``f``.
        how: ``"integral"`` (trapezoidal rule over the levels), ``"mean"`` (the integral
            over the duration), ``"final"`` (``j_n``), ``"peak"`` (the smooth maximum
            ``max_k j_k + ln(Σ_k exp(ρ (j_k − max_k j_k))) / ρ``: above the largest
            ``j_k`` by at most ``ln(n + 1) / ρ``) or ``"weights"`` (``Σ w_k j_k``).
        weights: ``(n_levels,)`` for ``how="weights"``.
        rho: ρ > 0 of the peak (in units of 1/f).
    """

    HOW = ("integral", "mean", "final", "peak", "weights")

    def __init__(self, functional: Functional, how: str = "integral", *, weights=None, rho: float = 50.0):
        if not callable(getattr(functional, "evaluate", None)):
            raise InputError(f"expected a steady femopt Functional (e.g. fo.functionals.mean(problem)), got "
                             f"{type(functional).__name__}")
        if how not in self.HOW:
            raise InputError(f"how must be one of {self.HOW}, got {how!r}")
        if (weights is not None) != (how == "weights"):
            raise InputError("weights= goes with how='weights' (and only with it)")
        if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not np.isfinite(rho) or rho <= 0:
            raise InputError(f"rho must be a finite number > 0, got {rho!r}")
        self.functional, self.how, self.rho = functional, how, float(rho)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)

    def start(self, setup, *, deferred: bool = False):
        return _TimeEvaluator(self, setup, deferred)

    def __repr__(self):
        return f"TimeFunctional({type(self.functional).__name__}, how={self.how!r})"


class _TimeEvaluator(_Evaluator):
    def __init__(self, spec: TimeFunctional, setup, deferred: bool):
        self.spec, self.problem = spec, setup.problem.problem
        times = setup.times
        n = times.size
        if spec.how == "weights":
            if spec.weights.shape != (n,) or not np.isfinite(spec.weights).all():
                raise InputError(f"weights must be {n} finite numbers, one per time level, got shape "
                                 f"{spec.weights.shape}")
            self.linear_weights = spec.weights
        elif spec.how == "final":
            self.linear_weights = np.eye(n)[-1]
        elif spec.how in ("integral", "mean"):
            w = _trapezoid(times)
            self.linear_weights = w / (times[-1] - times[0]) if spec.how == "mean" else w
        else:
            self.linear_weights = None
        self.values = np.full(n, np.nan)
        self._weights = None
        # weights known up front: the values come with the partials of the backward sweep
        self.deferred = deferred and self.linear_weights is not None

    def _needed(self, k):
        return self.linear_weights is None or self.linear_weights[k] != 0.0

    def observe(self, k, u, params):
        if self._needed(k) and not self.deferred:
            self.values[k] = value(self.spec.functional, self.problem, u, params)

    def _level_weights(self):
        if self._weights is None:
            if self.linear_weights is not None:
                self._weights = self.linear_weights
            else:
                j, rho = self.values, self.spec.rho
                e = np.exp(rho * (j - j.max()))
                self._weights = e / e.sum()
        return self._weights

    def value(self):
        if self.linear_weights is not None:
            keep = self.linear_weights != 0.0
            return float(self.linear_weights[keep] @ self.values[keep])
        j, rho = self.values, self.spec.rho
        return float(j.max() + np.log(np.sum(np.exp(rho * (j - j.max())))) / rho)

    def partials(self, k, u, params, *, parameters=True, coordinates=True):
        w = self._level_weights()[k]
        if w == 0.0:
            return None, {}, None
        j, du, dp, dX = partials(self.spec.functional, self.problem, u, params, parameters=parameters,
                                 coordinates=coordinates)
        if self.deferred:
            self.values[k] = j
        return w * du, {name: w * v for name, v in dp.items()}, None if dX is None else w * dX


def time_integral(functional: Functional) -> TimeFunctional:
    """``∫ f(u(t), p(t)) dt`` over the run, by the trapezoidal rule on the time levels."""
    return TimeFunctional(functional, "integral")


def time_mean(functional: Functional) -> TimeFunctional:
    """The time average ``(1 / (t_n − t_0)) ∫ f dt`` (trapezoidal rule)."""
    return TimeFunctional(functional, "mean")


def final_value(functional: Functional) -> TimeFunctional:
    """``f(u_n, p_n)`` at the last time level."""
    return TimeFunctional(functional, "final")


def time_weighted(functional: Functional, weights) -> TimeFunctional:
    """``Σ_k w_k f(u_k, p_k)`` with your weights, one per time level."""
    return TimeFunctional(functional, "weights", weights=weights)


def time_peak(functional: Functional, rho: float = 50.0) -> TimeFunctional:
    """A smooth maximum over the time levels of ``f(u_k, p_k)`` (Kreisselmeier–Steinhauser,
    ``ρ`` in units of 1/f: larger is closer to the maximum and less smooth)."""
    return TimeFunctional(functional, "peak", rho=rho)


# -- sensors ----------------------------------------------------------------------------------
class SensorMisfit(TrajectoryFunctional):
    """``½ Σ_i Σ_s ((u(x_s, t_i) − d_is) / σ_is)²``: least squares against sensor time series.

    Sensors read the field at fixed points (interpolated in the cell holding each) at
    sample times anywhere in the run (interpolated linearly between the two time levels
    around each). See :func:`sensor_misfit`.
    """

    def __init__(self, problem, points, times, observations, sigma=1.0, component=None):
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        mesh, c = problem.mesh, problem.space.n_components
        if component is None and c > 1:
            raise InputError(f"the field has {c} components: give component= (0 ... {c - 1}) for the sensors")
        if component is not None and (isinstance(component, bool) or not isinstance(component, (int, np.integer))
                                      or not 0 <= component < c):
            raise InputError(f"component must be an integer in 0 ... {c - 1}, got {component!r}")
        sample_times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if sample_times.ndim != 1 or not np.isfinite(sample_times).all():
            raise InputError(f"times must be finite sample times (s,), got shape {sample_times.shape}")
        data = np.asarray(observations, dtype=np.float64)
        expected = (sample_times.size, len(points))
        if data.shape != expected:
            raise InputError(f"observations must have shape (sample times, sensors) = {expected}, got {data.shape}")
        if not np.isfinite(data).all():
            raise InputError("observations hold NaN or Inf")
        try:
            sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), expected)
        except ValueError:
            raise InputError(f"sigma must be a number or broadcast to {expected}, got shape "
                             f"{np.shape(sigma)}") from None
        if not (np.isfinite(sigma).all() and np.all(sigma > 0)):
            raise InputError("sigma (the noise level of each observation) must be finite and > 0")
        _, nodes, weights = locate_points(mesh, points)
        rows = np.repeat(np.arange(len(points)), nodes.shape[1])
        dofs = nodes.ravel() * c + (component or 0)
        self.probe = sp.csr_matrix((weights.ravel(), (rows, dofs)), shape=(len(points), problem.space.n_dofs))
        self.problem, self.points, self.times = problem, points, sample_times
        self.observations, self.sigma = data, np.array(sigma)

    def predictions(self, times, states) -> np.ndarray:
        """What the sensors read ``(sample times, sensors)`` from full states ``states[k]``
        ``(n_dofs,)`` at the levels ``times`` (linear in the states: also maps tangents)."""
        evaluator = _SensorEvaluator(self, np.asarray(times, dtype=np.float64))
        for k, u in enumerate(states):
            evaluator.observe(k, np.asarray(u), None)
        return evaluator.predicted

    def with_observations(self, observations) -> "SensorMisfit":
        """The same sensors, times and noise with other observations ``(s, m)``."""
        observations = np.asarray(observations, dtype=np.float64)
        if observations.shape != self.observations.shape:
            raise InputError(f"observations must have shape {self.observations.shape}, got {observations.shape}")
        other = object.__new__(SensorMisfit)
        other.__dict__.update(self.__dict__)
        other.observations = observations
        return other

    def start(self, setup, *, deferred: bool = False):
        if setup.problem.problem is not self.problem:
            raise InputError("this sensor_misfit was made for another problem")
        return _SensorEvaluator(self, setup.times)

    def __repr__(self):
        return f"SensorMisfit({self.probe.shape[0]} sensors, {self.times.size} sample times)"


class _SensorEvaluator(_Evaluator):
    def __init__(self, spec: SensorMisfit, times):
        t = spec.times
        if t.min() < times[0] or t.max() > times[-1]:
            raise InputError(f"sample times must lie within the run, [{times[0]:g}, {times[-1]:g}]; got "
                             f"[{t.min():g}, {t.max():g}]")
        self.spec = spec
        low = np.clip(np.searchsorted(times, t, side="right") - 1, 0, times.size - 2)
        a = (t - times[low]) / (times[low + 1] - times[low])
        # level k's weight in sample i: (1 − a) at low, a at low + 1
        self.level_samples = {}
        for i, (k, ai) in enumerate(zip(low, a)):
            for level, w in ((int(k), 1.0 - ai), (int(k) + 1, ai)):
                if w != 0.0:
                    self.level_samples.setdefault(level, []).append((i, float(w)))
        self.predicted = np.zeros_like(spec.observations)

    def observe(self, k, u, params):
        samples = self.level_samples.get(k)
        if samples:
            values = self.spec.probe @ u
            for i, w in samples:
                self.predicted[i] += w * values

    def residuals(self) -> np.ndarray:
        """``(u(x_s, t_i) − d_is) / σ_is``, ``(sample times, sensors)``."""
        return (self.predicted - self.spec.observations) / self.spec.sigma

    def value(self):
        return float(0.5 * np.sum(self.residuals() ** 2))

    def partials(self, k, u, params, *, parameters=True, coordinates=True):
        samples = self.level_samples.get(k)
        if not samples:
            return None, {}, None
        scaled = self.residuals() / self.spec.sigma
        row = sum(w * scaled[i] for i, w in samples)
        return self.spec.probe.T @ row, {}, None


def sensor_misfit(problem, points, times, observations, sigma=1.0, component=None) -> SensorMisfit:
    """Least squares against sensor time series: ``½ Σ ((u(x_s, t_i) − d_is) / σ_is)²``.

    Args:
        problem: the steady problem of the transient run.
        points: sensor positions ``(m, dim)``.
        times: sample times ``(s,)``, anywhere within the run (interpolated linearly
            between time levels).
        observations: ``(s, m)``: what sensor ``m`` read at time ``s``.
        sigma: noise level(s) σ, a number or anything broadcasting to ``(s, m)``.
        component: which component the sensors read (a vector field needs it).
    """
    return SensorMisfit(problem, points, times, observations, sigma, component)


# -- sums ---------------------------------------------------------------------------------------
class _TrajectorySum(TrajectoryFunctional):
    def __init__(self, terms):
        flat = []
        for factor, term in terms:
            if isinstance(term, _TrajectorySum):
                flat.extend((factor * f, t) for f, t in term.terms)
            else:
                flat.append((factor, term))
        self.terms = tuple(flat)

    def start(self, setup, *, deferred: bool = False):
        return _SumEvaluator([(f, t.start(setup, deferred=deferred)) for f, t in self.terms])


class _SumEvaluator(_Evaluator):
    def __init__(self, terms):
        self.terms = terms

    def observe(self, k, u, params):
        for _, term in self.terms:
            term.observe(k, u, params)

    def value(self):
        return float(sum(f * t.value() for f, t in self.terms))

    def partials(self, k, u, params, *, parameters=True, coordinates=True):
        du, dp, dX = None, {}, None
        for f, term in self.terms:
            a, b, c = term.partials(k, u, params, parameters=parameters, coordinates=coordinates)
            if a is not None:
                du = f * a if du is None else du + f * a
            for name, v in b.items():
                dp[name] = f * v + dp.get(name, 0.0)
            if c is not None:
                dX = f * c if dX is None else dX + f * c
        return du, dp, dX
