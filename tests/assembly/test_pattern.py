"""Sparsity pattern and slot maps against a dense assembly."""
import numpy as np
import pytest

import femopt as fo

from femopt.assembly.pattern import build_pattern
from femopt.assembly.scatter import make_plan
from femopt.mesh.generators import box, rectangle


def dense_pattern(cells, n_nodes, c):
    """Boolean (n_dofs, n_dofs) coupling of every pair of dofs sharing a cell."""
    dofs = (cells[:, :, None] * c + np.arange(c)).reshape(len(cells), -1)
    A = np.zeros((n_nodes * c, n_nodes * c), dtype=bool)
    A[dofs[:, :, None], dofs[:, None, :]] = True
    return A, dofs


MESHES = {
    "tri6": lambda: rectangle(shape=(3, 2), cell="tri6"),
    "quad4": lambda: rectangle(shape=(3, 3), cell="quad4"),
    "hex8": lambda: box(shape=(2, 2, 1), cell="hex8"),
    "tet4-shuffled": lambda: box(shape=(2, 1, 1), cell="tet4"),
}


@pytest.mark.parametrize("c", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(MESHES))
def test_pattern_and_slots_match_dense_assembly(name, c):
    mesh = MESHES[name]()
    rng = np.random.default_rng(c)
    cells = np.asarray(mesh.cells)
    if name.endswith("shuffled"):  # an arbitrary node numbering and cell order
        perm = rng.permutation(mesh.n_nodes)
        cells = perm[cells][rng.permutation(len(cells))]
    pattern = build_pattern(cells, mesh.n_nodes, c)
    expected, dofs = dense_pattern(cells, mesh.n_nodes, c)

    K = pattern.matrix(np.ones(pattern.nnz)).toarray()
    np.testing.assert_array_equal(K != 0, expected)
    assert np.all(np.diff(pattern.indptr) > 0)
    for row in range(pattern.n_dofs):  # sorted, unique columns in each row
        cols = pattern.indices[pattern.indptr[row]:pattern.indptr[row + 1]]
        assert np.all(np.diff(cols) > 0)

    # Summing random element matrices through the slots equals a dense scatter.
    nd = dofs.shape[1]
    K_e = rng.normal(size=(len(cells), nd, nd))
    dense = np.zeros(expected.shape)
    np.add.at(dense, (dofs[:, :, None], dofs[:, None, :]), K_e)
    np.testing.assert_allclose(pattern.matrix(pattern.assemble(K_e)).toarray(), dense, atol=1e-12)

    # The chunked plans in the kernels' layout (m, c, c, rows) give the same matrix.
    class Block:
        pass

    block = Block()
    block.cells, block.nodes, block.local_nodes = np.arange(len(cells)), cells, None
    m = cells.shape[1]
    rows = np.array([(a, b) for a in range(m) for b in range(m)])
    K_layout = K_e.reshape(len(cells), m, c, m, c).transpose(0, 2, 4, 1, 3).reshape(len(cells), c, c, m * m)
    data = np.zeros(pattern.nnz)
    for plan in make_plan(block, pattern, 3, rows, tangent=True):  # chunks of 3, last one padded
        chunk = K_layout[plan.entities]
        chunk[plan.n_valid:] = 1e300  # padded cells must be dropped
        plan.slots.add_to(data, chunk.ravel())
    np.testing.assert_allclose(pattern.matrix(data).toarray(), dense, atol=1e-12)


def test_scatter_targets_far_apart_use_the_compressed_form():
    """Cells whose slots are far apart (no locality) still scatter correctly."""
    mesh = box(shape=(4, 4, 4), cell="hex8")
    cells = np.asarray(mesh.cells)
    pattern = build_pattern(cells, mesh.n_nodes, 1)

    class Block:
        pass

    block = Block()
    block.cells = np.array([0, 63, 5, 40])
    block.nodes, block.local_nodes = cells[block.cells], None
    rows = np.array([(a, b) for a in range(8) for b in range(8)])
    plan = make_plan(block, pattern, 4, rows, tangent=True)[0]
    assert plan.slots.unique is not None
    values = np.random.default_rng(0).normal(size=(4, 1, 1, 64))
    data = np.zeros(pattern.nnz)
    plan.slots.add_to(data, values.ravel())
    K_e = values.reshape(4, 8, 8)
    expected = pattern.assemble(K_e, cells=block.cells)
    np.testing.assert_allclose(data, expected, atol=1e-14)


@pytest.mark.parametrize("c", [1, 3])
def test_upper_triangle_scatter_and_mirror_give_the_symmetric_matrix(c):
    """A symmetric term scatters rows a ≤ b into the upper triangle; mirroring it
    gives the same matrix as the full scatter."""
    mesh = box(shape=(2, 1, 1), cell="tet4")
    rng = np.random.default_rng(5)
    perm = rng.permutation(mesh.n_nodes)
    cells = perm[np.asarray(mesh.cells)]
    pattern = build_pattern(cells, mesh.n_nodes, c)
    m = cells.shape[1]
    K_e = rng.normal(size=(len(cells), m * c, m * c))
    K_e = K_e + K_e.transpose(0, 2, 1)
    expected = pattern.assemble(K_e)

    class Block:
        pass

    block = Block()
    block.cells, block.nodes, block.local_nodes = np.arange(len(cells)), cells, None
    rows = np.array([(a, b) for a in range(m) for b in range(a + 1, m)] + [(a, a) for a in range(m)])
    K_rows = K_e.reshape(len(cells), m, c, m, c)[:, rows[:, 0], :, rows[:, 1], :]   # (rows, cells, c, c)
    K_layout = K_rows.transpose(1, 2, 3, 0)                                        # (cells, c, c, rows)
    data = np.zeros(pattern.nnz)
    for plan in make_plan(block, pattern, 4, rows, tangent=True, upper=True):
        plan.slots.add_to(data, np.ascontiguousarray(K_layout[plan.entities]).ravel())
    pattern.mirror_lower(data)
    np.testing.assert_allclose(data, expected, atol=1e-12)


def test_pattern_memory_estimate_is_an_upper_bound_within_two():
    import tracemalloc

    from femopt.assembly.pattern import estimate_pattern_bytes

    mesh = fo.mesh.box(size=(1, 1, 1), shape=(12, 12, 12), cell="hex8")
    estimate = estimate_pattern_bytes(mesh.n_cells, 8, mesh.n_nodes, 3, "hex8")
    tracemalloc.start()
    pattern = build_pattern(mesh.cells, mesh.n_nodes, 3)
    values, free_block = np.zeros(pattern.nnz), np.zeros(pattern.nnz)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= estimate <= 2 * peak, (estimate, peak, values.size + free_block.size)


def test_assembly_too_large_for_memory_is_refused_up_front(monkeypatch):
    mesh = fo.mesh.box(size=(1, 1, 1), shape=(8, 8, 8), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity())
    problem.fix("xmin")
    monkeypatch.setenv("FEMOPT_MEMORY_LIMIT", "1M")
    with pytest.raises(fo.ResourceError, match=r"assembling 2187 dofs on 512 hex8 cells .* needs about .* only 1.0 MiB") \
            as info:
        problem.solve()
    assert info.value.estimate_bytes > info.value.available_bytes == 2**20
