"""Coincident nodes: a mesh of two parts that share positions but not node ids is
cracked. Found at construction and reading, welded by merge_coincident; the welded
answer is checked against a mesh generated in one piece."""
import warnings

import numpy as np
import pytest

import femopt as fo
from femopt.errors import InputError, MeshError
from femopt.mesh import (CoincidentNodesWarning, Mesh, box, plate_with_hole, quarter_annulus, read,
                         rectangle, write)
from femopt.physics import LinearElasticity

# A 4 x 1 cantilever as two 4 x 0.5 strips stacked: lower nodes 0..26, upper 27..53; the
# lower strip's top row (18..26) and the upper strip's bottom row (27..35) coincide.
LOWER_TOP = np.arange(18, 27)
UPPER_BOTTOM = np.arange(27, 36)


def _strips(cell="quad4", offset=0.0, **kwargs):
    lower = rectangle(size=(4.0, 0.5), shape=(8, 2), cell=cell)
    upper = rectangle(size=(4.0, 0.5), shape=(8, 2), cell=cell, origin=(0.0, 0.5 + offset))
    points = np.concatenate([lower.points, upper.points])
    cells = np.concatenate([lower.cells, upper.cells + lower.n_nodes])
    return Mesh(points, cells, cell, **kwargs)


def _tip_deflection_field(mesh):
    pb = fo.Problem(mesh, LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    pb.fix(lambda x: np.isclose(x[:, 0], 0.0))
    pb.traction(lambda x: np.isclose(x[:, 0], 4.0), [0.0, 0.01])
    return np.asarray(pb.solve())


def _by_position(mesh, values):
    """``values`` (per node) in the order of the nodes sorted by (x, y)."""
    order = np.lexsort(mesh.points.T[::-1])
    return values[order], mesh.points[order]


def test_cracked_mesh_warns_naming_the_node_pairs():
    with pytest.warns(CoincidentNodesWarning, match=r"9 pair\(s\) of coincident nodes.*"
                      r"\(18, 27\), \(19, 28\), \(20, 29\), \(21, 30\), \(22, 31\), \.\.\..*"
                      r"merge_coincident") as record:
        _strips()
    warning = record[0]
    assert warning.filename == __file__  # points at the caller, not into femopt
    assert warning.message.pairs.tolist() == np.stack([LOWER_TOP, UPPER_BOTTOM], axis=1).tolist()
    assert 0 < warning.message.tolerance < 1e-8 * 0.5 * 1.01


def test_merged_mesh_solves_like_the_mesh_built_welded():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cracked = _strips(coincident="ignore")
        merged = cracked.merge_coincident()
    welded = rectangle(size=(4.0, 1.0), shape=(8, 4))
    assert (merged.n_nodes, merged.n_cells) == (welded.n_nodes, welded.n_cells)
    assert len(merged.coincident_nodes()) == 0
    u_welded, x_welded = _by_position(welded, _tip_deflection_field(welded))
    u_merged, x_merged = _by_position(merged, _tip_deflection_field(merged))
    assert np.array_equal(x_merged, x_welded)
    np.testing.assert_allclose(u_merged, u_welded, rtol=0, atol=1e-12)
    # The cracked beam is two beams of half the height: about three times as soft.
    u_cracked = _tip_deflection_field(cracked)
    tip = np.flatnonzero((cracked.points[:, 0] == 4.0) & (cracked.points[:, 1] == 1.0))[0]
    welded_tip = u_welded[np.flatnonzero((x_welded[:, 0] == 4.0) & (x_welded[:, 1] == 1.0))[0]]
    assert u_cracked[tip, 1] / welded_tip[1] > 2.5


def test_merging_keeps_every_tag_on_the_same_geometry():
    mesh = _strips(coincident="ignore")
    mesh = mesh.tag_nodes("interface", LOWER_TOP).tag_nodes("crack_top", UPPER_BOTTOM)
    mesh = mesh.tag_nodes("top", lambda x: x[:, 1] == 1.0)
    mesh = mesh.tag_facets("upper_bottom", lambda x: x[:, 1] == 0.5, boundary_only=True)
    mesh = mesh.tag_cells("upper", lambda x: x[:, 1] > 0.5)
    merged = mesh.merge_coincident()
    for name, ids in mesh.node_tags.items():
        ours = mesh.points[ids]
        theirs = merged.points[merged.node_tags[name]]
        assert np.array_equal(ours[np.lexsort(ours.T[::-1])], theirs[np.lexsort(theirs.T[::-1])]), name
    assert np.array_equal(merged.node_tags["interface"], merged.node_tags["crack_top"])
    for name, facets in mesh.facet_tags.items():
        assert np.array_equal(merged.facet_tags[name], facets)
        assert np.array_equal(merged.points[merged.facet_nodes(facets)], mesh.points[mesh.facet_nodes(facets)])
    assert np.array_equal(merged.cell_tags["upper"], mesh.cell_tags["upper"])
    # The crack faces were both boundary; once welded they are interior.
    assert len(merged.boundary_facets()) == len(mesh.boundary_facets()) - 2 * 8


def test_error_mode_raises_naming_the_nodes_and_ignore_is_silent():
    with pytest.raises(MeshError, match=r"9 pair\(s\) of coincident nodes.*\(18, 27\)"):
        _strips(coincident="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cracked = _strips(coincident="ignore")
        # Derived meshes do not search again: same topology.
        cracked.tag_cells("all", lambda x: x[:, 0] > -1.0).with_points(cracked.points * 2.0)
        cracked.submesh(lambda x: x[:, 1] < 0.5)
    with pytest.raises(InputError, match="coincident must be one of"):
        _strips(coincident="merge")


def test_tolerance_is_relative_to_the_shortest_edge():
    # 1e-12 apart on a mesh of unit size: coincident.
    with pytest.warns(CoincidentNodesWarning, match="9 pair"):
        _strips(offset=1e-12)
    # Cells 1e-10 thin on a domain of size 4 (nodes much closer than 1e-8 of the
    # domain): not coincident.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        thin = rectangle(size=(4.0, 1e-9), shape=(8, 10))
        Mesh(thin.points, thin.cells, "quad4")
        # A gap of a millionth of a cell is a gap, not a coincidence.
        _strips(offset=0.5e-6)


def test_unused_nodes_do_not_count():
    mesh = rectangle(shape=(2, 2))
    points = np.concatenate([mesh.points, mesh.points[:3]])  # unused copies of nodes 0..2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        padded = Mesh(points, mesh.cells, "quad4")
    assert len(padded.coincident_nodes()) == 0
    assert padded.merge_coincident() is padded


def test_merge_that_collapses_a_cell_names_it():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    cells = np.array([[0, 1, 3], [1, 2, 5], [2, 4, 5]])  # nodes 1 and 2 coincide: cell 1 collapses
    mesh = Mesh(points, cells, "tri3", check=False)
    with pytest.raises(MeshError, match=r"list one node twice: cell ids \[1\]") as error:
        mesh.merge_coincident()
    assert error.value.cells == (1,)


def test_quadratic_cells_merge_mid_nodes_too():
    with pytest.warns(CoincidentNodesWarning, match="17 pair"):
        cracked = _strips(cell="quad9")
    merged = cracked.merge_coincident()
    welded = rectangle(size=(4.0, 1.0), shape=(8, 4), cell="quad9")
    assert merged.n_nodes == welded.n_nodes
    u_merged, _ = _by_position(merged, _tip_deflection_field(merged))
    u_welded, _ = _by_position(welded, _tip_deflection_field(welded))
    np.testing.assert_allclose(u_merged, u_welded, rtol=0, atol=1e-12)


def test_read_warns_naming_the_file_or_merges(tmp_path):
    cracked = _strips(coincident="ignore").tag_cells("upper", lambda x: x[:, 1] > 0.5)
    cracked = cracked.tag_facets("left", lambda x: x[:, 0] == 0.0).tag_nodes("tip", lambda x: x[:, 0] == 4.0)
    path = tmp_path / "cracked.vtu"
    write(path, cracked)
    with pytest.warns(CoincidentNodesWarning, match=r"cracked\.vtu' has 9 pair\(s\).*merge_coincident=True"):
        back = read(path)
    assert back.n_nodes == cracked.n_nodes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        merged = read(path, merge_coincident=True)
    expected = cracked.merge_coincident()
    assert np.array_equal(merged.points, expected.points) and np.array_equal(merged.cells, expected.cells)
    for kind in ("node_tags", "facet_tags", "cell_tags"):
        ours, theirs = getattr(merged, kind), getattr(expected, kind)
        assert ours.keys() == theirs.keys()
        assert all(np.array_equal(ours[k], theirs[k]) for k in ours), kind
    assert len(merged.nodes("tip")) == 5 and len(merged.facets("left")) == 4
    welded = rectangle(size=(4.0, 1.0), shape=(8, 4))
    np.testing.assert_allclose(_by_position(merged, _tip_deflection_field(merged))[0],
                               _by_position(welded, _tip_deflection_field(welded))[0], rtol=0, atol=1e-12)


GENERATED = {
    **{f"rectangle-{c}": (lambda c=c: rectangle(shape=(3, 2), cell=c))
       for c in ("tri3", "tri6", "quad4", "quad8", "quad9")},
    **{f"box-{c}": (lambda c=c: box(shape=(2, 3, 2), cell=c))
       for c in ("tet4", "tet10", "hex8", "hex20", "hex27")},
    **{f"annulus-{c}": (lambda c=c: quarter_annulus(1.0, 2.0, (2, 3), c)) for c in ("tri6", "quad8")},
    **{f"annulus3d-{c}": (lambda c=c: quarter_annulus(1.0, 2.0, (2, 3), c, height=1.0))
       for c in ("tet10", "hex20")},
    **{f"plate-{c}": (lambda c=c: plate_with_hole(2.0, 1.5, 0.5, (4, 2), c, grading=2.0))
       for c in ("tri3", "quad9")},
}


@pytest.mark.parametrize("label", list(GENERATED))
def test_generated_meshes_have_no_coincident_nodes(label):
    # Generators skip the search (their nodes are distinct by construction): verify it.
    mesh = GENERATED[label]()
    assert len(mesh.coincident_nodes()) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Mesh(mesh.points, mesh.cells, mesh.cell_type)
