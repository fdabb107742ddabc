"""Cell types: node counts, reference-node ordering and facet tables.

Every cell type uses VTK / meshio node ordering, so meshes read through meshio need
no permutation. A facet is listed by the local nodes of its parent cell, ordered so
that the right-hand rule (3D) or the edge direction rotated clockwise (2D) gives the
outward normal.

Quadratic facet tables are derived from the corner facets and the edge / face-centre
node tables, so the corner ordering is written down once per family.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CellType", "CELL_TYPES", "cell_type", "from_meshio_name"]


@dataclass(frozen=True)
class CellType:
    """Topology of one Lagrange cell type.

    Attributes:
        name: femopt name, e.g. ``"hex8"``.
        meshio_name: the name meshio / VTK uses, e.g. ``"hexahedron"``.
        dim: topological dimension.
        n_nodes: nodes per cell.
        n_corners: corner (vertex) nodes per cell; the first ``n_corners`` nodes.
        order: polynomial order of the geometry (1 linear, 2 quadratic).
        family: ``"simplex"`` or ``"tensor"``.
        facet_type: name of the facet cell type (``None`` for 1D cells).
        facets: local node ids of each facet, shape ``(n_facets, n_facet_nodes)``.
    """

    name: str
    meshio_name: str
    dim: int
    n_nodes: int
    n_corners: int
    order: int
    family: str
    facet_type: str | None
    facets: tuple[tuple[int, ...], ...] = field(repr=False)

    @property
    def n_facets(self) -> int:
        return len(self.facets)


def _edge_table(edges):
    """Map an unordered corner pair to the mid-edge node id."""
    return {frozenset(e[:2]): e[2] for e in edges}


def _quadratic_facets(corner_facets, edges, face_centres=None, centre=None):
    """Facet node lists for quadratic cells: corners, then mid-edge nodes in cyclic
    order, then (for quad9/hex27 faces) the face-centre node."""
    mid = _edge_table(edges)
    out = []
    for i, corners in enumerate(corner_facets):
        if len(corners) == 2:
            out.append(tuple(corners) + (mid[frozenset(corners)],))
            continue
        n = len(corners)
        mids = tuple(mid[frozenset((corners[k], corners[(k + 1) % n]))] for k in range(n))
        extra = (face_centres[i],) if face_centres is not None else ()
        out.append(tuple(corners) + mids + extra)
    return tuple(out)


_LINE = ((0,), (1,))
_TRI_EDGES = ((0, 1), (1, 2), (2, 0))
_QUAD_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0))
# Tetrahedron faces, outward by the right-hand rule.
_TET_FACES = ((0, 2, 1), (0, 1, 3), (1, 2, 3), (0, 3, 2))
# VTK tet10 mid-edge nodes: 4:01 5:12 6:20 7:03 8:13 9:23.
_TET10_EDGES = ((0, 1, 4), (1, 2, 5), (2, 0, 6), (0, 3, 7), (1, 3, 8), (2, 3, 9))
# Hexahedron faces, outward; ordered x-, x+, y-, y+, z-, z+ to match VTK's hex27
# face-centre nodes 20..25.
_HEX_FACES = ((0, 4, 7, 3), (1, 2, 6, 5), (0, 1, 5, 4), (3, 7, 6, 2), (0, 3, 2, 1), (4, 5, 6, 7))
# VTK hex20 mid-edge nodes: bottom 8-11, top 12-15, vertical 16-19.
_HEX20_EDGES = (
    (0, 1, 8), (1, 2, 9), (2, 3, 10), (3, 0, 11),
    (4, 5, 12), (5, 6, 13), (6, 7, 14), (7, 4, 15),
    (0, 4, 16), (1, 5, 17), (2, 6, 18), (3, 7, 19),
)
_TRI6_EDGES = ((0, 1, 3), (1, 2, 4), (2, 0, 5))
_QUAD8_EDGES = ((0, 1, 4), (1, 2, 5), (2, 3, 6), (3, 0, 7))

CELL_TYPES: dict[str, CellType] = {
    c.name: c
    for c in (
        CellType("line2", "line", 1, 2, 2, 1, "tensor", None, _LINE),
        CellType("line3", "line3", 1, 3, 2, 2, "tensor", None, _LINE),
        CellType("tri3", "triangle", 2, 3, 3, 1, "simplex", "line2", _TRI_EDGES),
        CellType("tri6", "triangle6", 2, 6, 3, 2, "simplex", "line3",
                 _quadratic_facets(_TRI_EDGES, _TRI6_EDGES)),
        CellType("quad4", "quad", 2, 4, 4, 1, "tensor", "line2", _QUAD_EDGES),
        CellType("quad8", "quad8", 2, 8, 4, 2, "tensor", "line3",
                 _quadratic_facets(_QUAD_EDGES, _QUAD8_EDGES)),
        CellType("quad9", "quad9", 2, 9, 4, 2, "tensor", "line3",
                 _quadratic_facets(_QUAD_EDGES, _QUAD8_EDGES)),
        CellType("tet4", "tetra", 3, 4, 4, 1, "simplex", "tri3", _TET_FACES),
        CellType("tet10", "tetra10", 3, 10, 4, 2, "simplex", "tri6",
                 _quadratic_facets(_TET_FACES, _TET10_EDGES)),
        CellType("hex8", "hexahedron", 3, 8, 8, 1, "tensor", "quad4", _HEX_FACES),
        CellType("hex20", "hexahedron20", 3, 20, 8, 2, "tensor", "quad8",
                 _quadratic_facets(_HEX_FACES, _HEX20_EDGES)),
        CellType("hex27", "hexahedron27", 3, 27, 8, 2, "tensor", "quad9",
                 _quadratic_facets(_HEX_FACES, _HEX20_EDGES, face_centres=range(20, 26))),
    )
}

_BY_MESHIO = {c.meshio_name: c for c in CELL_TYPES.values()}


def cell_type(name: str | CellType) -> CellType:
    """Look up a cell type by femopt or meshio name."""
    if isinstance(name, CellType):
        return name
    key = str(name).lower()
    if key in CELL_TYPES:
        return CELL_TYPES[key]
    if key in _BY_MESHIO:
        return _BY_MESHIO[key]
    raise ValueError(
        f"unsupported cell type {name!r}; femopt supports {sorted(CELL_TYPES)} "
        f"(meshio names {sorted(_BY_MESHIO)})"
    )


def from_meshio_name(name: str) -> CellType | None:
    """The femopt cell type for a meshio cell-block name, or None if unsupported."""
    return _BY_MESHIO.get(name)
