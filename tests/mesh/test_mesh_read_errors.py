"""Hostile files: each gives a femopt error that names the file and says what was
expected, never a raw meshio / XML / zip / KeyError / IndexError traceback."""
import os
import warnings

import meshio
import numpy as np
import pytest

from femopt.errors import InputError, MeshError
from femopt.mesh import read, rectangle, write


def _written(tmp_path, suffix, mesh=None):
    path = tmp_path / f"good{suffix}"
    write(path, mesh or rectangle(shape=(2, 2), cell="tri3"))
    return path


def _with_bytes(name, data):
    def make(tmp_path):
        path = tmp_path / name
        path.write_bytes(data(tmp_path) if callable(data) else data)
        return path
    return make


def _truncated(suffix, fraction):
    return _with_bytes(f"cut{suffix}", lambda tmp: (lambda b: b[: int(len(b) * fraction)])(
        _written(tmp, suffix).read_bytes()))


def _gmsh_element_node(value):
    """The good .msh with the last node of its first element replaced by ``value``."""
    def data(tmp_path):
        lines = _written(tmp_path, ".msh").read_text().splitlines()
        row = lines.index("$Elements") + 2
        lines[row] = " ".join(lines[row].split()[:-1] + [str(value)])
        return ("\n".join(lines) + "\n").encode()
    return data


GMSH41_UNDEFINED = """$MeshFormat
4.1 0 8
$EndMeshFormat
$Nodes
1 3 1 3
2 1 0 3
1
2
3
0 0 0
1 0 0
1 1 0
$EndNodes
$Elements
1 1 1 1
2 1 2 1
1 1 2 7
$EndElements
"""


def _meshio_file(name, points, blocks):
    def make(tmp_path):
        path = tmp_path / name
        meshio.write(path, meshio.Mesh(np.asarray(points, dtype=float), blocks))
        return path
    return make


def _directory(tmp_path):
    path = tmp_path / "folder.vtu"
    path.mkdir()
    return path


def _dangling_link(tmp_path):
    path = tmp_path / "link.vtu"
    os.symlink(tmp_path / "nowhere.vtu", path)
    return path


SQUARE = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]

# (case, make(tmp_path) -> path, error type, pattern in the message)
CASES = [
    ("missing file", lambda tmp: tmp / "missing.vtu", InputError, "no such file"),
    ("dangling link", _dangling_link, InputError, "no such file .a symbolic link"),
    ("directory", _directory, InputError, "it is a directory; expected a mesh file"),
    ("unknown extension", _with_bytes("mesh.foo", b"hello"), InputError, r"unknown extension '\.foo'.*\.msh \(Gmsh\)"),
    ("no extension", _with_bytes("mesh", b"hello"), InputError, r"unknown extension '\(none\)'"),
    ("empty .msh", _with_bytes("empty.msh", b""), InputError, r"empty \(0 bytes\); expected Gmsh MSH"),
    ("empty .vtu", _with_bytes("empty.vtu", b""), InputError, r"empty \(0 bytes\); expected VTK XML"),
    ("truncated .msh (nodes)", _truncated(".msh", 0.3), InputError, "as Gmsh MSH .*truncated, corrupt"),
    ("truncated .msh (elements)", _truncated(".msh", 0.8), InputError, "as Gmsh MSH .*truncated, corrupt"),
    ("truncated .vtu", _truncated(".vtu", 0.5), InputError, r"as VTK XML \(\.vtu\): the file is truncated"),
    ("broken XML .vtu", _with_bytes("broken.vtu", lambda tmp: _written(tmp, ".vtu").read_bytes().replace(
        b"<Piece", b"<Pie<ce")), InputError, r"as VTK XML \(\.vtu\): the file is truncated"),
    ("broken XML .xdmf", _with_bytes("broken.xdmf", b"<Xdmf><Domain><Grid></Xdmf>"), InputError, "as XDMF"),
    ("garbage .vtk", _with_bytes("garbage.vtk", np.random.default_rng(0).bytes(2000)), InputError,
     "as legacy VTK: the file is truncated, corrupt or in another format"),
    ("truncated .vtk", _truncated(".vtk", 0.5), InputError, "as legacy VTK"),
    ("garbage .msh", _with_bytes("garbage.msh", b"$MeshFormat\n2.2 1 8\n" + np.random.default_rng(1).bytes(300)),
     InputError, "as Gmsh MSH"),
    ("msh element node beyond $Nodes", _with_bytes("beyond.msh", _gmsh_element_node(99)), InputError,
     r"element\(s\) refer to node ids that \$Nodes does not define: element ids \[1\], node ids \[99\]"),
    ("msh element node 0", _with_bytes("zero.msh", _gmsh_element_node(0)), InputError,
     r"node ids \[0\]; \$Nodes defines 9 nodes, ids 1..9"),
    ("msh 4.1 element node undefined", _with_bytes("undefined41.msh", GMSH41_UNDEFINED.encode()), InputError,
     r"element ids \[1\], node ids \[7\]"),
    ("vtu connectivity out of range", _meshio_file("range.vtu", SQUARE[:3], [("triangle", np.array([[0, 1, 7]]))]),
     InputError, r"refer to node ids the file does not define \(it has 3 points"),
    ("only line cells (curves in 2D)",
     _meshio_file("outline.vtu", SQUARE, [("line", np.array([[0, 1], [1, 2], [2, 3], [3, 0]]))]),
     InputError, r"line2 \(1D\) but their nodes span 2D.*area or volume cells"),
    ("only vertex cells", _meshio_file("vertices.vtu", SQUARE, [("vertex", np.array([[0], [1]]))]), InputError,
     r"no cells of a supported type; cell blocks found: \['vertex \(2\)'\].*SaveAll"),
    ("2D cells with varying z", _meshio_file("surface.vtu", [[0, 0, 0], [1, 0, 0.5], [0, 1, 1.0]],
                                             [("triangle", np.array([[0, 1, 2]]))]),
     InputError, r"tri3 \(2D\) but their nodes span 3D.*cell_type='tri3'"),
    ("non-finite coordinates", _meshio_file("nan.vtu", [[0, 0, 0], [1, np.nan, 0], [0, 1, 0]],
                                            [("triangle", np.array([[0, 1, 2]]))]),
     MeshError, r"non-finite coordinates: node ids \[1\]"),
    ("inverted cell", _meshio_file("cw.vtu", SQUARE[:3], [("triangle", np.array([[0, 2, 1]]))]), MeshError,
     "inverted tri3"),
]


@pytest.mark.parametrize("case, make, error_type, pattern", CASES, ids=[c[0] for c in CASES])
def test_hostile_file_gives_a_femopt_error_naming_it(tmp_path, case, make, error_type, pattern):
    path = make(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning (or print) in place of an error
        with pytest.raises(error_type, match=pattern) as error:
            read(path)
    assert type(error.value) is error_type
    assert repr(str(path)) in str(error.value)
    # No meshio / XML / KeyError traceback chained to it.
    assert error.value.__cause__ is None
    assert error.value.__context__ is None or error.value.__suppress_context__


def test_flat_files_are_read_in_their_dimension(tmp_path):
    # A 2D mesh in the plane z = 1, and line cells along the x axis, drop the constant
    # coordinates; asking for the cell type reads a surface in 3D as it is.
    make = _meshio_file("plane.vtu", [[0, 0, 1.0], [1, 0, 1.0], [0, 1, 1.0]], [("triangle", np.array([[0, 1, 2]]))])
    assert read(make(tmp_path)).dim == 2
    make = _meshio_file("bar.vtu", [[0, 0, 0], [0.5, 0, 0], [1.0, 0, 0]], [("line", np.array([[0, 1], [1, 2]]))])
    bar = read(make(tmp_path))
    assert bar.dim == 1 and bar.points[:, 0].tolist() == [0.0, 0.5, 1.0]
    make = _meshio_file("surface.vtu", [[0, 0, 0], [1, 0, 0.5], [0, 1, 1.0]], [("triangle", np.array([[0, 1, 2]]))])
    assert read(make(tmp_path), cell_type="tri3").dim == 3


@pytest.mark.parametrize("suffix", [".msh", ".vtu", ".vtk"])
def test_every_truncation_is_an_error_or_the_whole_mesh(tmp_path, suffix):
    mesh = rectangle(shape=(2, 1), cell="tri6").tag_cells("left", [0, 1])
    data = _written(tmp_path, suffix, mesh).read_bytes()
    path = tmp_path / f"cut{suffix}"
    for cut in range(0, len(data), max(1, len(data) // 60)):
        path.write_bytes(data[:cut])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                back = read(path)
        except InputError:
            continue
        assert np.array_equal(back.cells, mesh.cells) and np.array_equal(back.points, mesh.points), cut
