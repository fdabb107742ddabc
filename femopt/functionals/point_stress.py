"""The stress at a point as a functional: one component σ_ij, or the von Mises stress,
at a fixed material point, differentiable in the field, every parameter and the node
coordinates.

The cell holding the point and its reference coordinates ξ are found once
(:func:`femopt.problem.quantities.reference_coordinates`); the value is the physics' own
stress of the field gradient at ξ (:func:`femopt.problem.quantities.values_at`), a
JAX expression of (u, p, X). ξ is held fixed when node coordinates change: the point
moves with the material, like :class:`~femopt.functionals.PointProbe` — the shape
derivative is that of the stress at the material point.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..fem.elements import reference_element
from ..physics.stress_measures import von_mises
from ..problem.quantities import quantity_law, reference_coordinates, values_at
from .base import Functional

__all__ = ["point_stress"]


class _PointStress(Functional):
    def __init__(self, cell, N, dN, component):
        self.cell, self.N, self.dN, self.component = cell, N, dN, component

    def evaluate(self, problem, u, params, X):
        law = quantity_law(problem.physics, "stress")
        sigma = values_at(problem, law, u, params, X, self.cell, self.N, self.dN)[0, 0]   # (3, 3)
        if self.component == "von_mises":
            return von_mises(sigma)
        i, j = self.component
        return sigma[i, j]


def point_stress(problem, point, component="von_mises") -> Functional:
    """The stress at ``point`` ``(dim,)`` as a functional.

    Args:
        problem: an elasticity or hyperelasticity problem (its physics has ``stress``).
        point: where, inside the mesh (either cell for a point on a shared facet).
        component: ``"von_mises"`` (default), or ``(i, j)`` with ``0 <= i, j < 3`` for
            the Cauchy stress component σ_ij (σ_zz is ``(2, 2)`` in plane problems).

    Raises:
        InputError: the physics has no stress, the component is not one of these, or
            the point is not inside the mesh.

    Example: ``fo.gradient(point_stress(problem, (2.0, 0.0), (1, 1)), problem, wrt="E")``.
    """
    quantity_law(problem.physics, "stress")
    if isinstance(component, str):
        if component != "von_mises":
            raise InputError(f"component must be 'von_mises' or a pair (i, j), got {component!r}")
    else:
        pair = np.asarray(component)
        if pair.shape != (2,) or not np.issubdtype(pair.dtype, np.integer) or np.any((pair < 0) | (pair > 2)):
            raise InputError(f"component must be 'von_mises' or a pair (i, j) of indices 0..2 into the 3x3 "
                             f"stress (e.g. (1, 1) for sigma_yy), got {component!r}")
        component = (int(pair[0]), int(pair[1]))
    point = np.asarray(point, dtype=np.float64)
    if point.shape != (problem.mesh.dim,):
        raise InputError(f"point must be one point of shape ({problem.mesh.dim},), got shape {point.shape}")
    cells, xi = reference_coordinates(problem.mesh, point[None])
    element = reference_element(problem.mesh.cell_type)
    return _PointStress(cells, element.shape_functions(xi)[:, None], element.shape_gradients(xi)[:, None], component)
