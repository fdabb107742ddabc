"""The references themselves: each exact solution of the catalogue satisfies its field
equations and boundary conditions (checked by finite differences, independently of the
finite-element code), and the tools of the cases do what they claim."""
import numpy as np
import pytest

import femopt as fo
from femopt.benchmarks import (cases_common, cases_elasticity as ce, cases_heat as ch,
                               cases_hyperelastic as chy, cases_lame as cl, cases_patch as cp,
                               cases_sensitivity as cs)

STEP = 1e-5


def _gradient(f, x, step=STEP):
    """Central differences of f: (m, dim) -> (m, k); returns (m, k, dim)."""
    cols = []
    for j in range(x.shape[1]):
        e = np.zeros(x.shape[1])
        e[j] = step
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * step))
    return np.stack(cols, axis=-1)


def _points(rng, low, high, n=20):
    return rng.uniform(low, high, size=(n, len(low)))


# ------------------------------------------------------------------ elasticity
def test_cantilever_solution_satisfies_hooke_equilibrium_and_loads():
    rng = np.random.default_rng(1)
    x = _points(rng, [0.0, -ce.D / 2], [ce.L, ce.D / 2])
    grad = _gradient(ce.cantilever_displacement, x)
    stress = cases_common.hooke_stress(grad, ce.E, ce.NU, plane="stress")
    exact = np.asarray(ce.cantilever_stress(x))
    np.testing.assert_allclose(stress[:, 0, 0], exact[:, 0], atol=1e-7)
    np.testing.assert_allclose(stress[:, 1, 1], exact[:, 1], atol=1e-7)
    np.testing.assert_allclose(stress[:, 0, 1], exact[:, 2], atol=1e-7)
    div = _gradient(lambda p: np.asarray(ce.cantilever_stress(p)), x)
    np.testing.assert_allclose(div[:, 0, 0] + div[:, 2, 1], 0.0, atol=1e-6)
    np.testing.assert_allclose(div[:, 2, 0] + div[:, 1, 1], 0.0, atol=1e-6)
    # Free top and bottom, the end shear sums to P, and u = 0 at the centre of x = 0.
    edges = np.array([[3.0, ce.D / 2], [7.0, -ce.D / 2]])
    np.testing.assert_allclose(np.asarray(ce.cantilever_stress(edges))[:, 1:], 0.0, atol=1e-12)
    y, w = np.polynomial.legendre.leggauss(4)
    end = np.stack([np.full(4, ce.L), y * ce.D / 2], axis=1)
    assert np.sum(w * ce.D / 2 * np.asarray(ce.cantilever_stress(end))[:, 2]) == pytest.approx(ce.P)
    np.testing.assert_allclose(ce.cantilever_displacement(np.array([[0.0, 0.0]])), 0.0, atol=1e-15)


def test_kirsch_solution_free_hole_concentration_three_far_field():
    theta = np.linspace(0.0, np.pi / 2, 7)
    hole = ce.HOLE * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    s = np.asarray(ce.kirsch_stress(hole))
    traction = np.stack([s[:, 0] * np.cos(theta) + s[:, 2] * np.sin(theta),
                         s[:, 2] * np.cos(theta) + s[:, 1] * np.sin(theta)], axis=1)
    np.testing.assert_allclose(traction, 0.0, atol=1e-12)
    assert np.asarray(ce.kirsch_stress(np.array([0.0, ce.HOLE])))[0] == pytest.approx(3.0 * ce.SIGMA)
    assert np.asarray(ce.kirsch_stress(np.array([ce.HOLE, 0.0])))[1] == pytest.approx(-ce.SIGMA)
    np.testing.assert_allclose(ce.kirsch_stress(np.array([1e4, 2e4])), [ce.SIGMA, 0.0, 0.0], atol=1e-6)
    rng = np.random.default_rng(2)
    x = _points(rng, [1.2, 0.3], [3.0, 3.0])
    div = _gradient(lambda p: np.asarray(ce.kirsch_stress(p)), x)
    np.testing.assert_allclose(div[:, 0, 0] + div[:, 2, 1], 0.0, atol=1e-6)
    np.testing.assert_allclose(div[:, 2, 0] + div[:, 1, 1], 0.0, atol=1e-6)


def _radial_stress(u_r, r, lame_lambda, mu, n_hoop):
    """σ_rr from u_r(r): (λ + 2μ) u' + λ n u / r (n = 1 cylinder in plane strain, 2 sphere)."""
    du = (u_r(r + STEP) - u_r(r - STEP)) / (2 * STEP)
    return (lame_lambda + 2 * mu) * du + lame_lambda * n_hoop * u_r(r) / r


@pytest.mark.parametrize("shape", ["cylinder", "sphere"])
def test_lame_solutions_carry_the_pressure(shape):
    lame_lambda, mu = fo.physics.lame_parameters(cl.E, cl.NU)
    u_r, n = ((cl.cylinder_radial_displacement, 1) if shape == "cylinder" else (cl.sphere_radial_displacement, 2))
    a, b = cl.RADII
    assert _radial_stress(u_r, a, lame_lambda, mu, n) == pytest.approx(-cl.PRESSURE, rel=1e-7)
    assert _radial_stress(u_r, b, lame_lambda, mu, n) == pytest.approx(0.0, abs=1e-7)
    if shape == "cylinder":
        hoop = lame_lambda * ((u_r(a + STEP) - u_r(a - STEP)) / (2 * STEP)) + (lame_lambda + 2 * mu) * u_r(a) / a
        assert hoop == pytest.approx(cl.cylinder_hoop_stress(a), rel=1e-7)
        x = np.array([[1.3, 0.4]])
        s = cl.cylinder_stress(x)[0]
        assert s[0] + s[1] == pytest.approx(_radial_stress(u_r, np.hypot(*x[0]), lame_lambda, mu, 1)
                                            + cl.cylinder_hoop_stress(np.hypot(*x[0])), rel=1e-6)


def test_inner_radius_derivative_matches_finite_differences():
    h = 1e-6
    fd = (cl.cylinder_radial_displacement(cl.RADII[0], a=cl.RADII[0] + h)
          - cl.cylinder_radial_displacement(cl.RADII[0], a=cl.RADII[0] - h)) / (2 * h)
    # u_r(a) moves with the radius itself: d/da [u_r(r = a; a)] = ∂u/∂r + ∂u/∂a
    dr = (cl.cylinder_radial_displacement(cl.RADII[0] + h) - cl.cylinder_radial_displacement(cl.RADII[0] - h)) / (2 * h)
    assert cs.inner_displacement_derivative() == pytest.approx(fd + dr, rel=1e-6)


def test_shape_velocity_moves_the_bore_and_keeps_the_outside():
    points = np.array([[cl.RADII[0], 0.0], [0.0, cl.RADII[1]], [1.2, 0.9]])
    v = cs.shape_velocity(points)
    np.testing.assert_allclose(v[0], [1.0, 0.0])
    np.testing.assert_allclose(v[1], [0.0, 0.0])


# ------------------------------------------------------------------------- heat
@pytest.mark.parametrize("dim", [2, 3])
def test_manufactured_source_and_gradient(dim):
    rng = np.random.default_rng(dim)
    x = _points(rng, [0.1] * dim, [0.9] * dim)
    grad = _gradient(lambda p: ch.manufactured_temperature(p)[:, None], x)[:, 0, :]
    np.testing.assert_allclose(ch.manufactured_gradient(x), grad, atol=1e-8)
    laplacian = sum(_gradient(lambda p, j=j: ch.manufactured_gradient(p)[:, j:j + 1], x)[:, 0, j] for j in range(dim))
    np.testing.assert_allclose(ch.manufactured_source(x), -ch.CONDUCTIVITY * laplacian, rtol=1e-6, atol=1e-6)


def test_slab_solution_solves_its_ode_and_boundary_conditions():
    s = ch.SLAB
    x = np.linspace(0.1, 0.9, 5)
    d2 = (ch.slab_temperature(x + 1e-4) - 2 * ch.slab_temperature(x) + ch.slab_temperature(x - 1e-4)) / 1e-8
    np.testing.assert_allclose(-s["k"] * d2, s["source"], rtol=1e-5)
    assert ch.slab_temperature(0.0) == pytest.approx(s["T0"])
    L = s["length"]
    dT = (ch.slab_temperature(L + STEP) - ch.slab_temperature(L - STEP)) / (2 * STEP)
    assert -s["k"] * dT == pytest.approx(s["h"] * (ch.slab_temperature(L) - s["ambient"]), rel=1e-8)


def test_robin_slab_derivative_in_h():
    s = ch.SLAB
    h = 1e-6
    fd = (ch.slab_temperature(s["length"], h=s["h"] + h) - ch.slab_temperature(s["length"], h=s["h"] - h)) / (2 * h)
    q, k, L, drop = s["source"], s["k"], s["length"], s["T0"] - s["ambient"]
    assert fd == pytest.approx(-L * (q * L ** 2 / 2 + k * drop) / (k + s["h"] * L) ** 2, rel=1e-6)


# ------------------------------------------------------------------ hyperelastic
def test_uniaxial_reference_has_free_lateral_faces_and_matches_the_law():
    lateral, piola = chy.uniaxial_reference()
    F = np.diag([chy.STRETCH, lateral, lateral])
    P = np.asarray(fo.physics.NeoHookean().first_piola(F, {"mu": chy.MU, "lmbda": chy.LMBDA}))
    assert P[1, 1] == pytest.approx(0.0, abs=1e-12)
    assert P[0, 0] == pytest.approx(piola, rel=1e-12)
    Finv_T = np.linalg.inv(F).T
    closed = chy.MU * (F - Finv_T) + chy.LMBDA * np.log(np.linalg.det(F)) * Finv_T
    np.testing.assert_allclose(P, closed, atol=1e-12)


class _History:
    def __init__(self, norms):
        self.residual_history = list(norms)


def test_newton_order_tells_quadratic_from_linear():
    assert chy.newton_order(_History([1.0, 1e-1, 1e-2, 1e-4, 1e-8])) == pytest.approx(2.0)
    assert chy.newton_order(_History([1.0, 0.5, 0.25, 0.125])) == pytest.approx(1.5)
    # an iterate at round-off does not count
    assert chy.newton_order(_History([1.0, 1e-3, 1e-6, 1e-15])) == pytest.approx(2.0)


# ---------------------------------------------------------------------- tools
def test_distorted_mesh_moves_interior_corners_and_keeps_edges_straight():
    base = fo.mesh.rectangle(size=(1.0, 1.0), shape=(4, 4), cell="tri6")
    mesh = cases_common.distorted(base, amplitude=0.05)
    boundary = cases_common.boundary_nodes(base)
    np.testing.assert_array_equal(mesh.points[boundary], base.points[boundary])
    corners = np.setdiff1d(np.unique(base.cells[:, :3]), boundary)
    assert np.all(np.linalg.norm(mesh.points[corners] - base.points[corners], axis=1) > 0)
    mids = mesh.points[mesh.cells[:, 3]]
    np.testing.assert_allclose(mids, 0.5 * (mesh.points[mesh.cells[:, 0]] + mesh.points[mesh.cells[:, 1]]))


def test_patch_test_can_fail():
    """A quadratic field is outside the linear elements' space: the test sees it."""
    error = cp.patch_error("quad4", "heat", exact=lambda x: 1.0 + x[..., 0] ** 2)
    assert error > 1e-4


@pytest.mark.parametrize("cell", ["quad8", "tri6"])
def test_l2_error_of_a_represented_field_is_zero(cell):
    # quadratics are in the space of affine cells: the distorted triangles, an undistorted quad8 mesh
    mesh = cp.patch_mesh(cell) if cell == "tri6" else fo.mesh.rectangle(shape=(3, 3), cell=cell)
    field = lambda x: 1.0 + x[..., 0] * x[..., 1] + x[..., 1] ** 2
    error, norm = cases_common.l2_error(mesh, field(mesh.points), field)
    assert error < 1e-13 * norm
    shifted, _ = cases_common.l2_error(mesh, field(mesh.points) + 0.5, field)
    assert shifted == pytest.approx(0.5, rel=1e-12)          # |Ω| = 1


def test_nodal_gradients_of_a_linear_field_are_exact():
    mesh = cp.patch_mesh("hex20")
    grad = cases_common.nodal_gradients(mesh, mesh.points @ cp._B.T)
    np.testing.assert_allclose(grad, np.broadcast_to(cp._B, grad.shape), atol=1e-12)


@pytest.mark.parametrize("cell", ["hex8", "hex20"])
def test_hollow_sphere_octant_mesh(cell):
    mesh = cl.hollow_sphere_octant(1, 2, cell)
    r = np.linalg.norm(mesh.points, axis=1)
    assert np.all((r > cl.RADII[0] - 1e-12) & (r < cl.RADII[1] + 1e-12))
    assert np.all(mesh.points > -1e-14)
    assert mesh.n_cells == 12
    _, root_volume = cases_common.l2_error(mesh, np.ones(mesh.n_nodes), lambda x: np.ones(len(x)))
    exact = np.pi / 6 * (cl.RADII[1] ** 3 - cl.RADII[0] ** 3)
    # flat-faced hex8 cut the corners; hex20 follow the sphere
    assert root_volume ** 2 == pytest.approx(exact, rel=0.1 if cell == "hex8" else 2e-3)
