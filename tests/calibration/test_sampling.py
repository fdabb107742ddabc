"""NUTS through BlackJAX (femopt.calibration.sampling): known Gaussians sampled within
Monte Carlo error, a log density computed on the host through pure_callback with a
custom_vjp gradient (as femopt.solve does) and its host calls counted, the diagnostics
against AR(1) chains of known ESS and against BlackJAX's own, reproducibility, bad input,
the missing-package message; a real femopt posterior against grid quadrature (slow)."""
import importlib.util
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import femopt as fo
from femopt.calibration.sampling import NutsResult, bulk_ess, sample_nuts, split_rhat
from femopt.errors import InputError

needs_blackjax = pytest.mark.skipif(importlib.util.find_spec("blackjax") is None,
                                    reason='BlackJAX not installed (pip install "femopt[uq]")')

MU = np.array([1.0, -2.0])
SD = np.array([1.0, 0.5])
RHO = 0.8
COV = np.array([[SD[0] ** 2, RHO * SD[0] * SD[1]], [RHO * SD[0] * SD[1], SD[1] ** 2]])
PREC = np.linalg.inv(COV)


def gaussian_2d(x):
    r = x - jnp.asarray(MU)
    return -0.5 * r @ jnp.asarray(PREC) @ r


def check_moments(result, mean, sd, corr=None):
    """Sample mean within 4 MC standard errors (sd/sqrt(ESS)); sample std within
    4·sd/sqrt(2·min(ESS, draws)) (NUTS's bulk ESS can exceed the draws — antithetic for the
    mean, not for the variance); converged chains."""
    ess = result.ess
    assert np.all(result.rhat < 1.01), result.summary()
    assert np.all(ess > 0.25 * result.n_chains * result.n_samples), result.summary()
    assert np.all(np.abs(result.mean - mean) < 4 * sd / np.sqrt(ess)), (result.mean, mean, result.summary())
    n_eff = np.minimum(ess, result.n_chains * result.n_samples)
    assert np.all(np.abs(result.std - sd) < 4 * sd / np.sqrt(2 * n_eff)), (result.std, sd, result.summary())
    if corr is not None:
        r = np.corrcoef(result.draws.T)[0, 1]
        assert abs(r - corr) < 4 * (1 - corr**2) / np.sqrt(n_eff.min()), (r, corr)


@pytest.fixture(scope="module")
def gauss():
    return sample_nuts(gaussian_2d, np.zeros(2), n_samples=1000, n_warmup=500, n_chains=4, seed=0,
                       names=["a", "b"])


@needs_blackjax
def test_correlated_gaussian_mean_std_and_diagnostics(gauss):
    r = gauss
    assert isinstance(r, NutsResult)
    assert r.samples.shape == (4, 1000, 2) and r.log_density.shape == (4, 1000)
    check_moments(r, MU, SD, RHO)
    assert r.n_divergent == 0
    assert 0.6 < r.acceptance_rate < 1.0
    # NUTS integrates at least one leapfrog step per iteration: warmup + sampling + starts
    assert r.n_grad_evals >= 4 * 1500 + 4 + 1
    # dense mass matrix adapted to the covariance (within warmup's noise)
    assert r.inverse_mass_matrix.shape == (4, 2, 2) and r.step_size.shape == (4,)
    np.testing.assert_allclose(r.inverse_mass_matrix.mean(axis=0), COV, rtol=0.3, atol=0.1)
    np.testing.assert_allclose(r.log_density, jax.vmap(gaussian_2d)(r.draws).reshape(4, 1000), atol=1e-12)


@needs_blackjax
def test_quantiles_interval_and_table(gauss):
    r = gauss
    z = 1.959963984540054
    lo, hi = r.credible_interval(0.95)
    tol = 6 * SD / np.sqrt(r.ess)      # quantile MC error at 2.5 % is ~2.5x the mean's
    assert np.all(np.abs(lo - (MU - z * SD)) < tol) and np.all(np.abs(hi - (MU + z * SD)) < tol)
    assert r.quantiles([0.1, 0.5, 0.9]).shape == (3, 2)
    np.testing.assert_allclose(r.quantiles(0.5), np.median(r.draws, axis=0))
    np.testing.assert_allclose(r.mcse, r.std / np.sqrt(r.ess))
    table = r.summary()
    assert table.splitlines()[1].startswith("a ") and "divergent" in table and "rhat" in table
    assert "4 chains x 1000 samples" in repr(r) and "R-hat" in repr(r)
    with pytest.raises(InputError, match="1.5"):
        r.quantiles(1.5)
    with pytest.raises(InputError, match="level"):
        r.credible_interval(95)


@needs_blackjax
def test_same_seed_same_draws_and_chains_independent_of_their_number(gauss):
    again = sample_nuts(gaussian_2d, np.zeros(2), n_samples=1000, n_warmup=500, n_chains=4, seed=0)
    np.testing.assert_array_equal(again.samples, gauss.samples)
    assert again.n_grad_evals == gauss.n_grad_evals
    two = sample_nuts(gaussian_2d, np.zeros(2), n_samples=1000, n_warmup=500, n_chains=2, seed=0)
    np.testing.assert_array_equal(two.samples, gauss.samples[:2])   # chain i: fold_in(seed, i)
    other = sample_nuts(gaussian_2d, np.zeros(2), n_samples=1000, n_warmup=500, n_chains=2, seed=1)
    assert not np.any(other.samples[:, -1] == gauss.samples[:2, -1])


class HostGaussian:
    """A 3D Gaussian whose log density and gradient are computed in NumPy on the host via
    jax.pure_callback, glued by jax.custom_vjp — the structure of femopt.solve (forward
    on the host, backward on the host). Counts the host calls."""

    mean = np.array([0.5, -1.0, 2.0])
    sd = np.array([0.3, 2.0, 1.0])

    def __init__(self):
        corr = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 1.0]])
        self.prec = np.linalg.inv(corr * np.outer(self.sd, self.sd))
        self.forward_calls = self.backward_calls = 0

        def forward_host(x):
            self.forward_calls += 1
            r = np.asarray(x) - self.mean
            return np.asarray(-0.5 * r @ self.prec @ r, dtype=np.float64)

        def backward_host(x, g):
            self.backward_calls += 1
            return (-(self.prec @ (np.asarray(x) - self.mean)) * np.asarray(g)).astype(np.float64)

        @jax.custom_vjp
        def log_density(x):
            return jax.pure_callback(forward_host, jax.ShapeDtypeStruct((), jnp.float64), x,
                                     vmap_method="sequential")

        def fwd(x):
            return log_density(x), x

        def bwd(x, g):
            return (jax.pure_callback(backward_host, jax.ShapeDtypeStruct((3,), jnp.float64), x, g,
                                      vmap_method="sequential"),)

        log_density.defvjp(fwd, bwd)
        self.log_density = log_density


@needs_blackjax
def test_host_callback_density_is_sampled_and_host_calls_are_the_gradient_evaluations():
    host = HostGaussian()
    starts = np.array([[0.0, 0.0, 0.0], [1.0, -3.0, 3.0]])
    calls = []
    r = sample_nuts(host.log_density, starts, n_samples=500, n_warmup=200, n_chains=2, seed=3,
                    dense_mass=False, progress=lambda *a: calls.append(a))
    check_moments(r, host.mean, host.sd)
    assert r.inverse_mass_matrix.shape == (2, 3)
    # one forward and one backward host call per gradient evaluation (within 1 %)
    assert abs(host.forward_calls - r.n_grad_evals) <= 0.01 * r.n_grad_evals, (host.forward_calls, r.n_grad_evals)
    assert abs(host.backward_calls - r.n_grad_evals) <= 0.01 * r.n_grad_evals
    assert [(c, n, phase) for c, n, phase, _ in calls] == [
        (0, 2, "warmup"), (0, 2, "sampling"), (1, 2, "warmup"), (1, 2, "sampling")]


def ar1(phi, n_chains, n_draws, d, seed):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n_chains, n_draws, d)) * np.sqrt(1 - phi**2)
    x = np.empty_like(e)
    x[:, 0] = rng.standard_normal((n_chains, d))
    for t in range(1, n_draws):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_ess_of_ar1_chains_matches_theory(phi):
    x = ar1(phi, 4, 20000, 3, seed=int(10 * phi))
    theory = 4 * 20000 * (1 - phi) / (1 + phi)
    np.testing.assert_allclose(bulk_ess(x), theory, rtol=0.15)   # ~3 sd of the estimate at 0.9
    assert np.all(split_rhat(x) < 1.01)


def test_rhat_flags_chains_that_disagree():
    x = ar1(0.5, 4, 1000, 2, seed=1)
    x[0, :, 0] += 1.0                                  # one chain elsewhere in theta[0]
    x[1, :, 1] *= 2.0                                  # one chain wider in theta[1] (tail R-hat)
    r = split_rhat(x)
    assert r[0] > 1.05 and r[1] > 1.02
    trend = ar1(0.0, 4, 1000, 1, seed=2) + np.linspace(0, 2, 1000)[None, :, None]
    assert split_rhat(trend)[0] > 1.05                 # the split halves see a drift


@needs_blackjax
def test_diagnostics_agree_with_blackjax():
    from blackjax.diagnostics import effective_sample_size, rhat

    from femopt.calibration.sampling import _rank_normalize, _split

    x = ar1(0.7, 4, 800, 2, seed=5)
    with jax.numpy_rank_promotion("allow"):         # blackjax.diagnostics.rhat broadcasts ranks
        np.testing.assert_allclose(split_rhat(x), jax.jit(rhat)(x), rtol=1e-10)
        bj_ess = np.asarray(jax.jit(effective_sample_size)(_rank_normalize(_split(x))))
    np.testing.assert_allclose(bulk_ess(x), bj_ess, rtol=0.03)   # Stan's last-pair tweak aside


def test_missing_blackjax_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "blackjax", None)   # import blackjax -> ImportError
    with pytest.raises(ImportError, match=r'pip install "femopt\[uq\]"'):
        sample_nuts(gaussian_2d, np.zeros(2))


@needs_blackjax
@pytest.mark.parametrize("kwargs, match", [
    ({"initial": np.zeros((3, 2))}, r"\(3, 2\)"),
    ({"initial": np.array([0.0, np.nan])}, "nan"),
    ({"initial": "ab"}, "ab"),
    ({"n_samples": 2}, "n_samples.*2"),
    ({"n_warmup": 1.5}, "n_warmup.*1.5"),
    ({"n_chains": 0}, "n_chains.*0"),
    ({"seed": 0.5}, "seed.*0.5"),
    ({"target_acceptance": 1.0}, "target_acceptance.*1.0"),
    ({"max_tree_depth": True}, "max_tree_depth.*True"),
    ({"progress": "yes"}, "progress.*yes"),
    ({"names": ["a"]}, "names.*'a'"),
    ({"log_density": 3.0}, "log_density.*3.0"),
    ({"log_density": lambda x: x}, r"float scalar.*\(2,\)"),
    ({"log_density": lambda x: jnp.where(x[0] > 0, 0.0, -jnp.inf)}, r"initial\[0\].*-inf"),
])
def test_bad_input_names_the_value(kwargs, match):
    args = {"log_density": gaussian_2d, "initial": np.zeros(2), "n_chains": 2, **kwargs}
    with pytest.raises(InputError, match=match):
        sample_nuts(args.pop("log_density"), args.pop("initial"), **args)


@needs_blackjax
@pytest.mark.slow
def test_real_femopt_posterior_matches_grid_quadrature():
    """log E of a 2-cell cantilever from 8 noisy displacements: u(E) = u(1)/E exactly for
    linear elasticity, so a dense grid in log E gives the posterior mean and std without
    the sampler or the adjoint."""
    mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(2, 1), cell="quad4")
    pb = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    pb.fix("xmin").traction("xmax", [0.0, -1.0])
    u1 = np.asarray(fo.solve(pb, {"E": jnp.asarray(1.0)}))
    obs = np.flatnonzero(np.abs(u1) > 1e-12)
    theta_true, prior_mean, prior_sd = 0.4, 0.0, 1.0
    noise = 0.25 * np.abs(u1[obs]).mean()
    data = u1[obs] * np.exp(-theta_true) + noise * np.random.default_rng(0).standard_normal(obs.size)

    def log_posterior(theta):
        u = fo.solve(pb, {"E": jnp.exp(theta[0])})[obs]
        return (-0.5 * jnp.sum((u - data) ** 2) / noise**2
                - 0.5 * (theta[0] - prior_mean) ** 2 / prior_sd**2)

    grid = np.linspace(-2.0, 3.0, 20001)
    misfit = ((u1[obs][None, :] * np.exp(-grid)[:, None] - data) ** 2).sum(axis=1)
    logp = -0.5 * misfit / noise**2 - 0.5 * (grid - prior_mean) ** 2 / prior_sd**2
    w = np.exp(logp - logp.max())
    w /= w.sum()
    mean = np.sum(w * grid)
    sd = np.sqrt(np.sum(w * (grid - mean) ** 2))

    r = sample_nuts(log_posterior, np.array([[0.0], [1.0]]), n_samples=300, n_warmup=150, n_chains=2,
                    seed=0)
    check_moments(r, np.array([mean]), np.array([sd]))
    print(r.summary(), f"\nquadrature: mean {mean:.4f}, sd {sd:.4f}")
