"""Shape design: a few variables move a boundary; the mesh follows; the chain rule is exact.

    x ──B──▶ boundary displacement ──morph──▶ node coordinates X ──▶ J(u(X), X)

* :class:`HoleShape`: radial offsets of a hole's boundary, r(θ) = r₀(θ) + Σ_k x_k cos(2kθ)
  — a cosine series symmetric about both axes (what a quarter model with symmetry
  needs). Linear: the boundary displacement is B x for a constant matrix B.
* :class:`ShapeDesign`: the boundary parametrization composed with a mesh morph
  (:class:`~femopt.design.LinearElasticMorph`), or alone when it moves the nodes itself
  (``morph=None``, e.g. :class:`~femopt.design.FFDBox`); ``points(x)``, ``mesh(x)``
  (refuses designs that invert cells, naming them) and ``vjp`` (dJ/dX → dJ/dx).

Other parametrizations: :class:`~femopt.design.BSplineBoundary` (a B-spline of a boundary
curve, :mod:`femopt.design.shape_parametrizations`) and :class:`~femopt.design.FFDBox`
(free-form deformation, :mod:`femopt.design.ffd`).
* :class:`ShapeFunctional`: any femopt functional as an ``x → (value, gradient)``
  objective or constraint for :func:`femopt.optimize.minimize`; the shape derivative
  dJ/dX comes from the adjoint (``femopt.gradient(..., wrt="coordinates")``).

Every piece of the map x → X is linear, so dX/dx is one matrix applied through the
morph's factorization; nothing is re-factorized between iterations.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..sensitivity import gradient as adjoint_gradient
from .fingerprint import describe, merge, problem_fingerprint, shape_design_fingerprint

__all__ = ["HoleShape", "ShapeDesign", "ShapeFunctional"]


class HoleShape:
    """Radial offsets of a hole boundary in a cosine series of the polar angle.

    The node at angle θ about ``center`` moves along its radial direction by
    Σ_{k<n_modes} x_k cos(2kθ): mode 0 scales the hole, mode 1 makes it elliptical, the
    higher ones refine the shape, and every mode keeps the symmetry about x and y.

    Args:
        mesh: the reference :class:`~femopt.Mesh`.
        boundary: the hole's nodes (tag name, predicate or node ids), e.g. ``"hole"``.
        center: the hole's centre ``(dim,)`` (2D: the polar angle is taken in x–y).
        n_modes: number of cosine modes (design variables).

    Attributes:
        nodes: ``(n_boundary,)`` node ids of the boundary.
        matrix: B ``(n_boundary * dim, n_modes)``: boundary displacement = B x, node-major.
    """

    def __init__(self, mesh, boundary="hole", *, center=(0.0, 0.0), n_modes: int = 4):
        if mesh.dim != 2:
            raise InputError(f"HoleShape is 2D (polar angle in the plane); the mesh has dim {mesh.dim}")
        if int(n_modes) < 1:
            raise InputError(f"n_modes must be >= 1, got {n_modes!r}")
        self.center = np.asarray(center, dtype=np.float64)
        if self.center.shape != (2,):
            raise InputError(f"center must be 2 numbers, got {center!r}")
        self.nodes = mesh.nodes(boundary)
        self.n_modes = int(n_modes)
        offset = mesh.points[self.nodes] - self.center
        radius = np.linalg.norm(offset, axis=1)
        if np.any(radius <= 1e-12 * max(radius.max(), 1.0)):
            raise InputError("a boundary node lies at the centre: the radial direction is undefined")
        direction = offset / radius[:, None]  # (n_boundary, 2)
        theta = np.arctan2(offset[:, 1], offset[:, 0])
        modes = np.cos(2.0 * np.arange(self.n_modes)[None, :] * theta[:, None])  # (n_boundary, n_modes)
        self.matrix = (direction[:, :, None] * modes[:, None, :]).reshape(-1, self.n_modes)

    @property
    def n_variables(self) -> int:
        return self.n_modes

    def displacement(self, x) -> np.ndarray:
        """Boundary node displacement ``(n_boundary, dim)`` for the design ``x (n_modes,)``."""
        return (self.matrix @ x).reshape(self.nodes.size, -1)

    def vjp(self, displacement_bar) -> np.ndarray:
        """Bᵀ d̄: the gradient ``(n_modes,)`` from d̄ ``(n_boundary, dim)``."""
        return self.matrix.T @ np.asarray(displacement_bar).ravel()

    def axis_ratio(self, points) -> float:
        """Half-width along x over half-height along y of the hole: max (x − c_x) / max
        (y − c_y) over its nodes in ``points (n_nodes, 2)`` (quarter model: the hole's
        semi-axes)."""
        offset = np.asarray(points)[self.nodes] - self.center
        return float(np.max(offset[:, 0]) / np.max(offset[:, 1]))


class ShapeDesign:
    """Boundary parametrization composed with a mesh morph: x → node coordinates X.

    Args:
        mesh: the reference :class:`~femopt.Mesh` (copied: a problem built on ``mesh`` may
            have its nodes moved by :class:`ShapeFunctional` without changing this one).
        parametrization: e.g. :class:`HoleShape`, :class:`~femopt.design.BSplineBoundary`
            or :class:`~femopt.design.FFDBox`: ``nodes``, ``n_variables``,
            ``displacement(x)`` and ``vjp``, linear in x.
        morph: e.g. :class:`~femopt.design.LinearElasticMorph` whose ``moving_nodes`` are
            the parametrization's ``nodes`` (same order); or None when the
            parametrization moves the nodes itself (an :class:`~femopt.design.FFDBox` of
            a region): X = X₀ + its displacement on its ``nodes``, the others stay.
    """

    def __init__(self, mesh, parametrization, morph):
        nodes = np.asarray(parametrization.nodes)
        if morph is not None and not np.array_equal(np.asarray(morph.moving_nodes), nodes):
            raise InputError("the morph must move exactly the parametrization's nodes, in the same order; "
                             "build both from the same selection")
        if morph is None and (nodes.ndim != 1 or np.unique(nodes).size != nodes.size):
            raise InputError("without a morph the parametrization's nodes must be distinct node ids")
        self.reference = mesh.with_points(np.array(mesh.points))
        self.parametrization, self.morph = parametrization, morph

    @property
    def n_variables(self) -> int:
        return self.parametrization.n_variables

    def initial(self) -> np.ndarray:
        """The reference shape, x = 0."""
        return np.zeros(self.n_variables)

    def _check(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.n_variables,):
            raise InputError(f"the shape design has {self.n_variables} variables, got shape {x.shape}")
        return x

    def points(self, x) -> np.ndarray:
        """Node coordinates ``(n_nodes, dim)`` of design ``x`` (not validated)."""
        boundary = self.parametrization.displacement(self._check(x))
        if self.morph is None:
            points = np.array(self.reference.points)
            points[self.parametrization.nodes] += boundary
            return points
        return self.reference.points + self.morph.displacement(boundary)

    def mesh(self, x):
        """The moved mesh, validated.

        Raises:
            MeshError: the design inverts or degenerates cells; ``error.cells`` lists them.
        """
        return self.reference.with_points(self.points(x))

    def vjp(self, points_bar) -> np.ndarray:
        """dJ/dx ``(n_variables,)`` from dJ/dX ``(n_nodes, dim)`` (x → X is linear, so
        this does not depend on x)."""
        if self.morph is None:
            return self.parametrization.vjp(np.asarray(points_bar)[self.parametrization.nodes])
        return self.parametrization.vjp(self.morph.vjp(points_bar))

    def fingerprint(self) -> dict[str, str]:
        """Reference mesh, parametrization and morph (for minimize's checkpoint)."""
        return shape_design_fingerprint(self)

    def move(self, problem, x) -> bool:
        """Put ``problem`` on the nodes of design ``x`` and solve it there, unless it is
        already there. Returns True when it moved.

        Raises:
            MeshError: the design inverts cells (the problem is left where it was).
        """
        moved = self.mesh(x)
        if problem.state is not None and np.array_equal(problem.mesh.points, moved.points):
            return False
        if problem.mesh.n_nodes != moved.n_nodes or not np.array_equal(problem.mesh.cells, moved.cells):
            raise InputError("the problem's mesh is not the design's mesh (different nodes or cells)")
        # Same problem on moved nodes: a new Problem would compile its kernels again.
        problem.move_nodes(moved.points)
        problem.solve()
        return True


class ShapeFunctional:
    """``x → (scale (J − shift), its gradient)`` for a femopt functional J of ``problem``
    on the nodes of the shape design x: an objective, or a constraint g ≤ 0.

    Functionals of the same problem share its solve: evaluating a second one at the same
    x does not solve again.

    Args:
        problem: the :class:`~femopt.Problem`, built on the design's mesh.
        functional: a :class:`~femopt.functionals.Functional` (e.g. ``von_mises_p_norm``).
        design: the :class:`ShapeDesign`.
        scale, shift: value = scale · (J − shift); e.g. an area kept at most A₀:
            ``scale=1/A0, shift=A0``; at least A₀: ``scale=-1/A0, shift=A0``.

    Attributes:
        last: ``{"x", "value", "points"}`` of the last evaluation.
    """

    def __init__(self, problem, functional, design, *, scale: float = 1.0, shift: float = 0.0):
        self.problem, self.functional, self.design = problem, functional, design
        self.scale, self.shift = float(scale), float(shift)
        self.last: dict = {}

    def __call__(self, x):
        self.design.move(self.problem, x)
        g = adjoint_gradient(self.functional, self.problem, wrt="coordinates")
        self.last = {"x": np.array(x), "value": g.value, "points": self.problem.mesh.points}
        return self.scale * (g.value - self.shift), self.scale * self.design.vjp(g["coordinates"])

    def fingerprint(self) -> dict[str, str]:
        """The problem (its mesh moves with the design: the design's reference mesh stands
        for it), the shape design, the functional and its scale and shift."""
        own = {"shape functional": (f"{describe(self.functional)}, scale {describe(self.scale)}, "
                                    f"shift {describe(self.shift)}")}
        return merge([("shape", own), ("shape", problem_fingerprint(self.problem, mesh=False)),
                      ("shape", self.design.fingerprint())])
