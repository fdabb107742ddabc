"""Uniform refinement: counts, geometry, conformity, the prolongation, tags, the level
hierarchy, and P1/Q1 heat conduction on the refined meshes converging at rate 2."""
import itertools

import numpy as np
import pytest
import scipy.sparse

import femopt as fo
from femopt.benchmarks.cases_common import boundary_nodes, distorted, l2_error
from femopt.benchmarks.cases_heat import manufactured_source, manufactured_temperature
from femopt.fem.elements import reference_element
from femopt.mesh.quality import corner_edge_pairs
from femopt.mesh.reference import reference_nodes
from femopt.mesh.topology import facet_keys, row_ids, unique_facets
from femopt.physics import HeatConduction

CELLS = ["line2", "tri3", "quad4", "tet4", "hex8"]


def line_mesh():
    """Five uneven line cells on [0, 2] with node, facet and cell tags."""
    points = np.array([[0.0], [0.3], [0.5], [1.2], [1.7], [2.0]])
    cells = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]])
    return fo.mesh.Mesh(points, cells, "line2",
                        node_tags={"xmin": [0], "xmax": [5], "middle": [1, 2, 3], "ends": [0, 5]},
                        facet_tags={"xmin": [[0, 0]], "xmax": [[4, 1]]},
                        cell_tags={"inner": [1, 3]})


def generated(cell):
    """A small generated mesh of ``cell`` with a cell tag."""
    if cell == "line2":
        return line_mesh()
    if cell in ("tri3", "quad4"):
        mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(3, 2), cell=cell)
    else:
        mesh = fo.mesh.box(size=(1.0, 2.0, 1.5), shape=(2, 2, 3), cell=cell)
    return mesh.tag_cells("left", lambda x: x[:, 0] < 0.5)


def unstructured(cell):
    """The generated mesh with its interior nodes moved at random (still valid)."""
    mesh = generated(cell)
    return mesh if cell == "line2" else distorted(mesh, 0.08, seed=3)


def n_children(mesh):
    return 2 ** mesh.cell_type.dim


def jacobians_at_centre(mesh):
    """Determinant of each cell's Jacobian at its reference centre, ``(n_cells,)``."""
    ct = mesh.cell_type
    centre = reference_nodes(ct)[: ct.n_corners].mean(axis=0, keepdims=True)
    dN = reference_element(ct.name).shape_gradients(centre)[0]  # (n_nodes, d)
    J = np.einsum("aj,mai->mij", dN, mesh.points[mesh.cells])
    return np.linalg.det(J)


def facet_measures(mesh, facets):
    facet_type = mesh.cell_type.facet_type
    return fo.mesh.cell_measures(mesh.points, mesh.facet_nodes(facets), facet_type)


# ------------------------------------------------------------------------------ geometry
@pytest.mark.parametrize("cell", CELLS)
def test_node_and_cell_counts(cell):
    mesh = unstructured(cell)
    fine = fo.mesh.refine(mesh)
    ct = mesh.cell_type
    n_edges = len(np.unique(row_ids(np.sort(mesh.cells[:, corner_edge_pairs(ct)].reshape(-1, 2), axis=1),
                                    mesh.n_nodes)))
    expected = {"line2": mesh.n_nodes + mesh.n_cells,
                "tri3": mesh.n_nodes + n_edges,
                "quad4": mesh.n_nodes + n_edges + mesh.n_cells,
                "tet4": mesh.n_nodes + n_edges,
                "hex8": mesh.n_nodes + n_edges + len(unique_facets(mesh.cells, ct, mesh.n_nodes))
                + mesh.n_cells}[cell]
    assert fine.n_nodes == expected
    assert fine.n_cells == n_children(mesh) * mesh.n_cells
    assert fine.cell_type is ct
    np.testing.assert_array_equal(fine.points[: mesh.n_nodes], mesh.points)


@pytest.mark.parametrize("cell", CELLS)
def test_children_are_positive_and_fill_their_parent(cell):
    mesh = unstructured(cell)
    fine = fo.mesh.refine(mesh)
    assert np.all(jacobians_at_centre(fine) > 0.0)
    assert fo.mesh.inverted_cells(fine.points, fine.cells, fine.cell_type).size == 0
    assert fo.mesh.degenerate_cells(fine.points, fine.cells, fine.cell_type).size == 0
    coarse_measure = fo.mesh.cell_measures(mesh.points, mesh.cells, mesh.cell_type)
    fine_measure = fo.mesh.cell_measures(fine.points, fine.cells, fine.cell_type)
    np.testing.assert_allclose(fine_measure.reshape(mesh.n_cells, -1).sum(axis=1), coarse_measure,
                               rtol=1e-13)


@pytest.mark.parametrize("cell", ["tri3", "quad4", "tet4", "hex8"])
def test_refined_mesh_is_conforming(cell):
    mesh = unstructured(cell)
    fine = fo.mesh.refine(mesh)
    ct = mesh.cell_type
    _, counts = np.unique(row_ids(facet_keys(fine.cells, ct), fine.n_nodes), return_counts=True)
    assert set(counts.tolist()) == {1, 2}  # boundary facets once, interior facets twice
    assert np.count_nonzero(counts == 1) == 2 ** (ct.dim - 1) * len(mesh.boundary_facets())
    np.testing.assert_allclose(facet_measures(fine, fine.boundary_facets()).sum(),
                               facet_measures(mesh, mesh.boundary_facets()).sum(), rtol=1e-13)


EVEN_PERMUTATIONS = [p for p in itertools.permutations(range(4))
                     if np.linalg.det(np.eye(4)[list(p)]) > 0]


@pytest.mark.parametrize("order", EVEN_PERMUTATIONS)
def test_tet_octahedron_is_cut_along_its_shortest_diagonal(order):
    # A tet stretched along z: the diagonal between the midpoints of the edges (0, 3) and
    # (1, 2) is the shortest; numbering its corners in every positive order puts that
    # diagonal at each of the three local positions.
    points = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.2, 3.0]])
    mesh = fo.mesh.Mesh(points, [order], "tet4", facet_tags={"all": [[0, f] for f in range(4)]})
    fine = fo.mesh.refine(mesh)
    shortest = [np.flatnonzero(np.all(fine.points == m, axis=1))[0]
                for m in (0.5 * (points[0] + points[3]), 0.5 * (points[1] + points[2]))]
    for tet in fine.cells[4:]:  # every inner tet holds the diagonal
        assert set(shortest) <= set(tet.tolist())
    assert np.all(jacobians_at_centre(fine) > 0.0)
    np.testing.assert_allclose(fo.mesh.cell_measures(fine.points, fine.cells, "tet4").sum(),
                               fo.mesh.cell_measures(points, [order], "tet4")[0], rtol=1e-14)
    children = fine.facet_tags["all"]  # 4 per parent facet, each on its parent facet
    assert len(children) == 16
    np.testing.assert_allclose(facet_measures(fine, children).sum(),
                               facet_measures(mesh, mesh.facet_tags["all"]).sum(), rtol=1e-14)
    corners = points[list(order)]
    local = np.linalg.solve((corners[1:] - corners[0]).T, (fine.points - corners[0]).T).T
    barycentric = np.column_stack([1.0 - local.sum(axis=1), local])  # (n_fine_nodes, 4)
    on_face = np.abs(barycentric[fine.facet_nodes(children)]).max(axis=1) < 1e-12  # (16, 4)
    assert np.all(on_face.sum(axis=1) == 1)
    np.testing.assert_array_equal(np.bincount(np.argmax(on_face, axis=1)), [4, 4, 4, 4])


# -------------------------------------------------------------------------- prolongation
@pytest.mark.parametrize("cell", CELLS)
def test_prolongation_interpolates_affine_fields_exactly(cell):
    mesh = unstructured(cell)
    fine = fo.mesh.refine(mesh)
    P = fine.refinement.prolongation
    assert isinstance(P, scipy.sparse.csr_matrix)
    assert P.shape == (fine.n_nodes, mesh.n_nodes)
    np.testing.assert_allclose(np.asarray(P.sum(axis=1)).ravel(), 1.0, rtol=0, atol=1e-15)
    resorted = P.copy()
    resorted.has_sorted_indices = False
    resorted.sort_indices()
    np.testing.assert_array_equal(resorted.indices, P.indices)
    identity = P[: mesh.n_nodes].toarray()
    np.testing.assert_array_equal(identity, np.eye(mesh.n_nodes))  # full column rank
    rng = np.random.default_rng(0)
    a, b = rng.normal(), rng.normal(size=mesh.dim)
    np.testing.assert_allclose(P @ (a + mesh.points @ b), a + fine.points @ b, rtol=0, atol=1e-13)
    np.testing.assert_allclose(P @ mesh.points, fine.points, rtol=0, atol=1e-14)


@pytest.mark.parametrize("cell", ["quad4", "hex8"])
def test_prolongation_interpolates_multilinear_fields_exactly(cell):
    mesh = generated(cell)  # axis-aligned: the cells' multilinear maps are the coordinates'
    fine = fo.mesh.refine(mesh)

    def field(x):
        return np.prod(x + 0.25, axis=1) + 2.0 * x[:, 0] * x[:, 1]

    np.testing.assert_allclose(fine.refinement.prolongation @ field(mesh.points), field(fine.points),
                               rtol=0, atol=1e-13)


# ---------------------------------------------------------------------------------- tags
@pytest.mark.parametrize("cell", ["tri3", "quad4", "tet4", "hex8"])
def test_side_tags_stay_the_sides(cell):
    mesh = generated(cell)
    fine = fo.mesh.refine(mesh, 2)
    sizes = (2.0, 1.0) if mesh.dim == 2 else (1.0, 2.0, 1.5)
    for axis, size in enumerate(sizes):
        for side, value in (("min", 0.0), ("max", size)):
            name = "xyz"[axis] + side
            on_side = np.flatnonzero(fine.points[:, axis] == value)
            np.testing.assert_array_equal(fine.node_tags[name], on_side)
            facets = fine.facet_tags[name]
            assert len(facets) == 4 ** (mesh.dim - 1) * len(mesh.facet_tags[name])
            assert np.all(fine.points[fine.facet_nodes(facets), axis] == value)
            np.testing.assert_allclose(facet_measures(fine, facets).sum(),
                                       facet_measures(mesh, mesh.facet_tags[name]).sum(), rtol=1e-13)
            # The facets of the fine mesh that the node tag selects are the facet tag.
            np.testing.assert_array_equal(fine.tag_nodes("side", name).facets("side"), facets)


@pytest.mark.parametrize("cell", ["tri3", "quad4", "tet4", "hex8"])
def test_new_nodes_join_a_node_tag_only_inside_its_boundary_facets(cell):
    mesh = generated(cell)
    everything = np.arange(mesh.n_nodes)
    corner_line = mesh.nodes(lambda x: (x[:, 0] == 0.0) & (x[:, 1] == 0.0))
    mesh = mesh.tag_nodes("all", everything).tag_nodes("line", corner_line)
    fine = fo.mesh.refine(mesh)
    # 'all': the coarse nodes and every new node on the boundary, no interior one.
    expected = np.union1d(everything, boundary_nodes(fine))
    np.testing.assert_array_equal(fine.node_tags["all"], expected)
    # 'line' (a box edge, or a rectangle corner) lies in no boundary facet: no new node.
    np.testing.assert_array_equal(fine.node_tags["line"], corner_line)


def test_line_tags():
    fine = fo.mesh.refine(line_mesh())
    n = 6  # coarse nodes; midpoint of cell c is node n + c
    np.testing.assert_array_equal(fine.node_tags["middle"], [1, 2, 3, n + 1, n + 2])
    np.testing.assert_array_equal(fine.node_tags["ends"], [0, 5])
    np.testing.assert_array_equal(fine.facet_tags["xmin"], [[0, 0]])
    np.testing.assert_array_equal(fine.facet_tags["xmax"], [[9, 1]])
    np.testing.assert_array_equal(fine.cell_tags["inner"], [2, 3, 6, 7])
    np.testing.assert_allclose(fine.points[n:, 0], [0.15, 0.4, 0.85, 1.45, 1.85])


@pytest.mark.parametrize("cell", ["tri3", "quad4", "tet4", "hex8"])
def test_cell_tags_take_every_child(cell):
    mesh = unstructured(cell)
    fine = fo.mesh.refine(mesh)
    k = n_children(mesh)
    expected = (mesh.cell_tags["left"][:, None] * k + np.arange(k)).ravel()
    np.testing.assert_array_equal(fine.cell_tags["left"], expected)
    parent_centroids = mesh.cell_centroids()[fine.cell_tags["left"] // k]
    assert np.all(parent_centroids[:, 0] < 0.5)


# ----------------------------------------------------------------------------- hierarchy
@pytest.mark.parametrize("cell", CELLS)
def test_levels_chain_the_hierarchy(cell):
    mesh = unstructured(cell)
    twice = fo.mesh.refine(mesh, 2)
    stepwise = fo.mesh.refine(fo.mesh.refine(mesh))
    np.testing.assert_array_equal(twice.points, stepwise.points)
    np.testing.assert_array_equal(twice.cells, stepwise.cells)
    for kind in ("node_tags", "facet_tags", "cell_tags"):
        a, b = getattr(twice, kind), getattr(stepwise, kind)
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])
    middle = twice.refinement.coarse
    assert middle.refinement.coarse is mesh
    assert middle.n_cells == n_children(mesh) * mesh.n_cells
    np.testing.assert_array_equal(twice.refinement.prolongation.toarray(),
                                  stepwise.refinement.prolongation.toarray())
    P = twice.refinement.prolongation @ middle.refinement.prolongation
    np.testing.assert_allclose(P @ mesh.points, twice.points, rtol=0, atol=1e-14)
    assert fo.mesh.refine(mesh, 0) is mesh


@pytest.mark.parametrize("cell", ["tri6", "quad8", "quad9", "tet10", "hex20", "hex27"])
def test_quadratic_cells_are_refused_by_name(cell):
    make = fo.mesh.box if cell[:3] in ("tet", "hex") else fo.mesh.rectangle
    mesh = make(shape=(1,) * (3 if make is fo.mesh.box else 2), cell=cell)
    with pytest.raises(fo.InputError, match=rf"supports the cell types .*'hex8'.* {cell} cells"):
        fo.mesh.refine(mesh)


@pytest.mark.parametrize("levels", [-1, 1.5, True, "2", None])
def test_bad_levels_are_refused(levels):
    with pytest.raises(fo.InputError, match="levels"):
        fo.mesh.refine(generated("tri3"), levels)


def test_only_meshes_are_refined():
    with pytest.raises(fo.InputError, match="expects a femopt Mesh, got dict"):
        fo.mesh.refine({"points": [], "cells": []})


# ------------------------------------------------------------------ finite elements on it
def l2_errors(mesh, levels):
    """Relative L2 errors of manufactured heat conduction on refine(mesh, k)."""
    errors = []
    for k in range(levels + 1):
        fine = fo.mesh.refine(mesh, k)
        problem = fo.Problem(fine, HeatConduction(k=2.5))  # the conductivity of the source
        problem.heat_source(manufactured_source)
        problem.fix(boundary_nodes(fine), value=manufactured_temperature)
        error, norm = l2_error(fine, problem.solve(), manufactured_temperature)
        errors.append(error / norm)
    return np.array(errors)


# Tets start pre-asymptotic on 2 x 2 x 2 boxes (rates 1.30, 1.75, 1.93): one more level.
@pytest.mark.parametrize("cell,shape,levels", [("tri3", (4, 4), 2), ("quad4", (4, 4), 2),
                                               ("tet4", (2, 2, 2), 3), ("hex8", (2, 2, 2), 2)])
def test_heat_conduction_converges_at_rate_two_under_refinement(cell, shape, levels):
    make = fo.mesh.box if len(shape) == 3 else fo.mesh.rectangle
    mesh = distorted(make(size=(1.0,) * len(shape), shape=shape, cell=cell), 0.05, seed=1)
    errors = l2_errors(mesh, levels)
    rates = np.log2(errors[:-1] / errors[1:])
    assert abs(rates[-1] - 2.0) < 0.1, (errors, rates)  # P1 / Q1: L2 error ~ h^2


def test_tagging_and_moving_nodes_keep_the_hierarchy():
    fine = fo.mesh.refine(fo.mesh.rectangle(shape=(2, 2), cell="tri3"), 2)
    tagged = fine.tag_nodes("corner", lambda x: (x[:, 0] == 0.0) & (x[:, 1] == 0.0))
    moved = fine.with_points(fine.points * 2.0)
    assert tagged.refinement is fine.refinement and moved.refinement is fine.refinement
