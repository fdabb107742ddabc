"""The load verbs read alike: ``verb(selection, value)``; a volume load without a
selection acts everywhere."""
import numpy as np
import pytest

import femopt as fo


def heat(**kwargs):
    mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(8, 4), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin", 0.0)
    return problem


def left_half(x):
    return x[:, 0] < 1.0


def test_heat_source_takes_the_cells_first_like_heat_flux():
    by_keyword = heat()
    by_keyword.heat_source(3.0, cells=left_half)
    positional = heat()
    positional.heat_source(left_half, 3.0)
    everywhere = heat()
    everywhere.heat_source(3.0)
    u1, u2, u3 = by_keyword.solve(), positional.solve(), everywhere.solve()
    np.testing.assert_array_equal(u1, u2)
    assert np.max(np.abs(u3 - u1)) > 1e-3            # the selection was honoured


def test_body_force_takes_the_cells_first_like_traction():
    mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(8, 4), cell="quad4")
    results = []
    for call in (lambda p: p.body_force(left_half, [0.0, -1.0]),
                 lambda p: p.body_force([0.0, -1.0], cells=left_half)):
        problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=100.0, nu=0.3))
        problem.fix("xmin")
        call(problem)
        results.append(problem.solve())
    np.testing.assert_array_equal(*results)


def test_cells_given_twice_are_refused():
    with pytest.raises(fo.InputError, match=r"cells are given twice.*heat_source\(cells, value\)"):
        heat().heat_source(left_half, 3.0, cells=left_half)


def test_plane_stress_on_a_3d_mesh_is_refused():
    mesh = fo.mesh.box(size=(1.0, 1.0, 1.0), shape=(2, 2, 2))
    with pytest.raises(fo.InputError, match=r"plane='stress'\) is a 2D model, but the mesh is 3D"):
        fo.Problem(mesh, fo.physics.LinearElasticity(plane="stress"))
