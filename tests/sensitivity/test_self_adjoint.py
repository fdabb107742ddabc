"""With an iterative solver the adjoint of a self-adjoint load (compliance of a linear
symmetric problem with homogeneous supports) is the state itself: no second CG solve,
the same gradient as with a direct solver."""
import numpy as np
import pytest

import femopt as fo
from femopt.solvers.linear import CGSolver


def cantilever(solver):
    mesh = fo.mesh.box(size=(2, 1, 1), shape=(6, 3, 3), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(), linear_solver=solver)
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.0, -1.0])
    E = np.random.default_rng(0).uniform(0.2, 1.0, mesh.n_cells)
    problem.solve({"E": E})
    return problem, E


def test_compliance_gradient_needs_no_second_cg_solve(monkeypatch):
    problem, E = cantilever(CGSolver("amg", rtol=1e-12))
    factorization = problem.state.factorization

    def refuse(*args, **kwargs):
        raise AssertionError("a transposed solve was made")

    monkeypatch.setattr(factorization, "solve_transpose", refuse)
    value, grad = fo.value_and_grad(fo.functionals.compliance(), problem, wrt="E", params={"E": E})
    direct, _ = cantilever("direct")
    reference_value, reference = fo.value_and_grad(fo.functionals.compliance(), direct, wrt="E", params={"E": E})
    assert value == pytest.approx(reference_value, rel=1e-10)
    np.testing.assert_allclose(grad, reference, rtol=1e-8, atol=1e-10 * np.abs(reference).max())


def test_other_functionals_still_solve_the_adjoint():
    problem, E = cantilever(CGSolver("amg", rtol=1e-12))
    functional = fo.functionals.point_value(problem, problem.mesh.points[-1], component=2)
    _, grad = fo.value_and_grad(functional, problem, wrt="E", params={"E": E})
    direct, _ = cantilever("direct")
    _, reference = fo.value_and_grad(functional, direct, wrt="E", params={"E": E})
    np.testing.assert_allclose(grad, reference, rtol=1e-7, atol=1e-9 * np.abs(reference).max())


def test_after_a_warm_started_solve_the_gradient_is_still_exact():
    problem, E = cantilever(CGSolver("amg", rtol=1e-12))
    E2 = E[::-1].copy()
    problem.solve({"E": E2})                     # Newton starts from the previous state
    _, grad = fo.value_and_grad(fo.functionals.compliance(), problem, wrt="E", params={"E": E2})
    direct, _ = cantilever("direct")
    _, reference = fo.value_and_grad(fo.functionals.compliance(), direct, wrt="E", params={"E": E2})
    np.testing.assert_allclose(grad, reference, rtol=1e-8, atol=1e-10 * np.abs(reference).max())
