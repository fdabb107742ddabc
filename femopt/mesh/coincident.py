"""Coincident nodes: distinct node ids at one position, used by different cells.

A mesh put together from parts (two blocks meshed separately, a file that lists the
nodes of each region on its own) can carry the nodes of a shared side twice. Every cell
is valid, so no other check notices, but the cells on either side are not connected: the
mesh is cracked there, and a problem solved on it gives another answer without a word.
:class:`~femopt.mesh.mesh.Mesh` looks for such nodes when it is built (``check=True``)
and warns with :class:`CoincidentNodesWarning`; :func:`merge_coincident` welds them.

Tolerance: ``COINCIDENT_RTOL`` (1e-8) times the shortest corner edge of any cell. Relative
to the shortest edge rather than to the size of the domain, so that a graded mesh whose
smallest cells are many orders below the domain never has the nodes of one cell taken
for coincident (two nodes of a cell are at least half an edge apart). 1e-8 lies far
above round-off (coordinates computed separately for each part agree to ~1e-15 relative)
and far below any cell.

Cost: the used nodes are projected on a fixed direction and sorted; only nodes whose
projection lies within the search radius of a neighbour's (none in a mesh without
coincident nodes, however fine) go into a ``scipy.spatial.cKDTree`` for the exact search.
The search radius is first ``COINCIDENT_RTOL`` times the bounding-box diagonal (an upper
bound of the tolerance, known without looking at the cells); the shortest edge is
computed only when candidate pairs turn up.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ._ids import describe_ids
from .cell_types import CellType
from .quality import corner_edge_pairs, unit_scaled
from ..errors import FemoptWarning, InputError, MeshError

__all__ = ["CoincidentNodesWarning", "COINCIDENT_RTOL", "COINCIDENT_MODES", "find_coincident",
           "report_coincident", "merge_coincident"]

log = logging.getLogger("femopt.mesh")

COINCIDENT_RTOL = 1e-8
COINCIDENT_MODES = ("warn", "error", "ignore")
_CHUNK = 1 << 16
# A direction with no rational relation between its components: lattice points of a
# structured mesh project to distinct values.
_DIRECTION = np.array([0.5772156649015329, 0.3183098861837907, 0.7548776662466927])
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CoincidentNodesWarning(FemoptWarning):
    """A mesh has distinct nodes at the same position used by different cells (a crack).

    Attributes:
        pairs: ``(n_pairs, 2)`` int64 node ids ``(lower, higher)``.
        tolerance: the distance below which nodes count as coincident.
    """

    def __init__(self, message, pairs=None, tolerance=0.0):
        super().__init__(message)
        self.pairs = np.zeros((0, 2), dtype=np.int64) if pairs is None else pairs
        self.tolerance = float(tolerance)


def check_mode(coincident) -> str:
    if not isinstance(coincident, str) or coincident not in COINCIDENT_MODES:
        raise InputError(f"coincident must be one of {list(COINCIDENT_MODES)}, got {coincident!r}")
    return coincident


def shortest_edge(points: np.ndarray, cells: np.ndarray, ctype: CellType) -> float:
    """Length of the shortest corner edge of any cell (chunked: bounded memory)."""
    pairs = corner_edge_pairs(ctype)
    shortest = np.inf
    for start in range(0, len(cells), _CHUNK):
        part = cells[start:start + _CHUNK]
        squared = np.zeros(len(part))
        for head, tail in pairs:
            squared[:] = 0.0
            for axis in range(points.shape[1]):
                x = points[:, axis]
                squared += (x[part[:, head]] - x[part[:, tail]]) ** 2
            shortest = min(shortest, float(squared.min()))
    return float(np.sqrt(shortest))


def _pairs_within(points: np.ndarray, ids: np.ndarray | None, radius: float) -> np.ndarray:
    """Pairs of nodes ``ids`` (None: all) at most ``radius`` apart, ``(n, 2)`` sorted rows,
    lower id first."""
    direction = _DIRECTION[: points.shape[1]] / np.linalg.norm(_DIRECTION[: points.shape[1]])
    projection = (points if ids is None else points[ids]) @ direction
    if not np.any(np.diff(np.sort(projection)) <= radius):  # the common case: no candidates
        return np.zeros((0, 2), dtype=np.int64)
    order = np.argsort(projection)
    close = np.flatnonzero(np.diff(projection[order]) <= radius)
    candidates = np.unique(order[np.concatenate([close, close + 1])])
    if ids is not None:
        candidates = ids[candidates]
    found = cKDTree(points[candidates]).query_pairs(radius, output_type="ndarray")
    pairs = np.sort(candidates[found], axis=1).astype(np.int64).reshape(-1, 2)
    return pairs[np.lexsort(pairs.T[::-1])]


def find_coincident(points: np.ndarray, cells: np.ndarray, ctype: CellType,
                    tol: float | None = None) -> tuple[np.ndarray, float]:
    """Pairs of distinct nodes, both used by cells, at most ``tol`` apart.

    Args:
        points: ``(n_nodes, dim)`` coordinates.
        cells: ``(n_cells, n_nodes_per_cell)`` node ids.
        ctype: the cell type.
        tol: absolute distance; None for ``COINCIDENT_RTOL`` times the shortest corner edge.

    Returns:
        ``(n_pairs, 2)`` int64 node ids ``(lower, higher)`` sorted by rows, and the
        tolerance (with ``tol=None`` and no pairs: the search radius, an upper bound).
    """
    if tol is not None:
        try:
            tol = float(tol)
        except (TypeError, ValueError):
            raise InputError(f"tol must be a finite distance >= 0, got {tol!r}") from None
        if not np.isfinite(tol) or tol < 0:
            raise InputError(f"tol must be a finite distance >= 0, got {tol!r}")
    points, scale = unit_scaled(points)  # the KD-tree squares distances: keep them finite
    pairs, tol = _find_scaled(points, cells, ctype, None if tol is None else tol / scale)
    return pairs, tol * scale


def _find_scaled(points, cells, ctype, tol):
    used = np.zeros(len(points), dtype=bool)
    used[cells.ravel()] = True
    ids = None if used.all() else np.flatnonzero(used)
    if tol is not None:
        return _pairs_within(points, ids, tol), tol
    if ids is None:
        extent = points.max(axis=0) - points.min(axis=0)
    else:
        extent = points[ids].max(axis=0) - points[ids].min(axis=0)
    radius = COINCIDENT_RTOL * float(np.linalg.norm(extent))
    pairs = _pairs_within(points, ids, radius)
    if len(pairs) == 0:
        return pairs, radius
    tol = COINCIDENT_RTOL * shortest_edge(points, cells, ctype)
    distance = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1)
    return pairs[distance <= tol], tol


def describe_pairs(pairs: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(f"({int(a)}, {int(b)})" for a, b in pairs[:limit])
    return f"{shown}, ..." if len(pairs) > limit else shown


def coincident_message(pairs: np.ndarray, tol: float, where: str = "mesh") -> str:
    return (f"{where} has {len(pairs)} pair(s) of coincident nodes (distinct node ids at most "
            f"{tol:.3g} apart, both used by cells), node id pairs {describe_pairs(pairs)}: "
            "the cells on either side share positions but not nodes, so the mesh is cracked "
            "there and a problem solved on it is not the welded one. Weld them with "
            "mesh.merge_coincident() (read(path, merge_coincident=True) for a file), or pass "
            "coincident='ignore' to Mesh if the crack is intended")


def report_coincident(pairs: np.ndarray, tol: float, mode: str, where: str = "mesh") -> None:
    """Warn (``mode="warn"``) or raise :class:`MeshError` (``"error"``) about ``pairs``."""
    if len(pairs) == 0 or mode == "ignore":
        return
    message = coincident_message(pairs, tol, where)
    if mode == "error":
        raise MeshError(message)
    warnings.warn(CoincidentNodesWarning(message, pairs, tol), stacklevel=_outside_femopt())


def _outside_femopt() -> int:
    """``stacklevel`` of the first frame outside the femopt package, seen from the
    caller's ``warnings.warn``: the warning names the user's line."""
    frame, level = sys._getframe(2), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def merge_coincident(points: np.ndarray, cells: np.ndarray, ctype: CellType, node_tags: dict,
                     tol: float | None = None):
    """Weld coincident nodes: each group becomes its lowest id, the others are removed and
    the remaining nodes renumbered in their order.

    Args:
        points, cells, ctype: the mesh.
        node_tags: ``{name: node ids}``, remapped.
        tol: see :func:`find_coincident`.

    Returns:
        ``None`` when there is nothing to merge, else ``(points, cells, node_tags)`` with
        the shapes of a :class:`Mesh`'s; cells keep their ids and order, so cell and facet
        tags stay valid as they are.

    Raises:
        MeshError: a cell would list one node twice (two of its own nodes coincide); the
            message names the cells.
    """
    pairs, tol = find_coincident(points, cells, ctype, tol)
    if len(pairs) == 0:
        return None
    nodes, local = np.unique(pairs, return_inverse=True)
    local = local.reshape(pairs.shape)
    graph = coo_matrix((np.ones(len(pairs)), (local[:, 0], local[:, 1])), shape=(len(nodes),) * 2)
    _, group = connected_components(graph, directed=False)
    lowest = np.full(group.max() + 1, len(points), dtype=np.int64)
    np.minimum.at(lowest, group, nodes)
    target = np.arange(len(points), dtype=np.int64)
    target[nodes] = lowest[group]
    merged = target[cells]
    ordered = np.sort(merged, axis=1)
    bad = np.flatnonzero(np.any(ordered[:, 1:] == ordered[:, :-1], axis=1))
    if bad.size:
        raise MeshError(f"merging coincident nodes (at most {tol:.3g} apart) would make "
                        f"{bad.size} {ctype.name} cell(s) list one node twice: cell ids "
                        f"{describe_ids(bad)}; two nodes of each of these cells coincide. "
                        "Remove or repair those cells, or pass a smaller tol", cells=bad)
    keep = target == np.arange(len(points))
    new_id = np.cumsum(keep) - 1
    log.info("merged %d coincident node(s) into %d (tolerance %.3g)", int((~keep).sum()),
             int(group.max() + 1), tol)
    tags = {name: np.unique(new_id[target[ids]]) for name, ids in node_tags.items()}
    return points[keep], new_id[merged], tags
