"""Exact Hessian-vector products of a reduced functional j(p) = J(u(p), p, X).

Second-order adjoint, with the Lagrangian L(u, p) = J(u, p) − λᵀR(u, p) at the adjoint
solution λ (Kᵀλ = ∂J/∂u) and a direction v = (δp, δX, δū):

1. tangent solve:         K δu = −∂R/∂(p, X, ū) · v                     (as the direct method)
2. second-order partials: Lᵤ = ∂²L/∂u∂(u, p) · (δu, v),  Lₚ = ∂²L/∂p∂(u, p) · (δu, v)
   — forward over reverse: ``jax.jvp`` of the reverse-mode partials of J, and the same of
   the element residuals' ``λᵀ∂R`` (:meth:`ResidualProducts.hvp`);
3. second adjoint solve:  Kᵀ δλ = Lᵤ on the free dofs;
4. product:               H v = Lₚ − δλᵀ ∂R/∂p.

Both solves reuse the factorization Newton kept, so a product costs two triangular-solve
pairs and three element passes; λ is computed once per state and functional and cached.
"""
from __future__ import annotations

import weakref

import numpy as np

from ..errors import InputError
from ..functionals.compiled import partials, second_partials
from .adjoint import _check_direction, _functionals, _tangents
from .element_products import residual_products
from .state import COORDINATES, PRESCRIBED, ensure_state, input_shape, wrt_names

__all__ = ["hessian_vector_product", "hessian", "hessian_vector_product_at_state"]

_ADJOINTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def adjoint_state(functional, problem, state):
    """(λ (n_dofs,), partials of J) at ``state``, cached while the state is current."""
    cached_state, table = _ADJOINTS.get(problem, (None, {}))
    if cached_state is not state:
        table = {}
        _ADJOINTS[problem] = (state, table)
    hit = table.get(id(functional))
    if hit is not None and hit[0] is functional:
        return hit[1], hit[2]
    part = problem.partition
    parts = partials(functional, problem, state.u, state.params)
    lam = np.zeros(problem.space.n_dofs)
    lam[part.free] = state.factorization.solve_transpose(parts[1][part.free])
    table[id(functional)] = (functional, lam, parts)
    return lam, parts


def _product(functional, problem, state, direction, names):
    part = problem.partition
    lam, _ = adjoint_state(functional, problem, state)
    du = _tangents(problem, state, [direction])[:, 0]
    dparams = {n: v for n, v in direction.items() if n not in (COORDINATES, PRESCRIBED)}
    dX = direction.get(COORDINATES)
    hJ_u, hJ_p, hJ_X = second_partials(functional, problem, state.u, state.params, du, dparams, dX)
    products = residual_products(problem)
    hR = products.hvp(state.u, state.params, lam, du=du, dparams=dparams, dX=dX)
    L_u = hJ_u - hR.u
    dlam = np.zeros(problem.space.n_dofs)
    dlam[part.free] = state.factorization.solve_transpose(L_u[part.free])
    ct = products.vjp(state.u, state.params, dlam)
    out = {}
    for n in names:
        if n == COORDINATES:
            out[n] = hJ_X - hR.coordinates - ct.coordinates
        elif n == PRESCRIBED:
            out[n] = L_u[part.prescribed] - ct.u[part.prescribed]
        else:
            out[n] = hJ_p[n] - hR.params[n] - ct.params[n]
    return out


def hessian_vector_product(functional, problem, direction, wrt=None, params=None):
    """Exact H·v of j(p) = J(u(p), p) by the second-order adjoint.

    Args:
        functional: a :class:`~femopt.functionals.Functional`.
        problem: the problem (solved now if its state is not at ``params``).
        direction: dict name → perturbation (parameters, ``"coordinates"``,
            ``"prescribed"``; absent names are zero), or one array when ``wrt`` is one name.
        wrt: which rows of H·v to return (default: the names in ``direction``).
        params: parameter overrides.

    Returns:
        dict name → array of that quantity's shape; a single array when ``direction`` is
        an array.
    """
    single, items = _functionals(functional)
    if not single:
        raise InputError("hessian_vector_product takes one functional")
    as_array = not isinstance(direction, dict)
    if as_array:
        if not isinstance(wrt, str):
            raise InputError("pass wrt='<name>' with a direction array, or a dict name → direction")
        direction = {wrt: direction}
    state = ensure_state(problem, params)
    direction = _check_direction(problem, state.params, direction)
    names = list(direction) if wrt is None else wrt_names(problem, wrt)
    out = _product(items[0], problem, state, direction, names)
    return out[wrt] if as_array else out


def hessian(functional, problem, wrt, params=None) -> np.ndarray:
    """Dense Hessian ``(n, n)`` of j over the flattened quantities ``wrt`` (in that
    order), one Hessian-vector product per column — for small n (tiny problems, Laplace
    approximations of a few parameters)."""
    names = wrt_names(problem, wrt)
    state = ensure_state(problem, params)
    shapes = [input_shape(problem, state.params, n) for n in names]
    sizes = [int(np.prod(s)) for s in shapes]
    columns = []
    for n, shape, size in zip(names, shapes, sizes):
        for i in range(size):
            e = np.zeros(size)
            e[i] = 1.0
            hv = _product(functional, problem, state, {n: e.reshape(shape)}, names)
            columns.append(np.concatenate([np.ravel(hv[m]) for m in names]))
    return np.stack(columns, axis=1)


def hessian_vector_product_at_state(functional, problem, state, direction: dict, wrt) -> dict:
    """H·v at a given converged ``state`` of ``problem`` (see :func:`hessian_vector_product`),
    for a caller that keeps several states of one problem; returns name → array."""
    direction = _check_direction(problem, state.params, direction)
    return _product(functional, problem, state, direction, wrt_names(problem, wrt))
