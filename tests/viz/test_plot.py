"""Off-screen pictures of every plot helper in 2D and 3D: each is not blank, shows the
field (colour variation where the field varies, in the right place) and has a plausible
extent (a 4:1 beam is wider than tall)."""
import numpy as np
import pytest
import pyvista as pv

import femopt as fo
import femopt.viz as viz

SIZE = (400, 300)


def test_plot_2d_deformed_von_mises(beam_2d, picture, tmp_path):
    mesh, problem, u = beam_2d
    path = viz.plot(mesh, u, deformed=True, scale=0.05, scalars="von_mises", problem=problem,
                    screenshot=tmp_path / "beam.png", window_size=SIZE)
    pic = picture(path)
    assert pic.std > 20
    assert pic.n_hues() >= 3  # the stress varies along and across the beam
    width, height = pic.extent()
    assert width > 2.5 * height and width > 0.8 * SIZE[0]


def test_plot_2d_glyphs_draw_arrows_below_the_beam(beam_2d, picture, tmp_path):
    mesh, _, u = beam_2d
    plain = picture(viz.plot(mesh, u, screenshot=tmp_path / "plain.png", window_size=SIZE))
    arrows = picture(viz.plot(mesh, u, glyphs=True, screenshot=tmp_path / "arrows.png",
                              window_size=SIZE))
    assert plain.n_hues() >= 3
    # The tip moves down, so the arrows stick out under the beam: a taller body.
    assert arrows.extent()[1] > 1.2 * plain.extent()[1]


def test_plot_3d_problem_shorthand(beam_3d, picture, tmp_path):
    _, problem, _ = beam_3d
    pic = picture(viz.plot(problem, deformed=True, scale=0.05, scalars="von_mises",
                           screenshot=tmp_path / "beam3.png", window_size=SIZE))
    assert pic.std > 20 and pic.n_hues() >= 3
    width, height = pic.extent()
    assert width > height  # a 4:1:1 beam seen isometrically


@pytest.mark.parametrize("cell", ["quad9", "tet10"])
def test_plot_scalar_shows_the_field_left_to_right(cell, picture, tmp_path):
    mesh = (fo.mesh.rectangle((4.0, 1.0), (8, 2), cell=cell) if cell == "quad9"
            else fo.mesh.box((4.0, 1.0, 1.0), (4, 1, 1), cell=cell))
    temperature = mesh.points[:, 0]
    pic = picture(viz.plot_scalar(mesh, temperature, name="temperature",
                                  screenshot=tmp_path / "T.png", window_size=SIZE))
    assert pic.std > 20 and pic.n_hues() >= 3
    # viridis: the cold end (x = 0) is blue/purple, the hot end yellow. x points right in
    # 2D and towards the lower left in the isometric 3D view (camera at +x +y +z).
    left = pic.rgb[pic.columns(0.0, 0.1)].mean(axis=0)
    right = pic.rgb[pic.columns(0.9, 1.0)].mean(axis=0)
    cold, hot = (left, right) if mesh.dim == 2 else (right, left)
    assert cold[2] > cold[0] and hot[0] > hot[2] + 30 and hot.sum() > cold.sum() + 100


def test_plot_sensitivity_is_centred_at_zero(beam_2d, picture, tmp_path):
    mesh, _, _ = beam_2d
    dJ = mesh.cell_centroids()[:, 0] - 1.0  # from -1 to 3: not symmetric
    pic = picture(viz.plot_sensitivity(mesh, dJ, screenshot=tmp_path / "s.png", window_size=SIZE))
    negative = pic.rgb[pic.columns(0.0, 0.06)].mean(axis=0)
    positive = pic.rgb[pic.columns(0.94, 1.0)].mean(axis=0)
    assert negative[2] > negative[0] + 30 and positive[0] > positive[2] + 30
    plotter = pv.Plotter(off_screen=True, window_size=SIZE)
    try:
        assert viz.plot_sensitivity(mesh, dJ, plotter=plotter) is plotter
        ranges = [a.mapper.scalar_range for a in plotter.actors.values()
                  if a.mapper is not None and a.mapper.scalar_visibility]
        assert any(np.allclose(r, (-dJ.max(), dJ.max())) for r in ranges)
    finally:
        plotter.close()


def test_plot_design_threshold_2d_keeps_the_dense_half(beam_2d, picture, tmp_path):
    mesh, _, _ = beam_2d
    density = mesh.cell_centroids()[:, 0] / 4.0
    pic = picture(viz.plot_design(mesh, density, threshold=0.5,
                                  screenshot=tmp_path / "d.png", window_size=SIZE))
    dark = pic.body & (pic.rgb.max(axis=2) < 150)
    cols = np.nonzero(pic.body)[1]
    middle = 0.5 * (cols.min() + cols.max())
    assert dark.sum() > 500
    assert np.nonzero(dark)[1].min() > middle - 0.1 * (cols.max() - cols.min())
    assert pic.extent()[0] > 2.5 * pic.extent()[1]  # the grey outline spans the domain


def test_plot_design_3d_nodal_density(picture, tmp_path):
    mesh = fo.mesh.box((2.0, 1.0, 1.0), (4, 2, 2))
    density = mesh.points[:, 0] / 2.0
    pic = picture(viz.plot_design(mesh, fo.nodal_field(density), threshold=0.3,
                                  screenshot=tmp_path / "d3.png", window_size=SIZE))
    assert pic.std > 20 and pic.foreground.mean() > 0.05


def test_plot_shapes_2d_and_3d(picture, tmp_path):
    for mesh in (fo.mesh.rectangle((4.0, 1.0), (8, 2), cell="tri6"),
                 fo.mesh.box((2.0, 1.0, 1.0), (2, 1, 1), cell="hex20")):
        x = mesh.points
        after = x.copy()
        after[:, 1] += 0.2 * np.sin(np.pi * x[:, 0] / x[:, 0].max())
        pic = picture(viz.plot_shapes(mesh, after, screenshot=tmp_path / f"{mesh.dim}.png",
                                      window_size=SIZE))
        assert pic.std > 20 and pic.n_hues() >= 3


def test_plot_plain_mesh_and_title(picture, tmp_path):
    mesh = fo.mesh.box((1.0, 1.0, 1.0), (2, 2, 2), cell="tet4")
    pic = picture(viz.plot(mesh, title="a cube", screenshot=tmp_path / "m.png", window_size=SIZE))
    assert pic.std > 10
    width, height = pic.extent()
    assert 0.5 < width / height < 2.0


def test_on_screen_without_display_says_to_use_screenshot(beam_2d, monkeypatch):
    mesh, _, u = beam_2d
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(fo.InputError, match="screenshot="):
        viz.plot(mesh, u)


def test_bad_input_is_rejected_with_the_fix(beam_2d):
    mesh, problem, u = beam_2d
    with pytest.raises(fo.InputError, match="vector field"):
        viz.plot(mesh, u[:, 0], deformed=True, screenshot="never.png")
    with pytest.raises(fo.InputError, match="problem="):
        viz.plot(mesh, u, scalars="von_mises", screenshot="never.png")
    with pytest.raises(fo.InputError, match="scalars must be"):
        viz.plot(mesh, u, scalars="stress", screenshot="never.png")
    with pytest.raises(fo.InputError, match="reshape"):
        viz.plot(mesh, u.ravel(), screenshot="never.png")
    twelve = fo.mesh.rectangle((3.0, 2.0), (3, 2), cell="tri3")  # 12 nodes, 12 cells
    assert twelve.n_nodes == twelve.n_cells
    with pytest.raises(fo.InputError, match="cell_field"):
        viz.plot_scalar(twelve, np.ones(12), screenshot="never.png")


def test_a_picture_without_a_display_prints_nothing(tmp_path):
    """No "bad X server connection" from VTK, no backend warnings from JAX: a user who
    asked for a PNG sees nothing but the file (display unset, or set to a dead server)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = ("import numpy as np, femopt as fo\n"
              "from femopt import viz\n"
              "mesh = fo.mesh.rectangle((1.0, 1.0), (4, 4))\n"
              "viz.plot_scalar(mesh, np.arange(mesh.n_nodes, dtype=float), screenshot='field.png')\n")
    repo = str(Path(__file__).resolve().parents[2])
    for display in ("", ":97"):
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "VTK_DEFAULT_OPENGL_WINDOW")}
        env.update(PYTHONPATH=repo, DISPLAY=display)
        run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert run.stderr.strip() == "", run.stderr
        assert (tmp_path / "field.png").stat().st_size > 1000
        (tmp_path / "field.png").unlink()
