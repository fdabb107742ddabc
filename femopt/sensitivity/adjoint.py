"""Adjoint and direct sensitivities of functionals of a solved problem.

With R(u, p, X) = 0 solved by Newton (free dofs; prescribed dofs carry values ū) and
J(u, p, X) a functional:

    adjoint:  Kᵀ λ = ∂J/∂u on the free dofs   (K: the free–free tangent, factorized by Newton)
              dJ/dp = ∂J/∂p − λᵀ ∂R/∂p,   dJ/dX = ∂J/∂X − λᵀ ∂R/∂X,
              dJ/dū = ∂J/∂ū − λᵀ ∂R/∂ū   (λ = 0 on the prescribed dofs);
    direct:   K δu = −(∂R/∂p δp + ∂R/∂X δX + ∂R/∂ū δū),   dJ = ∂J/∂u δu + ∂J/∂p δp + ...

λᵀ∂R/∂· and ∂R/∂· δ are element-level JAX products, scattered
(:mod:`~femopt.sensitivity.element_products`). The adjoint costs one transposed solve with
the kept factorization per *output*, whatever the number of inputs; the direct method one
solve per scalar *input*. :func:`gradient` with ``method="auto"`` picks the cheaper.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
import numpy as np

from ..errors import InputError
from ..functionals.compiled import partials
from .element_products import residual_products
from .state import COORDINATES, PRESCRIBED, ensure_state, input_shape, wrt_names

__all__ = ["Gradient", "gradient", "value_and_grad", "directional_derivative", "state_derivative",
           "METHODS", "choose_method", "gradient_at_state", "tangents_at_state"]

_log = logging.getLogger("femopt.sensitivity")

METHODS = ("auto", "adjoint", "direct")


@dataclass
class Gradient:
    """Value of a functional and its derivatives by name.

    ``grads[name]`` has the shape of the quantity: a parameter's value (global: its point
    shape; per-cell ``(n_cells, ...)``; per-node ``(n_nodes, ...)``), ``"coordinates"``
    ``(n_nodes, dim)``, ``"prescribed"`` one entry per prescribed dof, ordered like
    ``problem.partition.prescribed``. ``method`` says which way it was computed."""

    value: float
    grads: dict
    method: str = "adjoint"

    def __getitem__(self, name):
        return self.grads[name]


def choose_method(n_inputs: int, n_outputs: int) -> str:
    """``"direct"`` when the scalar inputs are fewer than the outputs (one tangent solve
    per input), else ``"adjoint"`` (one transposed solve per output)."""
    return "direct" if n_inputs < n_outputs else "adjoint"


def _functionals(functional):
    single = not isinstance(functional, (list, tuple))
    items = [functional] if single else list(functional)
    for f in items:
        if not callable(getattr(f, "evaluate", None)):
            raise InputError(f"expected a femopt Functional (with evaluate(problem, u, params, X)), "
                             f"got {type(f).__name__}; wrap a function with functionals.from_function")
    if not items:
        raise InputError("no functional given")
    return single, items


def gradient(functional, problem, wrt=None, params=None, *, method: str = "auto", solve_options=None):
    """Value and gradient of ``functional`` at the solution for ``params``.

    Args:
        functional: a :class:`~femopt.functionals.Functional`, or a list of them (then a
            list of :class:`Gradient` is returned, sharing the solves).
        problem: the problem; its last converged state is used when it is at ``params``,
            else it is solved now.
        wrt: a name or list of names: parameters (globals, per-cell and per-node fields,
            load magnitudes), ``"coordinates"`` (shape derivative), ``"prescribed"``
            (prescribed dof values). Default: all.
        params: parameter overrides (as for ``Problem.solve``); None: the last converged
            state as it is (solved at the defaults if there is none).
        method: ``"adjoint"`` (one transposed solve per functional), ``"direct"`` (one
            solve per scalar input) or ``"auto"``: the cheaper of the two by counting.
        solve_options: keywords for ``problem.solve`` when a solve is needed, e.g.
            ``{"load_steps": 4}`` for a nonlinear problem that needs load stepping, or
            ``{"load_steps": 4, "initial": np.zeros(n_dofs)}`` to step from rest.
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    single, items = _functionals(functional)
    names = wrt_names(problem, wrt)
    state = ensure_state(problem, params, solve_options)
    n_inputs = sum(int(np.prod(input_shape(problem, state.params, n))) for n in names)
    if method == "auto":
        method = choose_method(n_inputs, len(items))
        _log.debug("gradient: %d input(s), %d output(s): %s method", n_inputs, len(items), method)
    run = _adjoint if method == "adjoint" else _direct
    results = run(items, problem, state, names)
    return results[0] if single else results


def _adjoint_solve(problem, state, rhs):
    """λ for ``Kᵀ λ = rhs`` (free dofs, one column per functional).

    Self-adjoint shortcut: for a linear symmetric problem with homogeneous supports the
    state solves ``K u = f``, so a right-hand side equal to the load — compliance's
    ``∂J/∂u`` — has ``λ = u``. With an iterative solver (where a second solve costs as
    much as the first) a column with ``||rhs − K u|| <= rtol ||rhs||``, the very test
    CG would stop on, takes ``λ = u`` without solving; one close to it (a state from a
    warm-started solve) is solved by CG started from ``u``. Both need ``K`` symmetric,
    so that ``Kᵀ = K``."""
    factorization = state.factorization
    n_free, k = rhs.shape
    rtol = getattr(factorization, "rtol", None)
    physics = problem.physics
    solved = np.zeros(k, dtype=bool)
    lam = np.zeros((n_free, k))
    if (rtol is not None and getattr(physics, "linear", False) and getattr(physics, "symmetric", False)
            and not np.any(problem.prescribed_values())):
        u_free = state.u[problem.partition.free]
        Ku = factorization.matrix @ u_free
        for j in range(k):
            norm = np.linalg.norm(rhs[:, j])
            gap = np.linalg.norm(rhs[:, j] - Ku)
            if norm > 0 and gap <= rtol * norm:
                lam[:, j], solved[j] = u_free, True
                _log.info("adjoint of functional %d is the state itself (self-adjoint load): no solve", j)
            elif norm > 0 and gap <= 1e-2 * norm:
                # the state solved a warm-started Newton step to CG's tolerance relative to
                # that step's right-hand side: start the adjoint CG from it (a few iterations)
                lam[:, j], solved[j] = factorization.solve(rhs[:, j], guess=u_free), True
                _log.info("adjoint of functional %d started from the state (self-adjoint load)", j)
    if not solved.all():
        lam[:, ~solved] = factorization.solve_transpose(rhs[:, ~solved]).reshape(n_free, int(np.sum(~solved)))
    return lam


def _adjoint(items, problem, state, names):
    part = problem.partition
    u, params = state.u, state.params
    parts = [partials(f, problem, u, params) for f in items]
    rhs = np.stack([p[1][part.free] for p in parts], axis=1)
    lam_free = _adjoint_solve(problem, state, rhs)
    products = residual_products(problem)
    results = []
    for j, (J, dJ_du, dJ_dp, dJ_dX) in enumerate(parts):
        lam = np.zeros(problem.space.n_dofs)
        lam[part.free] = lam_free[:, j]
        ct = products.vjp(u, params, lam)
        grads = {}
        for n in names:
            if n == COORDINATES:
                grads[n] = dJ_dX - ct.coordinates
            elif n == PRESCRIBED:
                grads[n] = dJ_du[part.prescribed] - ct.u[part.prescribed]
            else:
                grads[n] = dJ_dp[n] - ct.params[n]
        results.append(Gradient(J, grads, "adjoint"))
    return results


def _unit_directions(problem, params, names):
    """(name, flat index, direction dict) for every scalar input."""
    for n in names:
        shape = input_shape(problem, params, n)
        size = int(np.prod(shape))
        for i in range(size):
            e = np.zeros(size)
            e[i] = 1.0
            yield n, i, {n: e.reshape(shape)}


def _direct(items, problem, state, names):
    directions = list(_unit_directions(problem, state.params, names))
    du = _tangents(problem, state, [d for _, _, d in directions])
    parts = [partials(f, problem, state.u, state.params) for f in items]
    results = []
    for J, dJ_du, dJ_dp, dJ_dX in parts:
        # the prescribed values' explicit part ∂J/∂ū is in dJ_du @ δu already (δū = e_i)
        explicit = {n: (dJ_dX if n == COORDINATES else np.zeros(problem.partition.prescribed.size)
                        if n == PRESCRIBED else dJ_dp[n]).ravel() for n in names}
        flat = {n: np.zeros(np.prod(input_shape(problem, state.params, n), dtype=int)) for n in names}
        for k, (n, i, _) in enumerate(directions):
            flat[n][i] = dJ_du @ du[:, k] + explicit[n][i]
        grads = {n: flat[n].reshape(input_shape(problem, state.params, n)) for n in names}
        results.append(Gradient(J, grads, "direct"))
    return results


def _check_direction(problem, params, direction):
    if not isinstance(direction, dict) or not direction:
        raise InputError("direction must be a non-empty dict: name → perturbation")
    wrt_names(problem, list(direction))
    checked = {}
    for n, d in direction.items():
        d = np.asarray(getattr(d, "values", d), dtype=np.float64)
        shape = input_shape(problem, params, n)
        if d.shape != shape:
            raise InputError(f"direction for {n!r} has shape {d.shape}, expected {shape}")
        checked[n] = d
    return checked


def _tangents(problem, state, directions):
    """δu (n_dofs, k) for k directions: K δu_free = −∂R/∂(p, X, ū) · direction."""
    part = problem.partition
    products = residual_products(problem)
    n = problem.space.n_dofs
    prescribed = np.zeros((n, len(directions)))
    rhs = np.zeros((part.free.size, len(directions)))
    for k, d in enumerate(directions):
        du = np.zeros(n)
        if PRESCRIBED in d:
            du[part.prescribed] = d[PRESCRIBED]
        dparams = {name: v for name, v in d.items() if name not in (COORDINATES, PRESCRIBED)}
        dR = products.jvp(state.u, state.params, du=du, dparams=dparams, dX=d.get(COORDINATES))
        rhs[:, k] = -dR[part.free]
        prescribed[:, k] = du
    du = prescribed
    if len(directions):
        du[part.free] = state.factorization.solve(rhs).reshape(part.free.size, len(directions))
    return du


def state_derivative(problem, direction: dict, params=None) -> np.ndarray:
    """Direct sensitivity of the solution: δu = du/d(p, X, ū) · direction, as a field
    ``(n_nodes,)`` or ``(n_nodes, c)`` (one solve with the kept factorization).

    ``direction`` maps names (parameters, ``"coordinates"``, ``"prescribed"``) to
    perturbations of their shape."""
    state = ensure_state(problem, params)
    d = _check_direction(problem, state.params, direction)
    return problem.space.as_field(_tangents(problem, state, [d])[:, 0])


def directional_derivative(functional, problem, direction: dict, params=None):
    """Direct (forward) sensitivity dJ/d(p, X, ū) · direction.

    ``direction`` maps names (parameters, ``"coordinates"``, ``"prescribed"``) to
    perturbations of their shape. One linear solve with the kept factorization,
    K δu = −∂R/∂p δp, whatever the number of functionals. Returns ``(J, dJ)``, or lists
    of them for a list of functionals."""
    single, items = _functionals(functional)
    state = ensure_state(problem, params)
    d = _check_direction(problem, state.params, direction)
    du = _tangents(problem, state, [d])[:, 0]
    out = []
    for f in items:
        J, dJ_du, dJ_dp, dJ_dX = partials(f, problem, state.u, state.params)
        dJ = dJ_du @ du
        for n, v in d.items():
            if n == COORDINATES:
                dJ += np.sum(dJ_dX * v)
            elif n != PRESCRIBED:  # the prescribed part is in du already
                dJ += np.sum(dJ_dp[n] * v)
        out.append((J, float(dJ)))
    if single:
        return out[0]
    return [J for J, _ in out], [dJ for _, dJ in out]


def value_and_grad(functional, problem, wrt=None, params=None, *, method: str = "auto", solve_options=None):
    """``(value, gradient)`` — the gradient an array when ``wrt`` is one name, else a
    dict by name (``solve_options`` as for :func:`gradient`)."""
    g = gradient(functional, problem, wrt, params, method=method, solve_options=solve_options)
    if isinstance(functional, (list, tuple)):
        values = [gi.value for gi in g]
        return values, [gi.grads[wrt] if isinstance(wrt, str) else gi.grads for gi in g]
    if isinstance(wrt, str):
        return g.value, g.grads[wrt]
    return g.value, g.grads


def gradient_at_state(functional, problem, state, wrt) -> Gradient:
    """The adjoint gradient of one functional at a given converged ``state`` of
    ``problem`` (not necessarily its current one: e.g. one of several load cases kept by
    the caller), with respect to the names ``wrt``."""
    single, items = _functionals(functional)
    if not single:
        raise InputError("gradient_at_state takes one functional")
    return _adjoint(items, problem, state, wrt_names(problem, wrt))[0]


def tangents_at_state(problem, state, directions) -> np.ndarray:
    """δu ``(n_dofs, k)`` at a given converged ``state`` for k directions (dicts name →
    perturbation): ``K δu = −∂R/∂(p, X, ū) · direction`` with the state's factorization."""
    return _tangents(problem, state, [_check_direction(problem, state.params, d) for d in directions])
