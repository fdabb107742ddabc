"""The hyperelastic uncertainty example at its small size: neo-Hookean (mu, lmbda) from a
noisy force–displacement curve (grip reaction force and lateral contraction, three
displacement-controlled levels): the truth lies in the 95 % intervals of the Laplace
approximation and of NUTS, the two agree, the chains have mixed, and the PNG is written."""
import numpy as np
import pytest
from example_loader import load

pytest.importorskip("blackjax")


def test_hyperelastic_uncertainty(tmp_path, monkeypatch):
    monkeypatch.setenv("FEMOPT_EXAMPLE_SIZE", "small")
    monkeypatch.chdir(tmp_path)
    out = load("hyperelastic_uncertainty").main()
    truth = out["truth"]                                    # (mu, lmbda) = (1, 2)

    # the MAP point is close to the truth, found in a few Newton-CG steps
    assert out["map"].success and out["map"].iterations <= 10
    np.testing.assert_allclose(out["map_parameters"], truth, rtol=0.05)

    # the truth lies within the 95 % intervals of both methods; both are a few % wide
    laplace, nuts_interval = out["laplace_interval"], out["nuts_interval"]        # (2, 2): rows mu, lmbda
    for interval in (laplace, out["laplace_gn_interval"], nuts_interval):
        assert np.all(interval[:, 0] < truth) and np.all(truth < interval[:, 1])
        assert np.all(interval[:, 1] / interval[:, 0] < 1.3)

    # Laplace and NUTS agree: overlapping intervals, means within a few Monte Carlo
    # standard errors, stds within the sampling error of a std
    assert np.all(np.maximum(laplace[:, 0], nuts_interval[:, 0]) < np.minimum(laplace[:, 1], nuts_interval[:, 1]))
    nuts, posterior = out["nuts"], out["laplace"]
    assert np.all(np.abs(out["agreement"]["mean_in_mcse"]) < 4)
    assert np.all(np.abs(nuts.std / posterior.std - 1) < 4 / np.sqrt(2 * nuts.ess))

    # the chains have mixed
    assert nuts.rhat.max() < 1.1 and nuts.ess.min() > 50
    assert nuts.n_divergent == 0 and nuts.n_grad_evals > 0

    # the model's 95 % band lies inside the predictive band, which holds the data
    band = out["band"]
    assert np.all(band["force_predictive"][0] <= band["force"][0])
    assert np.all(band["force"][1] <= band["force_predictive"][1])
    assert out["coverage"]["force"] >= 2 and out["coverage"]["contraction"] >= 2
    assert (tmp_path / "femopt-output" / "hyperelastic_uncertainty.png").stat().st_size > 0
