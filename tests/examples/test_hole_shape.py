"""Example 5, the hole in a plate under biaxial stress σx/σy = 2, with cosine modes and with
a B-spline boundary: small runs in the default suite; the full runs move the circle to an
ellipse of axis ratio near 2 (the known optimum) when slow tests run."""
import numpy as np
import pytest
from example_loader import load


@pytest.fixture(scope="module")
def hole_shape():
    return load("hole_shape")


def test_small_run(hole_shape, tmp_path, monkeypatch):
    monkeypatch.setenv("FEMOPT_EXAMPLE_SIZE", "small")
    monkeypatch.chdir(tmp_path)
    out = hole_shape.main()
    assert out["iterations"] == 8
    assert out["final_stress"] < 0.85 * out["initial_stress"]
    assert out["initial_ratio"] == pytest.approx(1.0)
    assert out["axis_ratio"] > 1.3
    assert abs(out["area_change"]) <= 1e-3 + 1e-6
    assert (tmp_path / "femopt-output" / "hole_shape.vtu").stat().st_size > 0
    assert (tmp_path / "femopt-output" / "hole_shape.png").stat().st_size > 0


@pytest.mark.slow
def test_full_run_approaches_the_stress_ratio(hole_shape):
    out = hole_shape.run(output_dir=None)
    assert out["axis_ratio"] > 1.5
    assert out["axis_ratio"] == pytest.approx(2.0, abs=0.3)
    assert out["final_stress"] < 0.75 * out["initial_stress"]
    assert np.all(np.isfinite(out["x"]))


def test_small_run_with_a_bspline_boundary(hole_shape, tmp_path, monkeypatch):
    monkeypatch.setenv("FEMOPT_EXAMPLE_SIZE", "small")
    monkeypatch.chdir(tmp_path)
    out = hole_shape.main("bspline")
    assert out["iterations"] == 8 and out["x"].size == 4
    assert out["final_stress"] < 0.75 * out["initial_stress"]  # measured 3.414 -> 2.428
    assert out["initial_ratio"] == pytest.approx(1.0)
    assert out["axis_ratio"] > 1.6  # measured 1.81 (the full run: 2.11)
    assert abs(out["area_change"]) <= 1e-3 + 1e-6
    assert (tmp_path / "femopt-output" / "hole_shape_bspline.vtu").stat().st_size > 0


@pytest.mark.slow
def test_full_bspline_run_approaches_the_stress_ratio(hole_shape):
    out = hole_shape.run(parametrization="bspline", n_variables=5, output_dir=None)
    assert out["axis_ratio"] == pytest.approx(2.0, abs=0.3)
    assert out["final_stress"] < 0.75 * out["initial_stress"]
