"""Tikhonov and total-variation regularization of material fields: closed forms on
linear fields and steps, zero on constants, Taylor tests, mesh independence, input
checks, and Sum."""
from pathlib import Path

import numpy as np
import pytest

import femopt as fo
from femopt import design as fd
from femopt.errors import InputError
from femopt.mesh.quality import cell_measures
from femopt.sensitivity import taylor_test

SAMPLES = Path(__file__).resolve().parents[2] / "meshes"
SLOPE_2D = np.array([0.7, -0.4])
SLOPE_3D = np.array([0.7, -0.4, 0.3])


def rectangle(cell, shape=(8, 4)):
    return fo.mesh.rectangle(size=(2.0, 1.0), shape=shape, cell=cell)


def box(cell, shape=(4, 2, 2)):
    return fo.mesh.box(size=(2.0, 1.0, 1.0), shape=shape, cell=cell)


MESHES = {
    "quad4": lambda: rectangle("quad4"), "tri3": lambda: rectangle("tri3"), "tri6": lambda: rectangle("tri6"),
    "quad8": lambda: rectangle("quad8"), "hex8": lambda: box("hex8"), "tet4": lambda: box("tet4"),
    "hole_quad4": lambda: fo.mesh.read(SAMPLES / "plate_with_hole_quad4.msh"),   # unstructured, graded
}


def volume(mesh):
    return float(np.abs(cell_measures(mesh.points, mesh.cells, mesh.cell_type)).sum())


def field(mesh, kind, function):
    return function(mesh.cell_centroids() if kind == "cell" else mesh.points)


def test_cell_tikhonov_of_a_linear_field_on_a_grid_is_exact():
    # facets normal to x join centroids from hx/2 to Lx − hx/2: the integral of gx² covers
    # (Lx − hx) x Ly, and likewise in y
    alpha, (Lx, Ly), (nx, ny) = 3.0, (2.0, 1.0), (8, 4)
    mesh = rectangle("quad4", (nx, ny))
    value, _ = fd.Tikhonov(mesh, alpha)(mesh.cell_centroids() @ SLOPE_2D)
    gx, gy = SLOPE_2D
    expected = 0.5 * alpha * (gx**2 * (Lx - Lx / nx) * Ly + gy**2 * Lx * (Ly - Ly / ny))
    assert value == pytest.approx(expected, rel=1e-13)
    mesh = box("hex8", (4, 2, 2))
    value, _ = fd.Tikhonov(mesh, alpha)(mesh.cell_centroids() @ SLOPE_3D)
    gx, gy, gz = SLOPE_3D
    expected = 0.5 * alpha * (gx**2 * 1.5 * 1.0 * 1.0 + gy**2 * 2.0 * 0.5 * 1.0 + gz**2 * 2.0 * 1.0 * 0.5)
    assert value == pytest.approx(expected, rel=1e-13)


def test_cell_tikhonov_is_mesh_independent():
    # α/2 |g|² area in the limit, with an O(h) boundary layer: halving h halves the error
    exact = 0.5 * SLOPE_2D @ SLOPE_2D * 2.0
    errors = []
    for n in (8, 16, 32):
        mesh = rectangle("quad4", (2 * n, n))
        errors.append(abs(fd.Tikhonov(mesh, 1.0)(mesh.cell_centroids() @ SLOPE_2D)[0] / exact - 1.0))
    assert errors[-1] < 0.05
    np.testing.assert_allclose(np.array(errors[:-1]) / np.array(errors[1:]), 2.0, rtol=0.05)


@pytest.mark.parametrize("name", sorted(MESHES))
def test_node_tikhonov_of_a_linear_field_is_exact(name):
    mesh = MESHES[name]()
    slope = SLOPE_3D if mesh.dim == 3 else SLOPE_2D
    value, _ = fd.Tikhonov(mesh, 3.0, kind="node")(mesh.points @ slope)
    assert value == pytest.approx(0.5 * 3.0 * slope @ slope * volume(mesh), rel=1e-12)


@pytest.mark.parametrize("kind", ["cell", "node"])
def test_reference_term_of_a_constant_offset(kind):
    mesh = rectangle("tri6")
    reference = field(mesh, kind, lambda x: np.sin(x[:, 0]) + x[:, 1])
    value, _ = fd.Tikhonov(mesh, 0.0, kind=kind, reference=reference, reference_weight=2.0)(reference + 0.3)
    assert value == pytest.approx(0.5 * 2.0 * 0.3**2 * volume(mesh), rel=1e-12)


@pytest.mark.parametrize("kind", ["cell", "node"])
@pytest.mark.parametrize("name", ["quad4", "tri3", "hex8", "tet4"])
def test_zero_for_a_constant_field(kind, name):
    mesh = MESHES[name]()
    m = np.full(mesh.n_cells if kind == "cell" else mesh.n_nodes, 1.7)
    for regularizer in (fd.Tikhonov(mesh, 2.0, kind=kind), fd.TotalVariation(mesh, 2.0, epsilon=0.1, kind=kind)):
        value, gradient = regularizer(m)
        assert 0.0 <= value < 1e-20            # FE gradients of a constant: round-off only
        assert np.abs(gradient).max() < 1e-12


@pytest.mark.parametrize("epsilon", [1.0, 1e-2, 1e-6])
def test_cell_total_variation_of_a_step(epsilon):
    # a jump J across x = 1 (a grid line) of length 1: Σ_f |f| d (√(J²/d² + ε²) − ε)
    # = L (√(J² + ε² d²) − ε d) → α J L as ε → 0
    alpha, jump, nx = 2.0, 0.8, 10
    mesh = rectangle("quad4", (nx, 5))
    m = np.where(mesh.cell_centroids()[:, 0] > 1.0, 1.0 + jump, 1.0)
    value, _ = fd.TotalVariation(mesh, alpha, epsilon=epsilon)(m)
    d = 2.0 / nx
    assert value == pytest.approx(alpha * (np.sqrt(jump**2 + (epsilon * d) ** 2) - epsilon * d), rel=1e-12)
    if epsilon < 1e-3:
        assert value == pytest.approx(alpha * jump * 1.0, rel=1e-4)


@pytest.mark.parametrize("name", ["quad4", "tri6", "tet4", "hole_quad4"])
def test_node_total_variation_of_a_linear_field(name):
    mesh = MESHES[name]()
    slope = SLOPE_3D if mesh.dim == 3 else SLOPE_2D
    value, _ = fd.TotalVariation(mesh, 2.0, epsilon=0.05, kind="node")(mesh.points @ slope)
    expected = 2.0 * (np.sqrt(slope @ slope + 0.05**2) - 0.05) * volume(mesh)
    assert value == pytest.approx(expected, rel=1e-12)


def regularizers(mesh, kind):
    n = mesh.n_cells if kind == "cell" else mesh.n_nodes
    reference = np.random.default_rng(3).uniform(0.5, 1.5, n)
    return {"tikhonov": fd.Tikhonov(mesh, 1.3, kind=kind, reference=reference, reference_weight=0.7),
            "tv": fd.TotalVariation(mesh, 1.3, epsilon=0.2, kind=kind)}


@pytest.mark.parametrize("which", ["tikhonov", "tv"])
@pytest.mark.parametrize("kind", ["cell", "node"])
@pytest.mark.parametrize("name", ["quad4", "tri3", "quad8", "hex8", "tet4", "hole_quad4"])
def test_taylor(name, kind, which):
    mesh = MESHES[name]()
    regularizer = regularizers(mesh, kind)[which]
    rng = np.random.default_rng(0)
    m = rng.uniform(0.5, 2.0, regularizer.n_values)
    result = taylor_test(regularizer, m, rng.normal(size=m.size), h0=0.1)
    assert result.passed, str(result)


def test_input_checks():
    mesh = rectangle("quad4")
    with pytest.raises(InputError, match="kind must be one of"):
        fd.Tikhonov(mesh, 1.0, kind="edge")
    with pytest.raises(InputError, match="alpha must be"):
        fd.Tikhonov(mesh, -1.0)
    with pytest.raises(InputError, match="epsilon must be > 0"):
        fd.TotalVariation(mesh, 1.0, epsilon=0.0)
    with pytest.raises(InputError, match="reference must be"):
        fd.Tikhonov(mesh, 1.0, reference=np.ones(3), reference_weight=1.0)
    with pytest.raises(InputError, match="per-cell field of 32 values"):
        fd.Tikhonov(mesh, 1.0)(np.ones(mesh.n_nodes))
    with pytest.raises(InputError, match="no interior facets"):
        fd.Tikhonov(fo.mesh.rectangle(shape=(1, 1)), 1.0)


def test_sum_adds_values_and_gradients():
    mesh = rectangle("quad4")
    tikhonov, tv = fd.Tikhonov(mesh, 1.0), fd.TotalVariation(mesh, 2.0, epsilon=0.1)

    def misfit(m):
        return 0.5 * float(m @ m), m

    total = misfit + tikhonov + tv
    assert isinstance(total, fd.Sum) and total.terms == (misfit, tikhonov, tv)
    m = np.random.default_rng(1).uniform(size=mesh.n_cells)
    value, gradient = total(m)
    parts = [f(m) for f in (misfit, tikhonov, tv)]
    assert total.values == pytest.approx([p[0] for p in parts], rel=1e-15)
    assert value == pytest.approx(sum(p[0] for p in parts), rel=1e-14)
    np.testing.assert_allclose(gradient, sum(p[1] for p in parts), rtol=1e-14)
    with pytest.raises(InputError, match="Sum adds callables"):
        fd.Sum(tikhonov, 3.0)
