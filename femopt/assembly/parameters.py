"""Parameter values and where they live: one value, one value per cell, or per node.

Every physics and load parameter is handed to the compiled kernels as an argument. Its
*kind* is read from its shape against the per-point shape of its default:

* ``point_shape``                — global (the same everywhere),
* ``(n_cells, *point_shape)``    — one value per cell (e.g. a density or a stiffness field),
* ``(n_nodes, *point_shape)``    — nodal values, interpolated at the quadrature points.

When a mesh has as many cells as nodes the shape can not tell; wrap the array in
:func:`cell_field` or :func:`nodal_field` (the assembly says so when it happens).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import InputError

__all__ = ["cell_field", "nodal_field", "ParameterLayout", "split_parameters", "GLOBAL", "CELL", "NODE"]

GLOBAL, CELL, NODE = "global", "cell", "node"


@dataclass(frozen=True)
class _Tagged:
    values: Any
    kind: str


def cell_field(values) -> _Tagged:
    """Mark ``values`` (first axis: cells) as a per-cell parameter field."""
    return _Tagged(values, CELL)


def nodal_field(values) -> _Tagged:
    """Mark ``values`` (first axis: nodes) as a per-node parameter field."""
    return _Tagged(values, NODE)


@dataclass(frozen=True)
class ParameterLayout:
    """Kind of every parameter, by name: ``{"E": "cell", "nu": "global"}``."""

    kinds: tuple[tuple[str, str], ...]

    def kind(self, name: str) -> str:
        return dict(self.kinds)[name]


def _kind_of(name, value, point_shape, n_cells, n_nodes):
    if isinstance(value, _Tagged):
        return value.kind, value.values
    shape = np.shape(value)
    ps = tuple(point_shape)
    if shape == ps:
        return GLOBAL, value
    if shape[1:] == ps and shape[:1] in ((n_cells,), (n_nodes,)):
        if n_cells == n_nodes:
            raise InputError(
                f"parameter {name!r} has {shape[0]} values and the mesh has as many cells as "
                "nodes: wrap it in femopt.cell_field(...) or femopt.nodal_field(...)"
            )
        return (CELL if shape[0] == n_cells else NODE), value
    raise InputError(
        f"parameter {name!r} has shape {shape}; expected {ps or 'a scalar'} (global), "
        f"({n_cells}, ...) per cell or ({n_nodes}, ...) per node, with trailing shape {ps}"
    )


def split_parameters(values: Mapping[str, Any], point_shapes: Mapping[str, tuple],
                     n_cells: int, n_nodes: int):
    """Sort parameter values into (global, per-cell, per-node) dicts and their layout.

    Values are returned as given (NumPy or JAX arrays), so JAX tracers pass through.
    """
    groups = {GLOBAL: {}, CELL: {}, NODE: {}}
    kinds = []
    for name, value in values.items():
        if name not in point_shapes:
            raise InputError(f"unknown parameter {name!r}; this problem has {sorted(point_shapes)}")
        kind, raw = _kind_of(name, value, point_shapes[name], n_cells, n_nodes)
        if not isinstance(raw, np.ndarray) and not hasattr(raw, "shape"):
            raw = np.asarray(raw, dtype=np.float64)
        if hasattr(raw, "dtype") and not np.issubdtype(raw.dtype, np.floating):
            raw = raw.astype(np.float64)
        groups[kind][name] = raw
        kinds.append((name, kind))
    return groups[GLOBAL], groups[CELL], groups[NODE], ParameterLayout(tuple(sorted(kinds)))
