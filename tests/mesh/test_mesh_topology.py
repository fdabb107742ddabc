"""interior_facets: every facet shared by two cells once, seen from both sides."""
import numpy as np
import pytest

import femopt as fo
from femopt.mesh.topology import boundary_facets, facet_corner_table, interior_facets


@pytest.mark.parametrize("cell,shape,expected", [
    ("quad4", (3, 2), 2 * 2 + 3 * 1),                        # vertical + horizontal inner edges
    ("tri3", (3, 2), 2 * 2 + 3 * 1 + 6),                     # ... + one diagonal per square
    ("quad9", (3, 2), 7),
    ("hex8", (3, 2, 2), 2 * 2 * 2 + 3 * 1 * 2 + 3 * 2 * 1),
    ("tet10", (2, 2, 2), None),
])
def test_interior_facets(cell, shape, expected):
    mesh = (fo.mesh.rectangle(shape=shape, cell=cell) if len(shape) == 2 else
            fo.mesh.box(shape=shape, cell=cell))
    ctype = mesh.cell_type
    pairs = interior_facets(mesh.cells, ctype, mesh.n_nodes)
    n_boundary = len(boundary_facets(mesh.cells, ctype, mesh.n_nodes))
    assert len(pairs) == (mesh.n_cells * ctype.n_facets - n_boundary) // 2
    if expected is not None:
        assert len(pairs) == expected
    table = facet_corner_table(ctype)
    side_a = np.sort(mesh.cells[pairs[:, :1], table[pairs[:, 1]]], axis=1)
    side_b = np.sort(mesh.cells[pairs[:, 2:3], table[pairs[:, 3]]], axis=1)
    np.testing.assert_array_equal(side_a, side_b)            # the same facet from both cells
    assert np.all(pairs[:, 0] < pairs[:, 2])
    assert np.all(np.diff(pairs[:, 0]) >= 0)
