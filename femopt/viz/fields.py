"""Post-processing of a solved problem: stress and von Mises stress at cell centres,
and averaging of per-cell values to the nodes.

The stress is evaluated at the reference centre of each cell with the problem's own
element (isoparametric map, shape-function gradients) and its own parameters (global,
per-cell and per-node values), through the physics' stress function:

* ``LinearElasticity.stress_3d(grad_u, p)``: small-strain stress (σ_zz of plane strain
  included);
* hyperelastic laws: ``cauchy_stress(F, p)`` with ``F = I + ∇u`` (2D = plane strain), the
  true stress of the deformed body.

A physics that defines neither has no stress to show; the error says so.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..assembly.kernels import CellTables, geometry
from ..errors import InputError
from ..fem.elements import reference_element
from ..mesh.mesh import Mesh
from ..mesh.quality import cell_measures
from ..physics.hyperelasticity import deformation_gradient_3d

__all__ = ["cell_stress", "von_mises", "von_mises_of", "cell_to_nodes"]


def cell_stress(problem, u=None, *, params=None) -> np.ndarray:
    """Cauchy stress at the centre of every cell, ``(n_cells, 3, 3)``.

    Args:
        problem: a :class:`~femopt.Problem` whose physics has ``stress_3d`` (linear
            elasticity) or ``cauchy_stress`` (hyperelasticity).
        u: nodal displacements ``(n_nodes, dim)`` (or the flat dof vector); default the
            problem's last converged state.
        params: parameter overrides (name -> value, as for ``problem.solve``); default
            the parameters of the last solve, else the problem's defaults.

    Raises:
        InputError: the physics has no stress, no displacement is given and the problem
            has not been solved, or ``u`` has the wrong size.
    """
    physics = problem.physics
    if not (hasattr(physics, "stress_3d") or hasattr(physics, "cauchy_stress")):
        raise InputError(f"{type(physics).__name__} defines neither stress_3d(grad_u, p) nor "
                         "cauchy_stress(F, p): there is no stress to evaluate; plot the field "
                         "itself (scalars=None) or compute your own per-cell values")
    state = problem.state
    if u is None:
        if state is None:
            raise InputError("the problem has not been solved: call problem.solve() first or "
                             "pass the displacement u=...")
        u = state.u
    if params is not None:
        params = problem.parameters(params)
    else:
        params = state.params if state is not None else problem.parameters()
    mesh = problem.mesh
    U = problem.space.as_vector(u).reshape(mesh.n_nodes, problem.space.n_components)
    p_global, p_cell, p_node = problem.split(params)
    evaluate = _centre_stress(physics, mesh.cell_type.name)
    sigma = evaluate(jnp.asarray(mesh.points[mesh.cells]), jnp.asarray(U[mesh.cells]),
                     p_global, p_cell, {k: jnp.asarray(v)[mesh.cells] for k, v in p_node.items()})
    return np.asarray(sigma)


def von_mises_of(stress) -> np.ndarray:
    """von Mises equivalent stress sqrt(3/2 s:s), s the deviator, of ``(..., 3, 3)``
    stresses; returns ``(...)``."""
    sigma = np.asarray(stress)
    deviator = sigma - np.trace(sigma, axis1=-2, axis2=-1)[..., None, None] * np.eye(3) / 3.0
    return np.sqrt(1.5 * np.sum(deviator * deviator, axis=(-2, -1)))


def von_mises(problem, u=None, *, params=None, at: str = "cells") -> np.ndarray:
    """von Mises stress of a solved problem.

    Args:
        problem, u, params: as for :func:`cell_stress`.
        at: ``"cells"`` — one value per cell, at its centre, ``(n_cells,)``; ``"nodes"``
            — those values averaged to the nodes (:func:`cell_to_nodes`), ``(n_nodes,)``.
    """
    if at not in ("cells", "nodes"):
        raise InputError(f"at must be 'cells' or 'nodes', got {at!r}")
    values = von_mises_of(cell_stress(problem, u, params=params))
    return cell_to_nodes(problem.mesh, values) if at == "nodes" else values


def cell_to_nodes(mesh: Mesh, values) -> np.ndarray:
    """Per-cell values ``(n_cells, ...)`` averaged to the nodes, each cell weighted by its
    measure (length, area, volume); ``(n_nodes, ...)``. Nodes of no cell get 0."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0 or values.shape[0] != mesh.n_cells:
        raise InputError(f"cell_to_nodes expects ({mesh.n_cells}, ...) per-cell values, got "
                         f"shape {values.shape}")
    weights = np.abs(cell_measures(mesh.points, mesh.cells, mesh.cell_type))  # (n_cells,)
    nodes = mesh.cells.ravel()
    n_per_cell = mesh.cells.shape[1]
    weighted = np.repeat(weights[:, None] * values.reshape(mesh.n_cells, -1), n_per_cell, axis=0)
    total = np.zeros((mesh.n_nodes, weighted.shape[1]))
    np.add.at(total, nodes, weighted)
    weight_sum = np.bincount(nodes, weights=np.repeat(weights, n_per_cell), minlength=mesh.n_nodes)
    averaged = total / np.where(weight_sum > 0, weight_sum, 1.0)[:, None]
    return averaged.reshape((mesh.n_nodes,) + values.shape[1:])


_COMPILED: dict = {}


def _centre_stress(physics, cell_name: str):
    """A jitted ``(X (m, n, d), U (m, n, c), globals, per-cell, per-cell nodal values)
    -> stress (m, 3, 3)`` at the cell centres, compiled once per physics kind and cell
    type (the physics' ``cache_key``; parameters are arguments, never constants)."""
    key = (physics.cache_key(), cell_name)
    if key in _COMPILED:
        return _COMPILED[key]
    if hasattr(physics, "stress_3d"):
        def stress(grad_u, p):
            return physics.stress_3d(grad_u, p)
    else:
        def stress(grad_u, p):
            return physics.cauchy_stress(deformation_gradient_3d(grad_u), p)
    element = reference_element(cell_name)
    centre = _reference_centre(element.cell_type)
    tables = CellTables(N=element.shape_functions(centre), dN=element.shape_gradients(centre),
                        w=np.ones(1))
    N = tables.N[0]  # (n,)

    def one_cell(X, U, p_global, p_cell, p_node):
        G = geometry(tables, X)[0][0]  # (n, d)
        grad_u = jnp.einsum("ai,ak->ki", G, U)
        p = {**p_global, **p_cell, **{k: jnp.tensordot(N, v, axes=(0, 0)) for k, v in p_node.items()}}
        return stress(grad_u, p)

    compiled = jax.jit(jax.vmap(one_cell, in_axes=(0, 0, None, 0, 0)))
    _COMPILED[key] = compiled
    return compiled


def _reference_centre(cell_type) -> np.ndarray:
    """Centre of the reference cell, ``(1, dim)``: the origin of ``[-1, 1]^d`` or the
    centroid of the unit simplex."""
    d = cell_type.dim
    if cell_type.family == "simplex":
        return np.full((1, d), 1.0 / (d + 1))
    return np.zeros((1, d))
