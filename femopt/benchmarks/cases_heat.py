"""Steady heat conduction with exact solutions: manufactured solutions in 2D and 3D
(Dirichlet, and Robin on one face), a slab with a heat source cooled by convection,
and transient conduction by the theta method: the plane wall (sine series) and the
semi-infinite body (erf), with the orders in time (backward Euler 1, Crank–Nicolson 2)
and in space (p + 1 in L2).

Manufactured solutions (Roache, *Verification and Validation in Computational Science
and Engineering*, 1998; Salari & Knupp, SAND2000-1444): pick T, put
``q = −k ΔT`` in the volume and the exact T (or the exact Robin data) on the boundary.
The L2 error of Lagrange elements of order p falls like h^(p+1).

Slab (Carslaw & Jaeger, *Conduction of Heat in Solids*, 2nd ed., §1.3; Incropera,
*Fundamentals of Heat and Mass Transfer*, §3.5): −k T'' = q on 0 < x < L, T(0) = T0,
−k T'(L) = h (T(L) − T∞):

    T = T0 + C x − q x² / (2k),   C = [q L + h q L² / (2k) − h (T0 − T∞)] / (k + h L).
"""
from __future__ import annotations

import numpy as np
from scipy.special import erf

from .. import mesh as meshes
from ..physics import HeatConduction
from ..problem import Problem
from ..problem.transient import TransientProblem
from .cases_common import array_namespace, boundary_nodes, l2_error
from .catalogue import Case, Check, Sample, register

__all__ = ["manufactured_temperature", "manufactured_source", "slab_temperature", "solve_manufactured",
           "solve_slab", "SLAB", "wall_temperature", "semi_infinite_temperature", "solve_wall", "WALL"]

MMS = "method of manufactured solutions: Roache, Verification and Validation in Computational Science " \
      "and Engineering (1998); Salari & Knupp, SAND2000-1444"
SLAB_SOURCE = "Carslaw & Jaeger, Conduction of Heat in Solids, 2nd ed., §1.3 (slab with source, Robin end)"
CONDUCTIVITY = 2.5


def manufactured_temperature(x):
    """T = Π sin(π x_i) + Π x_i on the unit square / cube, points ``(..., dim)``."""
    xp = array_namespace(x)
    return xp.prod(xp.sin(np.pi * x), axis=-1) + xp.prod(x, axis=-1)


def manufactured_gradient(x):
    """∇T of :func:`manufactured_temperature`, ``(..., dim)``."""
    xp = array_namespace(x)
    dim = x.shape[-1]
    parts = []
    for i in range(dim):
        others = [j for j in range(dim) if j != i]
        sines = xp.prod(xp.sin(np.pi * x[..., others]), axis=-1)
        parts.append(np.pi * xp.cos(np.pi * x[..., i]) * sines + xp.prod(x[..., others], axis=-1))
    return xp.stack(parts, axis=-1)


def manufactured_source(x):
    """q = −k ΔT = k d π² Π sin(π x_i) (the product Π x_i is harmonic)."""
    xp = array_namespace(x)
    return CONDUCTIVITY * x.shape[-1] * np.pi ** 2 * xp.prod(xp.sin(np.pi * x), axis=-1)


ROBIN_H, ROBIN_AMBIENT = 4.0, 0.5


def solve_manufactured(cell: str, n: int, robin: bool = False):
    """Unit square (``n x n``) or cube (``n x n x n``); the exact T on the boundary, or
    with ``robin`` convection on x = 1 with the flux that makes T exact there."""
    dim = 3 if cell in ("tet4", "tet10", "hex8", "hex20", "hex27") else 2
    mesh = (meshes.box(size=(1.0,) * 3, shape=(n,) * 3, cell=cell) if dim == 3
            else meshes.rectangle(size=(1.0, 1.0), shape=(n, n), cell=cell))
    problem = Problem(mesh, HeatConduction(k=CONDUCTIVITY))
    problem.heat_source(manufactured_source)
    if robin:
        # The exact T stays prescribed on the edges of the face: they belong to the
        # Dirichlet faces too.
        inside_face = (lambda x: (x[:, 0] == 1.0) & np.all((x[:, 1:] > 0.0) & (x[:, 1:] < 1.0), axis=1))
        dirichlet = np.setdiff1d(boundary_nodes(mesh), mesh.nodes(inside_face))
        problem.convection("xmax", ROBIN_H, ROBIN_AMBIENT)
        # Heat entering through x = 1: k ∂T/∂x + h (T − T∞) (outward normal +x).
        problem.heat_flux("xmax", lambda x: CONDUCTIVITY * manufactured_gradient(x)[0]
                          + ROBIN_H * (manufactured_temperature(x) - ROBIN_AMBIENT))
    else:
        dirichlet = boundary_nodes(mesh)
    problem.fix(dirichlet, value=manufactured_temperature)
    return mesh, problem.solve()


def _manufactured_case(cell: str, rate: float, levels, tolerance: float, robin: bool = False) -> None:
    quantity = "‖T − T_h‖_L2 / ‖T‖_L2"

    def compute(n):
        mesh, T = solve_manufactured(cell, n, robin)
        error, norm = l2_error(mesh, T, manufactured_temperature)
        return [Sample(quantity, computed=error / norm, reference=0.0, h=1.0 / n, error=error / norm)]

    dim = 3 if cell[:3] in ("tet", "hex") else 2
    boundary = "Dirichlet on five faces, convection (Robin) on x = 1" if robin else "Dirichlet boundary"
    register(Case(
        name=f"heat_mms_{dim}d{'_robin' if robin else ''}_{cell}",
        title=f"manufactured steady heat conduction, {dim}D, {boundary}, {cell}",
        source=MMS, checks=(Check(quantity, tolerance=tolerance, expected_rate=rate),),
        compute=compute, levels=levels, group="heat conduction"))


# The quick mode runs one element per expected rate; the full mode all of them.
_manufactured_case("tri3", 2.0, {"full": (4, 8, 16, 32, 64)}, tolerance=0.05)
_manufactured_case("quad4", 2.0, {"quick": (4, 8), "full": (4, 8, 16, 32, 64)}, tolerance=0.03)
_manufactured_case("tri6", 3.0, {"full": (4, 8, 16, 32)}, tolerance=2e-3)
_manufactured_case("quad9", 3.0, {"quick": (4, 8), "full": (4, 8, 16, 32)}, tolerance=2e-3)
_manufactured_case("tet4", 2.0, {"full": (4, 8, 16)}, tolerance=0.08)
_manufactured_case("hex8", 2.0, {"quick": (3, 6), "full": (3, 6, 12, 24)}, tolerance=0.05)
_manufactured_case("hex8", 2.0, {"full": (3, 6, 12, 24)}, tolerance=0.05, robin=True)


# ------------------------------------------------------------------------------ slab
SLAB = dict(length=1.0, k=2.0, source=50.0, h=5.0, T0=100.0, ambient=20.0)


def slab_temperature(x, length=SLAB["length"], k=SLAB["k"], source=SLAB["source"], h=SLAB["h"],
                     T0=SLAB["T0"], ambient=SLAB["ambient"]):
    """Exact T(x) of the slab (x: the coordinate along it)."""
    c = (source * length + h * source * length ** 2 / (2.0 * k) - h * (T0 - ambient)) / (k + h * length)
    return T0 + c * x - source * x ** 2 / (2.0 * k)


def solve_slab(cell: str, n: int, params=None):
    """Slab ``[0, L] x [0, L/4]`` with ``n x 1`` cells: T0 on x = 0, convection on x = L,
    uniform source, insulated sides. Returns (mesh, T, problem)."""
    length = SLAB["length"]
    mesh = meshes.rectangle(size=(length, length / 4.0), shape=(n, 1), cell=cell)
    problem = Problem(mesh, HeatConduction(k=SLAB["k"]))
    problem.heat_source(SLAB["source"])
    problem.fix("xmin", SLAB["T0"])
    problem.convection("xmax", SLAB["h"], SLAB["ambient"], name="convection")
    return mesh, problem.solve(params), problem


def _slab_case(cell: str, rate: float | None, levels, tolerance: float) -> None:
    """``tolerance`` bounds the L2 error; T(L) is exact at the nodes for every element
    (nodal exactness of 1D Lagrange elements, Tong 1969), to round-off."""
    end, field = "T(L)", "‖T − T_h‖_L2 / ‖T‖_L2"

    def compute(n):
        mesh, T, _ = solve_slab(cell, n)
        error, norm = l2_error(mesh, T, lambda x: slab_temperature(x[:, 0]))
        end_node = mesh.nodes("xmax")[0]
        h = SLAB["length"] / n
        return [Sample(end, computed=T[end_node], reference=slab_temperature(SLAB["length"]), h=h),
                Sample(field, computed=error / norm, reference=0.0, h=h, error=error / norm)]

    register(Case(
        name=f"heat_slab_convection_{cell}",
        title=f"slab with a heat source, fixed T at one end and convection at the other, {cell}",
        source=SLAB_SOURCE,
        checks=(Check(end, tolerance=1e-9), Check(field, tolerance=tolerance, expected_rate=rate)),
        compute=compute, levels=levels, group="heat conduction"))


# Bilinear cells: nodal values exact in 1D, L2 error at rate 2; quadratic cells hold the
# quadratic solution exactly.
_slab_case("quad4", 2.0, {"quick": (4, 8), "full": (4, 8, 16, 32)}, tolerance=0.01)
_slab_case("quad8", None, {"quick": (2,), "full": (2, 4)}, tolerance=1e-10)


# ------------------------------------------------------------------------- transient
# A wall 0 < x < L (a strip of n x 1 cells, insulated sides), k = 1, ρc = 2: α = 1/2.
WALL = dict(length=1.0, k=1.0, capacity=2.0)
WALL_ALPHA = WALL["k"] / WALL["capacity"]
WALL_SOURCE = ("Carslaw & Jaeger, Conduction of Heat in Solids, 2nd ed., §3.3 (slab between two planes held at "
               "a fixed temperature from t = 0: sine series); Incropera, Fundamentals of Heat and Mass Transfer, "
               "§5.5 (plane wall, the limit of a large Biot number)")
SEMI_INFINITE_SOURCE = ("Carslaw & Jaeger, Conduction of Heat in Solids, 2nd ed., ch. II (semi-infinite solid, "
                        "surface held at a fixed temperature: erf solution); Incropera, Fundamentals of Heat and "
                        "Mass Transfer, §5.7 (semi-infinite solid, constant surface temperature)")


def wall_temperature(x, t, modes: int = 80, first_mode_only: bool = False):
    """The wall at T = 1 whose faces are held at T = 0 from t = 0: the sine series
    T = Σ_(m odd) 4/(mπ) sin(mπx/L) exp(−m²π²αt/L²). With ``first_mode_only`` the wall
    starts from the sine profile (4/π) sin(πx/L) instead and only that term remains."""
    length = WALL["length"]
    m = 2 * np.arange(1 if first_mode_only else modes)[:, None] + 1
    terms = 4.0 / (m * np.pi) * np.sin(m * np.pi * x / length) * np.exp(-(m * np.pi / length) ** 2
                                                                          * WALL_ALPHA * t)
    return np.sum(terms, axis=0)


def semi_infinite_temperature(x, t):
    """A body at T = 1 whose face x = 0 is held at T = 0 from t = 0: erf(x / (2√(αt)))."""
    return erf(x / (2.0 * np.sqrt(WALL_ALPHA * t)))


def solve_wall(cell: str, n: int, steps: int, theta: float, t_end: float, *, first_mode_only=False,
               semi_infinite=False):
    """The wall on ``n x 1`` cells by ``steps`` equal steps; returns (mesh, result).
    ``semi_infinite``: a 1.5 long body held at x = 0 only (its far end, insulated, stays
    at T = 1 to ~1e-12 for the times used)."""
    length = 1.5 if semi_infinite else WALL["length"]
    mesh = meshes.rectangle(size=(length, WALL["length"] / 8.0), shape=(n, 1), cell=cell)
    problem = Problem(mesh, HeatConduction(k=WALL["k"]))
    problem.fix("xmin", 0.0)
    if not semi_infinite:
        problem.fix("xmax", 0.0)
    initial = (lambda x: wall_temperature(x[:, 0], 0.0, first_mode_only=True)) if first_mode_only else 1.0
    transient = TransientProblem(problem, capacity=WALL["capacity"], theta=theta)
    return mesh, transient.solve(t_end=t_end, steps=steps, initial=initial)


def _relative_l2(mesh, field, exact):
    error, norm = l2_error(mesh, field, exact)
    return error / norm


def _transient_case(name, title, source, checks, levels, compute):
    register(Case(name=name, title=title, source=source, checks=checks, compute=compute, levels=levels,
                  group="heat conduction"))


_FIELD = "‖T − T_h‖_L2 / ‖T‖_L2 at t_end"
_WALL_END = 0.2                   # Fourier number α t / L² = 0.1


def _wall_in_time(steps):
    mesh, result = solve_wall("quad8", 32, steps, 1.0, _WALL_END)
    exact = lambda x: wall_temperature(x[:, 0], _WALL_END)         # noqa: E731
    dt = _WALL_END / steps
    middle = wall_temperature(np.array([0.5]), _WALL_END)[0]
    error = _relative_l2(mesh, result.final, exact)
    return [Sample(_FIELD, computed=error, reference=0.0, h=dt, error=error),
            Sample("T(L/2) at t_end", computed=result.at([0.5, 0.0])[-1], reference=middle, h=dt)]


def _wall_crank_nicolson(steps):
    mesh, result = solve_wall("quad8", 32, steps, 0.5, _WALL_END, first_mode_only=True)
    exact = lambda x: wall_temperature(x[:, 0], _WALL_END, first_mode_only=True)   # noqa: E731
    error = _relative_l2(mesh, result.final, exact)
    return [Sample(_FIELD, computed=error, reference=0.0, h=_WALL_END / steps, error=error)]


def _wall_in_space(cell, steps):
    def compute(n):
        mesh, result = solve_wall(cell, n, steps, 0.5, _WALL_END, first_mode_only=True)
        exact = lambda x: wall_temperature(x[:, 0], _WALL_END, first_mode_only=True)   # noqa: E731
        error = _relative_l2(mesh, result.final, exact)
        return [Sample(_FIELD, computed=error, reference=0.0, h=WALL["length"] / n, error=error)]
    return compute


_SEMI_END = 0.02


def _semi_infinite(steps):
    mesh, result = solve_wall("quad8", 96, steps, 1.0, _SEMI_END, semi_infinite=True)
    # The error relative to the disturbance 1 − T (the body is at 1 almost everywhere).
    error, norm = l2_error(mesh, 1.0 - result.final, lambda x: 1.0 - semi_infinite_temperature(x[:, 0], _SEMI_END))
    return [Sample("‖T − T_h‖_L2 / ‖1 − T‖_L2 at t_end", computed=error / norm, reference=0.0,
                   h=_SEMI_END / steps, error=error / norm)]


_transient_case(
    "heat_transient_slab", "plane wall suddenly held at a surface temperature (sine series), backward Euler, "
    "quad8 x 32, dt -> 0: first order", WALL_SOURCE,
    (Check(_FIELD, tolerance=0.02, expected_rate=1.0, rate_tolerance=0.15),
     Check("T(L/2) at t_end", tolerance=0.02, expected_rate=1.0, rate_tolerance=0.15)),
    {"quick": (20, 40), "full": (20, 40, 80, 160)}, _wall_in_time)
_transient_case(
    "heat_transient_slab_crank_nicolson", "plane wall from the sine profile (first term of the series), "
    "Crank-Nicolson, quad8 x 32, dt -> 0: second order", WALL_SOURCE,
    (Check(_FIELD, tolerance=3e-4, expected_rate=2.0, rate_tolerance=0.2),),
    {"quick": (10, 20), "full": (10, 20, 40)}, _wall_crank_nicolson)
_transient_case(
    "heat_transient_slab_space_quad4", "plane wall from the sine profile, Crank-Nicolson with 100 steps, "
    "quad4, h -> 0: L2 rate 2", WALL_SOURCE,
    (Check(_FIELD, tolerance=0.03, expected_rate=2.0),),
    {"quick": (4, 8), "full": (4, 8, 16, 32)}, _wall_in_space("quad4", 100))
_transient_case(
    "heat_transient_slab_space_quad8", "plane wall from the sine profile, Crank-Nicolson with 400 steps, "
    "quad8, h -> 0: L2 rate 3", WALL_SOURCE,
    (Check(_FIELD, tolerance=3e-3, expected_rate=3.0),),
    {"quick": (2, 4), "full": (2, 4, 8, 16)}, _wall_in_space("quad8", 400))
_transient_case(
    "heat_transient_semi_infinite", "semi-infinite body suddenly held at a surface temperature (erf), "
    "backward Euler, quad8 x 96, dt -> 0: first order", SEMI_INFINITE_SOURCE,
    (Check("‖T − T_h‖_L2 / ‖1 − T‖_L2 at t_end", tolerance=0.02, expected_rate=1.0, rate_tolerance=0.15),),
    {"quick": (10, 20), "full": (10, 20, 40, 80)}, _semi_infinite)
