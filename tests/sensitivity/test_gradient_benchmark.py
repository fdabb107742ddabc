"""The gradient-cost benchmark runs (at a tiny size) and its three gradients agree."""
import json

import pytest

from femopt.benchmarks import gradient as bench


@pytest.mark.slow
def test_benchmark_runs_and_its_gradients_agree(tmp_path, capsys):
    report = bench.run(shape=(4, 2, 2), counts=(3, None), repeat=1)
    assert [row["n"] for row in report["rows"]] == [3, 16]
    assert report["n_dofs"] == 3 * 5 * 3 * 3
    for row in report["rows"]:
        assert row["jax_vs_adjoint_rel_diff"] < 1e-10
        assert row["forward_s"] > 0 and row["gradient_s"] > 0
    assert report["rows"][0]["direct_vs_adjoint_rel_diff"] < 1e-10
    out = tmp_path / "bench.json"
    assert bench.main(["--shape", "4", "2", "2", "--counts", "2", "--repeat", "1", "--no-jax",
                       "--json", str(out)]) == 0
    assert "compliance gradient" in capsys.readouterr().out
    assert json.loads(out.read_text())["rows"][0]["n"] == 2
