"""Pieces of a box or rectangle built block by block (femopt.mesh.box_pieces) equal the
pieces cut from the whole serial mesh, field by field; the process grid is the one of
least interface area; bad arguments are refused with a message."""
import itertools
import math

import numpy as np
import pytest

from femopt.errors import InputError
from femopt.mesh import box, rectangle
from femopt.mesh.box_pieces import box_piece, grid_cell_part, grid_split, rectangle_piece
from femopt.mesh.pieces import cut_piece

PLANAR = ["tri3", "tri6", "quad4", "quad8", "quad9"]
SOLID = ["tet4", "tet10", "hex8", "hex20", "hex27"]
PIECE_FIELDS = ["rank", "n_ranks", "n_owned", "global_nodes", "node_starts", "cell_starts",
                "natural_nodes", "natural_cells", "boundary"]

SIZE3, ORIGIN3 = (2.0, 0.7, 1.3), (-1.0, 0.25, 3.0)
SIZE2, ORIGIN2 = (2.0, 0.7), (-1.0, 0.25)


def _assert_same(built, cut):
    assert built.cell_type is cut.cell_type
    assert np.array_equal(built.points, cut.points)
    assert np.array_equal(built.cells, cut.cells)
    for kind in ("node_tags", "facet_tags", "cell_tags"):
        ours, theirs = getattr(built, kind), getattr(cut, kind)
        assert ours.keys() == theirs.keys(), kind
        for name in ours:
            assert np.array_equal(ours[name], theirs[name]), (kind, name)
    for field in PIECE_FIELDS:
        assert np.array_equal(getattr(built.piece, field), getattr(cut.piece, field)), field
    assert np.array_equal(built.boundary_facets(), cut.boundary_facets())


def _check_all_ranks(shape, cell, n_ranks, size, origin):
    if len(shape) == 3:
        whole, make = box(size, shape, cell, origin), box_piece
    else:
        whole, make = rectangle(size, shape, cell, origin), rectangle_piece
    part = grid_cell_part(shape, cell, n_ranks)
    owned = 0
    for rank in range(n_ranks):
        built = make(rank, n_ranks, size, shape, cell, origin)
        _assert_same(built, cut_piece(whole, rank, n_ranks, cell_part=part))
        owned += built.piece.n_owned
    assert owned == whole.n_nodes


@pytest.mark.parametrize("cell", SOLID)
@pytest.mark.parametrize("n_ranks", range(1, 8))
def test_box_piece_equals_the_cut_piece(cell, n_ranks):
    _check_all_ranks((7, 3, 2), cell, n_ranks, SIZE3, ORIGIN3)


@pytest.mark.parametrize("cell", PLANAR)
@pytest.mark.parametrize("n_ranks", range(1, 8))
def test_rectangle_piece_equals_the_cut_piece(cell, n_ranks):
    _check_all_ranks((5, 7), cell, n_ranks, SIZE2, ORIGIN2)


@pytest.mark.parametrize("shape, n_ranks", [((3, 3, 3), 27), ((5, 4, 3), 12), ((9, 2, 5), 10),
                                            ((1, 5, 1), 5), ((1, 1, 1), 1)])
@pytest.mark.parametrize("cell", ["tet10", "hex8", "hex20"])
def test_box_pieces_on_uneven_grids(shape, n_ranks, cell):
    """Blocks of different sizes, interior ranks with no boundary, one-box axes."""
    _check_all_ranks(shape, cell, n_ranks, SIZE3, ORIGIN3)


@pytest.mark.parametrize("shape, n_ranks", [((3, 3), 9), ((11, 4), 12), ((13, 1), 13)])
@pytest.mark.parametrize("cell", ["tri6", "quad8"])
def test_rectangle_pieces_on_uneven_grids(shape, n_ranks, cell):
    _check_all_ranks(shape, cell, n_ranks, SIZE2, ORIGIN2)


def test_an_interior_rank_has_no_boundary():
    piece = box_piece(13, 27, shape=(3, 3, 3))           # the middle block of a 3 x 3 x 3 grid
    assert piece.piece.boundary.shape == (0, 2)
    assert all(len(f) == 0 for f in piece.facet_tags.values())
    assert piece.piece.n_owned == 1 and piece.n_nodes == 8          # one box: it owns its top corner


@pytest.mark.parametrize("cell", SOLID)
def test_one_rank_is_the_whole_box(cell):
    whole = box(SIZE3, (3, 2, 4), cell, ORIGIN3)
    piece = box_piece(0, 1, SIZE3, (3, 2, 4), cell, ORIGIN3)
    assert np.array_equal(piece.points, whole.points)
    assert np.array_equal(piece.cells, whole.cells)
    info = piece.piece
    assert info.n_owned == whole.n_nodes == piece.n_nodes          # no ghosts
    assert np.array_equal(info.global_nodes, np.arange(whole.n_nodes))
    assert np.array_equal(info.natural_nodes, np.arange(whole.n_nodes))
    assert np.array_equal(info.natural_cells, np.arange(whole.n_cells))
    assert np.array_equal(info.boundary, whole.boundary_facets())


def test_owned_nodes_add_up_to_the_whole_mesh():
    shape, n_ranks = (6, 5, 4), 6
    pieces = [box_piece(r, n_ranks, shape=shape, cell="hex27") for r in range(n_ranks)]
    n_nodes = math.prod(2 * n + 1 for n in shape)
    assert sum(p.piece.n_owned for p in pieces) == n_nodes == pieces[0].piece.n_nodes
    assert sum(p.n_cells for p in pieces) == math.prod(shape) == pieces[0].piece.n_cells
    owned = np.concatenate([p.piece.global_nodes[:p.piece.n_owned] for p in pieces])
    assert np.array_equal(owned, np.arange(n_nodes))
    natural = np.concatenate([p.piece.natural_nodes[:p.piece.n_owned] for p in pieces])
    assert np.array_equal(np.sort(natural), np.arange(n_nodes))


def test_a_predicate_finds_no_facets_between_ranks():
    for rank in range(2):
        piece = box_piece(rank, 2, shape=(4, 2, 2))          # cut across x at x = 0.5
        assert grid_split((4, 2, 2), 2) == (2, 1, 1)
        assert len(piece.facets(lambda x: x[:, 0] == 0.5)) == 0
        assert len(piece.nodes(lambda x: x[:, 0] == 0.5)) == 9   # the interface nodes are there
    assert len(box_piece(0, 2, shape=(4, 2, 2)).facets(lambda x: x[:, 0] == 0.0)) == 4
    assert len(box_piece(1, 2, shape=(4, 2, 2)).facets(lambda x: x[:, 0] == 1.0)) == 4
    assert len(box_piece(1, 2, shape=(4, 2, 2)).facets("ymin")) == 4


def _interface(shape, grid):
    volume = math.prod(shape)
    return sum((p - 1) * (volume // n) for p, n in zip(grid, shape))


@pytest.mark.parametrize("shape, n_ranks", [((4, 4, 4), 2), ((4, 4, 4), 8), ((8, 2, 2), 4), ((6, 6, 6), 18),
                                            ((10, 3, 7), 6), ((2, 9, 5), 12), ((7, 3, 2), 7), ((5, 7), 6),
                                            ((12, 5), 12), ((30, 20, 10), 60), ((9,), 3)])
def test_grid_split_minimizes_the_interface(shape, n_ranks):
    grid = grid_split(shape, n_ranks)
    assert math.prod(grid) == n_ranks and all(p <= n for p, n in zip(grid, shape))
    fitting = [g for g in itertools.product(*(range(1, n + 1) for n in shape)) if math.prod(g) == n_ranks]
    least = min(_interface(shape, g) for g in fitting)
    assert _interface(shape, grid) == least
    # ties: the lexicographically largest grid (more cuts along the earlier axes)
    assert grid == max(g for g in fitting if _interface(shape, g) == least)


def test_grid_split_examples():
    assert grid_split((4, 4, 4), 2) == (2, 1, 1)
    assert grid_split((4, 4, 4), 8) == (2, 2, 2)
    assert grid_split((100, 10, 10), 4) == (4, 1, 1)
    assert grid_split((3, 3, 3), 1) == (1, 1, 1)


def test_grid_cell_part_blocks():
    part = grid_cell_part((5, 3, 2), "hex8", 2)               # 5 boxes along x: blocks of 3 and 2
    ix = np.arange(30) % 5
    assert np.array_equal(part, (ix >= 3).astype(np.int64))
    tets = grid_cell_part((5, 3, 2), "tet4", 2)
    assert np.array_equal(tets, np.repeat(part, 6))
    tris = grid_cell_part((7, 5), "tri3", 6)                  # grid (3, 2): rank = i + 3 j
    assert grid_split((7, 5), 6) == (3, 2)
    i = np.array([0, 0, 0, 1, 1, 2, 2])[np.arange(35) % 7]
    j = np.array([0, 0, 0, 1, 1])[np.arange(35) // 7]
    assert np.array_equal(tris, np.repeat(i + 3 * j, 2))


def test_a_large_box_piece_builds_only_its_block():
    piece = box_piece(5, 64, shape=(40, 40, 40))            # the whole box: 64000 cells
    assert piece.n_cells == 1000 and piece.piece.n_cells == 64000
    assert piece.n_nodes == 11 ** 3 and piece.piece.n_nodes == 41 ** 3


@pytest.mark.parametrize("call, message", [
    (lambda: grid_split((4, 4), 7), "cannot split (4, 4) boxes among 7 ranks"),
    (lambda: grid_split((4, 4), 7), "run on 6 ranks instead"),
    (lambda: grid_split((2, 2, 2), 9), "cannot split (2, 2, 2) boxes among 9 ranks"),
    (lambda: grid_split((1, 1, 1), 2), "run on 1 rank instead"),
    (lambda: grid_split((4, 0), 2), "shape must be 2 integers >= 1"),
    (lambda: grid_split(4, 2), "shape must be a sequence"),
    (lambda: grid_split((4, 4), 0), "n_ranks must be a positive integer"),
    (lambda: box_piece(0, 7, shape=(4, 4, 4)), "cannot split (4, 4, 4) boxes among 7 ranks"),
    (lambda: box_piece(2, 2), "rank must be an integer in 0..1, got 2"),
    (lambda: box_piece(-1, 2), "rank must be an integer in 0..1, got -1"),
    (lambda: box_piece(True, 2), "rank must be an integer in 0..1, got True"),
    (lambda: box_piece(0, 2.0), "n_ranks must be a positive integer"),
    (lambda: box_piece(0, 2, cell="quad4"), "box_piece() supports cell types"),
    (lambda: box_piece(0, 2, size=(1.0, -1.0, 1.0)), "size must be 3 finite numbers > 0"),
    (lambda: box_piece(0, 2, origin=(0.0, np.nan, 0.0)), "origin must be 3 finite numbers"),
    (lambda: rectangle_piece(0, 2, shape=(4, 2.5)), "shape must be 2 integers >= 1"),
    (lambda: rectangle_piece(0, 2, cell="hex8"), "rectangle_piece() supports cell types"),
    (lambda: grid_cell_part((2, 2, 2, 2), "hex8", 1), "shape must have 2 (rectangle) or 3 (box) entries"),
    (lambda: grid_cell_part((2, 2), "hex8", 1), "grid_cell_part() supports cell types"),
])
def test_bad_arguments_are_refused(call, message):
    with pytest.raises(InputError) as error:
        call()
    assert message in str(error.value)
