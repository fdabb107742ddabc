"""Functionals J(u, p, X): scalar outputs of a solved problem, written in JAX.

A functional is a JAX-traceable function of the full dof vector ``u (n_dofs,)``, the
parameter dict ``p`` and the node coordinates ``X (n_nodes, dim)``. Integrals over cells
and boundary facets use the problem's own elements and quadrature
(:func:`integrate_cells`, :func:`integrate_facets`), so ∂J/∂u, ∂J/∂p and ∂J/∂X come from
``jax.grad`` and the shape derivative follows the element geometry exactly.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..assembly.kernels import _point_params, cell_tables, geometry, _facet_geometry
from ..fem.elements import reference_element
from ..fem.quadrature import quadrature
from . import compiled

__all__ = ["Functional", "integrate_cells", "integrate_facets", "quadrature_values", "from_function", "Sum"]


class Functional(ABC):
    """A scalar output J(u, p, X) of a problem's state.

    Subclasses implement :meth:`evaluate` in JAX. Functionals add and scale:
    ``J = compliance(problem) + 0.1 * volume(problem)``.
    """

    @abstractmethod
    def evaluate(self, problem, u, params, X):
        """J as a JAX scalar; ``u (n_dofs,)``, ``params`` dict, ``X (n_nodes, dim)``."""

    def __call__(self, problem, u=None, params=None) -> float:
        """Value at a state: ``u`` (a field or flat dof vector) with ``params``, or, when
        ``u`` is None, the problem's converged state at ``params`` (solved if needed;
        with both None, the last converged state)."""
        u, params = _state(problem, u, params)
        return compiled.value(self, problem, u, params)

    def __add__(self, other):
        return Sum(((1.0, self), (1.0, other)))

    def __mul__(self, factor):
        return Sum(((float(factor), self),))

    __rmul__ = __mul__

    def __sub__(self, other):
        return self + (-1.0) * other


class Sum(Functional):
    """A weighted sum of functionals."""

    def __init__(self, terms):
        flat = []
        for w, f in terms:
            if isinstance(f, Sum):
                flat.extend((w * w2, f2) for w2, f2 in f.terms)
            else:
                flat.append((w, f))
        self.terms = tuple(flat)

    def evaluate(self, problem, u, params, X):
        return sum(w * f.evaluate(problem, u, params, X) for w, f in self.terms)


class _FromFunction(Functional):
    def __init__(self, fn):
        self.fn = fn

    def evaluate(self, problem, u, params, X):
        return self.fn(problem, u, params, X)


def from_function(fn: Callable) -> Functional:
    """Wrap ``fn(problem, u, params, X) -> scalar`` (JAX) as a Functional."""
    return _FromFunction(fn)


def _state(problem, u, params):
    if u is not None:
        return problem.space.as_vector(u), problem.parameters(params)
    state = problem.state
    if state is None or not state.converged or (
            params is not None and not compiled.same_params(state.params, problem.parameters(params))):
        problem.solve(params)
        state = problem.state
    return state.u, state.params


def quadrature_values(problem, integrand: Callable, u, params, X, cells=None):
    """Values of ``integrand(grad_u, u, x, p)`` at every quadrature point of ``cells``
    (default all) and the matching weights × Jacobian, both ``(n_selected_cells, q)``.

    ``integrand`` sees one quadrature point with the physics' shapes (scalar field:
    ``grad_u (dim,)``, ``u ()``; vector field: ``(c, dim)``, ``(c,)``) and returns a
    scalar. ``jnp.sum(values * weights)`` is the integral; one pass serves several
    integrals and pointwise maxima.
    """
    space = problem.space
    mesh = space.mesh
    c = space.n_components
    tables = cell_tables(space.element, space.quadrature)
    cells = np.arange(mesh.n_cells) if cells is None else np.asarray(cells)
    nodes = mesh.cells[cells]
    pg, pc, pn = problem.split(params)
    U = jnp.reshape(u, (mesh.n_nodes, c))[nodes]
    Xe = X[nodes]
    pce = {k: v[cells] for k, v in pc.items()}
    pne = {k: v[nodes] for k, v in pn.items()}

    def one(U, Xc, pcc, pnc):
        G, wJ = geometry(tables, Xc)
        g = jnp.einsum("qai,ak->qki", G, U)
        uq, xq = tables.N @ U, tables.N @ Xc

        def at_point(g, uu, x, N_q):
            p = _point_params(pg, pcc, pnc, N_q)
            value = integrand(g[0], uu[0], x, p) if c == 1 else integrand(g, uu, x, p)
            return jnp.asarray(value, dtype=jnp.result_type(float))

        return jax.vmap(at_point)(g, uq, xq, tables.N), wJ

    return jax.vmap(one)(U, Xe, pce, pne)


def integrate_cells(problem, integrand: Callable, u, params, X, cells=None):
    """∫ integrand(grad_u, u, x, p) dx over each of ``cells`` (default all) in JAX:
    the per-cell integrals ``(n_selected_cells,)`` (see :func:`quadrature_values` for
    the integrand's arguments)."""
    values, weights = quadrature_values(problem, integrand, u, params, X, cells)
    return jnp.sum(values * weights, axis=1)


def integrate_facets(problem, facets, integrand: Callable, u, params, X):
    """∫ integrand(u, x, n, p) dS over boundary ``facets`` ((m, 2) cell, local facet).

    ``n`` is the outward unit normal; returns per-facet integrals ``(m,)``."""
    space = problem.space
    mesh = space.mesh
    c = space.n_components
    ct = mesh.cell_type
    facets = np.asarray(facets, dtype=np.int64).reshape(-1, 2)
    local = np.asarray(ct.facets, dtype=np.int64)[facets[:, 1]]
    nodes = np.take_along_axis(mesh.cells[facets[:, 0]], local, axis=1)
    element = reference_element(ct.facet_type)
    tables = cell_tables(element, quadrature(ct.facet_type, max(1, 2 * element.order)))
    pg, pc, pn = problem.split(params)
    U = jnp.reshape(u, (mesh.n_nodes, c))[nodes]
    pce = {k: v[facets[:, 0]] for k, v in pc.items()}
    pne = {k: v[nodes] for k, v in pn.items()}

    def one(U, Xf, pcc, pnc):
        normal, wA = _facet_geometry(tables, Xf)
        uq, xq = tables.N @ U, tables.N @ Xf

        def at_point(uu, x, n, N_q):
            p = _point_params(pg, pcc, pnc, N_q)
            return integrand(uu[0] if c == 1 else uu, x, n, p)

        return wA @ jax.vmap(at_point)(uq, xq, normal, tables.N)

    return jax.vmap(one)(U, X[nodes], pce, pne)
