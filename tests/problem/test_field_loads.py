"""cell_field / nodal_field values are accepted by every load verb and by solve
overrides, and give the same answer as the equivalent plain or functional load."""
import numpy as np
import pytest

import femopt as fo

MESH = fo.mesh.rectangle(size=(2.0, 1.0), shape=(6, 3), cell="quad4")


def heat():
    problem = fo.Problem(MESH, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin")
    return problem


def elasticity():
    problem = fo.Problem(MESH, fo.physics.LinearElasticity())
    problem.fix("xmin")
    return problem


def linear(x):                                      # exactly interpolated by quad4
    return 1.0 + 0.5 * x[..., 0] - 0.25 * x[..., 1]


VECTOR = np.array([0.3, -1.0])
LOADS = {
    "heat_source": (heat, lambda p, v: p.heat_source(v), ()),
    "heat_flux": (heat, lambda p, v: p.heat_flux("xmax", v), ()),
    "convection": (heat, lambda p, v: p.convection("xmax", v, 1.0), ()),
    "body_force": (elasticity, lambda p, v: p.body_force(v), (2,)),
    "traction": (elasticity, lambda p, v: p.traction("xmax", v), (2,)),
    "pressure": (elasticity, lambda p, v: p.pressure("xmax", v), ()),
}


@pytest.mark.parametrize("load", sorted(LOADS))
def test_nodal_field_equals_the_function_it_interpolates(load):
    build, apply, shape = LOADS[load]
    nodal = linear(MESH.points)
    if shape:
        nodal = nodal[:, None] * VECTOR
        function = (lambda x: linear(x) * VECTOR) if load != "convection" else None
    else:
        function = linear
    reference = apply(build(), function if load != "convection" else 1.0)
    by_field = apply(build(), fo.nodal_field(nodal))
    if load == "convection":      # h as a field vs a constant: compare with a uniform field
        by_field = apply(build(), fo.nodal_field(np.ones(MESH.n_nodes)))
    np.testing.assert_allclose(by_field.solve(), reference.solve(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("load", sorted(LOADS))
def test_cell_field_equals_the_plain_per_cell_array(load):
    build, apply, shape = LOADS[load]
    values = 1.0 + np.arange(MESH.n_cells) / MESH.n_cells
    if shape:
        values = values[:, None] * VECTOR
    plain = apply(build(), values).solve()
    tagged = apply(build(), fo.cell_field(values)).solve()
    np.testing.assert_array_equal(tagged, plain)
    problem = apply(build(), values * 0.0 if np.ndim(values) else 0.0)
    name = [n for n in problem.params if n.startswith(load)][0]
    np.testing.assert_array_equal(problem.solve({name: fo.cell_field(values)}), plain)


def test_gradient_with_respect_to_a_tagged_load():
    problem = heat().heat_source(fo.cell_field(np.ones(MESH.n_cells)))
    compliance = fo.functionals.compliance()
    value, grad = fo.value_and_grad(compliance, problem, wrt="heat_source")
    assert grad.shape == (MESH.n_cells,)
    e = np.zeros(MESH.n_cells)
    e[3] = 1e-6
    plus = compliance(problem, params={"heat_source": fo.cell_field(np.ones(MESH.n_cells) + e)})
    minus = compliance(problem, params={"heat_source": fo.cell_field(np.ones(MESH.n_cells) - e)})
    assert grad[3] == pytest.approx((plus - minus) / 2e-6, rel=1e-6)


def test_heat_source_cells_by_tag():
    mesh = MESH.tag_cells("left", lambda x: x[:, 0] < 1.0)
    problem = fo.Problem(mesh, fo.physics.HeatConduction())
    problem.fix("xmin")
    problem.heat_source(2.0, cells="left")
    by_ids = fo.Problem(mesh, fo.physics.HeatConduction())
    by_ids.fix("xmin")
    by_ids.heat_source(2.0, cells=mesh.cell_tags["left"])
    np.testing.assert_array_equal(problem.solve(), by_ids.solve())
