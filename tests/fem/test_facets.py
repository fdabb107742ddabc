"""Facets: the map into the parent cell, reference normals, and the facet tables of
femopt/mesh/cell_types.py checked against the reference node coordinates."""
import numpy as np
import pytest

from femopt.errors import InputError
from femopt.fem.elements import reference_element
from femopt.fem.facets import facet_points_in_cell, facet_reference_normals
from femopt.fem.quadrature import quadrature
from femopt.mesh.cell_types import CELL_TYPES

FACETED = [(name, f) for name, ct in sorted(CELL_TYPES.items()) if ct.dim > 1
           for f in range(ct.n_facets)]
IDS = [f"{name}-facet{f}" for name, f in FACETED]


def on_reference_boundary(name, x):
    """Which boundary pieces of the reference cell contain every point of ``x``."""
    ct = CELL_TYPES[name]
    if ct.family == "simplex":  # barycentric coordinate i vanishes
        bary = np.hstack([1 - x.sum(axis=1, keepdims=True), x])
        return [i for i in range(ct.dim + 1) if np.allclose(bary[:, i], 0, atol=1e-14)]
    return [(i, s) for i in range(ct.dim) for s in (-1, 1) if np.allclose(x[:, i], s, atol=1e-14)]


def inside_reference_cell(name, x):
    tol = 1e-14
    if CELL_TYPES[name].family == "simplex":
        return np.all(x >= -tol) and np.all(x.sum(axis=1) <= 1 + tol)
    return np.all(np.abs(x) <= 1 + tol)


def facet_sample_points(name):
    facet = CELL_TYPES[CELL_TYPES[name].facet_type]
    return np.vstack([quadrature(facet, 3).points, reference_element(facet).nodes])


@pytest.mark.parametrize("name,facet", FACETED, ids=IDS)
def test_mapped_points_lie_on_one_boundary_piece(name, facet):
    x = facet_points_in_cell(name, facet, facet_sample_points(name))
    assert x.shape[1] == CELL_TYPES[name].dim
    assert inside_reference_cell(name, x)
    assert len(on_reference_boundary(name, x)) == 1


@pytest.mark.parametrize("facet", range(6))
def test_hex_facets_are_x_minus_x_plus_y_minus_y_plus_z_minus_z_plus(facet):
    x = facet_points_in_cell("hex27", facet, quadrature("quad4", 2).points)
    assert on_reference_boundary("hex27", x) == [(facet // 2, (-1, 1)[facet % 2])]


@pytest.mark.parametrize("name,facet", FACETED, ids=IDS)
def test_normals_match_mapped_geometry_and_point_outward(name, facet):
    ct = CELL_TYPES[name]
    xi = facet_sample_points(name)
    h = 1e-6
    tangents = [
        (facet_points_in_cell(name, facet, xi + h * e) - facet_points_in_cell(name, facet, xi - h * e))
        / (2 * h)
        for e in np.eye(ct.dim - 1)
    ]
    if ct.dim == 2:  # edge direction rotated clockwise
        normal = np.stack([tangents[0][:, 1], -tangents[0][:, 0]], axis=1)
    else:  # right-hand rule on the facet's own (counterclockwise) reference cell
        normal = np.cross(tangents[0], tangents[1])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    reference = facet_reference_normals(name)
    assert reference.shape == (ct.n_facets, ct.dim)
    np.testing.assert_allclose(np.linalg.norm(reference, axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(normal, np.broadcast_to(reference[facet], normal.shape), atol=1e-8)
    nodes = reference_element(name).nodes
    cell_centroid = nodes[: ct.n_corners].mean(axis=0)
    facet_centroid = facet_points_in_cell(name, facet, xi).mean(axis=0)
    assert reference[facet] @ (facet_centroid - cell_centroid) > 0


@pytest.mark.parametrize("name,facet", FACETED, ids=IDS)
def test_facet_table_matches_facet_element_node_order(name, facet):
    """The facet element's own reference nodes, mapped into the parent, land on the
    parent nodes listed in CellType.facets, in order (corners, mid-edge, face centre)."""
    ct = CELL_TYPES[name]
    facet_element = reference_element(ct.facet_type)
    local_nodes = list(ct.facets[facet])
    assert len(local_nodes) == facet_element.n_nodes
    parent_nodes = reference_element(name).nodes
    mapped = facet_points_in_cell(name, facet, facet_element.nodes)
    np.testing.assert_allclose(mapped, parent_nodes[local_nodes], atol=1e-15)


@pytest.mark.parametrize("name,facet", FACETED, ids=IDS)
def test_facet_table_lists_every_node_on_the_facet(name, facet):
    ct = CELL_TYPES[name]
    nodes = reference_element(name).nodes
    normal = facet_reference_normals(name)[facet]
    listed = list(ct.facets[facet])
    assert np.allclose((nodes[listed] - nodes[listed[0]]) @ normal, 0.0, atol=1e-15)
    on_plane = np.flatnonzero(np.isclose((nodes - nodes[listed[0]]) @ normal, 0.0, atol=1e-15))
    assert sorted(on_plane) == sorted(listed)


@pytest.mark.parametrize("name", ["line2", "line3"])
def test_facets_of_lines_are_their_end_points(name):
    np.testing.assert_array_equal(facet_reference_normals(name), [[-1.0], [1.0]])
    for facet, end in enumerate((-1.0, 1.0)):
        np.testing.assert_array_equal(facet_points_in_cell(name, facet, np.zeros((2, 0))), [[end], [end]])


def test_invalid_arguments_are_rejected():
    with pytest.raises(InputError, match="facets 0..3"):
        facet_points_in_cell("tet4", 4, np.zeros((1, 2)))
    with pytest.raises(InputError, match=r"\(n_points, 2\)"):
        facet_points_in_cell("hex8", 0, np.zeros((1, 3)))
