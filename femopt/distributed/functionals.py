"""Functionals on distributed states: sums over the ranks' cells, or replicated.

A functional that is a function of a few integrals over the cells,
``J = g(S_1, ..., S_m)`` with ``S_i = Σ_cells s_i``, is evaluated the scalable way: each
rank computes its cells' part of every ``S_i`` and its derivatives in JAX on its local
mesh (:class:`~femopt.distributed.local_problem.LocalProblem`), the parts are summed over
the ranks, and the chain rule ``dJ = Σ ∂g/∂S_i dS_i`` gives each rank its share of
∂J/∂u and ∂J/∂p. femopt's built-ins decompose so:

* ``compliance`` / ``thermal_compliance``: ``S = f·u`` (g the identity);
* ``volume`` / ``mass`` (``cells=`` too): ``S = ∫ρ dx``;
* ``mean`` and ``p_norm``: ``S = (∫u dx, ∫dx)`` or ``(∫|u|^q dx, ∫dx)``;
* ``von_mises_p_norm``: ``(∫(w σ_vm)^q dx, ∫dx)``;
* sums and multiples of these.

Every other functional (``point_value``, ``misfit``, ``boundary_average``,
``von_mises_ks``, ``from_function``, your own) is *replicated*: every rank evaluates it
on the gathered state and the full (replicated) problem — exact, but its cost does not
fall with the number of ranks. :func:`plan` says which way a functional goes.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..functionals.base import Sum, integrate_cells, quadrature_values
from ..functionals.compiled import rewrap_fields, unwrap_fields
# the built-ins' classes: what they compute is read from their settings
from ..functionals.builtin import _Compliance, _Mean, _StressAggregate, _Volume, _point_von_mises

__all__ = ["CellSums", "plan"]


def _compliance(fn):
    return [lambda lp, u, p, X: jnp.dot(lp.external_loads(p, X), u)], lambda s: s[0]


def _volume(fn):
    name, cells = fn.density, fn.cells
    integrand = (lambda g, uu, x, p: 1.0) if name is None else (lambda g, uu, x, p: p[name])

    def local(lp, u, p, X):
        ids = lp.local_cells(cells)
        if ids is not None and ids.size == 0:
            return jnp.zeros(())
        return jnp.sum(integrate_cells(lp, integrand, u, p, X, ids))

    return [local], lambda s: s[0]


def _measure(lp, u, p, X):
    _, weights = quadrature_values(lp, lambda g, uu, x, p_: 0.0, u, p, X)
    return jnp.sum(weights)


def _mean(fn):
    k, q = fn.component, fn.power
    val = (lambda uu: uu) if k is None else (lambda uu: uu[k])
    integrand = (lambda g, uu, x, p: val(uu)) if q is None else (lambda g, uu, x, p: jnp.abs(val(uu)) ** q)

    def numerator(lp, u, p, X):
        values, weights = quadrature_values(lp, integrand, u, p, X)
        return jnp.sum(values * weights)

    combine = (lambda s: s[0] / s[1]) if q is None else (lambda s: (s[0] / s[1]) ** (1.0 / q))
    return [numerator, _measure], combine


def _stress_p(fn):
    q, w = fn.exponent, fn.weight

    def numerator(lp, u, p, X):
        vm = _point_von_mises(lp)
        stress = vm if w is None else (lambda g, uu, x, p_: p_[w] * vm(g, uu, x, p_))
        values, weights = quadrature_values(lp, stress, u, p, X)
        return jnp.sum(weights * values ** q)

    return [numerator, _measure], lambda s: (s[0] / s[1]) ** (1.0 / q)


def _sum(fn):
    parts = []
    for weight, term in fn.terms:
        decomposed = _decompose(term)
        if decomposed is None:
            return None
        parts.append((weight, decomposed))
    sums, slices, start = [], [], 0
    for weight, (local, combine) in parts:
        sums.extend(local)
        slices.append((weight, slice(start, start + len(local)), combine))
        start += len(local)
    return sums, lambda s: sum(weight * combine(s[where]) for weight, where, combine in slices)


def _decompose(fn):
    """``(local sums, combine)`` or None (replicated)."""
    if type(fn) is _Compliance:
        return _compliance(fn)
    if type(fn) is _Volume:
        return _volume(fn)
    if type(fn) is _Mean:
        return _mean(fn)
    if type(fn) is _StressAggregate and fn.kind == "p":
        return _stress_p(fn)
    if type(fn) is Sum:
        return _sum(fn)
    return None


def plan(functional) -> str:
    """``"cell sums"`` (each rank its cells, summed) or ``"replicated"`` (every rank
    evaluates the whole functional on the gathered state)."""
    return "replicated" if _decompose(functional) is None else "cell sums"


class CellSums:
    """A decomposed functional on one rank: its local sums and their pullback, compiled
    once (per parameter kinds).

    Args:
        functional: a femopt Functional that :func:`plan` calls ``"cell sums"``.
        local_problem: the rank's :class:`LocalProblem` (kept alive by the caller).
    """

    def __init__(self, functional, local_problem):
        decomposed = _decompose(functional)
        if decomposed is None:
            raise ValueError("not a sum over cells")          # internal: callers check plan() first
        self.functional = functional
        self.sums, self.combine = decomposed
        self.local_problem = local_problem
        self._compiled = {}

    def _functions(self, kinds):
        if kinds not in self._compiled:
            lp, sums = self.local_problem, self.sums

            def values(u, p, X):
                params = rewrap_fields(p, kinds)
                return jnp.stack([jnp.asarray(s(lp, u, params, X), dtype=jnp.float64) for s in sums])

            def pullback(u, p, X, weights):
                return jax.vjp(values, u, p, X)[1](weights)

            self._compiled[kinds] = (jax.jit(values), jax.jit(pullback))
        return self._compiled[kinds]

    def local_values(self, u_local, local_params) -> np.ndarray:
        """The rank's parts ``(m,)`` of the sums at its local dofs and parameters."""
        arrays, kinds = unwrap_fields(local_params)
        values, _ = self._functions(kinds)
        return np.asarray(values(jnp.asarray(u_local), arrays, jnp.asarray(self.local_problem.mesh.points)))

    def value_and_weights(self, totals):
        """``(J, ∂g/∂S (m,))`` from the summed ``totals`` (the same on every rank)."""
        totals = jnp.asarray(totals, dtype=jnp.float64)
        value, weights = jax.value_and_grad(lambda s: jnp.asarray(self.combine(s), dtype=jnp.float64))(totals)
        return float(value), np.asarray(weights)

    def local_partials(self, u_local, local_params, weights):
        """The rank's ``(∂J/∂u (n_local_dofs,), {name: ∂J/∂p in local shape}, ∂J/∂X
        (n_local_nodes, dim))``: the derivatives of ``Σ weights_i S_i`` over its cells."""
        arrays, kinds = unwrap_fields(local_params)
        _, pullback = self._functions(kinds)
        du, dp, dX = pullback(jnp.asarray(u_local), arrays, jnp.asarray(self.local_problem.mesh.points),
                              jnp.asarray(weights))
        return np.asarray(du), {name: np.asarray(v) for name, v in dp.items()}, np.asarray(dX)
