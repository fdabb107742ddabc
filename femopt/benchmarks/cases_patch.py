"""Patch tests: every element type, linear elasticity and heat conduction, on a
distorted mesh.

The exact solution is a linear field (constant strain / constant heat flux), which every
conforming isoparametric element reproduces. It is prescribed on the whole boundary;
the interior nodes must then carry it to round-off. Interior corner nodes are moved at
random (20 % of the cell size) and the other nodes are put back on straight edges, so
the cells are genuinely distorted but valid. This is the test of Irons & Razzaque
(patch test "A/B" with a distorted patch; Zienkiewicz, Taylor & Zhu, *The Finite
Element Method: Its Basis and Fundamentals*, 7th ed., §9.3).
"""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import spsolve

from .. import mesh as meshes
from ..physics import HeatConduction, LinearElasticity
from ..problem import Problem
from .cases_common import boundary_nodes, distorted
from .catalogue import Case, Check, Sample, register

__all__ = ["ELEMENTS", "patch_mesh", "patch_error"]

ELEMENTS = ("tri3", "tri6", "quad4", "quad8", "quad9", "tet4", "tet10", "hex8", "hex20", "hex27")
SOURCE = ("Irons & Razzaque (1972); Zienkiewicz, Taylor & Zhu, The Finite Element Method: "
          "Its Basis and Fundamentals, 7th ed., §9.3")
TOLERANCE = 1e-10

# Exact linear fields u = a + B x (elasticity) and T = t0 + g·x (heat); B is not
# symmetric, so the rotation part is tested too.
_A = np.array([0.01, -0.02, 0.015])
_B = np.array([[0.02, 0.013, -0.007], [-0.011, 0.017, 0.005], [0.004, -0.009, 0.012]])
_T0, _G = 3.0, np.array([1.5, -2.0, 0.7])


def patch_mesh(cell: str, seed: int = 0):
    """A distorted mesh of the unit square (4 x 4 boxes) or cube (3 x 3 x 3 boxes)."""
    if cell in ("tet4", "tet10", "hex8", "hex20", "hex27"):
        n = 3
        base = meshes.box(size=(1.0, 1.0, 1.0), shape=(n, n, n), cell=cell)
    else:
        n = 4
        base = meshes.rectangle(size=(1.0, 1.0), shape=(n, n), cell=cell)
    return distorted(base, amplitude=0.2 / n, seed=seed)


def _linear_displacement(x):
    d = x.shape[-1]
    return _A[:d] + x @ _B[:d, :d].T


def _linear_temperature(x):
    return _T0 + x @ _G[:x.shape[-1]]


def patch_error(cell: str, physics: str, exact=None) -> float:
    """Largest nodal error of the FE solution, relative to the largest exact value.
    ``exact(x) -> (n,)`` or ``(n, dim)`` replaces the linear field (a field outside the
    element's space shows that the test can fail).

    The problem is linear, so the solution is one Newton step from any start: assemble
    the residual and tangent once at the prescribed boundary values (zero inside) and
    solve K_ff Δu = −r_f. (``Problem.solve`` takes the same step, then evaluates the
    residual once more to confirm convergence, which costs a second kernel compilation
    per element type; the other cases exercise that path.)"""
    mesh = patch_mesh(cell)
    if physics == "elasticity":
        problem = Problem(mesh, LinearElasticity(E=200.0, nu=0.3, plane="stress" if mesh.dim == 2 else "strain"))
        exact = exact or _linear_displacement
    else:
        problem = Problem(mesh, HeatConduction(k=3.0))
        exact = exact or _linear_temperature
    problem.fix(boundary_nodes(mesh), value=exact)
    partition = problem.partition
    prescribed = problem.prescribed_values()
    start = partition.expand(np.zeros(partition.free.size), prescribed)
    residual, tangent = problem.residual_and_tangent(start)
    free = -spsolve(partition.free_block(tangent).tocsc(), residual[partition.free])
    field = problem.space.as_field(partition.expand(free, prescribed))
    reference = exact(mesh.points)
    return float(np.max(np.abs(field - reference)) / np.max(np.abs(reference)))


def _register(cell: str, physics: str) -> None:
    quantity = "max nodal error (relative)"

    def compute(level):
        error = patch_error(cell, physics)
        return [Sample(quantity, computed=error, reference=0.0, h=1.0, error=error)]

    law = "linear elasticity, u = a + B x" if physics == "elasticity" else "heat conduction, T = t0 + g·x"
    register(Case(name=f"patch_{physics}_{cell}",
                  title=f"patch test, {cell}, distorted mesh, {law}",
                  source=SOURCE, checks=(Check(quantity, tolerance=TOLERANCE),),
                  compute=compute, levels={"quick": (1,), "full": (1,)}, group="patch tests"))


for _physics in ("elasticity", "heat"):
    for _cell in ELEMENTS:
        _register(_cell, _physics)
