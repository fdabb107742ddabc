"""Run under ``mpirun -n N`` (and in-process on one rank) by test_distributed_pieces.py:
compliance topology optimization of a 12x4x4 cantilever set up on each rank's piece of
the mesh only (``femopt.distributed.box``), against femopt's serial run. Every rank
writes ``<out>.<rank>.json`` with its own cells' comparisons.

    mpirun -n 2 python tests/distributed/mpi_piece_topology_cases.py out WORKDIR [ITERATIONS [resume]]
"""
import json
import logging
import sys
from pathlib import Path

import numpy as np

import femopt as fo
from femopt import design as fd
from femopt import optimize as fopt
from femopt.distributed import DistributedProblem, box, minimize_compliance
from femopt.distributed.cells import CellLayout
from femopt.distributed.filter import DistributedFilter

SHAPE, FRACTION, RADIUS = (12, 4, 4), 0.3, 1.5


def cantilever(mesh):
    """Clamped at x = 0, unit load along the bottom edge of the free end."""
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3), linear_solver="direct")
    problem.fix("xmin")
    problem.point_load(lambda x: np.isclose(x[:, 0], SHAPE[0]) & np.isclose(x[:, 2], 0.0), [0.0, 0.0, -1.0])
    return problem


def serial(iterations):
    problem = cantilever(fo.mesh.box(size=SHAPE, shape=SHAPE))
    mesh = problem.mesh
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, RADIUS), interpolation=fd.SIMP(3.0, 1.0, 1e-9))
    result = fopt.minimize(fd.Compliance(fd.CellScaledModel(problem, "E"), design), design.initial(FRACTION),
                           constraints=[fd.VolumeConstraint(design, FRACTION)], method=fopt.OC(move=0.2),
                           max_iterations=iterations, tol_change=0.0, verbose=False)
    return result, design


def relative(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


def main():
    out, work = sys.argv[1], Path(sys.argv[2])
    iterations = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    resume = len(sys.argv) > 4 and sys.argv[4] == "resume"
    logging.basicConfig(level=logging.WARNING)
    mesh = box(size=SHAPE, shape=SHAPE)
    dp = DistributedProblem(cantilever(mesh), solver="cg", rtol=1e-12)
    natural = mesh.piece.natural_cells
    results = {"ranks": dp.comm.getSize(), "n_own": int(mesh.n_cells), "n_cells": int(mesh.piece.n_cells)}
    whole = fo.mesh.box(size=SHAPE, shape=SHAPE)

    layout = CellLayout(dp)
    flt = DistributedFilter(mesh, RADIUS, layout)
    x = np.random.default_rng(0).uniform(0.0, 1.0, whole.n_cells)
    reference = fd.DensityFilter(whole, RADIUS)
    results["filter"] = relative(flt(x[natural]), reference(x)[natural])
    y = np.random.default_rng(1).uniform(-1.0, 1.0, whole.n_cells)
    results["filter_transpose"] = relative(flt.transpose(y[natural]), (reference.matrix.T @ y)[natural])
    results["gathered"] = relative(layout.gather(x[natural]), x)
    results["ghost_cells"] = int(flt.ghosts.size)

    kind = dict(fraction=FRACTION, radius=RADIUS, interpolation=fd.SIMP(3.0, 1.0, 1e-9), tol_change=0.0,
                verbose=False, method=fopt.OC(move=0.2))
    run = minimize_compliance(dp, max_iterations=iterations, checkpoint=work / "pieces.npz", resume=resume,
                              output=work / "pieces" / "design.pvtu", **kind)
    expected, design = serial(10 if resume else iterations)
    results["oc"] = {"iterations": run.iterations, "this_run": len(run.timings), "x_shape": list(run.x.shape),
                     "compliance": relative(run.history.objective, expected.history.objective),
                     "design": relative(run.x, expected.x[natural]),
                     "density": relative(run.density, design.density(expected.x)[natural]),
                     "volume_fraction": run.volume_fraction}
    with open(f"{out}.{dp.comm.getRank()}.json", "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
