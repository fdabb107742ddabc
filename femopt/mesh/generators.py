"""Structured meshes of rectangles and boxes.

Side coordinates are exact: the lattice lines are ``np.linspace(origin, origin + size)``,
whose end points are exactly ``origin`` and ``origin + size``, so a predicate such as
``lambda x: x[:, 0] == 0.0`` finds a side (``np.isclose`` is still the safer habit).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .cell_types import CellType, cell_type as _lookup
from .lattice import axis_values, check_lattice_memory, lattice_mesh
from .mesh import Mesh
from ..errors import InputError

__all__ = ["rectangle", "box"]

_AXES = "xyz"


def rectangle(size: Sequence[float] = (1.0, 1.0), shape: Sequence[int] = (10, 10),
              cell: str = "quad4", origin: Sequence[float] = (0.0, 0.0)) -> Mesh:
    """Structured mesh of the rectangle ``origin + [0, size_x] x [0, size_y]``.

    Args:
        size: side lengths ``(size_x, size_y)``.
        shape: boxes per axis ``(nx, ny)``; triangles split each box in two (counterclockwise).
        cell: ``"tri3"``, ``"tri6"``, ``"quad4"``, ``"quad8"`` or ``"quad9"``.
        origin: lower-left corner.

    Returns:
        A mesh with facet and node tags ``xmin, xmax, ymin, ymax``; ``(nx+1)(ny+1)``
        nodes for linear cells, nodes numbered x fastest.

    Raises:
        InputError: bad arguments.
        ResourceError: the mesh would not fit in the available memory (estimated before
            anything is allocated; ``FEMOPT_MEMORY_LIMIT`` overrides what is available).
    """
    ctype = generator_cell(cell, ("tri3", "tri6", "quad4", "quad8", "quad9"), "rectangle")
    return _block(size, shape, ctype, origin, 2, "rectangle")


def box(size: Sequence[float] = (1.0, 1.0, 1.0), shape: Sequence[int] = (10, 10, 10),
        cell: str = "hex8", origin: Sequence[float] = (0.0, 0.0, 0.0)) -> Mesh:
    """Structured mesh of the box ``origin + [0, size_x] x [0, size_y] x [0, size_z]``.

    Args:
        size: side lengths.
        shape: boxes per axis ``(nx, ny, nz)``; tets split each box into the 6 Kuhn
            tetrahedra (conforming, positively oriented).
        cell: ``"tet4"``, ``"tet10"``, ``"hex8"``, ``"hex20"`` or ``"hex27"``.
        origin: the corner with the smallest coordinates.

    Returns:
        A mesh with facet and node tags ``xmin, xmax, ymin, ymax, zmin, zmax``.

    Raises:
        InputError: bad arguments.
        ResourceError: the mesh would not fit in the available memory (estimated before
            anything is allocated; ``FEMOPT_MEMORY_LIMIT`` overrides what is available).
    """
    ctype = generator_cell(cell, ("tet4", "tet10", "hex8", "hex20", "hex27"), "box")
    return _block(size, shape, ctype, origin, 3, "box")


def _block(size, shape, ctype: CellType, origin, dim: int, name: str) -> Mesh:
    def describe(boxes):
        return f"{name}(shape={boxes}, cell={ctype.name!r})"

    size = positive_floats(size, dim, "size")
    shape = positive_ints(shape, dim, "shape")
    origin = finite_floats(origin, dim, "origin")
    check_lattice_memory(shape, ctype, describe)
    values = [axis_values(np.linspace(origin[k], origin[k] + size[k], shape[k] + 1), ctype.order)
              for k in range(dim)]
    sides = {}
    for k in range(dim):
        last = ctype.order * shape[k]
        sides[f"{_AXES[k]}min"] = lambda index, k=k: index[:, k] == 0
        sides[f"{_AXES[k]}max"] = lambda index, k=k, last=last: index[:, k] == last
    return lattice_mesh(shape, ctype, values, None, sides, describe)


def generator_cell(cell, allowed: Sequence[str], generator: str) -> CellType:
    """The cell type, if ``generator`` supports it; else InputError listing ``allowed``."""
    try:
        ctype = _lookup(cell)
    except ValueError:
        ctype = None
    if ctype is None or ctype.name not in allowed:
        raise InputError(f"{generator}() supports cell types {list(allowed)}, got {cell!r}")
    return ctype


def positive_ints(values, n: int, what: str) -> tuple[int, ...]:
    """``n`` integers >= 1, else InputError."""
    try:
        ints = tuple(int(v) for v in values)
        ok = len(ints) == n and all(i >= 1 and i == v for i, v in zip(ints, values))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"{what} must be {n} integers >= 1, got {values!r}")
    return ints


def positive_floats(values, n: int, what: str) -> np.ndarray:
    """``n`` finite numbers > 0, else InputError."""
    return finite_floats(values, n, what, positive=True)


def finite_floats(values, n: int, what: str, positive: bool = False) -> np.ndarray:
    """``n`` finite numbers (``> 0`` when ``positive``), else InputError."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.shape != (n,) or not np.all(np.isfinite(array) & ((array > 0) | (not positive))):
        raise InputError(f"{what} must be {n} finite numbers{' > 0' if positive else ''}, got {values!r}")
    return array
