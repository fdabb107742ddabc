"""Adjoint vs direct, the method rule, directional derivatives, and closed forms."""
import numpy as np
import pytest

import femopt as fo
from sensitivity_cases import CASES, CHECKED, case, functionals
from femopt import functionals as F
from femopt.physics import HeatConduction, LinearElasticity
from femopt.sensitivity import (choose_method, directional_derivative, gradient, state_derivative,
                                value_and_grad)


def _few_inputs(c):
    """Global parameters and prescribed values: few scalars, so direct is affordable."""
    return [n for n, v in c.params.items() if getattr(v, "kind", None) is None] + ["prescribed"]


# the 2D cases compile the tangent (jvp) kernels for the Hessian tests anyway
@pytest.mark.parametrize("case_name", [c if c.endswith("2d") else pytest.param(c, marks=pytest.mark.slow)
                                       for c in CASES])
def test_adjoint_and_direct_agree_to_roundoff(case_name):
    c = case(case_name)
    c.at_base()
    names = _few_inputs(c)
    J = [functionals(case_name)[name] for name in CHECKED[case_name][:2]]
    adjoint = gradient(J, c.problem, wrt=names, params=c.params, method="adjoint")
    direct = gradient(J, c.problem, wrt=names, params=c.params, method="direct")
    for a, d in zip(adjoint, direct):
        assert (a.method, d.method) == ("adjoint", "direct")
        assert a.value == d.value
        for n in names:
            scale = np.max(np.abs(a[n])) + 1e-300
            np.testing.assert_allclose(d[n], a[n], rtol=0, atol=1e-10 * scale, err_msg=n)


def test_direct_gradient_of_fields_and_coordinates_matches_adjoint():
    c = case("elastic2d")
    c.at_base()
    J = functionals("elastic2d")["von_mises_p_norm"]
    names = ["E", "coordinates"]
    a = gradient(J, c.problem, wrt=names, params=c.params, method="adjoint")
    d = gradient(J, c.problem, wrt=names, params=c.params, method="direct")
    for n in names:
        np.testing.assert_allclose(d[n], a[n], rtol=1e-9, atol=1e-12 * np.abs(a[n]).max())


def test_auto_rule_counts_inputs_and_outputs():
    assert choose_method(n_inputs=1000, n_outputs=1) == "adjoint"
    assert choose_method(n_inputs=1, n_outputs=1) == "adjoint"
    assert choose_method(n_inputs=2, n_outputs=3) == "direct"
    c = case("elastic2d")
    c.at_base()
    fs = functionals("elastic2d")
    many = [fs["compliance"], fs["misfit"], fs["point_value"]]
    assert {g.method for g in gradient(many, c.problem, wrt="nu", params=c.params)} == {"direct"}
    assert gradient(fs["compliance"], c.problem, wrt="E", params=c.params).method == "adjoint"


def test_list_of_functionals_equals_one_by_one():
    c = case("hyper2d")
    c.at_base()
    fs = functionals("hyper2d")
    together = gradient([fs["misfit"], fs["mean"]], c.problem, wrt=["mu", "coordinates"], params=c.params)
    for J, g in zip([fs["misfit"], fs["mean"]], together):
        alone = gradient(J, c.problem, wrt=["mu", "coordinates"], params=c.params)
        for n in ("mu", "coordinates"):
            np.testing.assert_allclose(g[n], alone[n], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case_name", ["hyper2d", "heat2d"])
def test_directional_derivative_is_gradient_dot_direction(case_name):
    c = case(case_name)
    c.at_base()
    J = functionals(case_name)[CHECKED[case_name][0]]
    names = list(c.params) + ["prescribed", "coordinates"]
    g = gradient(J, c.problem, wrt=names, params=c.params)
    direction = {n: c.directions[n] for n in names}
    value, dJ = directional_derivative(J, c.problem, direction, params=c.params)
    assert value == pytest.approx(g.value, rel=1e-14)
    expected = sum(float(np.sum(g[n] * direction[n])) for n in names)
    assert dJ == pytest.approx(expected, rel=1e-9)


def test_state_derivative_matches_finite_difference_of_solves():
    c = case("heat2d")
    direction = {"k": c.directions["k"], "source": 3.0}
    du = state_derivative(c.problem, direction, params=c.params)
    h = 1e-6
    x = c.base(["k", "source"])
    plus = c.solve({n: x[n] + h * np.asarray(direction[n]) for n in x})
    minus = c.solve({n: x[n] - h * np.asarray(direction[n]) for n in x})
    np.testing.assert_allclose(np.ravel(du), (plus - minus) / (2 * h), rtol=1e-6, atol=1e-8)


# -- closed forms ----------------------------------------------------------------------
def _bar(E=10.0, length=4.0):
    """Plane-stress bar (nu = 0) pulled by an end traction t (force per area): u = t x / E,
    compliance C = (t H)(t L / E) = t² L H / E, height H = 1."""
    mesh = fo.mesh.rectangle(size=(length, 1.0), shape=(4, 1), cell="quad4")
    pb = fo.Problem(mesh, LinearElasticity(E=E, nu=0.0, plane="stress"))
    pb.fix("xmin", components=0).fix(lambda x: np.isclose(x[:, 0], 0) & np.isclose(x[:, 1], 0), components=1)
    pb.traction("xmax", [2.0, 0.0])
    pb.solve()
    return pb


def test_compliance_of_a_bar_closed_form_in_every_quantity():
    E, L, t = 10.0, 4.0, 2.0
    pb = _bar(E, L)
    g = gradient(F.compliance(), pb, wrt=["E", "nu", "traction", "coordinates"])
    C = t**2 * L / E
    assert g.value == pytest.approx(C, rel=1e-12)
    assert g["E"] == pytest.approx(-C / E, rel=1e-12)                # C ∝ 1/E
    np.testing.assert_allclose(g["traction"], [2 * C / t, 0.0], atol=1e-12)   # C ∝ t²
    # Stretching the bar (x → (1 + s) x) scales C like L: dC/ds = Σ dC/dX · x = C / L · L.
    x = pb.mesh.points[:, 0]
    assert float(np.sum(g["coordinates"][:, 0] * x)) == pytest.approx(C, rel=1e-10)
    # Thickening it (y → (1 + s) y) adds end area under the same traction: C ∝ H.
    y = pb.mesh.points[:, 1]
    assert float(np.sum(g["coordinates"][:, 1] * y)) == pytest.approx(C, rel=1e-10)


def test_global_gradient_is_the_sum_of_the_field_gradient():
    pb = _bar()
    J = F.p_norm(pb, p=4.0, component=0)
    field = gradient(J, pb, wrt="E", params={"E": np.full(pb.mesh.n_cells, 10.0)})["E"]
    scalar = gradient(J, pb, wrt="E", params={"E": 10.0})["E"]
    assert field.shape == (pb.mesh.n_cells,)
    assert float(scalar) == pytest.approx(float(field.sum()), rel=1e-12)


def test_nonzero_prescribed_displacement_closed_form():
    # A bar (nu = 0) with prescribed axial end displacements a at x = 0 and b at x = L:
    # u = a + (b − a) x / L, mean axial displacement (a + b) / 2. So the gradient summed
    # over either end's axial dofs is 1/2, and the transverse dofs do not matter.
    mesh = fo.mesh.rectangle(size=(4.0, 1.0), shape=(4, 1), cell="quad4")
    pb = fo.Problem(mesh, LinearElasticity(E=10.0, nu=0.0, plane="stress"))
    pb.fix("xmin", value=0.1, components=0).fix(lambda x: np.isclose(x[:, 0], 0) & np.isclose(x[:, 1], 0),
                                                components=1)
    pb.fix("xmax", value=0.3, components=0)
    pb.solve()
    g = gradient(F.mean(pb, component=0), pb, wrt="prescribed")
    assert g.value == pytest.approx(0.2, rel=1e-12)
    dofs = pb.partition.prescribed
    axial = dofs % 2 == 0
    for side in ("xmin", "xmax"):
        on_side = np.isin(dofs // 2, mesh.nodes(side)) & axial
        assert float(g["prescribed"][on_side].sum()) == pytest.approx(0.5, rel=1e-12)
    np.testing.assert_allclose(g["prescribed"][~axial], 0.0, atol=1e-12)


def test_thermal_compliance_of_a_slab_closed_form():
    # −k T'' = q, T(0) = 0, insulated at L: thermal compliance ∫ q T = q² L³ / (3 k) per
    # unit height, so dC/dk = −C/k and dC/dq = 2C/q.
    k, q, L = 2.0, 3.0, 1.0
    mesh = fo.mesh.rectangle(size=(L, 1.0), shape=(8, 1), cell="quad9")
    pb = fo.Problem(mesh, HeatConduction(k=k))
    pb.fix("xmin").heat_source(q, name="q")
    g = gradient(F.thermal_compliance(), pb, wrt=["k", "q"])
    C = q**2 * L**3 / (3 * k)
    assert g.value == pytest.approx(C, rel=1e-12)
    assert float(g["k"]) == pytest.approx(-C / k, rel=1e-12)
    assert float(g["q"]) == pytest.approx(2 * C / q, rel=1e-12)


def test_value_and_grad_shapes():
    c = case("elastic2d")
    c.at_base()
    J = functionals("elastic2d")["compliance"]
    value, g = value_and_grad(J, c.problem, wrt="E", params=c.params)
    assert np.shape(g) == (c.mesh.n_cells,)
    value2, grads = value_and_grad(J, c.problem, wrt=["nu", "prescribed"], params=c.params)
    assert value2 == value and set(grads) == {"nu", "prescribed"}
    assert grads["prescribed"].shape == c.problem.partition.prescribed.shape


def test_bad_requests_are_named():
    c = case("elastic2d")
    J = functionals("elastic2d")["compliance"]
    with pytest.raises(fo.InputError, match="method must be one of"):
        gradient(J, c.problem, wrt="nu", params=c.params, method="reverse")
    with pytest.raises(fo.InputError, match="declare it as a parameter"):
        gradient(J, c.problem, wrt="thickness", params=c.params)
    with pytest.raises(fo.InputError, match="expected a femopt Functional"):
        gradient(lambda pb: 0.0, c.problem, wrt="nu", params=c.params)
    with pytest.raises(fo.InputError, match="direction for 'E' has shape"):
        directional_derivative(J, c.problem, {"E": np.ones(3)}, params=c.params)
