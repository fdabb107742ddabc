"""Stresses, strains and heat fluxes where engineers read them: at points, at the
quadrature points, at cell centres, or recovered at the nodes.

::

    sigma = fo.stress(problem, at=(2.0, 0.0))          # (3, 3) at a point
    sigma = fo.stress(problem, at=points)              # (m, 3, 3)
    nodal = fo.stress(problem)                         # (n_nodes, 3, 3), patch recovery
    nodal = fo.stress(problem, at="nodes", method="l2")
    q = fo.heat_flux(problem, at="quadrature")         # (n_cells, n_quadrature_points, dim)

The material comes from the problem and the parameters of the solve that made the
field (a :class:`~femopt.problem.State`, or the problem's last state), through the
physics' own pointwise law (``physics.stress``, ``physics.strain``,
``physics.heat_flux``): per-cell and per-node fields and overrides included, nothing
entered twice. See docs/stresses.md for which to use when.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..fem.elements import reference_element
from .quantities import compiled_values_at, quantity_law, reference_centre, reference_coordinates, solved_field
from .recovery import RECOVERY_METHODS, recover

__all__ = ["stress", "strain", "heat_flux", "evaluate", "PLACES"]

#: the named places a quantity can be evaluated at (besides points)
PLACES = ("nodes", "quadrature", "centres")


def evaluate(problem, name: str, u=None, *, at="nodes", method: str = "spr", params=None) -> np.ndarray:
    """The physics' pointwise quantity ``name`` (``"stress"``, ``"strain"``,
    ``"heat_flux"``, ``"flux"`` or a method of your own physics with the signature
    ``f(grad_u, u, x, p)``) of a solved field.

    Args:
        problem: the :class:`~femopt.Problem`.
        u: a :class:`~femopt.State` (``problem.state``), the field (nodal values or flat
            dofs), or None: the problem's last solve.
        at: where —

            * ``"nodes"``: recovered at every node, ``(n_nodes, ...)``, by ``method``;
            * ``"quadrature"``: at the quadrature points of the solve,
              ``(n_cells, n_points, ...)`` (points ``problem.space.quadrature.points``
              mapped into each cell);
            * ``"centres"``: at the centre of every cell, ``(n_cells, ...)``;
            * a point ``(dim,)`` → ``(...)``, or points ``(m, dim)`` → ``(m, ...)``: in
              the cell holding each point (either cell for a point on a shared facet).
        method: recovery at the nodes: ``"spr"`` (superconvergent patch recovery,
            default), ``"l2"`` (L2 projection) or ``"average"`` (cell-centre values
            averaged; biased at boundaries).
        params: parameter overrides (default: those of the solve that made ``u``).

    Raises:
        InputError: the physics has no such quantity, nothing is solved, ``at`` or
            ``method`` is unknown, or a point lies outside the mesh.
    """
    quantity_law(problem.physics, name)
    vector, parameters = solved_field(problem, u, params)
    mesh = problem.mesh
    element = reference_element(mesh.cell_type)
    if isinstance(at, str):
        if at not in PLACES:
            raise InputError(f"at must be one of {PLACES} or points (m, {mesh.dim}), got {at!r}")
        if method not in RECOVERY_METHODS:
            raise InputError(f"method must be one of {RECOVERY_METHODS}, got {method!r}")
        if at == "nodes":
            return recover(problem, name, vector, parameters, method)
        xi = problem.space.quadrature.points if at == "quadrature" else reference_centre(mesh.cell_type)
        values = compiled_values_at(problem, name, vector, parameters, np.arange(mesh.n_cells),
                                    element.shape_functions(xi), element.shape_gradients(xi))
        return values if at == "quadrature" else values[:, 0]
    points = np.asarray(at, dtype=np.float64) if not isinstance(at, np.ndarray) else at.astype(np.float64)
    if points.ndim not in (1, 2) or points.shape[-1] != mesh.dim:
        raise InputError(f"at= takes {PLACES} or points of shape ({mesh.dim},) or (m, {mesh.dim}), "
                         f"got shape {points.shape}")
    cells, xi = reference_coordinates(mesh, points)
    values = compiled_values_at(problem, name, vector, parameters, cells,
                                element.shape_functions(xi)[:, None], element.shape_gradients(xi)[:, None])
    return values[0, 0] if points.ndim == 1 else values[:, 0]


def stress(problem, u=None, *, at="nodes", method: str = "spr", params=None) -> np.ndarray:
    """Cauchy stress ``(..., 3, 3)`` of a solved elasticity or hyperelasticity problem
    (plane problems: σ_zz filled in, 0 in plane stress) at ``at``: ``"nodes"``
    (recovered by ``method``), ``"quadrature"``, ``"centres"`` or points. Arguments as
    for :func:`evaluate`; e.g. ``fo.stress(problem, at=(2.0, 0.0))[1, 1]`` is σ_yy at
    the point (2, 0)."""
    return evaluate(problem, "stress", u, at=at, method=method, params=params)


def strain(problem, u=None, *, at="nodes", method: str = "spr", params=None) -> np.ndarray:
    """Strain ``(..., 3, 3)``: small strain for linear elasticity (ε_zz of plane stress
    filled in), Green–Lagrange for hyperelasticity; arguments as for :func:`evaluate`."""
    return evaluate(problem, "strain", u, at=at, method=method, params=params)


def heat_flux(problem, u=None, *, at="nodes", method: str = "spr", params=None) -> np.ndarray:
    """Heat flux q = −k ∇T ``(..., dim)`` of a solved heat-conduction problem;
    arguments as for :func:`evaluate`."""
    return evaluate(problem, "heat_flux", u, at=at, method=method, params=params)
