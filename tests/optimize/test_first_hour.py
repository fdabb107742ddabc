"""What a newcomer meets first in minimize: no invented bounds, progress lines a script
shows without configuring logging, and Ctrl-C that stops cleanly and can be resumed."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import femopt as fo
from femopt import design as fd
from femopt import optimize as fopt
from femopt.optimize.interrupt import StopRequest, stop_requests

REPO = Path(__file__).resolve().parents[2]


def bowl(x):
    return float(np.sum((x - 5.0) ** 2)), 2.0 * (x - 5.0)


def test_a_plain_function_has_no_invented_bounds():
    result = fopt.minimize(bowl, np.zeros(3), method="L-BFGS-B")
    np.testing.assert_allclose(result.x, 5.0, atol=1e-6)
    assert result.success and np.all(np.isnan(result.history.grey_level))
    bounded = fopt.minimize(bowl, np.zeros(3), method="L-BFGS-B", bounds=(0.0, 1.0))
    np.testing.assert_allclose(bounded.x, 1.0)


def density_problem(n=12):
    mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(n, n // 2), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    problem.fix("xmin")
    problem.point_load(lambda x: np.isclose(x[:, 0], 2.0) & np.isclose(x[:, 1], 0.0), [0.0, -1.0])
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 0.25))
    return fd.Compliance(fd.CellScaledModel(problem, "E"), design), fd.VolumeConstraint(design, 0.5), design


def test_density_variables_bring_their_bounds_and_grey_level(caplog):
    objective, volume, design = density_problem()
    with caplog.at_level("INFO", logger="femopt.optimize"):
        result = fopt.minimize(objective, design.initial(0.5), constraints=[volume], max_iterations=4)
    assert "bounds (0.0, 1.0) from the design variables of DensityDesign" in caplog.text
    assert np.all((result.x >= 0.0) & (result.x <= 1.0))
    np.testing.assert_allclose(result.history.grey_level[0], design.grey_level(design.initial(0.5)))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("it ")]
    assert lines[0].startswith("it    0/4") and "grey" in lines[0] and "left" in lines[0]
    assert "not converged" in caplog.text            # stopped at max_iterations: said, with the way on


def test_a_plain_function_line_has_no_grey_column(caplog):
    with caplog.at_level("INFO", logger="femopt.optimize"):
        fopt.minimize(bowl, np.zeros(3), bounds=(0.0, 10.0), method="mma", max_iterations=2)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("it ")]
    assert lines and all("grey" not in line for line in lines)


SCRIPT = """
import sys, time
import numpy as np
{setup}
from femopt import optimize as fopt

def slow(x):
    time.sleep({sleep})
    return float(np.sum((x - 0.3) ** 2)), 2.0 * (x - 0.3)

result = fopt.minimize(slow, np.full(4, 0.9), bounds=(0.0, 1.0), method="mma", max_iterations={n},
                       tol_change=0.0, checkpoint="run.npz"{extra})
sys.stdout.write(result.status + " " + str(result.iterations) + "\\n")
"""


def run_script(tmp_path, *, setup="", sleep=0.0, n=3, extra=""):
    (tmp_path / "run.py").write_text(SCRIPT.format(setup=setup, sleep=sleep, n=n, extra=extra))
    return subprocess.Popen([sys.executable, "run.py"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))


def test_a_script_shows_progress_without_configuring_logging(tmp_path):
    out, err = run_script(tmp_path).communicate(timeout=120)
    assert out.split() == ["max_iterations", "3"]
    lines = [line for line in err.splitlines() if line.startswith("it ")]
    assert [line.split()[1] for line in lines] == ["0/3", "1/3", "2/3"], err
    assert "optimization max_iterations after 3 iterations" in err
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    _, err = run_script(quiet, extra=", verbose=False").communicate(timeout=120)
    assert not [line for line in err.splitlines() if line.startswith("it ")]


def test_an_application_logging_setup_is_respected(tmp_path):
    setup = "import logging; logging.basicConfig(level=logging.WARNING, format='APP %(message)s')"
    _, err = run_script(tmp_path, setup=setup).communicate(timeout=120)
    assert not [line for line in err.splitlines() if line.startswith("it ")]   # INFO is below its level
    assert "APP optimization max_iterations" in err                              # its handler, its format


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a subprocess is POSIX")
def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path, monkeypatch):
    child = run_script(tmp_path, sleep=0.4, n=50)
    deadline = time.time() + 120
    while not (tmp_path / "run.npz").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert "Traceback" not in err
    status, iterations = out.split()
    assert status == "interrupted" and int(iterations) >= 1
    assert f"interrupted after {iterations} iterations; checkpoint at run.npz; rerun with resume=True" in err
    saved = fopt.read_checkpoint(tmp_path / "run.npz")
    assert saved.iteration == int(iterations)                     # the checkpoint holds every finished one
    full = fopt.minimize(lambda x: (float(np.sum((x - 0.3) ** 2)), 2.0 * (x - 0.3)), np.full(4, 0.9),
                         bounds=(0.0, 1.0), method="mma", max_iterations=int(iterations) + 2, tol_change=0.0)
    monkeypatch.chdir(tmp_path)
    resumed = fopt.minimize(lambda x: (float(np.sum((x - 0.3) ** 2)), 2.0 * (x - 0.3)), np.full(4, 0.9),
                            bounds=(0.0, 1.0), method="mma", max_iterations=int(iterations) + 2, tol_change=0.0,
                            checkpoint="run.npz", resume=True, check_fingerprint=False)
    np.testing.assert_array_equal(resumed.x, full.x)


def test_the_first_ctrl_c_asks_to_stop_the_second_stops_at_once():
    with stop_requests() as stop:
        os.kill(os.getpid(), signal.SIGINT)          # first: recorded, no exception
        time.sleep(0.05)
        assert stop.requested and stop.presses == 1
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)      # second: at once
            time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_iteration_being_saved_is_finished_before_a_second_ctrl_c_counts():
    request, done = StopRequest(), []
    request.presses = 1
    with pytest.raises(KeyboardInterrupt):
        with request.hold():
            request.press()                           # the second press, while saving
            done.append("written")
    assert done == ["written"]


def test_a_second_ctrl_c_that_jax_wraps_still_ends_the_run_as_interrupted(monkeypatch):
    """JAX turns an exception raised inside a host callback into a ValueError: after two
    presses the run is interrupted all the same, with the last recorded design."""
    from femopt.optimize import interrupt

    def pressed_twice(self, *args):      # two presses; their KeyboardInterrupt got wrapped
        self.presses += 2

    monkeypatch.setattr(interrupt.StopRequest, "press", pressed_twice)
    calls = []

    def objective(x):
        calls.append(x.copy())
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            raise ValueError("INTERNAL: CpuCallback error calling callback: ... KeyboardInterrupt")
        return bowl(x)

    result = fopt.minimize(objective, np.zeros(3), bounds=(0.0, 10.0), method="mma", max_iterations=10)
    assert result.status == "interrupted" and result.iterations == 2
    assert "interrupted after 2 iterations" in result.message
    np.testing.assert_array_equal(result.x, calls[2])     # the design the third evaluation got
    with pytest.raises(ValueError, match="CpuCallback"):  # without Ctrl-C the error is the error
        fopt.minimize(lambda x: (_ for _ in ()).throw(ValueError("CpuCallback")), np.zeros(3),
                      bounds=(0.0, 10.0), method="mma")


def test_a_script_with_stages_can_stop_at_an_interrupted_one():
    done = fopt.minimize(bowl, np.zeros(3), method="L-BFGS-B")
    assert done.stop_if_interrupted() is done
    stopped = fopt.OptimizeResult(x=np.zeros(3), fun=1.0, constraints=np.zeros(0), iterations=2,
                                  status="interrupted", success=False, history=done.history,
                                  message="interrupted after 2 iterations")
    with pytest.raises(KeyboardInterrupt, match="interrupted after 2"):
        stopped.stop_if_interrupted()


def test_ctrl_c_during_a_scipy_method_ends_after_the_iteration():
    calls = []

    def objective(x):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        return float(np.sum((x - 5.0) ** 4)), 4.0 * (x - 5.0) ** 3

    result = fopt.minimize(objective, np.zeros(3), method="L-BFGS-B", max_iterations=50)
    assert result.status == "interrupted" and 1 <= result.iterations <= 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
