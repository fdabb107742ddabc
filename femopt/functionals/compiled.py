"""Compiled value, partial derivatives and second partials of a functional.

A functional's ``evaluate`` is a JAX expression of ``(u, p, X)``; the sensitivities need
J with ∂J/∂u, ∂J/∂p, ∂J/∂X (one reverse pass) and, for Hessian-vector products, the
directional derivative of those partials (forward over reverse). Each is ``jax.jit``-ed
once per (functional, problem) — a functional closes over the problem's mesh — and
kept while the problem lives (recompiled when a load is added).

Parameters marked with ``cell_field`` / ``nodal_field`` are not JAX arrays: they are
unwrapped into arrays for the compiled function and marked again inside it.
"""
from __future__ import annotations

import weakref

import jax
import jax.numpy as jnp
import numpy as np

from ..assembly.parameters import CELL, NODE, cell_field, nodal_field

__all__ = ["partials", "second_partials", "value", "same_params", "tuned_jit", "unwrap_fields", "rewrap_fields"]

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


#: XLA's classic loop emitters compile long flat element computations about twice as fast
#: as the default fusion emitters and run them as fast (measured on the element VJP of a
#: neo-Hookean hex8: 7.2 → 3.8 s to compile, its second-order product 13.9 → 7.8 s; the
#: assembly's chunk kernels use the same option).
_COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}


def tuned_jit(fn):
    """``jax.jit`` with :data:`_COMPILER_OPTIONS`, falling back to a plain one when this
    JAX or XLA does not know them."""
    plain = jax.jit(fn)
    try:
        tuned = jax.jit(fn, compiler_options=_COMPILER_OPTIONS)
    except TypeError:
        return plain
    chosen = [tuned]

    def call(*args):
        try:
            return chosen[0](*args)
        except Exception as error:  # an XLA without the option names it
            if chosen[0] is plain or "xla_cpu_use_fusion_emitters" not in str(error):
                raise
            chosen[0] = plain
            return plain(*args)

    return call


def same_params(a, b) -> bool:
    """Whether two parameter dicts hold the same values (and field markers)."""
    if a.keys() != b.keys():
        return False
    for k in a:
        if getattr(a[k], "kind", None) != getattr(b[k], "kind", None):
            return False
        x, y = np.asarray(getattr(a[k], "values", a[k])), np.asarray(getattr(b[k], "values", b[k]))
        if x.shape != y.shape or not np.array_equal(x, y):
            return False
    return True


def unwrap_fields(params):
    """``(arrays, kinds)``: plain JAX arrays of the parameters and which were per-cell /
    per-node fields (their markers cannot pass through ``jit``)."""
    arrays, kinds = {}, []
    for name, v in params.items():
        kind = getattr(v, "kind", None)
        if kind is not None:
            kinds.append((name, kind))
            v = v.values
        arrays[name] = jnp.asarray(v, dtype=jnp.float64)
    return arrays, tuple(kinds)


def rewrap_fields(arrays, kinds):
    """The parameters again, with the field markers :func:`unwrap_fields` took off."""
    params = dict(arrays)
    for name, kind in kinds:
        params[name] = cell_field(params[name]) if kind == CELL else nodal_field(params[name]) \
            if kind == NODE else params[name]
    return params


def _functional_key(functional):
    """What identifies a functional's compiled code: its ``cache_key()`` when it has one
    (built-ins without settings: their class, so ``fo.gradient(compliance(), ...)`` in a
    loop compiles once), else the object itself."""
    key = getattr(functional, "cache_key", None)
    return ("key", key()) if callable(key) else ("id", id(functional))


def _compiled(functional, problem, kinds, operation):
    per_problem = _CACHE.setdefault(problem, {})
    # Loads add parameters (never remove them): the names identify the problem's terms.
    identity = _functional_key(functional)
    key = (identity, kinds, operation, tuple(problem.params))
    hit = per_problem.get(key)
    if hit is not None and (identity[0] == "key" or hit[0] is functional):
        return hit[1]
    problem_ref = weakref.ref(problem)

    def J(u, p, X):
        return functional.evaluate(problem_ref(), u, rewrap_fields(p, kinds), X)

    grad = jax.value_and_grad(J, argnums=(0, 1, 2))
    if operation == "partials":
        fn = tuned_jit(grad)
    elif operation == "value":
        fn = tuned_jit(J)
    elif operation == "partials_u":
        fn = tuned_jit(jax.value_and_grad(J, argnums=0))
    elif operation == "partials_up":
        fn = tuned_jit(jax.value_and_grad(J, argnums=(0, 1)))
    else:
        def second(u, p, X, du, dp, dX):
            return jax.jvp(lambda *a: grad(*a)[1], (u, p, X), (du, dp, dX))[1]

        fn = tuned_jit(second)
    per_problem[key] = (functional, fn)
    return fn


def partials(functional, problem, u, params, *, parameters: bool = True, coordinates: bool = True):
    """``(J, ∂J/∂u (n_dofs,), ∂J/∂p {name: shape of the value}, ∂J/∂X (n_nodes, dim))``
    as NumPy, at the full dof vector ``u`` and parameter dict ``params``. With
    ``parameters=False`` / ``coordinates=False`` those parts are not computed (``{}`` /
    None in their place)."""
    arrays, kinds = unwrap_fields(params)
    u = jnp.asarray(u, dtype=jnp.float64)
    X = jnp.asarray(problem.mesh.points)
    if coordinates:
        J, (du, dp, dX) = _compiled(functional, problem, kinds, "partials")(u, arrays, X)
        return float(J), np.asarray(du), {k: np.asarray(v) for k, v in dp.items()}, np.asarray(dX)
    if parameters:
        J, (du, dp) = _compiled(functional, problem, kinds, "partials_up")(u, arrays, X)
        return float(J), np.asarray(du), {k: np.asarray(v) for k, v in dp.items()}, None
    J, du = _compiled(functional, problem, kinds, "partials_u")(u, arrays, X)
    return float(J), np.asarray(du), {}, None


def value(functional, problem, u, params) -> float:
    """J at ``(u, params)``."""
    arrays, kinds = unwrap_fields(params)
    fn = _compiled(functional, problem, kinds, "value")
    return float(fn(jnp.asarray(u, dtype=jnp.float64), arrays, jnp.asarray(problem.mesh.points)))


def second_partials(functional, problem, u, params, du=None, dparams=None, dX=None):
    """Directional derivative of the partials along ``(δu, δp, δX)`` (absent: zero):
    ``(∂²J/∂u∂· δ, {name: ∂²J/∂p∂· δ}, ∂²J/∂X∂· δ)`` as NumPy."""
    arrays, kinds = unwrap_fields(params)
    fn = _compiled(functional, problem, kinds, "second")
    X = jnp.asarray(problem.mesh.points)
    u = jnp.asarray(u, dtype=jnp.float64)
    du = jnp.zeros_like(u) if du is None else jnp.asarray(du, dtype=jnp.float64)
    dX = jnp.zeros_like(X) if dX is None else jnp.asarray(dX, dtype=jnp.float64)
    dp = {k: (jnp.zeros_like(v) if (dparams or {}).get(k) is None
              else jnp.asarray(getattr(dparams[k], "values", dparams[k]), dtype=jnp.float64))
          for k, v in arrays.items()}
    gu, gp, gX = fn(u, arrays, X, du, dp, dX)
    return np.asarray(gu), {k: np.asarray(v) for k, v in gp.items()}, np.asarray(gX)
