"""Stresses read for plots (fo.stress, fo.von_mises; viz.cell_to_nodes) against closed-form answers: uniaxial tension (2D plane
strain and plane stress, 3D) and a homogeneous neo-Hookean stretch; the displacement
fields are the exact ones, so no solve is needed."""
import numpy as np
import pytest

import femopt as fo
import femopt.viz as viz


NU, E = 0.3, 10.0


@pytest.mark.parametrize("dim, plane, cell, strains, expected", [
    # (eps_xx, eps_yy[, eps_zz]) of a unit uniaxial stress sigma_xx = 1.
    (2, "stress", "quad4", (1.0 / E, -NU / E), 1.0),
    (2, "strain", "tri6", ((1 - NU**2) / E, -NU * (1 + NU) / E),
     np.sqrt(1.0 - NU + NU**2)),  # sigma_zz = nu sigma_xx in plane strain
    (3, None, "hex20", (1.0 / E, -NU / E, -NU / E), 1.0),
    (3, None, "tet10", (1.0 / E, -NU / E, -NU / E), 1.0),
])
def test_von_mises_of_uniaxial_tension(dim, plane, cell, strains, expected):
    mesh = (fo.mesh.rectangle((2.0, 1.0), (2, 2), cell=cell) if dim == 2
            else fo.mesh.box((2.0, 1.0, 1.0), (2, 1, 1), cell=cell))
    physics = fo.physics.LinearElasticity(E=E, nu=NU, **({"plane": plane} if plane else {}))
    problem = fo.Problem(mesh, physics)
    u = mesh.points * np.asarray(strains)
    np.testing.assert_allclose(fo.von_mises(fo.stress(problem, u, at="centres")), expected, rtol=1e-12)
    np.testing.assert_allclose(fo.von_mises(fo.stress(problem, u)), expected, rtol=1e-12)
    sigma = fo.stress(problem, u, at="centres")
    assert sigma.shape == (mesh.n_cells, 3, 3)
    np.testing.assert_allclose(sigma[:, 0, 0], 1.0, rtol=1e-12)


def test_von_mises_defaults_to_the_solved_state(beam_2d):
    mesh, problem, u = beam_2d
    values = fo.von_mises(fo.stress(problem, at="centres"))
    assert values.shape == (mesh.n_cells,) and np.all(values > 0)
    np.testing.assert_allclose(values, fo.von_mises(fo.stress(problem, u, at="centres")), rtol=1e-14)
    # the clamped end carries the largest bending stress
    assert values[np.argmax(mesh.cell_centroids()[:, 0] < 0.25)] > 3 * values.min()


def test_cell_field_parameters_are_used():
    """E per cell does not change a statically determinate stress, but the stress of a
    given displacement scales with it."""
    mesh = fo.mesh.rectangle((2.0, 1.0), (2, 1))
    E = np.array([1.0, 3.0])
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=E, nu=0.0, plane="stress"))
    u = np.c_[0.1 * mesh.points[:, 0], np.zeros(mesh.n_nodes)]  # strain_xx = 0.1
    np.testing.assert_allclose(fo.stress(problem, u, at="centres")[:, 0, 0], 0.1 * E, rtol=1e-12)


def test_neo_hookean_cauchy_stress_of_a_stretch():
    mu, lmbda, stretch = 2.0, 3.0, 1.2
    mesh = fo.mesh.box((1.0, 1.0, 1.0), (1, 1, 1), cell="tet4")
    problem = fo.Problem(mesh, fo.physics.NeoHookean(mu=mu, lmbda=lmbda))
    u = np.c_[(stretch - 1.0) * mesh.points[:, 0], np.zeros((mesh.n_nodes, 2))]
    # sigma = mu / J (B - I) + lmbda ln J / J I, with B = diag(stretch^2, 1, 1), J = stretch.
    J = stretch
    expected = np.diag([mu / J * (stretch**2 - 1.0), 0.0, 0.0]) + lmbda * np.log(J) / J * np.eye(3)
    np.testing.assert_allclose(fo.stress(problem, u, at="centres"), np.broadcast_to(expected, (6, 3, 3)),
                               rtol=1e-12, atol=1e-14)


def test_cell_to_nodes_weights_by_cell_measure():
    mesh = fo.Mesh([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [1.0, 1.0], [3.0, 1.0]],
                   [[0, 1, 4, 3], [1, 2, 5, 4]], "quad4")  # areas 1 and 2
    nodal = viz.cell_to_nodes(mesh, np.array([3.0, 6.0]))
    np.testing.assert_allclose(nodal, [3.0, 5.0, 6.0, 3.0, 5.0, 6.0])
    vectors = viz.cell_to_nodes(mesh, np.array([[1.0, 0.0], [1.0, 3.0]]))
    np.testing.assert_allclose(vectors[1], [1.0, 2.0])


def test_no_stress_or_no_state_is_explained():
    mesh = fo.mesh.rectangle((1.0, 1.0), (2, 2))
    heat = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    with pytest.raises(fo.InputError, match="no stress"):
        fo.stress(heat, np.zeros(mesh.n_nodes))
    elastic = fo.Problem(mesh, fo.physics.LinearElasticity())
    with pytest.raises(fo.InputError, match="solve"):
        fo.stress(elastic)
    with pytest.raises(fo.InputError, match="at must be one of"):
        fo.stress(elastic, np.zeros((mesh.n_nodes, 2)), at="points")


def test_parameters_default_to_the_last_solve_and_can_be_overridden(beam_2d):
    _, problem, u = beam_2d
    solved = fo.stress(problem, at="centres")  # E = 1 of the solve
    np.testing.assert_allclose(fo.stress(problem, u, at="centres"), solved, rtol=1e-14)
    # the stress of a given strain is linear in E
    np.testing.assert_allclose(fo.stress(problem, u, at="centres", params={"E": 2.5}), 2.5 * solved,
                               rtol=1e-12, atol=1e-15)
