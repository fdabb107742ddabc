"""The transient identification example at its small size: a conductivity field from
noisy sensor time series (transient adjoint + Tikhonov), its stated checks, and that the
VTU and PNG are written."""
import numpy as np
from example_loader import load


def test_transient_identification(tmp_path, monkeypatch):
    monkeypatch.setenv("FEMOPT_EXAMPLE_SIZE", "small")
    monkeypatch.chdir(tmp_path)
    out = load("transient_identification").main()
    # the recovered conductivity is much closer to the truth than the homogeneous start,
    # and the bump is found where it is
    assert out["error"] < 0.15
    assert out["error"] < 0.6 * out["prior_error"]
    centroids = out["mesh"].cell_centroids()
    assert np.linalg.norm(centroids[np.argmax(out["k"])] - np.array([0.6, 0.4])) < 0.2
    assert out["k"].max() > 1.3
    # the fit stops at the noise level (discrepancy principle), not far below it
    assert 0.8 < out["misfit_per_datum"] < 1.2
    assert out["result"].status == "converged"
    # Revolve(10) for 20 steps: at most 10 snapshots plus the current and held states
    record = out["record"]
    assert record.adjoint_steps == 20 and record.max_states <= 12
    for suffix in ("vtu", "png"):
        assert (tmp_path / "femopt-output" / f"transient_identification.{suffix}").stat().st_size > 0
