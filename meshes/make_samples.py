"""Write the sample meshes of this folder (see README.md). Run from the repository root:

    python meshes/make_samples.py [output folder]

Deterministic: rerunning rewrites the same files.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from femopt.mesh import Mesh, box, plate_with_hole, rectangle, write


def plate_with_hole_quad4() -> Mesh:
    """4 x 4 quarter plate, hole radius 1, refined toward the hole."""
    return plate_with_hole(4.0, 4.0, 1.0, shape=(16, 8), cell="quad4", grading=3.0)


def bracket_hex8() -> Mesh:
    """L-shaped bracket, 2 x 1.5 x 0.25: an upright 0.5 wide and an arm 0.5 high.
    Fixed on x = 0, loaded on the arm's end x = 2."""
    block = box(size=(2.0, 1.5, 0.25), shape=(16, 12, 4), cell="hex8")
    kept = block.submesh(lambda x: (x[:, 0] < 0.5) | (x[:, 1] < 0.5))
    bracket = Mesh(kept.points, kept.cells, kept.cell_type)
    bracket = bracket.tag_facets("fixed", lambda x: np.isclose(x[:, 0], 0.0))
    bracket = bracket.tag_facets("load", lambda x: np.isclose(x[:, 0], 2.0))
    bracket = bracket.tag_nodes("fixed", "fixed").tag_nodes("load", "load")
    bracket = bracket.tag_cells("upright", lambda x: x[:, 0] < 0.5)
    return bracket.tag_cells("arm", lambda x: x[:, 0] > 0.5)


def lshape_tri6() -> Mesh:
    """L-shaped domain [0,1]^2 minus (0.5,1]^2 with quadratic triangles."""
    square = rectangle(size=(1.0, 1.0), shape=(8, 8), cell="tri6")
    kept = square.submesh(lambda x: (x[:, 0] < 0.5) | (x[:, 1] < 0.5))
    lshape = Mesh(kept.points, kept.cells, kept.cell_type)
    sides = {
        "xmin": lambda x: np.isclose(x[:, 0], 0.0),
        "ymin": lambda x: np.isclose(x[:, 1], 0.0),
        "xmax": lambda x: np.isclose(x[:, 0], 1.0),
        "ymax": lambda x: np.isclose(x[:, 1], 1.0),
        "notch": lambda x: (np.isclose(x[:, 0], 0.5) & (x[:, 1] >= 0.5))
        | (np.isclose(x[:, 1], 0.5) & (x[:, 0] >= 0.5)),
    }
    for name, predicate in sides.items():
        lshape = lshape.tag_facets(name, predicate).tag_nodes(name, name)
    return lshape


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "plate_with_hole_quad4.msh", plate_with_hole_quad4())
    bracket = bracket_hex8()
    write(folder / "bracket_hex8.msh", bracket)
    write(folder / "bracket_hex8.vtu", bracket)
    write(folder / "lshape_tri6.vtu", lshape_tri6())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
