"""Steady heat conduction with exact solutions: manufactured solutions in 2D and 3D
(Dirichlet, and Robin on one face), a slab with a heat source cooled by convection,
and the transient slab (pending).

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

from .. import mesh as meshes
from ..physics import HeatConduction
from ..problem import Problem
from .cases_common import array_namespace, boundary_nodes, l2_error
from .catalogue import Case, Check, Sample, register

__all__ = ["manufactured_temperature", "manufactured_source", "slab_temperature", "solve_manufactured",
           "solve_slab", "SLAB"]

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

register(Case(
    name="heat_transient_slab",
    title="transient slab: plane wall suddenly brought to a surface temperature (Fourier series)",
    source="Carslaw & Jaeger, Conduction of Heat in Solids, 2nd ed., §3.3",
    checks=(), compute=None, levels={}, group="heat conduction",
    pending="needs transient solver (theta method, roadmap)"))
