"""Passive (solid / void) cells in femopt.distributed.minimize_compliance.

* pure NumPy: the selections (predicate, tag, mask, ids) mark the cells
  ``DensityDesign`` marks, and malformed ones are refused by name;
* the serial route (no PETSc) passes ``solid=`` / ``void=`` to ``DensityDesign`` and
  returns the raw cell vector (passive cells at 1 / 0);
* under ``mpirun -n 2`` (tests/distributed/mpi_passive_cases.py): a 12x4x4 cantilever
  with a solid layer near the loaded end and a void block, on the whole mesh (passive
  cells given as a mask and as ids) and on mesh pieces (predicates) — 8 OC and 3 MMA
  iterations agree with femopt's serial route (``DensityDesign(solid=, void=)``) to 1e-9
  in compliance, constraint, change and grey level histories and in the final design
  and densities (measured ~1e-11 with CG at rtol 1e-12); compliance and gradient at a
  random design; 2 MMA iterations + a resume to 3 equal 3 (bitwise); a checkpoint with
  other passive cells is refused; bad selections are refused on every rank alike.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import femopt as fo
from femopt import design as fd
from femopt import optimize as fopt
from femopt.distributed.launch import run_mpi
from femopt.distributed.passive import _selected
from femopt.errors import InputError
from mpi_helpers import needs_mpirun, needs_petsc

SCRIPT = Path(__file__).with_name("mpi_passive_cases.py")
AGREE = 1e-9


def _solid(c):
    return c[:, 0] > 5.0


def _void(c):
    return (c[:, 0] < 2.0) & (c[:, 2] > 1.0)


def test_selections_mark_the_cells_the_density_design_marks():
    mesh = fo.mesh.box(size=(6, 2, 2), shape=(6, 2, 2), cell="hex8").tag_cells("hole", _void)
    design = fd.DensityDesign(mesh, solid=_solid, void="hole")
    solid, void = design.passive == 1, design.passive == -1
    assert np.array_equal(_selected(mesh, _solid, "solid"), solid)
    assert np.array_equal(_selected(mesh, "hole", "void"), void)
    assert np.array_equal(_selected(mesh, solid, "solid"), solid)
    assert np.array_equal(_selected(mesh, np.flatnonzero(void), "void"), void)
    assert not _selected(mesh, None, "void").any()
    with pytest.raises(InputError, match="void: no cell tag 'nothing'"):
        _selected(mesh, "nothing", "void")
    with pytest.raises(InputError, match="needs 24 entries"):
        _selected(mesh, np.ones(5, dtype=bool), "solid")
    with pytest.raises(InputError, match=r"cell ids must lie in 0..23"):
        _selected(mesh, [3, 24], "solid")
    with pytest.raises(InputError, match="must be integers"):
        _selected(mesh, [0.5], "solid")
    with pytest.raises(InputError, match="selects no cells"):
        _selected(mesh, lambda c: c[:, 0] > 99.0, "solid")


def _problem():
    mesh = fo.mesh.box(size=(6, 2, 2), shape=(6, 2, 2), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(), linear_solver="direct").fix("xmin")
    problem.point_load(lambda x: np.isclose(x[:, 0], 6) & np.isclose(x[:, 2], 0), [0.0, 0.0, -1.0])
    return problem


def test_serial_route_with_passive_cells(monkeypatch):
    """Without petsc4py, solid= / void= go to DensityDesign; x is the raw cell vector."""
    import femopt.distributed.optimize as topt

    monkeypatch.setattr(topt, "petsc_available", lambda: False)
    problem = _problem()
    result = topt.minimize_compliance(problem, fraction=0.4, radius=1.5, method="mma", max_iterations=3,
                                      tol_change=0.0, verbose=False, solid=_solid, void=_void)
    mesh = problem.mesh
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 1.5), interpolation=fd.SIMP(),
                              solid=_solid, void=_void)
    expected = fopt.minimize(fd.Compliance(fd.CellScaledModel(_problem(), "E"), design), design.initial(0.4),
                             constraints=[fd.VolumeConstraint(design, 0.4)], method="mma", max_iterations=3,
                             tol_change=0.0, verbose=False)
    solid, void = design.passive == 1, design.passive == -1
    assert result.ranks == 0 and result.x.shape == (mesh.n_cells,) and solid.any() and void.any()
    assert np.all(result.x[solid] == 1.0) and np.all(result.x[void] == 0.0)
    assert np.all(result.density[solid] == 1.0) and np.all(result.density[void] == 0.0)
    assert np.array_equal(result.x[design.active], expected.x)
    assert np.array_equal(result.history.objective, expected.history.objective)
    with pytest.raises(InputError, match="both solid and void"):
        topt.minimize_compliance(problem, fraction=0.4, radius=1.5, max_iterations=1, solid=_void, void=_void)


@needs_petsc
@needs_mpirun
def test_two_ranks_with_passive_cells_agree_with_the_serial_route(tmp_path):
    out = tmp_path / "result.json"
    process = run_mpi(2, [SCRIPT, out, tmp_path], timeout=300)
    assert process.returncode == 0, f"mpirun failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}"
    r = json.loads(out.read_text())
    gradient = r["gradient"]
    assert gradient["counts"] == [16, 12, 164] and gradient["passive_entries"] == 0.0
    assert gradient["compliance"] < AGREE and gradient["gradient"] < AGREE, gradient
    assert gradient["volume"] < 1e-14 and gradient["volume_gradient"] < 1e-14, gradient
    for mesh in ("whole", "pieces"):
        for method, iterations in (("oc", 8), ("mma", 3)):
            run = r[mesh][method]
            assert run.pop("iterations") == iterations
            assert max(run.values()) < AGREE, (mesh, method, run)
    assert r["whole"]["volume_fraction"] < 1e-12
    passive = r["passive"]
    assert set(passive["x_solid"]) == set(passive["rho_solid"]) == {1.0}
    assert set(passive["x_void"]) == set(passive["rho_void"]) == {0.0}
    resume = r["resume"]
    assert (resume["first"], resume["iterations"], resume["this_run"]) == (2, 3, 1)
    assert resume["design"] == 0.0 and resume["compliance"] == 0.0          # bitwise
    assert "passive cells" in resume["other_passive_refused"]
    refusals = r["refusals"]
    assert "both solid and void" in refusals["both"]
    assert "every cell is passive" in refusals["all"]
    assert "refused on another rank" in refusals["one_rank"] and r["refusals_agree"] == 2
    assert "no cell tag 'hole'" in refusals["tag"]
