"""Transient problems: a steady :class:`~femopt.problem.Problem` plus a capacity term,
stepped in time by the theta method.

The semi-discrete system on the free dofs is

    M_ff u̇_f + M_fp ġ + r(u, p(t)) = 0,      M_ij = ∫ ρc N_i N_j dx,

where ``r`` is the steady problem's residual (internal − external, prescribed values g
applied) and the parameter ``capacity`` (ρc) sits beside the steady problem's
parameters. :class:`~femopt.solvers.theta.ThetaStepper` takes the steps; prescribed
values that change in time enter through the mass coupling ``M_fp (g_k − g_{k−1}) / Δt_k``.
A linear problem (linear physics, no time-varying parameter that changes its tangent)
factorizes ``M / Δt + θ K`` once per step size.

What an adjoint needs stays reachable: the result's ``stepper`` (mass matrix, step
matrices, their factorization), its ``data`` (the steady problem's parameters at every
time level, under the steady names) and ``TransientProblem.capacity_assembler``, whose
traced residual at ``u`` is ``M(p) u``.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

import numpy as np

from ..assembly.assembler import Assembler, CellTerm
from ..assembly.parameters import as_float_value, check_values, real_array, split_parameters
from ..errors import InputError
from ..fem.space import FunctionSpace
from ..physics.capacity import HeatCapacity
from ..solvers.theta import ThetaRun, ThetaStepper, check_theta, check_times
from .problem import Problem
from .transient_data import StepData, TransientSetup, tangent_parameters
from .transient_result import TransientResult
from .validate import as_overrides

__all__ = ["TransientProblem", "time_levels"]

_log = logging.getLogger("femopt.problem")

CAPACITY = "capacity"


class TransientProblem:
    """``ρc ∂u/∂t + (the steady problem's residual) = 0``, by the theta method.

    Args:
        problem: a steady :class:`Problem` (e.g. ``HeatConduction``, possibly with k(T)),
            with its supports and loads.
        capacity: ρc: a positive number, or a ``cell_field`` / ``nodal_field`` (zero
            allowed inside fields); the parameter ``"capacity"``.
        theta: in [1/2, 1]: 1 backward Euler (default; first order, damps everything),
            1/2 Crank–Nicolson (second order; may oscillate for large steps after a
            discontinuous start).

    Raises:
        InputError: ``problem`` is not a Problem, the steady problem already has a
            parameter called ``"capacity"``, or theta is outside [1/2, 1].
        ParameterError: capacity not finite or not > 0.
    """

    def __init__(self, problem: Problem, capacity=1.0, theta=1.0):
        if not isinstance(problem, Problem):
            raise InputError(f"TransientProblem needs a steady femopt.Problem, got {type(problem).__name__}")
        if CAPACITY in problem.params:
            raise InputError(f"the steady problem already has a parameter {CAPACITY!r}; rename that load")
        self.problem = problem
        self.theta = check_theta(theta)
        self.capacity_physics = HeatCapacity(components=problem.space.n_components)
        self.params: dict[str, Any] = {}
        self.check_parameters({CAPACITY: capacity})
        self.params[CAPACITY] = as_float_value(capacity, CAPACITY)
        self._mass: tuple | None = None
        self._capacity: tuple | None = None
        self.result: TransientResult | None = None

    # -- parameters ------------------------------------------------------------------------
    def parameters(self, overrides: Mapping[str, Any] | None = None) -> dict:
        """The steady problem's parameters and ``capacity``, with ``overrides`` applied."""
        overrides = dict(as_overrides(overrides))
        params = {CAPACITY: overrides.pop(CAPACITY, self.params[CAPACITY])}
        return {**self.problem.parameters(overrides), **params}

    def check_parameters(self, params: Mapping[str, Any]) -> None:
        """Check values as the steady problem does; ``capacity``: finite and > 0 (0 allowed
        in fields)."""
        params = dict(params)
        if CAPACITY in params:
            mesh = self.problem.mesh
            value = {CAPACITY: as_float_value(params.pop(CAPACITY), CAPACITY)}
            split_parameters(value, {CAPACITY: ()}, mesh.n_cells, mesh.n_nodes)
            check_values(value, {CAPACITY: ()}, self.capacity_physics.parameter_rules(mesh.dim),
                         mesh.n_cells, mesh.n_nodes, cells=mesh.cells)
        if params:
            self.problem.check_parameters(params)

    # -- the capacity term -------------------------------------------------------------------
    @property
    def capacity_assembler(self) -> Assembler:
        """The assembler of ``∫ ρc u v``: residual ``M u``, tangent ``M`` (on a space whose
        quadrature integrates ``N_i N_j`` exactly on affine cells)."""
        space = self.problem.space
        if self._capacity is None or self._capacity[0] is not space.mesh:
            order = space.mesh.cell_type.order
            mass_space = FunctionSpace(space.mesh, space.n_components, quadrature_degree=2 * order)
            self._capacity = (space.mesh, Assembler(mass_space, [CellTerm(self.capacity_physics)]))
        return self._capacity[1]

    def split_capacity(self, capacity):
        """``capacity`` sorted for the kernels, as ``problem.split`` does for the others."""
        mesh = self.problem.mesh
        return split_parameters({CAPACITY: capacity}, {CAPACITY: ()}, mesh.n_cells, mesh.n_nodes)[:3]

    def mass_matrix(self, capacity=None):
        """The capacity matrix ``M (n_dofs, n_dofs)`` (CSR) for a ``capacity`` value
        (default: the problem's), assembled once per value."""
        capacity = self.params[CAPACITY] if capacity is None else capacity
        mesh, key = self.problem.mesh, _value_key(capacity)
        if self._mass is None or self._mass[0] is not mesh or self._mass[1] != key:
            zero = np.zeros(self.problem.space.n_dofs)
            _, M = self.capacity_assembler.residual_and_tangent(zero, self.split_capacity(capacity))
            self._mass = (mesh, key, M)
        return self._mass[2]

    # -- solve ---------------------------------------------------------------------------------
    def solve(self, times=None, *, initial, t_end=None, steps=None, loads: Mapping[str, Any] | None = None,
              prescribed: Callable | None = None, params: Mapping[str, Any] | None = None,
              raise_on_failure: bool = True) -> TransientResult:
        """Step from ``initial`` through the time levels.

        Args:
            times: the time levels ``t_0 < t_1 < ... < t_n`` (any steps); or give
                ``t_end`` and ``steps`` for ``steps`` equal steps from 0 to ``t_end``.
            initial: the field at ``t_0``: a number, nodal values ``(n_nodes,)`` /
                ``(n_nodes, c)``, or a function of the node coordinates ``f(x (n_nodes, dim))``.
                The prescribed dofs take their values at ``t_0``.
            loads: parameters that change in time: ``{name: f(t) | one value per level}``
                (see :mod:`.transient_data`), e.g. ``{"heat_source": lambda t: 5 * np.sin(t)}``.
            prescribed: prescribed values that change in time: ``s(t)`` scales the values
                given to ``fix``; ``f(x, t)`` gives them at the prescribed nodes ``x``.
            params: constant overrides of any parameter, ``capacity`` included.
            raise_on_failure: raise the NewtonError of a failed step (default; it names
                the step and time), or return the run up to that step, ``converged=False``.

        Returns:
            :class:`TransientResult`, also kept in ``self.result``.

        Raises:
            InputError: bad times / initial field / loads / prescribed values.
            ParameterError: a parameter value is not finite or not admissible.
            NewtonError: a step did not converge (``raise_on_failure``).
        """
        setup = self.prepare(times, initial=initial, t_end=t_end, steps=steps, loads=loads, prescribed=prescribed,
                             params=params)
        problem, part, data, stepper = self.problem, self.problem.partition, setup.data, setup.stepper
        times, capacity, u0_free = setup.times, setup.capacity, setup.u0_free
        if part.free.size == 0:
            run = ThetaRun(times, np.zeros((times.size, 0)), [])
        else:
            run = stepper.run(u0_free, raise_on_failure=raise_on_failure)
        levels = len(run.states)
        states = np.stack([problem.space.as_field(part.expand(run.states[k], data.prescribed_values[k]))
                           for k in range(levels)])
        self.result = TransientResult(times=times[:levels], states=states, steps=run.steps, theta=self.theta,
                                      mesh=problem.mesh, converged=run.converged, message=run.message,
                                      parameters={**data.base, CAPACITY: capacity}, data=data, stepper=stepper)
        _log.info("%r", self.result)
        return self.result

    def prepare(self, times=None, *, initial, t_end=None, steps=None, loads: Mapping[str, Any] | None = None,
                prescribed: Callable | None = None, params: Mapping[str, Any] | None = None) -> TransientSetup:
        """Check the inputs of a run and build its stepper without taking a step (what
        :meth:`solve` runs, and what an adjoint re-runs from checkpoints); arguments as
        for :meth:`solve`."""
        times = time_levels(times, t_end, steps)
        problem = self.problem
        overrides = dict(as_overrides(params))
        capacity = overrides.pop(CAPACITY, self.params[CAPACITY])
        self.check_parameters({CAPACITY: capacity})
        if loads is not None and CAPACITY in loads:
            raise InputError("capacity cannot change in time here (the theta method of M u' + r = 0 takes M "
                             "constant); give it in params=")
        data = StepData(problem, times, overrides, loads, prescribed)
        part = problem.partition
        u0 = _initial_vector(initial, problem.space)
        mass = self.mass_matrix(capacity)
        forcing = self._forcing(data, mass)
        linear = self._constant_tangent(data)
        stepper = ThetaStepper(*self._residuals(data), part.free_block(mass), times, theta=self.theta,
                               linear=linear, forcing=forcing,
                               linear_solver=problem.bound_linear_solver(repeated_solves=linear),
                               newton=problem.newton_options,
                               time_invariant=not data.varying and forcing is None,
                               load=self._affine_load(data) if linear else None)
        return TransientSetup(self, times, data, u0[part.free], capacity, mass, stepper)

    # -- the system the stepper sees -------------------------------------------------------------
    def _residuals(self, data: StepData):
        """``r(u_free, t)`` and ``(r, K)`` on the free dofs at time level t."""
        problem = self.problem
        part, assembler = problem.partition, problem.assembler

        def full(u_free, t):
            k = data.level(t)
            split, point_forces = data.split(k)
            return part.expand(u_free, data.prescribed_values[k]), split, point_forces[part.free]

        def residual(u_free, t):
            u, split, f = full(u_free, t)
            return assembler.residual(u, split)[part.free] - f

        def residual_and_jacobian(u_free, t):
            u, split, f = full(u_free, t)
            r, K = assembler.residual_and_tangent(u, split)
            return r[part.free] - f, part.free_block(K)

        return residual, residual_and_jacobian

    def _affine_load(self, data: StepData):
        """``b(t) = r(0, t)`` of a linear system whose loads that vary in time are all
        global values (magnitudes): ``b_0 + Σ_j (p_j(t) − p_j(t_0)) c_j + K_fp (g(t) − g_0)``
        with the columns ``c_j`` assembled once, exact because such loads enter the
        residual affinely. None when a field varies in time (then each level assembles)."""
        problem = self.problem
        params0 = data.parameters(0)
        if any(np.size(getattr(params0[name], "values", params0[name])) > 16 for name in data.varying):
            return None
        part, assembler = problem.partition, problem.assembler
        zero = np.zeros(part.free.size)

        def residual_at(params, g):
            split = problem.split(params)
            return assembler.residual(part.expand(zero, g), split)[part.free] \
                - problem.external_point_forces(params)[part.free]

        g0 = data.prescribed_values[0]
        b0 = residual_at(params0, g0)
        columns = []
        for name in data.varying:
            base = np.asarray(getattr(params0[name], "values", params0[name]), dtype=np.float64)
            for j in range(base.size):
                trial = base.copy().reshape(-1)
                trial[j] += 1.0
                columns.append((name, j, residual_at({**params0, name: trial.reshape(base.shape)}, g0) - b0))
        coupling = None
        if np.any(data.prescribed_values != g0):
            _, K = assembler.residual_and_tangent(part.expand(zero, g0), problem.split(params0))
            coupling = part.free_prescribed_block(K)

        def load(t):
            k = data.level(t)
            b = b0.copy()
            params = data.parameters(k)
            for name, j, column in columns:
                change = float(np.asarray(getattr(params[name], "values", params[name])).reshape(-1)[j]) - \
                    float(np.asarray(getattr(params0[name], "values", params0[name])).reshape(-1)[j])
                if change:
                    b += change * column
            if coupling is not None:
                b += coupling @ (data.prescribed_values[k] - g0)
            return b

        return load

    def _constant_tangent(self, data: StepData) -> bool:
        return bool(getattr(self.problem.physics, "linear", False)) and \
            not set(data.varying) & tangent_parameters(self.problem)

    def _forcing(self, data: StepData, mass):
        """``M_fp (g_k − g_{k−1}) / Δt_k`` when prescribed values change in time, else None."""
        g = data.prescribed_values
        if g.shape[1] == 0 or np.all(g == g[0]):
            return None
        coupling = self.problem.partition.free_prescribed_block(mass)

        def forcing(t_prev, t):
            return coupling @ (g[data.level(t)] - g[data.level(t_prev)]) / (t - t_prev)

        return forcing

    def __repr__(self) -> str:
        return f"TransientProblem({self.problem.physics!r}, theta={self.theta:g})"


def time_levels(times=None, t_end=None, steps=None) -> np.ndarray:
    """The time levels of a run from ``times`` or ``t_end`` and ``steps`` (checked)."""
    if times is not None:
        if t_end is not None or steps is not None:
            raise InputError("give either times=[t_0, ..., t_n] or t_end= with steps=, not both")
        return check_times(times)
    if t_end is None or steps is None:
        raise InputError("give the time levels: times=[t_0, ..., t_n], or t_end= and steps= (equal steps from 0)")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise InputError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(t_end, bool) or not isinstance(t_end, (int, float, np.integer, np.floating)) \
            or not np.isfinite(t_end) or t_end <= 0:
        raise InputError(f"t_end must be a finite number > 0 (the run starts at t = 0), got {t_end!r}")
    return check_times(np.linspace(0.0, float(t_end), int(steps) + 1))


def _initial_vector(initial, space) -> np.ndarray:
    """``initial`` (number, nodal values or f(x)) as a flat dof vector ``(n_dofs,)``."""
    mesh = space.mesh
    given = initial(mesh.points) if callable(initial) else initial
    what = "initial (the function's result)" if callable(initial) else "initial"
    values = real_array(given, what)
    if values.ndim == 0:
        values = np.full(space.n_dofs, float(values))
    elif values.size != space.n_dofs:
        expected = f"({mesh.n_nodes},)" if space.n_components == 1 else \
            f"({mesh.n_nodes}, {space.n_components})"
        raise InputError(f"{what}: expected a number, nodal values {expected} or a function of the node "
                         f"coordinates returning them; got shape {values.shape}")
    values = values.reshape(space.n_dofs)
    if not np.isfinite(values).all():
        raise InputError(f"{what} holds NaN or Inf at {int((~np.isfinite(values)).sum())} dof(s)")
    return values


def _value_key(value):
    """A hashable fingerprint of a parameter value (the mass matrix is cached by it)."""
    kind = getattr(value, "kind", None)
    array = np.asarray(getattr(value, "values", value), dtype=np.float64)
    return kind, array.shape, array.tobytes()
