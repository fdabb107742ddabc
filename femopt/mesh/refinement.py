"""Uniform refinement of linear meshes, with the node-level prolongation that geometric
multigrid needs on an unstructured mesh hierarchy.

Every cell is split into ``2**dim`` children: a line into 2, a triangle into 4 by its
edge midpoints, a quad into 4 and a hex into 8 by their edge midpoints, face centres and
centre, a tet into 8 by red refinement (four corner tets, and the inner octahedron cut
into four along one of its three diagonals; J. Bey, "Tetrahedral grid refinement",
*Computing* 55 (1995) 355-378). The shortest diagonal is taken, cell by cell: the usual
choice, which gives the best-shaped inner tets (a long diagonal makes them flat).

The local bookkeeping uses the node ordering of the matching quadratic cell
(line3, tri6, quad9, tet10, hex27): its corners are the parent's nodes, its other nodes
sit exactly where the new nodes go (edge midpoints, face centres, the centre). Each new
node is *generated* by the parent corners it averages (2 for an edge, 4 for a quad face,
2**dim for a tensor cell's centre), and every table below (children, child facets on a
parent facet, new nodes inside a facet) is derived from those corner sets and the
reference coordinates of ``reference.py``, so nothing is written down twice.

Globally, edges and faces are found by their sorted corner nodes (one ``np.unique`` per
entity kind, no loop over cells), so a node shared by several cells is made once and the
fine mesh is conforming.
"""
from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from .cell_types import CellType, cell_type as _lookup
from .mesh import Mesh
from .reference import reference_nodes
from .topology import facet_corner_table, row_ids
from ..errors import InputError, InternalError

__all__ = ["Refinement", "refine"]

# The quadratic cell whose node ordering numbers a parent's corners and new nodes.
_EXTENDED = {"line2": "line3", "tri3": "tri6", "quad4": "quad9", "tet4": "tet10", "hex8": "hex27"}
SUPPORTED = tuple(_EXTENDED)


@dataclass(frozen=True, eq=False)
class Refinement:
    """How a refined mesh was made from its parent.

    Attributes:
        coarse: the mesh that was refined (its own ``refinement``, if any, continues the
            hierarchy down to the mesh first given to :func:`refine`).
        prolongation: ``(n_fine_nodes, n_coarse_nodes)`` CSR matrix: the nodal values of a
            coarse P1 / Q1 field at the fine nodes. Its first ``n_coarse_nodes`` rows are
            the identity; the row of a new node holds the weights ``1 / k`` of the ``k``
            corners it averages. Rows sum to 1.
    """

    coarse: Mesh
    prolongation: scipy.sparse.csr_matrix


@dataclass(frozen=True)
class _Tables:
    """Local tables of one cell type, in the extended (quadratic) node numbering.

    Attributes:
        supports: per extended node, the parent corners it averages (sorted tuple).
        entity_dim: per extended node, the dimension of the entity it belongs to
            (0 corner, 1 edge, 2 face, dim cell).
        children: ``(n_variants, n_children, n_corners)`` extended node ids of each child,
            in the cell type's ordering; tets have 3 variants (the octahedron diagonal).
        facet_children: ``(n_variants, n_facets, 2**(dim-1), 2)`` (child, local facet
            of the child) covering each parent facet.
        facet_new_nodes: ``(n_facets, m)`` extended ids of the new nodes inside each facet.
    """

    supports: tuple[tuple[int, ...], ...]
    entity_dim: np.ndarray
    children: np.ndarray
    facet_children: np.ndarray
    facet_new_nodes: np.ndarray


def refine(mesh: Mesh, levels: int = 1) -> Mesh:
    """Refine every cell uniformly, ``levels`` times.

    Fine nodes ``0 .. n_coarse - 1`` are the coarse nodes (same coordinates, same order);
    the new nodes follow: edge midpoints, then face centres (hex), then cell centres
    (quad, hex, line), each at the mean of the corners that generate it (the linear /
    multilinear map of the parent at that point). Children of cell ``c`` are the fine cells
    ``c * 2**dim .. (c + 1) * 2**dim - 1``, in VTK ordering, positively oriented when the
    parent is, and their measures sum to the parent's.

    Tags follow the children:

    * cell tags: every child of a tagged cell;
    * facet tags: the child facets (fine cell, local facet) covering each tagged facet;
    * node tags: the tag's coarse nodes, plus every new node inside a *boundary* facet of
      the coarse mesh whose corners are all in the tag (for line meshes: the midpoint of a
      cell whose two nodes are in the tag). A tag of the nodes of a boundary side (such
      as ``xmin`` of :func:`~femopt.mesh.box`) thus stays exactly the nodes of that side;
      new nodes in the interior, or on edges of the boundary that lie in no fully tagged
      facet, never join a node tag.

    Args:
        mesh: a mesh of ``line2``, ``tri3``, ``quad4``, ``tet4`` or ``hex8`` cells.
        levels: how many times to refine (0 returns ``mesh`` itself).

    Returns:
        The fine mesh. Its attribute ``refinement`` is a :class:`Refinement` whose
        ``coarse`` is the previous level (with its own ``refinement`` for ``levels > 1``),
        so a refined mesh carries its whole hierarchy.

    Raises:
        InputError: ``mesh`` is not a :class:`Mesh`, its cell type is not one of the
            supported ones (quadratic cells: refine the linear mesh instead), or
            ``levels`` is not an integer >= 0.
    """
    if not isinstance(mesh, Mesh):
        raise InputError(f"refine() expects a femopt Mesh, got {type(mesh).__name__}")
    if mesh.cell_type.name not in _EXTENDED:
        raise InputError(
            f"refine() supports the cell types {list(SUPPORTED)}, got a mesh of "
            f"{mesh.cell_type.name} cells; quadratic cells are not refined: build the mesh with "
            f"linear cells (e.g. cell='{_linear_counterpart(mesh.cell_type)}') and refine that")
    if isinstance(levels, bool) or not isinstance(levels, numbers.Integral) or levels < 0:
        raise InputError(f"refine() expects levels to be an integer >= 0, got {levels!r}")
    for _ in range(int(levels)):
        fine, prolongation = _refine_once(mesh)
        fine.refinement = Refinement(mesh, prolongation)
        mesh = fine
    return mesh


def _linear_counterpart(ctype: CellType) -> str:
    family = {("simplex", 1): "line2", ("tensor", 1): "line2", ("simplex", 2): "tri3",
              ("tensor", 2): "quad4", ("simplex", 3): "tet4", ("tensor", 3): "hex8"}
    return family[(ctype.family, ctype.dim)]


def _refine_once(mesh: Mesh) -> tuple[Mesh, scipy.sparse.csr_matrix]:
    ctype = mesh.cell_type
    tables = _tables(ctype.name)
    cells, n_coarse, n_cells = mesh.cells, mesh.n_nodes, mesh.n_cells
    n_corners, dim = ctype.n_corners, ctype.dim
    n_extended = len(tables.supports)

    # extended[c, i]: global fine node id of extended local node i of cell c.
    extended = np.empty((n_cells, n_extended), dtype=np.int64)
    extended[:, :n_corners] = cells
    generators = []  # per entity kind: (n_entities, k) coarse corner nodes, sorted
    next_id = n_coarse
    for entity in range(1, dim + 1):
        local = np.flatnonzero(tables.entity_dim == entity)
        if local.size == 0:
            continue
        support = np.array([tables.supports[i] for i in local], dtype=np.int64)  # (m, k)
        corners = cells[:, support]  # (n_cells, m, k)
        if entity == dim:  # the cell itself: one node per cell, in cell order
            corners = np.sort(corners.reshape(n_cells, -1), axis=1)
            extended[:, local[0]] = next_id + np.arange(n_cells)
        else:
            keys = np.sort(corners.reshape(-1, support.shape[1]), axis=1)
            unique, inverse = np.unique(row_ids(keys, n_coarse), return_inverse=True)
            inverse = inverse.reshape(n_cells, len(local))
            extended[:, local] = next_id + inverse
            # One occurrence of each entity (any will do: equal ids, equal keys); cheaper
            # than np.unique's return_index, which needs a stable sort.
            occurrence = np.empty(len(unique), dtype=np.int64)
            occurrence[inverse.ravel()] = np.arange(inverse.size)
            corners = keys[occurrence]
        generators.append(corners)
        next_id += len(corners)

    points = np.empty((next_id, mesh.dim))
    points[:n_coarse] = mesh.points
    start = n_coarse
    for corners in generators:
        points[start:start + len(corners)] = _corner_mean(mesh.points, corners)
        start += len(corners)
    prolongation = _prolongation(n_coarse, generators)

    variant = _variants(mesh.points, cells, tables)
    n_children = tables.children.shape[1]
    if len(tables.children) == 1:  # np.take: several times faster than fancy indexing here
        fine_cells = np.take(extended, tables.children[0].ravel(), axis=1)
    else:
        flat_children = tables.children.reshape(len(tables.children), -1)
        fine_cells = np.take_along_axis(extended, flat_children[variant], axis=1)
    fine_cells = fine_cells.reshape(-1, n_corners)
    # Read-only arrays are taken over by Mesh without a copy.
    points.flags.writeable = False
    fine_cells.flags.writeable = False

    fine = Mesh(points, fine_cells, ctype,
                node_tags=_node_tags(mesh, extended, tables),
                facet_tags={name: _child_facets(facets, variant, tables, n_children)
                            for name, facets in mesh.facet_tags.items()},
                cell_tags={name: (ids[:, None] * n_children + np.arange(n_children)).ravel()
                           for name, ids in mesh.cell_tags.items()},
                # New nodes are distinct by construction, and the children are pieces of
                # their parent's affine / multilinear map (valid where the parent is), so
                # neither the coincident-node search nor the cell check (which would cost
                # more than the refinement itself) is run.
                check=False)
    return fine, prolongation


def _corner_mean(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Mean of the coordinates of ``corners`` ``(m, k)``, k a power of two, as ``(m, dim)``.

    Averaged pairwise (a tree), so that nodes generated by corners sharing a coordinate
    get exactly that coordinate: a new node on the side ``x == 0.3`` of a mesh has
    ``x == 0.3`` bit for bit, and side selections by ``==`` keep working on the fine mesh.
    """
    out = np.empty((len(corners), points.shape[1]))
    for axis in range(points.shape[1]):
        values = points[:, axis][corners]
        while values.shape[1] > 1:
            half = values.shape[1] // 2
            values = 0.5 * (values[:, :half] + values[:, half:])
        out[:, axis] = values[:, 0]
    return out


def _prolongation(n_coarse: int, generators) -> scipy.sparse.csr_matrix:
    """Identity on the coarse nodes, then one row per new node with weight ``1 / k`` on
    each of its ``k`` generating corners (sorted columns)."""
    n_fine = n_coarse + sum(len(g) for g in generators)
    nnz = n_coarse + sum(g.size for g in generators)
    # int32 indices when they fit, as SciPy would pick (it would copy int64 ones to get there).
    index = np.int32 if nnz < 2 ** 31 - 1 else np.int64
    indices = np.concatenate([np.arange(n_coarse, dtype=index)]
                             + [g.ravel().astype(index) for g in generators])
    data = np.concatenate([np.ones(n_coarse)] + [np.full(g.size, 1.0 / g.shape[1]) for g in generators])
    lengths = np.concatenate([np.ones(n_coarse, dtype=index)]
                             + [np.full(len(g), g.shape[1], dtype=index) for g in generators])
    indptr = np.zeros(n_fine + 1, dtype=index)
    np.cumsum(lengths, out=indptr[1:])
    matrix = scipy.sparse.csr_matrix((data, indices, indptr), shape=(n_fine, n_coarse))
    matrix.has_sorted_indices = True
    return matrix


def _variants(points: np.ndarray, cells: np.ndarray, tables: _Tables) -> np.ndarray:
    """Which children variant each cell uses, ``(n_cells,)``: for tets the index of the
    shortest octahedron diagonal (the segment between opposite edge midpoints), else 0."""
    if len(tables.children) == 1:
        return np.zeros(len(cells), dtype=np.int64)
    lengths = []
    for a, b, c, d in _TET_DIAGONALS:
        # |m_ab - m_cd|^2 = |x_a + x_b - x_c - x_d|^2 / 4
        gap = points[cells[:, a]] + points[cells[:, b]] - points[cells[:, c]] - points[cells[:, d]]
        lengths.append(np.einsum("ij,ij->i", gap, gap))
    return np.argmin(np.stack(lengths, axis=1), axis=1)


def _child_facets(facets: np.ndarray, variant: np.ndarray, tables: _Tables,
                  n_children: int) -> np.ndarray:
    """Fine facets ``(n * 2**(dim-1), 2)`` covering the coarse facets ``(n, 2)``."""
    sub = tables.facet_children[variant[facets[:, 0]], facets[:, 1]]  # (n, m, 2)
    fine_cell = facets[:, :1] * n_children + sub[:, :, 0]
    return np.stack([fine_cell, sub[:, :, 1]], axis=2).reshape(-1, 2)


def _node_tags(mesh: Mesh, extended: np.ndarray, tables: _Tables) -> dict:
    """The coarse tags plus the new nodes inside fully tagged boundary facets (for line
    meshes: the midpoints of cells whose two nodes are tagged)."""
    if not mesh.node_tags:
        return {}
    ctype = mesh.cell_type
    if ctype.dim == 1:
        owners, new_nodes = mesh.cells, extended[:, tables.supports.index((0, 1)), None]
    else:
        boundary = mesh.boundary_facets()
        owners = mesh.cells[boundary[:, :1], facet_corner_table(ctype)[boundary[:, 1]]]
        new_nodes = extended[boundary[:, :1], tables.facet_new_nodes[boundary[:, 1]]]
    tags = {}
    for name, nodes in mesh.node_tags.items():
        in_tag = np.zeros(mesh.n_nodes, dtype=bool)
        in_tag[nodes] = True
        inside = in_tag[owners].all(axis=1)
        tags[name] = np.union1d(nodes, new_nodes[inside].ravel())
    return tags


# ------------------------------------------------------------------------ local tables
# Opposite tet edges (a, b) and (c, d): the three diagonals of the inner octahedron.
_TET_DIAGONALS = ((0, 1, 2, 3), (0, 2, 1, 3), (0, 3, 1, 2))


@functools.cache
def _tables(name: str) -> _Tables:
    ctype = _lookup(name)
    extended_type = _lookup(_EXTENDED[name])
    reference = reference_nodes(extended_type)  # (n_extended, dim)
    corners = reference[: ctype.n_corners]
    supports, entity_dim = [], []
    for point in reference:
        if ctype.family == "simplex":
            barycentric = np.concatenate([[1.0 - point.sum()], point])
            support = tuple(np.flatnonzero(barycentric > 0.0).tolist())
            entity_dim.append(len(support) - 1)
        else:
            fixed = point != 0.0  # a node of a tensor cell lies on the face where these stay fixed
            support = tuple(np.flatnonzero(np.all(corners[:, fixed] == point[fixed], axis=1)).tolist())
            entity_dim.append(int(np.count_nonzero(~fixed)))
        supports.append(support)

    def node_at(point):
        return int(np.flatnonzero(np.all(np.isclose(reference, point), axis=1))[0])

    # Child at corner i: the parent shrunk by 1/2 towards corner i; its node k sits
    # halfway between corners i and k, so it keeps the parent's node order and orientation.
    corner_children = [[node_at(0.5 * (corners[i] + corners[k])) for k in range(ctype.n_corners)]
                       for i in range(ctype.n_corners)]
    if ctype.name == "tri3":
        inner = [[_oriented([node_at(0.5 * (corners[a] + corners[b])) for a, b in ((0, 1), (1, 2), (2, 0))],
                            reference)]]
    elif ctype.name == "tet4":
        inner = [_octahedron(diagonal, node_at, corners, reference) for diagonal in _TET_DIAGONALS]
    else:
        inner = [[]]
    children = np.array([corner_children + tets for tets in inner], dtype=np.int64)

    facet_children, facet_new = [], []
    for facet in ctype.facets:
        on_facet = set(facet)
        facet_new.append([i for i in range(ctype.n_corners, len(reference))
                          if set(supports[i]) <= on_facet])
    for variant in children:
        per_facet = []
        for facet in ctype.facets:
            on_facet = set(facet)
            per_facet.append([(c, g) for c, child in enumerate(variant)
                              for g, child_facet in enumerate(ctype.facets)
                              if all(set(supports[child[k]]) <= on_facet for k in child_facet)])
        facet_children.append(per_facet)
    facet_children = np.array(facet_children, dtype=np.int64)
    if facet_children.shape[2] != 2 ** (ctype.dim - 1):
        raise InternalError(f"refine: {name} facets have {facet_children.shape[2]} children, "
                            f"expected {2 ** (ctype.dim - 1)}; this is a bug in femopt")
    return _Tables(tuple(supports), np.array(entity_dim), children, facet_children,
                   np.array(facet_new, dtype=np.int64).reshape(ctype.n_facets, -1))


def _octahedron(diagonal, node_at, corners, reference) -> list[list[int]]:
    """The 4 tets around one diagonal of a tet's inner octahedron, positively oriented.

    The diagonal joins the midpoints of edges (a, b) and (c, d); the other four edge
    midpoints form the octahedron's equator, visited in cyclic order (consecutive ones
    share a parent corner)."""
    a, b, c, d = diagonal
    mid = lambda i, j: node_at(0.5 * (corners[i] + corners[j]))  # noqa: E731
    top, bottom = mid(a, b), mid(c, d)
    equator = [mid(a, c), mid(a, d), mid(b, d), mid(b, c)]
    return [_oriented([top, bottom, equator[k], equator[(k + 1) % 4]], reference) for k in range(4)]


def _oriented(nodes: list[int], reference: np.ndarray) -> list[int]:
    """The simplex ``nodes`` (extended ids), with its last two swapped if its reference
    volume is negative."""
    edges = reference[nodes[1:]] - reference[nodes[0]]
    if np.linalg.det(edges) < 0.0:
        nodes = nodes[:-2] + [nodes[-1], nodes[-2]]
    return nodes
