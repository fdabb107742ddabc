"""Generators: node and cell counts, measures against exact values, node placement,
boundary facets, outward facet orientation and side tags."""
import time

import numpy as np
import pytest

from femopt.errors import InputError
from femopt.mesh import (CELL_TYPES, box, cell_measures, plate_with_hole, quarter_annulus,
                         rectangle, reference_nodes)

PLANAR = ["tri3", "tri6", "quad4", "quad8", "quad9"]
SOLID = ["tet4", "tet10", "hex8", "hex20", "hex27"]


def _measure(mesh):
    return cell_measures(mesh.points, mesh.cells, mesh.cell_type).sum()


def _outward_normals(mesh, facets):
    """Normals from the facets' corner nodes: the 2D edge direction turned clockwise,
    or the Newell normal of the 3D corner polygon."""
    ctype = mesh.cell_type
    n_corners = CELL_TYPES[ctype.facet_type].n_corners
    X = mesh.points[mesh.facet_nodes(facets)[:, :n_corners]]
    if mesh.dim == 2:
        edge = X[:, 1] - X[:, 0]
        return np.stack([edge[:, 1], -edge[:, 0]], axis=1)
    return sum(np.cross(X[:, k], X[:, (k + 1) % n_corners]) for k in range(n_corners))


def _all_generated():
    meshes = []
    for name in PLANAR:
        meshes.append(("rectangle-" + name, rectangle((2.0, 1.0), (3, 2), name)))
        meshes.append(("annulus-" + name, quarter_annulus(1.0, 2.0, (2, 5), name)))
        meshes.append(("plate-" + name, plate_with_hole(2.0, 1.5, 0.5, (5, 3), name, grading=2.0)))
    for name in SOLID:
        meshes.append(("box-" + name, box((2.0, 1.0, 1.5), (3, 2, 2), name)))
        meshes.append(("annulus3d-" + name, quarter_annulus(1.0, 2.0, (2, 3), name, height=0.5, n_height=2)))
    return meshes


GENERATED = _all_generated()


@pytest.mark.parametrize("label, mesh", GENERATED, ids=[g[0] for g in GENERATED])
def test_boundary_facets_face_outward(label, mesh):
    facets = mesh.boundary_facets()
    normals = _outward_normals(mesh, facets)
    centre = mesh.points[mesh.facet_nodes(facets)].mean(axis=1)
    inward = centre - mesh.cell_centroids()[facets[:, 0]]
    assert np.all(np.einsum("ij,ij->i", normals, inward) > 0)


@pytest.mark.parametrize("label, mesh", GENERATED, ids=[g[0] for g in GENERATED])
def test_side_tags_partition_the_boundary(label, mesh):
    tagged = np.concatenate(list(mesh.facet_tags.values()))
    assert len(tagged) == len(mesh.boundary_facets())
    assert np.array_equal(np.unique(tagged, axis=0), mesh.boundary_facets())
    for name, facets in mesh.facet_tags.items():
        assert np.array_equal(mesh.node_tags[name], np.unique(mesh.facet_nodes(facets)))


@pytest.mark.parametrize("label, mesh", GENERATED, ids=[g[0] for g in GENERATED])
def test_every_node_is_used_once_per_position(label, mesh):
    assert np.array_equal(np.unique(mesh.cells), np.arange(mesh.n_nodes))
    assert len(np.unique(mesh.points.round(12), axis=0)) == mesh.n_nodes


@pytest.mark.parametrize("name", PLANAR + SOLID)
def test_nodes_sit_at_reference_positions(name):
    """Every node is the corner (multi)linear map of its reference position: the mid
    nodes are in VTK order and at edge midpoints."""
    ctype = CELL_TYPES[name]
    mesh = rectangle((2.0, 1.0), (2, 3), name) if ctype.dim == 2 else box((2.0, 1.0, 1.5), (2, 2, 3), name)
    ref = reference_nodes(name)
    corners = ref[: ctype.n_corners]
    if ctype.family == "simplex":
        weights = np.c_[1.0 - ref.sum(axis=1), ref]
    else:
        weights = np.prod(1.0 + ref[:, None, :] * corners[None], axis=2) / 2 ** ctype.dim
    expected = np.einsum("nc,ecx->enx", weights, mesh.points[mesh.cells[:, : ctype.n_corners]])
    assert np.allclose(mesh.points[mesh.cells], expected, atol=1e-14)


def test_reference_nodes_match_vtk():
    vtk = pytest.importorskip("vtkmodules.vtkCommonDataModel")
    classes = {"tri6": vtk.vtkQuadraticTriangle, "quad8": vtk.vtkQuadraticQuad,
               "quad9": vtk.vtkBiQuadraticQuad, "tet10": vtk.vtkQuadraticTetra,
               "hex20": vtk.vtkQuadraticHexahedron, "hex27": vtk.vtkTriQuadraticHexahedron}
    for name, cls in classes.items():
        cell = cls()
        pcoords = cell.GetParametricCoords()
        n = cell.GetNumberOfPoints()
        vtk_ref = np.array([pcoords[i] for i in range(3 * n)]).reshape(n, 3)[:, : CELL_TYPES[name].dim]
        ours = reference_nodes(name)
        if CELL_TYPES[name].family == "tensor":
            ours = (ours + 1.0) / 2.0  # VTK's tensor cells live on [0, 1]^d
        assert np.allclose(ours, vtk_ref), name


@pytest.mark.parametrize("name, nodes_per_box, extra", [
    ("tri3", 0, 0), ("quad4", 0, 0), ("tri6", 3, 1), ("quad8", 2, 0), ("quad9", 3, 1)])
def test_rectangle_counts_and_area(name, nodes_per_box, extra):
    nx, ny = 4, 3
    mesh = rectangle(size=(2.0, 0.5), shape=(nx, ny), cell=name, origin=(-1.0, 3.0))
    order = CELL_TYPES[name].order
    if order == 1:
        assert mesh.n_nodes == (nx + 1) * (ny + 1)
    elif name == "quad8":
        assert mesh.n_nodes == (2 * nx + 1) * (2 * ny + 1) - nx * ny
    else:
        assert mesh.n_nodes == (2 * nx + 1) * (2 * ny + 1)
    assert mesh.n_cells == nx * ny * (2 if name.startswith("tri") else 1)
    assert _measure(mesh) == pytest.approx(1.0, rel=1e-13)
    assert len(mesh.boundary_facets()) == 2 * (nx + ny)
    assert {k: len(v) for k, v in mesh.facet_tags.items()} == {"xmin": ny, "xmax": ny, "ymin": nx, "ymax": nx}
    x = mesh.points
    assert np.all(x[mesh.node_tags["xmin"], 0] == -1.0) and np.all(x[mesh.node_tags["xmax"], 0] == 1.0)
    assert np.all(x[mesh.node_tags["ymin"], 1] == 3.0) and np.all(x[mesh.node_tags["ymax"], 1] == 3.5)


@pytest.mark.parametrize("name", SOLID)
def test_box_counts_and_volume(name):
    nx, ny, nz = 3, 2, 4
    mesh = box(size=(1.5, 1.0, 2.0), shape=(nx, ny, nz), cell=name)
    per_box = 6 if name.startswith("tet") else 1
    counts = {"tet4": (nx + 1) * (ny + 1) * (nz + 1), "hex8": (nx + 1) * (ny + 1) * (nz + 1),
              "tet10": (2 * nx + 1) * (2 * ny + 1) * (2 * nz + 1),
              "hex27": (2 * nx + 1) * (2 * ny + 1) * (2 * nz + 1),
              "hex20": (2 * nx + 1) * (2 * ny + 1) * (2 * nz + 1)
              - nx * ny * nz - nx * ny * (nz + 1) - nx * (ny + 1) * nz - (nx + 1) * ny * nz}
    assert mesh.n_nodes == counts[name]
    assert mesh.n_cells == nx * ny * nz * per_box
    assert _measure(mesh) == pytest.approx(3.0, rel=1e-13)
    faces_per_square = 2 if name.startswith("tet") else 1
    assert len(mesh.boundary_facets()) == 2 * faces_per_square * (nx * ny + ny * nz + nx * nz)
    assert len(mesh.facet_tags["zmax"]) == faces_per_square * nx * ny
    assert np.all(mesh.points[mesh.node_tags["zmax"], 2] == 2.0)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_cube_hex8_has_6n2_boundary_facets(n):
    assert len(box(shape=(n, n, n)).boundary_facets()) == 6 * n * n


def test_box_is_fast():
    # CPU time of this process, so that other jobs on a shared machine don't count.
    start = time.process_time()
    mesh = box(shape=(60, 60, 60), cell="hex8")
    elapsed = time.process_time() - start
    assert mesh.n_cells == 216_000
    assert elapsed < 1.5  # typically ~0.4 s


def _ring_polygon_area(r_inner, r_outer, n_angular):
    """Area of the quarter ring with both arcs replaced by chords."""
    return 0.5 * (r_outer ** 2 - r_inner ** 2) * n_angular * np.sin(0.5 * np.pi / n_angular)


@pytest.mark.parametrize("name", PLANAR)
def test_quarter_annulus_geometry(name):
    ri, ro, n_angular = 1.0, 2.5, 12
    mesh = quarter_annulus(ri, ro, shape=(3, n_angular), cell=name)
    area = _measure(mesh)
    assert area == pytest.approx(_ring_polygon_area(ri, ro, n_angular), rel=1e-12)
    exact = 0.25 * np.pi * (ro ** 2 - ri ** 2)
    chord_error = 0.5 * (ro ** 2 - ri ** 2) * n_angular * (0.5 * np.pi / n_angular - np.sin(0.5 * np.pi / n_angular))
    assert 0.0 < exact - area <= chord_error * (1 + 1e-12)
    r = np.hypot(mesh.points[:, 0], mesh.points[:, 1])
    assert np.all(np.abs(r[mesh.node_tags["inner"]] - ri) <= 1e-12)
    assert np.all(np.abs(r[mesh.node_tags["outer"]] - ro) <= 1e-12)
    # Every node, mid nodes included, lies on one of the lattice circles.
    radii = np.linspace(ri, ro, 2 * 3 + 1)
    assert np.all(np.min(np.abs(r[:, None] - radii[None]), axis=1) <= 1e-12)
    assert np.all(mesh.points[mesh.node_tags["xsym"], 0] == 0.0)
    assert np.all(mesh.points[mesh.node_tags["ysym"], 1] == 0.0)


@pytest.mark.parametrize("name", SOLID)
def test_extruded_quarter_annulus(name):
    mesh = quarter_annulus(1.0, 2.0, shape=(2, 6), cell=name, height=0.75, n_height=3)
    assert mesh.dim == 3
    assert _measure(mesh) == pytest.approx(0.75 * _ring_polygon_area(1.0, 2.0, 6), rel=1e-12)
    r = np.hypot(mesh.points[:, 0], mesh.points[:, 1])
    assert np.all(np.abs(r[mesh.node_tags["outer"]] - 2.0) <= 1e-12)
    assert np.all(mesh.points[mesh.node_tags["zmax"], 2] == 0.75)
    assert set(mesh.facet_tags) == {"inner", "outer", "xsym", "ysym", "zmin", "zmax"}


@pytest.mark.parametrize("name", PLANAR)
def test_plate_with_hole_geometry(name):
    width, height, radius, n_around = 3.0, 2.0, 0.75, 10
    mesh = plate_with_hole(width, height, radius, shape=(n_around, 4), cell=name, grading=3.0)
    x = mesh.points
    # The corner geometry replaces the arc by chords between the hole's corner nodes.
    hole_corners = np.unique(mesh.facet_nodes(mesh.facet_tags["hole"])[:, :2])
    arc = x[hole_corners][np.argsort(np.arctan2(x[hole_corners, 1], x[hole_corners, 0]))]
    fan = np.vstack([[0.0, 0.0], arc])
    polygon = 0.5 * np.sum(fan[:, 0] * np.roll(fan[:, 1], -1) - np.roll(fan[:, 0], -1) * fan[:, 1])
    area = _measure(mesh)
    assert area == pytest.approx(width * height - polygon, rel=1e-12)
    assert len(arc) == n_around + 1
    assert 0.0 < area - (width * height - 0.25 * np.pi * radius ** 2) < 0.01
    assert np.all(np.abs(np.hypot(*x[mesh.node_tags["hole"]].T) - radius) <= 1e-12)
    assert np.all(x[mesh.node_tags["xmax"], 0] == width)
    assert np.all(x[mesh.node_tags["ymax"], 1] == height)
    assert np.all(x[mesh.node_tags["xsym"], 0] == 0.0)
    assert np.all(x[mesh.node_tags["ysym"], 1] == 0.0)
    assert np.array_equal(np.intersect1d(mesh.node_tags["xmax"], mesh.node_tags["ymax"]),
                          mesh.nodes(lambda p: (p[:, 0] == width) & (p[:, 1] == height)))


def test_plate_grading_refines_toward_the_hole():
    mesh = plate_with_hole(2.0, 2.0, 0.5, shape=(4, 5), cell="quad4", grading=4.0)
    on_ysym = np.sort(mesh.points[mesh.node_tags["ysym"], 0])
    sizes = np.diff(on_ysym)
    assert sizes[-1] / sizes[0] == pytest.approx(4.0)
    assert np.all(np.diff(sizes) > 0)


@pytest.mark.parametrize("call, match", [
    (lambda: rectangle(cell="tet4"), r"rectangle\(\) supports cell types"),
    (lambda: rectangle(shape=(0, 2)), "shape must be 2 integers >= 1"),
    (lambda: rectangle(shape=(2.5, 2)), "shape must be 2 integers >= 1"),
    (lambda: rectangle(size=(1.0, -1.0)), "size must be 2 finite numbers > 0"),
    (lambda: box(cell="quad4"), r"box\(\) supports cell types"),
    (lambda: box(origin=(0.0, 0.0)), "origin must be 3 finite numbers"),
    (lambda: quarter_annulus(2.0, 1.0), "r_inner < r_outer"),
    (lambda: quarter_annulus(1.0, 2.0, cell="hex8"), "without height"),
    (lambda: quarter_annulus(1.0, 2.0, cell="quad4", height=1.0), "with height"),
    (lambda: plate_with_hole(1.0, 1.0, 1.0), "radius < min"),
    (lambda: plate_with_hole(2.0, 2.0, 0.5, shape=(1, 4)), "n_around >= 2"),
    (lambda: plate_with_hole(2.0, 2.0, 0.5, grading=0.0), "grading"),
])
def test_generator_input_errors(call, match):
    with pytest.raises(InputError, match=match):
        call()
