"""Structured meshes on a lattice: the machinery behind every generator.

A block of ``shape = (n_0, ..., n_{d-1})`` boxes is meshed on a lattice of
``order * n_k + 1`` points per axis (quadratic cells use the doubled lattice and pick
their mid nodes from it). Each box holds one tensor cell or several simplices, whose
nodes are read off the reference coordinates of the cell type, so the VTK node ordering
comes from ``cell_types.py`` alone. Lattice points no cell uses (cell and face centres
of serendipity cells) are dropped. Everything is vectorized over boxes.

Memory: the estimate of :func:`lattice_memory_bytes` is checked against what is
available before anything is allocated, and the arrays are built in place or in chunks,
so that the peak stays close to the final ``points`` and ``cells`` (1.1-1.5 times them
for a million cells, under 2 for a few hundred thousand, measured with tracemalloc;
the straightforward vectorized version peaked at 4-10 times).

Coordinates come from per-axis parameter values and a mapping, so mapped generators
(annulus, plate with a hole) place every node, mid nodes included, on the exact
geometry. Sides are tagged by predicates on integer lattice indices: exact, no
tolerances.
"""
from __future__ import annotations

import itertools
import math
from typing import Callable, Mapping, Sequence

import numpy as np

from .cell_types import CellType
from .mesh import Mesh
from .quality import CHECK_CHUNK
from .reference import reference_nodes
from .topology import facet_corner_table
from .._memory import available_memory_bytes, check_memory, format_bytes

__all__ = ["lattice_mesh", "axis_values", "lattice_memory_bytes", "check_lattice_memory"]

SidePredicate = Callable[[np.ndarray], np.ndarray]
# Nodes per chunk when coordinates are made (and lattice ids renumbered, 16 times as many).
_NODE_CHUNK = 1 << 14


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


def _cells_per_box(ctype: CellType) -> int:
    return 1 if ctype.family == "tensor" else (2 if ctype.dim == 2 else 6)


def _node_count(shape: Sequence[int], ctype: CellType) -> int:
    """Nodes of the block: every lattice point, except for serendipity cells (quad8,
    hex20) the points odd along more than one axis (cell and face centres)."""
    if ctype.order == 1:
        return math.prod([n + 1 for n in shape])
    serendipity = ctype.family == "tensor" and ctype.n_nodes < 3 ** ctype.dim
    max_odd = 1 if serendipity else len(shape)
    count = 0
    for odd in itertools.product((False, True), repeat=len(shape)):
        if sum(odd) <= max_odd:
            count += math.prod([n if o else n + 1 for n, o in zip(shape, odd)])
    return count


def lattice_memory_bytes(shape: Sequence[int], ctype: CellType) -> int:
    """Estimated peak memory of :func:`lattice_mesh`, in bytes, from the shape alone.

    The final ``cells`` and ``points`` arrays plus the largest transient of the phases:
    box corners while the cells are built; the lattice mask (and for serendipity cells
    the renumbering); the cells of the boundary boxes while the sides are tagged; one
    chunk of coordinates; one chunk of validation.
    """
    d, nn = ctype.dim, ctype.n_nodes
    n_boxes = math.prod(shape)
    per_box = _cells_per_box(ctype)
    n_lattice = math.prod([ctype.order * n + 1 for n in shape])
    n_nodes = _node_count(shape, ctype)
    n_boundary_boxes = n_boxes - math.prod([max(n - 2, 0) for n in shape])
    final = 8 * n_boxes * per_box * nn + 8 * n_nodes * d
    renumbered = n_nodes < n_lattice
    kept = 8 * n_nodes if renumbered else 0  # lattice id of every node, until the points are made
    transient = max(9 * n_boxes,
                    n_lattice + (8 * n_lattice + kept if renumbered else 0),
                    kept + 32 * n_boundary_boxes * per_box * nn,
                    kept + 128 * d * min(n_nodes, _NODE_CHUNK),
                    8 * min(n_boxes * per_box, CHECK_CHUNK) * ctype.n_corners * (d + 4))
    return final + transient


def lattice_mesh(shape: Sequence[int], ctype: CellType, values: Sequence[np.ndarray],
                 mapping: Callable[[np.ndarray], np.ndarray] | None,
                 sides: Mapping[str, SidePredicate], describe: Callable[[tuple], str]) -> Mesh:
    """Mesh a block of boxes.

    Args:
        shape: boxes per axis ``(n_0, ..., n_{d-1})``, d = ``ctype.dim``.
        ctype: the cell type.
        values: per axis the ``order * n_k + 1`` parameter values of the lattice lines
            (see :func:`axis_values`).
        mapping: ``(n, d)`` parameters -> ``(n, d)`` coordinates, row by row (it is
            called on chunks of nodes); None for identity. Must preserve orientation
            (positive Jacobian).
        sides: ``{name: predicate}``; a predicate gets the ``(m, d)`` integer lattice
            indices of some nodes (those of the boxes on the block boundary) and returns
            a bool mask ``(m,)``. A boundary facet whose corners all satisfy it gets the
            facet tag ``name``; its nodes get the node tag ``name``.
        describe: the generator call for a given ``shape``, in words (for the message
            of a memory refusal and the smaller call it suggests).

    Returns:
        A checked :class:`Mesh`; nodes numbered with axis 0 fastest, cells box by box.

    Raises:
        ResourceError: the estimated memory (:func:`lattice_memory_bytes`) exceeds what is
            available; raised before anything is allocated.
    """
    d, order = ctype.dim, ctype.order
    shape = tuple(int(n) for n in shape)
    check_lattice_memory(shape, ctype, describe)
    extent = np.array([order * n + 1 for n in shape], dtype=np.int64)
    stride = np.concatenate([[1], np.cumprod(extent)[:-1]]).astype(np.int64)
    offsets = _box_offsets(ctype)  # (n_per_box, n_nodes_per_cell, d)
    n_boxes, per_box = int(np.prod(shape)), len(offsets)

    # Lattice id of each box's first corner, axis 0 fastest: a sum of per-axis terms
    # broadcast over the block, with no (n_boxes, d) index array.
    base = np.zeros(shape[::-1], dtype=np.int64)
    on_edge = np.zeros(shape[::-1], dtype=bool)
    for k in range(d):
        along = [1] * d
        along[d - 1 - k] = shape[k]
        steps = np.arange(shape[k])
        base += (order * stride[k] * steps).reshape(along)
        on_edge |= ((steps == 0) | (steps == shape[k] - 1)).reshape(along)
    cells = np.empty((n_boxes, per_box * ctype.n_nodes), dtype=np.int64)
    np.add(base.reshape(-1, 1), (offsets @ stride).reshape(1, -1), out=cells)
    del base
    cells = cells.reshape(-1, ctype.n_nodes)
    # Only boxes on the block boundary can hold boundary facets.
    candidates = (np.flatnonzero(on_edge.ravel())[:, None] * per_box + np.arange(per_box)).ravel()
    del on_edge

    lattice_ids = _renumber(cells, int(np.prod(extent)))
    n_nodes = int(np.prod(extent)) if lattice_ids is None else len(lattice_ids)
    node_lattice = (lambda ids: ids) if lattice_ids is None else (lambda ids: lattice_ids[ids])
    facet_tags, node_tags = _tag_sides(cells, candidates, ctype, sides,
                                       lambda ids: (node_lattice(ids)[:, None] // stride) % extent)
    points = None
    for start in range(0, n_nodes, _NODE_CHUNK):
        ids = node_lattice(np.arange(start, min(start + _NODE_CHUNK, n_nodes), dtype=np.int64))
        params = np.stack([np.asarray(values[k])[(ids // stride[k]) % extent[k]] for k in range(d)], axis=1)
        chunk = params if mapping is None else mapping(params)
        if points is None:
            points = np.empty((n_nodes, chunk.shape[1]))
        points[start:start + len(chunk)] = chunk
    del lattice_ids, node_lattice
    # Read-only arrays are taken over by Mesh without a copy.
    points.flags.writeable = False
    cells.flags.writeable = False
    return Mesh(points, cells, ctype, node_tags=node_tags, facet_tags=facet_tags,
                coincident="ignore")  # lattice nodes are distinct by construction


def check_lattice_memory(shape: Sequence[int], ctype: CellType, describe: Callable[[tuple], str]) -> None:
    """ResourceError when :func:`lattice_memory_bytes` exceeds the available memory; a
    generator calls it before it makes even its axis values (``np.linspace`` of a
    billion-box axis alone fills gigabytes)."""
    estimate = lattice_memory_bytes(shape, ctype)
    available = available_memory_bytes()
    if available is None or estimate <= available:
        return
    scale = (available / estimate) ** (1.0 / len(shape))
    while True:  # memory is not quite linear in the number of boxes: shrink until it fits
        scale *= 0.95
        smaller = tuple(max(1, int(n * scale)) for n in shape)
        if lattice_memory_bytes(smaller, ctype) <= 0.9 * available or max(smaller) == 1:
            break
    check_memory(estimate, describe(shape), hint=f"Use a coarser mesh, e.g. {describe(smaller)} "
                 f"(about {format_bytes(lattice_memory_bytes(smaller, ctype))}).")


def _renumber(cells: np.ndarray, n_lattice: int) -> np.ndarray | None:
    """Number the lattice points the cells use consecutively, in place; returns the
    lattice id of each node, or None when every lattice point is used (node id = lattice id)."""
    used = np.zeros(n_lattice, dtype=bool)
    used[cells.ravel()] = True
    if used.all():
        return None
    new_id = np.cumsum(used) - 1
    flat = cells.reshape(-1)
    for start in range(0, flat.size, _NODE_CHUNK * 16):
        part = flat[start:start + _NODE_CHUNK * 16]
        part[:] = new_id[part]
    del new_id
    return np.flatnonzero(used)


def _tag_sides(cells, candidates, ctype: CellType, sides, lattice_index):
    """Facet and node tags of the sides, from the cells of the boundary boxes."""
    corner_table = facet_corner_table(ctype)
    table = np.array(ctype.facets, dtype=np.int64)
    near = cells[candidates]
    nodes, position = np.unique(near, return_inverse=True)
    position = position.reshape(near.shape)
    index = lattice_index(nodes)  # (len(nodes), d)
    facet_tags, node_tags = {}, {}
    for name, predicate in sides.items():
        on_side = np.asarray(predicate(index), dtype=bool)
        hits = on_side[position[:, corner_table]].all(axis=2)  # (n_candidates, n_facets)
        cell_ids, local = np.nonzero(hits)
        facets = np.stack([candidates[cell_ids], local], axis=1)
        facet_tags[name] = facets
        node_tags[name] = np.unique(cells[facets[:, :1], table[facets[:, 1]]])
    return facet_tags, node_tags
