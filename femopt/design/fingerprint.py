"""Fingerprints: what defines a run, as short strings, so that a checkpoint of one problem
is never resumed by another.

The protocol (used by :func:`femopt.optimize.minimize`): an objective, a constraint or a
schedule may define ``fingerprint() -> dict[str, str]``, ``{what: description}``, e.g.
``{"mesh": "quad4 mesh, 341 nodes, 300 cells in [0, 30] x [0, 10], sha256:…",
"filter": "DensityFilter(radius=1.5)"}``. The keys name things a user knows (the mesh,
the supports, the filter), so a mismatch reads as a list of what changed. minimize merges
the dicts of all the functions it receives (:func:`merge`) and stores the result in its
checkpoint.

Arrays enter through :func:`digest` (SHA-256 of their bytes, shapes and dtypes), other
values through :func:`describe` (reprs of numbers and strings, names of functions).
Only inputs are digested, never computed results such as an assembled load vector: a
computed value may differ in its last bit on another machine, and a checkpoint must
resume there.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import numbers
import types
from typing import Mapping

import numpy as np

from ..errors import InputError

__all__ = ["digest", "describe", "name_of", "fingerprint_of", "merge", "mesh_fingerprint",
           "problem_fingerprint", "density_design_fingerprint", "shape_design_fingerprint"]

#: Hex digits of SHA-256 kept in a description (64 bits: enough to tell runs apart).
DIGEST_LENGTH = 16

#: Arrays up to this many entries are written out instead of digested.
_SHOWN_ENTRIES = 6


def digest(*arrays) -> str:
    """``"sha256:…"`` of the arrays' shapes, dtypes and bytes (C order)."""
    h = hashlib.sha256()
    for array in arrays:
        a = np.ascontiguousarray(np.asarray(array))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return "sha256:" + h.hexdigest()[:DIGEST_LENGTH]


def _number(value) -> str:
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))  # the shortest repr that reads back to the same float
    return repr(complex(value))


def describe(value, depth: int = 2) -> str:
    """A deterministic short description of a setting: numbers and strings by repr, small
    arrays written out, large ones digested, functions by qualified name, other objects
    by class name and public attributes (``depth`` levels deep)."""
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, numbers.Number):
        return _number(value)
    if hasattr(value, "__array__") and hasattr(value, "shape"):
        array = np.asarray(value)
        if array.ndim == 0:
            return describe(array.item())
        if array.size <= _SHOWN_ENTRIES and array.dtype.kind in "biuf":
            return "[" + ", ".join(_number(v) for v in array.ravel().tolist()) + "]"
        return f"array{tuple(array.shape)} {digest(array)}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(describe(v, depth) for v in value) + ")"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {describe(value[k], depth)}" for k in sorted(value, key=str)) + "}"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial, type)):
        return name_of(value)
    if depth <= 0:
        return type(value).__name__
    if dataclasses.is_dataclass(value):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    else:
        # public settings only: dict attributes are left out, they hold what an object
        # accumulates while it runs (timings, caches), not how it was set up
        fields = {k: v for k, v in sorted(getattr(value, "__dict__", {}).items())
                  if not k.startswith("_") and not isinstance(v, Mapping)}
    inner = ", ".join(f"{k}={describe(v, depth - 1)}" for k, v in fields.items())
    return f"{type(value).__name__}({inner})"


def name_of(function) -> str:
    """The name a run records for a function: its ``name`` attribute, a plain function's
    ``__qualname__``, or the class name of a callable object."""
    name = getattr(function, "name", None)
    if isinstance(name, str):
        return name
    if isinstance(function, functools.partial):
        return f"partial({name_of(function.func)})"
    if isinstance(function, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)):
        return getattr(function, "__qualname__", getattr(function, "__name__", type(function).__name__))
    return type(function).__qualname__


def fingerprint_of(function) -> dict[str, str]:
    """``function.fingerprint()`` checked to be ``{str: str}``; ``{}`` without one."""
    method = getattr(function, "fingerprint", None)
    if not callable(method):
        return {}
    result = method()
    if not isinstance(result, Mapping):
        raise InputError(f"{name_of(function)}.fingerprint() must return a dict {{what: description}}, "
                         f"got {type(result).__name__}")
    return {str(k): v if isinstance(v, str) else describe(v) for k, v in result.items()}


def merge(parts) -> dict[str, str]:
    """One fingerprint from ``(role, fingerprint)`` pairs: an entry several functions share
    (the mesh of an objective and of its constraint) appears once; an entry whose value
    differs between them is kept for each, as ``"role: what"``."""
    merged: dict[str, str] = {}
    for role, part in parts:
        for key, value in part.items():
            if merged.get(key, value) == value:
                merged[key] = value
            else:
                merged[f"{role}: {key}"] = value
    return merged


def mesh_fingerprint(mesh) -> dict[str, str]:
    """``{"mesh": cell type, sizes, bounding box and the digest of points and cells}``."""
    points, cells = np.asarray(mesh.points), np.asarray(mesh.cells)
    box = " x ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(points.min(axis=0), points.max(axis=0)))
    cell_type = getattr(mesh.cell_type, "name", mesh.cell_type)
    return {"mesh": f"{cell_type} mesh, {len(points)} nodes, {len(cells)} cells in {box}, {digest(points, cells)}"}


def problem_fingerprint(problem, *, mesh: bool = True) -> dict[str, str]:
    """The mesh (unless ``mesh=False``: a shape design moves it), the physics with its
    settings, the parameter values (materials, load magnitudes) and the supports
    (prescribed dofs and values). A problem with its own ``fingerprint()`` gives that."""
    own = fingerprint_of(problem)
    if own:
        return own
    out = mesh_fingerprint(problem.mesh) if mesh else {}
    physics = problem.physics
    settings = ", ".join(f"{k}={describe(v, depth=1)}" for k, v in sorted(vars(physics).items())
                         if not k.startswith("_") and k != "parameters")
    out["physics"] = f"{type(physics).__name__}({settings})"
    params = {k: getattr(v, "values", v) for k, v in problem.params.items()}
    out["problem parameters"] = describe(params, depth=0)
    loads = getattr(problem, "loads", None)
    if callable(loads):
        out["loads"] = "; ".join(f"{kind} {name!r} on {'all cells' if where is None else digest(where)}"
                                 for kind, name, where in loads()) or "none"
    partition = problem.partition
    out["supports"] = (f"{partition.prescribed.size} prescribed dofs, "
                       f"{digest(partition.prescribed, problem.prescribed_values())}")
    return out


def density_design_fingerprint(design) -> dict[str, str]:
    """A :class:`~femopt.design.DensityDesign`: its mesh, design cells, filter,
    interpolation and projection."""
    out = mesh_fingerprint(design.mesh)
    out["design"] = (f"{type(design).__name__}, {design.n_design} design cells, "
                     f"passive cells {digest(design.passive)}")
    flt = design.filter
    out["filter"] = "none" if flt is None else f"{type(flt).__name__}(radius={describe(flt.radius)})"
    out["interpolation"] = describe(design.interpolation)
    out["projection"] = ("none" if design.projection is None
                         else f"{describe(design.projection)}, threshold {describe(design.threshold)}")
    return out


def shape_design_fingerprint(design) -> dict[str, str]:
    """A :class:`~femopt.design.ShapeDesign`: its reference mesh, parametrization (class,
    variables, moved nodes) and morph."""
    out = mesh_fingerprint(design.reference)
    p = design.parametrization
    out["shape parametrization"] = (f"{type(p).__name__}, {p.n_variables} variables, "
                                    f"moving nodes {digest(np.asarray(p.nodes))}")
    out["morph"] = "none" if design.morph is None else type(design.morph).__name__
    return out
