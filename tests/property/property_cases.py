"""Random small problems for the property tests: meshes of every cell type, distorted
within validity and mapped by a random affine map, random admissible parameters, loads,
supports and rigid motions, as hypothesis strategies.

Compile budget: JAX compiles a kernel per (law, element, chunk size, parameter layout),
and the layout lists every parameter by name. So every problem of one physics here has
the same parameters — the material constants plus one boundary load (``traction`` /
``heat_flux``), zero where a test wants no load; the slow variants add a volume load
(``body_force`` / ``heat_source``) — and the default meshes have one shape per dimension
(2 x 2 cells, 2 x 2 x 2 cells: the smallest grids with an interior node to move). The slow
variants draw shapes of 1 to 3 cells per side. The default run compiles linear elasticity
on every cell type and the other physics on a few (:data:`DEFAULT_CELLS`); the slow
variants run every physics on every cell type.

Geometry: the structured unit square / cube, its interior corner nodes moved at random by
up to a fraction of the cell size (mid-edge, face and centre nodes put back on the
straight-sided cell, :func:`femopt.benchmarks.cases_common.distorted`), then mapped by
``x -> A x + b`` with det A > 0. Sides stay planes (the boundary nodes are not moved by the
distortion), so each side keeps one outward normal and the side tags ``xmin ... zmax``.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

import femopt as fo
from femopt.benchmarks.cases_common import distorted

CELLS_2D = ("tri3", "tri6", "quad4", "quad8", "quad9")
CELLS_3D = ("tet4", "tet10", "hex8", "hex20", "hex27")
CELLS = CELLS_2D + CELLS_3D
#: Cell types per physics in the default run (each pair costs a few seconds of compiling).
DEFAULT_CELLS = {"elastic": CELLS, "heat": CELLS, "neo_hookean": ("tri6", "quad8", "tet4", "hex8")}
SIDES = {2: ("xmin", "xmax", "ymin", "ymax"), 3: ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")}
#: One mesh shape per dimension in the default run (one compiled kernel per cell type).
DEFAULT_SHAPE = {2: (2, 2), 3: (2, 2, 2)}
#: Largest move of an interior corner node, per coordinate, as a fraction of the cell
#: size: two neighbouring nodes moving apart stay below the smallest height of a Kuhn
#: simplex (1/sqrt(2) of the box): 2 * 0.15 * sqrt(3) < 0.71.
MAX_DISTORTION = 0.15


def property_settings(max_examples: int, shrink: bool = True) -> settings:
    """Reproducible runs (derandomized, no example database), no deadline (the first
    example of a cell type compiles its kernels), no "explain" phase (it re-runs a failing
    example under a tracer: minutes with JAX). ``shrink=False`` for the properties that are
    expected to fail (xfail): their first counterexample is enough. The environment
    variable FEMOPT_PROPERTY_SCALE multiplies every ``max_examples`` for a deeper search
    (new examples; the first ones stay the same)."""
    max_examples *= max(1, int(os.environ.get("FEMOPT_PROPERTY_SCALE", "1")))
    phases = (Phase.explicit, Phase.reuse, Phase.generate) + ((Phase.shrink,) if shrink else ())
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    print_blob=True, phases=phases,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def dimension(cell: str) -> int:
    return 2 if cell in CELLS_2D else 3


# -- geometry -----------------------------------------------------------------------------
def rotation_matrix(dim: int, angle: float, axis=None) -> np.ndarray:
    """A proper rotation: by ``angle`` in 2D; about ``axis`` (Rodrigues) in 3D."""
    c, s = np.cos(angle), np.sin(angle)
    if dim == 2:
        return np.array([[c, -s], [s, c]])
    k = np.asarray(axis, dtype=float)
    k = k / np.linalg.norm(k)
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + s * K + (1.0 - c) * (K @ K)


def finite(lo: float, hi: float):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def rotations(draw, dim: int) -> np.ndarray:
    angle = draw(finite(-np.pi, np.pi))
    return rotation_matrix(2, angle) if dim == 2 else rotation_matrix(3, angle, draw(directions(3)))


@st.composite
def vectors(draw, dim: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    return np.array(draw(st.lists(finite(lo, hi), min_size=dim, max_size=dim)))


@st.composite
def directions(draw, dim: int) -> np.ndarray:
    """A unit vector."""
    v = draw(vectors(dim))
    norm = np.linalg.norm(v)
    if norm < 0.1:
        v, norm = np.eye(dim)[draw(st.integers(0, dim - 1))], 1.0
    return v / norm


def magnitudes(lo: float, hi: float):
    """Positive numbers spread over the decades from lo to hi."""
    return finite(np.log10(lo), np.log10(hi)).map(lambda e: 10.0 ** e)


@dataclass(frozen=True, eq=False)
class Geometry:
    """How the structured mesh is moved: interior corners by up to ``distortion`` of the
    cell size (seed ``seed``), then ``x -> matrix @ x + offset``."""

    shape: tuple
    distortion: float
    seed: int
    matrix: np.ndarray
    offset: np.ndarray

    @property
    def dim(self) -> int:
        return len(self.shape)

    @property
    def length(self) -> float:
        """A length scale of the mapped domain."""
        return float(abs(np.linalg.det(self.matrix)) ** (1.0 / self.dim))

    @property
    def cell_size(self) -> float:
        """A lower bound of the mapped cells' size."""
        return float(np.linalg.svd(self.matrix, compute_uv=False)[-1] / max(self.shape))

    def mesh(self, cell: str) -> fo.Mesh:
        base = structured(cell, self.shape)
        moved = distorted(base, self.distortion / max(self.shape), seed=self.seed) if self.distortion else base
        return moved.with_points(moved.points @ self.matrix.T + self.offset)

    def normal(self, side: str) -> np.ndarray:
        """Outward unit normal of a side of the mapped domain."""
        axis = "xyz".index(side[0])
        n = np.zeros(self.dim)
        n[axis] = -1.0 if side.endswith("min") else 1.0
        m = np.linalg.solve(self.matrix.T, n)
        return m / np.linalg.norm(m)

    def edge_direction(self) -> np.ndarray:
        """Unit direction of the mapped x edges: parallel to every y and z side."""
        a = self.matrix[:, 0]
        return a / np.linalg.norm(a)


@functools.lru_cache(maxsize=None)
def structured(cell: str, shape: tuple) -> fo.Mesh:
    """The unit square / cube meshed with ``shape`` cells per axis."""
    if dimension(cell) == 2:
        return fo.mesh.rectangle(size=(1.0, 1.0), shape=shape, cell=cell)
    return fo.mesh.box(size=(1.0, 1.0, 1.0), shape=shape, cell=cell)


@st.composite
def geometries(draw, dim: int, shapes: bool = False, min_cells: int = 1) -> Geometry:
    """A random valid geometry. ``shapes``: draw ``min_cells`` to 3 cells per side (else
    the default shape)."""
    shape = tuple(draw(st.lists(st.integers(min_cells, 3), min_size=dim, max_size=dim))) if shapes \
        else DEFAULT_SHAPE[dim]
    distortion = draw(st.one_of(st.just(0.0), finite(0.0, MAX_DISTORTION)))
    seed = draw(st.integers(0, 2**16))
    stretch = np.diag(draw(st.lists(finite(0.5, 2.0), min_size=dim, max_size=dim)))
    shear = np.triu(np.array(draw(st.lists(finite(-0.5, 0.5), min_size=dim * dim, max_size=dim * dim)))
                    .reshape(dim, dim), 1)
    scale = 10.0 ** draw(finite(-1.5, 1.5))
    matrix = scale * draw(rotations(dim)) @ (stretch + shear)
    offset = draw(vectors(dim, -10.0, 10.0)) * scale
    return Geometry(shape, distortion, seed, matrix, offset)


# -- physics and parameters ---------------------------------------------------------------
PHYSICS = ("elastic", "neo_hookean", "heat")


@st.composite
def material(draw, physics: str, lmbda_min: float = -0.6) -> dict:
    """Admissible material constants, away from the limits only as far as conditioning
    needs (nu up to 0.49, lmbda from ``lmbda_min`` mu, -0.6 mu by default: femopt admits
    lmbda > -2 mu / 3)."""
    if physics == "elastic":
        return {"E": 10.0 ** draw(finite(-2.0, 3.0)), "nu": draw(finite(-0.95, 0.49))}
    if physics == "neo_hookean":
        mu = 10.0 ** draw(finite(-1.0, 2.0))
        return {"mu": mu, "lmbda": mu * draw(finite(lmbda_min, 10.0))}
    return {"k": 10.0 ** draw(finite(-2.0, 3.0))}


def law(physics: str, constants: dict):
    if physics == "elastic":
        return fo.physics.LinearElasticity(**constants)
    if physics == "neo_hookean":
        return fo.physics.NeoHookean(**constants)
    return fo.physics.HeatConduction(**constants)


def stiffness_name(physics: str) -> str:
    """The parameter that scales the tangent (E, mu, k)."""
    return {"elastic": "E", "neo_hookean": "mu", "heat": "k"}[physics]


def boundary_load_name(physics: str) -> str:
    return "heat_flux" if physics == "heat" else "traction"


def volume_load_name(physics: str) -> str:
    return "heat_source" if physics == "heat" else "body_force"


def template(mesh: fo.Mesh, physics: str, constants: dict, *, load_side: str = "xmax", load=None,
             source=None, supports=(), newton: fo.NewtonOptions | None = None) -> fo.Problem:
    """The problem layout of a physics (see the module docstring): a boundary load on
    ``load_side`` (default zero) and, when ``source`` is given, a volume load; ``supports``
    is a list of ``(selection, value, components)`` for ``fix``."""
    problem = fo.Problem(mesh, law(physics, constants), newton=newton)
    c = problem.space.n_components
    load = (np.zeros(c) if c > 1 else 0.0) if load is None else load
    if physics == "heat":
        problem.heat_flux(load_side, load, name="heat_flux")
        if source is not None:
            problem.heat_source(source, name="heat_source")
    else:
        problem.traction(load_side, load, name="traction")
        if source is not None:
            problem.body_force(source, name="body_force")
    for selection, value, components in supports:
        problem.fix(selection, value, components)
    return problem


# -- supports -----------------------------------------------------------------------------
def rigid_modes(points: np.ndarray) -> np.ndarray:
    """Rigid-body motions of a displacement field, ``(n_nodes * dim, n_modes)``, node-major:
    translations, then infinitesimal rotations about the centroid."""
    n, d = points.shape
    x = points - points.mean(axis=0)
    modes = []
    for k in range(d):
        t = np.zeros((n, d))
        t[:, k] = 1.0
        modes.append(t.ravel())
    pairs = [(0, 1)] if d == 2 else [(0, 1), (1, 2), (2, 0)]
    for i, j in pairs:
        r = np.zeros((n, d))
        r[:, i], r[:, j] = -x[:, j], x[:, i]
        modes.append(r.ravel())
    return np.stack(modes, axis=1)


def supports_hold(problem: fo.Problem) -> bool:
    """Whether the prescribed dofs stop every zero-energy motion (rigid-body modes for a
    displacement, the constant for a temperature): computed here, independently of femopt."""
    prescribed = problem.partition.prescribed
    if problem.space.n_components == 1:
        return prescribed.size > 0
    modes = rigid_modes(problem.mesh.points)[prescribed]
    modes = modes / np.maximum(np.linalg.norm(modes, axis=0), 1e-300)
    return prescribed.size > 0 and np.linalg.matrix_rank(modes, tol=1e-8) == modes.shape[1]


@st.composite
def supports(draw, mesh: fo.Mesh, vector: bool, magnitude: float = 0.0) -> list:
    """Supports that remove the zero-energy motions (a later ``supports_hold`` check
    filters the rare degenerate draw): a clamped side, two clamped sides, symmetry
    rollers on the min sides (vector fields), or a few single nodes (scalar fields).
    Prescribed values are zero or random, of size 0.1 to 1 ``magnitude``."""
    dim, c = mesh.dim, (mesh.dim if vector else 1)
    sides = SIDES[dim]
    kinds = ["side", "two sides"] + (["rollers"] if vector else ["nodes"])
    kind = draw(st.sampled_from(kinds))

    def value():    # zero, or of the given size (a tiny value would fall below Newton's atol)
        size = draw(st.sampled_from([0.0, 1.0])) * draw(finite(0.1, 1.0)) * magnitude
        return draw(directions(c)) * size if vector else draw(st.sampled_from([-1.0, 1.0])) * size

    if kind == "side":
        return [(draw(st.sampled_from(sides)), value(), None)]
    if kind == "two sides":
        pair = draw(st.lists(st.sampled_from(sides), min_size=2, max_size=2, unique=True))
        return [(s, value(), None) for s in pair]
    if kind == "rollers":
        return [(f"{'xyz'[k]}min", value()[k] if magnitude else 0.0, k) for k in range(dim)]
    nodes = draw(st.lists(st.integers(0, mesh.n_nodes - 1), min_size=1, max_size=3, unique=True))
    return [(np.array(nodes), value(), None)]


# -- comparisons --------------------------------------------------------------------------
def relative_error(actual, expected) -> float:
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    return float(np.max(np.abs(actual - expected))) / scale
