"""Mesh + fields -> pyvista for every cell type: VTK's cell types, VTK's node order
(checked against VTK's own parametric coordinates), measures, padding of 2D data."""
import numpy as np
import pytest
import pyvista as pv

import femopt as fo
import femopt.viz as viz
from femopt.viz.convert import cell_edges
from femopt.fem import reference_element

CELLS_2D = ["tri3", "tri6", "quad4", "quad8", "quad9"]
CELLS_3D = ["tet4", "tet10", "hex8", "hex20", "hex27"]


@pytest.mark.parametrize("cell", CELLS_2D + CELLS_3D)
def test_every_cell_type_converts_with_its_measure(cell):
    if cell in CELLS_2D:
        mesh, measure = fo.mesh.rectangle((2.0, 1.5), (3, 2), cell=cell), 3.0
        size_name = "Area"
    else:
        mesh, measure = fo.mesh.box((2.0, 1.0, 1.5), (2, 1, 2), cell=cell), 3.0
        size_name = "Volume"
    grid = viz.to_pyvista(mesh)
    assert isinstance(grid, pv.UnstructuredGrid)
    assert grid.n_points == mesh.n_nodes and grid.n_cells == mesh.n_cells
    assert set(grid.celltypes) == {viz.VTK_CELL_TYPES[cell]}
    sizes = grid.compute_cell_sizes(length=False, area=cell in CELLS_2D,
                                    volume=cell in CELLS_3D)[size_name]
    assert sizes.sum() == pytest.approx(measure, rel=1e-12)
    assert np.all(sizes > 0)  # no inverted cell: the node order is VTK's


@pytest.mark.parametrize("cell", ["line2", "line3"] + CELLS_2D + CELLS_3D)
def test_node_order_is_vtks(cell):
    """One cell on femopt's reference nodes: VTK's parametric coordinates of its nodes
    must be femopt's reference coordinates (mapped from [-1, 1] to VTK's [0, 1] for
    lines, quadrilaterals and hexahedra)."""
    element = reference_element(cell)
    mesh = fo.Mesh(element.nodes, np.arange(element.n_nodes)[None, :], cell)
    vtk_cell = viz.to_pyvista(mesh).GetCell(0)
    vtk_nodes = np.reshape(vtk_cell.GetParametricCoords(), (-1, 3))[:, : element.dim]
    expected = element.nodes if element.cell_type.family == "simplex" else (element.nodes + 1) / 2
    np.testing.assert_allclose(vtk_nodes, expected, atol=1e-14)


def test_fields_are_attached_and_2d_data_padded():
    mesh = fo.mesh.rectangle((2.0, 1.0), (2, 1), cell="quad8")
    u = np.random.default_rng(0).normal(size=(mesh.n_nodes, 2))
    stress = np.arange(mesh.n_cells * 4, dtype=float).reshape(mesh.n_cells, 2, 2)
    grid = viz.to_pyvista(mesh, point_data={"u": u, "T": mesh.points[:, 0]},
                          cell_data={"sigma": stress, "solid": np.array([True, False])})
    np.testing.assert_array_equal(grid.points[:, :2], mesh.points)
    assert np.all(grid.points[:, 2] == 0.0)
    np.testing.assert_array_equal(grid.point_data["u"][:, :2], u)
    assert np.all(grid.point_data["u"][:, 2] == 0.0)
    np.testing.assert_array_equal(grid.point_data["T"], mesh.points[:, 0])
    padded = grid.cell_data["sigma"].reshape(mesh.n_cells, 3, 3)
    np.testing.assert_array_equal(padded[:, :2, :2], stress)
    assert np.all(padded[:, 2, :] == 0) and np.all(padded[:, :, 2] == 0)
    np.testing.assert_array_equal(grid.cell_data["solid"], [1, 0])


def test_wrong_shapes_are_rejected_with_the_fix():
    mesh = fo.mesh.rectangle((2.0, 1.0), (2, 1))
    with pytest.raises(fo.InputError, match=r"reshape\(6, 2\)"):
        viz.to_pyvista(mesh, point_data={"u": np.zeros(12)})
    with pytest.raises(fo.InputError, match="n_cells = 2"):
        viz.to_pyvista(mesh, cell_data={"rho": np.zeros(3)})
    with pytest.raises(fo.InputError, match="mapping"):
        viz.to_pyvista(mesh, point_data=[np.zeros(6)])
    with pytest.raises(fo.InputError, match="Mesh"):
        viz.to_pyvista(mesh.points)


@pytest.mark.parametrize("mesh, n_edges, n_segments", [
    (fo.mesh.rectangle((2.0, 1.0), (2, 1), cell="quad4"), 7, 7),
    (fo.mesh.rectangle((3.0, 3.0), (3, 3), cell="quad8"), 24, 48),
    (fo.mesh.box((1.0, 1.0, 1.0), (1, 1, 1), cell="hex8"), 12, 12),
    (fo.mesh.box((1.0, 1.0, 1.0), (1, 1, 1), cell="hex27"), 12, 24),
])
def test_cell_edges_are_the_cells_own_lifted_off_the_surface(mesh, n_edges, n_segments):
    grid = viz.to_pyvista(mesh)
    edges = cell_edges(mesh, grid.points)
    assert edges.n_lines == n_edges
    assert edges.extract_all_edges().n_cells == n_segments
    lifted = edges.points - grid.points
    used = np.unique(edges.lines.reshape(n_edges, -1)[:, 1:])
    if mesh.dim == 2:
        assert np.all(lifted[used, 2] > 0) and np.allclose(lifted[used, :2], 0)
    else:  # every boundary node moves out of the unit box
        outside = np.any((edges.points[used] < 0) | (edges.points[used] > 1), axis=1)
        assert np.all(outside)
