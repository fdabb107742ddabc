"""Meshes at extreme scales are checked like any other: the quality and coincident-node
checks are invariant to scale, and :func:`femopt.mesh.quality.unit_scaled` keeps their
arithmetic (3x3 Jacobians, squared distances in SciPy's KD-tree) away from overflow above
~1e100 and underflow below ~1e-100, exactly (a power of two)."""
import warnings

import numpy as np
import pytest

import femopt as fo
from femopt.mesh.coincident import CoincidentNodesWarning
from femopt.mesh.quality import unit_scaled

SCALES = [1e-300, 1e-200, 1e200, 1e300]
CELLS = ["tri3", "quad4", "tet4", "hex8"]


def unit_mesh(cell):
    generate = fo.mesh.rectangle if fo.mesh.CELL_TYPES[cell].dim == 2 else fo.mesh.box
    return generate(shape=(1,) * fo.mesh.CELL_TYPES[cell].dim, cell=cell)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("cell", CELLS)
def test_valid_mesh_is_accepted_at_any_scale(cell, scale):
    mesh = unit_mesh(cell)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = fo.Mesh(mesh.points * scale, mesh.cells, cell)
    assert scaled.coincident_nodes().shape == (0, 2)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("cell", CELLS)
def test_inverted_cell_is_refused_at_any_scale(cell, scale):
    mesh = unit_mesh(cell)
    cells = np.array(mesh.cells)
    cells[0, [1, 2]] = cells[0, [2, 1]]
    with pytest.raises(fo.MeshError, match=r"inverted|degenerate") as info:
        fo.Mesh(mesh.points * scale, cells, cell)
    assert 0 in info.value.cells


@pytest.mark.parametrize("scale", SCALES)
def test_coincident_nodes_are_found_and_merged_at_any_scale(scale):
    mesh = unit_mesh("tet4")
    points = np.vstack([mesh.points, mesh.points[:1]]) * scale
    cells = np.array(mesh.cells)
    cells[cells == 0] = len(points) - 1
    cells[0, np.flatnonzero(cells[0] == len(points) - 1)] = 0     # one cell keeps node 0: a crack
    with pytest.warns(CoincidentNodesWarning) as record:
        cracked = fo.Mesh(points, cells, "tet4")
    assert record[0].message.pairs.tolist() == [[0, len(points) - 1]]
    assert 0 < record[0].message.tolerance < 1e-7 * scale
    assert cracked.merge_coincident().n_nodes == mesh.n_nodes


def test_unit_scaled_copies_nothing_in_the_usual_range_and_scales_exactly_outside():
    points = np.array([[0.0, 1e3], [-2.5, 7.0]])
    same, scale = unit_scaled(points)
    assert same is points and scale == 1.0
    scaled, scale = unit_scaled(points * 1e200)
    assert np.log2(scale) == int(np.log2(scale)) and 0.5 <= np.abs(scaled).max() < 1.0
    assert np.array_equal(scaled * scale, points * 1e200)
