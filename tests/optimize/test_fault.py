"""Fault test: a checkpointed topology optimization killed with SIGKILL at random moments
(some inside the checkpoint write) and resumed each time ends bitwise equal to an
uninterrupted run — design, history and objective — on both linear-solver paths.

The child process is ``fault_run.py``; the kill moments come from a seeded generator, so
the plan is the same on every run of the test (where exactly each kill lands depends on
the machine's speed, which is the point: any moment must do).
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import femopt

from .fault_run import ITERATIONS, PAUSE, outcome, run

SCRIPT = Path(__file__).with_name("fault_run.py")
#: (kind, parameter): "time" kills a random delay after minimize starts; "write" kills
#: during the k-th checkpoint write (before the fsync or between it and the rename)
KILLS = 4
SEED = {"direct": 20240611, "cg": 20240612}


def _start(solver, tmp_path):
    # the child imports the femopt this test imported, whatever is installed
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(femopt.__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    log = open(tmp_path / "child.log", "a")
    return subprocess.Popen([sys.executable, str(SCRIPT), solver, str(tmp_path / "run.npz"),
                             str(tmp_path / "result.npz")], stdout=subprocess.PIPE, stderr=log, text=True,
                            env=env), log


def _wait_for(proc, line, count=1):
    """Read the child's lines until ``line`` has been seen ``count`` times; False at EOF."""
    seen = 0
    while seen < count:
        text = proc.stdout.readline()
        if not text:
            return False
        seen += text.strip() == line
    return True


def _kill_plan(solver):
    rng = np.random.default_rng(SEED[solver])
    plan = []
    for k in range(KILLS):
        if k % 2 == 0:
            plan.append(("time", float(rng.uniform(0.0, 0.6))))
        else:
            plan.append(("write", (int(rng.integers(1, 6)), float(rng.uniform(0.0, 2.0 * PAUSE)))))
    return plan


def _killed_and_resumed(solver, tmp_path):
    """Run the child, kill it as planned, resume until it finishes; returns its outcome and
    how many kills left a temporary file of the checkpoint behind."""
    kills, torn_writes = 0, 0
    for kind, parameter in _kill_plan(solver):
        proc, log = _start(solver, tmp_path)
        try:
            # the child's few short lines fit the pipe's buffer: it never blocks on them
            reached = _wait_for(proc, "ready")
            if reached and kind == "time":
                time.sleep(parameter)
            elif reached:
                count, pause = parameter
                if _wait_for(proc, "write", count):
                    time.sleep(pause)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
        finally:
            proc.wait(timeout=120)
            proc.stdout.close()
            log.close()
        torn_writes += bool(list(tmp_path.glob(".run.npz.*.tmp")))
    proc, log = _start(solver, tmp_path)
    proc.stdout.read()
    code = proc.wait(timeout=300)
    proc.stdout.close()
    log.close()
    assert code == 0, (tmp_path / "child.log").read_text()[-3000:]
    assert not list(tmp_path.glob(".run.npz.*.tmp")), "the resumed run did not remove the stale temporary files"
    with np.load(tmp_path / "result.npz") as data:
        return {k: data[k] for k in data.files}, kills, torn_writes


def _assert_bitwise(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].shape == b[key].shape and np.array_equal(a[key], b[key]), key


@pytest.mark.parametrize("solver", ["direct", "cg"])
def test_killed_runs_resume_bitwise(tmp_path, solver):
    reference = outcome(run(solver))
    assert reference["iterations"] == ITERATIONS
    resumed, kills, torn_writes = _killed_and_resumed(solver, tmp_path)
    assert kills >= 3, f"only {kills} of {KILLS} kills landed before the run finished"
    assert torn_writes >= 1, "no kill landed inside a checkpoint write"
    _assert_bitwise(resumed, reference)


def test_two_cg_runs_are_bitwise_equal():
    """CG with AMG (its set-up draws random numbers) and warm starts: two runs, one answer."""
    _assert_bitwise(outcome(run("cg")), outcome(run("cg")))
