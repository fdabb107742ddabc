"""Lamé's thick-walled cylinder and sphere under internal pressure.

Cylinder, plane strain (Timoshenko & Goodier, *Theory of Elasticity*, 3rd ed., §28),
inner radius a, outer b, internal pressure p:

    u_r = (1 + ν) p a² / (E (b² − a²)) [(1 − 2ν) r + b² / r]
    σ_rr = p a² / (b² − a²) (1 − b²/r²),   σ_θθ = p a² / (b² − a²) (1 + b²/r²).

Solved on a quarter annulus (symmetry supports on x = 0 and y = 0) in 2D, and in 3D on
the extruded quarter annulus with u_z = 0 on both ends (the plane-strain state).

Sphere (Timoshenko & Goodier §141):

    u_r = p a³ / (E (b³ − a³)) [(1 − 2ν) r + (1 + ν) b³ / (2 r²)].

Solved on one octant: three mapped hexahedral blocks (the spherical triangle split into
three quadrilaterals at its centre, extruded radially), symmetry supports on the three
coordinate planes.
"""
from __future__ import annotations

import numpy as np

from .. import mesh as meshes
from ..mesh.mesh import Mesh
from ..physics import LinearElasticity
from ..problem import Problem
from ..problem.stresses import stress
from .cases_common import l2_error, plane_stress_of
from .catalogue import Case, Check, Sample, register

__all__ = ["cylinder_radial_displacement", "cylinder_hoop_stress", "sphere_radial_displacement",
           "cylinder_problem", "solve_cylinder", "hollow_sphere_octant", "solve_sphere", "RADII"]

CYLINDER = "Lamé (1852); Timoshenko & Goodier, Theory of Elasticity, 3rd ed., §28 (plane strain)"
SPHERE = "Lamé (1852); Timoshenko & Goodier, Theory of Elasticity, 3rd ed., §141"

RADII = (1.0, 2.0)              # inner a, outer b
PRESSURE, E, NU = 1.0, 1000.0, 0.3


def cylinder_radial_displacement(r, a=RADII[0], b=RADII[1], p=PRESSURE, E=E, nu=NU):
    """u_r(r) of the plane-strain Lamé cylinder."""
    return (1.0 + nu) * p * a ** 2 / (E * (b ** 2 - a ** 2)) * ((1.0 - 2.0 * nu) * r + b ** 2 / r)


def cylinder_hoop_stress(r, a=RADII[0], b=RADII[1], p=PRESSURE):
    """σ_θθ(r) of the Lamé cylinder."""
    return p * a ** 2 / (b ** 2 - a ** 2) * (1.0 + b ** 2 / r ** 2)


def sphere_radial_displacement(r, a=RADII[0], b=RADII[1], p=PRESSURE, E=E, nu=NU):
    """u_r(r) of the Lamé sphere."""
    return p * a ** 3 / (E * (b ** 3 - a ** 3)) * ((1.0 - 2.0 * nu) * r + (1.0 + nu) * b ** 3 / (2.0 * r ** 2))


def _radial_field(radial):
    """Exact displacement x ↦ u_r(|x|) x/|x| in the plane (first two coordinates) or in
    space, for post-processing ``(m, dim)`` points."""
    def exact(x):
        r = np.linalg.norm(x, axis=1, keepdims=True)
        return radial(r) * x / r
    return exact


def cylinder_problem(cell: str, n: int, height: float | None = None) -> Problem:
    """Quarter annulus with ``n`` cells across the wall and ``2n`` around; 3D (extruded
    to ``height``, one cell thick, u_z = 0 on both ends) when ``height`` is given. Not
    solved yet."""
    mesh = meshes.quarter_annulus(*RADII, shape=(n, 2 * n), cell=cell, height=height,
                                  n_height=None if height is None else 1)
    problem = Problem(mesh, LinearElasticity(E=E, nu=NU, plane="strain"))
    problem.fix("xsym", components=0)
    problem.fix("ysym", components=1)
    if height is not None:
        problem.fix("zmin", components=2)
        problem.fix("zmax", components=2)
    problem.pressure("inner", PRESSURE)
    return problem


def solve_cylinder(cell: str, n: int, height: float | None = None):
    """:func:`cylinder_problem` solved. Returns (mesh, u)."""
    problem = cylinder_problem(cell, n, height)
    return problem.mesh, problem.solve()


def _inner_radial_displacement(mesh, u, spherical: bool) -> float:
    """u_r on r = a at the inner node where it is farthest from the exact value (radius
    in the x-y plane for the cylinder, in space for the sphere)."""
    position = mesh.points if spherical else mesh.points[:, :2]
    inner = np.flatnonzero(np.isclose(np.linalg.norm(position, axis=1), RADII[0]))
    ur = np.sum(u[inner, :position.shape[1]] * position[inner], axis=1) / RADII[0]
    exact = (sphere_radial_displacement if spherical else cylinder_radial_displacement)(RADII[0])
    return float(ur[np.argmax(np.abs(ur - exact))])


def cylinder_stress(x):
    """Exact (σ_xx, σ_yy, σ_xy) of the cylinder at points ``(m, 2)``."""
    r2 = np.sum(x ** 2, axis=1)
    a2, b2 = RADII[0] ** 2, RADII[1] ** 2
    radial = PRESSURE * a2 / (b2 - a2) * (1.0 - b2 / r2)
    hoop = PRESSURE * a2 / (b2 - a2) * (1.0 + b2 / r2)
    c2, s2, cs = x[:, 0] ** 2 / r2, x[:, 1] ** 2 / r2, x[:, 0] * x[:, 1] / r2
    return np.stack([radial * c2 + hoop * s2, radial * s2 + hoop * c2, (radial - hoop) * cs], axis=1)


def _cylinder_case(cell: str, dim: int, levels, tolerance: float) -> None:
    radial, hoop, field, stress_field = "u_r(a)", "σ_θθ(a)", "‖u − u_h‖_L2 / ‖u‖_L2", "‖σ − σ_h‖_L2 / ‖σ‖_L2"
    exact_u = _radial_field(cylinder_radial_displacement)

    def compute(n):
        problem = cylinder_problem(cell, n, height=0.25 if dim == 3 else None)
        u = problem.solve()
        mesh = problem.mesh
        h = (RADII[1] - RADII[0]) / n
        ur = _inner_radial_displacement(mesh, u, spherical=False)
        planar = exact_u if dim == 2 else \
            (lambda x: np.concatenate([exact_u(x[:, :2]), np.zeros((len(x), 1))], axis=1))
        error, norm = l2_error(mesh, u, planar)
        samples = [Sample(radial, computed=ur, reference=cylinder_radial_displacement(RADII[0]), h=h),
                   Sample(field, computed=error / norm, reference=0.0, h=h, error=error / norm)]
        if dim == 2:
            # Hoop stress at the inner node on y = 0, where σ_θθ = σ_yy.
            # the stress read at the nodes: patch recovery, material from the problem
            nodal = stress(problem, at="nodes", method="spr")
            node = int(np.argmin(np.linalg.norm(mesh.points - np.array([RADII[0], 0.0]), axis=1)))
            s_error, s_norm = l2_error(mesh, u, cylinder_stress, of=plane_stress_of(problem))
            samples += [Sample(hoop, computed=nodal[node, 1, 1], reference=cylinder_hoop_stress(RADII[0]), h=h),
                        Sample(stress_field, computed=s_error / s_norm, reference=0.0, h=h, error=s_error / s_norm)]
        return samples

    checks = [Check(radial, tolerance=tolerance), Check(field, tolerance=tolerance, expected_rate=3.0)]
    if dim == 2:
        # The nodal hoop stress at the bore reaches its rate 2 only on fine meshes (1.1,
        # 1.5, 1.75 from n = 1 to 8): a tolerance here, the rate on the L2 stress error.
        checks += [Check(hoop, tolerance=0.02), Check(stress_field, tolerance=0.02, expected_rate=2.0)]
    register(Case(
        name=f"lame_cylinder_{dim}d_{cell}",
        title=f"Lamé thick cylinder under internal pressure, plane strain, {dim}D, {cell}",
        source=CYLINDER, checks=tuple(checks), compute=compute, levels=levels,
        group="linear elasticity"))


_cylinder_case("quad8", 2, {"quick": (2, 4), "full": (1, 2, 4, 8, 16)}, tolerance=2e-3)
_cylinder_case("hex20", 3, {"quick": (2, 4), "full": (1, 2, 4, 8)}, tolerance=2e-3)


# ---------------------------------------------------------------------------- sphere
def _block_points(params: np.ndarray, vertex: int) -> np.ndarray:
    """Map box parameters (ρ, s, t) in [0, 1]^3 to the octant shell: the quadrilateral of
    the spherical triangle at corner ``vertex`` (corner, edge midpoints, centre, on the
    plane x + y + z = 1, pushed out to the sphere), at radius a + ρ (b − a)."""
    eye = np.eye(3)
    i, j, k = vertex, (vertex + 1) % 3, (vertex + 2) % 3
    corners = np.array([eye[i], 0.5 * (eye[i] + eye[j]), np.full(3, 1.0 / 3.0), 0.5 * (eye[i] + eye[k])])
    s, t = params[:, 1:2], params[:, 2:3]
    direction = ((1 - s) * (1 - t) * corners[0] + s * (1 - t) * corners[1]
                 + s * t * corners[2] + (1 - s) * t * corners[3])
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    radius = RADII[0] + params[:, 0:1] * (RADII[1] - RADII[0])
    return radius * direction


def hollow_sphere_octant(n_radial: int, n_around: int, cell: str = "hex8") -> Mesh:
    """Hexahedral mesh of the shell a <= r <= b in the octant x, y, z >= 0: three blocks
    of ``n_radial x n_around x n_around`` cells, mid nodes on the exact geometry."""
    points, cells, offset = [], [], 0
    for vertex in range(3):
        block = meshes.box(size=(1.0, 1.0, 1.0), shape=(n_radial, n_around, n_around), cell=cell)
        params = np.array(block.points)
        # Keep the cells positively oriented: swap s and t where the map reverses them.
        centre = np.full((1, 3), 0.5)
        step = 1e-6 * np.eye(3)
        jacobian = np.stack([(_block_points(centre + step[d], vertex) - _block_points(centre - step[d], vertex))[0]
                             for d in range(3)], axis=1)
        if np.linalg.det(jacobian) < 0:
            params = params[:, [0, 2, 1]]
        points.append(_block_points(params, vertex))
        cells.append(np.asarray(block.cells) + offset)
        offset += block.n_nodes
    points = np.concatenate(points)
    # Blocks share the faces between them: merge coincident nodes.
    _, first, inverse = np.unique(np.round(points, 10), axis=0, return_index=True, return_inverse=True)
    return Mesh(points[first], inverse.ravel()[np.concatenate(cells)], cell)


def solve_sphere(cell: str, n: int):
    """Octant of the hollow sphere, ``n`` cells across the wall and ``n`` along each side
    of every block; returns (mesh, u)."""
    mesh = hollow_sphere_octant(n, n, cell)
    problem = Problem(mesh, LinearElasticity(E=E, nu=NU))
    for axis in range(3):
        problem.fix(lambda x, axis=axis: np.abs(x[:, axis]) < 1e-12, components=axis)
    problem.pressure(lambda x: np.isclose(np.linalg.norm(x, axis=1), RADII[0]), PRESSURE)
    return mesh, problem.solve()


def _sphere_case(cell: str, rate: float, levels, tolerance: float) -> None:
    radial, field = "u_r(a)", "‖u − u_h‖_L2 / ‖u‖_L2"
    exact_u = _radial_field(sphere_radial_displacement)

    def compute(n):
        mesh, u = solve_sphere(cell, n)
        h = (RADII[1] - RADII[0]) / n
        ur, ur_exact = _inner_radial_displacement(mesh, u, True), sphere_radial_displacement(RADII[0])
        error, norm = l2_error(mesh, u, exact_u)
        return [Sample(radial, computed=ur, reference=ur_exact, h=h),
                Sample(field, computed=error / norm, reference=0.0, h=h, error=error / norm)]

    register(Case(
        name=f"lame_sphere_{cell}",
        title=f"Lamé thick-walled sphere under internal pressure, octant, {cell}",
        source=SPHERE,
        checks=(Check(radial, tolerance=tolerance), Check(field, tolerance=tolerance, expected_rate=rate)),
        compute=compute, levels=levels, group="linear elasticity"))


_sphere_case("hex20", 3.0, {"quick": (2, 3), "full": (1, 2, 4, 6)}, tolerance=5e-3)
_sphere_case("hex8", 2.0, {"full": (2, 4, 8)}, tolerance=0.05)
