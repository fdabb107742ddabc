"""The sample meshes in meshes/ read with the tags meshes/README.md lists, and
meshes/make_samples.py reproduces them."""
import runpy
from pathlib import Path

import numpy as np
import pytest

from femopt.mesh import cell_measures, read

MESHES = Path(__file__).resolve().parents[2] / "meshes"

SAMPLES = {
    "plate_with_hole_quad4.msh": ("quad4", 128, {"hole", "xsym", "ysym", "xmax", "ymax"}, set()),
    "bracket_hex8.msh": ("hex8", 384, {"fixed", "load"}, {"upright", "arm"}),
    "bracket_hex8.vtu": ("hex8", 384, {"fixed", "load"}, {"upright", "arm"}),
    "lshape_tri6.vtu": ("tri6", 96, {"xmin", "ymin", "xmax", "ymax", "notch"}, set()),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_sample_reads_with_its_tags(name):
    cell, n_cells, facet_tags, cell_tags = SAMPLES[name]
    path = MESHES / name
    assert path.stat().st_size < 300_000
    mesh = read(path)
    assert (mesh.cell_type.name, mesh.n_cells) == (cell, n_cells)
    assert set(mesh.facet_tags) == facet_tags and set(mesh.cell_tags) == cell_tags
    assert set(mesh.node_tags) == facet_tags
    for tag in facet_tags:
        assert len(mesh.facets(tag)) > 0


def test_sample_geometry():
    plate = read(MESHES / "plate_with_hole_quad4.msh")
    r = np.hypot(*plate.points[plate.nodes("hole")].T)
    assert np.allclose(r, 1.0, atol=1e-12)
    bracket = read(MESHES / "bracket_hex8.vtu")
    assert cell_measures(bracket.points, bracket.cells, bracket.cell_type).sum() == pytest.approx(
        0.25 * (2.0 * 1.5 - 1.5 * 1.0))
    lshape = read(MESHES / "lshape_tri6.vtu")
    assert cell_measures(lshape.points, lshape.cells, lshape.cell_type).sum() == pytest.approx(0.75)


def test_make_samples_reproduces_the_files(tmp_path):
    runpy.run_path(str(MESHES / "make_samples.py"))["main"](tmp_path)
    for name in SAMPLES:
        ours, committed = read(tmp_path / name), read(MESHES / name)
        assert np.array_equal(ours.cells, committed.cells)
        assert np.allclose(ours.points, committed.points, rtol=0, atol=1e-15)
        for kind in ("node_tags", "facet_tags", "cell_tags"):
            assert getattr(ours, kind).keys() == getattr(committed, kind).keys()
