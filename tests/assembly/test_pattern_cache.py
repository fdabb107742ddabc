"""The sparsity pattern is built once per mesh topology and number of components: a new
problem on the same mesh (or on a tagged copy of it) reuses it, a different field does not."""
import numpy as np

import femopt as fo


def test_problems_on_one_mesh_share_the_pattern():
    mesh = fo.mesh.box(shape=(3, 2, 2), cell="hex8")
    first = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    second = fo.Problem(mesh.tag_nodes("corner", [0]), fo.physics.LinearElasticity(E=2.0, nu=0.2))
    heat = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    assert first.assembler.pattern is second.assembler.pattern
    assert heat.assembler.pattern is not first.assembler.pattern
    assert heat.assembler.pattern.block == 1 and first.assembler.pattern.block == 3
    for problem in (first, second, heat):
        problem.fix("xmin")
    u1, u2 = first.solve(), second.solve()
    assert np.all(np.isfinite(u1)) and np.all(np.isfinite(u2))
    _, K = second.residual_and_tangent(np.zeros(second.space.n_dofs))
    assert K.shape == (mesh.n_nodes * 3,) * 2


def test_a_mesh_with_other_cells_builds_its_own():
    mesh = fo.mesh.box(shape=(3, 2, 2), cell="hex8")
    other = fo.mesh.box(shape=(2, 3, 2), cell="hex8")
    a = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0)).assembler.pattern
    b = fo.Problem(other, fo.physics.HeatConduction(k=1.0)).assembler.pattern
    assert a is not b and not np.array_equal(a.cells, b.cells)
