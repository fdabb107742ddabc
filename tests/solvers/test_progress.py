"""Long linear solves announce themselves: set-up and solve lines marked as progress."""
import logging

import numpy as np
import pytest

import femopt as fo
from femopt.solvers import linear_base, linear_iterative


@pytest.mark.parametrize("solver", ["direct", "cg"])
def test_a_large_system_reports_its_setup_and_solve(solver, caplog, monkeypatch):
    monkeypatch.setattr(linear_base, "PROGRESS_MIN_DOFS", 10)
    monkeypatch.setattr(linear_iterative, "PROGRESS_MIN_DOFS", 10)
    mesh = fo.mesh.box(size=(2.0, 1.0, 1.0), shape=(4, 2, 2), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3), linear_solver=solver)
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.0, -1.0])
    with caplog.at_level(logging.INFO, logger="femopt"):
        problem.solve()
    progress = [r.getMessage() for r in caplog.records if getattr(r, "progress", False)]
    n = problem.partition.free.size
    assert progress[0].startswith(f"linear system: {n} dofs")
    assert any(f"of {n} dofs ready in" in line for line in progress)
    if solver == "cg":
        assert any(line.startswith("CG (") and "iterations" in line for line in progress)


def test_a_small_system_says_nothing(caplog):
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(4, 4), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin", 0.0)
    problem.heat_source(1.0)
    with caplog.at_level(logging.INFO, logger="femopt"):
        problem.solve()
    assert not [r for r in caplog.records if getattr(r, "progress", False)]
