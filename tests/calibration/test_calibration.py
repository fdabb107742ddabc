"""Calibration: on a linear-Gaussian problem the MAP point and the Laplace posterior
equal the closed-form Gaussian posterior (built from independent unit solves) to
round-off; on a nonlinear one the gradient and both Hessian products match finite
differences, and the two MAP methods agree; refused input is named."""
import numpy as np
import pytest

import femopt as fo
from femopt.calibration import (Calibration, Constants, Experiment, PointData, ReactionData, find_map,
                                laplace)
from femopt.errors import InputError
from femopt.sensitivity import taylor_test

SENSORS = np.array([[0.2, 0.3], [0.5, 0.5], [0.8, 0.2], [0.7, 0.8], [0.35, 0.75]])


def heat_plate():
    """Two heat sources of unknown strength (left and right halves), a cold left edge,
    convection on the right edge whose coefficient differs per experiment."""
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(6, 6), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin", 0.0)
    problem.heat_source(1.0, name="q_left", cells=lambda c: c[:, 0] < 0.5)
    problem.heat_source(1.0, name="q_right", cells=lambda c: c[:, 0] >= 0.5)
    problem.convection("xmax", 1.0, 0.0, name="air")
    return mesh, problem


def sensor_values(problem, params):
    """Temperatures at the sensors of a fresh solve (TransientResult-free interpolation)."""
    from femopt.fem.locate import locate_points
    u = problem.solve(params)
    _, nodes, weights = locate_points(problem.mesh, SENSORS)
    return np.einsum("mn,mn->m", weights, u[nodes])


def test_linear_gaussian_posterior_is_the_closed_form():
    mesh, problem = heat_plate()
    cases = [{"air.h": 1.0}, {"air.h": 5.0}]
    # the forward map y = G q + y0, column by column from unit solves (independent of the adjoint)
    zero = {"q_left": 0.0, "q_right": 0.0}
    G_blocks, y0_blocks = [], []
    for case in cases:
        y0 = sensor_values(problem, {**case, **zero})
        columns = [sensor_values(problem, {**case, **zero, name: 1.0}) - y0 for name in ("q_left", "q_right")]
        G_blocks.append(np.stack(columns, axis=1))
        y0_blocks.append(y0)
    G, y0 = np.vstack(G_blocks), np.concatenate(y0_blocks)
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 5))
    noise = 0.01 * (A @ A.T + 5 * np.eye(5))                     # correlated sensor noise
    data = [G_blocks[i] @ np.array([2.0, 0.5]) + y0_blocks[i] + 0.05 * rng.standard_normal(5) for i in range(2)]
    mean, cov = np.array([1.0, 1.0]), np.array([[1.0, 0.3], [0.3, 0.5]])
    experiments = [Experiment(PointData(problem, SENSORS, data[i], covariance=noise), params=case)
                   for i, case in enumerate(cases)]
    calibration = Calibration(problem, experiments,
                              Constants(["q_left", "q_right"], mean, covariance=cov, transform="identity"))
    Gamma_inv = np.kron(np.eye(2), np.linalg.inv(noise))
    precision = G.T @ Gamma_inv @ G + np.linalg.inv(cov)
    exact_cov = np.linalg.inv(precision)
    exact_mean = exact_cov @ (G.T @ Gamma_inv @ (np.concatenate(data) - y0) + np.linalg.solve(cov, mean))
    found = find_map(calibration, method="newton-cg", gtol=1e-12)
    np.testing.assert_allclose(found.m, exact_mean, rtol=1e-9)
    assert found.iterations <= 5                                  # inexact Newton on a quadratic
    for kind in ("gauss-newton", "full"):
        posterior = laplace(calibration, found.m, hessian=kind)
        np.testing.assert_allclose(posterior.covariance, exact_cov, rtol=1e-9)
    np.testing.assert_allclose(posterior.std, np.sqrt(np.diag(exact_cov)), rtol=1e-9)
    lbfgs = find_map(calibration, method="L-BFGS-B", gtol=1e-10)
    np.testing.assert_allclose(lbfgs.m, exact_mean, rtol=1e-6)


def nonlinear_plate():
    """Heat conduction with k(T) = k (1 + beta T) (two unknown constants), the heat flow
    into the cold edge (a reaction) and temperatures observed at two source levels."""
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(4, 4), cell="quad4")
    physics = fo.physics.HeatConduction(k=1.0, beta=0.2, conductivity=lambda T, k, beta: k * (1.0 + beta * T))
    problem = fo.Problem(mesh, physics)
    problem.fix("xmin", 0.0)
    problem.heat_source(1.0)
    experiments = []
    for level, hot in ((2.0, 0.8), (6.0, 2.0)):
        data = [PointData(problem, [[1.0, 1.0], [0.5, 0.5]], [hot, 0.8 * hot], sigma=0.01),
                ReactionData(problem, "xmin", -level, sigma=0.05)]
        experiments.append(Experiment(data, params={"heat_source": level}))
    return problem, experiments


def test_gradient_and_hessian_products_match_finite_differences():
    problem, experiments = nonlinear_plate()
    calibration = Calibration(problem, experiments, Constants(["k", "beta"], np.log([1.0, 0.2]), std=0.5))
    m = np.log([1.3, 0.3])
    F, g = calibration.cost_and_gradient(m)
    v = np.array([0.6, -0.8])
    h = 1e-5
    assert taylor_test(calibration.cost, m, v, g, h0=0.05).passed
    Hv = calibration.hessian_apply(m, v, kind="full")
    assert taylor_test(lambda x: calibration.cost_and_gradient(x)[1], m, v, derivative=Hv, h0=0.05).passed
    fd_hessian = (calibration.cost_and_gradient(m + h * v)[1] - calibration.cost_and_gradient(m - h * v)[1]) / (2 * h)
    np.testing.assert_allclose(Hv, fd_hessian, rtol=1e-5)

    def residuals(x):
        return np.concatenate(calibration.residuals(x))

    # (each state is converged to Newton's tolerance, ~1e-10 relative: a difference quotient
    # of step 1e-4 resolves J to ~1e-6)
    J = np.stack([(residuals(m + 1e-4 * e) - residuals(m - 1e-4 * e)) / 2e-4 for e in np.eye(2)], axis=1)
    gauss_newton = J.T @ J @ v + calibration.blocks[0].precision @ v
    np.testing.assert_allclose(calibration.hessian_apply(m, v), gauss_newton, rtol=1e-5)
    # the reaction is the heat balance: the source's total, whatever the material
    assert calibration.residuals(m)[0][-1] == pytest.approx(0.0, abs=1e-8)


def test_map_methods_agree_and_count_their_work():
    problem, experiments = nonlinear_plate()
    calibration = Calibration(problem, experiments, Constants(["k", "beta"], np.log([1.0, 0.2]), std=1.0))
    newton = find_map(calibration, method="newton-cg", gtol=1e-6)
    lbfgs = find_map(calibration, method="L-BFGS-B", gtol=1e-8)
    np.testing.assert_allclose(newton.m, lbfgs.m, rtol=1e-4)
    assert newton.gradient_norm < 1e-5 and newton.success
    assert newton.counts.hessian_products > 0 and lbfgs.counts.hessian_products == 0
    assert newton.counts.state_solves > 0 and newton.counts.linear_solves > 0
    posterior = laplace(calibration, newton.m)
    low, high = posterior.interval(0.95)[0]
    assert low < newton.parameters["k"] < high
    assert "beta" in posterior.summary()


def test_refused_input_is_named():
    mesh, problem = heat_plate()
    data = PointData(problem, SENSORS, np.zeros(5), sigma=0.1)
    with pytest.raises(InputError, match="unknown parameter 'E'"):
        Calibration(problem, Experiment(data), Constants("E", 0.0, std=1.0))
    with pytest.raises(InputError, match="sigma= .* or covariance="):
        PointData(problem, SENSORS, np.zeros(5))
    with pytest.raises(InputError, match="values must have shape"):
        PointData(problem, SENSORS, np.zeros(4), sigma=0.1)
    with pytest.raises(InputError, match="prescribed dofs"):
        ReactionData(problem, "xmax", 1.0, sigma=0.1)
    with pytest.raises(InputError, match="overrides unknowns"):
        Calibration(problem, Experiment(data, params={"q_left": 1.0}), Constants("q_left", 0.0, std=1.0,
                                                                                  transform="identity"))
    with pytest.raises(InputError, match="not positive definite"):
        Constants(["q_left", "q_right"], 0.0, covariance=[[1.0, 2.0], [2.0, 1.0]])
