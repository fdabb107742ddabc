"""Reference finite elements: node coordinates, shape functions and their derivatives.

A :class:`ReferenceElement` is the basis of one cell type on its reference cell, in
VTK / meshio node ordering (see :mod:`femopt.mesh.cell_types`):

* lines on ``[-1, 1]`` with nodes (left, right, middle);
* quadrilaterals and hexahedra on ``[-1, 1]^dim``;
* triangles and tetrahedra on the unit simplex ``{xi >= 0, sum(xi) <= 1}``.

Everything here is plain NumPy: the tables it produces (shape functions and gradients
at quadrature points) are constants for the JAX element kernels.

>>> el = reference_element("quad4")
>>> el.shape_functions(np.zeros((1, 2)))
array([[0.25, 0.25, 0.25, 0.25]])
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from femopt.errors import InputError
from femopt.fem.elements_simplex import SimplexBasis
from femopt.fem.elements_tensor import SerendipityBasis, TensorLagrangeBasis
from femopt.mesh.cell_types import CellType, cell_type

__all__ = ["ReferenceElement", "reference_element", "as_cell_type"]

_H = 0.5  # mid-edge coordinate on the unit simplex

# Reference node coordinates in VTK order. Mid-edge nodes follow the edge tables of
# femopt/mesh/cell_types.py; the tests check the two against each other through the
# facet tables.
_LINE2 = [[-1.0], [1.0]]
_TRI3 = [[0, 0], [1, 0], [0, 1]]
_QUAD4 = [[-1, -1], [1, -1], [1, 1], [-1, 1]]
_QUAD8 = _QUAD4 + [[0, -1], [1, 0], [0, 1], [-1, 0]]
_TET4 = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
_HEX8 = [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
         [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]]
_HEX20 = _HEX8 + [
    [0, -1, -1], [1, 0, -1], [0, 1, -1], [-1, 0, -1],  # 8-11: bottom edges 01 12 23 30
    [0, -1, 1], [1, 0, 1], [0, 1, 1], [-1, 0, 1],  # 12-15: top edges 45 56 67 74
    [-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0],  # 16-19: vertical edges 04 15 26 37
]
_NODES = {
    "line2": _LINE2,
    "line3": _LINE2 + [[0.0]],
    "tri3": _TRI3,
    "tri6": _TRI3 + [[_H, 0], [_H, _H], [0, _H]],  # edges 01 12 20
    "quad4": _QUAD4,
    "quad8": _QUAD8,
    "quad9": _QUAD8 + [[0, 0]],
    "tet4": _TET4,
    # edges 01 12 20 03 13 23
    "tet10": _TET4 + [[_H, 0, 0], [_H, _H, 0], [0, _H, 0], [0, 0, _H], [_H, 0, _H], [0, _H, _H]],
    "hex8": _HEX8,
    "hex20": _HEX20,
    # 20-25: face centres x-, x+, y-, y+, z-, z+; 26: cell centre.
    "hex27": _HEX20 + [[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1],
                       [0, 0, 0]],
}

# Highest total degree of a monomial in the span of the basis.
_POLYNOMIAL_DEGREE = {
    "line2": 1, "line3": 2,
    "tri3": 1, "tri6": 2, "tet4": 1, "tet10": 2,
    "quad4": 2, "quad8": 3, "quad9": 4,  # xy; x^2 y; x^2 y^2
    "hex8": 3, "hex20": 4, "hex27": 6,  # xyz; x^2 yz; x^2 y^2 z^2
}

_SERENDIPITY = ("quad8", "hex20")


class _Basis(Protocol):
    def values(self, xi: np.ndarray) -> np.ndarray: ...

    def gradients(self, xi: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class ReferenceElement:
    """Lagrange basis of one cell type on its reference cell.

    Attributes:
        cell_type: the :class:`~femopt.mesh.cell_types.CellType` (topology, facets).
        nodes: reference coordinates of the nodes, ``(n_nodes, dim)``, VTK ordering.
        polynomial_degree: highest *total* degree of a monomial in the span of the
            basis: ``order`` for simplices, ``dim * order`` for tensor-product Lagrange
            cells (the bilinear quad4 contains ``xy``), 3 for quad8 (``x^2 y``) and 4 for
            hex20 (``x^2 y z``). Use it to size a quadrature for a product of basis
            functions on simplices, e.g. a mass matrix needs ``2 * polynomial_degree``.
    """

    cell_type: CellType
    nodes: np.ndarray
    polynomial_degree: int
    _basis: _Basis = field(repr=False)

    @property
    def dim(self) -> int:
        """Dimension of the reference cell."""
        return self.cell_type.dim

    @property
    def n_nodes(self) -> int:
        """Number of nodes (= shape functions)."""
        return self.cell_type.n_nodes

    @property
    def order(self) -> int:
        """Polynomial order per direction: 1 linear, 2 quadratic."""
        return self.cell_type.order

    @property
    def default_quadrature_degree(self) -> int:
        """Quadrature degree that integrates ``grad N_a . grad N_b`` exactly on an affine cell.

        ``2 * (order - 1)`` total degree on simplices and ``2 * order`` per direction on
        tensor cells (a gradient component keeps degree ``order`` in the other
        directions), at least 1. Pass it to :func:`femopt.fem.quadrature.quadrature`.
        """
        if self.cell_type.family == "simplex":
            return max(1, 2 * (self.order - 1))
        return 2 * self.order

    def shape_functions(self, xi) -> np.ndarray:
        """Shape functions at reference points.

        Args:
            xi: reference coordinates, ``(n_points, dim)``.

        Returns:
            ``N[q, a] = N_a(xi_q)``, shape ``(n_points, n_nodes)``.
        """
        return self._basis.values(self._reference_points(xi))

    def shape_gradients(self, xi) -> np.ndarray:
        """Derivatives of the shape functions with respect to the reference coordinates.

        Args:
            xi: reference coordinates, ``(n_points, dim)``.

        Returns:
            ``dN[q, a, j] = dN_a / dxi_j (xi_q)``, shape ``(n_points, n_nodes, dim)``.
        """
        return self._basis.gradients(self._reference_points(xi))

    def _reference_points(self, xi) -> np.ndarray:
        points = np.asarray(xi, dtype=float)
        if points.ndim != 2 or points.shape[1] != self.dim:
            raise InputError(
                f"{self.cell_type.name} expects reference points of shape (n_points, "
                f"{self.dim}), got shape {points.shape}; pass one point as xi[None, :]"
            )
        return points


def as_cell_type(cell: str | CellType) -> CellType:
    """The :class:`CellType` for a femopt or meshio name (or a CellType itself).

    Raises:
        InputError: the name is not a supported cell type.
    """
    try:
        return cell_type(cell)
    except ValueError as error:
        raise InputError(str(error)) from None


def reference_element(cell: str | CellType) -> ReferenceElement:
    """The (cached) reference element of a cell type.

    Args:
        cell: a femopt name (``"hex8"``), a meshio name (``"hexahedron"``) or a CellType.

    Returns:
        The same :class:`ReferenceElement` object for every spelling of one type.
    """
    return _reference_element(as_cell_type(cell).name)


@functools.lru_cache(maxsize=None)
def _reference_element(name: str) -> ReferenceElement:
    ct = as_cell_type(name)
    nodes = np.array(_NODES[name], dtype=float)
    nodes.setflags(write=False)
    if ct.family == "simplex":
        basis = SimplexBasis(nodes, ct.order)
    elif name in _SERENDIPITY:
        basis = SerendipityBasis(nodes)
    else:
        basis = TensorLagrangeBasis(nodes, ct.order)
    return ReferenceElement(ct, nodes, _POLYNOMIAL_DEGREE[name], basis)
