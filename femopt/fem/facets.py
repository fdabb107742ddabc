"""Facets of the reference cells: where a facet's reference points sit in its parent cell.

A facet is ``(cell, local facet id)``; its nodes are ``CellType.facets[local facet id]``,
ordered as the facet cell type orders its own nodes and so that the normal points out
of the cell (see :mod:`femopt.mesh.cell_types`). Reference facets are flat, so the map
from the facet's reference cell into the parent's goes through the facet's corners
only, with the linear facet basis:

    ``x(xi_f) = sum_a N^lin_a(xi_f) * parent_nodes[facets[local_facet][a]]``.

The facets of 1D cells are points: their reference domain has dimension 0, and
``xi_facet`` has shape ``(n_points, 0)``.
"""
from __future__ import annotations

import functools

import numpy as np

from femopt.errors import InputError
from femopt.fem.elements import as_cell_type, reference_element
from femopt.mesh.cell_types import CELL_TYPES, CellType

__all__ = ["facet_points_in_cell", "facet_reference_normals"]


def facet_points_in_cell(cell: str | CellType, local_facet: int, xi_facet) -> np.ndarray:
    """Map points of a facet's reference cell into the parent reference cell.

    Args:
        cell: the parent cell type (name or CellType).
        local_facet: local facet id, ``0 <= local_facet < n_facets``.
        xi_facet: points in the facet's reference cell, ``(n_points, dim - 1)``
            (e.g. a :func:`~femopt.fem.quadrature.quadrature` rule of the facet type).

    Returns:
        Parent reference coordinates, ``(n_points, dim)``.
    """
    ct = as_cell_type(cell)
    if not isinstance(local_facet, (int, np.integer)) or not 0 <= local_facet < ct.n_facets:
        raise InputError(
            f"{ct.name} has facets 0..{ct.n_facets - 1}, got local_facet={local_facet!r}"
        )
    points = np.asarray(xi_facet, dtype=float)
    if points.ndim != 2 or points.shape[1] != ct.dim - 1:
        raise InputError(
            f"facet points of a {ct.name} must have shape (n_points, {ct.dim - 1}), "
            f"got shape {points.shape}"
        )
    corners = _facet_corners(ct.name)[local_facet]  # (n_facet_corners, dim)
    if ct.dim == 1:
        return np.broadcast_to(corners, (points.shape[0], 1)).copy()
    return _linear_facet_element(ct.name).shape_functions(points) @ corners


def facet_reference_normals(cell: str | CellType) -> np.ndarray:
    """Outward unit normals of the reference cell's facets.

    Args:
        cell: the cell type (name or CellType).

    Returns:
        ``(n_facets, dim)``; row ``f`` is the normal of local facet ``f``.
    """
    return _normals(as_cell_type(cell).name).copy()


@functools.lru_cache(maxsize=None)
def _facet_corners(name: str) -> np.ndarray:
    """Reference coordinates of each facet's corner nodes, ``(n_facets, n_facet_corners, dim)``."""
    ct = CELL_TYPES[name]
    nodes = reference_element(ct).nodes
    n_corners = 1 if ct.dim == 1 else CELL_TYPES[ct.facet_type].n_corners
    return np.array([nodes[list(facet[:n_corners])] for facet in ct.facets])


def _linear_facet_element(name: str):
    """The linear element of the facet's shape (line2, tri3 or quad4)."""
    facet = CELL_TYPES[CELL_TYPES[name].facet_type]
    linear = next(c for c in CELL_TYPES.values()
                  if c.dim == facet.dim and c.family == facet.family and c.order == 1)
    return reference_element(linear)


@functools.lru_cache(maxsize=None)
def _normals(name: str) -> np.ndarray:
    ct = CELL_TYPES[name]
    corners = _facet_corners(name)
    if ct.dim == 1:
        normals = np.sign(corners[:, 0, :])
    elif ct.dim == 2:
        # The edge direction rotated clockwise points out of a counterclockwise cell.
        tangent = corners[:, 1] - corners[:, 0]
        normals = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    else:
        # Right-hand rule over the first corner's two edges (faces are flat).
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, -1] - corners[:, 0])
    normals = normals / np.linalg.norm(normals, axis=1, keepdims=True) + 0.0  # no -0.0
    normals.setflags(write=False)
    return normals
