"""A boundary curve moved by a B-spline: :class:`BSplineBoundary`.

The displacement of the boundary's nodes is a clamped B-spline of the node's normalized
arc length s along the curve,

    d(s) = Σ_j N_j(s) ΔP_j,      ΔP_j = x_j n_j  (direction="normal")  or  ΔP_j free,

with the basis N (:mod:`femopt.design.splines`) evaluated once, so d = B x for a constant
matrix B and the chain rule is Bᵀ. Like every parametrization that :class:`ShapeDesign`
composes, it offers ``nodes``, ``n_variables``, ``displacement(x)`` and ``vjp``.

Supported: a 2D mesh and a boundary selection that is ONE open curve of boundary facets
(linear or quadratic); its nodes are ordered by walking the facets. A closed curve (a whole
hole) or several pieces are refused: select an open part, or pass ``parameter=``, a
function of the nodes' coordinates that orders them (then 3D works too, with
``direction="free"``).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .splines import bspline_basis, check_degree, greville_abscissae

__all__ = ["BSplineBoundary", "boundary_curve"]


def boundary_curve(mesh, nodes) -> np.ndarray:
    """The boundary nodes ``nodes`` ordered along the curve their boundary facets form.

    The walk follows the facets' own direction (corner 0 → corner 1: for cells with a
    positive Jacobian the material lies on the left), mid-side nodes between the corners.

    Returns:
        ``(n,)`` node ids, the same set as ``nodes``, in curve order.

    Raises:
        InputError: the nodes' boundary facets do not form one open curve (no facet,
            a branch, a closed loop, several pieces), or some node lies on none of them.
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    facet_nodes = _boundary_facets_within(mesh, nodes)
    if len(facet_nodes) == 0:
        raise InputError(f"the {nodes.size} selected nodes hold no whole boundary facet: select "
                         "the nodes of a boundary curve (e.g. a facet tag)")
    first, second = facet_nodes[:, 0], facet_nodes[:, 1]
    out_count = np.bincount(first, minlength=mesh.n_nodes)
    in_count = np.bincount(second, minlength=mesh.n_nodes)
    branches = np.flatnonzero((out_count > 1) | (in_count > 1))
    if branches.size:
        raise InputError(f"the boundary selection is not a single curve: it branches at nodes "
                         f"{branches[:10].tolist()}; select one curve")
    starts = np.flatnonzero((out_count == 1) & (in_count == 0))
    if starts.size == 0:
        raise InputError("the boundary selection is a closed curve; BSplineBoundary needs an open "
                         "one (select part of it, or pass parameter=)")
    if starts.size > 1:
        raise InputError(f"the boundary selection is {starts.size} separate curves (starting at nodes "
                         f"{starts[:10].tolist()}); select a single curve")
    facet_from = np.full(mesh.n_nodes, -1, dtype=np.int64)
    facet_from[first] = np.arange(len(first))
    ordered, node = [starts[0]], starts[0]
    while facet_from[node] >= 0:
        facet = facet_nodes[facet_from[node]]
        ordered.extend(facet[2:].tolist() + [facet[1]])
        node = facet[1]
    if len(ordered) - 1 != len(facet_nodes) * (facet_nodes.shape[1] - 1):
        raise InputError("the boundary selection is an open curve plus a closed loop; select a "
                         "single curve")
    ordered = np.array(ordered, dtype=np.int64)
    missing = np.setdiff1d(nodes, ordered)
    if missing.size:
        raise InputError(f"nodes {missing[:10].tolist()} of the boundary selection lie on none of its "
                         "boundary facets; select the nodes of one curve")
    return ordered


def _boundary_facets_within(mesh, nodes) -> np.ndarray:
    """Node ids ``(n_facets, n_facet_nodes)`` of the boundary facets whose nodes are all
    among ``nodes``."""
    inside = np.zeros(mesh.n_nodes, dtype=bool)
    inside[nodes] = True
    facet_nodes = mesh.facet_nodes(mesh.boundary_facets())
    return facet_nodes[inside[facet_nodes].all(axis=1)]


def _node_normals(mesh, nodes) -> np.ndarray:
    """Outward unit normals ``(n, 2)`` at ``nodes``: mean of the chord normals of the
    boundary facets within ``nodes`` that touch each node, weighted by their lengths."""
    facet_nodes = _boundary_facets_within(mesh, nodes)
    if len(facet_nodes) == 0:
        raise InputError("direction='normal' needs the boundary facets of the selected nodes; "
                         "they hold none (use direction='free')")
    tangent = mesh.points[facet_nodes[:, 1]] - mesh.points[facet_nodes[:, 0]]
    chord_normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)  # length-weighted, outward
    summed = np.zeros((mesh.n_nodes, 2))
    for column in facet_nodes.T:
        np.add.at(summed, column, chord_normal)
    summed = summed[nodes]
    return summed / np.linalg.norm(summed, axis=1, keepdims=True)


class BSplineBoundary:
    """Displacement of a boundary curve's nodes by a clamped B-spline of its arc length.

    Args:
        mesh: the reference :class:`~femopt.Mesh` (2D; 3D only with ``parameter=`` and
            ``direction="free"``).
        boundary: the curve's nodes (tag name, predicate or node ids): one open curve.
        n_control: number of control points n (>= degree + 1).
        degree: the B-spline degree p (3: cubic; n = p + 1 is a Bézier curve).
        direction: ``"normal"``: one variable per control point, its displacement along
            the boundary's outward unit normal (out of the material: for a hole, towards
            its centre) at the control point's parameter; ``"free"``: dim variables.
        along: ``{control index: vector}``: these control points move along the vector
            only, one variable each, e.g. ``{0: (1, 0)}`` for an end on the x axis.
        fixed: control indices held in place (negative counts from the end), e.g.
            ``(0, -1)`` keeps the curve's end points; or a boolean mask ``(n_control,)``.
        parameter: optional ``f(points (n_boundary, dim)) -> (n_boundary,)``: orders the
            nodes instead of the facet walk (rescaled to [0, 1]); default: the normalized
            arc length of the facet walk (chords between consecutive nodes).

    Attributes:
        nodes: ``(n_boundary,)`` sorted node ids (the order of :meth:`displacement`'s rows,
            the same as ``mesh.nodes(boundary)`` and so as a morph's ``moving_nodes``).
        parameter: ``(n_boundary,)`` each node's s in [0, 1].
        curve_nodes: ``(n_boundary,)`` node ids ordered along the curve (s increasing).
        basis: ``(n_boundary, n_control)`` the B-spline basis N_j(s) at the nodes.
        control_parameters: ``(n_control,)`` the Greville abscissae of the control points.
        control_locations: ``(n_control, dim)`` boundary points at those parameters.
        directions: ``(n_control, dim)`` the unit direction of each one-variable control
            point (normal or ``along``); NaN rows for free and fixed ones.
        matrix: B ``(n_boundary * dim, n_variables)``: displacement = B x, node-major.
    """

    def __init__(self, mesh, boundary, n_control: int = 6, *, degree: int = 3, direction: str = "normal",
                 along=None, fixed=(), parameter=None):
        n_control, degree = check_degree(n_control, degree, "BSplineBoundary")
        if direction not in ("normal", "free"):
            raise InputError(f"direction must be 'normal' or 'free', got {direction!r}")
        dim = mesh.dim
        if parameter is None and dim != 2:
            raise InputError(f"BSplineBoundary walks a boundary curve of a 2D mesh; this mesh has dim "
                             f"{dim}: pass parameter=f(points) to order the nodes")
        if dim != 2 and direction == "normal":
            raise InputError("direction='normal' is 2D only; use direction='free' in 3D")
        self.nodes = mesh.nodes(boundary)
        self.n_control, self.degree, self.dim = n_control, degree, dim
        if parameter is None:
            self.curve_nodes = boundary_curve(mesh, self.nodes)
            chords = np.linalg.norm(np.diff(mesh.points[self.curve_nodes], axis=0), axis=1)
            arc = np.concatenate([[0.0], np.cumsum(chords)])
            position = np.searchsorted(self.nodes, self.curve_nodes)
            self.parameter = np.empty(self.nodes.size)
            self.parameter[position] = arc / arc[-1]
        else:
            self.parameter = _user_parameter(parameter, mesh.points[self.nodes])
            self.curve_nodes = self.nodes[np.argsort(self.parameter, kind="stable")]
        self.basis = bspline_basis(self.parameter, n_control, degree)
        self.control_parameters = greville_abscissae(n_control, degree)
        s_sorted = np.sort(self.parameter)
        curve_points = mesh.points[self.curve_nodes]
        self.control_locations = np.stack(
            [np.interp(self.control_parameters, s_sorted, curve_points[:, c]) for c in range(dim)], axis=1)

        if np.asarray(fixed).dtype == bool:
            if np.shape(fixed) != (n_control,):
                raise InputError(f"fixed as a mask must have shape ({n_control},), got {np.shape(fixed)}")
            fixed = np.flatnonzero(fixed).tolist()
        fixed_set = _control_indices(fixed, n_control, "fixed")
        along = {_control_indices([key], n_control, "along").pop(): value for key, value in (along or {}).items()}
        if fixed_set & set(along):
            raise InputError(f"control points {sorted(fixed_set & set(along))} are both fixed and in along")
        self.directions = np.full((n_control, dim), np.nan)
        if direction == "normal":
            node_normals = _node_normals(mesh, self.curve_nodes)
            normals = np.stack([np.interp(self.control_parameters, s_sorted, node_normals[:, c])
                                for c in range(dim)], axis=1)
            self.directions[:] = normals / np.linalg.norm(normals, axis=1, keepdims=True)
        for index, vector in along.items():
            vector = np.asarray(vector, dtype=np.float64)
            if vector.shape != (dim,) or not np.all(np.isfinite(vector)) or not np.any(vector):
                raise InputError(f"along[{index}] must be a nonzero vector of {dim} numbers, got {vector!r}")
            self.directions[index] = vector / np.linalg.norm(vector)
        self.directions[sorted(fixed_set)] = np.nan
        self._blocks = []  # (control index, direction or None for free)
        columns = []
        for j in range(n_control):
            if j in fixed_set:
                continue
            if np.isnan(self.directions[j, 0]):
                self._blocks.append((j, None))
                columns.extend(np.kron(self.basis[:, j:j + 1], np.eye(dim)).T)
            else:
                self._blocks.append((j, self.directions[j]))
                columns.append(np.outer(self.basis[:, j], self.directions[j]).ravel())
        if not columns:
            raise InputError(f"all {n_control} control points are fixed: nothing to design")
        self.matrix = np.stack(columns, axis=1)

    @property
    def n_variables(self) -> int:
        return self.matrix.shape[1]

    def displacement(self, x) -> np.ndarray:
        """Boundary node displacement ``(n_boundary, dim)`` for the design ``x (n_variables,)``."""
        return (self.matrix @ x).reshape(self.nodes.size, self.dim)

    def vjp(self, displacement_bar) -> np.ndarray:
        """Bᵀ d̄: the gradient ``(n_variables,)`` from d̄ ``(n_boundary, dim)``."""
        return self.matrix.T @ np.asarray(displacement_bar).ravel()

    def control_displacement(self, x) -> np.ndarray:
        """ΔP ``(n_control, dim)``: the control points' displacements for design ``x``."""
        x = np.asarray(x, dtype=np.float64)
        delta, start = np.zeros((self.n_control, self.dim)), 0
        for j, vector in self._blocks:
            if vector is None:
                delta[j], start = x[start:start + self.dim], start + self.dim
            else:
                delta[j], start = x[start] * vector, start + 1
        return delta


def _control_indices(indices, n_control: int, what: str) -> set:
    out = set()
    for index in indices:
        integer = isinstance(index, (int, np.integer)) and not isinstance(index, bool)
        if not integer or not -n_control <= index < n_control:
            raise InputError(f"{what}: control point indices must be integers in [{-n_control}, {n_control}), "
                             f"got {index!r}")
        out.add(int(index) % n_control)
    return out


def _user_parameter(parameter, points) -> np.ndarray:
    if not callable(parameter):
        raise InputError(f"parameter must be a function f(points) -> (n_boundary,) values, got {parameter!r}")
    values = np.asarray(parameter(points), dtype=np.float64)
    if values.shape != (len(points),) or not np.all(np.isfinite(values)):
        raise InputError(f"parameter(points) must return {len(points)} finite values, got shape {values.shape}")
    span = values.max() - values.min()
    if not span > 0.0:
        raise InputError("parameter(points) is constant over the boundary: it must order the nodes")
    return (values - values.min()) / span
