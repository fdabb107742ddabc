"""A checkpointed MBB-beam run, the child process of the fault test (test_fault.py).

    python fault_run.py SOLVER CHECKPOINT RESULT

SOLVER is ``direct`` (SuperLU, MMA) or ``cg`` (CG with AMG, OC). The run resumes from
CHECKPOINT when it exists (``resume=True``). The child prints ``ready`` when minimize is
about to start and ``write`` whenever a checkpoint write reaches ``os.fsync``, which here
sleeps :data:`PAUSE` seconds before and after the real one, so that the parent can kill
the child inside a write (before the fsync, or between the fsync and the rename). When
the run has finished it saves the design, the history and the objective to RESULT.
"""
import os
import sys
import time

import numpy as np

#: seconds slept before and after the real fsync
PAUSE = 0.03
SIZE = (24, 8)
ITERATIONS = 24


def mbb(solver):
    """Half MBB beam, density filter and a short projection continuation: ``(objective,
    volume constraint, design, method)``."""
    import femopt as fo
    from femopt import design as fd
    from femopt import optimize as fopt

    nx, ny = SIZE
    mesh = fo.mesh.rectangle(size=(nx, ny), shape=(nx, ny), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    problem.fix(lambda x: np.isclose(x[:, 0], 0.0), components=0)
    problem.fix(lambda x: np.isclose(x[:, 0], nx) & np.isclose(x[:, 1], 0.0), components=1)
    problem.point_load(lambda x: np.isclose(x[:, 0], 0.0) & np.isclose(x[:, 1], ny), [0.0, -1.0])
    model = fd.CellScaledModel(problem, "E", linear_solver=solver)
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 1.5),
                              projection=fd.Continuation(1.0, 2.0, every=8, maximum=4.0))
    method = fopt.MMA(move=0.2) if solver == "direct" else fopt.OC(move=0.2)
    return fd.Compliance(model, design), fd.VolumeConstraint(design, 0.5), design, method


def run(solver, checkpoint=None):
    """The optimization (resumed from ``checkpoint`` when it exists)."""
    from femopt import optimize as fopt

    objective, volume, design, method = mbb(solver)
    print("ready", flush=True)
    return fopt.minimize(objective, design.initial(0.5), constraints=[volume], method=method,
                         max_iterations=ITERATIONS, tol_change=0.0, schedule=design,
                         checkpoint=checkpoint, resume=checkpoint is not None)


def outcome(result) -> dict:
    """What must be bitwise equal between runs (the history's timings are not)."""
    h = result.history
    return {"x": result.x, "objective": h.objective, "constraints": h.constraints, "change": h.change,
            "grey_level": h.grey_level, "fun": np.array(result.fun), "iterations": np.array(result.iterations)}


def _slow_fsync(real):
    def fsync(fd):
        print("write", flush=True)
        time.sleep(PAUSE)
        real(fd)
        time.sleep(PAUSE)
    return fsync


if __name__ == "__main__":
    solver, checkpoint, result_path = sys.argv[1:4]
    os.fsync = _slow_fsync(os.fsync)
    result = run(solver, checkpoint)
    np.savez(result_path, **outcome(result))
