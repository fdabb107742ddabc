"""Small problems of every physics (linear elasticity, neo-Hookean, nonlinear heat; 2D and
3D) with every kind of parameter, and a Taylor-test driver that shares the solves of one
perturbed design between all the functionals checked on it.

Each case has one parameter layout (which parameters are global, per-cell or per-node
fields) so that every kernel compiles once per session:

==========  ======================  ==================  ===========================
case        per-cell                per-node            global (material, loads)
==========  ======================  ==================  ===========================
elastic2d   E                       —                   nu, traction, body_force
elastic3d   —                       E                   nu, traction, point load
hyper2d     mu                      lmbda               traction
hyper3d     —                       —                   mu, lmbda, traction
heat2d      k                       —                   source, flux, convection h/T∞
heat3d      —                       k                   source, flux
==========  ======================  ==================  ===========================

Prescribed values are nonzero in elastic2d and heat2d.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

import femopt as fo
from femopt import functionals as F
from femopt.physics import HeatConduction, LinearElasticity, NeoHookean


def conductivity(T, k):
    """k(T) = k (1 + 0.01 T): module level, so every heat problem shares one kernel."""
    return k * (1.0 + 0.01 * T)


@dataclass
class Case:
    """A problem with its parameter values, solve options and Taylor directions."""

    name: str
    problem: fo.Problem
    params: dict
    load_steps: int = 1
    directions: dict = field(default_factory=dict)
    _states: dict = field(default_factory=dict)

    @property
    def mesh(self):
        return self.problem.mesh

    # -- the design x: parameters, prescribed values, node coordinates -------------------
    def base(self, names):
        out = {}
        for n in names:
            if n == "coordinates":
                out[n] = np.array(self.base_points)
            elif n == "prescribed":
                out[n] = np.array(self.base_prescribed)
            else:
                out[n] = np.asarray(getattr(self.params[n], "values", self.params[n]), dtype=float)
        return out

    def params_of(self, x):
        params = dict(self.params)
        for n, v in x.items():
            if n in ("coordinates", "prescribed"):
                continue
            kind = getattr(self.params[n], "kind", None)
            params[n] = fo.cell_field(v) if kind == "cell" else fo.nodal_field(v) if kind == "node" else v
        return params

    def _apply(self, x):
        """Move the nodes and set the prescribed values to those in x (or the base)."""
        points = np.asarray(x.get("coordinates", self.base_points))
        if not np.array_equal(points, self.mesh.points):
            # The same problem on moved nodes (a new Problem per Taylor step would compile
            # its functionals again). The assembler keeps its blocks' node coordinates, so
            # it is dropped and rebuilt — with the kernels it already compiled.
            self.mesh.points = points
            self.problem._invalidate()
        set_prescribed(self.problem, x.get("prescribed", self.base_prescribed))

    def solve(self, x):
        """Full dof vector at design x (cached), leaving the problem at the base design."""
        key = tuple((n, np.asarray(v).tobytes()) for n, v in sorted(x.items()))
        if key not in self._states:
            self._apply(x)
            try:
                self.problem.solve(self.params_of(x), load_steps=self.load_steps)
                self._states[key] = self.problem.state.u.copy()
            finally:
                self._apply({})
        return self._states[key]

    def value(self, functional, x):
        u = self.solve(x)
        self._apply(x)
        try:
            return functional(self.problem, u=u, params=self.params_of(x))
        finally:
            self._apply({})

    def at_base(self):
        """Solve at the base design (so the state is current, factorization included)."""
        self._apply({})
        self.problem.solve(self.params, load_steps=self.load_steps)

    def taylor(self, functional, names, method="auto", gradient=None):
        """Taylor test of the gradient of ``functional`` along this case's direction in
        ``names``; returns (TaylorResult, Gradient)."""
        x0 = self.base(names)
        dx = {n: self.directions[n] for n in names}
        if gradient is None:
            self.at_base()
            gradient = fo.sensitivity.gradient(functional, self.problem, wrt=names, params=self.params,
                                               method=method)
        result = fo.sensitivity.taylor_test(lambda x: self.value(functional, x), x0, dx, gradient.grads)
        return result, gradient


def set_prescribed(problem, values):
    """Give the prescribed dofs (ordered like ``partition.prescribed``) these values."""
    c = problem.space.n_components
    dofs = problem.partition.prescribed
    values = np.asarray(values, dtype=float)
    if np.array_equal(problem.prescribed_values(), values):
        return
    for comp in range(c):
        pick = dofs % c == comp
        if pick.any():
            problem.fix(dofs[pick] // c, value=values[pick][:, None], components=comp)


def _finish(case, rng, scales):
    pb = case.problem
    case.base_points = np.array(pb.mesh.points)
    case.base_prescribed = pb.prescribed_values()
    h = float(np.min(np.ptp(pb.mesh.points, axis=0))) / 4
    case.directions["coordinates"] = 0.05 * h * rng.standard_normal(pb.mesh.points.shape)
    case.directions["prescribed"] = scales.pop("prescribed") * rng.standard_normal(case.base_prescribed.shape)
    for name, value in case.params.items():
        v = np.asarray(getattr(value, "values", value), dtype=float)
        case.directions[name] = scales.get(name, 0.2) * np.abs(v).mean() * rng.standard_normal(v.shape)
    case.at_base()
    return case


def _elastic2d():
    rng = np.random.default_rng(1)
    mesh = fo.mesh.rectangle(size=(2.0, 0.5), shape=(4, 2), cell="quad4")
    pb = fo.Problem(mesh, LinearElasticity(E=10.0, nu=0.3, plane="stress"))
    pb.fix("xmin", value=lambda x: np.stack([1e-3 * x[:, 1], np.zeros(len(x))], axis=1))
    pb.traction("xmax", [0.01, -0.02]).body_force([0.0, -0.01])
    params = {"E": fo.cell_field(10.0 * (1 + 0.2 * rng.random(mesh.n_cells))), "nu": 0.3,
              "traction": np.array([0.01, -0.02]), "body_force": np.array([0.0, -0.01])}
    return _finish(Case("elastic2d", pb, params), rng, {"prescribed": 1e-3})


def _elastic3d():
    rng = np.random.default_rng(2)
    mesh = fo.mesh.box(size=(1.0, 0.4, 0.4), shape=(2, 1, 1), cell="hex8")
    pb = fo.Problem(mesh, LinearElasticity(E=10.0, nu=0.3))
    pb.fix("xmin").traction("xmax", [0.0, 0.0, -0.02])
    pb.point_load(lambda x: (x[:, 0] > 0.99) & (x[:, 1] > 0.39) & (x[:, 2] > 0.39), [0.0, 0.005, 0.0],
                  name="tip")
    params = {"E": fo.nodal_field(10.0 * (1 + 0.2 * rng.random(mesh.n_nodes))), "nu": 0.3,
              "traction": np.array([0.0, 0.0, -0.02]), "tip": np.array([0.0, 0.005, 0.0])}
    return _finish(Case("elastic3d", pb, params), rng, {"prescribed": 1e-3})


def _hyper2d():
    rng = np.random.default_rng(3)
    mesh = fo.mesh.rectangle(size=(2.0, 0.5), shape=(4, 2), cell="quad4")
    pb = fo.Problem(mesh, NeoHookean(mu=10.0, lmbda=20.0))
    pb.fix("xmin").traction("xmax", [0.3, -0.05])
    params = {"mu": fo.cell_field(10.0 * (1 + 0.2 * rng.random(mesh.n_cells))),
              "lmbda": fo.nodal_field(20.0 * (1 + 0.2 * rng.random(mesh.n_nodes))),
              "traction": np.array([0.3, -0.05])}
    return _finish(Case("hyper2d", pb, params, load_steps=2), rng, {"prescribed": 1e-3})


def _hyper3d():
    rng = np.random.default_rng(4)
    mesh = fo.mesh.box(size=(1.0, 0.4, 0.4), shape=(2, 1, 1), cell="hex8")
    pb = fo.Problem(mesh, NeoHookean(mu=10.0, lmbda=20.0))
    pb.fix("xmin").traction("xmax", [0.5, 0.0, -0.05])
    params = {"mu": 10.0, "lmbda": 20.0, "traction": np.array([0.5, 0.0, -0.05])}
    return _finish(Case("hyper3d", pb, params, load_steps=2), rng, {"prescribed": 1e-3})


def _heat2d():
    rng = np.random.default_rng(5)
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(3, 3), cell="tri3")
    pb = fo.Problem(mesh, HeatConduction(k=1.0, conductivity=conductivity))
    pb.fix("xmin", value=lambda x: 1.0 + 2.0 * x[:, 1])
    pb.heat_source(40.0, name="source").heat_flux("xmax", 5.0, name="flux")
    pb.convection("ymax", h=2.0, ambient=0.5, name="air")
    params = {"k": fo.cell_field(1.0 + 0.3 * rng.random(mesh.n_cells)), "source": 40.0, "flux": 5.0,
              "air.h": 2.0, "air.ambient": 0.5}
    return _finish(Case("heat2d", pb, params), rng, {"prescribed": 0.3})


def _heat3d():
    rng = np.random.default_rng(6)
    mesh = fo.mesh.box(size=(1.0, 1.0, 1.0), shape=(2, 1, 1), cell="tet4")
    pb = fo.Problem(mesh, HeatConduction(k=1.0, conductivity=conductivity))
    pb.fix("xmin").heat_source(60.0, name="source").heat_flux("xmax", 5.0, name="flux")
    params = {"k": fo.nodal_field(1.0 + 0.3 * rng.random(mesh.n_nodes)), "source": 60.0, "flux": 5.0}
    return _finish(Case("heat3d", pb, params), rng, {"prescribed": 0.3})


FIELD_FUNCTIONALS = ("compliance", "volume", "mass", "point_value", "boundary_average", "mean", "p_norm",
                     "misfit")
STRESS_FUNCTIONALS = ("von_mises_p_norm", "von_mises_ks")


def functional_names(name):
    """Names of the built-in functionals that apply to a case (without building it)."""
    return FIELD_FUNCTIONALS + (() if name.startswith("heat") else STRESS_FUNCTIONALS)


BUILDERS = {"elastic2d": _elastic2d, "elastic3d": _elastic3d, "hyper2d": _hyper2d, "hyper3d": _hyper3d,
            "heat2d": _heat2d, "heat3d": _heat3d}
CASES = tuple(BUILDERS)


@functools.lru_cache(maxsize=None)
def case(name) -> Case:
    """The case ``name``, built once per session."""
    return BUILDERS[name]()


def material(name):
    """The case's first material parameter (the one ``mass`` weighs with)."""
    return {"elastic": "E", "hyper": "mu", "heat": "k"}[name.rstrip("23d")]


def _points(mesh):
    lo, hi = mesh.points.min(0), mesh.points.max(0)
    return lo + np.array([[0.71], [0.37]]) * (hi - lo)


@functools.lru_cache(maxsize=None)
def functionals(name) -> dict:
    """Every built-in functional that applies to the case, by name (built once)."""
    c = case(name)
    pb = c.problem
    dim, comps = pb.mesh.dim, pb.space.n_components
    last = None if comps == 1 else comps - 1
    points = _points(pb.mesh)
    rng = np.random.default_rng(7)
    observed = c.solve(c.base([])).reshape(pb.mesh.n_nodes, comps)
    probe = F.PointProbe(pb.mesh, points)
    data = np.asarray(probe.values(pb, observed.ravel())) * (1 + 0.1 * rng.standard_normal((2, comps)))
    data = data[:, 0] if comps == 1 else data
    out = {
        "compliance": F.thermal_compliance() if comps == 1 else F.compliance(),
        "volume": F.volume(),
        "mass": F.mass(pb, density=material(name)),
        "point_value": F.point_value(pb, points[0], component=last),
        "boundary_average": F.boundary_average(pb, "xmax", component=last),
        "mean": F.mean(pb, component=None if comps == 1 else 0),
        "p_norm": F.p_norm(pb, p=6.0, component=last),
        "misfit": F.misfit(pb, points, data, weights=np.array([2.0, 0.5])[:, None] if comps > 1
                           else np.array([2.0, 0.5])),
    }
    if comps == dim:
        out["von_mises_p_norm"] = F.von_mises_p_norm(p=6.0)
        out["von_mises_ks"] = F.von_mises_ks(rho=5.0)
    return out


# The functionals checked on each case by default (each compiles once per case; every
# built-in appears, and every case has two). The full matrix runs under -m slow.
CHECKED = {"elastic2d": ["compliance", "von_mises_p_norm", "point_value"],
           "elastic3d": ["von_mises_ks", "boundary_average"],
           "hyper2d": ["misfit", "mean"],
           "hyper3d": ["compliance", "misfit"],
           "heat2d": ["p_norm", "mass", "compliance"],
           "heat3d": ["misfit", "volume"]}
