"""VTU for one state and XDMF / PVD series: written through meshio, read back equal."""
import meshio
import numpy as np
import pytest

import femopt as fo
import femopt.viz as viz


def _steps(mesh, n=3):
    rng = np.random.default_rng(1)
    for k in range(n):
        yield (0.5 * k, {"u": rng.normal(size=(mesh.n_nodes, mesh.dim)), "T": rng.normal(size=mesh.n_nodes)},
               {"density": rng.uniform(size=mesh.n_cells), "phase": np.arange(mesh.n_cells) % 3})


@pytest.mark.parametrize("suffix", [".xdmf", ".pvd"])
@pytest.mark.parametrize("mesh", [fo.mesh.rectangle((2.0, 1.0), (3, 2), cell="tri6"),
                                  fo.mesh.box((1.0, 1.0, 1.0), (2, 1, 1), cell="hex8")],
                         ids=["tri6", "hex8"])
def test_series_round_trip(tmp_path, mesh, suffix):
    path = tmp_path / f"run{suffix}"
    written = list(_steps(mesh))
    with viz.SeriesWriter(path, mesh) as series:
        for time, point_data, cell_data in written:
            series.write(time, point_data=point_data, cell_data=cell_data)
    times, steps = viz.read_series(path)
    np.testing.assert_array_equal(times, [0.0, 0.5, 1.0])
    assert len(steps) == 3
    for (_, point_data, cell_data), step in zip(written, steps):
        assert step.point_data.keys() == point_data.keys()
        assert step.cell_data.keys() == cell_data.keys()
        for name, values in point_data.items():
            np.testing.assert_array_equal(step.point_data[name], values)  # 2-vectors come back 2D
        for name, values in cell_data.items():
            np.testing.assert_array_equal(step.cell_data[name], values)


def test_pvd_is_readable_while_the_run_is_going(tmp_path):
    mesh = fo.mesh.rectangle((1.0, 1.0), (2, 2))
    series = viz.SeriesWriter(tmp_path / "opt.pvd", mesh)
    for k in range(2):
        series.write(k, cell_data={"density": np.full(mesh.n_cells, k / 2)})
    times, steps = viz.read_series(tmp_path / "opt.pvd")  # not closed: as after a kill
    np.testing.assert_array_equal(times, [0.0, 1.0])
    np.testing.assert_array_equal(steps[1].cell_data["density"], 0.5)
    # every step is a complete VTU file that ParaView (and meshio) open on their own
    step = meshio.read(tmp_path / "opt" / "opt_000001.vtu")
    assert step.points.shape == (mesh.n_nodes, 3)
    series.close()
    with pytest.raises(fo.InputError, match="closed"):
        series.write(2)


def test_xdmf_hdf5_goes_next_to_the_index(tmp_path, monkeypatch):
    pytest.importorskip("h5py")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    mesh = fo.mesh.rectangle((1.0, 1.0), (2, 2))
    with viz.SeriesWriter("out/heat.xdmf", mesh, data_format="HDF") as series:
        series.write(0.0, point_data={"T": mesh.points[:, 0]})
    assert (tmp_path / "out" / "heat.h5").exists() and not (tmp_path / "heat.h5").exists()
    times, steps = viz.read_series(tmp_path / "out" / "heat.xdmf")
    np.testing.assert_array_equal(steps[0].point_data["T"], mesh.points[:, 0])


def test_series_input_is_checked(tmp_path):
    mesh = fo.mesh.rectangle((1.0, 1.0), (2, 2))
    with pytest.raises(fo.InputError, match=".pvd"):
        viz.SeriesWriter(tmp_path / "run.vtk", mesh)
    with pytest.raises(fo.InputError, match="data_format"):
        viz.SeriesWriter(tmp_path / "run.xdmf", mesh, data_format="binary")
    with viz.SeriesWriter(tmp_path / "run.xdmf", mesh) as series:
        series.write(1.0)
        with pytest.raises(fo.InputError, match="increasing"):
            series.write(1.0)
        with pytest.raises(fo.InputError, match="n_nodes = 9"):
            series.write(2.0, point_data={"T": np.zeros(4)})
    with pytest.raises(fo.InputError, match="cannot read"):
        viz.read_series(tmp_path / "missing.pvd")


def test_one_state_file_keeps_fields_and_tags(tmp_path):
    mesh = fo.mesh.rectangle((2.0, 1.0), (4, 2), cell="quad9")
    u = np.random.default_rng(2).normal(size=(mesh.n_nodes, 2))
    rho = np.linspace(0.0, 1.0, mesh.n_cells)
    path = tmp_path / "state.vtu"
    fo.mesh.write(path, mesh, point_data={"u": u}, cell_data={"rho": rho})
    raw = meshio.read(path)
    np.testing.assert_array_equal(raw.point_data["u"][:, :2], u)
    np.testing.assert_array_equal(raw.cell_data["rho"][0], rho)
    back = fo.mesh.read(path)
    np.testing.assert_array_equal(back.cells, mesh.cells)
    np.testing.assert_array_equal(back.facet_tags["xmax"], mesh.facet_tags["xmax"])
    assert not hasattr(viz, "write_vtu")          # one writer for one state: femopt.mesh.write
