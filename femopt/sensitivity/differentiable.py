"""A solve that JAX can differentiate: ``u = femopt.solve(problem, params)``.

Wrapped as ``jax.custom_vjp``: the forward pass runs femopt's Newton (through
``jax.pure_callback``, so it also runs inside ``jax.jit``); the backward pass solves the
adjoint system Kᵀλ = ū with the factorization Newton kept and returns −λᵀ∂R/∂p, with
∂R/∂p applied by ``jax.vjp`` of the element kernels. User code around it — filters,
projections, interpolations, regularizers, objectives written in JAX — is chained by JAX.

What works: ``jax.grad``, ``jax.value_and_grad``, ``jax.vjp``, and all of these inside
``jax.jit`` (the solve itself runs on the host each call; jit compiles the user's code
around it). What does not: forward mode (``jax.jvp``, ``jax.jacfwd``, hence
``jax.hessian``) — use :func:`femopt.sensitivity.directional_derivative` for a forward
derivative; and ``vmap`` over designs (solves run one at a time).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError

__all__ = ["solve"]


def _host_params(problem, p):
    return {k: np.asarray(v, dtype=np.float64) for k, v in p.items()}


def _adjoint(problem, u, p, ubar):
    """λ on all dofs (zero at prescribed ones) with Kᵀλ = ū on the free dofs."""
    params = problem.parameters(_host_params(problem, p))
    state = problem.state
    if state is None or not np.array_equal(state.u, u) or not _same(state.params, params):
        problem.solve(_host_params(problem, p), initial=problem.space.as_field(u))
        state = problem.state
    part = problem.partition
    lam = np.zeros(problem.space.n_dofs)
    lam[part.free] = state.factorization.solve_transpose(np.asarray(ubar)[part.free])
    return lam


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


def solve(problem, params=None):
    """Solve ``problem`` with parameter overrides ``params`` (a dict of JAX or NumPy
    arrays) and return the flat dof vector ``(n_dofs,)`` as a JAX array, differentiable
    with respect to every value in ``params`` by reverse mode.

    Example::

        def objective(E_field):
            u = femopt.solve(problem, {"E": E_field})
            return u @ f

        g = jax.grad(objective)(E0)
    """
    params = dict(params or {})
    for name in params:
        if name not in problem.params:
            raise InputError(f"unknown parameter {name!r}; this problem has {sorted(problem.params)} "
                             "(a value captured in a closure can not be differentiated: declare it "
                             "as a parameter)")
    p = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
    return _make_solve(problem)(p)


def _make_solve(problem):
    shape = jax.ShapeDtypeStruct((problem.space.n_dofs,), jnp.float64)
    X = jnp.asarray(problem.mesh.points)

    def forward_host(p):
        problem.solve(_host_params(problem, p))
        return problem.state.u.astype(np.float64)

    @jax.custom_vjp
    def run(p):
        return jax.pure_callback(forward_host, shape, p)

    def fwd(p):
        u = run(p)
        return u, (u, p)

    def bwd(res, ubar):
        u, p = res
        lam = jax.pure_callback(lambda u, p, ubar: _adjoint(problem, u, p, ubar), shape, u, p, ubar)

        def weighted_residual(p):
            full = {k: jnp.asarray(v) for k, v in problem.params.items()}
            full.update(p)
            return problem.traced_residual(u, full, X)

        _, vjp = jax.vjp(weighted_residual, p)
        (gp,) = vjp(lam)
        return (jax.tree_util.tree_map(jnp.negative, gp),)

    run.defvjp(fwd, bwd)
    return run
