"""A solve that JAX can differentiate: ``u = femopt.solve(problem, params)``.

Wrapped as ``jax.custom_vjp``. The forward pass runs femopt's Newton on the host
(``jax.pure_callback``); the backward pass, also on the host, solves the adjoint system
Kᵀλ = ū with the factorization Newton kept and returns −λᵀ∂R/∂p, ∂R/∂p applied by the
element-level VJPs (:mod:`~femopt.sensitivity.element_products`). User code around it —
filters, projections, material interpolation, regularizers, objectives written in JAX — is
chained by JAX.

What works:
    ``jax.grad``, ``jax.value_and_grad``, ``jax.vjp``; all of them under ``jax.jit`` (jit
    compiles the user's code around the solve; the solve itself runs on the host, every
    call); ``jax.vmap`` over designs (the solves run one after the other).
What does not:
    forward mode — ``jax.jvp``, ``jax.jacfwd``, hence ``jax.hessian`` — and
    differentiating twice. Use :func:`~femopt.sensitivity.directional_derivative` for a
    forward derivative and :func:`~femopt.sensitivity.hessian_vector_product` for second
    order; node coordinates are differentiated by :func:`~femopt.sensitivity.gradient`
    (``wrt="coordinates"``), not through this solve.

Side effect: each forward pass leaves its solution in ``problem.state``. A backward pass
whose forward solve is no longer the problem's state (two solves of one problem in one
objective, e.g. two load cases) solves again, warm-started, before its adjoint.
"""
from __future__ import annotations

import logging
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from ..assembly.parameters import CELL, NODE, cell_field, nodal_field
from ..errors import InputError, NewtonError, ParameterError, SolverError
from ..functionals.compiled import same_params
from .element_products import residual_products

__all__ = ["solve"]

_log = logging.getLogger("femopt.sensitivity")


def _host_params(problem, p, kinds):
    params = {}
    for name, value in p.items():
        value = np.asarray(value, dtype=np.float64)
        kind = kinds.get(name)
        params[name] = cell_field(value) if kind == CELL else nodal_field(value) if kind == NODE else value
    return problem.parameters(params)


def solve(problem, params=None, *, on_failure: str = "raise"):
    """Solve ``problem`` with parameter overrides ``params`` (a dict of JAX or NumPy
    arrays, optionally marked with ``cell_field`` / ``nodal_field``) and return the flat
    dof vector ``(n_dofs,)`` as a JAX array, differentiable with respect to every value
    in ``params`` by reverse mode.

    ``on_failure="nan"``: a solve that fails (Newton does not converge, or a parameter is
    not admissible) returns NaN instead of raising — what a sampler wants: a NaN log
    density is a rejected proposal, where an exception would end the run.

    Example::

        def objective(rho):
            E = 1e-3 + rho**3                              # SIMP, your own JAX
            u = femopt.solve(problem, {"E": E})
            return problem.external_loads(...) @ u         # or any JAX expression of u

        g = jax.grad(objective)(rho0)
    """
    params = dict(params or {})
    kinds = {}
    arrays = {}
    for name, value in params.items():
        if name not in problem.params:
            raise InputError(f"unknown parameter {name!r}; this problem has {sorted(problem.params)} "
                             "(a value captured in a closure can not be differentiated: declare it "
                             "as a parameter)")
        kind = getattr(value, "kind", None)
        if kind is not None:
            kinds[name] = kind
            value = value.values
        arrays[name] = jnp.asarray(value, dtype=jnp.float64)
    if on_failure not in ("raise", "nan"):
        raise InputError(f"on_failure must be 'raise' or 'nan', got {on_failure!r}")
    key = (tuple(sorted(kinds.items())), on_failure)
    per_problem = _SOLVES.setdefault(problem, {})
    if key not in per_problem:
        per_problem[key] = _make_solve(weakref.ref(problem), problem.space.n_dofs, kinds, on_failure)
    return _ready(per_problem[key](arrays))


def _ready(x):
    """Wait for a concrete (not traced) result. The host callbacks run femopt's own JAX
    kernels; letting the caller dispatch more JAX work while one of them runs (async
    dispatch) can deadlock JAX's CPU client, so eager calls finish before returning."""
    if not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x)):
        jax.block_until_ready(x)
    return x


# One custom_vjp function per (problem, field markers): the same callbacks every call, so
# JAX compiles the pure_callback wrappers once instead of at every (eager) call.
_SOLVES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _make_solve(problem_ref, n_dofs, kinds, on_failure="raise"):
    shape = jax.ShapeDtypeStruct((n_dofs,), jnp.float64)

    def forward_host(p):
        problem = problem_ref()
        if on_failure == "raise":
            problem.solve(_host_params(problem, p, kinds))
            return np.asarray(problem.state.u, dtype=np.float64)
        try:
            problem.solve(_host_params(problem, p, kinds))
        except (NewtonError, ParameterError) as error:
            _log.info("solve failed (on_failure='nan': NaN state): %s", str(error).splitlines()[0])
            return np.full(n_dofs, np.nan)
        return np.asarray(problem.state.u, dtype=np.float64)

    def backward_host(u, p, ubar):
        problem = problem_ref()
        failed = {k: np.full(np.shape(v), np.nan) for k, v in p.items()}
        if on_failure == "nan" and not (np.isfinite(u).all() and np.isfinite(ubar).all()):
            return failed                            # a failed solve, or a cotangent that overflowed
        if on_failure == "nan":
            try:
                return adjoint(u, p, ubar)
            except (NewtonError, ParameterError, SolverError, InputError) as error:
                _log.info("adjoint failed (on_failure='nan': NaN gradient): %s", str(error).splitlines()[0])
                return failed
        return adjoint(u, p, ubar)

    def adjoint(u, p, ubar):
        problem = problem_ref()
        params = _host_params(problem, p, kinds)
        state = problem.state
        if state is None or not state.converged or not np.array_equal(state.u, u) or not same_params(state.params, params):
            problem.solve(params, initial=problem.space.as_field(np.asarray(u)))
            state = problem.state
        part = problem.partition
        lam = np.zeros(problem.space.n_dofs)
        lam[part.free] = state.factorization.solve_transpose(np.asarray(ubar, dtype=np.float64)[part.free])
        cotangents = residual_products(problem).vjp(state.u, state.params, lam)
        return {k: np.asarray(-cotangents.params[k], dtype=np.float64).reshape(np.shape(v)) for k, v in p.items()}

    @jax.custom_vjp
    def run(p):
        return jax.pure_callback(forward_host, shape, p, vmap_method="sequential")

    def fwd(p):
        u = _ready(run(p))
        return u, (u, p)

    def bwd(residuals, ubar):
        u, p = residuals
        out_shapes = {k: jax.ShapeDtypeStruct(jnp.shape(v), jnp.float64) for k, v in p.items()}
        return (_ready(jax.pure_callback(backward_host, out_shapes, u, p, ubar, vmap_method="sequential")),)

    run.defvjp(fwd, bwd)
    return run
