"""A nonlinear problem in other units is the same problem: Newton's tolerances are relative
to the loads a solve carries, never an absolute number in force units. (With the old
absolute atol = 1e-10, a neo-Hookean problem whose loads were 1e-12 returned its first,
linearized Newton step as converged: 85 % off, without a word.)"""
import numpy as np
import pytest

import femopt as fo


def bent_strip(stress_unit):
    mesh = fo.mesh.rectangle(shape=(4, 2), size=(2.0, 1.0), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.NeoHookean(mu=1.0 * stress_unit, lmbda=2.0 * stress_unit))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.3 * stress_unit])
    return problem


@pytest.mark.parametrize("stress_unit", [1e-12, 1e12])
def test_neo_hookean_solution_does_not_depend_on_the_stress_unit(stress_unit):
    reference = bent_strip(1.0)
    expected = reference.solve()
    problem = bent_strip(stress_unit)
    u = problem.solve()
    assert problem.state.newton[-1].n_iterations == reference.state.newton[-1].n_iterations > 3
    assert np.max(np.abs(u - expected)) <= 1e-10 * np.max(np.abs(expected))


def test_problem_tolerances_follow_the_load():
    problem = bent_strip(1e-12)
    problem.solve()
    result = problem.state.newton[-1]
    assert result.residual_norm <= 1e-10 * result.initial_residual_norm


def test_a_warm_start_at_the_solution_is_accepted():
    problem = bent_strip(1e-12)
    u = problem.solve()
    again = problem.solve()
    assert problem.state.newton[-1].n_iterations <= 1
    assert np.max(np.abs(again - u)) <= 1e-10 * np.max(np.abs(u))


def test_an_absolute_tolerance_is_still_available():
    assert fo.NewtonOptions().atol == 0.0
    problem = bent_strip(1.0)
    problem.newton_options = fo.NewtonOptions(atol=1e3, rtol=0.0)    # anything below 1e3 N is zero
    problem.solve()
    assert problem.state.newton[-1].n_iterations == 1


def test_a_rest_state_that_already_balances_is_the_solution():
    # u = x - centre prescribed on the boundary: the one interior node is already in
    # equilibrium at u = 0, so the residual at rest is round-off of forces of size ~0.1.
    # Its tolerance must come from the size of those forces, not from the net residual
    # (a line search on round-off failed here before).
    mesh = fo.mesh.box(shape=(2, 2, 2), cell="tet4")
    centre = mesh.points.mean(axis=0)
    boundary = np.flatnonzero(np.any((mesh.points == 0.0) | (mesh.points == 1.0), axis=1))
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.0))
    problem.fix(boundary, (mesh.points - centre)[boundary])
    u = problem.solve()
    assert np.allclose(u, mesh.points - centre, atol=1e-14)
    assert problem.state.newton[-1].n_iterations == 0
