"""Sensitivities with closed forms: the adjoint gradients of femopt checked against
derivatives of exact solutions.

* Compliance of a bar in uniaxial tension, C = σ² L H / E, so dC/dE = −C/E (the FE
  solution is exact: the derivative is round-off close at any mesh).
* Shape derivative of the Lamé cylinder: d u_r(a) / da from the gradient with respect
  to the node coordinates contracted with the velocity V = (b − r)/(b − a) e_r of moving
  the inner radius (outer radius fixed), against the derivative of Lamé's formula; it
  converges with the mesh like u_r(a) itself.
* Heat: slab with a uniform source between two walls at T = 0, mean T = q L² / (12 k),
  d(mean T)/dk = −mean T / k; and the convection slab, dT(L)/dh = −L (q L²/2 + k (T0 −
  T∞)) / (k + h L)² (see :mod:`cases_heat`). Quadratic elements hold both exactly.
"""
from __future__ import annotations

import numpy as np

from .. import mesh as meshes
from ..functionals import compliance, mean, point_value
from ..physics import HeatConduction, LinearElasticity
from ..problem import Problem
from ..sensitivity import gradient
from .cases_heat import SLAB, solve_slab
from .cases_lame import NU, PRESSURE, RADII, E, cylinder_radial_displacement
from .catalogue import Case, Check, Sample, register

__all__ = ["inner_displacement_derivative", "shape_velocity"]

TOLERANCE = 1e-9


# ----------------------------------------------------------------- compliance and E
def _compliance_E(level):
    length, height, stress, modulus = 4.0, 1.0, 2.0, 50.0
    mesh = meshes.rectangle(size=(length, height), shape=(4, 2), cell="quad4")
    problem = Problem(mesh, LinearElasticity(E=modulus, nu=0.3, plane="stress"))
    problem.fix("xmin", components=0)
    problem.fix("ymin", components=1)
    problem.traction("xmax", [stress, 0.0])
    result = gradient(compliance(), problem, wrt="E")
    exact = stress ** 2 * length * height / modulus
    return [Sample("C", computed=result.value, reference=exact),
            Sample("dC/dE", computed=float(result["E"]), reference=-exact / modulus),
            Sample("dC/dE + C/E (homogeneity)", computed=float(result["E"]) + result.value / modulus,
                   reference=0.0, error=abs(float(result["E"]) * modulus / result.value + 1.0))]


register(Case(
    name="sensitivity_compliance_E",
    title="adjoint dC/dE of a bar in uniaxial tension, C = σ²LH/E, quad4",
    source="closed form: uniaxial stress, C = σ² L H / E; homogeneity dC/dE = −C/E",
    checks=tuple(Check(q, tolerance=TOLERANCE) for q in ("C", "dC/dE", "dC/dE + C/E (homogeneity)")),
    compute=_compliance_E, levels={"quick": (1,), "full": (1,)}, group="sensitivities"))


# ------------------------------------------------------------ Lamé shape derivative
def inner_displacement_derivative(a=RADII[0], b=RADII[1], p=PRESSURE, E=E, nu=NU):
    """d u_r(a) / da of the plane-strain Lamé cylinder, u_r(a) = (1+ν) p a ((1−2ν) a² +
    b²) / (E (b² − a²)), with the outer radius b fixed."""
    k = (1.0 + nu) * p / E
    num = a * ((1.0 - 2.0 * nu) * a ** 2 + b ** 2)
    dnum = 3.0 * (1.0 - 2.0 * nu) * a ** 2 + b ** 2
    den = b ** 2 - a ** 2
    return k * (dnum * den + 2.0 * a * num) / den ** 2


def shape_velocity(points, a=RADII[0], b=RADII[1]):
    """V(x) = (b − r)/(b − a) x/r: moves r = a by one unit, keeps r = b in place."""
    r = np.linalg.norm(points[:, :2], axis=1, keepdims=True)
    return (b - r) / (b - a) * points / r


def _lame_shape(n):
    mesh = meshes.quarter_annulus(*RADII, shape=(n, 2 * n), cell="quad8")
    problem = Problem(mesh, LinearElasticity(E=E, nu=NU, plane="strain"))
    problem.fix("xsym", components=0)
    problem.fix("ysym", components=1)
    problem.pressure("inner", PRESSURE)
    probe = point_value(problem, [RADII[0], 0.0], component=0)
    result = gradient(probe, problem, wrt="coordinates")
    derivative = float(np.sum(result["coordinates"] * shape_velocity(mesh.points)))
    h = (RADII[1] - RADII[0]) / n
    return [Sample("d u_r(a) / da", computed=derivative, reference=inner_displacement_derivative(), h=h),
            Sample("u_r(a)", computed=result.value, reference=cylinder_radial_displacement(RADII[0]), h=h)]


register(Case(
    name="sensitivity_lame_inner_radius",
    title="shape derivative of the Lamé cylinder's inner displacement w.r.t. the inner radius, quad8",
    source="derivative of Lamé's plane-strain solution (Timoshenko & Goodier §28); adjoint "
           "gradient w.r.t. node coordinates · radial velocity field",
    checks=(Check("d u_r(a) / da", tolerance=2e-3, expected_rate=3.0, rate_tolerance=0.5, at_least=True),
            Check("u_r(a)", tolerance=2e-3)),
    compute=_lame_shape, levels={"quick": (2, 4), "full": (2, 4, 8, 16)}, group="sensitivities"))


# -------------------------------------------------------------------------- heat
def _heat_mean_k(level):
    length, source, k = 2.0, 3.0, 1.5
    mesh = meshes.rectangle(size=(length, 0.5), shape=(4, 1), cell="quad8")
    problem = Problem(mesh, HeatConduction(k=k))
    problem.heat_source(source)
    problem.fix("xmin", 0.0)
    problem.fix("xmax", 0.0)
    result = gradient(mean(problem), problem, wrt="k")
    exact = source * length ** 2 / (12.0 * k)
    return [Sample("mean T", computed=result.value, reference=exact),
            Sample("d(mean T)/dk", computed=float(result["k"]), reference=-exact / k)]


register(Case(
    name="sensitivity_heat_mean_k",
    title="adjoint d(mean T)/dk of a slab with a uniform source, T = 0 at both walls, quad8",
    source="closed form: T = q x (L − x) / (2k), mean T = q L²/(12 k), d/dk = −mean T / k",
    checks=(Check("mean T", tolerance=TOLERANCE), Check("d(mean T)/dk", tolerance=TOLERANCE)),
    compute=_heat_mean_k, levels={"quick": (1,), "full": (1,)}, group="sensitivities"))


def _robin_dT_dh(level):
    mesh, _, problem = solve_slab("quad8", 4)
    length = SLAB["length"]
    probe = point_value(problem, [length, 0.0])
    result = gradient(probe, problem, wrt="convection.h")
    k, q, h, drop = SLAB["k"], SLAB["source"], SLAB["h"], SLAB["T0"] - SLAB["ambient"]
    exact = -length * (q * length ** 2 / 2.0 + k * drop) / (k + h * length) ** 2
    return [Sample("dT(L)/dh", computed=float(result["convection.h"]), reference=exact)]


register(Case(
    name="sensitivity_heat_robin_h",
    title="adjoint dT(L)/dh of the slab with a source cooled by convection, quad8",
    source="derivative of the slab solution (Carslaw & Jaeger §1.3): dT(L)/dh = −L (qL²/2 + k (T0 − T∞)) / (k + hL)²",
    checks=(Check("dT(L)/dh", tolerance=TOLERANCE),),
    compute=_robin_dT_dh, levels={"quick": (1,), "full": (1,)}, group="sensitivities"))
