"""Facet topology: which facets are shared, which lie on the boundary, and matching a
list of facet nodes (from a file) back to ``(cell id, local facet id)`` pairs.

Facets are matched by their sorted corner nodes. Each sorted corner tuple is turned
into one int64 id (:func:`row_ids`) so that matching is a 1D ``np.unique``, which is
several times faster than ``np.unique(..., axis=0)`` on the rows.
"""
from __future__ import annotations

import numpy as np

from .cell_types import CELL_TYPES, CellType

__all__ = ["facet_corner_table", "facet_keys", "row_ids", "boundary_facets",
           "unique_facets", "interior_facets", "match_facets"]

_INT64_ROOM = 2 ** 62


def facet_corner_table(ctype: CellType) -> np.ndarray:
    """Local corner nodes of each facet, shape ``(n_facets, n_facet_corners)``, in the
    facet table's (outward) order."""
    n_corners = 1 if ctype.facet_type is None else CELL_TYPES[ctype.facet_type].n_corners
    return np.array([f[:n_corners] for f in ctype.facets], dtype=np.int64)


def facet_keys(cells: np.ndarray, ctype: CellType) -> np.ndarray:
    """Sorted corner nodes of every facet of every cell.

    Returns:
        ``(n_cells * n_facets, n_facet_corners)`` int64; row ``c * n_facets + f`` is
        local facet ``f`` of cell ``c``.
    """
    keys = cells[:, facet_corner_table(ctype)]  # (n_cells, n_facets, n_facet_corners)
    keys = keys.reshape(-1, keys.shape[-1])
    keys.sort(axis=1)
    return keys


def row_ids(rows: np.ndarray, n_values: int) -> np.ndarray:
    """One int64 per row, equal exactly when the rows are equal.

    Args:
        rows: ``(m, k)`` non-negative ints, each below ``n_values``.
        n_values: an upper bound of the values.

    Returns:
        ``(m,)`` int64 ids (not contiguous).
    """
    rows = np.asarray(rows, dtype=np.int64)
    ids = rows[:, 0].copy()
    span = max(int(n_values), 1)
    for column in rows.T[1:]:
        if span * n_values >= _INT64_ROOM:
            # Compress to dense ranks so that the next column fits into an int64.
            _, ids = np.unique(ids, return_inverse=True)
            ids = ids.astype(np.int64).ravel()
            span = int(ids.max()) + 1 if ids.size else 1
        ids = ids * n_values + column
        span *= n_values
    return ids


def boundary_facets(cells: np.ndarray, ctype: CellType, n_nodes: int) -> np.ndarray:
    """Facets that belong to exactly one cell.

    Returns:
        ``(n, 2)`` int64 ``(cell id, local facet id)``, sorted by cell then facet.
    """
    ids = row_ids(facet_keys(cells, ctype), n_nodes)
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    single = np.flatnonzero(counts[inverse.ravel()] == 1)
    return np.stack(np.divmod(single, ctype.n_facets), axis=1).astype(np.int64)


def unique_facets(cells: np.ndarray, ctype: CellType, n_nodes: int) -> np.ndarray:
    """Every facet once (boundary and interior); an interior facet is named by the
    lower-numbered of its two cells.

    Returns:
        ``(n, 2)`` int64 ``(cell id, local facet id)``, sorted by cell then facet.
    """
    ids = row_ids(facet_keys(cells, ctype), n_nodes)
    _, first = np.unique(ids, return_index=True)
    first.sort()
    return np.stack(np.divmod(first, ctype.n_facets), axis=1).astype(np.int64)


def interior_facets(cells: np.ndarray, ctype: CellType, n_nodes: int) -> np.ndarray:
    """Facets shared by two cells, each once, seen from both sides.

    Returns:
        ``(n, 4)`` int64 ``(cell a, local facet in a, cell b, local facet in b)`` with
        cell a < cell b, sorted by cell a then its local facet. A facet that more than two
        cells list (a non-manifold mesh) is left out.
    """
    ids = row_ids(facet_keys(cells, ctype), n_nodes)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    same = sorted_ids[1:] == sorted_ids[:-1]
    # a pair is two equal neighbours in sorted order with different ids on either side
    before = np.concatenate([[False], same[:-1]])
    after = np.concatenate([same[1:], [False]])
    pair = np.flatnonzero(same & ~before & ~after)
    first, second = order[pair], order[pair + 1]  # stable sort: first < second
    by_first = np.argsort(first)
    first, second = first[by_first], second[by_first]
    a = np.stack(np.divmod(first, ctype.n_facets), axis=1)
    b = np.stack(np.divmod(second, ctype.n_facets), axis=1)
    return np.concatenate([a, b], axis=1).astype(np.int64)


def match_facets(cells: np.ndarray, ctype: CellType, n_nodes: int,
                 facet_nodes: np.ndarray) -> np.ndarray:
    """Find the ``(cell id, local facet id)`` of facets given by their nodes.

    A facet shared by two cells is given to the cell whose facet table lists its
    corners in the same cyclic order as ``facet_nodes`` (the cell it faces out of), so
    a facet written with :meth:`Mesh.facet_nodes` comes back to the same cell.

    Args:
        facet_nodes: ``(m, k)`` global node ids; the first ``n_facet_corners`` columns
            are the corners (extra columns, such as mid-edge nodes, are ignored).

    Returns:
        ``(m, 2)`` int64; rows of facets that no cell has are ``(-1, -1)``.
    """
    table = facet_corner_table(ctype)
    n_fc = table.shape[1]
    query = np.asarray(facet_nodes, dtype=np.int64)[:, :n_fc]
    out = np.full((len(query), 2), -1, dtype=np.int64)
    if len(query) == 0:
        return out
    keys = facet_keys(cells, ctype)
    all_ids = row_ids(np.concatenate([keys, np.sort(query, axis=1)]), n_nodes)
    facet_ids, query_ids = all_ids[: len(keys)], all_ids[len(keys):]
    order = np.argsort(facet_ids, kind="stable")
    sorted_ids = facet_ids[order]
    lo = np.searchsorted(sorted_ids, query_ids, side="left")
    hi = np.searchsorted(sorted_ids, query_ids, side="right")
    found = hi > lo
    first = order[np.minimum(lo, len(order) - 1)]
    choice = first.copy()
    # Interior facets have a second candidate: take it when it has the query's orientation
    # and the first one does not.
    two = found & (hi - lo > 1)
    if two.any():
        second = order[np.minimum(lo + 1, len(order) - 1)]
        same_first = _same_orientation(cells, table, first[two], query[two])
        same_second = _same_orientation(cells, table, second[two], query[two])
        choice[np.flatnonzero(two)[~same_first & same_second]] = second[two][~same_first & same_second]
    cell, local = np.divmod(choice[found], ctype.n_facets)
    out[found, 0] = cell
    out[found, 1] = local
    return out


def _same_orientation(cells, table, flat_facets, query):
    """Whether the corners of facets ``flat_facets`` (``cell * n_facets + local``) are a
    cyclic rotation of the rows of ``query``."""
    cell, local = np.divmod(flat_facets, table.shape[0])
    corners = cells[cell[:, None], table[local]]  # (m, n_fc)
    n_fc = table.shape[1]
    if n_fc <= 2:  # a point, or an edge: its direction is its orientation
        return np.all(corners == query, axis=1)
    same = np.zeros(len(query), dtype=bool)
    for shift in range(n_fc):
        same |= np.all(np.roll(corners, shift, axis=1) == query, axis=1)
    return same
