"""BiLaplacianPrior against independent answers: scikit-fem's matrices and dense linear
algebra (operators, exact variance), Monte Carlo error bars (samples, the variance
estimator), the Matérn field on R^d (closed-form correlations, the variance as a
spectral integral by quadrature, the FE values in the interior of large domains) and
the half-line Green's function (the 1D Robin coefficient)."""
import math

import numpy as np
import pytest
from scipy import integrate, special

import femopt as fo
from femopt.calibration import field_prior
from femopt.calibration.field_prior import (BiLaplacianPrior, bilaplacian_coefficients, matern_correlation,
                                            matern_parameters)
from femopt.errors import InputError


def line_mesh(length, n_cells, origin=0.0):
    points = np.linspace(origin, origin + length, n_cells + 1)[:, None]
    return fo.Mesh(points, np.c_[np.arange(n_cells), np.arange(1, n_cells + 1)], "line2")


def nearest(mesh, point):
    return int(np.argmin(np.linalg.norm(mesh.points - np.asarray(point, float), axis=1)))


def covariances(prior, nodes):
    """The columns of C at ``nodes``, ``(n, len(nodes))``."""
    unit = np.zeros((prior.n, len(nodes)))
    unit[nodes, np.arange(len(nodes))] = 1.0
    return prior.covariance_apply(unit)


@pytest.fixture(scope="module")
def small():
    """A 56-node tri3 prior with a Robin boundary and a non-constant mean, and its dense
    covariance built from scikit-fem's matrices: (A_ref, C_ref)."""
    skfem = pytest.importorskip("skfem")
    from skfem.models.poisson import laplace, mass

    mesh = fo.mesh.rectangle((1.0, 0.8), (7, 6), cell="tri3")
    mean = np.sin(3 * mesh.points[:, 0]) + mesh.points[:, 1]
    prior = BiLaplacianPrior.from_correlation(mesh, 0.4, 1.5, mean=mean, robin="optimal")
    reference = skfem.MeshTri(mesh.points.T.copy(), mesh.cells.T.copy())
    element = skfem.ElementTriP1()
    K = laplace.assemble(skfem.Basis(reference, element))
    M = mass.assemble(skfem.Basis(reference, element))
    B = mass.assemble(skfem.FacetBasis(reference, element))
    A_ref = (prior.gamma * K + prior.delta * M + prior.robin * B).toarray()
    A_inv = np.linalg.inv(A_ref)
    C_ref = A_inv @ np.diag(np.asarray(M.sum(axis=1)).ravel()) @ A_inv
    return prior, A_ref, C_ref


# -- 1. the operators are consistent -------------------------------------------------------
def test_operator_matches_scikit_fem(small):
    prior, A_ref, _ = small
    assert prior.robin > 0
    np.testing.assert_allclose(prior.operator.toarray(), A_ref, rtol=0, atol=1e-12 * np.abs(A_ref).max())


def test_precision_inverts_covariance(small):
    prior, _, C_ref = small
    rng = np.random.default_rng(0)
    V = rng.standard_normal((prior.n, 3))
    np.testing.assert_allclose(prior.precision_apply(prior.covariance_apply(V)), V, atol=1e-10)
    np.testing.assert_allclose(prior.covariance_apply(prior.precision_apply(V[:, 0])), V[:, 0], atol=1e-10)
    np.testing.assert_allclose(prior.covariance_apply(V), C_ref @ V, atol=1e-12 * np.abs(C_ref @ V).max())


def test_square_root_factors_covariance(small):
    prior, _, C_ref = small
    rng = np.random.default_rng(1)
    V, X = rng.standard_normal((prior.n, 4)), rng.standard_normal((prior.n, 4))
    np.testing.assert_allclose(prior.sqrt_apply(prior.sqrt_transpose_apply(V)), C_ref @ V,
                               atol=1e-12 * np.abs(C_ref @ V).max())
    # Lᵀ is the transpose of L: <L x, v> = <x, Lᵀ v>
    np.testing.assert_allclose(np.sum(prior.sqrt_apply(X) * V, axis=0),
                               np.sum(X * prior.sqrt_transpose_apply(V), axis=0), rtol=1e-10)
    assert prior.sqrt_apply(X[:, 0]).shape == (prior.n,)


def test_cost_and_gradient(small):
    prior, _, C_ref = small
    rng = np.random.default_rng(2)
    m, direction = prior.mean + rng.standard_normal(prior.n), rng.standard_normal(prior.n)
    assert prior.cost(prior.mean) == 0.0
    residual = m - prior.mean
    assert prior.cost(m) == pytest.approx(0.5 * residual @ np.linalg.solve(C_ref, residual), rel=1e-9)
    assert fo.taylor_test(prior.cost, m, direction, prior.gradient(m)).passed
    # the cost is quadratic: its second-order remainder is exactly ½ h² dᵀ C^-1 d
    h = 0.3
    remainder = prior.cost(m + h * direction) - prior.cost(m) - h * prior.gradient(m) @ direction
    assert remainder == pytest.approx(0.5 * h * h * direction @ prior.precision_apply(direction), rel=1e-8)


# -- 2. samples --------------------------------------------------------------------------------
def test_sample_covariance_matches_dense(small):
    """Entry (i, j) of the sample covariance of N draws has standard error
    √((C_ij² + C_ii C_jj) / N) (Gaussian fourth moments); every entry lies within 5 of
    them (a union bound over the 1596 entries gives a false alarm below 1e-3, and the
    seed is fixed)."""
    prior, _, C_ref = small
    n_samples = 10_000
    samples = prior.sample(n_samples, seed=7)
    assert samples.shape == (n_samples, prior.n)
    mean_error = (samples.mean(axis=0) - prior.mean) / np.sqrt(np.diag(C_ref) / n_samples)
    assert np.abs(mean_error).max() < 5
    sample_covariance = np.cov(samples, rowvar=False)
    variance = np.diag(C_ref)
    standard_error = np.sqrt((C_ref ** 2 + np.outer(variance, variance)) / n_samples)
    assert np.abs((sample_covariance - C_ref) / standard_error).max() < 5


def test_samples_depend_on_seed_and_index(small):
    prior, _, _ = small
    many = prior.sample(300, seed=3)
    np.testing.assert_array_equal(prior.sample(3, seed=3), many[:3])
    np.testing.assert_array_equal(prior.sample(300, seed=np.random.default_rng(3)), many)
    assert not np.allclose(prior.sample(3, seed=4), many[:3])


# -- 3. pointwise variance ---------------------------------------------------------------------
def test_exact_pointwise_variance_is_the_diagonal(small):
    prior, _, C_ref = small
    np.testing.assert_allclose(prior.pointwise_variance(exact=True), np.diag(C_ref), rtol=1e-10)
    np.testing.assert_array_equal(prior.pointwise_variance(), prior.pointwise_variance(exact=True))


def test_variance_estimate_unbiased_with_stated_error(small):
    """z = (estimate / exact − 1) / √(2 / probes), pooled over 30 seeds and all nodes, has
    mean ≈ 0 (unbiased) and standard deviation ≈ 1 (the stated error is the error)."""
    prior, _, C_ref = small
    probes, exact = 128, np.diag(C_ref)
    z = np.array([(prior.pointwise_variance(exact=False, probes=probes, seed=seed) / exact - 1)
                  / math.sqrt(2 / probes) for seed in range(30)])
    # seeds are independent: the seed-average of each node's z has standard error 1/√30
    assert np.abs(z.mean(axis=0)).max() < 5 / math.sqrt(30)
    assert 0.85 < z.std() < 1.15


def test_variance_estimate_chosen_by_size(small, monkeypatch):
    prior, _, _ = small
    monkeypatch.setattr(field_prior, "EXACT_VARIANCE_MAX_NODES", prior.n - 1)
    np.testing.assert_array_equal(prior.pointwise_variance(seed=5), prior.pointwise_variance(exact=False, seed=5))


# -- 4. the Matérn field in the interior of large domains ----------------------------------------
def interior_statistics(mesh, rho, sigma, center, robin=None):
    """Marginal std at ``center`` / σ and the correlation at distance ρ along x."""
    prior = BiLaplacianPrior.from_correlation(mesh, rho, sigma, robin=robin)
    offset = np.zeros(mesh.dim)
    offset[0] = rho
    c, p = nearest(mesh, center), nearest(mesh, np.asarray(center) + offset)
    assert np.linalg.norm(mesh.points[p] - mesh.points[c]) == pytest.approx(rho)
    columns = covariances(prior, [c, p])
    return (math.sqrt(columns[c, 0]) / sigma, columns[p, 0] / math.sqrt(columns[c, 0] * columns[p, 1]),
            columns[p, 0] / sigma ** 2)


@pytest.mark.parametrize("cell", ["quad4", "tri3"])
def test_interior_matches_matern_2d(cell):
    """ν = 1: the correlation at distance ρ is √8 K_1(√8) = 0.1397; the boundary 2ρ away
    adds ~ corr(4ρ) ≈ 1e-4 (Neumann image)."""
    rho, sigma = 1.0, 2.0
    mesh = fo.mesh.rectangle((4.0, 4.0), (80, 80), cell=cell, origin=(-2.0, -2.0))  # h = ρ/20
    std_ratio, correlation, _ = interior_statistics(mesh, rho, sigma, (0.0, 0.0))
    exact = math.sqrt(8) * special.k1(math.sqrt(8))
    assert abs(std_ratio - 1) < 0.025                  # measured 1.7 % (quad4), 0.8 % (tri3)
    assert correlation == pytest.approx(exact, rel=0.05)   # measured -3.6 %, -1.7 %


def test_interior_variance_converges_at_second_order_2d():
    errors = [interior_statistics(fo.mesh.rectangle((4.0, 4.0), (n, n), origin=(-2.0, -2.0)), 1.0, 1.0,
                                  (0.0, 0.0))[0] - 1 for n in (40, 80)]
    assert errors[0] > errors[1] > 0
    assert 2.5 < errors[0] / errors[1] < 4.5           # h² (measured 3.2)


def test_interior_matches_matern_1d():
    """ν = 3/2: correlation (1 + x) e^-x at x = √12."""
    std_ratio, correlation, _ = interior_statistics(line_mesh(12.0, 240, origin=-6.0), 1.0, 0.5, (0.0,))
    x = math.sqrt(12)
    assert abs(std_ratio - 1) < 0.01                   # measured 0.3 %
    assert correlation == pytest.approx((1 + x) * math.exp(-x), rel=0.02)


def test_covariance_matches_matern_3d_and_variance_converges_at_first_order():
    """ν = 1/2: covariance σ² e^{-2} at distance ρ, within 4 % already on h = ρ/4; the
    nodal variance of this rough field converges to σ² at O(h) only (module docstring)."""
    results = [interior_statistics(fo.mesh.box((3.0,) * 3, (n,) * 3, origin=(-1.5,) * 3), 1.0, 1.0,
                                   (0.0, 0.0, 0.0), robin="optimal") for n in (12, 24)]
    for _, _, covariance in results:
        assert covariance == pytest.approx(math.exp(-2), rel=0.04)   # measured 1.2 %, 2.7 %
    excess = [std_ratio ** 2 - 1 for std_ratio, _, _ in results]
    assert 1.6 < excess[0] / excess[1] < 2.4           # measured 1.87


def test_robin_flattens_boundary_variance_2d():
    mesh = fo.mesh.rectangle((4.0, 4.0), (40, 40))
    nodes = [nearest(mesh, p) for p in ((2.0, 2.0), (0.0, 2.0), (0.0, 0.0))]
    ratios = {}
    for robin in (None, "optimal"):
        variance = np.diag(covariances(BiLaplacianPrior.from_correlation(mesh, 1.0, 1.0, robin=robin), nodes)[nodes])
        ratios[robin] = variance[1:] / variance[0]
    # Neumann: the image fields double the variance on a side, quadruple it at a corner
    np.testing.assert_allclose(ratios[None], [2.0, 4.0], rtol=0.05)
    assert np.all(np.abs(ratios["optimal"] - 1) < 0.15)   # measured 0.92, 1.00


def test_robin_coefficient_1d_is_exact_at_the_end():
    """Half line: end variance σ² (1 + R)² / 2 with R = (γκ − β)/(γκ + β): 2σ² for
    Neumann (R = 1), σ² for β = γκ / (1 + √2)."""
    mesh = line_mesh(4.0, 80)
    for robin, expected in ((None, 2.0), ("optimal", 1.0)):
        prior = BiLaplacianPrior.from_correlation(mesh, 1.0, 1.0, robin=robin)
        variance = prior.pointwise_variance()
        assert variance[0] / variance[40] == pytest.approx(expected, rel=0.01)


# -- 5. the Matérn parametrization ---------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_variance_formula_is_the_spectral_integral(dim):
    """σ² = ∫ dk / (2π)^d γ^-2 (κ² + |k|²)^-2, radially: |S^{d-1}| k^{d-1} dk."""
    gamma, delta = 0.7, 2.3
    kappa2 = delta / gamma
    sphere = {1: 2.0, 2: 2 * math.pi, 3: 4 * math.pi}[dim]
    integral, _ = integrate.quad(lambda k: sphere * k ** (dim - 1) / (kappa2 + k * k) ** 2, 0, np.inf,
                                 epsabs=0, epsrel=1e-12)
    variance = integral / ((2 * math.pi) ** dim * gamma ** 2)
    rho, sigma = matern_parameters(gamma, delta, dim)
    assert sigma ** 2 == pytest.approx(variance, rel=1e-9)
    nu = 2 - dim / 2
    assert rho == pytest.approx(math.sqrt(8 * nu / kappa2), rel=1e-14)


def test_correlation_closed_forms():
    r = np.array([0.0, 0.3, 1.0, 2.5])
    x1, x2, x3 = math.sqrt(12) * r / 1.0, math.sqrt(8) * r / 1.0, 2 * r / 1.0
    np.testing.assert_allclose(matern_correlation(r, 1.0, 1), (1 + x1) * np.exp(-x1), rtol=1e-12)
    np.testing.assert_allclose(matern_correlation(r, 1.0, 2), np.r_[1.0, x2[1:] * special.k1(x2[1:])], rtol=1e-12)
    np.testing.assert_allclose(matern_correlation(r, 1.0, 3), np.exp(-x3), rtol=1e-12)
    assert 0.13 < float(matern_correlation(1.0, 1.0, 2)) < 0.14


@pytest.mark.parametrize("mesh", [line_mesh(1.0, 4), fo.mesh.rectangle((1, 1), (2, 2)),
                                  fo.mesh.box((1, 1, 1), (1, 1, 1))], ids=["1d", "2d", "3d"])
def test_from_correlation_round_trips(mesh):
    prior = BiLaplacianPrior.from_correlation(mesh, 0.37, 2.5)
    assert prior.correlation_length == pytest.approx(0.37, rel=1e-13)
    assert prior.std == pytest.approx(2.5, rel=1e-13)
    assert bilaplacian_coefficients(*matern_parameters(prior.gamma, prior.delta, mesh.dim), mesh.dim) == \
        pytest.approx((prior.gamma, prior.delta), rel=1e-13)
    np.testing.assert_array_equal(prior.mean, np.zeros(mesh.n_nodes))
    assert "correlation length 0.37" in repr(prior)


# -- 6. refused input ------------------------------------------------------------------------------
MESH = fo.mesh.rectangle((1, 1), (2, 2))


@pytest.mark.parametrize("make, match", [
    (lambda: BiLaplacianPrior(MESH, -1.0, 1.0), "gamma.*-1.0"),
    (lambda: BiLaplacianPrior(MESH, 1.0, 0.0), "delta.*0.0"),
    (lambda: BiLaplacianPrior(MESH, float("nan"), 1.0), "gamma.*nan"),
    (lambda: BiLaplacianPrior(MESH, "big", 1.0), "gamma.*'big'"),
    (lambda: BiLaplacianPrior.from_correlation(MESH, -0.5, 1.0), "correlation_length.*-0.5"),
    (lambda: BiLaplacianPrior.from_correlation(MESH, 0.5, 0.0), "std.*0.0"),
    (lambda: BiLaplacianPrior(MESH, 1.0, 1.0, mean=np.zeros(4)), r"mean.*\(9,\).*\(4,\)"),
    (lambda: BiLaplacianPrior(MESH, 1.0, 1.0, mean=np.zeros((9, 1))), r"mean.*\(9, 1\)"),
    (lambda: BiLaplacianPrior(MESH, 1.0, 1.0, mean=np.full(9, np.inf)), "mean.*not finite"),
    (lambda: BiLaplacianPrior(MESH, 1.0, 1.0, robin=-2.0), "robin.*-2.0"),
    (lambda: BiLaplacianPrior(MESH, 1.0, 1.0, robin="best"), "robin.*'best'"),
    (lambda: BiLaplacianPrior(MESH.points, 1.0, 1.0), "Mesh.*ndarray"),
    (lambda: BiLaplacianPrior(fo.mesh.rectangle((1, 1), (2, 2), cell="tri6"), 1.0, 1.0), "lumped.*tri6"),
    (lambda: BiLaplacianPrior(MESH, 1.0, 1.0).cost(np.zeros(8)), r"m .*\(9,\).*\(8,\)"),
    (lambda: BiLaplacianPrior(MESH, 1.0, 1.0).sqrt_apply(np.zeros((8, 2))), r"xi.*\(8, 2\)"),
    (lambda: BiLaplacianPrior(MESH, 1.0, 1.0).sample(0), "n_samples.*0"),
    (lambda: BiLaplacianPrior(MESH, 1.0, 1.0).pointwise_variance(exact=False, probes=2.5), "probes.*2.5"),
])
def test_refused_input_is_named(make, match):
    with pytest.raises(InputError, match=match):
        make()
