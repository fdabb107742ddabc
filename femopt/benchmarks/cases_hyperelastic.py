"""Compressible neo-Hookean solid: homogeneous deformations with closed-form stresses,
and Newton's quadratic convergence on a cantilever with large rotation.

Energy ψ = μ/2 (I₁ − 3) − μ ln J + λ/2 (ln J)², so (Bonet & Wood, *Nonlinear Continuum
Mechanics for Finite Element Analysis*, 2nd ed., §6.4.3)

    P = μ (F − F⁻ᵀ) + λ ln J F⁻ᵀ,      σ = P Fᵀ / J = μ/J (F Fᵀ − I) + λ ln J / J · I.

Uniaxial stretch s along x with free lateral faces: F = diag(s, t, t), where the lateral
stretch t solves P₂₂ = 0, i.e. μ (t² − 1) + λ ln(s t²) = 0 (solved with ``brentq``,
independently of the FE code); then P₁₁ = μ (s − 1/s) + λ ln(s t²) / s.

Simple shear F = I + γ e₁⊗e₂ (J = 1): P₁₂ = μ γ, σ₁₂ = μ γ, σ₁₁ = μ γ², σ₂₂ = 0.

Both states are homogeneous, so every mesh reproduces them: the errors are round-off
and Newton's tolerance.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .. import mesh as meshes
from ..physics import NeoHookean
from ..problem import Problem
from ..problem.stresses import stress
from ..solvers.newton import NewtonOptions
from .cases_common import boundary_nodes
from .catalogue import Case, Check, Sample, register

__all__ = ["uniaxial_reference", "solve_uniaxial", "solve_simple_shear", "newton_order", "solve_newton_cantilever"]

BONET_WOOD = "Bonet & Wood, Nonlinear Continuum Mechanics for Finite Element Analysis, 2nd ed., §6.4.3"
MU, LMBDA = 1.0, 3.0
STRETCH, SHEAR = 1.5, 0.8
TOLERANCE = 1e-8


def uniaxial_reference(stretch=STRETCH, mu=MU, lmbda=LMBDA):
    """(lateral stretch t, P₁₁) of uniaxial stretch with free lateral faces."""
    lateral = brentq(lambda t: mu * (t ** 2 - 1.0) + lmbda * np.log(stretch * t ** 2), 1e-3, 10.0, xtol=1e-15)
    piola = mu * (stretch - 1.0 / stretch) + lmbda * np.log(stretch * lateral ** 2) / stretch
    return lateral, piola


def _unit_cube(problem_physics):
    mesh = meshes.box(size=(1.0, 1.0, 1.0), shape=(2, 2, 2), cell="hex8")
    return mesh, Problem(mesh, problem_physics)


def _cauchy_at_centre(problem):
    """Cauchy stress at the centre of the cube, by :func:`femopt.stress` (the physics'
    own law with the solve's parameters)."""
    return stress(problem, at=np.full(3, 0.5))


def solve_uniaxial(stretch=STRETCH):
    """Unit cube, symmetry supports on the three min faces, u_x = s − 1 on x = 1, the
    lateral faces free. Returns (mesh, u, problem)."""
    physics = NeoHookean(mu=MU, lmbda=LMBDA)
    mesh, problem = _unit_cube(physics)
    problem.fix("xmin", components=0)
    problem.fix("ymin", components=1)
    problem.fix("zmin", components=2)
    problem.fix("xmax", value=stretch - 1.0, components=0)
    return mesh, problem.solve(load_steps=2), problem


def _uniaxial(level):
    lateral, piola = uniaxial_reference()
    mesh, u, problem = solve_uniaxial()
    reaction = problem.residual(problem.state.u).reshape(mesh.n_nodes, 3)[mesh.nodes("xmax"), 0].sum()
    lateral_h = 1.0 + u[mesh.nodes("ymax"), 1].mean()
    sigma = _cauchy_at_centre(problem)
    return [Sample("lateral stretch t", computed=lateral_h, reference=lateral),
            Sample("P_11 = reaction / area", computed=reaction, reference=piola),
            Sample("σ_11 = P_11 / t²", computed=sigma[0, 0], reference=piola / lateral ** 2)]


def solve_simple_shear(shear=SHEAR):
    """Unit cube with u = (γ y, 0, 0) on the whole boundary. Returns (mesh, u, problem)."""
    physics = NeoHookean(mu=MU, lmbda=LMBDA)
    mesh, problem = _unit_cube(physics)
    problem.fix(boundary_nodes(mesh), value=lambda x: np.stack([shear * x[:, 1], 0 * x[:, 0], 0 * x[:, 0]], 1))
    return mesh, problem.solve(load_steps=2), problem


def _simple_shear(level):
    mesh, u, problem = solve_simple_shear()
    force = problem.residual(problem.state.u).reshape(mesh.n_nodes, 3)[mesh.nodes("ymax"), 0].sum()
    sigma = _cauchy_at_centre(problem)
    return [Sample("shear force on y = 1 (P_12 · area)", computed=force, reference=MU * SHEAR),
            Sample("σ_12", computed=sigma[0, 1], reference=MU * SHEAR),
            Sample("σ_11", computed=sigma[0, 0], reference=MU * SHEAR ** 2)]


register(Case(
    name="neo_hookean_uniaxial",
    title=f"neo-Hookean uniaxial stretch s = {STRETCH}, lateral faces free, hex8",
    source=BONET_WOOD + "; lateral stretch by brentq",
    checks=tuple(Check(q, tolerance=TOLERANCE) for q in
                 ("lateral stretch t", "P_11 = reaction / area", "σ_11 = P_11 / t²")),
    compute=_uniaxial, levels={"quick": (1,), "full": (1,)}, group="hyperelasticity"))

register(Case(
    name="neo_hookean_simple_shear",
    title=f"neo-Hookean simple shear γ = {SHEAR}, hex8",
    source=BONET_WOOD,
    checks=tuple(Check(q, tolerance=TOLERANCE) for q in
                 ("shear force on y = 1 (P_12 · area)", "σ_12", "σ_11")),
    compute=_simple_shear, levels={"quick": (1,), "full": (1,)}, group="hyperelasticity"))


# ------------------------------------------------------------------- Newton's order
def solve_newton_cantilever():
    """A 4 x 1 x 0.5 neo-Hookean cantilever (hex8, 4 x 1 x 2 cells), clamped at x = 0,
    its end pushed down by 0.875 L in 5 displacement steps: the beam axis at the end
    turns by about 58°. Full Newton steps (the line search off) show the method's own
    convergence. Displacement control and 8 cells let it share the compiled hex8
    kernels of the homogeneous cases. Returns (mesh, u, problem)."""
    mesh = meshes.box(size=(4.0, 1.0, 0.5), shape=(4, 1, 2), cell="hex8")
    problem = Problem(mesh, NeoHookean(mu=MU, lmbda=LMBDA), newton=NewtonOptions(line_search=False))
    problem.fix("xmin")
    problem.fix("xmax", value=-3.5, components=2)
    return mesh, problem.solve(load_steps=5), problem


def newton_order(result, floor: float = 1e-12) -> float:
    """Observed order of Newton's last iteration above round-off,
    log ρ_(k+1) / log ρ_k with ρ_k = |r_k| / |r_0|: under quadratic convergence the
    number of correct digits doubles. Iterates with ρ < ``floor`` sit at the residual's
    round-off floor and are left out."""
    rho = np.asarray(result.residual_history) / result.residual_history[0]
    usable = np.flatnonzero(rho[1:] >= floor) + 1            # k + 1 above the floor
    usable = usable[(rho[usable - 1] < 1.0)]
    if usable.size == 0:
        raise ValueError(f"too few converging iterations to estimate an order: {rho.tolist()}")
    k1 = usable[-1]
    return float(np.log(rho[k1]) / np.log(rho[k1 - 1]))


def _newton(level):
    mesh, u, problem = solve_newton_cantilever()
    order = newton_order(problem.state.newton[-1])
    return [Sample("Newton order, last load step", computed=order, reference=2.0, error=max(0.0, 2.0 - order))]


register(Case(
    name="neo_hookean_newton_quadratic",
    title="Newton's quadratic convergence, neo-Hookean cantilever, end turned by ~58° (5 load steps)",
    source="Newton–Kantorovich: quadratic convergence with an exact tangent (Wriggers, "
           "Nonlinear Finite Element Methods, 2008, §5.1)",
    checks=(Check("Newton order, last load step", tolerance=0.3),),
    compute=_newton, levels={"quick": (1,), "full": (1,)}, group="hyperelasticity"))
