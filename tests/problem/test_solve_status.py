"""A solve that did not converge can never be mistaken for a solution: load_steps is
validated, and raise_on_failure=False leaves a state marked converged=False that
functionals and gradients refuse."""
import numpy as np
import pytest

import femopt as fo


def hard_problem(max_iterations=2):
    mesh = fo.mesh.rectangle(size=(10.0, 1.0), shape=(20, 2), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.NeoHookean(mu=1.0, lmbda=1.5),
                         newton=fo.NewtonOptions(max_iterations=max_iterations))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, -0.05])
    return problem


@pytest.mark.parametrize("steps", [0, -1, 1.5, True, "2", None])
def test_load_steps_must_be_a_positive_integer(steps):
    problem = hard_problem()
    with pytest.raises(fo.InputError, match="load_steps must be a positive integer"):
        problem.solve(load_steps=steps)


def test_unconverged_result_is_flagged_and_refused_by_gradients():
    problem = hard_problem()
    u = problem.solve(raise_on_failure=False)
    state = problem.state
    assert not state.converged and state.reason == "max_iterations"
    assert "no convergence in 2 iterations" in state.message
    assert state.factorization is None
    assert np.isfinite(u).all()
    assert "NOT converged" in repr(state)
    with pytest.raises(fo.NewtonError):
        fo.gradient(fo.functionals.compliance(), problem, wrt="mu")
    with pytest.raises(fo.NewtonError):
        fo.functionals.compliance()(problem)


def test_load_stepping_failure_is_flagged_not_returned_as_the_full_load():
    problem = hard_problem(max_iterations=1)
    problem.solve(load_steps=2, raise_on_failure=False)
    assert not problem.state.converged
    assert "load stepping failed" in problem.state.message


def test_next_solve_does_not_start_from_a_failed_iterate():
    problem = hard_problem()
    problem.solve(raise_on_failure=False)
    problem.newton_options = fo.NewtonOptions()
    problem.solve(load_steps=4)
    assert problem.state.converged
    first = problem.state.newton[0].residual_history[0]
    fresh = hard_problem(max_iterations=30)
    fresh.solve(load_steps=4)
    assert first == fresh.state.newton[0].residual_history[0]


def test_a_tangled_neo_hookean_solution_is_not_a_solution():
    mesh = fo.mesh.rectangle(size=(1.175, 1.077), shape=(2, 2), cell="quad8")
    F = np.diag([1.0989, 0.9007])
    exact = (mesh.points - mesh.points.mean(axis=0)) @ (F - np.eye(2)).T + [0.0, 0.5]
    boundary = mesh.nodes(lambda x: np.isclose(x[:, 0], 0) | np.isclose(x[:, 0], 1.175)
                          | np.isclose(x[:, 1], 0) | np.isclose(x[:, 1], 1.077))
    problem = fo.Problem(mesh, fo.physics.NeoHookean(mu=1.0, lmbda=-0.5))      # admissible, unbounded as J -> 0
    problem.fix(boundary, exact[boundary])
    with pytest.raises(fo.NewtonError, match=r"inverts 2 cell\(s\).*cells \[0, 1\]") as info:
        problem.solve(load_steps=2)
    assert info.value.reason == "inverted"
    problem.solve(load_steps=2, raise_on_failure=False)
    assert not problem.state.converged and problem.state.reason == "inverted"
