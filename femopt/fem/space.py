"""FunctionSpace: a Lagrange field on a mesh — dof numbering, components, selections.

The space is isoparametric: the field uses the mesh's own cell type (a hex20 mesh gives
a serendipity-quadratic field). Dofs are numbered node-major,
``dof = node * n_components + component``.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from ..errors import InputError
from ..mesh.mesh import Mesh
from .elements import reference_element
from .quadrature import quadrature

__all__ = ["FunctionSpace"]


class FunctionSpace:
    """Scalar or vector Lagrange field on ``mesh``.

    Args:
        mesh: the mesh; its cell type is the element.
        components: 1 for a scalar field (temperature), ``mesh.dim`` for a displacement.
            ``"vector"`` means ``mesh.dim``.
        quadrature_degree: polynomial degree integrated exactly by the volume rule;
            default: the element's stiffness degree (exact for affine cells).
    """

    def __init__(self, mesh: Mesh, components: int | str = 1, *, quadrature_degree: int | None = None):
        if not isinstance(mesh, Mesh):
            raise InputError(f"FunctionSpace needs a femopt Mesh, got {type(mesh).__name__}")
        if components == "vector":
            components = mesh.dim
        if not isinstance(components, (int, np.integer)) or components < 1:
            raise InputError(f"components must be a positive int or 'vector', got {components!r}")
        self.mesh = mesh
        self.n_components = int(components)
        self.element = reference_element(mesh.cell_type)
        if self.element.dim != mesh.dim:
            raise InputError(
                f"{mesh.cell_type.name} cells have dimension {self.element.dim} but the mesh "
                f"points have {mesh.dim} coordinates; femopt solves on cells of the full "
                "spatial dimension (2D cells in 2D, 3D cells in 3D)"
            )
        degree = self.element.default_quadrature_degree if quadrature_degree is None else quadrature_degree
        self.quadrature = quadrature(mesh.cell_type, degree)

    @classmethod
    def vector(cls, mesh: Mesh, **kwargs) -> "FunctionSpace":
        """A displacement-like field with ``mesh.dim`` components."""
        return cls(mesh, mesh.dim, **kwargs)

    @property
    def n_dofs(self) -> int:
        return self.mesh.n_nodes * self.n_components

    @property
    def dofs_per_cell(self) -> int:
        return self.mesh.cell_type.n_nodes * self.n_components

    @cached_property
    def dof_map(self) -> np.ndarray:
        """Global dofs of each cell, shape ``(n_cells, n_nodes_per_cell * n_components)``,
        ordered node-major within the cell."""
        c = self.n_components
        return (self.mesh.cells[:, :, None] * c + np.arange(c)).reshape(self.mesh.n_cells, -1)

    def node_dofs(self, nodes, components=None) -> np.ndarray:
        """Dofs of ``nodes`` (ids) for the given components (default all), sorted."""
        nodes = np.asarray(nodes, dtype=np.int64).ravel()
        comps = self._components(components)
        return np.sort((nodes[:, None] * self.n_components + comps[None, :]).ravel())

    def dofs(self, selection, components=None) -> np.ndarray:
        """Dofs of the nodes a selection picks (tag name, predicate on coordinates, or
        node ids; see :meth:`Mesh.nodes`)."""
        return self.node_dofs(self.mesh.nodes(selection), components)

    def _components(self, components) -> np.ndarray:
        if components is None:
            return np.arange(self.n_components)
        given = np.atleast_1d(np.asarray(components, dtype=object))
        if given.ndim != 1 or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in given):
            raise InputError(f"components must be whole numbers (component ids 0..{self.n_components - 1}), "
                             f"got {components!r}")
        comps = given.astype(np.int64)
        bad = comps[(comps < 0) | (comps >= self.n_components)]
        if bad.size:
            raise InputError(
                f"component(s) {bad.tolist()} out of range for a field with "
                f"{self.n_components} component(s)"
            )
        return comps

    def as_field(self, vector) -> np.ndarray:
        """A flat dof vector as nodal values: ``(n_nodes,)`` for scalars, else
        ``(n_nodes, n_components)``."""
        vector = np.asarray(vector)
        if self.n_components == 1:
            return vector.reshape(self.mesh.n_nodes)
        return vector.reshape(self.mesh.n_nodes, self.n_components)

    def as_vector(self, field) -> np.ndarray:
        """Nodal values (or a flat vector) as a flat float64 dof vector ``(n_dofs,)``."""
        field = np.asarray(field, dtype=np.float64)
        if field.size != self.n_dofs:
            raise InputError(
                f"expected {self.n_dofs} values ({self.mesh.n_nodes} nodes x "
                f"{self.n_components} components), got an array of shape {field.shape}"
            )
        return field.reshape(self.n_dofs)

    def interpolate(self, function) -> np.ndarray:
        """Nodal interpolant of ``function(x) -> (n_nodes,)`` or ``(n_nodes, n_components)``
        evaluated at the node coordinates; returns a field (see :meth:`as_field`)."""
        values = np.asarray(function(self.mesh.points), dtype=np.float64)
        return self.as_field(self.as_vector(values))

    def __repr__(self) -> str:
        return (f"FunctionSpace({self.mesh.cell_type.name}, n_nodes={self.mesh.n_nodes}, "
                f"components={self.n_components}, n_dofs={self.n_dofs})")
