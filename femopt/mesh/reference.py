"""Reference-cell node coordinates, derived from the facet tables of ``cell_types``.

Conventions (DEVELOPERS.md): quad/hex live on ``[-1, 1]^d``, tri/tet on the unit simplex
``x >= 0, sum(x) <= 1``, lines on ``[-1, 1]`` with nodes (left, right, middle). Quadratic
nodes are found from the facet tables (corners first, then mid-edge nodes in cyclic
order, then a face centre), so the node ordering is written down once, in
``cell_types.py``.
"""
from __future__ import annotations

import numpy as np

from .cell_types import CellType, cell_type as _lookup

__all__ = ["reference_nodes"]

_SIMPLEX_CORNERS = {
    2: [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
    3: [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
}
_TENSOR_CORNERS = {
    1: [[-1.0], [1.0]],
    2: [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]],
    3: [[-1.0, -1.0, -1.0], [1.0, -1.0, -1.0], [1.0, 1.0, -1.0], [-1.0, 1.0, -1.0],
        [-1.0, -1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]],
}


def reference_nodes(cell) -> np.ndarray:
    """Reference coordinates of the nodes of a cell type, shape ``(n_nodes, dim)``.

    Args:
        cell: a :class:`CellType` or its femopt / meshio name.
    """
    ctype: CellType = _lookup(cell)
    table = _SIMPLEX_CORNERS if ctype.family == "simplex" else _TENSOR_CORNERS
    coords = np.full((ctype.n_nodes, ctype.dim), np.nan)
    coords[: ctype.n_corners] = table[ctype.dim]
    if ctype.dim == 1:
        coords[ctype.n_corners:] = 0.0
        return coords
    for facet in ctype.facets:
        if ctype.dim == 2:
            corners, mids = facet[:2], facet[2:]
            pairs = [corners] if mids else []
        else:
            k = 3 if len(facet) in (3, 6) else 4
            corners, mids = facet[:k], facet[k:]
            pairs = [(corners[i], corners[(i + 1) % k]) for i in range(k)] if mids else []
        for node, (a, b) in zip(mids, pairs):
            coords[node] = 0.5 * (coords[a] + coords[b])
        if len(mids) > len(pairs):  # quad9 face of a hex27: its centre node
            coords[mids[-1]] = coords[list(corners)].mean(axis=0)
    # What no facet holds (quad9 / hex27 centre) sits at the corner mean.
    missing = np.isnan(coords[:, 0])
    coords[missing] = coords[: ctype.n_corners].mean(axis=0)
    return coords
