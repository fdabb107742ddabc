"""``femopt bench transient`` at a tiny size: every schedule gives the store-all gradient
bit for bit, runs the Griewank–Walther minimum of forward steps, holds at most its
snapshots plus two states, and the table, JSON and PNG are written."""
import json

from femopt.benchmarks import transient
from femopt.sensitivity import revolve_forward_steps


def test_transient_benchmark_reports_every_schedule(tmp_path, capsys):
    out_json, out_png = tmp_path / "t.json", tmp_path / "t.png"
    status = transient.main(["--n", "6", "--steps", "30", "--snapshots", "3", "5", "--json", str(out_json),
                             "--png", str(out_png)])
    assert status == 0
    table = capsys.readouterr().out
    assert "revolve(3)" in table and "store-all" in table and "x fwd" in table
    report = json.loads(out_json.read_text())
    assert report["steps"] == 30 and report["dofs"] == 49
    rows = {row["strategy"]: row for row in report["rows"]}
    assert rows["store-all"]["forward_steps"] == 30 and rows["store-all"]["states"] == 31
    for s in (3, 5):
        row = rows[f"revolve({s})"]
        assert row["same_gradient"]
        assert row["forward_steps"] == revolve_forward_steps(30, s)
        assert row["states"] <= s + 2
    # (at this size a state is 392 bytes: the peaks are temporaries, not states, so the
    # store-all growth with the steps is read at the benchmark's own size, not here)
    assert [g["steps"] for g in report["store_all_growth"]] == [7, 15, 30]
    assert out_png.stat().st_size > 0
