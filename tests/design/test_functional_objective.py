"""FunctionalObjective: several problem parameters from one design (against the chain
rule written by hand, and Taylor tests), load-stepped nonlinear solves, the design vector
as the field itself (a calibration with Tikhonov), shared solves, scale/shift and input
checks."""
import jax.numpy as jnp
import numpy as np
import pytest

import femopt as fo
from femopt import design as fd
from femopt import functionals
from femopt.errors import InputError
from femopt.sensitivity import taylor_test

NU = {"nu": lambda rho, E: 0.2 + 0.15 * rho}          # Poisson's ratio from the same density


def plate():
    mesh = fo.mesh.rectangle(size=(6, 3), shape=(6, 3), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    problem.fix("xmin")
    problem.traction("xmax", [0.3, -1.0])
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 1.5),
                              interpolation=fd.SIMP(penalty=3.0, E0=1.0, Emin=1e-3))
    return problem, design


def directions(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.3, 0.9, n), rng.uniform(-1.0, 1.0, n)


def test_two_parameters_from_one_design_match_the_hand_written_chain():
    problem, design = plate()
    J = functionals.von_mises_p_norm(p=4.0)
    objective = fd.FunctionalObjective(problem, J, design, {"E": lambda rho, E: E, **NU})
    x, dx = directions(design.n_design)
    value, gradient = objective(x)
    rho, E = design(x)
    g = fo.gradient(J, problem, wrt=["E", "nu"], params={"E": fo.cell_field(E), "nu": fo.cell_field(0.2 + 0.15 * rho)})
    assert value == pytest.approx(g.value, rel=1e-14)
    by_hand = design.vjp(x, density_bar=0.15 * np.asarray(g["nu"]), property_bar=np.asarray(g["E"]))
    np.testing.assert_allclose(gradient, by_hand, rtol=1e-10, atol=1e-14 * np.abs(by_hand).max())
    result = taylor_test(objective, x, dx, h0=0.05)
    assert result.passed, str(result)


def test_a_parameter_name_is_the_design_property():
    problem, design = plate()
    x, _ = directions(design.n_design, seed=1)
    by_name = fd.FunctionalObjective(problem, functionals.compliance(), design, "E")(x)
    by_map = fd.FunctionalObjective(problem, functionals.compliance(), design, {"E": lambda rho, E: E})(x)
    assert by_name[0] == by_map[0]
    np.testing.assert_array_equal(by_name[1], by_map[1])


def test_hyperelastic_with_load_steps():
    # both neo-Hookean constants scale with one SIMP factor; a large tip load needs load steps
    mesh = fo.mesh.rectangle(size=(8, 2), shape=(8, 2), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.NeoHookean(mu=1.0, lmbda=1.5))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, -0.1])
    design = fd.DensityDesign(mesh, interpolation=fd.SIMP(penalty=3.0, E0=1.0, Emin=1e-2))
    rest = np.zeros(problem.space.n_dofs)
    objective = fd.FunctionalObjective(
        problem, functionals.compliance(), design,
        {"mu": lambda rho, s: 1.0 * s, "lmbda": lambda rho, s: 1.5 * s},
        solve_options={"load_steps": 3, "initial": rest})
    x, dx = directions(design.n_design, seed=2)
    value, _ = objective(x)
    assert len(problem.state.newton) == 3                         # three load steps were taken
    tip = np.flatnonzero(np.isclose(mesh.points[:, 0], 8.0))
    assert np.abs(problem.state.u.reshape(-1, 2)[tip, 1]).max() > 1.0   # far from linear (bar height 2)
    result = taylor_test(objective, x, dx, h0=0.05)
    assert result.passed, str(result)
    _, s = design(x)
    reference = problem.solve({"mu": fo.cell_field(s), "lmbda": fo.cell_field(1.5 * s)}, load_steps=3, initial=rest)
    assert value == pytest.approx(float(np.asarray(problem.external_loads(problem.state.params, jnp.asarray(mesh.points)))
                                        @ reference.ravel()), rel=1e-10)


def test_design_vector_as_the_field_with_tikhonov():
    problem, _ = plate()
    mesh = problem.mesh
    sensors = np.flatnonzero(mesh.points[:, 0] > 0)
    data = 0.9 * problem.solve()[sensors]
    misfit = functionals.misfit(problem, mesh.points[sensors], data)
    objective = fd.FunctionalObjective(problem, misfit, None, "E") + fd.Tikhonov(mesh, 1e-3)
    E, dE = directions(mesh.n_cells, seed=3)
    result = taylor_test(objective, E + 0.5, dE, h0=0.05)
    assert result.passed, str(result)
    assert len(objective.values) == 2


def test_objectives_at_one_design_share_the_solve_and_scale_shift():
    problem, design = plate()
    parameters = {"E": lambda rho, E: E, **NU}
    compliance = fd.FunctionalObjective(problem, functionals.compliance(), design, parameters)
    limit = fd.FunctionalObjective(problem, functionals.compliance(), design, parameters, scale=0.5, shift=2.0)
    x, _ = directions(design.n_design, seed=4)
    c, dc = compliance(x)
    state = problem.state
    g, dg = limit(x)
    assert problem.state is state                                 # no second solve
    assert g == pytest.approx(0.5 * (c - 2.0), rel=1e-14)
    np.testing.assert_allclose(dg, 0.5 * dc, rtol=1e-12)


def test_input_checks():
    problem, design = plate()
    J = functionals.compliance()
    with pytest.raises(InputError, match="'k' is not a parameter"):
        fd.FunctionalObjective(problem, J, design, "k")
    with pytest.raises(InputError, match="must be a function"):
        fd.FunctionalObjective(problem, J, design, {"E": 2.0})
    with pytest.raises(InputError, match="parameters must be"):
        fd.FunctionalObjective(problem, J, design, {})
    with pytest.raises(InputError, match=r"\['steps'\] are not keywords of Problem.solve"):
        fd.FunctionalObjective(problem, J, design, "E", solve_options={"steps": 3})
