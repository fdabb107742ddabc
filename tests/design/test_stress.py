"""Stress constraint of a density design: centroid von Mises against a homogeneous
strain (patch test) and a hand-written plane-stress formula, Taylor tests of the p-norm
gradient through filter, projection and passive cells, and the adaptive normalization."""
import numpy as np
import pytest

import femopt as fo
from femopt import design as fd
from femopt import optimize as fopt
from femopt.errors import InputError
from femopt.sensitivity import taylor_test

from design_cases import tip_loaded_cantilever

NU = 0.3


def plane_stress_von_mises(exx, eyy, gxy, E=1.0, nu=NU):
    sx, sy = E / (1 - nu**2) * (exx + nu * eyy), E / (1 - nu**2) * (eyy + nu * exx)
    txy = E / (2 * (1 + nu)) * gxy
    return np.sqrt(sx**2 + sy**2 - sx * sy + 3 * txy**2)


@pytest.fixture(scope="module")
def cantilever():
    return tip_loaded_cantilever(8)          # ν = 0.3 = NU


def test_homogeneous_strain_gives_exact_stress_in_every_cell():
    # a distorted mesh: the centroid stress of a linear displacement is exact on any quad
    mesh = fo.mesh.rectangle(size=(3.0, 2.0), shape=(3, 2), cell="quad4")
    rng = np.random.default_rng(0)
    inner = (mesh.points[:, 0] > 0) & (mesh.points[:, 0] < 3) & (mesh.points[:, 1] > 0) & (mesh.points[:, 1] < 2)
    points = mesh.points.copy()
    points[inner] += rng.uniform(-0.2, 0.2, (inner.sum(), 2))
    mesh = mesh.with_points(points)
    pb = fo.Problem(mesh, fo.physics.LinearElasticity(E=2.0, nu=NU, plane="stress"))
    pb.fix("xmin")
    model = fd.CellScaledModel(pb, "E")
    exx, eyy, gxy = 0.01, -0.02, 0.03
    x, y = mesh.points.T
    u = np.stack([exx * x + gxy * y, eyy * y], axis=1).ravel()       # u_x,y = gxy, u_y,x = 0
    vm = fd.CentroidVonMises(model, solid=2.0)(u[model.partition.free])
    # the fixed dofs hold zeros: only cells away from x = 0 see the linear field
    away = mesh.cell_centroids()[:, 0] > 1.0
    np.testing.assert_allclose(vm[away], plane_stress_von_mises(exx, eyy, gxy, E=2.0), rtol=1e-12)


def test_matches_hand_written_plane_stress(cantilever):
    mesh, pb, model = cantilever
    E = np.random.default_rng(1).uniform(0.3, 1.0, mesh.n_cells)
    u, _ = model.solve(E)
    vm = fd.CentroidVonMises(model)(u)
    field = model.expand(u)
    dN = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) / 4.0      # QUAD4 at ξ = η = 0
    for cell in (0, 13, mesh.n_cells - 1):
        X, U = mesh.points[mesh.cells[cell]], field[mesh.cells[cell]]
        grad = U.T @ (dN @ np.linalg.inv(dN.T @ X))
        assert vm[cell] == pytest.approx(plane_stress_von_mises(grad[0, 0], grad[1, 1], grad[0, 1] + grad[1, 0]),
                                         rel=1e-12)


@pytest.mark.parametrize("variant", ["filter", "projection_passive"])
def test_p_norm_gradient_taylor(cantilever, variant):
    mesh, pb, model = cantilever
    kwargs = {"filter": fd.DensityFilter(mesh, 1.5)}
    if variant == "projection_passive":
        kwargs.update(projection=4.0, solid=[mesh.n_cells - 1])
    design = fd.DensityDesign(mesh, **kwargs)
    constraint = fd.StressConstraint(model, design, 2.0, p=12.0, q=0.5, cells=np.arange(mesh.n_cells - 2),
                                     damping=None)
    rng = np.random.default_rng(2)
    x0 = rng.uniform(0.3, 0.9, design.n_design)
    dx = rng.standard_normal(design.n_design)
    rates = taylor_test(constraint, x0, dx)
    assert rates.passed and min(rates.rates2) > 1.9


def test_p_norm_bounds_the_maximum(cantilever):
    mesh, pb, model = cantilever
    design = fd.DensityDesign(mesh)
    constraint = fd.StressConstraint(model, design, 1.0, p=8.0, damping=None)
    x = np.full(design.n_design, 0.7)
    P, _ = constraint.p_norm(x)
    sigma = constraint.relaxed_stress(x)[0]
    np.testing.assert_allclose(sigma, 0.7**0.5 * fd.CentroidVonMises(model)(constraint.last["u"]))
    assert sigma.max() <= P <= sigma.size ** (1 / 8) * sigma.max()


def test_adaptive_normalization(cantilever):
    mesh, pb, model = cantilever
    design = fd.DensityDesign(mesh)
    constraint = fd.StressConstraint(model, design, 1.0, p=8.0, damping=0.5)
    x0, x1 = np.full(design.n_design, 0.7), np.full(design.n_design, 0.8)
    g0, _ = constraint(x0)
    ratio0 = constraint.last["max"] / constraint.last["p_norm"]
    assert g0 == pytest.approx(constraint.last["p_norm"] - 1.0)          # c_0 = 1
    g1, grad1 = constraint(x1)
    c1 = 0.5 * ratio0 + 0.5
    assert constraint.normalization == pytest.approx(c1)
    assert g1 == pytest.approx(c1 * constraint.last["p_norm"] - 1.0)
    assert constraint(x1)[0] == pytest.approx(g1)                       # same design: c unchanged
    np.testing.assert_allclose(grad1, c1 * constraint.p_norm(x1)[1])


def test_resumed_run_normalizes_as_the_uninterrupted_one(cantilever, tmp_path):
    """The normalization c_k is state carried from iteration to iteration: a run killed
    after 4 iterations and resumed from its checkpoint by fresh objects ends bitwise
    where an uninterrupted run ends."""
    mesh, pb, model = cantilever

    def run(max_iterations, **kwargs):
        design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 1.5))
        v = design.volumes / design.volumes.sum()

        def volume(x):
            return float(v @ design.density(x)), design.vjp(x, density_bar=v)

        stress = fd.StressConstraint(model, design, 4.0, p=8.0, damping=0.5)
        result = fopt.minimize(volume, np.full(design.n_design, 0.8), constraints=[stress],
                               method=fopt.MMA(move=0.1), max_iterations=max_iterations, tol_change=0.0,
                               checkpoint=tmp_path / "run.npz", **kwargs)
        return result, stress

    whole, stress_whole = run(8)
    run(4)
    resumed, stress_resumed = run(8, resume="require")
    assert stress_resumed.normalization == stress_whole.normalization != 1.0
    np.testing.assert_array_equal(resumed.x, whole.x)
    np.testing.assert_array_equal(resumed.history.constraints, whole.history.constraints)


def test_rejects_bad_input(cantilever):
    mesh, pb, model = cantilever
    design = fd.DensityDesign(mesh)
    with pytest.raises(InputError, match="limit"):
        fd.StressConstraint(model, design, 0.0)
    with pytest.raises(InputError, match="damping"):
        fd.StressConstraint(model, design, 1.0, damping=1.5)
    heat = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    heat.fix("xmin")
    with pytest.raises(InputError, match="stress_3d"):
        fd.CentroidVonMises(fd.CellScaledModel(heat, "k"))
