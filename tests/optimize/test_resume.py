"""Starting a checkpointed run: a checkpoint is resumed only by the run that wrote it (the
fingerprint), ``resume`` says what a missing file means, the folder is checked before
the first iteration, and temporary files of killed writes are cleaned up."""
import json
import logging
import os
import tempfile

import numpy as np
import pytest

import femopt as fo
from femopt import design as fd
from femopt import optimize as fopt
from femopt.errors import CheckpointError, InputError

from .problems import Budget, cantilever_stiffness, cantilever_weight, separable

C = np.array([1.0, 2.0, 4.0, 0.5, 3.0, 1.5])


class Counted:
    """The cantilever weight, counting its evaluations."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return cantilever_weight(x)


def cantilever(path, max_iterations=2, *, fun=cantilever_weight, method="mma", **kwargs):
    return fopt.minimize(fun, np.full(5, 5.0), constraints=[cantilever_stiffness], bounds=(1.0, 10.0),
                         method=method, max_iterations=max_iterations, tol_change=1e-9, checkpoint=path, **kwargs)


def mbb(nx, ny):
    mesh = fo.mesh.rectangle(size=(nx, ny), shape=(nx, ny), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    problem.fix(lambda x: np.isclose(x[:, 0], 0.0), components=0)
    problem.fix(lambda x: np.isclose(x[:, 0], nx) & np.isclose(x[:, 1], 0.0), components=1)
    problem.point_load(lambda x: np.isclose(x[:, 0], 0.0) & np.isclose(x[:, 1], ny), [0.0, -1.0])
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 1.5))
    return fd.Compliance(fd.CellScaledModel(problem, "E"), design), fd.VolumeConstraint(design, 0.5), design


def run_mbb(shape, path, max_iterations, **kwargs):
    objective, volume, design = mbb(*shape)
    return fopt.minimize(objective, design.initial(0.5), constraints=[volume], method="oc",
                         max_iterations=max_iterations, checkpoint=path, **kwargs)


# -- fingerprint -------------------------------------------------------------------------------
def test_checkpoint_of_another_mesh_is_refused(tmp_path):
    """MBB 12x4 then 4x12: the same number of design variables, another problem."""
    path = tmp_path / "run.npz"
    run_mbb((12, 4), path, 2)
    with pytest.raises(CheckpointError, match="different run") as error:
        run_mbb((4, 12), path, 4, resume=True)
    assert {"mesh", "supports"} <= set(error.value.differences) and error.value.path == str(path)
    in_file, in_run = error.value.differences["mesh"]
    assert "[0, 12] x [0, 4]" in in_file and "[0, 4] x [0, 12]" in in_run
    assert "check_fingerprint=False" in str(error.value) and "resume=False" in str(error.value)


def test_override_resumes_with_a_warning(tmp_path, caplog):
    path = tmp_path / "run.npz"
    run_mbb((12, 4), path, 2)
    with caplog.at_level(logging.WARNING, logger="femopt.optimize"):
        result = run_mbb((4, 12), path, 3, resume=True, check_fingerprint=False)
    assert result.iterations == 3
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "different run" in warning and "mesh" in warning and "[0, 4] x [0, 12]" in warning


def test_optimizer_options_must_match(tmp_path):
    path = tmp_path / "run.npz"
    cantilever(path, method=fopt.MMA(move=0.5))
    with pytest.raises(CheckpointError) as error:
        cantilever(path, 4, method=fopt.MMA(move=0.2), resume=True)
    assert error.value.differences == {"option move": ("0.5", "0.2")}
    with pytest.raises(CheckpointError, match="method"):
        cantilever(path, 4, method="SLSQP", resume=True)


def test_scipy_options_and_function_names_must_match(tmp_path):
    path = tmp_path / "run.npz"
    cantilever(path, method="SLSQP", options={"ftol": 1e-8})
    with pytest.raises(CheckpointError) as error:
        cantilever(path, 4, method="SLSQP", options={"ftol": 1e-10}, resume=True)
    assert set(error.value.differences) == {"option ftol"}
    with pytest.raises(CheckpointError) as error:
        cantilever(path, 4, fun=Counted(), method="SLSQP", options={"ftol": 1e-8}, resume=True)
    assert error.value.differences == {"objective": ("cantilever_weight", "Counted")}


def test_a_different_size_is_refused_even_with_the_override(tmp_path):
    path = tmp_path / "run.npz"
    fopt.minimize(separable(C), np.full(6, 0.3), constraints=[Budget(2.0)], bounds=(1e-3, 1.0),
                  method="mma", max_iterations=2, checkpoint=path)
    with pytest.raises(CheckpointError, match="another size") as error:
        fopt.minimize(separable(C[:5]), np.full(5, 0.3), constraints=[Budget(2.0)], bounds=(1e-3, 1.0),
                      method="mma", max_iterations=4, checkpoint=path, resume=True, check_fingerprint=False)
    assert error.value.differences["design variables"] == (6, 5)


def _make_old(path):
    """Rewrite a checkpoint as format version 1 wrote it (no fingerprint)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    del meta["fingerprint"]
    arrays["meta"] = np.array(json.dumps(dict(meta, format_version=1)))
    np.savez(path, **arrays)


def test_checkpoint_without_fingerprint(tmp_path, caplog):
    path = tmp_path / "run.npz"
    cantilever(path)
    _make_old(path)
    with pytest.raises(CheckpointError, match="no fingerprint.*check_fingerprint=False"):
        cantilever(path, 4, resume=True)
    with caplog.at_level(logging.WARNING, logger="femopt.optimize"):
        assert cantilever(path, 4, resume=True, check_fingerprint=False).iterations == 4
    assert any("no fingerprint" in r.getMessage() for r in caplog.records)


# -- resume -----------------------------------------------------------------------------------
def test_resume_true_without_a_file_starts_fresh_and_says_so(tmp_path, caplog):
    path = tmp_path / "typo.npz"
    with caplog.at_level(logging.INFO, logger="femopt.optimize"):
        assert cantilever(path, resume=True).iterations == 2
    assert any(f"no checkpoint at {path}; starting from x0" in r.getMessage() for r in caplog.records)


def test_resume_require_needs_the_file(tmp_path):
    objective = Counted()
    with pytest.raises(CheckpointError, match="no checkpoint at .*typo.npz") as error:
        cantilever(tmp_path / "typo.npz", fun=objective, resume="require")
    assert error.value.path == str(tmp_path / "typo.npz") and objective.calls == 0
    cantilever(tmp_path / "run.npz", 2)
    assert cantilever(tmp_path / "run.npz", 3, resume="require").iterations == 3


def test_resume_arguments_are_checked(tmp_path):
    with pytest.raises(InputError, match="resume must be True, False or 'require'"):
        cantilever(tmp_path / "run.npz", resume="yes")
    with pytest.raises(InputError, match="needs a checkpoint file"):
        cantilever(None, resume=True)
    with pytest.raises(InputError, match="check_fingerprint"):
        cantilever(tmp_path / "run.npz", check_fingerprint="no")


# -- the folder and stale temporary files -------------------------------------------------------
def test_a_folder_that_cannot_be_created_fails_before_iteration_0(tmp_path):
    (tmp_path / "results").write_text("a file where the folder should be")
    objective = Counted()
    with pytest.raises(CheckpointError, match="checkpoint folder .*results.* cannot be created or written"):
        cantilever(tmp_path / "results" / "run.npz", fun=objective)
    assert objective.calls == 0


def test_a_read_only_folder_fails_before_iteration_0(tmp_path, monkeypatch):
    # root writes into read-only folders, so the refusal is simulated where files are made
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    objective = Counted()
    with pytest.raises(CheckpointError, match=f"folder '{tmp_path}' cannot be created or written") as error:
        cantilever(tmp_path / "run.npz", fun=objective)
    assert objective.calls == 0 and error.value.path == str(tmp_path / "run.npz")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_really(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    with pytest.raises(CheckpointError, match="cannot be created or written"):
        cantilever(folder / "run.npz")


def test_a_folder_as_checkpoint_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="is a folder"):
        cantilever(tmp_path)


def test_stale_temporary_files_of_this_checkpoint_are_removed(tmp_path, caplog):
    stale = [".run.npz.k3j_9x0a.tmp", ".run.npz.zzzzzzzz.tmp"]
    others = [".run.npz.bak.k3j_9x0a.tmp", ".other.npz.k3j_9x0a.tmp", "run.npz.tmp", ".run.npz.k3j_9x0a.tmp.keep",
              ".run.npz.short.tmp", "notes.txt"]
    for name in stale + others:
        (tmp_path / name).write_text("partial")
    with caplog.at_level(logging.INFO, logger="femopt.optimize"):
        cantilever(tmp_path / "run.npz", 1)
    assert sorted(os.listdir(tmp_path)) == sorted(others + ["run.npz"])
    assert any("removed 2 temporary file(s)" in r.getMessage() for r in caplog.records)
