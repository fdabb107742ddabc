"""The MBB beam example: a small run in the default suite, the full 60x20 against the
88-line code's reference values (docs/validation.md) when slow tests run."""
import numpy as np
import pytest
from example_loader import load


@pytest.fixture(scope="module")
def mbb():
    return load("mbb_beam")


def test_small_run(mbb, tmp_path, monkeypatch):
    monkeypatch.setenv("FEMOPT_EXAMPLE_SIZE", "small")
    monkeypatch.chdir(tmp_path)
    out = mbb.main(["density", "oc"])
    objective = out["result"].history.objective
    assert out["iterations"] == 40 and objective[-1] < 0.3 * objective[0]
    assert np.all(np.diff(objective[5:]) < 1e-6 * objective[0])  # monotone after the first moves
    assert out["volume_fraction"] <= 0.5 + 1e-3
    assert (tmp_path / "femopt-output" / "mbb_beam.vtu").stat().st_size > 0
    assert (tmp_path / "femopt-output" / "mbb_beam.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("filter_kind", ["sensitivity", "density"])
def test_full_size_matches_top88(mbb, filter_kind):
    out = mbb.run(filter=filter_kind, output_dir=None)
    compliance, iterations = mbb.REFERENCE[filter_kind]
    assert out["compliance"] == pytest.approx(compliance, rel=0.02)
    assert abs(out["iterations"] - iterations) <= 5
    assert out["volume_fraction"] == pytest.approx(0.5, abs=1e-3)
