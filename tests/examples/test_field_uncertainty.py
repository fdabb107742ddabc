"""The field-uncertainty example at its small size: a log-conductivity field from 29
temperature sensors with its low-rank Laplace posterior, the cost of that posterior at
two mesh sizes, and the prior's strength chosen three ways; its stated checks, and that
the VTU and both PNGs are written."""
import numpy as np
from example_loader import load


def test_field_uncertainty(tmp_path, monkeypatch):
    monkeypatch.setenv("FEMOPT_EXAMPLE_SIZE", "small")
    monkeypatch.chdir(tmp_path)
    out = load("field_uncertainty").main()
    post, fine, strength = out["posterior"], out["fine"], out["strength"]

    # the MAP field is much closer to the truth than the prior mean, at both sizes,
    # and fits the data no closer than the noise
    assert post["error"] < 0.75 * post["prior_error"]
    assert fine["error"] < 0.75 * fine["prior_error"]
    assert 0.3 < post["misfit_per_datum"] < 1.0
    assert post["map"].success and fine["map"].success

    # the data inform some directions, not all; the computed spectrum reaches far below 1
    eigenvalues = post["eigenvalues"]
    assert np.all(np.diff(eigenvalues) <= 1e-8 * eigenvalues[0])
    assert 10 <= post["informed"] < post["rank"] and eigenvalues[-1] < 0.01

    # the posterior is sure near the sensors, back near the prior far from them, never
    # wider than the prior; the truth lies within ±2 std almost everywhere
    assert post["std_near"] < 0.85 * post["std_far"]
    assert post["std_far"] > 0.8 * post["prior_std_mean"]
    assert np.all(post["std"] <= post["prior_std"] * (1 + 1e-8))
    assert post["coverage"] > 0.85
    assert post["samples"].shape == (3, post["mesh"].n_nodes)

    # the low-rank posterior costs the same PDE solves on a 4x finer mesh: 2 (rank +
    # oversampling) Gauss-Newton products of two linear solves per experiment, and the
    # data inform as many directions there
    assert fine["mesh"].n_nodes > 3 * post["mesh"].n_nodes
    products = 2 * (post["rank"] + post["oversampling"])
    for result in (post, fine):
        assert result["counts"].hessian_products == products
        assert result["counts"].linear_solves == 4 * products
        assert result["counts"].state_solves == 0
    assert abs(fine["informed"] - post["informed"]) <= 2
    np.testing.assert_allclose(fine["eigenvalues"][:5], eigenvalues[:5], rtol=0.1)

    # the prior's strength: the bilevel optimum is a stationary point of the held-out
    # misfit at least as good as the best grid point, and agrees with the discrepancy
    # principle within a factor 10 (both ask for a stronger prior than the coarse
    # mesh's, whose discrete variance is too large)
    history = strength["bilevel_history"]
    best = min(history, key=lambda h: h["held_out"])
    assert abs(best["log_derivative"]) < 0.05 * best["held_out"]
    assert 2 * best["held_out"] / strength["n_held_out"] <= 1.01 * strength["held_out_per_datum"].min()
    assert strength["bilevel_evaluations"] <= 8
    ratio = strength["alpha_bilevel"] / strength["alpha_discrepancy"]
    assert 0.1 < ratio < 10.0
    assert 0.3 < strength["alpha_bilevel"] < 100.0 and 0.3 < strength["alpha_discrepancy"] < 100.0
    # the training misfit grows with α; at the discrepancy α it equals the noise
    assert np.all(np.diff(strength["misfit_per_datum"]) > 0)
    assert strength["error_bilevel"] < 0.75 and strength["error_discrepancy"] < 0.75

    folder = tmp_path / "femopt-output"
    for name in ("field_uncertainty.vtu", "field_uncertainty.png", "field_uncertainty_sd.png"):
        assert (folder / name).stat().st_size > 0
