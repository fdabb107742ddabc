"""Checkpoints: atomic NPZ without pickle, and a killed run resumed from its checkpoint
ends with the same design as an uninterrupted one."""
import json
import os

import numpy as np
import pytest

import femopt as fo
from femopt import design as fd
from femopt import optimize as fopt
from femopt.errors import CheckpointError, InputError

from .problems import cantilever_stiffness, cantilever_weight


def test_roundtrip_without_pickle(tmp_path):
    path = tmp_path / "run.npz"
    cp = fopt.Checkpoint(np.arange(3.0), 7, {"low": np.ones(3), "steps": np.array(7)},
                         {"objective": np.array([3.0, 2.0])}, {"method": "MMA", "n": 3, "m": 1})
    fopt.write_checkpoint(path, cp)
    with np.load(path, allow_pickle=False) as data:  # no pickle needed anywhere
        assert set(data.files) >= {"x", "iteration", "meta", "state.low", "history.objective"}
    back = fopt.read_checkpoint(path)
    np.testing.assert_array_equal(back.x, cp.x)
    assert back.iteration == 7 and back.meta["method"] == "MMA" and int(back.state["steps"]) == 7
    assert os.listdir(tmp_path) == ["run.npz"]  # the temporary file was renamed, not left behind


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "run.npz"
    fopt.write_checkpoint(path, fopt.Checkpoint(np.zeros(2), 1))
    with pytest.raises(InputError, match="not a plain array"):
        fopt.write_checkpoint(path, fopt.Checkpoint(np.zeros(2), 2, state={"bad": np.array([{}], dtype=object)}))
    assert fopt.read_checkpoint(path).iteration == 1 and os.listdir(tmp_path) == ["run.npz"]


def _valid(path):
    fopt.write_checkpoint(path, fopt.Checkpoint(np.arange(40.0), 3, {"low": np.ones(40)},
                                                {"objective": np.arange(3.0)}, {"method": "MMA", "n": 40, "m": 0}))
    return path.read_bytes()


def _with_meta(path, meta):
    np.savez(path, x=np.zeros(3), iteration=np.array(1), meta=np.array(meta))


def _truncated(path):
    path.write_bytes(_valid(path)[:700])


def _corrupted(path):
    data = bytearray(_valid(path))
    data[300:340] = b"\xff" * 40  # inside the stored arrays: the CRC no longer matches
    path.write_bytes(bytes(data))


BROKEN = {
    "text file": (lambda p: p.write_text("iteration 7, design in run.csv\n"), "is not an NPZ file"),
    "empty file": (lambda p: p.write_bytes(b""), "is empty"),
    "truncated": (_truncated, "truncated or corrupted.*killed run of an older femopt.*copied incompletely"),
    "corrupted": (_corrupted, "truncated or corrupted"),
    "other npz": (lambda p: np.savez(p, weights=np.ones(3)), "not a femopt checkpoint.*lacks the entries"),
    "newer format": (lambda p: _with_meta(p, json.dumps({"format_version": 99})), "format version 99.*newer femopt"),
    "meta not JSON": (lambda p: _with_meta(p, "{method: MMA"), "metadata that is not JSON"),
    "meta not an object": (lambda p: _with_meta(p, "[1, 2]"), "not a JSON object"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_files_are_named(tmp_path, case):
    make, expected = BROKEN[case]
    path = tmp_path / "run.npz"
    make(path)
    with pytest.raises(CheckpointError, match=expected) as error:
        fopt.read_checkpoint(path)
    assert error.value.path == str(path) and str(path) in str(error.value)
    assert "resume=False" in str(error.value) or case == "other npz"


def test_minimize_reports_a_truncated_checkpoint(tmp_path):
    path = tmp_path / "run.npz"
    _run(tmp_path, "run.npz", 2)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="truncated"):
        _run(tmp_path, "run.npz", 4, resume=True)


def _run(tmp_path, name, max_iterations, **kwargs):
    return fopt.minimize(cantilever_weight, np.full(5, 5.0), constraints=[cantilever_stiffness],
                         bounds=(1.0, 10.0), method="mma", max_iterations=max_iterations, tol_change=1e-9,
                         checkpoint=tmp_path / name, **kwargs)


def test_mma_resume_is_bitwise(tmp_path):
    full = _run(tmp_path, "full.npz", 12)
    _run(tmp_path, "killed.npz", 5)  # "killed" after 5 iterations; its checkpoint stays
    resumed = _run(tmp_path, "killed.npz", 12, resume=True)
    np.testing.assert_array_equal(resumed.x, full.x)
    np.testing.assert_array_equal(resumed.history.objective, full.history.objective)
    assert resumed.iterations == 12


def test_resume_without_constraints(tmp_path):
    """m = 0 (a penalty or augmented-Lagrangian objective): the history's empty constraint
    columns read back and the resumed run is bitwise the uninterrupted one."""
    def bowl(x):
        return float(np.sum((x - 0.3) ** 2 * np.arange(1, 5))), 2.0 * (x - 0.3) * np.arange(1, 5)

    def run(name, max_iterations, **kwargs):
        return fopt.minimize(bowl, np.full(4, 0.9), bounds=(0, 1), method="mma", max_iterations=max_iterations,
                             tol_change=0.0,
                             checkpoint=tmp_path / name, **kwargs)
    full = run("full.npz", 9)
    run("killed.npz", 4)
    resumed = run("killed.npz", 9, resume=True)
    np.testing.assert_array_equal(resumed.x, full.x)
    assert resumed.history.constraints.shape == (9, 0)


def test_resume_checks_the_method(tmp_path):
    _run(tmp_path, "run.npz", 2)
    with pytest.raises(InputError, match="method"):
        fopt.minimize(cantilever_weight, np.full(5, 5.0), constraints=[cantilever_stiffness],
                      bounds=(1.0, 10.0), method="SLSQP", checkpoint=tmp_path / "run.npz", resume=True)


@pytest.mark.parametrize("method", ["oc", "mma"])
def test_topology_resume_equals_uninterrupted(tmp_path, method):
    mesh = fo.mesh.rectangle(size=(16, 6), shape=(16, 6), cell="quad4")
    pb = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    pb.fix("xmin")
    pb.point_load(lambda x: np.isclose(x[:, 0], 16) & np.isclose(x[:, 1], 0), [0.0, -1.0])
    model = fd.CellScaledModel(pb, "E")
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 1.5),
                              projection=fd.Continuation(1.0, 2.0, every=4, maximum=4.0))
    objective, volume = fd.Compliance(model, design), fd.VolumeConstraint(design, 0.5)

    def run(name, n, **kw):
        return fopt.minimize(objective, design.initial(0.5), constraints=[volume], method=method,
                             max_iterations=n, tol_change=1e-9, schedule=design, checkpoint=tmp_path / name, **kw)

    full = run("full.npz", 14)
    run("killed.npz", 6)
    resumed = run("killed.npz", 14, resume=True)
    np.testing.assert_array_equal(resumed.x, full.x)
    np.testing.assert_array_equal(resumed.history.objective, full.history.objective)
    assert design.beta == 4.0
