"""Problem: supports, loads, parameters, solve, state — against closed forms."""
import jax.numpy as jnp
import numpy as np
import pytest

import femopt as fo
from femopt.physics import HeatConduction, LinearElasticity, NeoHookean


def bar(cell="quad8", shape=(8, 2)):
    return fo.mesh.rectangle(size=(4.0, 1.0), shape=shape, cell=cell)


def test_bar_under_body_force_matches_closed_form():
    # 1D bar, fixed at x = 0, uniform axial body force b, lateral contraction free
    # (plane stress, nu = 0): u(x) = b / E (L x − x² / 2), exact for quadratic elements.
    mesh = bar()
    pb = fo.Problem(mesh, LinearElasticity(E=10.0, nu=0.0, plane="stress"))
    pb.fix("xmin", components=0).fix(lambda x: np.isclose(x[:, 1], 0.0), components=1)
    pb.body_force([2.0, 0.0])
    u = pb.solve()
    x = mesh.points[:, 0]
    np.testing.assert_allclose(u[:, 0], 2.0 / 10.0 * (4.0 * x - x**2 / 2), atol=1e-12)


def test_point_load_and_traction_give_the_same_resultant():
    mesh = bar(cell="quad4", shape=(8, 1))
    a = fo.Problem(mesh, LinearElasticity(E=1.0, nu=0.0, plane="stress"))
    a.fix("xmin").traction("xmax", [1.0, 0.0])
    b = fo.Problem(mesh, LinearElasticity(E=1.0, nu=0.0, plane="stress"))
    b.fix("xmin").point_load("xmax", [0.5, 0.0])  # two end nodes, height 1
    np.testing.assert_allclose(a.solve(), b.solve(), atol=1e-12)


def test_heat_slab_with_source_and_convection():
    # −k T'' = q on (0, L), T(0) = 0, −k T'(L) = h (T(L) − T∞): quadratic exact solution.
    k, q, h, Tinf, L = 2.0, 3.0, 5.0, 1.0, 1.0
    mesh = fo.mesh.rectangle(size=(L, 0.2), shape=(6, 1), cell="quad9")
    pb = fo.Problem(mesh, HeatConduction(k=k))
    pb.fix("xmin", 0.0).heat_source(q).convection("xmax", h=h, ambient=Tinf)
    T = pb.solve()
    # T = −q x²/(2k) + C x with C from the Robin condition.
    C = (q * L + h * (q * L**2 / (2 * k) + Tinf)) / (k + h * L)
    x = mesh.points[:, 0]
    np.testing.assert_allclose(T, -q * x**2 / (2 * k) + C * x, atol=1e-12)


def test_parameter_overrides_do_not_change_defaults():
    mesh = bar(cell="quad4", shape=(4, 1))
    pb = fo.Problem(mesh, LinearElasticity(E=1.0, nu=0.0, plane="stress"))
    pb.fix("xmin").traction("xmax", [1.0, 0.0])
    u1 = pb.solve()
    u2 = pb.solve({"E": 2.0})
    np.testing.assert_allclose(u2, u1 / 2.0, atol=1e-12)
    assert float(pb.params["E"]) == 1.0


def test_cell_and_nodal_parameter_fields():
    mesh = bar(cell="quad4", shape=(4, 1))
    pb = fo.Problem(mesh, LinearElasticity(E=1.0, nu=0.0, plane="stress"))
    pb.fix("xmin").traction("xmax", [1.0, 0.0])
    u_const = pb.solve()
    u_cell = pb.solve({"E": np.full(mesh.n_cells, 1.0)})
    u_node = pb.solve({"E": fo.nodal_field(np.full(mesh.n_nodes, 1.0))})
    np.testing.assert_allclose(u_cell, u_const, atol=1e-12)
    np.testing.assert_allclose(u_node, u_const, atol=1e-12)


def test_position_dependent_load_is_a_jax_function():
    # Linearly varying traction on the end: resultant moment changes the end rotation sign.
    mesh = bar(cell="quad8", shape=(8, 2))
    pb = fo.Problem(mesh, LinearElasticity(E=100.0, nu=0.3, plane="stress"))
    pb.fix("xmin").traction("xmax", lambda x: jnp.stack([x[1] - 0.5, 0.0 * x[0]]))
    u = pb.solve()
    end = mesh.nodes("xmax")
    top, bottom = end[np.argmax(mesh.points[end, 1])], end[np.argmin(mesh.points[end, 1])]
    assert u[top, 0] > 0 > u[bottom, 0]


def test_unknown_parameter_is_named():
    pb = fo.Problem(bar(cell="quad4", shape=(2, 1)), LinearElasticity())
    with pytest.raises(fo.InputError, match="unknown parameter 'young'"):
        pb.solve({"young": 1.0})


def test_wrong_field_length_is_named():
    mesh = bar(cell="quad4", shape=(2, 1))
    pb = fo.Problem(mesh, LinearElasticity())
    pb.fix("xmin")
    with pytest.raises(fo.InputError, match="'E' has shape \\(5,\\)"):
        pb.solve({"E": np.ones(5)})


def test_gradient_wrt_undeclared_value_is_refused():
    mesh = bar(cell="quad4", shape=(2, 1))
    pb = fo.Problem(mesh, LinearElasticity())
    pb.fix("xmin").traction("xmax", [1.0, 0.0])
    with pytest.raises(fo.InputError, match="declare it as a parameter"):
        fo.gradient(fo.functionals.compliance(), pb, wrt="thickness")


def test_newton_failure_keeps_the_last_converged_state():
    mesh = fo.mesh.box(size=(1, 1, 1), shape=(2, 2, 2), cell="hex8")
    pb = fo.Problem(mesh, NeoHookean(mu=1.0, lmbda=1.0), newton=fo.NewtonOptions(max_iterations=3))
    pb.fix("xmin").traction("xmax", [0.01, 0.0, 0.0])
    pb.solve()
    good = pb.state.u.copy()
    with pytest.raises(fo.NewtonError) as info:
        pb.solve({"traction": np.array([50.0, 0.0, 0.0])})  # far too large for 3 iterations
    assert info.value.history
    np.testing.assert_array_equal(pb.state.u, good)


def test_load_stepping_reaches_a_large_deformation():
    mesh = fo.mesh.box(size=(4, 1, 1), shape=(4, 1, 1), cell="hex8")
    pb = fo.Problem(mesh, NeoHookean(mu=10.0, lmbda=10.0))
    pb.fix("xmin").traction("xmax", [0.0, 0.0, -2.0])
    u = pb.solve(load_steps=4)
    assert pb.state is not None and -u[:, 2].min() > 0.5  # large deflection
    # The converged state satisfies equilibrium at the full load.
    r = pb.residual(pb.state.u)
    assert np.abs(r[pb.partition.free]).max() < 1e-8


def test_missing_supports_is_reported():
    pb = fo.Problem(bar(cell="quad4", shape=(2, 1)), LinearElasticity())
    pb.traction("xmax", [1.0, 0.0])
    with pytest.raises((fo.NewtonError, fo.SingularMatrixError)) as info:
        pb.solve()
    assert "singular" in str(info.value).lower()


def test_nonzero_prescribed_values_from_a_function():
    mesh = fo.mesh.rectangle(size=(1, 1), shape=(3, 3), cell="tri6")
    pb = fo.Problem(mesh, HeatConduction(k=1.0))
    boundary = np.unique(mesh.facet_nodes(mesh.boundary_facets()))
    pb.fix(boundary, lambda x: 1.0 + 2.0 * x[:, 0] - x[:, 1])
    T = pb.solve()
    np.testing.assert_allclose(T, 1.0 + 2.0 * mesh.points[:, 0] - mesh.points[:, 1], atol=1e-12)


def test_energy_line_search_solves_a_bending_cantilever_in_one_step():
    # With a residual-norm merit this case crawled (|r| 7.35e-2 -> 6.8e-2 in 30
    # iterations): good Newton steps raise |r| while lowering the potential energy.
    mesh = fo.mesh.rectangle(size=(10.0, 1.0), shape=(20, 2), cell="quad4")
    pb = fo.Problem(mesh, NeoHookean(mu=100.0, lmbda=150.0))
    pb.fix("xmin").traction("xmax", [0.0, -0.12])
    u = pb.solve()
    iterations = pb.state.newton[-1].iterations
    assert len(iterations) <= 15
    assert -u[:, 1].min() > 1.0  # a large deflection
