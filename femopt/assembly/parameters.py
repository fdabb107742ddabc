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

import numbers as numbers_module
from dataclasses import dataclass
from typing import Any, Mapping

import jax
import numpy as np

from ..errors import InputError, ParameterError, describe_value

__all__ = ["cell_field", "nodal_field", "ParameterLayout", "split_parameters", "check_values",
           "as_float_value", "real_array", "is_traced", "scale_value", "GLOBAL", "CELL", "NODE"]

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


def real_array(value, what: str) -> np.ndarray:
    """``value`` as a float64 array, or InputError naming ``what`` for anything that is not
    real numbers: strings, complex numbers, None, dicts, functions, rows of different
    lengths. (``np.asarray(value, dtype=float)`` would read ``"1.5"`` as a number and
    drop the imaginary part of a complex array.)"""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as reason:
        raise InputError(f"{what}: expected real numbers, got {describe_value(value)}, which is not an array "
                         f"(rows of different lengths?): {reason}") from None
    numbers = array.dtype.kind in "biuf" or (
        array.dtype.kind == "O" and all(isinstance(v, numbers_module.Real) for v in array.flat))
    if not numbers:
        kind = "complex numbers" if array.dtype.kind == "c" else f"dtype {array.dtype}"
        raise InputError(f"{what}: expected real numbers, got {describe_value(value)} ({kind})")
    try:
        return array.astype(np.float64, copy=False)
    except OverflowError:
        raise InputError(f"{what}: {describe_value(value)} holds integers too large for float64") from None


def as_float_value(value, name: str):
    """``value`` as float64 (a number or array), keeping a ``cell_field`` /
    ``nodal_field`` marker around its converted values; ParameterError naming ``name``
    for anything that is not real numbers."""
    inner = value.values if isinstance(value, _Tagged) else value
    if callable(inner):
        raise ParameterError(f"parameter {name!r}: expected numbers, got the function {describe_value(inner)}; a "
                             "function of x is a load's value (traction, body_force, heat_source...), a "
                             "parameter is a number, an array or a cell_field / nodal_field of numbers",
                             name=name, admissible="real numbers")
    try:
        array = real_array(inner, f"parameter {name!r}")
    except InputError as error:
        raise ParameterError(f"{error}; a parameter is a number, an array, or a cell_field / nodal_field of "
                             "numbers", name=name, admissible="real numbers") from None
    return _Tagged(array, value.kind) if isinstance(value, _Tagged) else array


def is_traced(value) -> bool:
    """Whether ``value`` (or the array in a field marker) is a JAX tracer — a value inside
    ``jit`` / ``grad``, which cannot be checked (it was, where it entered)."""
    return isinstance(getattr(value, "values", value), jax.core.Tracer)


def scale_value(value, factor):
    """``value * factor``, keeping a ``cell_field`` / ``nodal_field`` marker."""
    if isinstance(value, _Tagged):
        return _Tagged(value.values * factor, value.kind)
    return np.asarray(value) * factor


@dataclass(frozen=True)
class ParameterLayout:
    """Kind of every parameter, by name: ``{"E": "cell", "nu": "global"}``."""

    kinds: tuple[tuple[str, str], ...]

    def kind(self, name: str) -> str:
        return dict(self.kinds)[name]


def _kind_of(name, value, point_shape, n_cells, n_nodes):
    ps = tuple(point_shape)
    if isinstance(value, _Tagged):
        n, where = (n_cells, "cell") if value.kind == CELL else (n_nodes, "node")
        shape = np.shape(value.values)
        if shape != (n, *ps):
            raise InputError(f"parameter {name!r} is a {where} field of shape {shape}; expected {(n, *ps)}: "
                             f"one value{' of shape ' + str(ps) if ps else ''} per {where} ({n} {where}s)")
        return value.kind, value.values
    shape = np.shape(value)
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


def _format_value(array) -> str:
    return f"{float(array):.6g}" if np.ndim(array) == 0 else np.array2string(array, precision=6, separator=", ")


def _describe_bad(name, kind, values, bad_ids, what):
    shown = ", ".join(str(int(i)) for i in bad_ids[:10])
    more = f", ... ({bad_ids.size} in all)" if bad_ids.size > 10 else ""
    sample = values.reshape(values.shape[0], -1)[bad_ids[:5]] if kind != GLOBAL else values
    sample_text = np.array2string(np.asarray(sample).ravel()[:5], precision=4, separator=", ")
    where = {CELL: "cell", NODE: "node"}.get(kind, "entry")
    return (f"parameter {name!r} ({'per ' + where if kind != GLOBAL else 'global'}) {what} at "
            f"{bad_ids.size} {where}(s): ids [{shown}{more}], values {sample_text}"), where


def check_values(values: Mapping[str, Any], point_shapes: Mapping[str, tuple], rules,
                 n_cells: int, n_nodes: int, cells=None) -> None:
    """Check parameter values: every entry finite, and every rule that reads them holds.

    Args:
        values: name → value (number, array, ``cell_field``/``nodal_field``); JAX tracers
            are skipped (their concrete values were checked where they entered).
        point_shapes: name → per-point shape, as for :func:`split_parameters`.
        rules: :class:`~femopt.physics.admissible.ParameterRule` objects; a rule is
            checked when all the parameters it reads are in ``values``.
        cells: ``(n_cells, n_nodes_per_cell)``, needed only for a rule that mixes a
            per-cell with a per-node field (node values then enter as cell means).

    Raises:
        ParameterError: naming the parameter, the kind, the offending ids, the values there
            and the admissible range.
    """
    arrays = {}
    for name, value in values.items():
        if name not in point_shapes or is_traced(value):
            continue
        kind, array = _kind_of(name, as_float_value(value, name), point_shapes[name], n_cells, n_nodes)
        finite = np.isfinite(array).reshape(array.shape[0], -1).all(axis=1) if kind != GLOBAL \
            else np.isfinite(array).ravel()
        if not finite.all():
            bad = np.flatnonzero(~finite)
            message, where = _describe_bad(name, kind, array, bad, "is NaN or Inf")
            raise ParameterError(message + "; every value must be finite", name=name,
                                 ids=bad if kind != GLOBAL or array.ndim else (), where=where,
                                 admissible="finite")
        arrays[name] = (kind, array)
    for rule in rules:
        if not all(n in arrays for n in rule.names):
            continue
        kinds = {arrays[n][0] for n in rule.names} - {GLOBAL}
        field = bool(kinds)
        kind = CELL if CELL in kinds else (NODE if kinds else GLOBAL)
        operands = []
        for n in rule.names:
            k, a = arrays[n]
            if k == NODE and kind == CELL:
                if cells is None:
                    continue
                a = a[cells].mean(axis=1)
            operands.append(a)
        if len(operands) != len(rule.names):
            continue
        try:
            operands = np.broadcast_arrays(*operands)
        except ValueError:
            raise InputError(f"parameters {' and '.join(rule.names)} have shapes {[a.shape for a in operands]}, "
                             f"which do not broadcast together; the rule '{rule.admissible}' compares them "
                             "point by point") from None
        ok = np.asarray(rule.holds(*operands, field))
        ok = ok.reshape(ok.shape[0], -1).all(axis=1) if field else np.atleast_1d(ok).ravel()
        if ok.all():
            continue
        name = rule.names[0] if len(rule.names) == 1 else " and ".join(rule.names)
        shown = operands[0]
        if field:
            bad = np.flatnonzero(~ok)
            message, where = _describe_bad(name, kind, shown, bad, "is not admissible")
        else:
            bad = np.zeros(0, dtype=np.int64)
            listed = ", ".join(f"{n} = {_format_value(arrays[n][1])}" for n in rule.names)
            message, where = f"parameter {listed} is not admissible", ""
        raise ParameterError(f"{message}; admissible: {rule.admissible}", name=name, ids=bad,
                             where=where, admissible=rule.admissible)
