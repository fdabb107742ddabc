"""The mesh layer: :class:`Mesh`, structured and mapped generators, quality checks and
meshio-based reading and writing.

A mesh built with ``check=True`` (the default) or read from a file is searched for
coincident nodes (a crack; see :mod:`femopt.mesh.coincident`); generators skip the search
and check the memory they will need first (see :mod:`femopt.mesh.lattice`).

Node ordering is VTK / meshio's for every cell type (see :mod:`femopt.mesh.cell_types`);
"node" is a mesh point, "cell" a mesh element, and a facet is ``(cell id, local facet id)``.
"""
from .cell_types import CELL_TYPES, CellType, cell_type
from .coincident import CoincidentNodesWarning
from .generators import box, rectangle
from .generators_mapped import plate_with_hole, quarter_annulus
from .io import read, write
from .box_pieces import box_piece, grid_cell_part, grid_split, rectangle_piece
from .mesh import Mesh
from .pieces import MeshPiece, bisect_cells, cut_piece
from .quality import (cell_jacobian_signs, cell_measures, corner_jacobians, degenerate_cells,
                      inverted_cells)
from .reference import reference_nodes
from .refinement import Refinement, refine

__all__ = [
    "Mesh", "CellType", "CELL_TYPES", "cell_type", "CoincidentNodesWarning",
    "rectangle", "box", "quarter_annulus", "plate_with_hole",
    "read", "write",
    "corner_jacobians", "cell_jacobian_signs", "inverted_cells", "degenerate_cells",
    "cell_measures", "reference_nodes",
    "refine", "Refinement",
    "MeshPiece", "cut_piece", "box_piece", "rectangle_piece", "grid_split", "grid_cell_part", "bisect_cells",
]
