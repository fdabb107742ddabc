"""Checks of what enters a :class:`~femopt.problem.Problem`, at its public verbs.

The physics' default parameters, ``fix``'s components and values, a load's name and its
function of x, ``solve``'s parameter overrides and starting field: each is checked once,
where it enters, with a message naming the argument, what was expected and what was
given; inside, the problem trusts the data. Parameter *values* (numbers, fields, finite,
admissible) are checked by :func:`femopt.assembly.parameters.check_values`.
"""
from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..assembly.parameters import as_float_value, is_traced, real_array
from ..errors import InputError, ParameterError, describe_value

__all__ = ["physics_point_shapes", "fixed_components", "prescribed_values", "as_overrides", "initial_vector",
           "load_name", "check_load_function"]


def physics_point_shapes(physics, mesh) -> dict[str, tuple]:
    """Per-point shape of every parameter of ``physics``: declared by the physics
    (``parameter_shapes``), else that of its default value — minus a leading cells /
    nodes axis when the value is a field.

    Raises:
        ParameterError: a default that is not real numbers (a string, a complex number,
            rows of different lengths...), naming it.
    """
    declared = getattr(physics, "parameter_shapes", {}) or {}
    shapes = {}
    for name, value in physics.parameters.items():
        if name in declared:
            shapes[name] = tuple(declared[name])
            continue
        value = value if is_traced(value) else as_float_value(value, name)
        shape = np.shape(getattr(value, "values", value))
        shapes[name] = shape[1:] if shape and shape[0] in (mesh.n_cells, mesh.n_nodes) else shape
    return shapes


def fixed_components(space, components) -> np.ndarray:
    """``fix``'s components as int64 ids (see ``FunctionSpace._components``); a whole
    number too large for int64 is out of range like any other."""
    try:
        return space._components(components)
    except OverflowError:
        raise InputError(f"component(s) {components!r} out of range for a field with {space.n_components} "
                         "component(s)") from None


def prescribed_values(value, mesh, nodes: np.ndarray, comps: np.ndarray, n_components: int) -> np.ndarray:
    """``fix``'s value as ``(len(nodes), len(comps))`` float64, checked: a number, one per
    fixed component, one row per node, or a function of the node coordinates returning
    one of these (or a full ``(n, n_components)`` row per node)."""
    n, k = len(nodes), len(comps)
    given = value(mesh.points[nodes]) if callable(value) else value
    try:
        vals = real_array(given, "the function's result" if callable(value) else "the value")
    except InputError as error:
        raise InputError(f"fix(): value must be numbers or a function of x returning numbers; {error}") from None
    if callable(value) and vals.shape == (n, n_components) and k != n_components:
        vals = vals[:, comps]
    if vals.shape in ((), (k,), (n, k)):
        vals = np.broadcast_to(vals, (n, k))
    elif vals.shape == (n,) and k == 1:
        vals = vals[:, None]
    else:
        source = "the function returned" if callable(value) else "value has"
        raise InputError(f"fix(): {source} shape {vals.shape}; expected a number, {k} number(s) (one per "
                         f"fixed component {comps.tolist()}), or one row per selected node: ({n}, {k})"
                         + (f" or ({n},)" if k == 1 else ""))
    bad = np.flatnonzero(~np.isfinite(vals).all(axis=1))
    if bad.size:
        raise ParameterError(f"fix(): the prescribed values are NaN or Inf at {bad.size} node(s): ids "
                             f"{nodes[bad][:10].tolist()}{' ...' if bad.size > 10 else ''}",
                             name="prescribed", ids=nodes[bad], where="node", admissible="finite")
    return vals


def as_overrides(params) -> Mapping[str, Any]:
    """``solve``'s (and ``parameters``') overrides: None or a mapping name → value."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InputError(f"params must be a mapping {{name: value}} of parameter overrides, e.g. {{'E': 2.0}}, "
                         f"got {describe_value(params)}")
    return params


def initial_vector(initial, space) -> np.ndarray:
    """``solve(initial=...)`` as a flat float64 dof vector ``(n_dofs,)``."""
    return space.as_vector(real_array(initial, "solve(initial=...)"))


def load_name(name) -> str | None:
    """A load's parameter name: a string, or None (empty: None) for a generated one."""
    if name is not None and not isinstance(name, str):
        raise InputError(f"name must be a string (the name of the load's parameter), got "
                         f"{describe_value(name)}")
    return name or None


def check_load_function(function, what: str, dim: int, point_shape: tuple) -> None:
    """A load given as ``f(x)``: traced once, as the assembly will call it, with one point
    ``x`` of shape ``(dim,)``; it must return real numbers of ``point_shape`` (or a
    number, which a vector load applies to every component).

    Raises:
        InputError: the call fails (e.g. ``x[:, 0]``, written for many points; NumPy
            functions that a JAX trace refuses), or returns something else (a string, a
            complex number, a vector where a number belongs).
    """
    example = "lambda x: x[0]" if not point_shape else "lambda x: jnp.array([x[1], 0.0])"
    try:
        out = jax.eval_shape(function, jax.ShapeDtypeStruct((dim,), jnp.float64))
    except Exception as error:  # the user's function, traced: any failure is theirs to fix
        raise InputError(f"{what}: calling the load function with one point x of shape ({dim},), traced by JAX "
                         f"as the assembly does, failed with {type(error).__name__}: {error}. Write it for one "
                         f"point with jax.numpy, e.g. {example}") from error
    shape = getattr(out, "shape", None)
    if not isinstance(out, jax.ShapeDtypeStruct) or np.dtype(out.dtype).kind not in "biuf" or \
            not _broadcasts_to(shape, tuple(point_shape)):
        got = f"dtype {out.dtype}, shape {shape}" if isinstance(out, jax.ShapeDtypeStruct) else type(out).__name__
        expected = f"real numbers of shape {tuple(point_shape)} or a number" if point_shape else "a real number"
        raise InputError(f"{what}: the load function must return {expected} at a point x of shape ({dim},), got "
                         f"{got}; e.g. {example}")


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False
