"""Invalid material constants, fields, loads and prescribed values are refused where they
enter, naming the parameter, the ids and the admissible range (they used to solve to a
plausible wrong answer, e.g. a negative compliance)."""
import numpy as np
import pytest

import femopt as fo
from femopt.physics.admissible import positive


@pytest.fixture
def mesh():
    return fo.mesh.rectangle(size=(2.0, 1.0), shape=(6, 3), cell="quad4")


def elasticity(mesh, **kwargs):
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(**kwargs))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, -1.0])
    return problem


@pytest.mark.parametrize("kwargs, match", [
    ({"E": -1.0}, r"E = -1 is not admissible; admissible: 0 < E"),
    ({"E": 0.0}, r"0 < E"),
    ({"nu": 0.6}, r"nu = 0.6 is not admissible; admissible: -1 < nu < 0.5"),
    ({"nu": 0.5}, r"-1 < nu < 0.5"),
    ({"nu": -1.5}, r"-1 < nu < 0.5"),
])
def test_invalid_constants_are_refused_at_construction(mesh, kwargs, match):
    with pytest.raises(fo.ParameterError, match=match) as info:
        fo.Problem(mesh, fo.physics.LinearElasticity(**kwargs))
    assert info.value.name in kwargs


def test_plane_stress_admits_nu_up_to_one(mesh):
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(nu=0.7, plane="stress"))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, -1.0])
    u = problem.solve()
    assert np.isfinite(u).all() and u[:, 1].min() < 0
    with pytest.raises(fo.ParameterError, match="-1 < nu < 1"):
        problem.solve({"nu": 1.0})


def test_plane_stress_on_a_3d_mesh_is_refused():
    mesh = fo.mesh.box(size=(1, 1, 1), shape=(1, 1, 1), cell="hex8")
    with pytest.raises(fo.InputError, match="plane='stress'.*3D"):
        fo.Problem(mesh, fo.physics.LinearElasticity(plane="stress"))


def test_a_field_with_one_negative_entry_names_the_cell(mesh):
    problem = elasticity(mesh)
    E = np.ones(mesh.n_cells)
    E[7] = -2.0
    with pytest.raises(fo.ParameterError, match=r"'E' \(per cell\) is not admissible at 1 cell\(s\): ids \[7\]") as info:
        problem.solve({"E": E})
    assert info.value.ids == (7,) and info.value.where == "cell"
    assert problem.state is None


def test_zero_in_a_field_is_allowed_for_void_cells(mesh):
    problem = elasticity(mesh)
    E = np.ones(mesh.n_cells)
    E[[7, 9]] = 0.0                      # void cells whose nodes all touch solid ones
    u = problem.solve({"E": E})
    assert np.isfinite(u).all()


def test_per_node_poisson_ratio_names_the_nodes(mesh):
    problem = elasticity(mesh)
    nu = np.full(mesh.n_nodes, 0.3)
    nu[[3, 11]] = 0.55
    with pytest.raises(fo.ParameterError, match=r"per node.*ids \[3, 11\]"):
        problem.solve({"nu": fo.nodal_field(nu)})


def test_hyperelastic_bulk_modulus_rule():
    mesh = fo.mesh.box(size=(1, 1, 1), shape=(1, 1, 1), cell="hex8")
    fo.Problem(mesh, fo.physics.NeoHookean(mu=1.0, lmbda=-0.5))          # bulk 1/6 > 0: fine
    with pytest.raises(fo.ParameterError, match="lmbda \\+ 2 mu / 3 > 0"):
        fo.Problem(mesh, fo.physics.NeoHookean(mu=1.0, lmbda=-1.0))
    with pytest.raises(fo.ParameterError, match="0 < mu"):
        fo.Problem(mesh, fo.physics.StVenantKirchhoff(mu=-1.0, lmbda=1.0))


def test_conductivity_and_convection(mesh):
    with pytest.raises(fo.ParameterError, match="0 < k"):
        fo.Problem(mesh, fo.physics.HeatConduction(k=-3.0))
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    with pytest.raises(fo.ParameterError, match=r"convection.h.*0 <= convection.h"):
        problem.convection("xmax", -1.0, 20.0)
    nonlinear = fo.Problem(mesh, fo.physics.HeatConduction(k=-1.0, conductivity=lambda T, k: 2.0 + k * 0.1 * T))
    assert nonlinear.params["k"] == -1.0          # k is the user function's to interpret


@pytest.mark.parametrize("load", ["traction", "body_force", "point_load"])
def test_nan_in_a_load_is_named(mesh, load):
    problem = fo.Problem(mesh, fo.physics.LinearElasticity())
    problem.fix("xmin")
    value = np.array([0.0, np.nan])
    with pytest.raises(fo.ParameterError, match=rf"'{load}.*NaN or Inf at 1 entry\(s\): ids \[1\]"):
        if load == "traction":
            problem.traction("xmax", value)
        elif load == "body_force":
            problem.body_force(value)
        else:
            problem.point_load("xmax", value)
    assert load not in problem.params


def test_inf_in_a_field_override_names_the_nodes(mesh):
    problem = fo.Problem(mesh, fo.physics.HeatConduction())
    problem.fix("xmin")
    problem.heat_source(1.0)
    source = np.ones(mesh.n_nodes)
    source[5] = np.inf
    with pytest.raises(fo.ParameterError, match=r"'heat_source' \(per node\) is NaN or Inf.*ids \[5\]"):
        problem.solve({"heat_source": fo.nodal_field(source)})


def test_nan_in_prescribed_values_names_the_nodes(mesh):
    problem = fo.Problem(mesh, fo.physics.HeatConduction())
    with pytest.raises(fo.ParameterError, match=r"prescribed values are NaN or Inf at 1 node\(s\): ids \[0\]"):
        problem.fix("xmin", value=lambda x: np.where(x[:, 1] == 0.0, np.nan, 1.0))


@pytest.mark.parametrize("value, match", [
    ([1.0, 2.0, 3.0], r"value has shape \(3,\); expected a number, 2 number\(s\)"),
    (np.zeros((4, 2)), r"\(4, 2\).*one row per selected node: \(4, 2\)|shape \(4, 2\)"),
    ("left", "must be numbers"),
])
def test_fix_value_of_the_wrong_shape(mesh, value, match):
    problem = fo.Problem(mesh, fo.physics.LinearElasticity())
    if np.shape(value) == (4, 2):      # xmin has 4 nodes: this shape is right
        problem.fix("xmin", value=value)
        return
    with pytest.raises(fo.InputError, match=match):
        problem.fix("xmin", value=value)


def test_fix_accepts_one_value_per_node_for_one_component(mesh):
    problem = fo.Problem(mesh, fo.physics.LinearElasticity())
    problem.fix("xmin", value=np.arange(4.0), components=1)
    assert sorted(problem._dirichlet.values()) == [0.0, 1.0, 2.0, 3.0]


def test_custom_physics_rules():
    mesh = fo.mesh.rectangle(shape=(2, 2))
    physics = fo.physics.custom_physics(parameters={"k0": -1.0}, flux=lambda g, T, x, p: p["k0"] * g,
                                        rules=[positive("k0")])
    with pytest.raises(fo.ParameterError, match="0 < k0"):
        fo.Problem(mesh, physics)


def test_design_driven_field_is_checked_at_evaluation(mesh):
    from femopt.design import CellScaledModel

    model = CellScaledModel(elasticity(mesh), "E")
    E = np.ones(mesh.n_cells)
    E[4] = -1e-3
    with pytest.raises(fo.ParameterError, match=r"ids \[4\]"):
        model.compliance(E)
    E[4] = np.nan
    with pytest.raises(fo.ParameterError, match=r"NaN or Inf.*ids \[4\]"):
        model.compliance(E)
