"""Property 2: a rotated problem has the rotated solution.

A problem — random distorted mesh, a side clamped at a random displacement (temperature),
a random traction (heat flux) on another side and, in the slow study, a random body force
(heat source) — is solved, then solved again with the mesh points, the loads and the
prescribed values rotated by a random R (and shifted). The displacement of the rotated problem must be
R u (linear elasticity, neo-Hookean: objectivity, with dead loads), the temperature u
itself. A law, a facet normal or a load that is tied to the global axes fails here.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from property_cases import (CELLS, DEFAULT_CELLS, SIDES, dimension, directions, finite, geometries, magnitudes,
                            material, property_settings, relative_error, rotations, template, vectors)

#: Two solves of the same problem in two frames agree to this relative accuracy.
TOLERANCE = 1e-8


@st.composite
def rotation_cases(draw, cell, physics, slow=False):
    dim = dimension(cell)
    geometry = draw(geometries(dim, shapes=slow))
    constants = draw(material(physics))
    fixed_side, load_side = draw(st.lists(st.sampled_from(SIDES[dim]), min_size=2, max_size=2, unique=True))
    length = geometry.length
    if physics == "heat":
        k = constants["k"]
        load = draw(st.sampled_from([-1.0, 1.0])) * draw(magnitudes(1e-2, 1e2)) * k
        source = draw(finite(-1.0, 1.0)) * k / length
        prescribed = draw(finite(-10.0, 10.0))
    else:
        if physics == "elastic":
            stiffness, strain = constants["E"], draw(magnitudes(1e-3, 1e-1))
        else:   # moderate strains: Newton converges in one load step
            stiffness = min(constants["mu"], constants["lmbda"] + 2.0 * constants["mu"] / 3.0)
            strain = draw(magnitudes(1e-3, 2e-2))
        # loads well above Newton's absolute tolerance (see test_property_scaling.py)
        load = draw(directions(dim)) * strain * stiffness
        source = draw(vectors(dim)) * strain * stiffness / length
        prescribed = draw(directions(dim)) * draw(finite(0.0, 1.0)) * strain * length
    frame = draw(rotations(dim)), draw(vectors(dim, -10.0, 10.0)) * length
    if not slow:
        source = None
    return geometry, constants, fixed_side, load_side, load, source, prescribed, frame


def check_rotated_problem(cell, physics, case):
    geometry, constants, fixed_side, load_side, load, source, prescribed, (R, shift) = case
    mesh = geometry.mesh(cell)
    original = template(mesh, physics, constants, load_side=load_side, load=load, source=source,
                        supports=[(fixed_side, prescribed, None)])
    u = original.solve()
    moved = mesh.with_points(mesh.points @ R.T + shift)
    if physics == "heat":
        rotated = template(moved, physics, constants, load_side=load_side, load=load, source=source,
                           supports=[(fixed_side, prescribed, None)])
        expected = u
    else:
        rotated = template(moved, physics, constants, load_side=load_side, load=R @ load,
                           source=None if source is None else R @ source,
                           supports=[(fixed_side, R @ prescribed, None)])
        expected = u @ R.T
    assert np.max(np.abs(u)) > 0.0
    assert relative_error(rotated.solve(), expected) < TOLERANCE


@pytest.mark.parametrize("cell", DEFAULT_CELLS["elastic"])
@property_settings(4)
@given(data=st.data())
def test_rotated_linear_elastic_problem_has_rotated_displacement(cell, data):
    check_rotated_problem(cell, "elastic", data.draw(rotation_cases(cell, "elastic")))


@pytest.mark.parametrize("cell", DEFAULT_CELLS["neo_hookean"])
@property_settings(2)
@given(data=st.data())
def test_rotated_neo_hookean_problem_has_rotated_displacement(cell, data):
    check_rotated_problem(cell, "neo_hookean", data.draw(rotation_cases(cell, "neo_hookean")))


@pytest.mark.parametrize("cell", DEFAULT_CELLS["heat"])
@property_settings(3)
@given(data=st.data())
def test_rotated_heat_problem_has_the_same_temperature(cell, data):
    check_rotated_problem(cell, "heat", data.draw(rotation_cases(cell, "heat")))


@pytest.mark.slow
@pytest.mark.parametrize("physics", ("elastic", "neo_hookean", "heat"))
@pytest.mark.parametrize("cell", CELLS)
@property_settings(15)
@given(data=st.data())
def test_rotated_problem_has_rotated_solution_study(cell, physics, data):
    check_rotated_problem(cell, physics, data.draw(rotation_cases(cell, physics, slow=True)))
