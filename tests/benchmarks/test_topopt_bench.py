"""`femopt bench topopt`: femopt's loop and the NumPy reference solve the same problem
(same first compliance), and the reference may run fewer iterations than femopt."""
import json

import pytest

from femopt.benchmarks import topopt


def test_quick_run_with_a_shorter_reference(tmp_path, capsys):
    out = tmp_path / "topopt.json"
    assert topopt.main(["--case", "mbb2d", "--shape2d", "60", "20", "--iterations", "4", "--reference-iterations", "2",
                        "--json", str(out)]) == 0
    (report,) = json.loads(out.read_text())
    assert report["iterations"] == 4 and report["reference_iterations"] == 2
    first = report["compliance_first"]
    assert first["femopt"] == pytest.approx(first["reference"], rel=1e-8)
    assert report["femopt_mean_total_s"] > 0 and report["femopt"]["total"] > 0
    assert "after different iteration counts" in capsys.readouterr().out
