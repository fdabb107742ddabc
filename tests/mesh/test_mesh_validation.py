"""Mesh construction: attributes, every validation error path, inverted and degenerate
cells per cell type."""
import numpy as np
import pytest

from femopt.errors import MeshError
from femopt.mesh import (CELL_TYPES, Mesh, box, cell_jacobian_signs, corner_jacobians,
                         degenerate_cells, inverted_cells, rectangle, reference_nodes)

SOLID_TYPES = ["tri3", "tri6", "quad4", "quad8", "quad9", "tet4", "tet10", "hex8", "hex20", "hex27"]


def _generated(name, n=2):
    if CELL_TYPES[name].dim == 2:
        return rectangle(size=(2.0, 1.0), shape=(n, n), cell=name)
    return box(size=(2.0, 1.0, 1.0), shape=(n, n, n), cell=name)


def _mirror_permutation(name):
    """Node permutation that maps a cell onto its mirror image (same nodes, reversed
    orientation): reflect the reference nodes and find where each lands."""
    ref = reference_nodes(name)
    if CELL_TYPES[name].family == "simplex":
        mirrored = ref[:, [1, 0] + list(range(2, ref.shape[1]))]
    else:
        mirrored = ref * np.r_[-1.0, np.ones(ref.shape[1] - 1)]
    return np.array([int(np.flatnonzero(np.all(np.isclose(ref, m), axis=1))[0]) for m in mirrored])


def _two_triangles():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    cells = np.array([[0, 1, 2], [0, 2, 3]])
    return points, cells


def test_attributes_and_read_only_arrays():
    points, cells = _two_triangles()
    mesh = Mesh(points, cells, "triangle")  # meshio name accepted
    assert mesh.cell_type is CELL_TYPES["tri3"]
    assert (mesh.dim, mesh.n_nodes, mesh.n_cells) == (2, 4, 2)
    assert mesh.points.dtype == np.float64 and mesh.cells.dtype == np.int64
    with pytest.raises(ValueError):
        mesh.points[0, 0] = 5.0
    with pytest.raises(ValueError):
        mesh.cells[0, 0] = 1
    points[0, 0] = 7.0  # the mesh holds its own copy
    assert mesh.points[0, 0] == 0.0
    assert "tri3" in repr(mesh)


def test_flat_3d_points_are_reduced_to_2d():
    points, cells = _two_triangles()
    mesh = Mesh(np.c_[points, np.zeros(4)], cells, "tri3")
    assert mesh.dim == 2


def test_surface_mesh_in_3d_skips_orientation():
    points, cells = _two_triangles()
    lifted = np.c_[points, points[:, 0]]  # a tilted plane: stays 3D
    mesh = Mesh(lifted, cells[:, ::-1], "tri3")  # clockwise seen from +z, still accepted
    assert mesh.dim == 3
    assert np.all(cell_jacobian_signs(mesh) == 1)


@pytest.mark.parametrize("points, match", [
    (np.zeros(4), r"shape \(n_nodes, dim\)"),
    (np.zeros((4, 4)), r"got shape \(4, 4\)"),
    (np.array([["a", "b"]] * 4), "real numbers"),
])
def test_bad_points(points, match):
    with pytest.raises(MeshError, match=match):
        Mesh(points, [[0, 1, 2]], "tri3")


def test_non_finite_points_name_the_nodes():
    points, cells = _two_triangles()
    points[2, 1] = np.nan
    with pytest.raises(MeshError, match=r"node ids \[2\]"):
        Mesh(points, cells, "tri3")


@pytest.mark.parametrize("cells, match", [
    (np.array([[0, 1, 2, 3]]), r"tri3 cells have 3 nodes each, got cells of shape \(1, 4\)"),
    (np.array([0, 1, 2]), r"shape \(n_cells, 3\)"),
    (np.array([[0.0, 1.0, 2.0]]), "integer node ids, got dtype float64"),
])
def test_bad_cells(cells, match):
    points, _ = _two_triangles()
    with pytest.raises(MeshError, match=match):
        Mesh(points, cells, "tri3")


def test_unknown_cell_type():
    points, cells = _two_triangles()
    with pytest.raises(MeshError, match="unsupported cell type 'tri7'"):
        Mesh(points, cells, "tri7")


def test_out_of_range_nodes_list_the_cells():
    points, cells = _two_triangles()
    cells = np.array([[0, 1, 2], [0, 2, 9], [-1, 1, 2]])
    with pytest.raises(MeshError, match=r"outside 0..3: cell ids \[1, 2\]") as info:
        Mesh(points, cells, "tri3")
    assert info.value.cells == (1, 2)


def test_many_bad_cells_are_summarized():
    mesh = rectangle(shape=(6, 6), cell="quad4")
    cells = mesh.cells.copy()
    cells[:, 0] = 1000
    with pytest.raises(MeshError, match=r"\[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \.\.\.\] \(36 in all\)"):
        Mesh(mesh.points, cells, "quad4")


def test_repeated_node_in_a_cell():
    points, _ = _two_triangles()
    with pytest.raises(MeshError, match=r"list a node twice: cell ids \[1\]") as info:
        Mesh(points, [[0, 1, 2], [0, 2, 2]], "tri3")
    assert info.value.cells == (1,)


def test_spatial_dim_below_cell_dim():
    with pytest.raises(MeshError, match="tet4 cells need points of dimension >= 3"):
        Mesh(np.zeros((4, 2)), [[0, 1, 2, 3]], "tet4")


@pytest.mark.parametrize("name", SOLID_TYPES)
def test_inverted_cell_is_reported_by_id(name):
    mesh = _generated(name)
    cells = mesh.cells.copy()
    flipped = 3
    cells[flipped] = cells[flipped][_mirror_permutation(name)]
    assert list(inverted_cells(mesh.points, cells, name)) == [flipped]
    with pytest.raises(MeshError, match=rf"inverted {name} cell\(s\).*cell ids \[{flipped}\]") as info:
        Mesh(mesh.points, cells, name)
    assert info.value.cells == (flipped,)
    Mesh(mesh.points, cells, name, check=False)  # the check can be skipped


@pytest.mark.parametrize("name", SOLID_TYPES)
def test_generated_cells_are_positive_at_every_corner(name):
    mesh = _generated(name)
    assert np.all(cell_jacobian_signs(mesh) == 1)
    assert corner_jacobians(mesh.points, mesh.cells, name).shape == (mesh.n_cells, CELL_TYPES[name].n_corners)


@pytest.mark.parametrize("name", SOLID_TYPES)
def test_flattened_cell_is_degenerate(name):
    ref = reference_nodes(name)
    flat = ref.copy()
    flat[:, -1] = 0.0  # squash the last reference axis
    cells = np.arange(len(ref))[None]
    assert degenerate_cells(ref, cells, name).size == 0
    assert list(degenerate_cells(flat, cells, name)) == [0]
    with pytest.raises(MeshError, match=r"degenerate .* cell ids \[0\]"):
        Mesh(flat, cells, name)


def test_non_convex_quad_is_inverted():
    points = np.array([[0.0, 0.0], [2.0, 0.0], [0.5, 0.5], [0.0, 2.0]])  # corner 2 pushed in
    with pytest.raises(MeshError, match="inverted quad4") as info:
        Mesh(points, [[0, 1, 2, 3]], "quad4")
    assert info.value.cells == (0,)


def test_clockwise_triangle_is_inverted():
    points, cells = _two_triangles()
    with pytest.raises(MeshError, match=r"inverted tri3 .*\[0\]"):
        Mesh(points, [[0, 2, 1], [0, 2, 3]], "tri3")


@pytest.mark.parametrize("tags, match", [
    ({"node_tags": {"a": [0, 9]}}, r"node tag 'a': node ids outside 0..3: \[9\]"),
    ({"cell_tags": {"c": [5]}}, r"cell tag 'c': cell ids outside 0..1: \[5\]"),
    ({"facet_tags": {"f": [[0, 3]]}}, r"facet tag 'f': rows \[0\] are not facets"),
    ({"facet_tags": {"f": [0, 1]}}, r"\(n, 2\) integer array"),
    ({"node_tags": {"": [0]}}, "tag names must be non-empty strings"),
    ({"node_tags": [0, 1]}, "must be a mapping"),
])
def test_bad_tags(tags, match):
    points, cells = _two_triangles()
    with pytest.raises(MeshError, match=match):
        Mesh(points, cells, "tri3", **tags)


def test_tags_are_sorted_unique():
    points, cells = _two_triangles()
    mesh = Mesh(points, cells, "tri3", node_tags={"a": [3, 1, 3]}, cell_tags={"c": [1, 0, 1]},
                facet_tags={"f": [[1, 2], [0, 0], [1, 2]]})
    assert mesh.node_tags["a"].tolist() == [1, 3]
    assert mesh.cell_tags["c"].tolist() == [0, 1]
    assert mesh.facet_tags["f"].tolist() == [[0, 0], [1, 2]]
