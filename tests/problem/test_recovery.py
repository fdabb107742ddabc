"""Stresses, strains and heat fluxes at points, quadrature points, cell centres and
recovered at the nodes, against independent answers: patch tests (exact constant
stress from a linear field, every method, distorted meshes), the Lamé cylinder's
closed form (convergence rates of the nodal stress: patch recovery one order above the
cell average), NAFEMS LE1 (σ_yy = 92.7 MPa at D), Fourier's law of a linear
temperature, and the material taken from the problem (fields, overrides, states)."""
import numpy as np
import pytest

import femopt as fo
from femopt.benchmarks.cases_common import distorted
from femopt.benchmarks.cases_lame import NU as LAME_NU, RADII, cylinder_problem, cylinder_stress
from femopt.benchmarks.cases_nafems import LE1_POINT_D, LE1_SIGMA_YY_D, le1_problem
from femopt.physics import HeatConduction, LinearElasticity, NeoHookean

E, NU = 10.0, 0.25
GRADIENT = np.array([[2e-3, -1e-3, 0.5e-3], [0.7e-3, -0.4e-3, 1.1e-3], [0.3e-3, 0.9e-3, -1.3e-3]])


def hooke(grad, plane=None):
    """Hooke's law written out here (3x3, plane stress: σ_zz = 0)."""
    d = grad.shape[0]
    eps = 0.5 * (grad + grad.T)
    lam, mu = E * NU / ((1 + NU) * (1 - 2 * NU)), E / (2 * (1 + NU))
    if plane == "stress":
        lam = 2 * lam * mu / (lam + 2 * mu)
    sigma = np.zeros((3, 3))
    sigma[:d, :d] = lam * np.trace(eps) * np.eye(d) + 2 * mu * eps
    if d == 2 and plane == "strain":
        sigma[2, 2] = lam * np.trace(eps)
    return sigma


@pytest.mark.parametrize("cell, shape", [("quad4", (3, 3)), ("quad9", (3, 2)), ("tri6", (3, 3)),
                                         ("quad8", (2, 3)), ("hex8", (2, 2, 2)), ("tet10", (2, 2, 2))])
def test_patch_test_every_method_gives_the_constant_stress(cell, shape):
    """A linear displacement on a distorted mesh: the exact constant stress at points,
    quadrature points, centres and at every node by every recovery."""
    dim = len(shape)
    base = (fo.mesh.rectangle((1.0, 1.0), shape, cell=cell) if dim == 2
            else fo.mesh.box((1.0, 1.0, 1.0), shape, cell=cell))
    mesh = distorted(base, amplitude=0.08, seed=1)
    plane = "stress" if dim == 2 else None
    problem = fo.Problem(mesh, LinearElasticity(E=E, nu=NU, **({"plane": plane} if plane else {})))
    grad = GRADIENT[:dim, :dim]
    u = mesh.points @ grad.T
    expected = hooke(grad, plane)
    for at in ("quadrature", "centres"):
        values = fo.stress(problem, u, at=at)
        np.testing.assert_allclose(values, np.broadcast_to(expected, values.shape), atol=1e-12)
    points = np.full((2, dim), 0.37) + np.arange(2)[:, None] * 0.2
    np.testing.assert_allclose(fo.stress(problem, u, at=points), np.broadcast_to(expected, (2, 3, 3)), atol=1e-12)
    for method in ("spr", "l2", "average"):
        nodal = fo.stress(problem, u, at="nodes", method=method)
        np.testing.assert_allclose(nodal, np.broadcast_to(expected, nodal.shape), atol=1e-12, err_msg=method)


def test_strain_of_plane_stress_and_of_a_hyperelastic_stretch():
    mesh = fo.mesh.rectangle((1.0, 1.0), (2, 2), cell="quad4")
    problem = fo.Problem(mesh, LinearElasticity(E=E, nu=NU, plane="stress"))
    u = mesh.points @ np.array([[1e-3, 0.0], [0.0, 2e-3]]).T
    eps = fo.strain(problem, u, at=(0.5, 0.5))
    np.testing.assert_allclose(np.diag(eps), [1e-3, 2e-3, -NU / (1 - NU) * 3e-3], atol=1e-15)
    cube = fo.mesh.box((1.0, 1.0, 1.0), (1, 1, 1), cell="hex8")
    hyper = fo.Problem(cube, NeoHookean(mu=2.0, lmbda=3.0))
    stretch = np.c_[0.2 * cube.points[:, 0], np.zeros((cube.n_nodes, 2))]
    green = fo.strain(hyper, stretch, at="centres")[0]
    np.testing.assert_allclose(green, np.diag([0.5 * (1.2 ** 2 - 1.0), 0.0, 0.0]), atol=1e-14)


def test_heat_flux_of_a_linear_temperature_is_fouriers_law():
    mesh = distorted(fo.mesh.rectangle((2.0, 1.0), (4, 3), cell="quad8"), amplitude=0.05)
    slope = np.array([3.0, -2.0])
    T = 1.0 + mesh.points @ slope
    k_nodes = 1.0 + mesh.points[:, 0]                    # k = 1 + x, interpolated exactly
    problem = fo.Problem(mesh, HeatConduction(k=fo.nodal_field(k_nodes)))
    points = np.array([[0.3, 0.2], [1.7, 0.9]])
    np.testing.assert_allclose(fo.heat_flux(problem, T, at=points), -(1.0 + points[:, :1]) * slope, rtol=1e-12)
    constant = fo.Problem(mesh, HeatConduction(k=2.5))
    for method in ("spr", "l2", "average"):
        np.testing.assert_allclose(fo.heat_flux(constant, T, method=method),
                                   np.broadcast_to(-2.5 * slope, (mesh.n_nodes, 2)), rtol=1e-12)
    # k(T) = k (1 + beta T): the flux sees the temperature at the point and beta
    nonlinear = fo.Problem(mesh, HeatConduction(k=2.0, beta=0.1, conductivity=lambda T, k, beta: k * (1 + beta * T)))
    Tq = 1.0 + points @ slope
    np.testing.assert_allclose(fo.heat_flux(nonlinear, T, at=points),
                               -(2.0 * (1 + 0.1 * Tq))[:, None] * slope, rtol=1e-12)


def test_material_comes_from_the_problem_state_and_overrides():
    mesh = fo.mesh.rectangle((2.0, 1.0), (2, 1), cell="quad4")
    E_cells = np.array([1.0, 3.0])
    problem = fo.Problem(mesh, LinearElasticity(E=fo.cell_field(E_cells), nu=0.0, plane="stress"))
    problem.fix("xmin", components=0).fix(lambda x: x[:, 1] == 0.0, components=1).fix("xmax", 0.1, components=0)
    problem.solve()
    state = problem.state
    sigma = fo.stress(problem, at="centres")
    np.testing.assert_allclose(sigma[:, 0, 0], sigma[0, 0, 0])          # equilibrium: one force
    strain = fo.strain(problem, state, at="centres")
    np.testing.assert_allclose(E_cells * strain[:, 0, 0], sigma[:, 0, 0], rtol=1e-12)
    np.testing.assert_allclose(fo.stress(problem, state, at="centres"), sigma)
    doubled = fo.stress(problem, state.u, at="centres", params={"E": fo.cell_field(2 * E_cells)})
    np.testing.assert_allclose(doubled, 2 * sigma, rtol=1e-12)
    # a later solve with 4 E: the same displacement (prescribed), four times the stress
    problem.solve({"E": fo.cell_field(4 * E_cells)})
    np.testing.assert_allclose(fo.stress(problem, at="centres"), 4 * sigma, rtol=1e-12)
    np.testing.assert_allclose(fo.stress(problem, state.u, at="centres"), 4 * sigma, rtol=1e-12)
    np.testing.assert_allclose(fo.stress(problem, state, at="centres"), sigma, rtol=1e-12)   # its own E


def test_bad_requests_are_explained():
    mesh = fo.mesh.rectangle((1.0, 1.0), (2, 2))
    heat = fo.Problem(mesh, HeatConduction())
    with pytest.raises(fo.InputError, match="no stress"):
        fo.stress(heat, np.zeros(mesh.n_nodes))
    elastic = fo.Problem(mesh, LinearElasticity())
    with pytest.raises(fo.InputError, match="solve"):
        fo.stress(elastic)
    u = np.zeros((mesh.n_nodes, 2))
    with pytest.raises(fo.InputError, match="at must be one of"):
        fo.stress(elastic, u, at="vertices")
    with pytest.raises(fo.InputError, match="method must be one of"):
        fo.stress(elastic, u, method="zz")
    with pytest.raises(fo.InputError, match="not inside the mesh"):
        fo.stress(elastic, u, at=(2.0, 0.5))
    with pytest.raises(fo.InputError, match="shape"):
        fo.stress(elastic, u, at=np.zeros((2, 3)))


def test_von_mises_one_definition_plane_stress_strain_and_3d():
    sigma = np.array([[3.0, 1.0, 0.0], [1.0, -1.0, 0.0], [0.0, 0.0, 0.5]])
    s = sigma - np.trace(sigma) / 3 * np.eye(3)
    assert fo.von_mises(sigma) == pytest.approx(np.sqrt(1.5 * np.sum(s * s)), rel=1e-14)
    # σ_vm² = σx² − σx σy + σy² + 3 τ² in plane stress
    plane = sigma[:2, :2]
    assert fo.von_mises(plane, sigma_zz=0.0) == pytest.approx(np.sqrt(9 + 3 + 1 + 3), rel=1e-14)
    assert fo.von_mises(plane, sigma_zz=0.5) == pytest.approx(fo.von_mises(sigma), rel=1e-14)
    assert fo.functionals.von_mises is fo.von_mises
    np.testing.assert_allclose(fo.von_mises(np.stack([sigma, 2 * sigma])), np.array([1.0, 2.0]) * fo.von_mises(sigma))
    with pytest.raises(fo.InputError, match="sigma_zz"):
        fo.von_mises(plane)
    with pytest.raises(fo.InputError, match="shape"):
        fo.von_mises(np.zeros(3))


def _nodal_errors(cell, levels):
    """(n, {method: (max, rms) nodal error of (σ_xx, σ_yy, σ_xy)}) on the Lamé cylinder."""
    out = []
    for n in levels:
        problem = cylinder_problem(cell, n)
        problem.solve()
        exact = cylinder_stress(problem.mesh.points)
        errors = {}
        for method in ("average", "l2", "spr"):
            s = fo.stress(problem, method=method)
            e = np.stack([s[:, 0, 0], s[:, 1, 1], s[:, 0, 1]], axis=1) - exact
            errors[method] = np.array([np.max(np.abs(e)), np.sqrt(np.mean(e ** 2))])
        out.append(errors)
    return out


def _rates(errors, levels, method):
    return [np.log(a[method] / b[method]) / np.log(m / n)
            for a, b, n, m in zip(errors, errors[1:], levels, levels[1:])]


def test_patch_recovery_converges_an_order_faster_on_the_lame_cylinder():
    """Nodal stress errors (max and root mean square over the nodes) against the
    closed form. Measured (n = 4, 8, 16, quad4): cell average max 0.94, 0.97 / rms 1.38,
    1.44; SPR max 1.59, 1.79 / rms 2.42, 2.49. quad9 (n = 2, 4, 8): L2 rms 1.80, 1.92;
    SPR rms 3.16, 3.30."""
    levels = (4, 8, 16)
    quad4 = _nodal_errors("quad4", levels)
    spr, average = np.array(_rates(quad4, levels, "spr")), np.array(_rates(quad4, levels, "average"))
    assert np.all(spr[:, 1] > 2.2) and np.all(spr[:, 0] > 1.5)             # superconvergent
    assert np.all(average[:, 1] < 1.6) and np.all(average[:, 0] < 1.1)
    assert np.all(quad4[-1]["spr"] < 0.3 * quad4[-1]["average"])
    levels = (2, 4, 8)
    quad9 = _nodal_errors("quad9", levels)
    assert np.all(np.array(_rates(quad9, levels, "spr"))[:, 1] > 2.9)
    assert np.all(np.array(_rates(quad9, levels, "l2"))[:, 1] > 1.6)
    assert quad9[-1]["spr"][1] < 0.5 * quad9[-1]["l2"][1]
    # the recovered hoop stress at the bore on y = 0 (σ_θθ = σ_yy there)
    problem = cylinder_problem("quad9", 8)
    problem.solve()
    node = int(np.argmin(np.linalg.norm(problem.mesh.points - [RADII[0], 0.0], axis=1)))
    hoop = (RADII[1] ** 2 + RADII[0] ** 2) / (RADII[1] ** 2 - RADII[0] ** 2)
    nodal = fo.stress(problem)[node]
    assert nodal[1, 1] == pytest.approx(hoop, rel=5e-3)
    # plane strain: σ_zz = ν (σ_rr + σ_θθ), read from the same 3x3 stress (σ_rr = −p)
    assert nodal[2, 2] == pytest.approx(LAME_NU * (hoop - 1.0), rel=2e-3)
    assert nodal[0, 0] == pytest.approx(-1.0, rel=1e-2)


def test_nafems_le1_sigma_yy_at_d():
    """σ_yy(D) = 92.7 MPa. quad9, n = 16: in the cell 92.89, SPR 93.27, L2 92.86; the
    cell-centre average reads 77.96 (−16 %)."""
    problem = le1_problem(16, "quad9")
    problem.solve()
    node = int(np.argmin(np.linalg.norm(problem.mesh.points - np.array(LE1_POINT_D), axis=1)))
    assert fo.stress(problem, at=LE1_POINT_D)[1, 1] == pytest.approx(LE1_SIGMA_YY_D, rel=0.005)
    assert fo.stress(problem, method="spr")[node, 1, 1] == pytest.approx(LE1_SIGMA_YY_D, rel=0.01)
    assert fo.stress(problem, method="l2")[node, 1, 1] == pytest.approx(LE1_SIGMA_YY_D, rel=0.01)
    assert fo.stress(problem, method="average")[node, 1, 1] < 0.9 * LE1_SIGMA_YY_D
