"""What a transient problem looks like at each time level: the parameter values (loads
that change in time) and the prescribed values, checked once before the first step.

:class:`StepData` turns ``solve``'s time-dependent inputs into per-level data:

* ``loads``: ``{parameter name: f(t) | values}``: ``f(t)`` returns the parameter's value
  at time t (a number, or a field like the parameter's); ``values`` holds one value per
  time level along its first axis. These override the steady problem's parameters of
  the same name (a load declared as a function of x has its scale as the parameter).
* ``prescribed``: ``s(t)``, a number that scales the values given to ``fix`` (a ramp, an
  on/off switch), or ``f(x, t)``, the values themselves at the nodes ``x
  (n_prescribed, dim)`` of the prescribed dofs (a number or ``(n_prescribed,)``). The
  number of positional arguments tells which.

The per-level parameter sets keep the steady problem's names, so the residual of any
step is ``problem.traced_residual(u, data.parameters(k), X)`` for an adjoint.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ..assembly.parameters import as_float_value, real_array
from ..errors import InputError, describe_value

__all__ = ["StepData", "TransientSetup", "tangent_parameters"]


def tangent_parameters(problem) -> set[str]:
    """Names of the parameters that can change the tangent of a linear problem: the
    physics' constants and convection coefficients. Dead loads (sources, fluxes,
    tractions, point loads) and a convection's ambient temperature do not."""
    names = set(problem.physics.parameters)
    names.update(f"{name}.h" for kind, name, _ in problem.loads() if kind == "Convection")
    return names


class StepData:
    """Per-time-level parameters and prescribed values of a steady ``problem``.

    Args:
        problem: the steady :class:`~femopt.problem.Problem`.
        times: ``(n_levels,)`` time levels (checked).
        params: constant overrides of the problem's parameters (name → value).
        loads: time-dependent overrides (see the module docstring).
        prescribed: ``s(t)`` or ``f(x, t)`` (see the module docstring), or None.

    Attributes:
        varying: names of the parameters that change in time.
        prescribed_values: ``(n_levels, n_prescribed)``, ordered like
            ``problem.partition.prescribed``.
    """

    def __init__(self, problem, times: np.ndarray, params: Mapping[str, Any] | None = None,
                 loads: Mapping[str, Any] | None = None, prescribed: Callable | None = None):
        self.problem = problem
        self.times = times
        self.base = problem.parameters(params)
        problem.check_parameters(self.base)
        self._levels = {float(t): k for k, t in enumerate(times)}
        self.series = self._load_series(loads)
        self.varying = tuple(self.series)
        self.prescribed_values = self._prescribed_series(prescribed)
        self._split: tuple[int, Any] | None = None

    # -- per level ------------------------------------------------------------------------
    def level(self, t: float) -> int:
        """The index of time level ``t`` (one of ``times``)."""
        try:
            return self._levels[float(t)]
        except KeyError:
            raise InputError(f"t = {t!r} is not one of this run's time levels") from None

    def parameters(self, k: int) -> dict:
        """The steady problem's parameters at time level k (name → value)."""
        params = dict(self.base)
        params.update({name: values[k] for name, values in self.series.items()})
        return params

    def split(self, k: int):
        """``problem.split(parameters(k))``, kept for the level last asked for."""
        if self._split is None or self._split[0] != k:
            params = self.parameters(k)
            self._split = (k, (self.problem.split(params), self.problem.external_point_forces(params)))
        return self._split[1]

    # -- checks ---------------------------------------------------------------------------
    def _load_series(self, loads) -> dict[str, list]:
        if loads is None:
            return {}
        if not isinstance(loads, Mapping):
            raise InputError(f"loads must be a mapping {{parameter name: f(t) or one value per time level}}, "
                             f"got {describe_value(loads)}")
        n = self.times.size
        series = {}
        for name, spec in loads.items():
            if name not in self.base:
                raise InputError(f"loads: unknown parameter {name!r}; the problem's parameters are "
                                 f"{sorted(self.base)} (loads: {sorted(set(self.base) - set(self.problem.physics.parameters))})")
            if callable(spec):
                values = []
                for t in self.times:
                    try:
                        values.append(as_float_value(spec(float(t)), name))
                    except InputError as error:
                        raise InputError(f"loads[{name!r}] at t = {t:g}: {error}") from None
            else:
                array = real_array(spec, f"loads[{name!r}]")
                if array.ndim == 0 or array.shape[0] != n:
                    raise InputError(f"loads[{name!r}]: expected a function f(t) or one value per time level "
                                     f"({n} along the first axis), got shape {array.shape}; a value constant "
                                     "in time goes in params=")
                values = list(array)
            for k, value in enumerate(values):
                try:
                    self.problem.split({name: value})
                    self.problem.check_parameters({name: value})
                except InputError as error:
                    raise type(error)(f"loads[{name!r}] at t = {self.times[k]:g} (level {k}): {error}") from None
            series[name] = values
        return series

    def _prescribed_series(self, prescribed) -> np.ndarray:
        base = self.problem.prescribed_values()
        n = self.times.size
        if prescribed is None:
            return np.broadcast_to(base, (n, base.size))
        if not callable(prescribed):
            raise InputError(f"prescribed must be a function s(t) (a factor on the fixed values) or f(x, t) (the "
                             f"values at the prescribed nodes), got {describe_value(prescribed)}")
        if base.size == 0:
            raise InputError("prescribed= was given but the problem prescribes no values: call fix() first")
        arity = _positional_arity(prescribed)
        part = self.problem.partition
        c = self.problem.space.n_components
        x = self.problem.mesh.points[part.prescribed // c]
        out = np.empty((n, base.size))
        for k, t in enumerate(self.times):
            given = prescribed(float(t)) if arity == 1 else prescribed(x, float(t))
            what = f"prescribed({'' if arity == 1 else 'x, '}t = {t:g})"
            values = real_array(given, what)
            if arity == 1 and values.shape != ():
                raise InputError(f"{what} must return a number (the factor on the fixed values), got shape "
                                 f"{values.shape}; for values per node write prescribed=lambda x, t: ...")
            if values.shape not in ((), (base.size,)):
                raise InputError(f"{what} must return a number or {base.size} values (one per prescribed dof, "
                                 f"at the points x of shape {x.shape}), got shape {values.shape}")
            if not np.isfinite(values).all():
                raise InputError(f"{what} holds NaN or Inf")
            out[k] = base * values if arity == 1 else values
        return out


def _positional_arity(function) -> int:
    """1 for ``s(t)``, 2 for ``f(x, t)``; InputError for anything else."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        raise InputError("prescribed: cannot read the function's signature; pass a Python function s(t) or "
                         "f(x, t)") from None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in signature.parameters.values() if p.kind in kinds and p.default is p.empty]
    if len(required) not in (1, 2):
        raise InputError(f"prescribed must take (t) — a factor on the fixed values — or (x, t) — the values "
                         f"at the prescribed nodes; got a function of {len(required)} required arguments")
    return len(required)


@dataclass
class TransientSetup:
    """One checked run of a transient problem, before any step: what
    ``TransientProblem.solve`` steps, and what an adjoint re-runs from checkpoints.

    Attributes:
        problem: the :class:`~femopt.problem.transient.TransientProblem`.
        times: ``(n_steps + 1,)`` time levels.
        data: the per-level parameters and prescribed values (:class:`StepData`).
        u0_free: the initial state on the free dofs.
        capacity: the value of ρc.
        mass: the full capacity matrix ``M (n_dofs, n_dofs)``.
        stepper: the :class:`~femopt.solvers.theta.ThetaStepper` on the free dofs.
    """

    problem: Any
    times: np.ndarray
    data: StepData
    u0_free: np.ndarray
    capacity: Any
    mass: Any
    stepper: Any

    @property
    def n_steps(self) -> int:
        return self.times.size - 1

    def full(self, k: int, u_free) -> np.ndarray:
        """The full dof vector at level k: ``u_free`` with level k's prescribed values."""
        return self.problem.problem.partition.expand(u_free, self.data.prescribed_values[k])

    def step_size(self, k: int) -> float:
        """``Δt_k = t_k − t_{k-1}``."""
        return float(self.times[k] - self.times[k - 1])
