"""The stress at a point as a functional: its value is ``fo.stress`` at the point, and
its adjoint gradient with respect to a material parameter (global and per cell) and the
node coordinates passes the Taylor test against fresh solves."""
import numpy as np
import pytest

import femopt as fo
from femopt.physics import HeatConduction, LinearElasticity

POINT = (0.7, 0.3)


def build(nu=0.3, E_cells=None, points=None):
    mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(6, 3), cell="quad8")
    if points is not None:
        mesh = mesh.with_points(points)
    E = fo.cell_field(np.linspace(1.0, 2.0, mesh.n_cells) if E_cells is None else E_cells)
    problem = fo.Problem(mesh, LinearElasticity(E=E, nu=nu, plane="stress"))
    problem.fix("xmin").traction("xmax", [0.0, -0.1])
    problem.solve()
    return problem


@pytest.fixture(scope="module")
def problem():
    return build()


def test_value_is_the_stress_at_the_point(problem):
    sigma = fo.stress(problem, at=POINT)
    assert fo.functionals.point_stress(problem, POINT, (0, 1))(problem) == pytest.approx(sigma[0, 1], rel=1e-12)
    assert fo.functionals.point_stress(problem, POINT)(problem) == pytest.approx(fo.von_mises(sigma), rel=1e-12)


@pytest.mark.parametrize("component", [(0, 0), "von_mises"])
def test_gradient_in_nu_cell_modulus_and_coordinates_passes_the_taylor_test(problem, component):
    J = fo.functionals.point_stress(problem, POINT, component)
    g = fo.gradient(J, problem, wrt=["nu", "E", "coordinates"])
    E0 = np.linspace(1.0, 2.0, problem.mesh.n_cells)
    rng = np.random.default_rng(0)
    # nu: a scalar
    result = fo.taylor_test(lambda x: J(build(nu=float(x))), np.array(0.3), np.array(0.05),
                            gradient=np.array(g["nu"]))
    assert result.passed, result
    # E per cell
    dE = rng.uniform(-0.2, 0.2, E0.shape)
    result = fo.taylor_test(lambda x: J(build(E_cells=x)), E0, dE, gradient=np.asarray(g["E"]))
    assert result.passed, result
    # node coordinates (the point moves with the material), interior nodes only
    mesh = problem.mesh
    dX = rng.normal(size=mesh.points.shape) * 0.02
    dX[np.unique(mesh.facet_nodes(mesh.boundary_facets()))] = 0.0
    result = fo.taylor_test(lambda x: J(build(points=x)), mesh.points, dX, gradient=np.asarray(g["coordinates"]))
    assert result.passed, result


def test_bad_requests_are_explained(problem):
    with pytest.raises(fo.InputError, match="component"):
        fo.functionals.point_stress(problem, POINT, (0, 3))
    with pytest.raises(fo.InputError, match="component"):
        fo.functionals.point_stress(problem, POINT, "tresca")
    with pytest.raises(fo.InputError, match="not inside the mesh"):
        fo.functionals.point_stress(problem, (3.0, 0.5))
    heat = fo.Problem(problem.mesh, HeatConduction())
    with pytest.raises(fo.InputError, match="no stress"):
        fo.functionals.point_stress(heat, POINT)
