"""Calibration from sensor time series of transient runs: on a linear-Gaussian problem
(source strength and ambient temperature, which the temperatures depend on linearly)
the MAP point and the Laplace covariance equal the closed form built from independent
unit runs; with a log-conductivity the gradient passes a Taylor test and the
Gauss–Newton product equals JᵀJv with J from finite differences of the residuals."""
import numpy as np
import pytest

import femopt as fo
from femopt.calibration import Calibration, Constants, Experiment, PointData, find_map, laplace
from femopt.calibration.transient_experiment import TransientExperiment
from femopt.errors import InputError
from femopt.functionals import sensor_misfit
from femopt.sensitivity import taylor_test

SENSORS = np.array([[0.3, 0.2], [0.7, 0.3], [0.5, 0.4]])
TIMES = np.array([0.05, 0.13, 0.2, 0.3])
RUN = dict(t_end=0.3, steps=12, initial=0.0, loads={"q": lambda t: 1.0 + np.sin(10 * t)})


def plate():
    """A source pulsed in time (known) and a constant source of unknown strength
    ``q_scale``; convection to an ambient temperature on the right edge."""
    mesh = fo.mesh.rectangle(size=(1.0, 0.5), shape=(6, 3), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin", 0.0)
    problem.heat_source(1.0, name="q")
    problem.heat_source(0.0, name="q_scale", cells=lambda c: c[:, 0] > 0.5)
    problem.convection("xmax", 2.0, 0.0, name="air")
    return problem, fo.TransientProblem(problem, capacity=1.5)


def readings(tp, **params):
    """The sensors' readings of a fresh run (interpolated with TransientResult.at)."""
    result = tp.solve(**RUN, params=params)
    return np.array([[np.interp(t, result.times, result.at(p)) for p in SENSORS] for t in TIMES])


def test_linear_gaussian_transient_posterior_is_the_closed_form():
    problem, tp = plate()
    names = ["q_scale", "air.ambient"]
    # the readings depend linearly on both: y = G θ + y0, from unit runs
    y0 = readings(tp, q_scale=0.0).ravel()
    G = np.stack([readings(tp, q_scale=1.0).ravel() - y0, readings(tp, **{"air.ambient": 1.0}).ravel() - y0],
                 axis=1)
    rng = np.random.default_rng(4)
    sigma = 0.01
    data = (G @ np.array([1.2, 0.3]) + y0 + sigma * rng.standard_normal(y0.size)).reshape(TIMES.size, -1)
    J = sensor_misfit(problem, SENSORS, TIMES, data, sigma=sigma)
    mean, cov = np.array([1.0, 0.0]), np.diag([0.5, 0.2])
    calibration = Calibration(problem, TransientExperiment(tp, J, RUN, checkpoints=fo.Revolve(4)),
                              Constants(names, mean, covariance=cov, transform="identity"))
    Gamma_inv = np.eye(y0.size) / sigma**2
    exact_cov = np.linalg.inv(G.T @ Gamma_inv @ G + np.linalg.inv(cov))
    exact_mean = exact_cov @ (G.T @ Gamma_inv @ (data.ravel() - y0) + np.linalg.solve(cov, mean))
    found = find_map(calibration, method="newton-cg", gtol=1e-10)
    np.testing.assert_allclose(found.m, exact_mean, rtol=1e-8)
    posterior = laplace(calibration, found.m)
    np.testing.assert_allclose(posterior.covariance, exact_cov, rtol=1e-8)


def test_conductivity_gradient_and_gauss_newton_product():
    problem, tp = plate()
    truth = readings(tp, k=1.7)
    J = sensor_misfit(problem, SENSORS, TIMES, truth + 0.003, sigma=0.01)
    steady = Experiment(PointData(problem, [[0.5, 0.25]], [0.1], sigma=0.05), params={"q": 1.0})
    calibration = Calibration(problem, [steady, TransientExperiment(tp, J, RUN, checkpoints=fo.Revolve(3))],
                              Constants(["k", "air.h"], np.log([1.0, 2.0]), std=1.0))
    m = np.log([1.3, 2.5])
    F, g = calibration.cost_and_gradient(m)
    v = np.array([0.7, -0.4])
    assert taylor_test(calibration.cost, m, v, g, h0=0.05).passed

    def residuals(x):
        return np.concatenate(calibration.residuals(x))

    h = 1e-5
    Jac = np.stack([(residuals(m + h * e) - residuals(m - h * e)) / (2 * h) for e in np.eye(2)], axis=1)
    expected = Jac.T @ Jac @ v + calibration.blocks[0].precision @ v
    np.testing.assert_allclose(calibration.hessian_apply(m, v), expected, rtol=1e-6)
    with pytest.raises(InputError, match="full Hessian of a transient"):
        calibration.hessian_apply(m, v, kind="full")
