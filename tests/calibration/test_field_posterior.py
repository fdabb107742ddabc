"""The low-rank Laplace posterior of a field against the exact Gaussian posterior of a
linear-Gaussian problem (a heat source field seen by a few sensors; the forward map
from independent unit solves): it converges as the rank grows and is exact to
round-off once the rank reaches the number of observations; its cost in Hessian
products does not depend on the mesh."""
import numpy as np
import pytest

import femopt as fo
from femopt.calibration import Calibration, Experiment, Field, PointData, find_map
from femopt.calibration.field_posterior import low_rank_laplace
from femopt.calibration.field_prior import BiLaplacianPrior
from femopt.errors import InputError
from femopt.fem.locate import locate_points

SENSORS = np.array([[0.2, 0.2], [0.5, 0.3], [0.8, 0.2], [0.3, 0.6], [0.7, 0.7], [0.5, 0.9]])


def source_problem(n):
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(n, n), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin", 0.0).fix("xmax", 0.0)
    problem.heat_source(fo.nodal_field(np.zeros(mesh.n_nodes)), name="q")
    return mesh, problem


def calibration_for(n, data=None):
    mesh, problem = source_problem(n)
    prior = BiLaplacianPrior.from_correlation(mesh, 0.3, 1.0, robin="optimal")
    if data is None:
        data = np.linspace(0.01, 0.03, len(SENSORS))
    experiment = Experiment(PointData(problem, SENSORS, data, sigma=0.002))
    return mesh, problem, prior, Calibration(problem, experiment, Field("q", prior, transform="identity"))


def test_low_rank_posterior_converges_to_the_exact_one():
    mesh, problem, prior, calibration = calibration_for(6)
    n = mesh.n_nodes
    _, nodes, weights = locate_points(mesh, SENSORS)
    G = np.zeros((len(SENSORS), n))
    for i in range(n):                                     # unit sources, solved afresh
        q = np.zeros(n)
        q[i] = 1.0
        u = problem.solve({"q": fo.nodal_field(q)})
        G[:, i] = np.einsum("mn,mn->m", weights, u[nodes])
    Gamma_inv = np.eye(len(SENSORS)) / 0.002**2
    C = prior.covariance_apply(np.eye(n))
    exact = np.linalg.inv(G.T @ Gamma_inv @ G + np.linalg.inv(C))
    data = calibration.experiments[0].data[0].values
    exact_mean = exact @ (G.T @ Gamma_inv @ data + np.linalg.solve(C, prior.mean))
    found = find_map(calibration, method="newton-cg", gtol=1e-10)
    np.testing.assert_allclose(found.m, exact_mean, rtol=1e-7, atol=1e-9 * np.abs(exact_mean).max())
    errors = []
    for rank in (1, 3, 6):
        result = low_rank_laplace(calibration, found.m, rank=rank, oversampling=4, power_iterations=2)
        errors.append(np.abs(result.variance - np.diag(exact)).max() / np.diag(exact).max())
        covariance = result.posterior.covariance_apply(np.eye(n))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-10                                # rank 6 = number of observations: exact
    np.testing.assert_allclose(covariance, exact, atol=1e-10 * np.abs(exact).max())
    assert result.informed_directions(1.0) <= len(SENSORS)
    samples = result.sample(4000, seed=1)
    z = (samples.mean(axis=0) - found.m) / np.sqrt(np.diag(exact) / 4000)
    assert np.abs(z).max() < 5.0


def test_the_cost_does_not_grow_with_the_mesh():
    counts, informed = [], []
    for n in (8, 16):
        mesh, problem, prior, calibration = calibration_for(n)
        found = find_map(calibration, method="newton-cg", gtol=1e-9)
        result = low_rank_laplace(calibration, found.m, rank=8, oversampling=4, power_iterations=1)
        counts.append((result.counts.hessian_products, result.counts.linear_solves))
        informed.append(result.informed_directions(0.1))
    assert counts[0] == counts[1] == ((8 + 4) * 3, (8 + 4) * 3 * 2)
    assert informed[0] == informed[1]


def test_a_penalty_gives_no_posterior():
    mesh, problem = source_problem(4)
    experiment = Experiment(PointData(problem, SENSORS, np.zeros(len(SENSORS)), sigma=0.01))
    calibration = Calibration(problem, experiment,
                              Field("q", fo.design.Tikhonov(mesh, 1.0, kind="node"), transform="identity"))
    with pytest.raises(InputError, match="Gaussian prior"):
        low_rank_laplace(calibration, calibration.initial())
