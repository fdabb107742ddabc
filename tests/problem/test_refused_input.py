"""A verb that refuses its input leaves the problem as it was, and what it accepts it
accepts as before: a load is either declared whole or not at all."""
import jax.numpy as jnp
import numpy as np
import pytest

import femopt as fo


def heat():
    problem = fo.Problem(fo.mesh.rectangle(shape=(3, 2), cell="quad4"), fo.physics.HeatConduction(k=2.0))
    return problem.fix("xmin")


def elasticity():
    problem = fo.Problem(fo.mesh.rectangle(shape=(3, 2), cell="tri3"), fo.physics.LinearElasticity(E=2.0, nu=0.3))
    return problem.fix("xmin")


def declared(problem):
    return (sorted(problem.params), [(kind, name) for kind, name, _ in problem.loads()],
            [rule.admissible for rule in problem.parameter_rules()], sorted(problem._point_shapes))


REFUSALS = {
    "convection with an ambient of the wrong length":
        (heat, lambda p: p.convection("xmax", 1.0, fo.nodal_field(np.ones(3)))),
    "convection with a negative h": (heat, lambda p: p.convection("xmax", -1.0, 0.0)),
    "heat_flux with a function of many points": (heat, lambda p: p.heat_flux("xmax", lambda x: x[:, 0])),
    "heat_source on ragged cell ids": (heat, lambda p: p.heat_source(1.0, cells=[[0], [1, 2]])),
    "traction with a string": (elasticity, lambda p: p.traction("xmax", "12")),
    "traction with a complex vector": (elasticity, lambda p: p.traction("xmax", np.array([1j, 0.0]))),
    "point_load named by a number": (elasticity, lambda p: p.point_load("xmax", [1.0, 0.0], name=7)),
    "fix with a complex value": (elasticity, lambda p: p.fix("xmax", 1j)),
    "fix with a huge component": (elasticity, lambda p: p.fix("xmax", components=2**64)),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refused_verb_leaves_the_problem_as_it_was(case):
    make, verb = REFUSALS[case]
    problem = make()
    before = declared(problem), problem.partition.prescribed.tolist()
    with pytest.raises(fo.InputError):
        verb(problem)
    assert (declared(problem), problem.partition.prescribed.tolist()) == before


def test_a_refused_solve_keeps_the_last_state():
    problem = heat().heat_source(1.0)
    u = problem.solve()
    state = problem.state
    for params in ([1.0], {"k": "2"}, {"k": fo.cell_field(np.ones(2))}, {"k": lambda x: x[0]}):
        with pytest.raises(fo.InputError):
            problem.solve(params)
    with pytest.raises(fo.InputError, match="initial"):
        problem.solve(initial=np.full(problem.space.n_dofs, 1j))
    assert problem.state is state
    assert np.array_equal(problem.solve(), u)


def test_a_refused_convection_leaves_its_name_free():
    problem = heat()
    with pytest.raises(fo.ParameterError, match="convection.h"):
        problem.convection("xmax", -1.0, 0.0)
    problem.convection("xmax", 1.0, 0.0)
    assert {"convection.h", "convection.ambient"} <= set(problem.params)


def test_two_unnamed_convections_get_two_names():
    problem = heat().convection("xmax", 1.0, 0.0).convection("ymax", 2.0, 1.0)
    assert {"convection.h", "convection1.h", "convection1.ambient"} <= set(problem.params)


@pytest.mark.parametrize("function", [lambda x: x[0], lambda x: jnp.array([x[1], 0.0]), lambda x: 2],
                         ids=["number", "vector", "constant"])
def test_a_vector_load_function_may_return_a_number_or_a_vector(function):
    problem = elasticity().traction("xmax", function)
    assert np.all(np.isfinite(problem.solve()))


def test_numbers_of_any_real_dtype_and_object_arrays_of_numbers_are_parameters():
    problem = heat().heat_source(np.int32(1))
    reference = problem.solve({"k": 2.0})
    for k in (2, np.float32(2.0), np.array(2, dtype=np.uint8), np.array(2.0, dtype=object)):
        assert np.allclose(problem.solve({"k": k}), reference)


def test_a_tangent_too_large_for_float64_asks_to_rescale_units():
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(4, 4))
    problem = fo.Problem(mesh, fo.physics.NeoHookean(mu=1e200, lmbda=1e200))
    problem.fix("xmin")
    problem.traction("xmax", [1e199, 0.0])
    with pytest.raises(fo.InputError, match=r"entries of size 5\.\d+e\+200.*Rescale the units"):
        problem.solve()
