"""Built-in functionals against closed forms, on fields they integrate exactly."""
import numpy as np
import pytest

import femopt as fo
from femopt import functionals as F
from femopt.physics import HeatConduction, LinearElasticity, NeoHookean

E, NU = 10.0, 0.25


@pytest.fixture(scope="module")
def plate():
    """[0, 2] x [0, 1], plane stress, solved once (for the state-based tests)."""
    mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(4, 2), cell="quad4")
    pb = fo.Problem(mesh, LinearElasticity(E=E, nu=NU, plane="stress"))
    pb.fix("xmin").traction("xmax", [0.0, -0.1]).point_load(lambda x: np.isclose(x[:, 0], 2.0)
                                                              & np.isclose(x[:, 1], 1.0), [0.05, 0.0],
                                                              name="tip")
    pb.solve()
    return pb


def affine(pb, a, b, c, d, e, f):
    """u_x = a + b x + c y, u_y = d + e x + f y as a flat dof vector."""
    x, y = pb.mesh.points.T
    return np.stack([a + b * x + c * y, d + e * x + f * y], axis=1).ravel()


def test_volume_and_mass(plate):
    assert F.volume()(plate) == pytest.approx(2.0, rel=1e-14)
    assert F.volume(cells=[0, 1])(plate) == pytest.approx(0.5, rel=1e-14)
    cells = np.arange(plate.mesh.n_cells, dtype=float)
    mass = F.mass(plate, density="E")
    assert mass(plate, u=plate.state.u, params={"E": cells}) == pytest.approx(0.25 * cells.sum(), rel=1e-14)
    x = plate.mesh.points[:, 0]
    # nodal E = 1 + x: ∫ (1 + x) dx dy over [0, 2] x [0, 1] = 4 (bilinear interpolation is exact)
    assert mass(plate, u=plate.state.u, params={"E": 1.0 + x}) == pytest.approx(4.0, rel=1e-14)
    assert mass(plate, u=plate.state.u, params={"E": 3.0}) == pytest.approx(6.0, rel=1e-14)


def test_point_value_boundary_average_and_mean_of_an_affine_field(plate):
    u = affine(plate, 0.1, 0.2, -0.3, 0.05, 0.4, 0.7)
    assert F.point_value(plate, [1.3, 0.35], component=0)(plate, u=u) == pytest.approx(
        0.1 + 0.2 * 1.3 - 0.3 * 0.35, rel=1e-13)
    assert F.boundary_average(plate, "xmax", component=1)(plate, u=u) == pytest.approx(
        0.05 + 0.4 * 2.0 + 0.7 * 0.5, rel=1e-13)
    assert F.mean(plate, component=0)(plate, u=u) == pytest.approx(0.1 + 0.2 * 1.0 - 0.3 * 0.5, rel=1e-13)


def test_p_norm_closed_form_and_limit():
    mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(4, 2), cell="quad4")
    pb = fo.Problem(mesh, HeatConduction(k=1.0))
    x = mesh.points[:, 0]
    # (1/|Ω| ∫ x² dx)^(1/2) = sqrt(4/3), integrated exactly by the 2x2 Gauss rule
    assert F.p_norm(pb, p=2.0)(pb, u=x) == pytest.approx(np.sqrt(4.0 / 3.0), rel=1e-13)
    assert F.p_norm(pb, p=7.0)(pb, u=np.full(mesh.n_nodes, -3.0)) == pytest.approx(3.0, rel=1e-13)
    # → max |u| = 2 as p grows: exactly 2 (p + 1)^(−1/p), up to the quadrature error
    norms = [F.p_norm(pb, p=p)(pb, u=x) for p in (8.0, 64.0)]
    assert norms[0] < norms[1] < 2.0
    assert norms[1] == pytest.approx(2.0 * 65.0 ** (-1.0 / 64.0), rel=0.03)


def test_von_mises_aggregates_of_uniaxial_stress(plate):
    eps = 1e-3
    u = affine(plate, 0.0, eps, 0.0, 0.0, 0.0, -NU * eps)     # plane stress: σ_xx = E ε only
    for J in (F.von_mises_p_norm(p=4.0), F.von_mises_p_norm(p=16.0), F.von_mises_ks(rho=50.0)):
        assert J(plate, u=u) == pytest.approx(E * eps, rel=1e-10)
    # a weight field scales the stress
    weight = F.von_mises_p_norm(p=2.0, weight="E")
    assert weight(plate, u=u, params={"E": E}) == pytest.approx(E * E * eps, rel=1e-10)


def test_von_mises_of_shear_in_3d_and_of_a_hyperelastic_stretch():
    mesh = fo.mesh.box(size=(1.0, 1.0, 1.0), shape=(1, 1, 1), cell="hex8")
    lin = fo.Problem(mesh, LinearElasticity(E=E, nu=NU))
    x, y, z = mesh.points.T
    gamma = 1e-3
    shear = np.stack([gamma * y, 0 * x, 0 * x], axis=1).ravel()
    mu = E / (2 * (1 + NU))
    assert F.von_mises_ks(rho=10.0)(lin, u=shear) == pytest.approx(np.sqrt(3) * mu * gamma, rel=1e-10)
    hyper = fo.Problem(mesh, NeoHookean.from_young(E, NU))
    eps = 1e-6
    stretch = np.stack([eps * x, -NU * eps * y, -NU * eps * z], axis=1).ravel()
    assert F.von_mises_p_norm(p=4.0)(hyper, u=stretch) == pytest.approx(E * eps, rel=1e-5)


def test_compliance_is_the_work_of_every_external_load(plate):
    u = plate.state.u
    f = np.asarray(plate.external_loads(plate.parameters(), plate.mesh.points))
    assert F.compliance()(plate) == pytest.approx(float(f @ u), rel=1e-14)
    tip = plate.mesh.nodes(lambda x: np.isclose(x[:, 0], 2.0) & np.isclose(x[:, 1], 1.0))[0]
    traction_work = 0.0 - 0.1 * F.boundary_average(plate, "xmax", component=1)(plate) * 1.0
    assert F.compliance()(plate) == pytest.approx(traction_work + 0.05 * u[2 * tip], rel=1e-12)


def test_thermal_compliance_leaves_convection_out():
    mesh = fo.mesh.rectangle(size=(1.0, 0.5), shape=(4, 2), cell="quad4")
    pb = fo.Problem(mesh, HeatConduction(k=1.0))
    pb.fix("xmin").heat_source(2.0).heat_flux("ymax", 3.0).convection("xmax", h=1.0, ambient=5.0)
    T = pb.solve()
    expected = 2.0 * F.mean(pb)(pb) * 0.5 + 3.0 * F.boundary_average(pb, "ymax")(pb) * 1.0
    assert F.thermal_compliance()(pb) == pytest.approx(expected, rel=1e-12)
    assert T.shape == (mesh.n_nodes,)


def test_misfit_closed_form(plate):
    u = affine(plate, 0.1, 0.2, -0.3, 0.05, 0.4, 0.7)
    points = np.array([[0.5, 0.5], [1.5, 0.25]])
    exact = np.array([[0.1 + 0.2 * px - 0.3 * py, 0.05 + 0.4 * px + 0.7 * py] for px, py in points])
    data = exact + np.array([[0.01, -0.02], [0.03, 0.0]])
    weights = np.array([[1.0, 2.0], [3.0, 4.0]])
    J = F.misfit(plate, points, data, weights=weights)
    assert J(plate, u=u) == pytest.approx(0.5 * np.sum(weights * (exact - data) ** 2), rel=1e-12)
    one = F.misfit(plate, points, data[:, 1], weights=2.0, component=1)
    assert one(plate, u=u) == pytest.approx(0.5 * 2.0 * np.sum((exact[:, 1] - data[:, 1]) ** 2), rel=1e-12)


def test_point_probe_on_quadratic_cells_is_exact_for_quadratic_fields():
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(2, 2), cell="quad8")
    probe = F.PointProbe(mesh, [[0.33, 0.71], [0.9, 0.1]])
    x, y = mesh.points.T
    values = np.asarray(probe.values(fo.Problem(mesh, HeatConduction()), x**2 + x * y - y**2))[:, 0]
    expected = [0.33**2 + 0.33 * 0.71 - 0.71**2, 0.81 + 0.09 - 0.01]
    np.testing.assert_allclose(values, expected, rtol=1e-12)


def test_sums_scaling_and_your_own_functional(plate):
    C, V = F.compliance(), F.volume()
    combo = 2.0 * C - V + 0.5 * V
    assert combo(plate) == pytest.approx(2.0 * C(plate) - 0.5 * V(plate), rel=1e-14)

    def energy_norm(problem, u, params, X):
        import jax.numpy as jnp
        return jnp.sum(F.integrate_cells(problem, lambda g, uu, x, p: jnp.sum(g * g), u, params, X))

    J = F.from_function(energy_norm)
    u = affine(plate, 0.0, 0.1, 0.2, 0.0, 0.3, 0.4)
    assert J(plate, u=u) == pytest.approx(2.0 * (0.01 + 0.04 + 0.09 + 0.16), rel=1e-13)
    edge = F.integrate_facets(plate, plate.mesh.facets("xmax"), lambda uu, x, n, p: n[0], u,
                              plate.parameters(), plate.mesh.points)
    assert float(np.sum(edge)) == pytest.approx(1.0, rel=1e-14)   # ∫ n_x over the right side


def test_call_solves_at_the_requested_parameters(plate):
    C = F.compliance()
    base = C(plate)
    stiffer = C(plate, params={"E": 2 * E})
    assert stiffer == pytest.approx(base / 2, rel=1e-12)
    assert C(plate, params={"E": E}) == pytest.approx(base, rel=1e-12)


def test_bad_arguments_are_named(plate):
    with pytest.raises(fo.InputError, match="pass component"):
        F.point_value(plate, [0.5, 0.5])
    with pytest.raises(fo.InputError, match="out of range"):
        F.mean(plate, component=2)
    with pytest.raises(fo.InputError, match="not inside the mesh"):
        F.point_value(plate, [5.0, 0.5], component=0)
    with pytest.raises(fo.InputError, match="observations have shape"):
        F.misfit(plate, [[0.5, 0.5]], [1.0, 2.0, 3.0])
    with pytest.raises(fo.InputError, match="is not a parameter"):
        F.mass(plate, density="rho")
    with pytest.raises(fo.InputError, match="needs an elasticity physics"):
        heat = fo.Problem(plate.mesh, HeatConduction())
        F.von_mises_ks()(heat, u=np.zeros(plate.mesh.n_nodes))
