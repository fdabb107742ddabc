"""Pieces of a mesh (femopt.mesh.pieces): what cut_piece gives each rank, and how a mesh
that is a piece behaves (its boundary is the whole mesh's, selections may be empty, its
nodes and cells cannot change)."""
import numpy as np
import pytest

import femopt as fo
from femopt.errors import InputError, MeshError
from femopt.mesh import MeshPiece, cut_piece


@pytest.mark.parametrize("cell, n_ranks", [("hex8", 3), ("tet4", 2), ("hex27", 4)])
def test_pieces_cover_the_mesh_once(cell, n_ranks):
    whole = fo.mesh.box((2.0, 1.0, 1.0), (5, 3, 2), cell=cell)
    pieces = [cut_piece(whole, r, n_ranks) for r in range(n_ranks)]
    cells = np.concatenate([p.piece.natural_cells for p in pieces])
    np.testing.assert_array_equal(np.sort(cells), np.arange(whole.n_cells))       # every cell once
    owned = np.concatenate([p.piece.natural_nodes[:p.piece.n_owned] for p in pieces])
    np.testing.assert_array_equal(np.sort(owned), np.arange(whole.n_nodes))       # every node owned once
    numbers = np.concatenate([p.piece.global_nodes[:p.piece.n_owned] for p in pieces])
    np.testing.assert_array_equal(numbers, np.arange(whole.n_nodes))              # contiguous, rank by rank
    for p in pieces:
        mine = p.piece
        np.testing.assert_array_equal(p.points, whole.points[mine.natural_nodes])
        np.testing.assert_array_equal(mine.natural_nodes[p.cells], whole.cells[mine.natural_cells])
        # a ghost is owned by a lower rank, which numbers it
        ghosts = mine.global_nodes[mine.n_owned:]
        assert np.all(ghosts < mine.node_starts[mine.rank])
        assert np.all(np.diff(ghosts) > 0)
    total = sum(len(p.boundary_facets()) for p in pieces)
    assert total == len(whole.boundary_facets())                                  # interfaces are not boundary


def test_a_piece_selects_the_whole_meshes_boundary_and_may_select_nothing():
    whole = fo.mesh.box((2.0, 1.0, 1.0), (4, 2, 2))
    left, right = (cut_piece(whole, r, 2, cell_part=(whole.cell_centroids()[:, 0] > 1.0).astype(int))
                   for r in range(2))
    assert len(left.facets(lambda x: np.isclose(x[:, 0], 1.0))) == 0              # the interface plane
    assert len(right.facets("xmin")) == 0 and len(right.nodes("xmin")) == 0
    assert len(left.facets("xmin")) == 4
    problem = fo.Problem(right, fo.physics.LinearElasticity()).fix("xmax").traction("xmin", [1.0, 0.0, 0.0])
    assert len(problem.assembler.blocks) == 1          # the physics; the traction on no facet gets no block
    with pytest.raises(InputError, match="selects no nodes"):
        whole.nodes(lambda x: x[:, 0] > 5.0)                                        # a whole mesh still refuses


def test_a_piece_keeps_its_nodes_and_cells():
    piece = cut_piece(fo.mesh.box(shape=(4, 2, 2)), 0, 2)
    moved = piece.with_points(piece.points * 2.0)
    assert moved.piece is piece.piece
    assert piece.tag_nodes("corner", [0]).piece is piece.piece
    with pytest.raises(MeshError, match="keeps its nodes and cells"):
        piece.submesh([0, 1])
    with pytest.raises(InputError, match="already a piece"):
        cut_piece(piece, 0, 2)


def test_cut_piece_refuses_bad_input():
    whole = fo.mesh.box(shape=(2, 1, 1))
    with pytest.raises(InputError, match="rank must be an integer in 0..1"):
        cut_piece(whole, 2, 2)
    with pytest.raises(InputError, match="cell_part must give each of the 2 cells"):
        cut_piece(whole, 0, 2, cell_part=[0, 0, 1])
    with pytest.raises(InputError, match="cannot split 2 cells into 3 parts"):
        cut_piece(whole, 0, 3)
    lonely = fo.Mesh(np.vstack([whole.points, [[9.0, 9.0, 9.0]]]), whole.cells, "hex8")
    with pytest.raises(InputError, match="1 node"):
        cut_piece(lonely, 0, 2)


def test_mesh_piece_check_names_what_does_not_fit():
    piece = cut_piece(fo.mesh.box(shape=(4, 2, 2)), 1, 2).piece
    fields = dict(rank=piece.rank, n_ranks=piece.n_ranks, n_owned=piece.n_owned, global_nodes=piece.global_nodes,
                  node_starts=piece.node_starts, cell_starts=piece.cell_starts, natural_nodes=piece.natural_nodes,
                  natural_cells=piece.natural_cells, boundary=piece.boundary)
    n_nodes, n_cells = len(piece.global_nodes), len(piece.natural_cells)
    MeshPiece(**fields).check(n_nodes, n_cells)
    with pytest.raises(MeshError, match="owned nodes, but the layout gives rank 1"):
        MeshPiece(**{**fields, "n_owned": piece.n_owned + 1}).check(n_nodes, n_cells)
    with pytest.raises(MeshError, match="natural_cells of shape"):
        MeshPiece(**{**fields, "natural_cells": piece.natural_cells[:-1]}).check(n_nodes, n_cells)


def test_a_piece_of_several_refuses_serial_solves():
    piece = cut_piece(fo.mesh.box(shape=(4, 2, 2)), 0, 2)
    problem = fo.Problem(piece, fo.physics.LinearElasticity()).fix("xmin").traction("xmax", [0.0, 0.0, -1.0])
    with pytest.raises(InputError, match="piece 0 of 2 of a distributed mesh would solve this rank's part alone"):
        problem.solve()
    with pytest.raises(InputError, match="DistributedProblem"):
        problem.assembler.residual_and_tangent(np.zeros(problem.space.n_dofs), problem.split(problem.parameters()))
    alone = cut_piece(fo.mesh.box(shape=(4, 2, 2)), 0, 1)                 # one rank: the whole mesh
    assert fo.Problem(alone, fo.physics.LinearElasticity()).fix("xmin").traction(
        "xmax", [0.0, 0.0, -1.0]).solve().shape == (alone.n_nodes, 3)
