"""The direct (tangent-linear) derivative of a transient run along one direction: the
forward-in-time counterpart of :func:`~.transient_adjoint.transient_gradient`, one extra
linear solve per step for each direction, whatever the number of outputs.

Differentiating step k (see :mod:`.transient_levels`) along a direction δ of the inputs:

    (M / Δt_k + θ K_k) δu_k = −( M (δU_k^g − δU_{k-1}) + δM (U_k − U_{k-1}) ) / Δt_k
                              − θ ∂r_k · (δU_k^g, δp_k, δX) − (1 − θ) ∂r_{k-1} · (δU_{k-1}, δp_{k-1}, δX)

(free rows; ``δU_k^g`` the full vector holding only the prescribed values' δg_k, ``δM``
the capacity matrix's change with δc and δX), from ``δU_0`` = (δ initial, δg_0). Then
``dJ = Σ_k ∂J/∂U_k δU_k + ∂J/∂p_k δp_k + ∂J/∂X δX``.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..functionals.trajectory import TrajectoryFunctional
from .element_products import residual_products
from .state import COORDINATES, PRESCRIBED, unwrap
from .transient_levels import CAPACITY, INITIAL, capacity_products, transient_names

__all__ = ["transient_directional_derivative", "transient_tangent"]


def _direction(setup, names, direction):
    """The direction by name, checked against each quantity's shape (zero when absent)."""
    transient = setup.problem
    problem, data = transient.problem, setup.data
    n_levels = setup.times.size
    params0 = data.parameters(0)
    shapes = {}
    for name in names:
        if name == INITIAL:
            shapes[name] = problem.space.as_field(np.zeros(problem.space.n_dofs)).shape
        elif name == PRESCRIBED:
            shapes[name] = (n_levels, problem.partition.prescribed.size)
        elif name == COORDINATES:
            shapes[name] = problem.mesh.points.shape
        elif name == CAPACITY:
            shapes[name] = np.shape(unwrap(setup.capacity))
        else:
            point = np.shape(unwrap(params0[name]))
            shapes[name] = ((n_levels,) if name in data.varying else ()) + point
    out = {}
    for name, value in direction.items():
        value = np.asarray(getattr(value, "values", value), dtype=np.float64)
        if value.shape != shapes[name]:
            raise InputError(f"direction[{name!r}] has shape {value.shape}, expected {shapes[name]}")
        out[name] = value
    return out


def transient_tangent(transient, direction: dict, *, times=None, t_end=None, steps=None, initial, loads=None,
                      prescribed=None, params=None):
    """The tangent-linear model of a run along ``direction``: ``(setup, U, dU, dparams)``
    with the full states ``U[k]`` and their derivatives ``dU[k]`` ``(n_dofs,)`` at every
    level, and ``dparams(k)`` the direction's parameters at level k (names and shapes as
    for :func:`transient_directional_derivative`)."""
    if not isinstance(direction, dict) or not direction:
        raise InputError("direction must be a non-empty dict: name → perturbation")
    names = transient_names(transient, list(direction))
    setup = transient.prepare(times, initial=initial, t_end=t_end, steps=steps, loads=loads,
                              prescribed=prescribed, params=params)
    d = _direction(setup, names, direction)
    problem, stepper, data = transient.problem, setup.stepper, setup.data
    part, theta, n = problem.partition, stepper.theta, setup.n_steps
    run = stepper.run(setup.u0_free)
    U = [setup.full(k, run.states[k]) for k in range(n + 1)]
    products = residual_products(problem)
    capacity = capacity_products(transient)
    dX = d.get(COORDINATES)
    dc = d.get(CAPACITY)

    def dparams(k):
        return {name: (v[k] if name in data.varying else v) for name, v in d.items() if name in problem.params}

    def prescribed_part(k):
        out = np.zeros(problem.space.n_dofs)
        if PRESCRIBED in d:
            out[part.prescribed] = d[PRESCRIBED][k]
        return out

    dU = prescribed_part(0)
    if INITIAL in d:
        dU[part.free] = d[INITIAL].reshape(-1)[part.free]
    carried = products.jvp(U[0], data.parameters(0), du=dU, dparams=dparams(0), dX=dX)[part.free]
    dUs = [dU]
    for k in range(1, n + 1):
        dt = setup.step_size(k)
        dUg = prescribed_part(k)
        own = products.jvp(U[k], data.parameters(k), du=dUg, dparams=dparams(k), dX=dX)[part.free]
        storage = setup.mass @ (dUg - dUs[-1])
        if dc is not None or dX is not None:
            storage = storage + capacity.jvp(U[k] - U[k - 1], {CAPACITY: setup.capacity},
                                             dparams=None if dc is None else {CAPACITY: dc}, dX=dX)
        rhs = -(storage[part.free] / dt + theta * own + (1.0 - theta) * carried)
        if stepper.linear:
            K = stepper.tangent
            du = stepper.factorization(k).solve(rhs)
        else:
            _, K = stepper.residual_and_jacobian(run.states[k], float(setup.times[k]))
            du = stepper.linear_solver.factorize((stepper.mass / dt + theta * K).tocsr()).solve(rhs)
        du = np.asarray(du, dtype=np.float64).reshape(-1)
        dU = dUg.copy()
        dU[part.free] = du
        carried = own + K @ du
        dUs.append(dU)
    return setup, U, dUs, dparams


def transient_directional_derivative(functional, transient, direction: dict, *, times=None, t_end=None,
                                     steps=None, initial, loads=None, prescribed=None, params=None):
    """``(J, dJ)``: a trajectory functional and its derivative along ``direction``, by
    the tangent-linear model forward in time (all states kept).

    Args:
        functional: a trajectory functional (as for :func:`transient_gradient`).
        transient: the :class:`~femopt.TransientProblem`.
        direction: ``{name: perturbation}`` with the names and shapes of
            :func:`transient_gradient`'s gradients (a parameter given in ``loads`` one
            perturbation per level).
        times ... params: the run, as for :meth:`TransientProblem.solve`.
    """
    if not isinstance(functional, TrajectoryFunctional):
        raise InputError(f"expected a trajectory functional, got {type(functional).__name__}")
    setup, U, dUs, dparams = transient_tangent(transient, direction, times=times, t_end=t_end, steps=steps,
                                               initial=initial, loads=loads, prescribed=prescribed, params=params)
    n, data = setup.n_steps, setup.data
    dX = direction.get(COORDINATES)
    dX = None if dX is None else np.asarray(dX, dtype=np.float64)
    evaluator = functional.start(setup)
    for k in range(n + 1):
        evaluator.observe(k, U[k], data.parameters(k))
    dJ = 0.0
    for k in range(n + 1):
        dJ_du, dJ_dp, dJ_dX = evaluator.partials(k, U[k], data.parameters(k))
        if dJ_du is not None:
            dJ += float(dJ_du @ dUs[k])
        for name, v in dparams(k).items():
            if name in dJ_dp:
                dJ += float(np.sum(dJ_dp[name] * v))
        if dJ_dX is not None and dX is not None:
            dJ += float(np.sum(dJ_dX * dX))
    return evaluator.value(), dJ
