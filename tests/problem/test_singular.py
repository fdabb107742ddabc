"""A singular tangent is explained on the mesh: global dofs (not positions among the free
dofs), their nodes and components, nodes in no cell, and the rigid-body motions the
supports leave free. The error is both a NewtonError and a SingularMatrixError."""
import numpy as np
import pytest

import femopt as fo


def rectangle():
    return fo.mesh.rectangle(size=(2.0, 1.0), shape=(4, 2), cell="quad4")


def test_orphan_node_is_reported_by_global_dofs_and_node():
    mesh = rectangle()                               # 15 nodes: ids 0..14
    orphaned = fo.Mesh(np.vstack([mesh.points, [[5.0, 5.0]]]), mesh.cells, "quad4")
    problem = fo.Problem(orphaned, fo.physics.LinearElasticity())
    problem.fix(lambda x: np.isclose(x[:, 0], 0.0))
    problem.traction(lambda x: np.isclose(x[:, 0], 2.0), [0.0, -1.0])
    with pytest.raises(fo.SingularMatrixError) as info:
        problem.solve()
    error = info.value
    assert isinstance(error, fo.NewtonError) and isinstance(error, fo.SingularJacobianError)
    assert error.reason == "singular"
    assert error.dofs == (30, 31) and error.nodes == (15, 15) and error.components == (0, 1)
    assert "Node(s) [15] belong to no cell: their dofs [30, 31]" in str(error)
    assert "[24, 25]" not in str(error)            # the old free-dof positions


@pytest.mark.parametrize("support, modes", [
    (None, ("translation x", "translation y", "rotation about z")),
    ("rollers", ("translation x",)),               # y fixed along the bottom: slides in x
    ("pin", ("rotation in the plane about a supported point",)),
])
def test_free_rigid_body_modes_2d(support, modes):
    problem = fo.Problem(rectangle(), fo.physics.LinearElasticity())
    if support == "rollers":
        problem.fix("ymin", components=1)
    elif support == "pin":
        problem.fix(lambda x: np.isclose(x[:, 0], 0.0) & np.isclose(x[:, 1], 0.0))
    problem.traction("xmax", [0.0, -1.0])
    with pytest.raises(fo.NewtonError) as info:
        problem.solve()
    assert info.value.free_modes == modes
    assert "free to move: " + ", ".join(modes) in str(info.value)


def test_free_rigid_body_modes_3d():
    mesh = fo.mesh.box(size=(2, 1, 1), shape=(2, 1, 1), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity())
    problem.fix("zmin", components=2)                # on the floor: slides and spins
    problem.traction("zmax", [0.0, 0.0, -1.0])
    with pytest.raises(fo.SingularMatrixError) as info:
        problem.solve()
    assert info.value.free_modes == ("translation x", "translation y", "rotation about z")


def test_unsupported_second_part_is_named():
    left = fo.mesh.rectangle(size=(1.0, 1.0), shape=(2, 2), cell="quad4")
    points = np.vstack([left.points, left.points + [3.0, 0.0]])
    cells = np.vstack([left.cells, left.cells + left.n_nodes])
    mesh = fo.Mesh(points, cells, "quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction())
    problem.fix(lambda x: np.isclose(x[:, 0], 0.0), value=1.0)
    problem.heat_source(1.0)
    with pytest.raises(fo.SingularMatrixError) as info:
        problem.solve()
    message = str(info.value)
    assert "part 2 of 2 of the mesh (4 cells, 9 nodes" in message and "uniform value" in message


def test_void_cells_around_a_node():
    mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(6, 3), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity())
    problem.fix("xmin")
    problem.traction("xmax", [0.0, -1.0])
    E = np.ones(mesh.n_cells)
    around = np.flatnonzero((mesh.cells == 16).any(axis=1))     # an interior node's 4 cells
    E[around] = 0.0
    with pytest.raises(fo.SingularJacobianError, match="supports hold every part") as info:
        problem.solve({"E": E})
    assert set(info.value.nodes) == {16, 23}         # 23: on the top edge, between two of them


def test_load_stepping_does_not_cut_back_a_singular_start():
    problem = fo.Problem(rectangle(), fo.physics.NeoHookean(mu=1.0, lmbda=1.0))
    problem.traction("xmax", [0.0, -0.01])
    with pytest.raises(fo.SingularJacobianError) as info:
        problem.solve(load_steps=4)
    assert "translation x" in info.value.free_modes
