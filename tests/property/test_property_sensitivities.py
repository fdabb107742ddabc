"""Property 3: adjoint and direct sensitivities agree, and match finite differences.

For a random problem (distorted mesh, random supports that hold the body, random
prescribed values, a random traction / heat flux on a random side), a random built-in
functional and a random set of design quantities — a global constant (E, nu, mu, lmbda,
k), a per-cell field of the stiffness, the load magnitude, ``"coordinates"``,
``"prescribed"`` — the adjoint gradient (``fo.gradient``) applied to a random direction
equals the direct derivative along it (``fo.sensitivity.directional_derivative``), the
value agrees, ``fo.value_and_grad`` with ``method="direct"`` agrees for a global constant,
and a central difference of the parameters' part confirms the derivative independently
of the element products both methods share.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import femopt as fo
from femopt import functionals as F
from femopt.functionals.compiled import partials
from property_cases import (CELLS, SIDES, dimension, directions, finite, geometries, magnitudes, material,
                            property_settings, stiffness_name, supports, supports_hold, template)

#: Adjoint and direct derivatives agree to round-off.
AGREEMENT = 1e-8
#: Central differences agree to their truncation and round-off error.
FINITE_DIFFERENCE = 1e-5

#: Functionals with a kink where the field (p_norm) or the stress (von Mises) vanishes.
NONSMOOTH = ("p_norm", "von_mises_p_norm", "von_mises_ks")

FUNCTIONALS = {
    "elastic": ("compliance", "volume", "point_value", "boundary_average", "mean", "p_norm",
                "von_mises_p_norm", "von_mises_ks", "misfit", "sum"),
    "neo_hookean": ("compliance", "volume", "point_value", "boundary_average", "mean", "p_norm",
                    "von_mises_p_norm", "misfit", "sum"),
    "heat": ("compliance", "volume", "point_value", "boundary_average", "mean", "p_norm", "misfit", "sum"),
}


@st.composite
def inner_points(draw, mesh, count):
    """Points inside random cells: corner averages with weights near uniform."""
    points = []
    for _ in range(count):
        cell = draw(st.integers(0, mesh.n_cells - 1))
        corners = mesh.points[mesh.cells[cell, :mesh.cell_type.n_corners]]
        weights = 1.0 + 0.5 * np.array(draw(st.lists(finite(0.0, 1.0), min_size=len(corners),
                                                      max_size=len(corners))))
        points.append(weights @ corners / weights.sum())
    return np.array(points)


@st.composite
def functional_specs(draw, physics, mesh):
    """(name, keyword arguments) of a random built-in functional."""
    c = 1 if physics == "heat" else mesh.dim
    name = draw(st.sampled_from(FUNCTIONALS[physics]))
    component = None if c == 1 else draw(st.integers(0, c - 1))
    if name == "point_value":
        return name, {"point": draw(inner_points(mesh, 1))[0], "component": component}
    if name == "boundary_average":
        return name, {"selection": draw(st.sampled_from(SIDES[mesh.dim])), "component": component}
    if name in ("mean",):
        return name, {"component": component}
    if name == "p_norm":
        return name, {"p": draw(st.sampled_from([2.0, 4.0, 8.0])), "component": component}
    if name == "von_mises_p_norm":
        return name, {"p": draw(st.sampled_from([2.0, 6.0]))}
    if name == "von_mises_ks":
        return name, {"rho": draw(st.sampled_from([5.0, 20.0]))}
    if name == "misfit":
        count = draw(st.integers(1, 3))
        points = draw(inner_points(mesh, count))
        shape = (count,) if c == 1 else (count, c)
        return name, {"points": points, "observations": draw(st.lists(finite(-1.0, 1.0), min_size=int(np.prod(shape)),
                                                                      max_size=int(np.prod(shape)))),
                      "weights": draw(magnitudes(1e-2, 1e2))}
    if name == "sum":
        return name, {"weight": draw(finite(-2.0, 2.0))}
    return name, {}


def build_functional(problem, name, kwargs):
    if name == "compliance":
        return F.compliance()
    if name == "volume":
        return F.volume()
    if name == "point_value":
        return F.point_value(problem, kwargs["point"], kwargs["component"])
    if name == "boundary_average":
        return F.boundary_average(problem, kwargs["selection"], kwargs["component"])
    if name == "mean":
        return F.mean(problem, kwargs["component"])
    if name == "p_norm":
        return F.p_norm(problem, kwargs["p"], kwargs["component"])
    if name == "von_mises_p_norm":
        return F.von_mises_p_norm(p=kwargs["p"])
    if name == "von_mises_ks":
        return F.von_mises_ks(rho=kwargs["rho"])
    if name == "misfit":
        c = problem.space.n_components
        observations = np.reshape(kwargs["observations"], (len(kwargs["points"]),) + ((c,) if c > 1 else ()))
        return F.misfit(problem, kwargs["points"], observations, weights=kwargs["weights"])
    return F.compliance() + kwargs["weight"] * F.volume()


@st.composite
def sensitivity_cases(draw, cell, physics, layout, shapes=False):
    dim = dimension(cell)
    geometry = draw(geometries(dim, shapes))
    # a per-cell mu as low as half the constant keeps the bulk modulus lmbda + 2 mu / 3
    # positive only for lmbda > -mu / 3 (femopt refuses the rest, by cell id)
    constants = draw(material(physics, lmbda_min=-0.3 if layout == "cell" else -0.6))
    mesh = geometry.mesh(cell)
    vector = physics != "heat"
    length = geometry.length
    if physics == "heat":
        load = draw(st.sampled_from([-1.0, 1.0])) * draw(magnitudes(1e-2, 1e2)) * constants["k"]
        held = draw(supports(mesh, vector=False, magnitude=10.0))
    else:
        if physics == "elastic":
            stiffness, strain = constants["E"], draw(magnitudes(1e-3, 1e-1))
        else:
            stiffness = min(constants["mu"], constants["lmbda"] + 2.0 * constants["mu"] / 3.0)
            strain = draw(magnitudes(1e-3, 2e-2))
        load = draw(directions(dim)) * strain * stiffness
        held = draw(supports(mesh, vector=True, magnitude=0.5 * strain * length))
    load_side = draw(st.sampled_from(SIDES[dim]))
    field = None
    if layout == "cell":
        field = constants[stiffness_name(physics)] * np.array(
            draw(st.lists(finite(0.5, 2.0), min_size=mesh.n_cells, max_size=mesh.n_cells)))
    spec = draw(functional_specs(physics, mesh))
    available = list(constants) + [("heat_flux" if physics == "heat" else "traction"), "coordinates", "prescribed"]
    names = draw(st.lists(st.sampled_from(available), min_size=1, max_size=3, unique=True))
    return mesh, constants, load_side, load, held, field, spec, names, draw(st.integers(0, 2**16))


def perturbed(params, direction, h):
    """``params`` moved by ``h * direction`` (parameters only), keeping field markers."""
    out = dict(params)
    for n, d in direction.items():
        value = params[n]
        if hasattr(value, "kind"):
            out[n] = fo.cell_field(np.asarray(value.values) + h * d)
        else:
            out[n] = np.asarray(value, dtype=float) + h * d
    return out


def parameter_size(name, params, constants) -> float:
    """The size of a parameter's value; Poisson's ratio and lmbda may be ~0, so their
    size is at least that of their neighbours' scale (1e-2, and 1e-2 mu)."""
    size = float(np.max(np.abs(np.asarray(getattr(params[name], "values", params[name])))))
    if name == "nu":
        return max(size, 1e-2)
    if name == "lmbda":
        return max(size, 1e-2 * constants["mu"])
    return size


def value_from_rest(functional, problem, params) -> float:
    """J at the solution for ``params``, solved from zero: a warm start from the last state
    would stop at once when the residual's change is below Newton's absolute tolerance."""
    problem.solve(params, initial=np.zeros(problem.space.n_dofs))
    return functional(problem)


def check_sensitivities(physics, case):
    mesh, constants, load_side, load, held, field, (fname, kwargs), names, seed = case
    # Newton's default atol (1e-10) is absolute, in force units: on these small problems it
    # stops at ~1e-6 of the loads, too coarse for a finite difference. Ask for more.
    newton = fo.NewtonOptions(atol=1e-14) if physics == "neo_hookean" else None
    problem = template(mesh, physics, constants, load_side=load_side, load=load, supports=held, newton=newton)
    assume(supports_hold(problem))
    stiffness = stiffness_name(physics)
    params = dict(problem.params)
    if field is not None:
        params[stiffness] = fo.cell_field(field)
    # every dof prescribed: see test_gradient_with_every_dof_prescribed
    assume(problem.partition.free.size > 0)
    functional = build_functional(problem, fname, kwargs)
    # p-norms and von Mises stresses are not differentiable where the field or the stress
    # vanishes (a load on a clamped side, prescribed values that only translate the body)
    if fname in NONSMOOTH:
        state = problem.solve(params)
        size = float(np.max(np.abs(load))) if fname.startswith("von_mises") else float(np.max(np.abs(state)))
        assume(functional(problem) > 1e-8 * size)

    gradient = fo.gradient(functional, problem, wrt=names, params=params, method="adjoint")
    rng = np.random.default_rng(seed)
    direction = {n: rng.normal(size=np.shape(gradient[n])) for n in names}
    if "coordinates" in direction:      # a shape change of a tenth of the cell size per unit step
        direction["coordinates"] *= 0.1 * np.min(np.ptp(mesh.points, axis=0)) / 3
    value, derivative = fo.sensitivity.directional_derivative(functional, problem, direction, params=params)
    terms = [float(np.sum(gradient[n] * direction[n])) for n in names]
    # Round-off of a derivative that vanishes by symmetry is relative to the sizes of
    # dJ/du and of the state's change, not to the derivative itself.
    _, dJ_du, _, _ = partials(functional, problem, problem.state.u, problem.state.params)
    du = fo.sensitivity.state_derivative(problem, direction, params=params)
    dJ_du_size = float(np.sum(np.abs(dJ_du)))
    scale = sum(abs(t) for t in terms) + abs(derivative) + dJ_du_size * float(np.max(np.abs(du)))
    assert np.isfinite(value) and value == pytest.approx(gradient.value, rel=1e-12, abs=1e-300)
    assert abs(sum(terms) - derivative) <= AGREEMENT * scale

    scalar = [n for n in names if n in constants and n != stiffness or (n == stiffness and field is None)]
    if scalar:
        _, direct = fo.value_and_grad(functional, problem, wrt=scalar[0], params=params, method="direct")
        assert direct == pytest.approx(gradient[scalar[0]], rel=AGREEMENT, abs=AGREEMENT * scale)

    # each parameter moved by about 1e-5 of its own size
    moved = {n: direction[n] * parameter_size(n, params, constants) / np.max(np.abs(direction[n]))
             for n in names if n not in ("coordinates", "prescribed")}
    if moved:
        h = 1e-5
        plus, minus = (value_from_rest(functional, problem, perturbed(params, moved, step)) for step in (h, -h))
        predicted = sum(float(np.sum(gradient[n] * moved[n])) for n in moved)
        central = (plus - minus) / (2 * h)
        noise = 1e-9 * (max(abs(plus), abs(minus), abs(value)) + dJ_du_size * np.max(np.abs(problem.state.u))) / h
        assert abs(central - predicted) <= FINITE_DIFFERENCE * (abs(predicted) + abs(central)) + noise


def test_gradient_with_every_dof_prescribed():
    mesh = fo.mesh.rectangle(shape=(2, 2), cell="quad4")
    problem = template(mesh, "elastic", {"E": 2.0, "nu": 0.3},
                       supports=[(np.arange(mesh.n_nodes), lambda x: np.c_[0.01 * x[:, 0], 0.0 * x[:, 1]], None)])
    u = problem.solve()
    assert np.allclose(u[:, 0], 0.01 * mesh.points[:, 0])
    gradient = fo.gradient(F.mean(problem, 0), problem, wrt=["prescribed", "E"])
    x_dofs = problem.partition.prescribed % 2 == 0
    assert gradient["E"] == 0.0
    assert np.sum(gradient["prescribed"][x_dofs]) == pytest.approx(1.0)     # the mean of u_x
    assert np.all(gradient["prescribed"][~x_dofs] == 0.0)


DEFAULT = [("elastic", "tri6", "global"), ("elastic", "quad9", "cell"), ("elastic", "hex8", "cell"),
           ("heat", "quad4", "cell"), ("heat", "tet10", "global"), ("neo_hookean", "quad8", "global"),
           ("neo_hookean", "tet4", "cell")]


@pytest.mark.parametrize("physics, cell, layout", DEFAULT)
@property_settings(5)
@given(data=st.data())
def test_adjoint_and_direct_sensitivities_agree(physics, cell, layout, data):
    check_sensitivities(physics, data.draw(sensitivity_cases(cell, physics, layout)))


@pytest.mark.slow
@pytest.mark.parametrize("layout", ("global", "cell"))
@pytest.mark.parametrize("physics", ("elastic", "neo_hookean", "heat"))
@pytest.mark.parametrize("cell", CELLS)
@property_settings(12)
@given(data=st.data())
def test_adjoint_and_direct_sensitivities_agree_study(cell, physics, layout, data):
    check_sensitivities(physics, data.draw(sensitivity_cases(cell, physics, layout, shapes=True)))
