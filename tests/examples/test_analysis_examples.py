"""The analysis examples run at their small size and show what their docstrings claim."""
import runpy
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name, tmp_path, monkeypatch):
    monkeypatch.setenv("FEMOPT_EXAMPLE_SIZE", "small")
    monkeypatch.chdir(tmp_path)
    return runpy.run_path(str(EXAMPLES / name))


def test_cantilever_3d(tmp_path, monkeypatch):
    ns = run_example("cantilever_3d.py", tmp_path, monkeypatch)
    assert abs(ns["check"] + 1.0) < 1e-9          # Σ E dC/dE = −C for a homogeneous body
    assert ns["tip_deflection"] > 0
    for suffix in ("vtu", "png"):
        assert (tmp_path / "femopt-output" / f"cantilever_3d.{suffix}").stat().st_size > 0


def test_custom_physics(tmp_path, monkeypatch):
    ns = run_example("custom_physics.py", tmp_path, monkeypatch)
    assert ns["taylor"].rate > 1.8
    residuals = np.array(ns["history"])
    # Quadratic convergence: the last ratios r_k / r_{k-1}² stay bounded while r falls fast.
    assert residuals[-1] < 1e-9 * residuals[0]
    assert len(residuals) <= 8
    for suffix in ("vtu", "png"):
        assert (tmp_path / "femopt-output" / f"custom_physics.{suffix}").stat().st_size > 0
