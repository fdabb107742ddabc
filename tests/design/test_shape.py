"""Shape design: the boundary parametrization, the linear-elastic morph and the exact
chain rule x → X → J (Taylor test), and the refusal of inverting steps."""
import numpy as np
import pytest

import femopt as fo
from femopt.design.morph import LinearElasticMorph
from femopt.design.shape import HoleShape, ShapeDesign, ShapeFunctional


def _plate(shape=(8, 4)):
    return fo.mesh.plate_with_hole(3.0, 3.0, 1.0, shape=shape, cell="quad4", grading=2.0)


def _morph(mesh):
    return LinearElasticMorph(mesh, "hole", fixed=["xmax", "ymax"], sliding={"xsym": 0, "ysym": 1})


@pytest.fixture(scope="module")
def case():
    mesh = _plate()
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    problem.fix("xsym", components=0)
    problem.fix("ysym", components=1)
    problem.traction("xmax", [2.0, 0.0])
    problem.traction("ymax", [0.0, 1.0])
    hole = HoleShape(mesh, "hole", n_modes=3)
    design = ShapeDesign(mesh, hole, _morph(mesh))
    return problem, hole, design


def test_morph_keeps_the_prescribed_motion_and_supports():
    mesh = _plate()
    morph = _morph(mesh)
    rng = np.random.default_rng(1)
    d = 0.05 * rng.standard_normal((morph.moving_nodes.size, 2))
    D = morph.displacement(d)
    np.testing.assert_array_equal(D[morph.moving_nodes], d)
    outer = np.union1d(mesh.nodes("xmax"), mesh.nodes("ymax"))
    np.testing.assert_array_equal(D[outer], 0.0)
    xsym = np.setdiff1d(mesh.nodes("xsym"), morph.moving_nodes)
    ysym = np.setdiff1d(mesh.nodes("ysym"), morph.moving_nodes)
    np.testing.assert_array_equal(D[xsym, 0], 0.0)
    np.testing.assert_array_equal(D[ysym, 1], 0.0)
    assert np.abs(D[ysym, 0]).max() > 0.0  # symmetry nodes slide


@pytest.mark.parametrize("stiffening", [0.0, 1.0])
def test_morph_vjp_is_the_transpose(stiffening):
    mesh = _plate()
    morph = LinearElasticMorph(mesh, "hole", fixed=["xmax", "ymax"], sliding={"xsym": 0, "ysym": 1},
                               stiffening=stiffening)
    rng = np.random.default_rng(2)
    d = rng.standard_normal((morph.moving_nodes.size, 2))
    bar = rng.standard_normal((mesh.n_nodes, 2))
    lhs = np.sum(bar * morph.displacement(d))
    rhs = np.sum(morph.vjp(bar) * d)
    assert lhs == pytest.approx(rhs, rel=1e-11)


def test_hole_modes_make_an_ellipse():
    mesh = _plate()
    hole = HoleShape(mesh, "hole", n_modes=2)
    moved = mesh.points[hole.nodes] + hole.displacement(np.array([0.0, 0.25]))
    on_x, on_y = np.isclose(moved[:, 1], 0.0), np.isclose(moved[:, 0], 0.0)
    assert moved[on_x, 0] == pytest.approx([1.25]) and moved[on_y, 1] == pytest.approx([0.75])
    theta = np.arctan2(*mesh.points[hole.nodes].T[::-1])
    points = np.array(mesh.points)
    points[hole.nodes] = np.stack([2.0 * np.cos(theta), 0.8 * np.sin(theta)], axis=1)
    assert hole.axis_ratio(points) == pytest.approx(2.5, rel=1e-12)
    rng = np.random.default_rng(3)
    x, bar = rng.standard_normal(2), rng.standard_normal((hole.nodes.size, 2))
    assert np.sum(bar * hole.displacement(x)) == pytest.approx(np.dot(hole.vjp(bar), x), rel=1e-12)


@pytest.mark.parametrize("functional", ["von_mises_p_norm", "volume"])
def test_shape_gradient_passes_taylor_test(case, functional):
    problem, _, design = case
    J = ShapeFunctional(problem, getattr(fo.functionals, functional)(), design)
    rng = np.random.default_rng(4)
    x = np.array([0.02, 0.05, -0.01])
    result = fo.taylor_test(J, x, 0.1 * rng.standard_normal(3), h0=0.1)
    assert result.passed, str(result)
    assert result.rate == pytest.approx(2.0, abs=0.1)


def test_shape_functional_shifts_and_scales(case):
    problem, _, design = case
    x = np.array([0.0, 0.1, 0.0])
    area, darea = ShapeFunctional(problem, fo.functionals.volume(), design)(x)
    g, dg = ShapeFunctional(problem, fo.functionals.volume(), design, scale=-2.0, shift=1.0)(x)
    assert g == pytest.approx(-2.0 * (area - 1.0))
    np.testing.assert_allclose(dg, -2.0 * darea)


def test_inverting_step_is_refused_naming_the_cells(case):
    problem, _, design = case
    ShapeFunctional(problem, fo.functionals.volume(), design)(design.initial())
    before = np.array(problem.mesh.points)
    with pytest.raises(fo.MeshError, match="inverted") as error:
        ShapeFunctional(problem, fo.functionals.volume(), design)(np.array([0.0, 1.5, 0.0]))
    assert len(error.value.cells) > 0
    np.testing.assert_array_equal(problem.mesh.points, before)  # left where it was


def test_bad_inputs_are_rejected():
    mesh = _plate()
    with pytest.raises(fo.InputError, match="n_modes"):
        HoleShape(mesh, "hole", n_modes=0)
    with pytest.raises(fo.InputError, match="same order"):
        ShapeDesign(mesh, HoleShape(mesh, "hole"), LinearElasticMorph(mesh, "xmax", fixed="ymax"))
    design = ShapeDesign(mesh, HoleShape(mesh, "hole", n_modes=2), _morph(mesh))
    with pytest.raises(fo.InputError, match="2 variables"):
        design.points(np.zeros(3))
    with pytest.raises(fo.InputError, match="sliding component"):
        LinearElasticMorph(mesh, "hole", sliding={"xsym": 2})
