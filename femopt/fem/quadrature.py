"""Quadrature rules on the reference cells.

* Lines, quadrilaterals, hexahedra (``[-1, 1]^dim``): tensor products of Gauss–Legendre
  rules with ``ceil((degree + 1) / 2)`` points per direction, exact for polynomials of
  degree ``<= degree`` in each variable.
* Triangles, tetrahedra (unit simplex): symmetric rules where they are small and have
  positive weights (triangle degree 1 and 2, tetrahedron degree 1 and 2), otherwise
  collapsed (Duffy / conical-product) Gauss–Jacobi rules, exact for total degree
  ``<= degree`` with positive weights at any degree (Stroud, *Approximate Calculation of
  Multiple Integrals*, 1971, sec. 2.6; Karniadakis & Sherwin, *Spectral/hp Element
  Methods*, app. B).

Weights sum to the measure of the reference cell: ``2^dim`` for the cube, ``1/2`` for
the triangle, ``1/6`` for the tetrahedron.

>>> q = quadrature("quad4", degree=2)
>>> q.points.shape, float(q.weights.sum())
((4, 2), 4.0)
"""
from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np
from scipy.special import roots_jacobi

from femopt.errors import InputError
from femopt.fem.elements import as_cell_type
from femopt.mesh.cell_types import CellType

__all__ = ["QuadratureRule", "quadrature"]


@dataclass(frozen=True, eq=False)
class QuadratureRule:
    """Points and weights of a rule on a reference cell.

    Attributes:
        points: reference coordinates, ``(n_points, dim)``.
        weights: ``(n_points,)``, positive, summing to the reference cell's measure.
        degree: the degree the rule was asked for (total degree on simplices, degree per
            variable on tensor cells); it may integrate higher degrees exactly too.
    """

    points: np.ndarray
    weights: np.ndarray
    degree: int

    @property
    def n_points(self) -> int:
        """Number of quadrature points."""
        return self.weights.shape[0]

    @property
    def dim(self) -> int:
        """Dimension of the reference cell."""
        return self.points.shape[1]


def quadrature(cell: str | CellType, degree: int) -> QuadratureRule:
    """A quadrature rule on the reference cell of ``cell``'s shape (cached).

    Args:
        cell: any cell type of the domain's shape, by name or CellType: ``"hex27"``,
            ``"hex8"`` and ``"hexahedron"`` give the same rule; facet types such as
            ``"line2"``, ``"tri3"``, ``"quad4"`` give rules on the reference facet.
        degree: integer ``>= 0``; polynomials of total degree ``<= degree`` (simplices)
            or of degree ``<= degree`` in each variable (tensor cells) are integrated
            exactly. ``reference_element(cell).default_quadrature_degree`` suits a
            stiffness matrix.

    Raises:
        InputError: unknown cell type, or ``degree`` is not an integer ``>= 0``.
    """
    ct = as_cell_type(cell)
    if isinstance(degree, bool) or not isinstance(degree, numbers.Integral) or degree < 0:
        raise InputError(
            f"quadrature degree must be an integer >= 0, got {degree!r}; e.g. "
            f"reference_element({ct.name!r}).default_quadrature_degree"
        )
    return _rule(ct.family, ct.dim, int(degree))


@functools.lru_cache(maxsize=None)
def _rule(family: str, dim: int, degree: int) -> QuadratureRule:
    if family == "tensor":
        points, weights = _gauss_legendre_product(dim, degree)
    else:
        points, weights = _SYMMETRIC.get((dim, degree)) or _collapsed_gauss_jacobi(dim, degree)
    points = np.array(points, dtype=float).reshape(-1, dim)
    weights = np.array(weights, dtype=float)
    points.setflags(write=False)
    weights.setflags(write=False)
    return QuadratureRule(points, weights, degree)


def _gauss_legendre_product(dim: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss–Legendre rule on ``[-1, 1]^dim``; the last coordinate varies fastest."""
    x, w = np.polynomial.legendre.leggauss(-(-(degree + 1) // 2))
    grids = np.meshgrid(*([x] * dim), indexing="ij")
    weight_grids = np.meshgrid(*([w] * dim), indexing="ij")
    points = np.stack([g.ravel() for g in grids], axis=1)
    weights = np.prod(np.stack([g.ravel() for g in weight_grids], axis=1), axis=1)
    return points, weights


def _collapsed_gauss_jacobi(dim: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Conical-product rule on the unit simplex.

    The cube ``[0, 1]^dim`` maps onto the simplex by
    ``x_(d-1) = u_(d-1)``, ``x_k = u_k prod_(j > k) (1 - u_j)``, whose Jacobian is
    ``prod_k (1 - u_k)^k``. Direction ``k`` therefore gets a Gauss–Jacobi rule for the
    weight ``(1 - u)^k``; a monomial of total degree ``p`` becomes a polynomial of
    degree ``<= p`` in each ``u_k``, so ``ceil((p + 1) / 2)`` points per direction suffice.
    """
    n = -(-(degree + 1) // 2)
    rules = []
    for k in range(dim):
        t, w = roots_jacobi(n, k, 0)  # weight (1 - t)^k on [-1, 1]
        rules.append(((1.0 + t) / 2.0, w / 2.0 ** (k + 1)))
    u = np.stack(np.meshgrid(*[r[0] for r in rules], indexing="ij"), axis=-1).reshape(-1, dim)
    weights = np.prod(
        np.stack(np.meshgrid(*[r[1] for r in rules], indexing="ij"), axis=-1).reshape(-1, dim),
        axis=1,
    )
    points = np.empty_like(u)
    remaining = np.ones(u.shape[0])
    for k in reversed(range(dim)):
        points[:, k] = u[:, k] * remaining
        remaining = remaining * (1.0 - u[:, k])
    return points, weights


def _symmetric_rules() -> dict[tuple[int, int], tuple[list, list]]:
    """Small fully symmetric simplex rules with positive weights, by (dim, degree)."""
    tri_centroid = ([[1 / 3, 1 / 3]], [1 / 2])
    tri_degree2 = ([[1 / 6, 1 / 6], [2 / 3, 1 / 6], [1 / 6, 2 / 3]], [1 / 6] * 3)
    tet_centroid = ([[1 / 4, 1 / 4, 1 / 4]], [1 / 6])
    # The classical four-point rule: barycentric (b, a, a, a) and its permutations.
    a = (5.0 - np.sqrt(5.0)) / 20.0
    b = (5.0 + 3.0 * np.sqrt(5.0)) / 20.0
    tet_degree2 = ([[a, a, a], [b, a, a], [a, b, a], [a, a, b]], [1 / 24] * 4)
    return {
        (2, 0): tri_centroid, (2, 1): tri_centroid, (2, 2): tri_degree2,
        (3, 0): tet_centroid, (3, 1): tet_centroid, (3, 2): tet_degree2,
    }


_SYMMETRIC = _symmetric_rules()
