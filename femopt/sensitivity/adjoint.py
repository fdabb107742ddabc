"""Adjoint and direct sensitivities of a functional of a solved problem.

With R(u, p, X) = 0 solved by Newton and J(u, p, X) a functional:

    adjoint:  Kᵀ λ = ∂J/∂u on the free dofs  (K: the free–free tangent, already factorized)
              dJ/dp = ∂J/∂p − λᵀ ∂R/∂p,   dJ/dX = ∂J/∂X − λᵀ ∂R/∂X,
              dJ/dū = ∂J/∂ū − λᵀ ∂R/∂ū  for prescribed values ū;
    direct:   K δu = −∂R/∂p · δp,   dJ = ∂J/∂u δu + ∂J/∂p δp   (one solve per direction).

The adjoint costs one transposed solve with the factorization Newton kept, whatever the
number of design variables; the direct method one solve per input direction. `gradient`
picks by counting: adjoint when inputs outnumber outputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError

__all__ = ["Gradient", "gradient", "value_and_grad", "directional_derivative", "COORDINATES", "PRESCRIBED"]

COORDINATES = "coordinates"
PRESCRIBED = "prescribed"


@dataclass
class Gradient:
    """Value of a functional and its derivatives by name.

    ``grads[name]`` has the shape of the parameter (``"coordinates"``: ``(n_nodes, dim)``;
    ``"prescribed"``: one entry per prescribed dof, ordered like
    ``problem.partition.prescribed``)."""

    value: float
    grads: dict

    def __getitem__(self, name):
        return self.grads[name]


def _ensure_state(problem, params):
    wanted = problem.parameters(params)
    state = problem.state
    if state is None or not _same_params(state.params, wanted):
        problem.solve(params)
        state = problem.state
    if state.factorization is None:
        raise InputError("the problem's state has no factorization to reuse; solve it with femopt's Newton")
    return state


def _same_params(a, b):
    if a.keys() != b.keys():
        return False
    return all(np.shape(a[k]) == np.shape(b[k]) and np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


def _wrt_names(problem, wrt):
    names = list(problem.params) + [COORDINATES, PRESCRIBED] if wrt is None else \
        [wrt] if isinstance(wrt, str) else list(wrt)
    for n in names:
        if n not in problem.params and n not in (COORDINATES, PRESCRIBED):
            raise InputError(
                f"can not differentiate with respect to {n!r}: it is not a parameter of this problem "
                f"(parameters: {sorted(problem.params)}, or {COORDINATES!r}, {PRESCRIBED!r}). A value "
                "captured in a closure is a constant; declare it as a parameter to differentiate it"
            )
    return names


def _jnp_params(params):
    return {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}


def gradient(functional, problem, wrt=None, params=None) -> Gradient:
    """Value and adjoint gradient of ``functional`` at the solution for ``params``.

    Args:
        functional: a :class:`~femopt.functionals.Functional`.
        problem: the problem (solved now if its state is not at ``params``).
        wrt: a name or list of names: parameters, ``"coordinates"`` (shape derivative),
            ``"prescribed"`` (prescribed dof values). Default: all.
        params: parameter overrides (as for ``Problem.solve``).
    """
    names = _wrt_names(problem, wrt)
    state = _ensure_state(problem, params)
    part = problem.partition
    u = jnp.asarray(state.u)
    p = _jnp_params(state.params)
    X = jnp.asarray(problem.mesh.points)
    J, (dJ_du, dJ_dp, dJ_dX) = jax.value_and_grad(
        lambda u, p, X: functional.evaluate(problem, u, p, X), argnums=(0, 1, 2))(u, p, X)
    dJ_du = np.asarray(dJ_du)
    lam = np.zeros(problem.space.n_dofs)
    lam[part.free] = state.factorization.solve_transpose(dJ_du[part.free])
    _, vjp = jax.vjp(lambda u, p, X: problem.traced_residual(u, p, X), u, p, X)
    gu, gp, gX = vjp(jnp.asarray(lam))
    grads = {}
    for n in names:
        if n == COORDINATES:
            grads[n] = np.asarray(dJ_dX) - np.asarray(gX)
        elif n == PRESCRIBED:
            grads[n] = dJ_du[part.prescribed] - np.asarray(gu)[part.prescribed]
        else:
            grads[n] = np.asarray(dJ_dp[n]) - np.asarray(gp[n])
    return Gradient(float(J), grads)


def value_and_grad(functional, problem, wrt=None, params=None):
    """``(value, gradient)`` — the gradient a single array when ``wrt`` is one name,
    else a dict."""
    g = gradient(functional, problem, wrt, params)
    if isinstance(wrt, str):
        return g.value, g.grads[wrt]
    return g.value, g.grads


def directional_derivative(functional, problem, direction: dict, params=None) -> tuple[float, float]:
    """Direct (forward) sensitivity: dJ/dp · δp for one direction ``δp``.

    ``direction`` maps names (parameters or ``"coordinates"``) to perturbations of their
    shape. One linear solve with the kept factorization: K δu = −∂R/∂p δp.
    Returns ``(J, dJ)``."""
    names = _wrt_names(problem, list(direction))
    if PRESCRIBED in names:
        raise InputError("directional_derivative does not take 'prescribed'; use gradient()")
    state = _ensure_state(problem, params)
    part = problem.partition
    u = jnp.asarray(state.u)
    p = _jnp_params(state.params)
    X = jnp.asarray(problem.mesh.points)
    dp = {k: jnp.zeros_like(v) for k, v in p.items()}
    dX = jnp.zeros_like(X)
    for n, d in direction.items():
        target = X if n == COORDINATES else p[n]
        d = jnp.asarray(d, dtype=jnp.float64)
        if d.shape != target.shape:
            raise InputError(f"direction for {n!r} has shape {d.shape}, expected {target.shape}")
        if n == COORDINATES:
            dX = d
        else:
            dp[n] = d
    _, dR = jax.jvp(lambda p, X: problem.traced_residual(u, p, X), (p, X), (dp, dX))
    du = np.zeros(problem.space.n_dofs)
    du[part.free] = state.factorization.solve(-np.asarray(dR)[part.free])
    J, dJ = jax.jvp(lambda u, p, X: functional.evaluate(problem, u, p, X), (u, p, X),
                    (jnp.asarray(du), dp, dX))
    return float(J), float(dJ)
