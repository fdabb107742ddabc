"""Partition, ownership, numbering and preallocation of femopt.distributed: pure NumPy,
no MPI. Checked against brute force and against femopt's serial sparsity pattern."""
import numpy as np
import pytest

from femopt.assembly.pattern import build_pattern
from femopt.distributed import bisect_cells, node_owners, partition_mesh
from femopt.distributed.preallocation import row_counts
from femopt.errors import InputError
from femopt.mesh import box, rectangle


@pytest.mark.parametrize("n_parts", [1, 2, 3, 4, 7])
def test_bisection_assigns_every_cell_once_and_balances(n_parts):
    mesh = box((3.0, 1.0, 2.0), (9, 4, 5))
    part = bisect_cells(mesh.cell_centroids(), n_parts)
    assert part.shape == (mesh.n_cells,)
    assert set(np.unique(part)) == set(range(n_parts))
    sizes = np.bincount(part, minlength=n_parts)
    levels = int(np.ceil(np.log2(n_parts))) if n_parts > 1 else 0
    # shares rounded once per level of cuts: off the ideal size by at most one cell per level
    assert np.all(np.abs(sizes - mesh.n_cells / n_parts) <= levels + 1e-9)
    assert np.array_equal(part, bisect_cells(mesh.cell_centroids(), n_parts))   # deterministic


def test_bisection_cuts_across_the_longest_side():
    mesh = box((4.0, 1.0, 1.0), (8, 2, 2))
    part = bisect_cells(mesh.cell_centroids(), 2)
    x = mesh.cell_centroids()[:, 0]
    assert x[part == 0].max() < x[part == 1].min()


def test_bisection_refuses_bad_part_counts():
    centroids = rectangle(shape=(2, 2)).cell_centroids()
    with pytest.raises(InputError, match="cannot split 4 cells into 5 parts"):
        bisect_cells(centroids, 5)
    with pytest.raises(InputError, match="positive integer"):
        bisect_cells(centroids, 0)


def test_owner_is_the_lowest_rank_touching_the_node():
    mesh = rectangle((1.0, 1.0), (5, 4), cell="tri3")
    part = bisect_cells(mesh.cell_centroids(), 3)
    owner = node_owners(mesh.cells, part, mesh.n_nodes)
    for node in range(mesh.n_nodes):
        touching = part[np.any(mesh.cells == node, axis=1)]
        assert owner[node] == touching.min()


@pytest.mark.parametrize("n_parts", [2, 3])
def test_numbering_gives_contiguous_owned_ranges_and_consistent_pieces(n_parts):
    mesh = box((2.0, 1.0, 1.0), (6, 3, 3))
    numbering = partition_mesh(mesh, n_parts, 3)
    assert np.array_equal(np.sort(numbering.new_node), np.arange(mesh.n_nodes))
    assert np.array_equal(numbering.old_node[numbering.new_node], np.arange(mesh.n_nodes))
    owned_all, cells_all = [], []
    for rank in range(n_parts):
        piece = numbering.piece(mesh.cells, rank)
        owned = piece.local_nodes[:piece.n_owned]
        # owned nodes are exactly the contiguous range of new numbers of this rank
        assert np.array_equal(numbering.new_node[owned], np.arange(*numbering.node_starts[rank:rank + 2]))
        assert numbering.dof_range(rank) == tuple(3 * numbering.node_starts[rank:rank + 2])
        # the local nodes are the nodes of the rank's cells; ghosts are owned elsewhere
        assert set(piece.local_nodes) == set(mesh.cells[piece.cells].ravel())
        assert np.all(numbering.owner[piece.ghost_nodes] != rank)
        owned_all.append(owned)
        cells_all.append(piece.cells)
    assert np.array_equal(np.sort(np.concatenate(owned_all)), np.arange(mesh.n_nodes))
    assert np.array_equal(np.sort(np.concatenate(cells_all)), np.arange(mesh.n_cells))
    dofs = np.arange(mesh.n_nodes * 3)
    assert np.array_equal(numbering.dof_permutation, numbering.new_dofs(dofs))
    assert np.array_equal(np.sort(numbering.dof_permutation), dofs)


@pytest.mark.parametrize("make, c, n_parts", [(lambda: box((2.0, 1.0, 1.0), (5, 3, 2)), 3, 3),
                                              (lambda: rectangle((1.0, 2.0), (4, 7), cell="quad8"), 1, 2),
                                              (lambda: rectangle((1.0, 1.0), (6, 6), cell="tri3"), 2, 4)])
def test_preallocation_counts_match_the_serial_pattern(make, c, n_parts):
    mesh = make()
    numbering = partition_mesh(mesh, n_parts, c)
    pattern = build_pattern(mesh.cells, mesh.n_nodes, c)
    # the serial pattern in the new numbering: permute rows and columns
    K = pattern.matrix(np.ones(pattern.nnz))
    perm = numbering.dof_permutation
    P = np.empty_like(perm)
    P[perm] = np.arange(perm.size)                   # new dof -> old dof
    K_new = K[P][:, P].tocsr()
    for rank in range(n_parts):
        d_nnz, o_nnz = row_counts(mesh.cells, numbering, rank)
        start, end = numbering.dof_range(rank)
        rows = K_new[start:end]
        assert np.array_equal(d_nnz + o_nnz, np.diff(rows.indptr))
        inside = (rows.indices >= start) & (rows.indices < end)
        expected_d = np.add.reduceat(inside.astype(int), rows.indptr[:-1]) if rows.nnz else 0
        assert np.array_equal(d_nnz, expected_d)


def test_given_cell_partition_is_checked():
    mesh = rectangle(shape=(3, 3))
    with pytest.raises(InputError, match="cell_part must give each of the 9 cells a rank in 0..1"):
        partition_mesh(mesh, 2, 1, cell_part=np.full(9, 2))
    numbering = partition_mesh(mesh, 2, 1, cell_part=np.arange(9) % 2)
    assert np.array_equal(numbering.cell_part, np.arange(9) % 2)
