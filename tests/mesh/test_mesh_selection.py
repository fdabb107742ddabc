"""Selecting nodes, facets and cells by tag, predicate and ids; derived meshes."""
import numpy as np
import pytest

from femopt.errors import InputError, MeshError
from femopt.mesh import box, quarter_annulus, rectangle


@pytest.fixture
def square():
    """2 x 1 rectangle of 4 x 2 quad8 cells, with a cell tag and an interior facet tag."""
    mesh = rectangle(size=(2.0, 1.0), shape=(4, 2), cell="quad8")
    mesh = mesh.tag_cells("left", lambda x: x[:, 0] < 1.0)
    return mesh.tag_facets("middle", lambda x: np.isclose(x[:, 0], 1.0), boundary_only=False)


def test_nodes_by_node_tag_facet_tag_and_cell_tag(square):
    assert np.array_equal(square.nodes("xmin"), square.node_tags["xmin"])
    middle = square.nodes("middle")  # facet tag only
    assert np.all(square.points[middle, 0] == 1.0) and len(middle) == 5
    left = square.nodes("left")  # cell tag
    assert np.all(square.points[left, 0] <= 1.0)
    assert len(left) == (2 * 2 + 1) * (2 * 2 + 1) - 4


def test_nodes_by_predicate_ids_and_mask(square):
    by_predicate = square.nodes(lambda x: np.isclose(x[:, 1], 1.0))
    assert np.array_equal(by_predicate, square.node_tags["ymax"])
    assert square.nodes([5, 2, 5]).tolist() == [2, 5]
    mask = np.zeros(square.n_nodes, dtype=bool)
    mask[[0, 3]] = True
    assert square.nodes(mask).tolist() == [0, 3]
    assert square.nodes(np.array([4])).dtype == np.int64


def test_nodes_errors_name_the_selection(square):
    with pytest.raises(InputError, match=r"no tag named 'top'; available node tags \['xmax'"):
        square.nodes("top")
    with pytest.raises(InputError, match=r"isclose\(x\[:, 0\], 7\.0\).*selects no nodes; available"):
        square.nodes(lambda x: np.isclose(x[:, 0], 7.0))
    with pytest.raises(InputError, match="write it vectorized"):
        square.nodes(lambda x: x[0] > 0.5)
    with pytest.raises(InputError, match=r"node ids outside 0..36: \[99\]"):
        square.nodes([1, 99])
    with pytest.raises(InputError, match="selects no nodes"):
        square.nodes([])


def test_facets_by_tag_predicate_and_array(square):
    assert np.array_equal(square.facets("ymin"), square.facet_tags["ymin"])
    right = square.facets(lambda x: x[:, 0] == 2.0)
    assert np.array_equal(right, square.facet_tags["xmax"])
    # A facet is selected only if the predicate holds at all its nodes, mid nodes included.
    none_on_corner_only = square.facets(lambda x: (x[:, 0] == 2.0) & (x[:, 1] <= 0.5))
    assert len(none_on_corner_only) == 1
    given = square.facets(np.array([[7, 1], [0, 0], [7, 1]]))
    assert given.tolist() == [[0, 0], [7, 1]]


def test_facets_by_node_tag_and_interior(square):
    square = square.tag_nodes("right_nodes", lambda x: x[:, 0] == 2.0)
    assert np.array_equal(square.facets("right_nodes"), square.facet_tags["xmax"])
    assert len(square.facet_tags["middle"]) == 2  # interior facets, tagged on purpose
    with pytest.raises(InputError, match="selects no facets"):
        square.facets(lambda x: np.isclose(x[:, 0], 1.0))  # boundary only by default
    interior = square.facets(lambda x: np.isclose(x[:, 0], 1.0), boundary_only=False)
    assert np.array_equal(interior, square.facet_tags["middle"])


def test_facets_errors(square):
    with pytest.raises(InputError, match="no facet or node tag named 'left'"):
        square.facets("left")  # a cell tag is not a facet selection
    with pytest.raises(MeshError, match=r"rows \[0\] are not facets"):
        square.facets(np.array([[0, 4]]))


def test_facet_nodes_order_and_shape(square):
    facets = square.facet_tags["ymin"]
    nodes = square.facet_nodes(facets)
    assert nodes.shape == (4, 3)  # line3: two corners then the middle node
    x = square.points[nodes]
    assert np.allclose(x[:, 2], 0.5 * (x[:, 0] + x[:, 1]))
    assert np.all(x[:, 1, 0] > x[:, 0, 0])  # bottom edge runs +x: outward normal is -y


def test_boundary_facets_are_cached(square):
    first = square.boundary_facets()
    assert square.boundary_facets() is first
    assert not first.flags.writeable


def test_cells_where_and_centroids(square):
    assert square.cell_centroids().shape == (8, 2)
    right = square.cells_where(lambda x: x[:, 0] > 1.0)
    assert right.tolist() == [2, 3, 6, 7]
    with pytest.raises(InputError, match="selects no cells"):
        square.cells_where(lambda x: x[:, 0] > 5.0)
    with pytest.raises(InputError, match="expects a predicate"):
        square.cells_where([1, 2])


def test_tagging_returns_a_new_mesh(square):
    tagged = square.tag_nodes("origin", lambda x: (x[:, 0] == 0) & (x[:, 1] == 0))
    assert "origin" in tagged.node_tags and "origin" not in square.node_tags
    assert tagged.points is square.points
    tagged = square.tag_cells("some", [0, 5]).tag_cells("again", "some")
    assert tagged.cell_tags["again"].tolist() == [0, 5]
    with pytest.raises(InputError, match="no cell tag named 'nope'"):
        square.tag_cells("x", "nope")
    with pytest.raises(MeshError, match="tag names"):
        square.tag_nodes(3, "xmin")


def test_with_points_validates(square):
    moved = square.with_points(square.points * 2.0)
    assert moved.facet_tags.keys() == square.facet_tags.keys()
    assert np.array_equal(moved.boundary_facets(), square.boundary_facets())
    mirrored = square.points * np.array([-1.0, 1.0])
    with pytest.raises(MeshError, match="inverted quad8"):
        square.with_points(mirrored)
    with pytest.raises(MeshError, match=r"with_points expects \(37, dim\)"):
        square.with_points(square.points[:5])


def test_submesh_renumbers_and_restricts_tags():
    mesh = box(shape=(2, 2, 2), cell="hex8").tag_cells("low", lambda x: x[:, 2] < 0.5)
    sub = mesh.submesh("low")
    assert (sub.n_cells, sub.n_nodes) == (4, 18)
    assert np.array_equal(sub.cell_tags["low"], np.arange(4))
    assert len(sub.facet_tags["zmax"]) == 0 and len(sub.facet_tags["zmin"]) == 4
    assert np.all(sub.points[sub.node_tags["xmin"], 0] == 0.0)
    assert len(sub.boundary_facets()) == 16


def test_predicate_on_curved_side_selects_mid_nodes():
    mesh = quarter_annulus(1.0, 2.0, shape=(2, 4), cell="quad9")
    outer = mesh.facets(lambda x: np.isclose(np.hypot(x[:, 0], x[:, 1]), 2.0))
    assert np.array_equal(outer, mesh.facet_tags["outer"])
