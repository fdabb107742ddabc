"""The bilevel gradient of a held-out misfit with respect to the prior's strength, by
implicit differentiation through the inner MAP point, against finite differences of the
held-out misfit with the inner problem re-solved (a linear and a nonlinear problem)."""
import numpy as np
import pytest

import femopt as fo
from femopt.calibration import Calibration, Constants, Experiment, Field, PointData
from femopt.calibration.bilevel import held_out_misfit, inner_map, prior_strength_gradient

from test_calibration import SENSORS, heat_plate, nonlinear_plate


def finite_difference(calibration, objective, alpha, h, **options):
    values = []
    for a in (alpha * np.exp(h), alpha * np.exp(-h)):
        values.append(objective(inner_map(calibration, a, **options).m)[0])
    return (values[0] - values[1]) / (2 * h)                   # dO / d ln α


def test_linear_problem_matches_finite_differences():
    mesh, problem = heat_plate()
    rng = np.random.default_rng(5)
    block = Constants(["q_left", "q_right"], [0.0, 0.0], std=1.0, transform="identity")
    data = [0.05 + 0.02 * rng.standard_normal(len(SENSORS)) for _ in range(2)]
    inner = Calibration(problem, Experiment(PointData(problem, SENSORS, data[0], sigma=0.02),
                                            params={"air.h": 1.0}), block)
    outer = Calibration(problem, Experiment(PointData(problem, SENSORS, data[1], sigma=0.02),
                                            params={"air.h": 4.0}), block)
    objective = held_out_misfit(outer)
    for alpha in (0.5, 20.0):
        found = inner_map(inner, alpha, method="newton-cg", gtol=1e-12)
        result = prior_strength_gradient(inner, found.m, objective)
        reference = finite_difference(inner, objective, alpha, 1e-4, method="newton-cg", gtol=1e-12)
        assert result.log_derivative == pytest.approx(reference, rel=1e-6)
        assert result.cg_iterations <= 2 and result.counts.hessian_products >= 1


def test_nonlinear_problem_with_log_coordinates():
    problem, experiments = nonlinear_plate()
    block = Constants(["k", "beta"], np.log([1.0, 0.2]), std=0.3)
    inner = Calibration(problem, experiments[:1], block)
    outer = Calibration(problem, experiments[1:], block)
    objective = held_out_misfit(outer)
    alpha = 2.0
    found = inner_map(inner, alpha, method="newton-cg", gtol=1e-10)
    exact = prior_strength_gradient(inner, found.m, objective)
    reference = finite_difference(inner, objective, alpha, 1e-3, method="newton-cg", gtol=1e-10)
    assert exact.log_derivative == pytest.approx(reference, rel=1e-4)
    gauss_newton = prior_strength_gradient(inner, found.m, objective, hessian="gauss-newton")
    assert gauss_newton.log_derivative == pytest.approx(reference, rel=0.5)   # an approximation


def test_field_penalty_strength():
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(5, 5), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin", 0.0)
    problem.heat_source(fo.nodal_field(np.zeros(mesh.n_nodes)), name="q")
    block = Field("q", fo.design.Tikhonov(mesh, 1.0, kind="node", reference_weight=0.1), transform="identity")
    rng = np.random.default_rng(2)
    inner = Calibration(problem, Experiment(PointData(problem, SENSORS, 0.02 + 0.01 * rng.random(5), sigma=0.005)),
                        block)
    outer = Calibration(problem, Experiment(PointData(problem, SENSORS[::-1] * 0.9 + 0.05,
                                                      0.02 + 0.01 * rng.random(5), sigma=0.005)), block)
    objective = held_out_misfit(outer)
    found = inner_map(inner, 0.3, method="newton-cg", gtol=1e-12)
    result = prior_strength_gradient(inner, found.m, objective)
    reference = finite_difference(inner, objective, 0.3, 1e-4, method="newton-cg", gtol=1e-12)
    assert result.log_derivative == pytest.approx(reference, rel=1e-5)
