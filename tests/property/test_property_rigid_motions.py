"""Property 1: a rigid-body motion costs no internal force.

On random distorted meshes of every cell type, with random admissible constants, the
residual of an unloaded problem at a rigid motion (translation plus an infinitesimal
rotation for linear elasticity, a finite rotation for neo-Hookean, a constant for heat
conduction) is round-off next to the residual at a generic displacement of the same size.
A kernel that mixes up the node ordering, the strain or the deformation gradient fails here.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from property_cases import (CELLS, DEFAULT_CELLS, dimension, directions, finite, geometries, magnitudes, material,
                            property_settings, rotations, template)

#: |R(rigid)| / |R(generic)| allowed: round-off of a sum over a few cells (measured:
#: below 1e-15 for linear elasticity and heat, 2e-13 for neo-Hookean).
TOLERANCE = 1e-9
#: ... and the same ratio that a strain of the same size must exceed (the control: the
#: check does see a motion that is not rigid).
STRAINED = 1e-6


def infinitesimal_rotation(omega) -> np.ndarray:
    """The skew matrix W with W x = omega x x (3D) or omega e_z x x (2D)."""
    if np.ndim(omega) == 0:
        return np.array([[0.0, -omega], [omega, 0.0]])
    w = np.asarray(omega)
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def ratio(problem, rigid, generic) -> float:
    """|R(rigid)| / |R(generic)| for nodal fields of the problem."""
    r_rigid = problem.residual(np.asarray(rigid, dtype=float).ravel())
    r_generic = problem.residual(np.asarray(generic, dtype=float).ravel())
    assert np.all(np.isfinite(r_rigid)) and np.all(np.isfinite(r_generic))
    assert np.linalg.norm(r_generic) > 0.0
    return float(np.linalg.norm(r_rigid) / np.linalg.norm(r_generic))


@st.composite
def elastic_cases(draw, cell, shapes=False):
    dim = dimension(cell)
    geometry = draw(geometries(dim, shapes))
    rotation = draw(st.sampled_from([0.0, 1.0])) * draw(magnitudes(1e-6, 1.0))
    omega = rotation * draw(st.sampled_from([-1.0, 1.0])) if dim == 2 else rotation * draw(directions(3))
    scale = draw(st.sampled_from([0.0, 1.0, 1e3]) if rotation else st.sampled_from([1.0, 1e3]))
    translation = draw(directions(dim)) * geometry.length * scale
    return geometry, draw(material("elastic")), translation, omega, draw(st.integers(0, 2**16))


@st.composite
def hyperelastic_cases(draw, cell, shapes=False):
    dim = dimension(cell)
    geometry = draw(geometries(dim, shapes))
    translation = draw(directions(dim)) * geometry.length * draw(st.sampled_from([0.0, 1.0, 10.0]))
    centre = draw(directions(dim)) * geometry.length * draw(finite(0.0, 2.0))
    return geometry, draw(material("neo_hookean")), translation, draw(rotations(dim)), centre, \
        draw(st.integers(0, 2**16))


def check_linear_elasticity(cell, case):
    geometry, constants, translation, omega, seed = case
    mesh = geometry.mesh(cell)
    problem = template(mesh, "elastic", constants)
    rigid = translation + mesh.points @ infinitesimal_rotation(omega).T
    generic = np.random.default_rng(seed).normal(size=rigid.shape)
    generic *= np.max(np.abs(rigid)) / np.max(np.abs(generic))
    assert ratio(problem, rigid, generic) < TOLERANCE
    x = mesh.points - mesh.points.mean(axis=0)
    strained = rigid + np.max(np.abs(rigid)) * x / np.max(np.abs(x))      # a uniform expansion
    assert ratio(problem, strained, generic) > STRAINED


def check_neo_hookean(cell, case):
    geometry, constants, translation, rotation, centre, seed = case
    mesh = geometry.mesh(cell)
    problem = template(mesh, "neo_hookean", constants)
    x = mesh.points - centre
    rigid = translation + x @ rotation.T - x
    # a generic displacement small enough that every cell keeps det F > 0
    generic = np.random.default_rng(seed).uniform(-1.0, 1.0, size=rigid.shape) * 0.05 * geometry.cell_size
    assert ratio(problem, rigid, generic) < TOLERANCE
    stretched = translation + x @ (1.05 * rotation).T - x
    assert ratio(problem, stretched, generic) > STRAINED


def check_heat(cell, case):
    geometry, constants, level, seed = case
    mesh = geometry.mesh(cell)
    problem = template(mesh, "heat", constants)
    generic = np.random.default_rng(seed).normal(size=mesh.n_nodes) * abs(level)
    assert ratio(problem, np.full(mesh.n_nodes, level), generic) < TOLERANCE
    assert ratio(problem, level * (1.0 + mesh.points[:, 0] / geometry.length), generic) > STRAINED


@st.composite
def heat_cases(draw, cell, shapes=False):
    geometry = draw(geometries(dimension(cell), shapes))
    level = draw(st.sampled_from([-1.0, 1.0])) * draw(magnitudes(1e-3, 1e3))
    return geometry, draw(material("heat")), level, draw(st.integers(0, 2**16))


# -- default run ----------------------------------------------------------------------------
@pytest.mark.parametrize("cell", DEFAULT_CELLS["elastic"])
@property_settings(4)
@given(data=st.data())
def test_rigid_motion_of_linear_elasticity_has_zero_residual(cell, data):
    check_linear_elasticity(cell, data.draw(elastic_cases(cell)))


@pytest.mark.parametrize("cell", DEFAULT_CELLS["neo_hookean"])
@property_settings(4)
@given(data=st.data())
def test_finite_rotation_of_neo_hookean_has_zero_residual(cell, data):
    check_neo_hookean(cell, data.draw(hyperelastic_cases(cell)))


@pytest.mark.parametrize("cell", DEFAULT_CELLS["heat"])
@property_settings(3)
@given(data=st.data())
def test_constant_temperature_has_zero_residual(cell, data):
    check_heat(cell, data.draw(heat_cases(cell)))


# -- slow study: more examples, every cell type, mesh shapes 1-3 cells per side -----------
@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
@property_settings(25)
@given(data=st.data())
def test_rigid_motions_have_zero_residual_study(cell, data):
    check_linear_elasticity(cell, data.draw(elastic_cases(cell, shapes=True)))
    check_neo_hookean(cell, data.draw(hyperelastic_cases(cell, shapes=True)))
    check_heat(cell, data.draw(heat_cases(cell, shapes=True)))
