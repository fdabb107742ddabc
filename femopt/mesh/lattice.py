"""Structured meshes on a lattice: the machinery behind every generator.

A block of ``shape = (n_0, ..., n_{d-1})`` boxes is meshed on a lattice of
``order * n_k + 1`` points per axis (quadratic cells use the doubled lattice and pick
their mid nodes from it). Each box holds one tensor cell or several simplices, whose
nodes are read off the reference coordinates of the cell type, so the VTK node ordering
comes from ``cell_types.py`` alone. Lattice points no cell uses (cell and face centres
of serendipity cells) are dropped. Everything is vectorized over boxes.

Coordinates come from per-axis parameter values and a mapping, so mapped generators
(annulus, plate with a hole) place every node, mid nodes included, on the exact
geometry. Sides are tagged by predicates on integer lattice indices: exact, no
tolerances.
"""
from __future__ import annotations

import itertools
from typing import Callable, Mapping, Sequence

import numpy as np

from .cell_types import CellType
from .mesh import Mesh
from .reference import reference_nodes
from .topology import facet_corner_table

__all__ = ["lattice_mesh", "axis_values"]

SidePredicate = Callable[[np.ndarray], np.ndarray]


def axis_values(vertices: np.ndarray, order: int) -> np.ndarray:
    """Parameter values of the lattice lines along one axis: the ``n + 1`` vertex values,
    and for ``order == 2`` the midpoints in between, ``(order * n + 1,)``."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if order == 1:
        return vertices
    values = np.empty(2 * len(vertices) - 1)
    values[::2] = vertices
    values[1::2] = 0.5 * (vertices[:-1] + vertices[1:])
    return values


def _kuhn_simplices(dim: int) -> np.ndarray:
    """Positively oriented simplices of the unit box, ``(n_simplices, dim + 1, dim)`` box
    corners in {0, 1}. Kuhn's triangulation (one simplex per axis permutation, all
    sharing the main diagonal) is the same in every box, hence conforming."""
    simplices = []
    for perm in itertools.permutations(range(dim)):
        path = [np.zeros(dim, dtype=np.int64)]
        for axis in perm:
            step = path[-1].copy()
            step[axis] = 1
            path.append(step)
        edges = np.array(path[1:]) - path[0]
        if np.linalg.det(edges) < 0:
            path[-1], path[-2] = path[-2], path[-1]
        simplices.append(path)
    return np.array(simplices)


def _box_offsets(ctype: CellType) -> np.ndarray:
    """Lattice offsets of each cell's nodes inside one box,
    ``(n_cells_per_box, n_nodes_per_cell, dim)`` ints in ``0..order``."""
    ref = reference_nodes(ctype)
    if ctype.family == "tensor":
        return np.rint((ref + 1.0) * ctype.order / 2.0).astype(np.int64)[None]
    if ctype.dim == 2:
        # Two counterclockwise triangles sharing the (0,0)-(1,1) diagonal.
        simplices = np.array([[[0, 0], [1, 0], [1, 1]], [[0, 0], [1, 1], [0, 1]]])
    else:
        simplices = _kuhn_simplices(3)
    barycentric = np.concatenate([1.0 - ref.sum(axis=1, keepdims=True), ref], axis=1)
    offsets = np.einsum("nj,sjd->snd", barycentric, simplices) * ctype.order
    return np.rint(offsets).astype(np.int64)


def lattice_mesh(shape: Sequence[int], ctype: CellType, values: Sequence[np.ndarray],
                 mapping: Callable[[np.ndarray], np.ndarray] | None,
                 sides: Mapping[str, SidePredicate]) -> Mesh:
    """Mesh a block of boxes.

    Args:
        shape: boxes per axis ``(n_0, ..., n_{d-1})``, d = ``ctype.dim``.
        ctype: the cell type.
        values: per axis the ``order * n_k + 1`` parameter values of the lattice lines
            (see :func:`axis_values`).
        mapping: ``(n, d)`` parameters -> ``(n, dim)`` coordinates; None for identity.
            Must preserve orientation (positive Jacobian).
        sides: ``{name: predicate}``; a predicate gets the ``(n_nodes, d)`` integer
            lattice indices and returns a bool mask. A boundary facet whose corners all
            satisfy it gets the facet tag ``name``; its nodes get the node tag ``name``.

    Returns:
        A checked :class:`Mesh`; nodes numbered with axis 0 fastest, cells box by box.
    """
    d, order = ctype.dim, ctype.order
    shape = tuple(int(n) for n in shape)
    extent = np.array([order * n + 1 for n in shape], dtype=np.int64)
    stride = np.concatenate([[1], np.cumprod(extent)[:-1]]).astype(np.int64)
    # Lattice id of each box's first corner, axis 0 fastest.
    box_index = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    box_index = box_index.transpose(*range(d - 1, -1, -1), d).reshape(-1, d)  # (n_boxes, d)
    base = (order * box_index) @ stride
    offsets = _box_offsets(ctype)  # (n_per_box, n_nodes_per_cell, d)
    cells = (base[:, None, None] + offsets @ stride).reshape(-1, ctype.n_nodes)

    used = np.zeros(int(np.prod(extent)), dtype=bool)
    used[cells.ravel()] = True
    new_id = np.cumsum(used) - 1
    cells = new_id[cells]
    lattice_ids = np.flatnonzero(used)
    index = (lattice_ids[:, None] // stride) % extent  # (n_nodes, d) lattice indices
    params = np.stack([np.asarray(values[k])[index[:, k]] for k in range(d)], axis=1)
    points = params if mapping is None else mapping(params)

    # Only boxes on the block boundary can hold boundary facets.
    on_edge = np.any((box_index == 0) | (box_index == np.array(shape) - 1), axis=1)
    candidates = np.flatnonzero(np.repeat(on_edge, len(offsets)))
    corner_table = facet_corner_table(ctype)
    facet_tags, node_tags = {}, {}
    table = np.array(ctype.facets, dtype=np.int64)
    for name, predicate in sides.items():
        on_side = np.asarray(predicate(index), dtype=bool)
        hits = on_side[cells[candidates][:, corner_table]].all(axis=2)  # (n_candidates, n_facets)
        cell_ids, local = np.nonzero(hits)
        facets = np.stack([candidates[cell_ids], local], axis=1)
        facet_tags[name] = facets
        node_tags[name] = np.unique(cells[facets[:, :1], table[facets[:, 1]]])
    return Mesh(points, cells, ctype, node_tags=node_tags, facet_tags=facet_tags)
