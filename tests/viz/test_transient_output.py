"""A transient run's output: the series written and read back equal, the probe plot
drawn (off screen)."""
import numpy as np
import pytest

import femopt as fo
import femopt.viz as viz
from femopt.errors import InputError


@pytest.fixture(scope="module")
def cooling_wall():
    mesh = fo.mesh.rectangle(size=(1.0, 0.25), shape=(8, 2), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin", 0.0)
    return fo.TransientProblem(problem, capacity=1.0).solve(t_end=0.2, steps=5, initial=1.0)


@pytest.mark.parametrize("suffix", [".pvd", ".xdmf"])
def test_series_round_trip(tmp_path, cooling_wall, suffix):
    path = viz.write_transient(tmp_path / f"wall{suffix}", cooling_wall, name="T")
    times, steps = viz.read_series(path)
    np.testing.assert_allclose(times, cooling_wall.times)
    for state, step in zip(cooling_wall.states, steps):
        np.testing.assert_allclose(step.point_data["T"], state)


def test_probe_plot_is_drawn(tmp_path, cooling_wall, picture):
    path = tmp_path / "probes.png"
    figure = viz.plot_probes(cooling_wall, [[0.25, 0.1], [0.75, 0.1]], labels=["x = 1/4", "x = 3/4"],
                             screenshot=path, exact=lambda x, t: np.exp(-t) * x[0], title="cooling")
    assert path.exists() and picture(path).std > 5.0
    ax = figure.axes[0]
    assert len(ax.lines) == 4                          # two probes, two references
    np.testing.assert_allclose(ax.lines[0].get_ydata(), cooling_wall.at([0.25, 0.1]))


def test_probe_plot_refuses_bad_input(tmp_path, cooling_wall):
    with pytest.raises(InputError, match="labels has 1 entries for 2"):
        viz.plot_probes(cooling_wall, [[0.25, 0.1], [0.75, 0.1]], labels=["a"], screenshot=tmp_path / "p.png")
    with pytest.raises(InputError, match="not inside the mesh"):
        viz.plot_probes(cooling_wall, [3.0, 0.1], screenshot=tmp_path / "p.png")
    with pytest.raises(InputError, match="expected a TransientResult"):
        viz.write_transient(tmp_path / "x.pvd", object())
