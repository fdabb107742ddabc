"""Validation of the arrays and tags handed to :class:`~femopt.mesh.mesh.Mesh` (private).

Every function returns the normalized array (int64 / float64, C order, tags sorted
unique and read-only) or raises :class:`MeshError` / :class:`InputError` with a message
naming what was expected and what was received.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ._ids import describe_ids
from .cell_types import CellType
from ..errors import InputError, MeshError, describe_value

_CHUNK = 1 << 14


def as_array(value, what: str, expected: str, error=MeshError) -> np.ndarray:
    """``np.asarray(value)``; ``error`` saying what was expected when NumPy can make no
    array of it (rows of different lengths, an object whose conversion fails)."""
    try:
        return np.asarray(value)
    except (TypeError, ValueError, OverflowError) as reason:
        raise error(f"{what} must be {expected}, got {describe_value(value)}, which is not an array "
                    f"(rows of different lengths?): {reason}") from None


def as_flag(value, what: str) -> bool:
    """A yes/no option: ``True`` / ``False`` (NumPy's too, and the integers 0 / 1), else
    InputError — an array's truth value is ambiguous, a string's always True."""
    if not (isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1))):
        raise InputError(f"{what} must be True or False, got {describe_value(value)}")
    return bool(value)


def as_points(points, ctype: CellType) -> np.ndarray:
    array = as_array(points, "points", "an (n_nodes, dim) array of real numbers")
    if array.dtype.kind not in "fiu":
        raise MeshError(f"points must be real numbers, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[0] == 0 or not 1 <= array.shape[1] <= 3:
        raise MeshError(f"points must have shape (n_nodes, dim) with n_nodes >= 1 and dim "
                        f"1, 2 or 3, got shape {array.shape}")
    if not reusable(array, np.float64):
        array = np.array(array, dtype=np.float64, order="C")
    bad = np.flatnonzero(~np.all(np.isfinite(array), axis=1))
    if bad.size:
        raise MeshError(f"{bad.size} node(s) with non-finite coordinates: node ids {describe_ids(bad)}")
    if ctype.dim == 2 and array.shape[1] == 3 and not np.any(array[:, 2]):
        array = np.ascontiguousarray(array[:, :2])
    if array.shape[1] < ctype.dim:
        raise MeshError(f"{ctype.name} cells need points of dimension >= {ctype.dim}, got "
                        f"points of shape {array.shape}")
    return array


def as_cells(cells, ctype: CellType) -> np.ndarray:
    array = as_array(cells, "cells", f"an (n_cells, {ctype.n_nodes}) array of integer node ids")
    if array.ndim != 2 or array.shape[0] == 0:
        raise MeshError(f"cells must have shape (n_cells, {ctype.n_nodes}) for {ctype.name} "
                        f"with n_cells >= 1, got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise MeshError(f"cells must be integer node ids, got dtype {array.dtype}")
    if array.shape[1] != ctype.n_nodes:
        raise MeshError(f"{ctype.name} cells have {ctype.n_nodes} nodes each, got cells of "
                        f"shape {array.shape}; is the cell type right?")
    return array if reusable(array, np.int64) else np.array(array, dtype=np.int64, order="C")


def reusable(array: np.ndarray, dtype) -> bool:
    """A read-only C-contiguous array of the right dtype (such as another mesh's) is
    shared instead of copied: derived meshes cost no copy of points and cells."""
    return array.dtype == dtype and array.flags.c_contiguous and not array.flags.writeable


def check_connectivity(cells: np.ndarray, ctype: CellType, n_nodes: int) -> None:
    """Node ids in range and no node twice in a cell; chunked, so that its temporaries
    (a sorted copy of the cells) stay small for a large mesh."""
    outside, repeated = [], []
    for start in range(0, len(cells), _CHUNK):
        part = cells[start:start + _CHUNK]
        outside.append(start + np.flatnonzero(np.any((part < 0) | (part >= n_nodes), axis=1)))
        ordered = np.sort(part, axis=1)
        repeated.append(start + np.flatnonzero(np.any(ordered[:, 1:] == ordered[:, :-1], axis=1)))
    bad = np.concatenate(outside)
    if bad.size:
        raise MeshError(f"{bad.size} cell(s) reference node ids outside 0..{n_nodes - 1}: "
                        f"cell ids {describe_ids(bad)}", cells=bad)
    bad = np.concatenate(repeated)
    if bad.size:
        raise MeshError(f"{bad.size} {ctype.name} cell(s) list a node twice: cell ids "
                        f"{describe_ids(bad)}", cells=bad)


def tag_name(name) -> str:
    if not isinstance(name, str) or not name or any(c in name for c in '"\n'):
        raise MeshError(f"tag names must be non-empty strings without quotes or newlines, got {name!r}")
    return name


def as_tag_dict(tags, what: str) -> dict:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise MeshError(f"{what} must be a mapping {{name: ids}}, got {type(tags).__name__}")
    return {tag_name(name): value for name, value in tags.items()}


def as_ids(ids, n: int, what: str, kind: str) -> np.ndarray:
    array = as_array(ids, what, f"a 1D array of integer {kind} ids")
    if array.size == 0:
        return readonly(np.zeros(0, dtype=np.int64))
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise MeshError(f"{what}: expected a 1D array of integer {kind} ids, got dtype "
                        f"{array.dtype} and shape {array.shape}")
    bad = array[(array < 0) | (array >= n)]
    if bad.size:
        raise MeshError(f"{what}: {kind} ids outside 0..{n - 1}: {describe_ids(bad)}")
    return readonly(np.unique(array.astype(np.int64)))


def as_selected_ids(selection, n: int, kind: str) -> np.ndarray:
    array = as_array(selection, f"a {kind} selection", f"a tag name, a predicate, {kind} ids or a boolean mask "
                     f"of length {n}", InputError)
    if array.dtype == bool:
        if array.shape != (n,):
            raise InputError(f"a boolean {kind} mask must have shape ({n},), got {array.shape}")
        return np.flatnonzero(array).astype(np.int64)
    try:
        return as_ids(array, n, f"{kind} selection", kind)
    except MeshError as error:
        raise InputError(str(error)) from None


def as_facets(facets, n_cells: int, ctype: CellType, what: str, unique: bool = True) -> np.ndarray:
    array = as_array(facets, what, "an (n, 2) integer array of (cell id, local facet id)")
    if array.size == 0:
        return readonly(np.zeros((0, 2), dtype=np.int64))
    if array.ndim != 2 or array.shape[1] != 2 or array.dtype.kind not in "iu":
        raise MeshError(f"{what}: expected an (n, 2) integer array of (cell id, local facet "
                        f"id), got dtype {array.dtype} and shape {array.shape}")
    array = array.astype(np.int64)
    bad = np.flatnonzero((array[:, 0] < 0) | (array[:, 0] >= n_cells)
                         | (array[:, 1] < 0) | (array[:, 1] >= ctype.n_facets))
    if bad.size:
        raise MeshError(f"{what}: rows {describe_ids(bad)} are not facets (cell ids must be in "
                        f"0..{n_cells - 1}, local facet ids in 0..{ctype.n_facets - 1} for "
                        f"{ctype.name})", cells=array[bad, 0])
    if unique:
        flat = np.unique(array[:, 0] * ctype.n_facets + array[:, 1])
        array = np.stack(np.divmod(flat, ctype.n_facets), axis=1)
    return readonly(array)


def readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
