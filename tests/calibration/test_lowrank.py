"""Low-rank Laplace posteriors against dense linear algebra: the randomized eigensolver
against numpy.linalg.eigh, the low-rank posterior against (H + C⁻¹)⁻¹, the sampler
against its covariance (Monte Carlo bounds) and its square root identity, bad input."""
import warnings

import numpy as np
import pytest
import scipy.linalg

from femopt.calibration.lowrank import EigenResult, LowRankPosterior, blockwise, randomized_eigh
from femopt.errors import FemoptWarning, InputError


def decaying_matrix(n=200, rate=0.6):
    """A dense SPD matrix with eigenvalues 10·rate^i and random eigenvectors."""
    vectors = np.linalg.qr(np.random.default_rng(1).standard_normal((n, n)))[0]
    values = 10.0 * rate ** np.arange(n)
    return (vectors * values) @ vectors.T, values, vectors


class Counted:
    """A block operator that counts the columns it is applied to, independently of the
    solver's own count."""

    def __init__(self, matrix):
        self.matrix = matrix
        self.columns = 0
        self.calls = 0

    def __call__(self, block):
        self.columns += block.shape[1]
        self.calls += 1
        return self.matrix @ block


def linear_gaussian_problem(n, n_data, seed=2):
    """A 1D bi-Laplacian prior C = (δ − γΔ)⁻² with a non-symmetric square root
    (Cholesky factor), and a Gauss–Newton misfit Hessian Gᵀ Γ⁻¹ G of rank n_data."""
    h = 1.0 / (n + 1)
    laplacian = (np.diag(-2.0 * np.ones(n)) + np.diag(np.ones(n - 1), 1)
                 + np.diag(np.ones(n - 1), -1)) / h**2
    operator = np.eye(n) - 1e-2 * laplacian
    operator_inverse = np.linalg.inv(operator)
    prior = operator_inverse @ operator_inverse
    sqrt = np.linalg.cholesky(prior)
    forward = np.random.default_rng(seed).standard_normal((n_data, n))
    misfit_hessian = forward.T @ forward / 0.1**2
    return prior, sqrt, misfit_hessian


def whitened_hessian(sqrt, misfit_hessian):
    return sqrt.T @ misfit_hessian @ sqrt


@pytest.mark.parametrize("method, power_iterations, oversampling, angle_tolerance", [
    ("double", 1, 10, 1e-4),
    ("double", 2, 10, 1e-6),
    ("single", None, 40, 1e-6),
])
def test_eigenpairs_match_dense_eigh(method, power_iterations, oversampling, angle_tolerance):
    matrix, values, vectors = decaying_matrix()
    operator = Counted(matrix)
    rank = 20
    eigen = randomized_eigh(operator, 200, rank, oversampling=oversampling,
                            power_iterations=power_iterations, method=method, seed=3)
    assert eigen.values.shape == (rank,) and eigen.vectors.shape == (200, rank)
    np.testing.assert_allclose(eigen.values, values[:rank], rtol=1e-8)
    np.testing.assert_allclose(eigen.vectors.T @ eigen.vectors, np.eye(rank), atol=1e-13)
    assert scipy.linalg.subspace_angles(eigen.vectors, vectors[:, :rank]).max() < angle_tolerance
    passes = 1 if method == "single" else 2 + power_iterations
    assert eigen.n_products == operator.columns == passes * (rank + oversampling)
    assert operator.calls == passes


def test_default_power_iterations_and_seed_reproducible():
    matrix, _, _ = decaying_matrix(n=60)
    double = Counted(matrix)
    single = Counted(matrix)
    first = randomized_eigh(double, 60, 5, seed=7)
    assert double.columns == 3 * 15 == first.n_products
    randomized_eigh(single, 60, 5, method="single", seed=7)
    assert single.columns == 15
    again = randomized_eigh(lambda block: matrix @ block, 60, 5, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(first.values, again.values)


def test_blockwise_single_vector_products():
    matrix, values, _ = decaying_matrix(n=80)
    calls = []

    def apply_one(vector):
        assert vector.shape == (80,)
        calls.append(1)
        return matrix @ vector

    eigen = randomized_eigh(blockwise(apply_one), 80, 8, seed=0)
    reference = randomized_eigh(lambda block: matrix @ block, 80, 8, seed=0)
    np.testing.assert_allclose(eigen.values, reference.values, rtol=1e-13)
    np.testing.assert_allclose(eigen.values, values[:8], rtol=1e-8)
    assert len(calls) == eigen.n_products == 3 * 18


def test_rank_plus_oversampling_beyond_n_is_clipped():
    matrix, values, _ = decaying_matrix(n=12)
    operator = Counted(matrix)
    eigen = randomized_eigh(operator, 12, 12, seed=0)
    np.testing.assert_allclose(eigen.values, values, rtol=1e-10, atol=1e-14)
    assert operator.columns == eigen.n_products == 3 * 12


def test_posterior_converges_to_exact_with_rank():
    n, n_data = 100, 30
    prior, sqrt, misfit_hessian = linear_gaussian_problem(n, n_data)
    exact = np.linalg.inv(misfit_hessian + np.linalg.inv(prior))
    preconditioned = whitened_hessian(sqrt, misfit_hessian)
    exact_values = np.linalg.eigvalsh(preconditioned)[::-1]
    identity = np.eye(n)
    covariance_errors, variance_errors = [], []
    for rank in (2, 5, 10, 20, n_data):
        eigen = randomized_eigh(lambda block: preconditioned @ block, n, rank, seed=rank)
        posterior = LowRankPosterior(lambda block: sqrt @ block, eigen,
                                     prior_sqrt_T=lambda block: sqrt.T @ block)
        covariance = posterior.covariance_apply(identity)
        covariance_errors.append(np.linalg.norm(covariance - exact) / np.linalg.norm(exact))
        variance = posterior.pointwise_variance(np.diag(prior))
        variance_errors.append(np.abs(variance - np.diag(exact)).max() / np.diag(exact).max())
        # In whitened space the error is exactly the dropped tail of λ/(1+λ).
        whitened_error = np.linalg.norm(posterior.whitened_covariance_apply(identity)
                                        - np.linalg.inv(identity + preconditioned))
        tail = exact_values[rank:] / (1.0 + exact_values[rank:])
        np.testing.assert_allclose(whitened_error, np.linalg.norm(tail), rtol=1e-3, atol=1e-12)
    assert np.all(np.diff(covariance_errors) < 0), covariance_errors
    assert np.all(np.diff(variance_errors) < 0), variance_errors
    assert covariance_errors[0] > 1e-2
    assert covariance_errors[-1] < 1e-11 and variance_errors[-1] < 1e-11
    # Full rank: the evidence terms against dense determinants and traces.
    _, log_det_prior = np.linalg.slogdet(prior)
    _, log_det_posterior = np.linalg.slogdet(exact)
    np.testing.assert_allclose(posterior.log_det_term, 0.5 * (log_det_prior - log_det_posterior),
                               rtol=1e-10)
    np.testing.assert_allclose(posterior.log_det_term,
                               0.5 * np.linalg.slogdet(identity + preconditioned)[1], rtol=1e-10)
    np.testing.assert_allclose(
        posterior.trace_term,
        np.trace(preconditioned @ np.linalg.inv(identity + preconditioned)), rtol=1e-10)


def test_covariance_apply_vector_and_block_agree():
    prior, sqrt, misfit_hessian = linear_gaussian_problem(40, 10)
    preconditioned = whitened_hessian(sqrt, misfit_hessian)
    eigen = randomized_eigh(lambda block: preconditioned @ block, 40, 10, seed=0)
    posterior = LowRankPosterior(lambda block: sqrt @ block, eigen,
                                 prior_sqrt_T=lambda block: sqrt.T @ block)
    block = np.random.default_rng(0).standard_normal((40, 3))
    np.testing.assert_allclose(posterior.covariance_apply(block[:, 1]),
                               posterior.covariance_apply(block)[:, 1], rtol=1e-13, atol=1e-15)
    exact = np.linalg.inv(misfit_hessian + np.linalg.inv(prior))
    np.testing.assert_allclose(posterior.covariance_apply(block), exact @ block,
                               rtol=1e-8, atol=1e-10 * np.abs(exact @ block).max())


def test_sample_covariance_matches_within_monte_carlo_error():
    n, n_samples = 20, 20_000
    prior, sqrt, misfit_hessian = linear_gaussian_problem(n, 6)
    preconditioned = whitened_hessian(sqrt, misfit_hessian)
    eigen = randomized_eigh(lambda block: preconditioned @ block, n, 6, seed=0)
    posterior = LowRankPosterior(lambda block: sqrt @ block, eigen,
                                 prior_sqrt_T=lambda block: sqrt.T @ block)
    covariance = posterior.covariance_apply(np.eye(n))
    np.testing.assert_allclose(covariance, np.linalg.inv(misfit_hessian + np.linalg.inv(prior)),
                               atol=1e-10 * np.abs(covariance).max())
    mean = np.linspace(-1.0, 1.0, n)
    samples = posterior.sample(mean, n_samples, seed=11)
    assert samples.shape == (n_samples, n)
    # Gaussian samples: var(sample mean_i) = Σ_ii/N, var(sample cov_ij) ≈ (Σ_ij² + Σ_ii Σ_jj)/N;
    # five standard deviations over ~230 distinct entries fail by chance with p ≈ 1e-4.
    standard_error_mean = np.sqrt(np.diag(covariance) / n_samples)
    assert np.all(np.abs(samples.mean(axis=0) - mean) < 5 * standard_error_mean)
    sample_covariance = np.cov(samples, rowvar=False)
    variances = np.diag(covariance)
    standard_error = np.sqrt((covariance**2 + np.outer(variances, variances)) / n_samples)
    assert np.all(np.abs(sample_covariance - covariance) < 5 * standard_error)
    # The sampled posterior is narrower than the prior where the data inform it.
    assert np.all(samples.var(axis=0) < np.diag(prior))


def test_square_root_reproduces_whitened_covariance():
    n = 50
    prior, sqrt, misfit_hessian = linear_gaussian_problem(n, 15)
    preconditioned = whitened_hessian(sqrt, misfit_hessian)
    identity = np.eye(n)
    for rank in (5, 15):  # the identity holds for any rank, not only the full one
        eigen = randomized_eigh(lambda block: preconditioned @ block, n, rank, seed=1)
        posterior = LowRankPosterior(lambda block: sqrt @ block, eigen)
        root = posterior.whitened_sqrt_apply(identity)
        whitened = posterior.whitened_covariance_apply(identity)
        np.testing.assert_allclose(root, root.T, atol=1e-15)
        np.testing.assert_allclose(root @ root.T, whitened, atol=1e-14)
        weights = eigen.values / (1.0 + eigen.values)
        np.testing.assert_allclose(whitened, identity - (eigen.vectors * weights) @ eigen.vectors.T,
                                   atol=1e-15)
    np.testing.assert_allclose(whitened, np.linalg.inv(identity + preconditioned), atol=1e-12)
    np.testing.assert_allclose(posterior.whitened_sqrt_apply(identity[:, 3]), root[:, 3], atol=1e-15)


def test_truncate_keeps_eigenvalues_above_threshold():
    vectors = np.linalg.qr(np.random.default_rng(0).standard_normal((10, 4)))[0]
    eigen = EigenResult(np.array([5.0, 1.0, 0.2, 0.05]), vectors, n_products=30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = eigen.truncate(0.1)
    assert kept.rank == 3 and kept.n_products == 30
    np.testing.assert_array_equal(kept.vectors, vectors[:, :3])
    with pytest.warns(FemoptWarning, match=r"all 4 computed eigenvalues exceed the threshold 0.01 "
                                           r"\(smallest 0.05\): the rank was too small"):
        assert eigen.truncate(0.01).rank == 4


def test_rank_zero_posterior_is_the_prior():
    prior, sqrt, _ = linear_gaussian_problem(20, 5)
    eigen = EigenResult(np.zeros(0), np.zeros((20, 0)), n_products=0)
    posterior = LowRankPosterior(lambda block: sqrt @ block, eigen,
                                 prior_sqrt_T=lambda block: sqrt.T @ block)
    np.testing.assert_allclose(posterior.covariance_apply(np.eye(20)), prior, atol=1e-15)
    np.testing.assert_allclose(posterior.pointwise_variance(np.diag(prior)), np.diag(prior))
    assert posterior.log_det_term == 0.0 and posterior.trace_term == 0.0


def identity_operator(block):
    return block


def valid_eigen(n=10):
    return EigenResult(np.array([2.0, 0.5]), np.eye(n)[:, :2], n_products=4)


@pytest.mark.parametrize("call, message", [
    (lambda: randomized_eigh(identity_operator, 10, 11), r"rank 11 exceeds the operator size n = 10"),
    (lambda: randomized_eigh(identity_operator, 10, 0), r"rank must be an integer >= 1; received int 0"),
    (lambda: randomized_eigh(identity_operator, 10, 2.5), r"rank must be .* received float 2.5"),
    (lambda: randomized_eigh(np.eye(10), 10, 2), r"apply must be a callable .* received ndarray"),
    (lambda: randomized_eigh(identity_operator, 0, 1), r"n must be an integer >= 1; received int 0"),
    (lambda: randomized_eigh(identity_operator, 10, 2, oversampling=-1),
     r"oversampling must be an integer >= 0; received int -1"),
    (lambda: randomized_eigh(identity_operator, 10, 2, method="triple"),
     r"method must be one of \('double', 'single'\); received str 'triple'"),
    (lambda: randomized_eigh(identity_operator, 10, 2, method="single", power_iterations=2),
     r"power_iterations = 2 with method 'single'"),
    (lambda: randomized_eigh(identity_operator, 10, 2, seed="abc"), r"seed must be .* received str 'abc'"),
    (lambda: randomized_eigh(lambda block: block[:5], 10, 2),
     r"returned shape \(5, 10\) for a block of shape \(10, 10\)"),
    (lambda: randomized_eigh(lambda block: np.nan * block, 10, 2), r"returned non-finite values"),
    (lambda: blockwise("A"), r"apply_one must be a callable .* received str 'A'"),
    (lambda: LowRankPosterior(np.eye(10), valid_eigen()), r"prior_sqrt must be a callable .* ndarray"),
    (lambda: LowRankPosterior(identity_operator, (np.ones(2), np.eye(10)[:, :2])),
     r"eigen must be an EigenResult .* received tuple"),
    (lambda: LowRankPosterior(identity_operator, EigenResult(np.array([3.0, -1.5]), np.eye(10)[:, :2], 4)),
     r"eigenvalues \[-1.5\] \(positions \[1\]\) are not finite or <= -1"),
    (lambda: LowRankPosterior(identity_operator, valid_eigen()).covariance_apply(np.ones(10)),
     r"covariance_apply needs prior_sqrt_T"),
    (lambda: LowRankPosterior(identity_operator, valid_eigen()).sample(np.zeros(9), 5),
     r"mean must have shape \(10,\); received shape \(9,\)"),
    (lambda: LowRankPosterior(identity_operator, valid_eigen()).sample(np.zeros(10), 0),
     r"n_samples must be an integer >= 1; received int 0"),
    (lambda: LowRankPosterior(identity_operator, valid_eigen()).pointwise_variance(np.ones((10, 1))),
     r"prior_variance must have shape \(10,\); received shape \(10, 1\)"),
    (lambda: LowRankPosterior(identity_operator, valid_eigen()).whitened_sqrt_apply(np.ones(3)),
     r"vectors must have shape \(10,\) or \(10, k\); received shape \(3,\)"),
    (lambda: valid_eigen().truncate("0.1"), r"threshold must be a finite real number; received str"),
    (lambda: LowRankPosterior(identity_operator, valid_eigen()).pointwise_variance(np.full(10, np.inf)),
     r"prior_variance has non-finite entries at positions \[0, 1, 2, 3, 4\]"),
])
def test_refused_input(call, message):
    with pytest.raises(InputError, match=message):
        call()
