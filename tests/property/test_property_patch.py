"""Property 4: patch tests on distorted meshes of every cell type.

* Dirichlet patch: a field linear in x (temperature a + g·x, displacement a + B x; for
  neo-Hookean the homogeneous deformation x -> a + F x) prescribed on every boundary node
  is reproduced exactly at the interior nodes, with no load.
* Neumann patch: one side prescribed, and the state of constant flux / stress carried by
  the boundary load of the opposite side: uniaxial stress s a⊗a (heat: gradient s a) along
  the direction a of the mapped x edges loads no y or z side (their normals are orthogonal
  to a), so the traction (heat flux) on ``xmax`` is the only load. This checks the facet
  integration: normals, facet Jacobians, quadratic faces.

Every element here represents linear fields exactly on straight-sided cells, so the finite
element solution is the exact one, to round-off.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import femopt as fo
from femopt.fem.elements import reference_element
from femopt.mesh.reference import reference_nodes
from property_cases import (CELLS, DEFAULT_CELLS, dimension, directions, finite, geometries, magnitudes,
                            material, property_settings, rotation_matrix, rotations, template)

#: Patch tests hold to round-off.
TOLERANCE = 1e-9


def boundary_nodes(mesh):
    return np.unique(mesh.facet_nodes(mesh.boundary_facets()))


def patch_error(computed, exact) -> float:
    """Largest nodal error relative to the variation of the exact field."""
    computed, exact = np.asarray(computed), np.asarray(exact)
    variation = np.max(np.abs(exact - exact.mean(axis=0)))
    assert variation > 0.0
    return float(np.max(np.abs(computed - exact)) / variation)


@st.composite
def linear_fields(draw, cell, physics, shapes=False, lmbda_min=-0.6):
    """(geometry, constants, offset a, gradient G) of the field a + G (x - centroid); for
    neo-Hookean G = F - I of a homogeneous deformation F = R U (stretches of up to 10 %,
    a rotation of up to 0.3 rad) and a shift of up to a tenth of a cell."""
    dim = dimension(cell)
    geometry = draw(geometries(dim, shapes, min_cells=2))          # an interior node
    constants = draw(material(physics, lmbda_min=lmbda_min))
    if physics == "heat":
        gradient = draw(directions(dim)) * draw(magnitudes(1e-3, 1e1))
        offset = draw(finite(-1.0, 1.0)) * geometry.length
    elif physics == "elastic":
        entries = draw(st.lists(finite(-1.0, 1.0), min_size=dim * dim, max_size=dim * dim))
        gradient = np.array(entries).reshape(dim, dim) * draw(magnitudes(1e-3, 1e1))
        if not np.any(gradient):
            gradient = np.eye(dim)
        offset = draw(vectors_of(dim)) * geometry.length
    else:
        Q = draw(rotations(dim))
        stretch = Q @ np.diag(draw(st.lists(finite(0.9, 1.1), min_size=dim, max_size=dim))) @ Q.T
        R = rotation_matrix(dim, draw(finite(-0.3, 0.3)), draw(directions(3)) if dim == 3 else None)
        gradient = R @ stretch - np.eye(dim)
        if np.max(np.abs(gradient)) < 1e-3:
            gradient = np.diag(np.full(dim, 0.05))
        offset = draw(vectors_of(dim)) * 0.1 * geometry.cell_size
    return geometry, constants, offset, gradient


def vectors_of(dim):
    return st.lists(finite(-1.0, 1.0), min_size=dim, max_size=dim).map(np.array)


def linear_field(points, offset, gradient):
    x = points - points.mean(axis=0)
    return offset + (x @ gradient if gradient.ndim == 1 else x @ gradient.T)


def check_dirichlet_patch(cell, physics, case):
    geometry, constants, offset, gradient = case
    mesh = geometry.mesh(cell)
    exact = linear_field(mesh.points, offset, gradient)
    boundary = boundary_nodes(mesh)
    assert boundary.size < mesh.n_nodes          # there is an interior to check
    # Newton's default atol (1e-10) is absolute, in force units: on these small meshes it
    # would stop at a residual of ~1e-7 of the loads, a patch error of ~1e-9. Ask for more.
    newton = fo.NewtonOptions(atol=1e-14) if physics == "neo_hookean" else None
    problem = template(mesh, physics, constants, supports=[(boundary, exact[boundary], None)], newton=newton)
    u = problem.solve(load_steps=2 if physics == "neo_hookean" else 1)
    assert patch_error(u, exact) < TOLERANCE


@st.composite
def uniaxial_states(draw, cell, physics, shapes=False):
    dim = dimension(cell)
    geometry = draw(geometries(dim, shapes))
    constants = draw(material(physics))
    strength = draw(st.sampled_from([-1.0, 1.0])) * draw(magnitudes(1e-2, 1e1))
    offset = draw(finite(-1.0, 1.0)) * geometry.length
    return geometry, constants, strength, offset


def check_neumann_patch(cell, physics, case):
    """Uniaxial stress (or flux) along the mapped x edges, carried by the load on xmax."""
    geometry, constants, strength, offset = case
    mesh = geometry.mesh(cell)
    a, n = geometry.edge_direction(), geometry.normal("xmax")
    if physics == "heat":
        gradient = strength * a                                     # flux -k g: none through y, z sides
        load = constants["k"] * gradient @ n                        # heat flowing in through xmax
    else:
        E, nu, dim = constants["E"], constants["nu"], mesh.dim
        stress = strength * E * np.outer(a, a)
        # small-strain Hooke's law inverted: 3D, and plane strain (sigma_zz = nu tr(sigma))
        gradient = ((1 + nu) * stress - nu * (1 + nu if dim == 2 else 1.0) * np.trace(stress) * np.eye(dim)) / E
        load = stress @ n
    exact = linear_field(mesh.points, offset, gradient)
    fixed = mesh.nodes("xmin")
    problem = template(mesh, physics, constants, load_side="xmax", load=load,
                       supports=[(fixed, exact[fixed], None)])
    assert patch_error(problem.solve(), exact) < TOLERANCE


# -- default run ----------------------------------------------------------------------------
@pytest.mark.parametrize("physics, cell", [(p, c) for p in ("elastic", "heat") for c in DEFAULT_CELLS[p]])
@property_settings(3)
@given(data=st.data())
def test_linear_field_on_the_boundary_is_reproduced_inside(physics, cell, data):
    check_dirichlet_patch(cell, physics, data.draw(linear_fields(cell, physics)))


@pytest.mark.parametrize("cell", DEFAULT_CELLS["neo_hookean"])
@property_settings(2)
@given(data=st.data())
def test_homogeneous_deformation_on_the_boundary_is_reproduced_inside(cell, data):
    """lmbda >= 0 here; for lmbda < 0 see test_homogeneous_deformation_with_negative_lmbda below."""
    check_dirichlet_patch(cell, "neo_hookean", data.draw(linear_fields(cell, "neo_hookean", lmbda_min=0.0)))


@pytest.mark.parametrize("physics, cell", [(p, c) for p in ("elastic", "heat") for c in DEFAULT_CELLS[p]])
@property_settings(3)
@given(data=st.data())
def test_uniform_stress_carried_by_a_traction_is_reproduced(physics, cell, data):
    check_neumann_patch(cell, physics, data.draw(uniaxial_states(cell, physics)))


def deformation_jacobians(mesh, u, at):
    """det F of the displacement u at reference points ``at`` of every cell, (n_cells, k)."""
    dN = reference_element(mesh.cell_type).shape_gradients(at)
    X = mesh.points[mesh.cells]
    reference = np.einsum("qaj,mai->mqij", dN, X)
    deformed = np.einsum("qaj,mai->mqij", dN, X + u[mesh.cells])
    return np.linalg.det(deformed) / np.linalg.det(reference)


def test_homogeneous_deformation_with_negative_lmbda():
    """With an admissible lmbda < 0 the neo-Hookean energy is unbounded below as det F -> 0;
    Newton used to report convergence to a tangled state (det F < 0 at cell nodes, > 0 at
    the quadrature points) without a word. Now the inverted cells are named."""
    mesh = fo.mesh.rectangle(size=(1.175, 1.077), shape=(2, 2), cell="quad8")
    F = np.diag([1.0989, 0.9007])
    exact = (mesh.points - mesh.points.mean(axis=0)) @ (F - np.eye(2)).T + [0.0, 0.5]
    boundary = boundary_nodes(mesh)
    problem = fo.Problem(mesh, fo.physics.NeoHookean(mu=1.0, lmbda=-0.5))   # admissible: lmbda > -2 mu / 3
    problem.fix(boundary, exact[boundary])
    try:
        u = problem.solve(load_steps=2)
    except fo.FemoptError:
        return                                   # refusing the problem would be fine too
    assert np.min(deformation_jacobians(mesh, u, reference_nodes(mesh.cell_type))) > 0.0
    assert patch_error(u, exact) < TOLERANCE


# -- slow study -------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("physics", ("elastic", "heat", "neo_hookean"))
@pytest.mark.parametrize("cell", CELLS)
@property_settings(15)
@given(data=st.data())
def test_patch_tests_study(cell, physics, data):
    lmbda_min = 0.0 if physics == "neo_hookean" else -0.6
    check_dirichlet_patch(cell, physics, data.draw(linear_fields(cell, physics, shapes=True, lmbda_min=lmbda_min)))
    if physics != "neo_hookean":
        check_neumann_patch(cell, physics, data.draw(uniaxial_states(cell, physics, shapes=True)))
