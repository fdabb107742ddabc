"""Shape parametrizations beyond cosine modes: the B-spline basis (against SciPy's, partition
of unity, linear precision), BSplineBoundary (curve walk, rigid and linear motions, normal
directions, sliding and fixed ends), FFDBox (identity, affine motions exact, nodes outside
untouched), the transposes, Taylor tests through x → X → J, inverted steps refused."""
import numpy as np
import pytest
from scipy.interpolate import BSpline

import femopt as fo
from femopt.design import BSplineBoundary, FFDBox, LinearElasticMorph, ShapeDesign, ShapeFunctional
from femopt.design.splines import bspline_basis, clamped_knots, greville_abscissae

SPLINES = [(2, 1), (4, 3), (6, 3), (7, 2), (9, 4), (3, 2)]


def _plate(shape=(8, 4), cell="quad4"):
    return fo.mesh.plate_with_hole(3.0, 3.0, 1.0, shape=shape, cell=cell, grading=2.0)


def _morph(mesh, moving="hole"):
    return LinearElasticMorph(mesh, moving, fixed=["xmax", "ymax"], sliding={"xsym": 0, "ysym": 1})


def _problem(mesh):
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    problem.fix("xsym", components=0)
    problem.fix("ysym", components=1)
    problem.traction("xmax", [2.0, 0.0])
    problem.traction("ymax", [0.0, 1.0])
    return problem


def _hole_spline(mesh, n_control=5, **options):
    # The walk runs from (0, 1) to (1, 0): the ends slide along the y and x axes.
    options.setdefault("along", {0: (0.0, 1.0), -1: (1.0, 0.0)})
    return BSplineBoundary(mesh, "hole", n_control, **options)


# ------------------------------------------------------------------------ the basis
@pytest.mark.parametrize("n_control, degree", SPLINES)
def test_basis_matches_scipy_and_is_a_partition_of_unity(n_control, degree):
    s = np.concatenate([np.linspace(0.0, 1.0, 41), np.random.default_rng(0).random(20)])
    N = bspline_basis(s, n_control, degree)
    reference = BSpline.design_matrix(s, clamped_knots(n_control, degree), degree).toarray()
    np.testing.assert_allclose(N, reference, atol=1e-14)
    np.testing.assert_allclose(N.sum(axis=1), 1.0, atol=1e-14)
    assert N.min() >= 0.0
    assert N[0, 0] == 1.0 and N[40, -1] == 1.0  # clamped: the ends are control points


@pytest.mark.parametrize("n_control, degree", SPLINES)
def test_basis_reproduces_linear_functions(n_control, degree):
    s = np.linspace(0.0, 1.0, 57)
    N = bspline_basis(s, n_control, degree)
    np.testing.assert_allclose(N @ (3.0 * greville_abscissae(n_control, degree) - 1.0), 3.0 * s - 1.0,
                               atol=1e-14)


# --------------------------------------------------------------------- B-spline curve
@pytest.mark.parametrize("cell", ["quad4", "quad8", "tri3"])
def test_curve_walk_orders_the_hole_by_arc_length(cell):
    mesh = _plate((16, 4), cell)
    spline = BSplineBoundary(mesh, "hole", 4, direction="free")
    points = mesh.points[spline.nodes]
    theta = np.arctan2(points[:, 1], points[:, 0])
    # chord length on a circle ~ angle; the walk runs with the material on its left
    np.testing.assert_allclose(spline.parameter, 1.0 - theta / (0.5 * np.pi), atol=2e-3)
    assert np.all(np.diff(spline.parameter[np.searchsorted(spline.nodes, spline.curve_nodes)]) > 0)
    by_angle = BSplineBoundary(mesh, "hole", 4, direction="free",
                               parameter=lambda x: -np.arctan2(x[:, 1], x[:, 0]))
    np.testing.assert_array_equal(by_angle.curve_nodes, spline.curve_nodes)


def test_equal_control_displacements_translate_and_linear_ones_are_reproduced():
    mesh = _plate(cell="quad8")
    spline = BSplineBoundary(mesh, "hole", 6, direction="free")
    shift = np.array([0.3, -0.2])
    np.testing.assert_allclose(spline.displacement(np.tile(shift, 6)), np.tile(shift, (spline.nodes.size, 1)),
                               atol=1e-14)
    a, b = np.array([0.5, -1.0]), np.array([0.1, 0.2])
    control = spline.control_parameters[:, None] * a + b
    np.testing.assert_allclose(spline.displacement(control.ravel()), spline.parameter[:, None] * a + b,
                               atol=1e-14)
    np.testing.assert_allclose(spline.control_displacement(control.ravel()), control)


def test_normal_directions_point_out_of_the_material_and_ends_slide_or_stay():
    mesh = _plate((16, 4))
    spline = _hole_spline(mesh, 6)
    interior = spline.directions[1:-1]
    radial = spline.control_locations[1:-1] / np.linalg.norm(spline.control_locations[1:-1], axis=1)[:, None]
    np.testing.assert_allclose(interior, -radial, atol=0.01)  # a hole: towards its centre
    np.testing.assert_allclose(spline.directions[[0, -1]], [[0.0, 1.0], [1.0, 0.0]])
    assert spline.n_variables == 6
    x = np.random.default_rng(5).standard_normal(6)
    moved = mesh.points[spline.nodes] + spline.displacement(x)
    first, last = (np.searchsorted(spline.nodes, spline.curve_nodes[[0, -1]]))
    assert moved[first, 0] == 0.0 and moved[last, 1] == 0.0  # still on the symmetry axes
    pinned = BSplineBoundary(mesh, "hole", 6, fixed=(0, -1))
    assert pinned.n_variables == 4
    np.testing.assert_array_equal(pinned.displacement(x[:4])[[first, last]], 0.0)
    assert np.isnan(pinned.directions[[0, -1]]).all()
    as_mask = BSplineBoundary(mesh, "hole", 6, fixed=np.array([True, False, False, False, False, True]))
    np.testing.assert_array_equal(as_mask.matrix, pinned.matrix)


def test_curve_in_3d_with_a_parameter_function():
    mesh = fo.mesh.box(size=(2.0, 1.0, 1.0), shape=(6, 2, 2), cell="hex8")
    edge = lambda x: np.isclose(x[:, 1], 0.0) & np.isclose(x[:, 2], 0.0)  # noqa: E731
    spline = BSplineBoundary(mesh, edge, 4, direction="free", parameter=lambda x: x[:, 0])
    np.testing.assert_allclose(spline.parameter, mesh.points[spline.nodes, 0] / 2.0)
    np.testing.assert_allclose(spline.displacement(np.tile([1.0, 2.0, 3.0], 4)),
                               np.tile([1.0, 2.0, 3.0], (spline.nodes.size, 1)), atol=1e-14)


# ----------------------------------------------------------------------------- FFD
@pytest.mark.parametrize("dim, degree", [(2, None), (2, 2), (3, None), (3, 1)])
def test_ffd_affine_motion_is_exact_and_outside_nodes_stay(dim, degree):
    if dim == 2:
        mesh, lower, upper, shape = _plate(), (0.2, 0.0), (2.0, 2.5), (4, 3)
    else:
        mesh = fo.mesh.box(size=(2.0, 1.0, 1.0), shape=(8, 4, 4), cell="hex8")
        lower, upper, shape = (0.4, -0.1, 0.2), (1.6, 0.8, 1.1), (3, 4, 3)
    box = FFDBox(mesh, lower, upper, shape, degree=degree, moving=np.ones(shape, dtype=bool))
    design = ShapeDesign(mesh, box, None)
    np.testing.assert_array_equal(design.points(design.initial()), mesh.points)
    rng = np.random.default_rng(6)
    A, c = 0.05 * rng.standard_normal((dim, dim)), 0.05 * rng.standard_normal(dim)
    x = box.variables(box.control_points @ A.T + c)
    points = design.points(x)
    in_box = np.all((mesh.points >= np.array(lower) - 1e-12) & (mesh.points <= np.array(upper) + 1e-12), axis=1)
    np.testing.assert_array_equal(np.flatnonzero(in_box), box.nodes)
    np.testing.assert_allclose(points[in_box], mesh.points[in_box] + mesh.points[in_box] @ A.T + c, atol=1e-13)
    np.testing.assert_array_equal(points[~in_box], mesh.points[~in_box])


def test_ffd_default_keeps_the_outer_layer_so_the_box_faces_stay():
    mesh = fo.mesh.rectangle(size=(3.0, 3.0), shape=(12, 12), cell="quad4")
    lower, upper = np.array([0.5, 0.5]), np.array([2.0, 2.25])  # faces on grid lines
    box = FFDBox(mesh, lower, upper, (5, 4), degree=2)
    assert box.n_variables == 3 * 2 * 2
    assert box.mask[0].sum() == box.mask[-1].sum() == box.mask[:, 0].sum() == box.mask[:, -1].sum() == 0
    d = box.displacement(np.random.default_rng(7).standard_normal(box.n_variables))
    local = (mesh.points[box.nodes] - lower) / (upper - lower)
    on_face = np.any(np.isclose(local, 0.0) | np.isclose(local, 1.0), axis=1)
    assert on_face.sum() > 0 and (~on_face).sum() > 0
    np.testing.assert_allclose(d[on_face], 0.0, atol=1e-15)
    assert np.abs(d[~on_face]).max() > 0.01


def test_transposes():
    mesh = _plate(cell="quad8")
    rng = np.random.default_rng(8)
    parametrizations = [_hole_spline(mesh, 6), BSplineBoundary(mesh, "hole", 5, degree=2, direction="free"),
                        FFDBox(mesh, (0.0, 0.0), (2.0, 2.0), (4, 5)), FFDBox(mesh, (0.0, 0.0), (2.0, 2.0), (4, 4),
                                                                              degree=2, nodes="hole")]
    for p in parametrizations:
        x, bar = rng.standard_normal(p.n_variables), rng.standard_normal((p.nodes.size, 2))
        assert np.sum(bar * p.displacement(x)) == pytest.approx(np.dot(p.vjp(bar), x), rel=1e-12)
    design = ShapeDesign(mesh, parametrizations[2], None)
    x, bar = rng.standard_normal(design.n_variables), rng.standard_normal((mesh.n_nodes, 2))
    assert np.sum(bar * (design.points(x) - mesh.points)) == pytest.approx(np.dot(design.vjp(bar), x), rel=1e-12)


# ------------------------------------------------------------ through the solve: J(x)
def _designs(mesh):
    return {"bspline+morph": ShapeDesign(mesh, _hole_spline(mesh, 5), _morph(mesh)),
            "ffd_boundary+morph": ShapeDesign(mesh, FFDBox(mesh, (0.0, 0.0), (1.6, 1.6), (4, 4), nodes="hole"),
                                              _morph(mesh)),
            "ffd_volume": ShapeDesign(mesh, FFDBox(mesh, (0.0, 0.0), (2.0, 2.0), (4, 4)), None)}


@pytest.mark.parametrize("name", ["bspline+morph", "ffd_boundary+morph", "ffd_volume"])
def test_shape_gradient_passes_taylor_test(name):
    mesh = _plate()
    design = _designs(mesh)[name]
    J = ShapeFunctional(_problem(mesh), fo.functionals.von_mises_p_norm(p=8.0), design)
    rng = np.random.default_rng(9)
    x = 0.02 * rng.standard_normal(design.n_variables)
    result = fo.taylor_test(J, x, 0.05 * rng.standard_normal(design.n_variables), h0=0.1)
    assert result.passed, str(result)
    assert result.rate == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize("name, variable", [("bspline+morph", 2), ("ffd_volume", 0)])
def test_inverting_step_is_refused_naming_the_cells(name, variable):
    mesh = _plate()
    design = _designs(mesh)[name]
    problem = _problem(mesh)
    J = ShapeFunctional(problem, fo.functionals.volume(), design)
    J(design.initial())
    before = np.array(problem.mesh.points)
    x = np.zeros(design.n_variables)
    x[variable] = -3.0  # one control point pushed far into the material
    with pytest.raises(fo.MeshError, match="inverted") as error:
        J(x)
    cells = np.array(error.value.cells)
    assert cells.size > 0
    moved = np.flatnonzero(np.any(design.points(x) != mesh.points, axis=1))
    assert np.all(np.isin(mesh.cells[cells], moved).any(axis=1))  # the named cells are ones it moved
    np.testing.assert_array_equal(problem.mesh.points, before)


# ------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(n_control=3), "degree 3 needs at least 4 control points"),
    (dict(n_control=5, degree=0), "degree must be an integer >= 1"),
    (dict(n_control=4.0), "must be an integer"),
    (dict(direction="tangent"), "direction must be 'normal' or 'free'"),
    (dict(along={0: (0.0, 0.0)}), r"along\[0\] must be a nonzero vector"),
    (dict(fixed=(7,)), r"fixed: control point indices must be integers in \[-6, 6\)"),
    (dict(fixed=(0,), along={0: (1.0, 0.0)}), "both fixed and in along"),
    (dict(n_control=4, fixed=(0, 1, 2, 3)), "all 4 control points are fixed"),
    (dict(fixed=np.ones(5, dtype=bool)), r"fixed as a mask must have shape \(6,\)"),
    (dict(parameter=lambda x: np.ones(len(x))), "constant over the boundary"),
])
def test_bad_spline_inputs(kwargs, match):
    kwargs = {"n_control": 6, **kwargs}
    with pytest.raises(fo.InputError, match=match):
        BSplineBoundary(_plate(), "hole", **kwargs)


@pytest.mark.parametrize("selection, match", [
    (lambda x: np.isclose(x[:, 0], 0.0) | np.isclose(x[:, 0], 3.0), "2 separate curves"),
    (lambda x: np.ones(len(x), dtype=bool), "closed curve"),
    (lambda x: np.isclose(np.hypot(x[:, 0], x[:, 1]), 1.0) | (np.hypot(x[:, 0], x[:, 1]) > 1.5)
     & (np.hypot(x[:, 0], x[:, 1]) < 2.5) & (x.min(axis=1) > 0.1), "lie on none of its boundary facets"),
    (lambda x: np.hypot(x[:, 0], x[:, 1]) > 4.2, "hold no whole boundary facet"),
])
def test_boundary_that_is_not_one_open_curve_is_refused(selection, match):
    with pytest.raises(fo.InputError, match=match):
        BSplineBoundary(_plate(), selection, 4)


def test_3d_curve_needs_a_parameter():
    mesh = fo.mesh.box(size=(1.0, 1.0, 1.0), shape=(2, 2, 2), cell="hex8")
    with pytest.raises(fo.InputError, match="pass parameter="):
        BSplineBoundary(mesh, "xmin", 4)
    with pytest.raises(fo.InputError, match="2D only"):
        BSplineBoundary(mesh, "xmin", 4, parameter=lambda x: x[:, 1])


@pytest.mark.parametrize("args, kwargs, match", [
    (((1.0, 0.0), (0.0, 1.0), (3, 3)), {}, "upper > lower"),
    (((0.0, 0.0), (1.0, 1.0), (3,)), {}, "shape must be 2 integers >= 2"),
    (((0.0, 0.0), (1.0, 1.0), (3, 1)), {}, "shape must be 2 integers >= 2"),
    (((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (3, 3)), {}, "lower and upper must be 2 finite numbers"),
    (((0.0, 0.0), (1.0, 1.0), (2, 4)), {}, "no interior points"),
    (((0.0, 0.0), (1.0, 1.0), (3, 3)), {"degree": 3}, "degree 3 needs at least 4 control points"),
    (((0.0, 0.0), (1.0, 1.0), (3, 3)), {"moving": np.ones((3, 2), dtype=bool)}, r"moving must be a boolean mask"),
    (((5.0, 5.0), (6.0, 6.0), (3, 3)), {}, "no node lies in the box"),
])
def test_bad_ffd_inputs(args, kwargs, match):
    with pytest.raises(fo.InputError, match=match):
        FFDBox(_plate(), *args, **kwargs)
