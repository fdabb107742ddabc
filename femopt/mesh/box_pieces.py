"""One rank's piece of a structured box or rectangle, built without the whole mesh.

The boxes of ``box(shape=...)`` / ``rectangle(shape=...)`` are split among the ranks by a
process grid (:func:`grid_split`): along axis k the boxes are cut into ``p_k`` nearly
equal consecutive blocks, and block ``(i, j, k)`` is rank ``i + p_0 * (j + p_1 * k)``
(:func:`grid_cell_part` gives the rank of every cell of the serial mesh).

:func:`box_piece` and :func:`rectangle_piece` mesh only the rank's block
(:func:`~femopt.mesh.lattice.lattice_mesh` on the global lattice lines, with the side
predicates on global lattice indices), so memory is proportional to the piece. Every
number of :class:`~femopt.mesh.pieces.MeshPiece` is arithmetic on lattice indices:

* the owner of a lattice node is, per axis, the lowest block whose boxes hold it; as the
  rank grows with each block index, this is the lowest rank among the cells touching the
  node (the convention of :mod:`femopt.mesh.pieces`). Along an axis block 0 owns the
  lattice indices ``0..order * end_0`` and block ``b > 0`` owns
  ``order * start_b + 1..order * end_b``;
* the global number of a node is ``node_starts[owner]`` plus its position, axis 0
  fastest, among the nodes of its owner's owned lattice box; its natural id is its
  position among the nodes of the whole lattice (the serial generator's numbering);
* the natural id of a cell is ``natural box id * cells per box + its place in the box``.

Serendipity cells (quad8, hex20) drop the lattice points odd along more than one axis;
the positions above then count only the points kept (a closed-form count per axis of
the even and odd indices), so every generator cell type is supported.

The result equals ``cut_piece(box(...), rank, n_ranks, cell_part=grid_cell_part(...))``
exactly: points, cells, tags and every field of the MeshPiece.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .cell_types import CellType
from .generators import finite_floats, generator_cell, positive_floats, positive_ints
from .lattice import axis_values, lattice_mesh
from .mesh import Mesh
from .pieces import MeshPiece
from ..errors import InputError

__all__ = ["grid_split", "grid_cell_part", "box_piece", "rectangle_piece"]

_AXES = "xyz"
_CELLS = {2: ("tri3", "tri6", "quad4", "quad8", "quad9"), 3: ("tet4", "tet10", "hex8", "hex20", "hex27")}
# Node ids renumbered per chunk when the block's cells become the piece's.
_RENUMBER_CHUNK = 1 << 18
# How many fitting rank counts below a refused one :func:`grid_split` tries, to suggest one.
_SUGGESTION_TRIES = 1000


def grid_split(shape: Sequence[int], n_ranks: int) -> tuple[int, ...]:
    """The process grid ``(p_0, ..., p_{d-1})`` for ``n_ranks`` ranks on ``shape`` boxes.

    Among the grids with ``p_0 * ... * p_{d-1} == n_ranks`` and ``p_k <= shape[k]`` (each
    rank gets at least one box along every axis) it minimizes the interface area, in box
    faces, ``sum_k (p_k - 1) * prod_{j != k} shape[j]``. Ties go to the lexicographically
    largest grid, i.e. more cuts along the earlier axes (``(4, 4, 4)`` on 2 ranks gives
    ``(2, 1, 1)``: cut across x).

    Args:
        shape: boxes per axis ``(n_0, ..., n_{d-1})``.
        n_ranks: the number of ranks.

    Raises:
        InputError: bad arguments, or no grid fits (a prime factor of ``n_ranks`` larger
            than every axis, more ranks than boxes, ...); the message suggests a count
            of ranks that fits.
    """
    shape = _shape(shape)
    n_ranks = _positive_int(n_ranks, "n_ranks")
    best = _best_grid(shape, n_ranks)
    if best is None:
        fits = next((m for m in range(n_ranks - 1, max(n_ranks - 1 - _SUGGESTION_TRIES, 0), -1)
                     if _best_grid(shape, m) is not None), None)
        raise InputError(f"cannot split {shape} boxes among {n_ranks} ranks: no process grid "
                         f"(p_0, ..) with product {n_ranks} and p_k <= shape[k] (every rank needs at least "
                         "one box along each axis); "
                         + (f"run on {fits} rank{'s' * (fits > 1)} instead, " if fits else "run on fewer ranks, ")
                         + "or use more boxes along the axes")
    return best


def grid_cell_part(shape: Sequence[int], cell: str, n_ranks: int) -> np.ndarray:
    """Rank of every cell of the serial ``box(shape=shape, cell=cell)`` (3 axes) or
    ``rectangle(shape=shape, cell=cell)`` (2 axes) on the process grid of
    :func:`grid_split`, ``(n_cells,)`` int64.

    Along axis k the boxes are cut into ``p_k`` consecutive blocks of
    ``n_k // p_k + (i < n_k % p_k)`` boxes; block ``(i, j, k)`` is rank
    ``i + p_0 * (j + p_1 * k)``. Every cell of a box (2 triangles, 6 tetrahedra) goes to
    the box's block. Pass it to :func:`~femopt.mesh.pieces.cut_piece` as ``cell_part``.

    Raises:
        InputError: bad arguments, or no grid fits (see :func:`grid_split`).
    """
    shape = _shape(shape)
    if len(shape) not in _CELLS:
        raise InputError(f"shape must have 2 (rectangle) or 3 (box) entries, got {shape!r}")
    ctype = generator_cell(cell, _CELLS[len(shape)], "grid_cell_part")
    grid = grid_split(shape, n_ranks)
    d, rank_stride = len(shape), _strides(grid)
    box_rank = sum(_along(np.repeat(np.arange(p) * rank_stride[k], np.diff(_block_starts(n, p))), k, d)
                   for k, (n, p) in enumerate(zip(shape, grid)))
    return np.repeat(np.broadcast_to(box_rank, shape[::-1]).ravel(), _cells_per_box(ctype))


def box_piece(rank: int, n_ranks: int, size: Sequence[float] = (1.0, 1.0, 1.0),
              shape: Sequence[int] = (10, 10, 10), cell: str = "hex8",
              origin: Sequence[float] = (0.0, 0.0, 0.0)) -> Mesh:
    """Rank ``rank``'s piece of ``box(size, shape, cell, origin)`` split by
    :func:`grid_cell_part`, built from the rank's block of boxes alone.

    Args:
        rank, n_ranks: which piece, of how many.
        size, shape, cell, origin: as for :func:`~femopt.mesh.generators.box`
            (``tet4``, ``tet10``, ``hex8``, ``hex20``, ``hex27``).

    Returns:
        A mesh of the rank's cells with side tags ``xmin .. zmax`` (restricted to the
        piece) and ``mesh.piece`` set (:class:`~femopt.mesh.pieces.MeshPiece`): owned
        nodes first in natural order, then the ghosts by global number.

    Raises:
        InputError: bad arguments, or no process grid fits (see :func:`grid_split`).
        ResourceError: the rank's block would not fit in the available memory.
    """
    ctype = generator_cell(cell, _CELLS[3], "box_piece")
    return _piece(rank, n_ranks, size, shape, ctype, origin, 3, "box_piece")


def rectangle_piece(rank: int, n_ranks: int, size: Sequence[float] = (1.0, 1.0),
                    shape: Sequence[int] = (10, 10), cell: str = "quad4",
                    origin: Sequence[float] = (0.0, 0.0)) -> Mesh:
    """Rank ``rank``'s piece of ``rectangle(size, shape, cell, origin)``; see :func:`box_piece`.

    Args:
        rank, n_ranks: which piece, of how many.
        size, shape, cell, origin: as for :func:`~femopt.mesh.generators.rectangle`
            (``tri3``, ``tri6``, ``quad4``, ``quad8``, ``quad9``).

    Returns:
        The piece, side tags ``xmin, xmax, ymin, ymax``, ``mesh.piece`` set.

    Raises:
        InputError: bad arguments, or no process grid fits (see :func:`grid_split`).
        ResourceError: the rank's block would not fit in the available memory.
    """
    ctype = generator_cell(cell, _CELLS[2], "rectangle_piece")
    return _piece(rank, n_ranks, size, shape, ctype, origin, 2, "rectangle_piece")


# ------------------------------------------------------------------------------ the piece
def _piece(rank, n_ranks, size, shape, ctype: CellType, origin, dim: int, name: str) -> Mesh:
    n_ranks = _positive_int(n_ranks, "n_ranks")
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank < n_ranks:
        raise InputError(f"rank must be an integer in 0..{n_ranks - 1}, got {rank!r}")
    rank = int(rank)
    size = positive_floats(size, dim, "size")
    shape = positive_ints(shape, dim, "shape")
    origin = finite_floats(origin, dim, "origin")
    grid = grid_split(shape, n_ranks)
    order, per_box = ctype.order, _cells_per_box(ctype)
    serendipity = order == 2 and ctype.family == "tensor" and ctype.n_nodes < 3 ** dim
    block = [rank // s % p for s, p in zip(_strides(grid), grid)]
    starts = [_block_starts(n, p) for n, p in zip(shape, grid)]
    lo = [int(starts[k][block[k]]) for k in range(dim)]
    bshape = tuple(int(starts[k][block[k] + 1]) - lo[k] for k in range(dim))

    # The rank's block, on the whole mesh's lattice lines, sides tagged by global indices.
    values = [axis_values(np.linspace(origin[k], origin[k] + size[k], shape[k] + 1), order)
              [order * lo[k]:order * (lo[k] + bshape[k]) + 1] for k in range(dim)]
    sides = {}
    for k in range(dim):
        first, last = order * lo[k], order * shape[k]
        sides[f"{_AXES[k]}min"] = lambda index, k=k, first=first: index[:, k] + first == 0
        sides[f"{_AXES[k]}max"] = lambda index, k=k, first=first, last=last: index[:, k] + first == last

    def describe(boxes):
        return (f"{name}(rank={rank}, n_ranks={n_ranks}, cell={ctype.name!r}) "
                f"with a block of shape={tuple(boxes)}")

    mesh = lattice_mesh(bshape, ctype, values, None, sides, describe)

    node_starts = _starts(_owned_counts(grid, starts, order, serendipity))
    owner, global_number, natural = _node_numbers(grid, shape, starts, lo, bshape, order, serendipity,
                                                  node_starts)
    mine = owner == rank
    del owner
    owned = np.flatnonzero(mine)                     # block order is natural order
    ghosts = np.flatnonzero(~mine)
    del mine
    local_nodes = np.concatenate([owned, ghosts[np.argsort(global_number[ghosts], kind="stable")]])
    n_owned = int(owned.size)
    del owned, ghosts
    local_of = np.empty(len(local_nodes), dtype=np.int64)
    local_of[local_nodes] = np.arange(len(local_nodes))

    cell_starts = _starts(math.prod(_along(np.diff(s), k, dim) for k, s in enumerate(starts)) * per_box)
    boxes = sum(_along((lo[k] + np.arange(bshape[k])) * math.prod(shape[:k]), k, dim) for k in range(dim))
    natural_cells = (np.broadcast_to(boxes, bshape[::-1]).reshape(-1, 1) * per_box + np.arange(per_box)).ravel()
    boundary = np.unique(np.concatenate([f for f in mesh.facet_tags.values()]).reshape(-1, 2), axis=0)

    # Renumber the block mesh's arrays into the piece's (cells in place, chunk by chunk),
    # dropping the block mesh first: the peak stays near one mesh, not two.
    node_tags = {tag: np.sort(local_of[ids]) for tag, ids in mesh.node_tags.items()}
    facet_tags, cell_tags, points, cells = mesh.facet_tags, mesh.cell_tags, mesh.points, mesh.cells
    del mesh
    points = points[local_nodes]
    cells.flags.writeable = True                      # made by lattice_mesh, owned by nobody else now
    flat = cells.reshape(-1)
    for start in range(0, flat.size, _RENUMBER_CHUNK):
        part = flat[start:start + _RENUMBER_CHUNK]
        part[:] = local_of[part]
    del flat, local_of
    for array in (points, cells):
        array.flags.writeable = False                 # taken over by Mesh without a copy
    piece = Mesh(points, cells, ctype, node_tags=node_tags, facet_tags=facet_tags, cell_tags=cell_tags, check=False)
    return piece.as_piece(MeshPiece(rank=rank, n_ranks=n_ranks, n_owned=n_owned,
                                    global_nodes=global_number[local_nodes], node_starts=node_starts,
                                    cell_starts=cell_starts, natural_nodes=natural[local_nodes],
                                    natural_cells=natural_cells.astype(np.int64), boundary=boundary))


def _node_numbers(grid, shape, starts, lo, bshape, order, serendipity, node_starts):
    """Owner rank, global number and natural id of each node of the rank's block, in the
    block mesh's node order (its lattice, axis 0 fastest, without the points serendipity
    cells drop), as three ``(n_block_nodes,)`` int64 arrays."""
    d = len(shape)
    full = tuple(order * n + 1 for n in bshape[::-1])
    # Global lattice indices of the block's lattice lines, each along its own array axis.
    g = [_along(order * lo[k] + np.arange(order * bshape[k] + 1), k, d) for k in range(d)]
    bounds = [_owned_bounds(s, order) for s in starts]
    own = [np.searchsorted(bounds[k], g[k], side="right") - 1 for k in range(d)]
    rank_stride = _strides(grid)
    owner = sum(own[k] * rank_stride[k] for k in range(d))
    global_number = node_starts[owner] + _position(g, [bounds[k][own[k]] for k in range(d)],
                                                   [bounds[k][own[k] + 1] for k in range(d)], serendipity)
    natural = _position(g, [0] * d, [order * n + 1 for n in shape], serendipity)
    arrays = [np.broadcast_to(a, full).ravel() for a in (owner, global_number, natural)]
    if serendipity:       # the points the cells use: odd along at most one axis
        kept = np.broadcast_to(sum(gk % 2 for gk in g) <= 1, full).ravel()
        arrays = [a[kept] for a in arrays]
    return [np.ascontiguousarray(a, dtype=np.int64) for a in arrays]


# --------------------------------------------------------------------- lattice counting
def _parity_counts(a, b, serendipity):
    """Lattice indices in ``[a, b)`` (per axis, arrays broadcast) as ``(even, odd)``
    counts; without serendipity every index counts as even (no point is dropped)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if not serendipity:
        return b - a, np.zeros_like(b - a)
    even = (b + 1) // 2 - (a + 1) // 2
    return even, (b - a) - even


def _lower_counts(counts):
    """For ``k = 0..d``, the kept points of the box spanned by the axes below k: those
    even along all of them (``all_even[k]``) and those odd along exactly one (``one_odd[k]``);
    a box holds ``all_even[d] + one_odd[d]`` kept points."""
    all_even, one_odd = [1], [0]
    for even, odd in counts:
        one_odd.append(one_odd[-1] * even + all_even[-1] * odd)
        all_even.append(all_even[-1] * even)
    return all_even, one_odd


def _position(g, a, b, serendipity):
    """Position of lattice points ``g`` (per-axis index arrays) among the kept points of
    the lattice box ``[a_k, b_k)`` (per-axis, broadcast with ``g``), axis 0 fastest."""
    d = len(g)
    all_even, one_odd = _lower_counts([_parity_counts(a[k], b[k], serendipity) for k in range(d)])
    position, odd_above = 0, 0
    for k in reversed(range(d)):
        even, odd = _parity_counts(a[k], g[k], serendipity)   # along axis k, below the point
        # With no odd index above, one odd index is still allowed below; else none.
        position = position + np.where(odd_above == 0, (even + odd) * all_even[k] + even * one_odd[k],
                                       even * all_even[k])
        if serendipity:
            odd_above = odd_above + g[k] % 2
    return position


def _owned_bounds(block_starts, order):
    """Along one axis, block b owns the lattice indices ``bounds[b]..bounds[b+1]-1``:
    block 0 from 0, each block to its last lattice line, the next one after it."""
    bounds = order * np.asarray(block_starts, dtype=np.int64) + 1
    bounds[0] = 0
    return bounds


def _owned_counts(grid, starts, order, serendipity):
    """Nodes each rank owns, ``(n_ranks,)`` in rank order."""
    d = len(grid)
    counts = []
    for k in range(d):
        bounds = _owned_bounds(starts[k], order)
        counts.append(tuple(_along(c, k, d) for c in _parity_counts(bounds[:-1], bounds[1:], serendipity)))
    all_even, one_odd = _lower_counts(counts)
    return np.broadcast_to(all_even[d] + one_odd[d], tuple(grid[::-1])).ravel()


# ------------------------------------------------------------------------------- helpers
def _best_grid(shape, n_ranks):
    """The grid of :func:`grid_split`, or None when none fits."""
    volume = math.prod(shape)
    best = None
    for grid in _grids(n_ranks, shape):
        key = (sum((p - 1) * (volume // n) for p, n in zip(grid, shape)), tuple(-p for p in grid))
        if best is None or key < best[0]:
            best = (key, grid)
    return None if best is None else best[1]


def _grids(n_ranks, shape):
    """Every ``(p_0, ..)`` with product ``n_ranks`` and ``p_k <= shape[k]``."""
    if len(shape) == 1:
        if n_ranks <= shape[0]:
            yield (n_ranks,)
        return
    for p in _divisors(n_ranks):
        if p <= shape[0]:
            for rest in _grids(n_ranks // p, shape[1:]):
                yield (p,) + rest


def _divisors(n):
    small = [q for q in range(1, math.isqrt(n) + 1) if n % q == 0]
    return sorted(set(small + [n // q for q in small]))


def _block_starts(n, p):
    """First box of each of ``p`` blocks of ``n`` boxes, and ``n``, ``(p + 1,)``."""
    sizes = n // p + (np.arange(p) < n % p)
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _starts(counts):
    return np.concatenate([[0], np.cumsum(np.ravel(counts))]).astype(np.int64)


def _strides(grid):
    """Rank step of one block along each axis: ``1, p_0, p_0 p_1``."""
    return [math.prod(grid[:k]) for k in range(len(grid))]


def _along(values, k, d):
    """1D ``values`` laid along axis k of a C-order array of axes ``(d-1, .., 0)``
    (axis 0 fastest when raveled)."""
    shape = [1] * d
    shape[d - 1 - k] = -1
    return np.asarray(values).reshape(shape)


def _cells_per_box(ctype: CellType) -> int:
    return 1 if ctype.family == "tensor" else (2 if ctype.dim == 2 else 6)


def _positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _shape(shape):
    try:
        d = len(shape)
    except TypeError:
        raise InputError(f"shape must be a sequence of integers >= 1, got {shape!r}") from None
    if d == 0:
        raise InputError("shape must have at least one entry, got ()")
    return positive_ints(shape, d, "shape")
