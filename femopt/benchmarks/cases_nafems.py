"""NAFEMS LE1: the elliptic membrane (NAFEMS, *The Standard NAFEMS Benchmarks*, TNSB
Rev. 3, 1990, test LE1).

A quarter of a plane-stress membrane between the ellipses (x/2)² + y² = 1 and
(x/3.25)² + (y/2.75)² = 1, E = 210 GPa, ν = 0.3, a uniform outward normal pressure of
10 MPa on the outer ellipse, symmetry supports on x = 0 (u_x = 0) and y = 0 (u_y = 0).
The target is σ_yy = 92.7 MPa at D = (2, 0), where the inner ellipse meets the
symmetry line: a boundary corner at the peak of the stress, where a plain average of
cell-centre values reads too low.

Units: metres and MPa (E = 210e3 MPa), so stresses come out in MPa.

The mesh maps the unit square (s, t) to the membrane the NAFEMS way: the line of
parameter θ = t π/2 joins (2 cos θ, sin θ) on the inner ellipse to (3.25 cos θ,
2.75 sin θ) on the outer one; every node, mid-side ones included, lies on the exact map.
"""
from __future__ import annotations

import numpy as np

from .. import mesh as meshes
from ..mesh.mesh import Mesh
from ..physics import LinearElasticity
from ..problem import Problem
from ..problem.stresses import stress
from .catalogue import Case, Check, Sample, register

__all__ = ["LE1_SOURCE", "LE1_POINT_D", "LE1_SIGMA_YY_D", "le1_mesh", "le1_problem"]

LE1_SOURCE = "NAFEMS, The Standard NAFEMS Benchmarks, TNSB Rev. 3 (1990), test LE1"
LE1_POINT_D = (2.0, 0.0)
LE1_SIGMA_YY_D = 92.7           # MPa
E, NU, PRESSURE = 210e3, 0.3, 10.0
INNER, OUTER = (2.0, 1.0), (3.25, 2.75)   # semi-axes (x, y)


def le1_mesh(n: int, cell: str = "quad9") -> Mesh:
    """``n x n`` cells (``n`` across the membrane, ``n`` around it) of a planar cell type
    (quad4, quad8, quad9, tri3, tri6), tagged like :func:`femopt.mesh.rectangle`:
    ``xmin`` the inner ellipse, ``xmax`` the outer one, ``ymin`` the side on y = 0,
    ``ymax`` the side on x = 0."""
    square = meshes.rectangle(size=(1.0, 1.0), shape=(n, n), cell=cell)
    s, t = square.points.T
    theta = 0.5 * np.pi * t
    cos, sin = np.cos(theta), np.sin(theta)
    cos[t == 1.0] = 0.0                      # the side on x = 0 exactly
    a = INNER[0] + s * (OUTER[0] - INNER[0])
    b = INNER[1] + s * (OUTER[1] - INNER[1])
    return square.with_points(np.stack([a * cos, b * sin], axis=1))


def le1_problem(n: int, cell: str = "quad9") -> Problem:
    """The LE1 membrane on :func:`le1_mesh` (not solved yet)."""
    problem = Problem(le1_mesh(n, cell), LinearElasticity(E=E, nu=NU, plane="stress"))
    problem.fix("ymin", components=1)        # y = 0
    problem.fix("ymax", components=0)        # x = 0
    problem.pressure("xmax", -PRESSURE)      # outward: a negative pressure pulls
    return problem


def _le1_compute(n: int):
    """σ_yy at D read two ways on the quad9 membrane of ``n x n`` cells: at the point,
    inside its cell, and at the node by patch recovery."""
    problem = le1_problem(n)
    problem.solve()
    node = int(np.argmin(np.linalg.norm(problem.mesh.points - np.array(LE1_POINT_D), axis=1)))
    at_point = stress(problem, at=LE1_POINT_D)[1, 1]
    recovered = stress(problem, at="nodes", method="spr")[node, 1, 1]
    return [Sample("sigma_yy(D) at the point", computed=at_point, reference=LE1_SIGMA_YY_D, h=1.0 / n),
            Sample("sigma_yy(D) by patch recovery", computed=recovered, reference=LE1_SIGMA_YY_D, h=1.0 / n)]


# The reference is given to three digits (92.7 MPa): the check is a tolerance, not a rate
# (the converged value, 92.74 at n = 32, is 0.04 % above it).
register(Case(
    name="nafems_le1_quad9",
    title="NAFEMS LE1 elliptic membrane, plane stress, quad9: sigma_yy at D",
    source=LE1_SOURCE,
    checks=(Check("sigma_yy(D) at the point", tolerance=5e-3),
            Check("sigma_yy(D) by patch recovery", tolerance=1e-2)),
    compute=_le1_compute, levels={"quick": (8, 16), "full": (8, 16, 32)},
    group="linear elasticity"))
