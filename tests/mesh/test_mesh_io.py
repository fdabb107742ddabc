"""Reading and writing through meshio: tag round trips through .vtu, .vtk and .msh,
Gmsh files written by other tools, and every error path."""
import meshio
import numpy as np
import pytest

from femopt.errors import InputError, MeshError
from femopt.mesh import box, plate_with_hole, quarter_annulus, read, rectangle, write


def _tagged_rectangle():
    mesh = rectangle(size=(2.0, 1.0), shape=(4, 2), cell="tri6")
    mesh = mesh.tag_cells("left", lambda x: x[:, 0] < 1.0)
    mesh = mesh.tag_cells("xmin", lambda x: x[:, 0] < 0.5)  # same name as a facet tag
    mesh = mesh.tag_nodes("corner", lambda x: (x[:, 0] == 0.0) & (x[:, 1] == 0.0))
    mesh = mesh.tag_nodes("ymax", lambda x: x[:, 1] > 0.7)  # differs from facet tag ymax
    # Interior facets (each seen from its lower-numbered cell).
    return mesh.tag_facets("middle", lambda x: np.isclose(x[:, 0], 1.0), boundary_only=False)


MESHES = {
    "tri6-rectangle": _tagged_rectangle,
    "quad9-plate": lambda: plate_with_hole(2.0, 2.0, 0.5, shape=(4, 2), cell="quad9"),
    "hex20-box": lambda: box(shape=(2, 2, 1), cell="hex20").tag_cells("one", [1]),
    "hex27-box": lambda: box(shape=(1, 2, 1), cell="hex27"),
    "tet10-annulus": lambda: quarter_annulus(1.0, 2.0, (1, 2), "tet10", height=1.0, n_height=1),
}


@pytest.mark.parametrize("suffix", [".vtu", ".vtk", ".msh", ".xdmf"])
@pytest.mark.parametrize("label", list(MESHES))
def test_round_trip_keeps_cells_and_tags(tmp_path, suffix, label):
    if suffix == ".xdmf":
        pytest.importorskip("h5py")
    mesh = MESHES[label]()
    path = tmp_path / f"mesh{suffix}"
    write(path, mesh)
    back = read(path)
    assert back.cell_type is mesh.cell_type
    assert np.array_equal(back.points, mesh.points)
    assert np.array_equal(back.cells, mesh.cells)
    for kind in ("facet_tags", "cell_tags", "node_tags"):
        ours, theirs = getattr(mesh, kind), getattr(back, kind)
        for name, values in ours.items():
            assert np.array_equal(theirs[name], values), (kind, name)
        extra = set(theirs) - set(ours)
        # Gmsh derives a node tag for every facet tag (none is lost, some may be added).
        assert not extra or (suffix == ".msh" and kind == "node_tags" and extra <= set(mesh.facet_tags))


def test_interior_facet_keeps_its_side(tmp_path):
    mesh = rectangle(size=(2.0, 1.0), shape=(2, 1), cell="quad4")
    for chosen in ([[0, 1]], [[1, 3]]):  # the shared edge, seen from cell 0 or from cell 1
        tagged = mesh.tag_facets("cut", np.array(chosen))
        for suffix in (".vtu", ".msh") + ((".xdmf",) if _has_h5py() else ()):
            write(tmp_path / f"m{suffix}", tagged)
            assert read(tmp_path / f"m{suffix}").facet_tags["cut"].tolist() == chosen


def test_vtu_fields_and_2d_vectors_padded(tmp_path):
    mesh = rectangle(shape=(2, 2), cell="quad4")
    displacement = mesh.points * 0.1
    write(tmp_path / "f.vtu", mesh, point_data={"u": displacement, "T": mesh.points[:, 0]},
          cell_data={"density": np.linspace(0, 1, 4), "id": np.arange(4)})
    raw = meshio.read(tmp_path / "f.vtu")
    assert raw.point_data["u"].shape == (9, 3)
    assert np.array_equal(raw.point_data["u"][:, :2], displacement)
    assert np.all(raw.point_data["u"][:, 2] == 0.0)
    assert np.array_equal(raw.cell_data["density"][0], np.linspace(0, 1, 4))
    assert np.all(np.isnan(raw.cell_data["density"][1]))  # the tagged facet block
    assert np.all(raw.cell_data["id"][1] == 0)
    assert raw.points.shape == (9, 3)
    assert read(tmp_path / "f.vtu").dim == 2  # zero z dropped again


GMSH41 = """$MeshFormat
4.1 0 8
$EndMeshFormat
$PhysicalNames
2
1 1 "bottom"
2 2 "domain"
$EndPhysicalNames
$Entities
0 1 1 0
1 0 0 0 1 0 0 1 1 0
1 0 0 0 1 1 0 1 2 0
$EndEntities
$Nodes
2 4 1 4
1 1 0 2
1
2
0 0 0
1 0 0
2 1 0 2
3
4
1 1 0
0 1 0
$EndNodes
$Elements
2 3 1 3
1 1 1 1
1 1 2
2 1 2 2
2 1 2 3
3 1 3 4
$EndElements
"""


def test_reads_gmsh41_physical_groups(tmp_path):
    path = tmp_path / "square.msh"
    path.write_text(GMSH41)
    mesh = read(path)
    assert mesh.cell_type.name == "tri3" and mesh.n_cells == 2
    assert mesh.facet_tags["bottom"].tolist() == [[0, 0]]
    assert mesh.node_tags["bottom"].tolist() == [0, 1]
    assert mesh.cell_tags["domain"].tolist() == [0, 1]


def test_gmsh_element_in_two_groups_is_one_cell(tmp_path):
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    triangles = np.array([[0, 1, 2], [0, 2, 3]])
    raw = meshio.Mesh(points, [("triangle", triangles), ("triangle", triangles[1:])],
                      cell_data={"gmsh:physical": [np.array([1, 1]), np.array([2])],
                                 "gmsh:geometrical": [np.array([1, 1]), np.array([1])]},
                      field_data={"all": np.array([1, 2]), "upper": np.array([2, 2])})
    meshio.write(tmp_path / "dup.msh", raw, file_format="gmsh22", binary=False)
    mesh = read(tmp_path / "dup.msh")
    assert mesh.n_cells == 2
    assert mesh.cell_tags["all"].tolist() == [0, 1] and mesh.cell_tags["upper"].tolist() == [1]


def test_picks_the_highest_dimension_or_the_requested_type(tmp_path):
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [2.0, 0.0], [2.0, 1.0]])
    raw = meshio.Mesh(points, [("triangle", np.array([[0, 1, 2], [0, 2, 3]])),
                               ("quad", np.array([[1, 4, 5, 2]])), ("line", np.array([[0, 1]]))])
    meshio.write(tmp_path / "mixed.vtu", raw)
    with pytest.raises(InputError, match=r"mixes cell types \['quad4', 'tri3'\].*cell_type="):
        read(tmp_path / "mixed.vtu")
    assert read(tmp_path / "mixed.vtu", cell_type="quad").n_cells == 1
    assert read(tmp_path / "mixed.vtu", cell_type="tri3").n_cells == 2
    with pytest.raises(InputError, match="has no tet4"):
        read(tmp_path / "mixed.vtu", cell_type="tet4")


def test_no_supported_cells(tmp_path):
    points = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [1, 0, 1]])
    meshio.write(tmp_path / "wedge.vtu", meshio.Mesh(points, [("wedge", np.array([[0, 1, 2, 3, 5, 4]]))]))
    with pytest.raises(InputError, match=r"no cells of a supported type; cell blocks found: \['wedge \(1\)'\]"):
        read(tmp_path / "wedge.vtu")


def test_unreadable_files_name_the_file(tmp_path):
    missing = tmp_path / "missing.vtu"
    with pytest.raises(InputError, match="cannot read mesh file '.*missing.vtu'"):
        read(missing)
    garbage = tmp_path / "garbage.msh"
    garbage.write_text("not a mesh\n")
    with pytest.raises(InputError, match="cannot read mesh file '.*garbage.msh'"):
        read(garbage)


def test_facet_that_is_no_facet_of_any_cell(tmp_path):
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    raw = meshio.Mesh(points, [("triangle", np.array([[0, 1, 2], [0, 2, 3]])), ("line", np.array([[1, 3]]))],
                      cell_data={"facet_tag:bad": [np.zeros(2, np.int32), np.ones(1, np.int32)]})
    meshio.write(tmp_path / "bad.vtu", raw)
    with pytest.raises(InputError, match="facet tag 'bad' are not facets of any tri3 cell"):
        read(tmp_path / "bad.vtu")


def test_inverted_cells_in_a_file_are_rejected(tmp_path):
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    meshio.write(tmp_path / "cw.vtu", meshio.Mesh(points, [("triangle", np.array([[0, 2, 1]]))]))
    with pytest.raises(MeshError, match="inverted tri3"):
        read(tmp_path / "cw.vtu")


@pytest.mark.parametrize("kwargs, match", [
    ({"point_data": {"u": np.zeros(3)}}, "must have 9 rows"),
    ({"cell_data": {"node_tag:x": np.zeros(4)}}, "is not allowed"),
])
def test_write_rejects_bad_data(tmp_path, kwargs, match):
    with pytest.raises(InputError, match=match):
        write(tmp_path / "x.vtu", rectangle(shape=(2, 2)), **kwargs)


def test_write_errors_name_the_file(tmp_path):
    mesh = rectangle(shape=(2, 2))
    with pytest.raises(InputError, match="cannot write mesh file '.*x.unknownformat'"):
        write(tmp_path / "x.unknownformat", mesh)
    with pytest.raises(InputError, match="cannot write fields to the Gmsh file"):
        write(tmp_path / "x.msh", mesh, point_data={"T": np.zeros(9)})
    with pytest.raises(InputError, match="takes the file first and the Mesh second"):
        write(mesh, tmp_path / "x.vtu")


def _has_h5py():
    try:
        import h5py  # noqa: F401
    except ImportError:
        return False
    return True


def test_xdmf_round_trip(tmp_path):
    pytest.importorskip("h5py")
    mesh = _tagged_rectangle()
    write(tmp_path / "m.xdmf", mesh)
    back = read(tmp_path / "m.xdmf")
    assert np.array_equal(back.facet_tags["middle"], mesh.facet_tags["middle"])
    assert np.array_equal(back.cell_tags["left"], mesh.cell_tags["left"])


def test_xdmf_is_one_grid_with_facet_bit_masks(tmp_path):
    # meshio writes several cell blocks as a "Mixed" topology that it cannot read back:
    # femopt's XDMF holds the volume cells only, facet tags as per-cell bit masks.
    pytest.importorskip("h5py")
    mesh = rectangle(shape=(2, 1), cell="quad4").tag_facets("cut", np.array([[1, 3]]))
    write(tmp_path / "m.xdmf", mesh, cell_data={"density": np.array([0.5, 1.0])})
    text = (tmp_path / "m.xdmf").read_text()
    assert "Mixed" not in text and 'TopologyType="Quadrilateral"' in text
    raw = meshio.read(tmp_path / "m.xdmf")
    assert [block.type for block in raw.cells] == ["quad"]
    # cell 1: local facet 3 (the shared edge) and 1 (xmax); cell 0: local facet 3 (xmin)
    assert raw.cell_data["facet_bits:cut"][0].tolist() == [0, 1 << 3]
    assert raw.cell_data["facet_bits:xmax"][0].tolist() == [0, 1 << 1]
    assert raw.cell_data["facet_bits:xmin"][0].tolist() == [1 << 3, 0]
    back = read(tmp_path / "m.xdmf")
    for name, facets in mesh.facet_tags.items():
        assert np.array_equal(back.facet_tags[name], facets), name
