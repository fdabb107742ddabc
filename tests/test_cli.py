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


def test_ctrl_c_during_the_demo_keeps_the_design_and_exits_quietly(tmp_path):
    """A real SIGINT while the demo optimizes: the design so far is written, the exit code
    is 130, one line says what happened, and no traceback reaches the user."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[1])
    child = subprocess.Popen([sys.executable, "-m", "femopt.cli", "demo", "--quick", "--out", str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=repo))
    seen = []
    deadline = time.time() + 300
    while time.time() < deadline:                  # the progress lines come on stderr
        line = child.stderr.readline()
        seen.append(line)
        if line.startswith("it    3/"):
            break
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=300)
    err = "".join(seen) + err
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted after" in err and "femopt demo: interrupted (Ctrl-C)" in err
    assert (tmp_path / "mbb_design.vtu").stat().st_size > 0
    assert not (tmp_path / "cantilever.vtu").exists()
