"""The arguments of ``minimize`` checked once at its boundary: the functions, the start
design, the bounds — and the bounds and grey level a design object brings along.

Bounds are never invented: a plain function ``x -> (f, ∇f)`` has unbounded variables
unless ``bounds=`` says otherwise (OC and MMA then ask for finite ones). Only variables
that declare their own bounds — a :class:`~femopt.design.DensityDesign`'s densities,
``bounds = (0, 1)`` — get them by default, found on the objective's or a constraint's
``design`` attribute (or on the function itself), and logged.
"""
from __future__ import annotations

import logging

import numpy as np

from ..errors import InputError
from .base import format_ids

__all__ = ["as_objective", "as_design", "as_bounds", "design_defaults"]

_log = logging.getLogger("femopt.optimize")


def as_objective(f, what):
    """``x -> (value, gradient)``: the function itself, or the ``value_and_grad`` of an
    object that has one (``femopt.sensitivity.ReducedFunctional``)."""
    if callable(getattr(f, "value_and_grad", None)):
        return f.value_and_grad
    if not callable(f):
        raise InputError(f"{what} must be a function x -> (value, gradient) or an object with value_and_grad(x), "
                         f"got {type(f).__name__}")
    return f


def as_design(x0) -> np.ndarray:
    x0 = np.asarray(x0, dtype=np.float64).ravel().copy()
    if x0.size == 0:
        raise InputError("x0 is empty: the design needs at least one variable")
    bad = np.flatnonzero(~np.isfinite(x0))
    if bad.size:
        raise InputError(f"x0 has non-finite entries (NaN or Inf) at ids {format_ids(bad, x0.size)}; give "
                         "a finite starting design, e.g. design.initial(volume_fraction)")
    return x0


def as_bounds(bounds, n):
    lower, upper = bounds if bounds is not None else (-np.inf, np.inf)
    out = []
    for name, value in (("lower", lower), ("upper", upper)):
        value = np.asarray(value, dtype=np.float64)
        if value.ndim > 1 or value.size not in (1, n):
            raise InputError(f"bounds: the {name} bounds have shape {value.shape}, the design x0 has {n} "
                             f"entries; give a number or an array of shape ({n},)")
        bad = np.flatnonzero(np.isnan(np.broadcast_to(value, (n,))))
        if bad.size:
            raise InputError(f"bounds: the {name} bounds are NaN at ids {format_ids(bad, n)}; give numbers "
                             "(-inf / inf for no bound)")
        out.append(np.broadcast_to(value, (n,)).copy())
    lower, upper = out
    crossed = np.flatnonzero(lower > upper)
    if crossed.size:
        raise InputError(f"bounds: some lower bounds exceed their upper bounds, at ids {format_ids(crossed, n)}")
    return lower, upper


def _declared(obj):
    """The object declaring bounds: ``obj`` itself or its ``design`` (None if neither)."""
    for candidate in (obj, getattr(obj, "design", None)):
        if candidate is not None and not callable(getattr(candidate, "bounds", None)) \
                and isinstance(getattr(candidate, "bounds", None), tuple):
            return candidate
    return None


def design_defaults(functions):
    """``(bounds, grey_level, source)`` declared by the first of ``functions`` (the
    objective, then the constraints) that has design variables with declared bounds;
    ``(None, None, None)`` when none does."""
    for f in functions:
        declared = _declared(f)
        if declared is not None:
            grey = getattr(declared, "grey_level", None)
            return declared.bounds, grey if callable(grey) else None, type(declared).__name__
    return None, None, None

