"""Pointwise quantities of a solved field, evaluated where the element defines them.

A *quantity* is a method of the physics with the flux signature ``f(grad_u, u, x, p)``:
``stress`` and ``strain`` (elasticity, hyperelasticity: ``(3, 3)``), ``heat_flux``
(heat conduction: ``(dim,)``), and ``flux`` (the weak form's flux, any physics). It
sees the parameters ``p`` at the point — globals, the cell's value, nodal values
interpolated — from the problem's own parameter split, exactly as the assembly does,
so nothing about the material is entered twice.

The values are evaluated inside cells at reference points ξ: the field gradient is
``Σ_a U_a ⊗ ∇N_a(ξ)`` with the isoparametric map of the cell. This module holds the one
JAX kernel (:func:`values_at`, differentiable in u, p and the node coordinates X),
the inverse map that finds ξ for physical points, and the resolution of "which field
with which parameters" (a :class:`~femopt.problem.State`, a field, or the last solve).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..assembly.kernels import CellTables, _point_params, geometry
from ..errors import InputError
from ..fem.elements import reference_element
from ..fem.locate import locate_points
from .state import State

__all__ = ["QUANTITIES", "quantity_law", "solved_field", "values_at", "compiled_values_at",
           "reference_coordinates", "reference_centre"]

#: the quantities femopt's own physics define (a custom physics may add its own methods)
QUANTITIES = ("stress", "strain", "heat_flux", "flux")

_NEWTON_STEPS = 25


def quantity_law(physics, name: str):
    """The physics' pointwise ``name(grad_u, u, x, p)`` (e.g. ``physics.stress``).

    Raises:
        InputError: the physics does not define it (the message lists what it defines).
    """
    if not isinstance(name, str):
        raise InputError(f"the quantity is named by a string such as 'stress', got {name!r}")
    law = getattr(physics, name, None)
    if not callable(law):
        has = [q for q in QUANTITIES if callable(getattr(physics, q, None))]
        raise InputError(f"{type(physics).__name__} has no {name} to evaluate (no method {name}(grad_u, u, x, p)); "
                         f"it defines {has}. A physics of your own can define that method")
    return law


def solved_field(problem, u=None, params=None):
    """The flat field ``(n_dofs,)`` and the parameter dict a quantity is evaluated with.

    ``u``: a :class:`State` (its field and the parameters of its solve), nodal values or
    a flat dof vector, or None (the problem's last state). ``params``: overrides; by
    default the state's parameters (of the last solve when ``u`` is an array), else the
    problem's defaults.

    Raises:
        InputError: nothing solved and no ``u``, or ``u`` of the wrong size.
        ParameterError: an override is not admissible.
    """
    state = problem.state
    if isinstance(u, State):
        state, u = u, u.u
    if u is None:
        if state is None:
            raise InputError("the problem has not been solved: call problem.solve() first, or pass the "
                             "field (or the State that problem.solve() leaves in problem.state)")
        u = state.u
    vector = problem.space.as_vector(u)
    if params is None:
        return vector, dict(state.params) if state is not None else problem.parameters()
    base = dict(state.params) if state is not None else problem.parameters()
    overrides = problem.parameters(params)
    merged = {**base, **{k: v for k, v in overrides.items() if k in dict(params)}}
    problem.check_parameters(merged)
    return vector, merged


def _one_cell(law, c, p_global, N, dN, X, U, p_cell, p_node):
    """Values of ``law`` at the q reference points of one cell: N (q, n), dN (q, n, d),
    X (n, d), U (n, c) → (q, ...)."""
    G, _ = geometry(CellTables(N=N, dN=dN, w=jnp.ones(N.shape[0])), X)
    g = jnp.einsum("qai,ak->qki", G, U)
    uq, xq = N @ U, N @ X

    def at_point(g, uu, x, N_q):
        p = _point_params(p_global, p_cell, p_node, N_q)
        value = law(g[0], uu[0], x, p) if c == 1 else law(g, uu, x, p)
        if value is None:
            raise InputError("the quantity returned None at a point: this physics does not define it")
        return jnp.asarray(value, dtype=jnp.result_type(float))

    return jax.vmap(at_point)(g, uq, xq, N)


def _map_cells(law, c, p_global, N, dN, X, U, p_cell, p_node):
    """:func:`_one_cell` over cells: X (m, n, d), U (m, n, c), tables shared (2-D N) or
    per cell (3-D N)."""
    axis = 0 if N.ndim == 3 else None
    return jax.vmap(lambda N, dN, Xc, Uc, pc, pn: _one_cell(law, c, p_global, N, dN, Xc, Uc, pc, pn),
                    in_axes=(axis, axis, 0, 0, 0, 0))(N, dN, X, U, p_cell, p_node)


def values_at(problem, law, u, params, X, cells, N, dN):
    """Values of ``law`` at reference points of ``cells``, in JAX (traceable in u, the
    parameters and X).

    Args:
        law: ``f(grad_u, u, x, p)`` (see :func:`quantity_law`).
        u: flat dof vector ``(n_dofs,)``; params: the parameter dict; X: node
            coordinates ``(n_nodes, dim)``.
        cells: cell ids ``(m,)``.
        N, dN: shape functions and reference gradients at the points, either shared by
            every cell — ``(q, n)``, ``(q, n, d)`` — or one set per cell — ``(m, q, n)``,
            ``(m, q, n, d)``.

    Returns:
        ``(m, q, ...)``, the quantity's shape last.
    """
    c = problem.space.n_components
    cells = np.asarray(cells, dtype=np.int64)
    nodes = problem.mesh.cells[cells]
    p_global, p_cell, p_node = problem.split(params)
    U = jnp.reshape(u, (problem.mesh.n_nodes, c))[nodes]
    return _map_cells(law, c, p_global, jnp.asarray(N), jnp.asarray(dN), X[nodes], U,
                      {k: v[cells] for k, v in p_cell.items()},
                      {k: jnp.asarray(v)[nodes] for k, v in p_node.items()})


_COMPILED: dict = {}
_CHUNK = 4096


def compiled_values_at(problem, name: str, u, params, cells, N, dN) -> np.ndarray:
    """:func:`values_at` for the quantity ``name`` at the problem's node coordinates,
    compiled once per physics kind, quantity and array shapes (parameters are
    arguments, never constants); NumPy in, NumPy out. The cells go in chunks of at most
    4096, so a large mesh compiles two shapes."""
    physics = problem.physics
    law = quantity_law(physics, name)
    c = problem.space.n_components
    shared = np.ndim(N) == 2
    key = (physics.cache_key(), name, c)
    if key not in _COMPILED:
        _COMPILED[key] = jax.jit(lambda *args: _map_cells(law, c, *args))
    kernel = _COMPILED[key]
    mesh = problem.mesh
    cells = np.asarray(cells, dtype=np.int64)
    if cells.size == 0:
        raise InputError("no cells to evaluate in")
    p_global, p_cell, p_node = problem.split(params)
    U = np.reshape(u, (mesh.n_nodes, c))
    out = []
    for start in range(0, cells.size, _CHUNK):
        ids = cells[start:start + _CHUNK]
        nodes = mesh.cells[ids]
        tables = (N, dN) if shared else (N[start:start + _CHUNK], dN[start:start + _CHUNK])
        out.append(np.asarray(kernel(p_global, *tables, mesh.points[nodes], U[nodes],
                                     {k: np.asarray(v)[ids] for k, v in p_cell.items()},
                                     {k: np.asarray(v)[nodes] for k, v in p_node.items()})))
    return np.concatenate(out)


def reference_centre(cell_type) -> np.ndarray:
    """Centre of the reference cell, ``(1, dim)``: the origin of ``[-1, 1]^d``, the
    centroid of the unit simplex."""
    d = cell_type.dim
    if cell_type.family == "simplex":
        return np.full((1, d), 1.0 / (d + 1))
    return np.zeros((1, d))


def reference_coordinates(mesh, points):
    """The cells holding ``points (m, dim)`` and the reference coordinates ξ there.

    The cell comes from :func:`femopt.fem.locate.locate_points` (bounding boxes, then
    Newton on the isoparametric map); ξ from the same Newton iteration, run here for all
    points at once in their cells. Returns ``(cells (m,), xi (m, dim))``.

    Raises:
        InputError: a point has the wrong dimension or lies outside the mesh.
    """
    cells, _, _ = locate_points(mesh, points)
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    element = reference_element(mesh.cell_type)
    X = mesh.points[mesh.cells[cells]]                                    # (m, n, d)
    xi = np.repeat(reference_centre(mesh.cell_type), len(cells), axis=0)
    for _ in range(_NEWTON_STEPS):
        N = element.shape_functions(xi)                                   # (m, n)
        dN = element.shape_gradients(xi)                                  # (m, n, d)
        jacobian = np.einsum("mai,maj->mij", X, dN)                       # ∂x_i/∂ξ_j
        step = np.linalg.solve(jacobian, (np.einsum("ma,mai->mi", N, X) - points)[..., None])[..., 0]
        xi = xi - step
        if np.max(np.abs(step)) < 1e-14:
            break
    return cells, xi
