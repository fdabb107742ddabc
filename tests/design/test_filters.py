"""Filters: row sums, the 88-line weights, the sensitivity filter formula, and the
Helmholtz filter's adjoint and length scale."""
import numpy as np
import pytest

import femopt as fo
from femopt import design as fd
from femopt.errors import InputError


@pytest.fixture(scope="module")
def grid():
    return fo.mesh.rectangle(size=(12, 5), shape=(12, 5), cell="quad4")


def top88_weights(nelx, nely, rmin):
    """H exactly as the 88-line code builds it (element numbering column-wise, y fastest)."""
    H = np.zeros((nelx * nely, nelx * nely))
    r = int(np.ceil(rmin)) - 1
    for i1 in range(nelx):
        for j1 in range(nely):
            e1 = i1 * nely + j1
            for i2 in range(max(i1 - r, 0), min(i1 + r + 1, nelx)):
                for j2 in range(max(j1 - r, 0), min(j1 + r + 1, nely)):
                    H[e1, i2 * nely + j2] = max(0.0, rmin - np.hypot(i1 - i2, j1 - j2))
    return H


@pytest.mark.parametrize("radius", [1.5, 2.4])
def test_density_filter_is_top88s(grid, radius):
    f = fd.DensityFilter(grid, radius)
    c = grid.cell_centroids()
    top88_id = (np.floor(c[:, 0]) * 5 + np.floor(c[:, 1])).astype(int)  # femopt cell -> top88 element
    H = top88_weights(12, 5, radius)[np.ix_(top88_id, top88_id)]
    np.testing.assert_allclose(f.H.toarray(), H, atol=1e-14)
    np.testing.assert_allclose(f.matrix.sum(axis=1), 1.0, rtol=1e-14)


def test_sensitivity_filter_formula(grid):
    f = fd.DensityFilter(grid, 1.5)
    rng = np.random.default_rng(0)
    x, g = rng.uniform(0, 1, grid.n_cells), rng.normal(size=grid.n_cells)
    H = f.H.toarray()
    expected = H @ (x * g) / H.sum(axis=1) / np.maximum(1e-3, x)
    np.testing.assert_allclose(f.filter_sensitivity(x, g), expected, rtol=1e-13)


def test_filter_radius_is_validated(grid):
    with pytest.raises(InputError, match="radius"):
        fd.DensityFilter(grid, -1.0)
    with pytest.raises(InputError, match="radius"):
        fd.HelmholtzFilter(grid, 0.0)


@pytest.mark.parametrize("cell", ["quad4", "tri3"])
def test_helmholtz_rows_sum_to_one_and_adjoint(cell):
    import jax

    mesh = fo.mesh.rectangle(size=(10, 4), shape=(10, 4), cell=cell)
    f = fd.HelmholtzFilter(mesh, 2.0)
    np.testing.assert_allclose(f(np.ones(mesh.n_cells)), 1.0, rtol=1e-10)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=mesh.n_cells), rng.normal(size=mesh.n_cells)
    _, vjp = jax.vjp(lambda x: f.apply({}, x), x)
    # <F x, y> = <x, F^T y>: the custom VJP is the transpose of the forward map.
    assert np.dot(f(x), y) == pytest.approx(np.dot(x, np.asarray(vjp(y)[0])), rel=1e-10)


def test_helmholtz_smooths_like_the_density_filter():
    mesh = fo.mesh.rectangle(size=(40, 40), shape=(40, 40), cell="quad4")
    spike = np.zeros(mesh.n_cells)
    centre = np.argmin(np.linalg.norm(mesh.cell_centroids() - 20.0, axis=1))
    spike[centre] = 1.0
    spread = {}
    for name, f in (("cone", fd.DensityFilter(mesh, 4.0)), ("pde", fd.HelmholtzFilter(mesh, 4.0))):
        out = f(spike)
        d = np.linalg.norm(mesh.cell_centroids() - mesh.cell_centroids()[centre], axis=1)
        spread[name] = np.sqrt(np.sum(out * d ** 2) / np.sum(out))
    # Same length scale within a factor ~1.5 (the PDE kernel has longer tails).
    assert 0.6 < spread["pde"] / spread["cone"] < 1.6


def test_density_filter_vjp_is_the_transpose(grid):
    import jax

    f = fd.DensityFilter(grid, 2.0)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=grid.n_cells), rng.normal(size=grid.n_cells)
    out, vjp = jax.vjp(lambda x: f.apply({}, x), x)
    np.testing.assert_allclose(np.asarray(out), f(x), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(vjp(y)[0]), f.matrix.T @ y, rtol=1e-13)
