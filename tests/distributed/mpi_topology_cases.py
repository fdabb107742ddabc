"""Run under ``mpirun -n N`` by test_distributed_topology.py: compliance topology
optimization of a small 3D cantilever with femopt.distributed (OC, MMA, checkpoint and
resume, parallel VTU output) and, on rank 0, femopt's serial run with the same settings;
rank 0 writes the comparisons to the JSON file named by the first argument.

    mpirun -n 2 python tests/distributed/mpi_topology_cases.py out.json WORKDIR
"""
import json
import logging
import sys
from pathlib import Path

import numpy as np

import femopt as fo
from femopt import design as fd
from femopt import optimize as fopt
from femopt.distributed import DistributedProblem, minimize_compliance
from femopt.distributed.cells import CellLayout
from femopt.distributed.filter import DistributedFilter

SHAPE, FRACTION, RADIUS, ITERATIONS = (12, 4, 4), 0.3, 1.5, 10


def cantilever():
    """12x4x4 HEX8 cantilever clamped at x = 0, unit load along the bottom edge of the free end."""
    nx = SHAPE[0]
    mesh = fo.mesh.box(size=SHAPE, shape=SHAPE, cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3), linear_solver="direct")
    problem.fix("xmin")
    problem.point_load(lambda x: np.isclose(x[:, 0], nx) & np.isclose(x[:, 2], 0.0), [0.0, 0.0, -1.0])
    return problem


def serial(method, iterations):
    """femopt's serial route: CellScaledModel + DensityDesign(DensityFilter) + minimize."""
    problem = cantilever()
    mesh = problem.mesh
    model = fd.CellScaledModel(problem, "E")
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, RADIUS), interpolation=fd.SIMP(3.0, 1.0, 1e-9))
    result = fopt.minimize(fd.Compliance(model, design), design.initial(FRACTION),
                           constraints=[fd.VolumeConstraint(design, FRACTION)], method=method,
                           max_iterations=iterations, tol_change=0.0, verbose=False)
    return result.history.objective, result.x, design.density(result.x), design


def relative(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


def main():
    out, work = sys.argv[1], Path(sys.argv[2])
    logging.basicConfig(level=logging.WARNING)
    problem = cantilever()
    dp = DistributedProblem(problem, solver="cg", rtol=1e-12)
    rank = dp.comm.getRank()
    results = {"ranks": dp.comm.getSize()}

    # the filter alone, on a random design
    layout = CellLayout(dp)
    flt = DistributedFilter(problem.mesh, RADIUS, layout)
    x = np.random.default_rng(0).uniform(0.0, 1.0, problem.mesh.n_cells)
    filtered = layout.gather(flt(x[layout.own_cells]))
    y = np.random.default_rng(1).uniform(-1.0, 1.0, problem.mesh.n_cells)
    pulled = layout.gather(flt.transpose(y[layout.own_cells]))
    serial_filter = fd.DensityFilter(problem.mesh, RADIUS)
    results["filter"] = relative(filtered, serial_filter(x))
    results["filter_transpose"] = relative(pulled, serial_filter.matrix.T @ y)
    results["ghost_cells"] = int(layout.sum(flt.ghosts.size))

    # compliance and its gradient at a random design against femopt's serial Compliance
    from femopt.distributed.topology import DistributedCompliance

    objective = DistributedCompliance(dp, radius=RADIUS, fraction=FRACTION, interpolation=fd.SIMP(3.0, 1.0, 1e-9))
    x = np.random.default_rng(2).uniform(0.1, 1.0, problem.mesh.n_cells)
    c, dc, g, dg = objective(x[layout.own_cells])
    dc, dg = layout.gather(dc), layout.gather(dg)
    model = fd.CellScaledModel(cantilever(), "E")
    design = fd.DensityDesign(problem.mesh, filter=fd.DensityFilter(problem.mesh, RADIUS),
                              interpolation=fd.SIMP(3.0, 1.0, 1e-9))
    c_ref, dc_ref = fd.Compliance(model, design)(x)
    g_ref, dg_ref = fd.VolumeConstraint(design, FRACTION)(x)
    results["gradient"] = {"compliance": abs(c - c_ref) / abs(c_ref), "gradient": relative(dc, dc_ref),
                           "volume": abs(g - g_ref), "volume_gradient": relative(dg, dg_ref)}

    kind = dict(fraction=FRACTION, radius=RADIUS, interpolation=fd.SIMP(3.0, 1.0, 1e-9), tol_change=0.0,
                verbose=False)
    oc = minimize_compliance(dp, method=fopt.OC(move=0.2), max_iterations=ITERATIONS,
                             output=work / "oc" / "design.pvtu", **kind)
    mma = minimize_compliance(dp, method=fopt.MMA(move=0.2), max_iterations=4, **kind)
    checkpoint = work / "run.npz"
    first = minimize_compliance(dp, method=fopt.OC(move=0.2), max_iterations=5, checkpoint=checkpoint, **kind)
    resumed = minimize_compliance(dp, method=fopt.OC(move=0.2), max_iterations=ITERATIONS, checkpoint=checkpoint,
                                  resume=True, **kind)
    mma_first = minimize_compliance(dp, method=fopt.MMA(move=0.2), max_iterations=2, checkpoint=work / "mma.npz",
                                    **kind)
    mma_resumed = minimize_compliance(dp, method=fopt.MMA(move=0.2), max_iterations=4, checkpoint=work / "mma.npz",
                                      resume=True, **kind)
    if rank != 0:
        return
    c_oc, x_oc, rho_oc, design = serial(fopt.OC(move=0.2), ITERATIONS)
    c_mma, x_mma, _, _ = serial(fopt.MMA(move=0.2), 4)
    results["oc"] = {"compliance": relative(oc.history.objective, c_oc), "design": relative(oc.x, x_oc),
                     "density": relative(oc.density, rho_oc), "iterations": oc.iterations,
                     "volume_fraction": oc.volume_fraction,
                     "serial_volume_fraction": design.volume_fraction(rho_oc),
                     "ksp_iterations": [t["ksp_iterations"] for t in oc.timings]}
    results["mma"] = {"compliance": relative(mma.history.objective, c_mma), "design": relative(mma.x, x_mma)}
    results["resume"] = {"first_iterations": first.iterations, "iterations": resumed.iterations,
                         "compliance": relative(resumed.history.objective, oc.history.objective),
                         "design": relative(resumed.x, oc.x), "this_run": len(resumed.timings)}
    results["mma_resume"] = {"iterations": mma_resumed.iterations, "first": mma_first.iterations,
                             "design": relative(mma_resumed.x, mma.x)}
    results["pvtu"] = str(work / "oc" / "design.pvtu")
    results["density"] = oc.density.tolist()
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
