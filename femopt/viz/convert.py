"""A :class:`~femopt.mesh.Mesh` and its fields as a ``pyvista.UnstructuredGrid``.

femopt stores nodes in VTK order for every cell type (see
:mod:`femopt.mesh.cell_types`), so the connectivity goes to VTK unchanged; only the
cell type ids are translated. VTK wants 3D points and 3-component vectors: 1D/2D
coordinates get zero trailing coordinates, and 2-vectors a zero third component, so
that a displacement can warp a 2D mesh in ParaView or pyvista.

The field checks here (:func:`point_array`, :func:`cell_array`) are shared by the plot
and export modules, so every entry point of :mod:`femopt.viz` accepts the same shapes.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pyvista as pv

from ..errors import InputError
from ..mesh.cell_types import CELL_TYPES
from ..mesh.mesh import Mesh

__all__ = ["VTK_CELL_TYPES", "to_pyvista", "point_array", "cell_array", "padded_points",
           "cell_edges"]

#: femopt cell type name -> VTK cell type.
VTK_CELL_TYPES: dict[str, pv.CellType] = {
    "line2": pv.CellType.LINE,
    "line3": pv.CellType.QUADRATIC_EDGE,
    "tri3": pv.CellType.TRIANGLE,
    "tri6": pv.CellType.QUADRATIC_TRIANGLE,
    "quad4": pv.CellType.QUAD,
    "quad8": pv.CellType.QUADRATIC_QUAD,
    "quad9": pv.CellType.BIQUADRATIC_QUAD,
    "tet4": pv.CellType.TETRA,
    "tet10": pv.CellType.QUADRATIC_TETRA,
    "hex8": pv.CellType.HEXAHEDRON,
    "hex20": pv.CellType.QUADRATIC_HEXAHEDRON,
    "hex27": pv.CellType.TRIQUADRATIC_HEXAHEDRON,
}


def to_pyvista(mesh: Mesh, point_data: Mapping | None = None,
               cell_data: Mapping | None = None) -> pv.UnstructuredGrid:
    """The mesh as a pyvista grid with fields attached.

    Args:
        mesh: a femopt mesh of any cell type (quadratic ones become VTK's quadratic,
            biquadratic and triquadratic cells).
        point_data: ``{name: array}`` of nodal values, each ``(n_nodes,)`` (scalar),
            ``(n_nodes, k)`` (vector; 2-vectors on a 2D mesh padded to 3) or
            ``(n_nodes, d, d)`` (tensor; written as ``(n_nodes, 9)``, 2x2 padded to 3x3).
        cell_data: ``{name: array}`` of per-cell values, ``(n_cells, ...)`` as above.

    Returns:
        ``pyvista.UnstructuredGrid`` with ``n_points == mesh.n_nodes`` (3D points, the
        missing coordinates 0) and ``n_cells == mesh.n_cells``, in the mesh's order.

    Raises:
        InputError: not a Mesh, a name that is not a string, or an array of the wrong
            shape (the message gives the expected one).
    """
    if not isinstance(mesh, Mesh):
        raise InputError(f"to_pyvista expects a femopt Mesh, got {type(mesh).__name__}")
    grid = pv.UnstructuredGrid({VTK_CELL_TYPES[mesh.cell_type.name]: np.asarray(mesh.cells)},
                               padded_points(mesh.points))
    for name, values in _named(point_data, "point_data").items():
        grid.point_data[name] = point_array(mesh, values, name)
    for name, values in _named(cell_data, "cell_data").items():
        grid.cell_data[name] = cell_array(mesh, values, name)
    return grid


def padded_points(points: np.ndarray) -> np.ndarray:
    """``(n, dim)`` coordinates as ``(n, 3)`` float64 with zero trailing coordinates."""
    out = np.zeros((len(points), 3))
    out[:, : points.shape[1]] = points
    return out


def point_array(mesh: Mesh, values, name: str = "field") -> np.ndarray:
    """Nodal values ready for VTK: ``(n_nodes,)`` or ``(n_nodes, k)`` (see :func:`to_pyvista`)."""
    return _vtk_array(values, mesh.n_nodes, mesh.dim, f"point field {name!r}", "n_nodes",
                      hint_components=True)


def cell_array(mesh: Mesh, values, name: str = "field") -> np.ndarray:
    """Per-cell values ready for VTK: ``(n_cells,)`` or ``(n_cells, k)``."""
    return _vtk_array(values, mesh.n_cells, mesh.dim, f"cell field {name!r}", "n_cells")


def _named(data, what: str) -> dict:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InputError(f"{what} must be a mapping {{name: array}}, got {type(data).__name__}")
    for name in data:
        if not isinstance(name, str) or not name:
            raise InputError(f"{what} names must be non-empty strings, got {name!r}")
    return dict(data)


def _vtk_array(values, n: int, dim: int, what: str, rows: str, hint_components: bool = False):
    array = np.asarray(values)
    if array.dtype == bool:
        array = array.astype(np.uint8)  # VTK has no boolean arrays
    if array.dtype.kind not in "fiu":
        raise InputError(f"{what} must hold real numbers, got dtype {array.dtype}")
    if array.ndim == 0 or array.shape[0] != n:
        hint = ""
        if hint_components and array.ndim == 1 and n and array.size % n == 0:
            hint = (f"; a flat vector of {array.size} = {n} x {array.size // n} values is a dof "
                    f"vector: pass it as values.reshape({n}, {array.size // n}) "
                    f"(FunctionSpace.as_field does this)")
        raise InputError(f"{what} must have {rows} = {n} rows, got shape {array.shape}{hint}")
    if array.ndim == 3 and array.shape[1] == array.shape[2] and array.shape[1] <= 3:
        tensor = np.zeros((n, 3, 3), dtype=array.dtype)
        tensor[:, : array.shape[1], : array.shape[2]] = array
        return tensor.reshape(n, 9)
    if array.ndim > 2:
        raise InputError(f"{what} must be ({rows},), ({rows}, k) or ({rows}, d, d), got shape "
                         f"{array.shape}")
    if array.ndim == 2 and array.shape[1] == dim and dim < 3:
        array = np.concatenate([array, np.zeros((n, 3 - dim), dtype=array.dtype)], axis=1)
    return np.ascontiguousarray(array)


def cell_edges(mesh: Mesh, points: np.ndarray, lift: bool = True) -> pv.PolyData:
    """The cells' own edges at the 3D ``points`` ``(n_nodes, 3)`` (the mesh's, or moved):
    every cell edge of a 1D or 2D mesh, the edges of the boundary faces of a 3D mesh; a
    quadratic edge is two segments through its mid-edge node.

    VTK draws the edges of its triangulation of a quadratic cell, and lines lying on a
    surface flicker through it; so the edges come from femopt's facet tables and, with
    ``lift``, sit 0.1% of the mesh size off the surface, on its outer (2D: front) side."""
    ctype = mesh.cell_type
    if ctype.dim == 1:
        faces, edges = None, mesh.cells
    else:
        faces = mesh.cells if ctype.dim == 2 else mesh.facet_nodes(mesh.boundary_facets())
        face_type = ctype if ctype.dim == 2 else CELL_TYPES[ctype.facet_type]
        edges = faces[:, np.array(face_type.facets)].reshape(-1, len(face_type.facets[0]))
        _, first = np.unique(np.sort(edges[:, :2], axis=1), axis=0, return_index=True)
        edges = edges[np.sort(first)]
    if edges.shape[1] == 3:  # (corner, corner, middle) -> in order along the edge
        edges = edges[:, [0, 2, 1]]
    shown = np.array(points, dtype=np.float64)
    if lift and faces is not None:
        size = float(np.linalg.norm(np.ptp(shown, axis=0))) or 1.0
        n_corners = (ctype if ctype.dim == 2 else CELL_TYPES[ctype.facet_type]).n_corners
        shown += 1e-3 * size * _face_normals_at_nodes(shown, faces, n_corners)
    lines = np.hstack([np.full((len(edges), 1), edges.shape[1]), edges]).ravel()
    return pv.PolyData(shown, lines=lines)


def _face_normals_at_nodes(points: np.ndarray, faces: np.ndarray, n_corners: int) -> np.ndarray:
    """Unit vectors ``(n_nodes, 3)``: the mean normal (right-hand rule on the corner
    order) of the faces ``(n_faces, n_face_nodes)`` at their nodes; 0 elsewhere. Outward
    for boundary facets, +z for counterclockwise 2D cells."""
    p = points[faces[:, :n_corners]]
    if n_corners == 4:  # quadrilateral: cross product of the diagonals
        normal = np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])
    else:
        normal = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    total = np.zeros_like(points)
    np.add.at(total, faces, np.repeat(normal[:, None, :], faces.shape[1], axis=1))
    length = np.linalg.norm(total, axis=1, keepdims=True)
    return total / np.where(length > 0, length, 1.0)
