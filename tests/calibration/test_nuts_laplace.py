"""The log posterior of a calibration written in JAX around femopt's differentiable
solve: equal to the calibration's own cost and gradient (default run); sampled by NUTS,
its mean and standard deviations agree with the Laplace approximation within Monte Carlo
error on a mildly nonlinear two-constant problem (slow)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import femopt as fo
from femopt.calibration import Calibration, Constants, Experiment, PointData, find_map, laplace
from femopt.calibration.jax_posterior import log_posterior


def two_cell_calibration():
    """k(T) = k (1 + beta T) in two cells, heat flux 4 into the right edge, five sensors
    (σ = 0.005): T rises to ~2.4, so beta is identified (β T ~ 0.65: mildly nonlinear)."""
    mesh = fo.mesh.rectangle(size=(1.0, 0.5), shape=(2, 1), cell="quad4")
    physics = fo.physics.HeatConduction(k=1.0, beta=0.2, conductivity=lambda T, k, beta: k * (1.0 + beta * T))
    problem = fo.Problem(mesh, physics)
    problem.fix("xmin", 0.0)
    problem.heat_flux("xmax", 4.0)
    points = [[1.0, 0.0], [1.0, 0.5], [0.5, 0.25], [0.25, 0.1], [0.75, 0.4]]
    data = PointData(problem, points, [2.35, 2.35, 1.3, 0.68, 1.85], sigma=0.005)
    return Calibration(problem, Experiment(data), Constants(["k", "beta"], np.log([1.0, 0.3]), std=1.0))


def test_the_jax_log_posterior_is_the_calibration_cost():
    calibration = two_cell_calibration()
    density = jax.jit(jax.value_and_grad(log_posterior(calibration)))
    for theta in (np.log([1.0, 0.3]), np.log([1.4, 0.2]), np.array([0.1, -2.0])):
        value, gradient = density(theta)
        cost, cost_gradient = calibration.cost_and_gradient(theta)
        assert float(value) == pytest.approx(-cost, rel=1e-12)
        np.testing.assert_allclose(np.asarray(gradient), -cost_gradient, rtol=1e-9)
    # a solve that fails (an inadmissible conductivity): NaN, a rejected proposal, not an exception
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(2, 2), cell="quad4")
    linear = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    linear.fix("xmin", 0.0)
    linear.heat_source(1.0)
    state = jax.jit(lambda k: fo.solve(linear, {"k": k}, on_failure="nan"))(-1.0)
    assert np.isnan(np.asarray(state)).all()
    assert np.isfinite(np.asarray(fo.solve(linear, {"k": 2.0}, on_failure="nan"))).all()
    with pytest.raises(Exception, match="k"):
        fo.solve(linear, {"k": -1.0})
    # a cotangent that overflows: a NaN gradient, not an exception from the adjoint solve
    value, gradient = jax.value_and_grad(
        lambda k: jnp.sum(fo.solve(linear, {"k": k}, on_failure="nan") ** 2) * 1e308 * 10)(1.0)
    assert np.isnan(float(gradient))


@pytest.mark.slow
def test_nuts_agrees_with_laplace():
    """Measured: 2 chains x (200 warmup + 300 draws), 18 066 gradient evaluations, 214 s;
    ESS 141 / 144, R-hat <= 1.015; means 0.2525 / -1.3027 against Laplace 0.2519 / -1.2986,
    std 0.01038 / 0.0465 against 0.01048 / 0.0466."""
    from femopt.calibration.sampling import sample_nuts
    calibration = two_cell_calibration()
    best = find_map(calibration, method="newton-cg", gtol=1e-9)
    posterior = laplace(calibration, best.m, hessian="full")
    result = sample_nuts(log_posterior(calibration), best.m, n_samples=300, n_warmup=200, n_chains=2, seed=0)
    assert result.rhat.max() < 1.05 and result.ess.min() > 80
    error = posterior.std / np.sqrt(result.ess)
    assert np.all(np.abs(result.mean - posterior.mean) < 4 * error)
    assert np.all(np.abs(result.std / posterior.std - 1) < 4 / np.sqrt(2 * result.ess))
