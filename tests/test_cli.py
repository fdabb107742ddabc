"""The command line: the README's main job and the sub-commands' wiring."""
import pytest

from femopt.cli import main


def test_demo_quick_writes_results_and_pictures(tmp_path, capsys):
    from femopt.demo import run_demo

    figures = run_demo(tmp_path, quick=True)
    for name in ("mbb_design.vtu", "mbb_design.png", "mbb_history.png", "cantilever.vtu",
                 "cantilever.png", "sensitivity.png", "summary.txt"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert abs(figures["sum_E_dC_dE_over_C"] + 1.0) < 1e-9
    assert figures["taylor_rate"] > 1.8
    assert "MBB beam" in capsys.readouterr().out


def test_unknown_command_is_refused():
    with pytest.raises(SystemExit):
        main(["frobnicate"])


def test_validate_lists_the_catalogue(capsys):
    assert main(["validate", "--list"]) == 0
    assert "lame" in capsys.readouterr().out.lower()
