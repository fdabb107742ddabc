"""Run under ``mpirun -n N`` by test_distributed_passive.py: compliance topology
optimization with passive cells (a solid layer near the loaded end, a void block) of a
12x4x4 cantilever with femopt.distributed — on the whole mesh replicated on every rank
and on mesh pieces — against femopt's serial route (``DensityDesign(solid=, void=)``);
a resume from a checkpoint, and the refusals every rank must raise alike. Rank 0 writes
the comparisons to the JSON file named by the first argument.

    mpirun -n 2 python tests/distributed/mpi_passive_cases.py out.json WORKDIR
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
from femopt.errors import CheckpointError, InputError
from femopt.optimize.base import OptimizationError
from mpi_piece_topology_cases import cantilever     # the 12x4x4 cantilever of the pieces cases

SHAPE, FRACTION, RADIUS, OC_ITERATIONS, MMA_ITERATIONS = (12, 4, 4), 0.3, 1.5, 8, 3
SIMP = fd.SIMP(3.0, 1.0, 1e-9)


def solid(c):
    """The top layer near the loaded end."""
    return (c[:, 2] > 3.0) & (c[:, 0] > 8.0)


def void(c):
    """A block in the middle of the beam, half its width (a void slab across the whole
    width, at Emin = 1e-9, slows CG + GAMG to thousands of iterations)."""
    return (c[:, 0] > 4.0) & (c[:, 0] < 7.0) & (c[:, 2] > 1.0) & (c[:, 2] < 3.0) & (c[:, 1] < 2.0)


def serial_design(mesh):
    return fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, RADIUS), interpolation=SIMP, solid=solid, void=void)


def serial(method, iterations):
    """femopt's serial route: CellScaledModel + DensityDesign(solid, void) + minimize."""
    problem = cantilever(fo.mesh.box(size=SHAPE, shape=SHAPE))
    design = serial_design(problem.mesh)
    result = fopt.minimize(fd.Compliance(fd.CellScaledModel(problem, "E"), design), design.initial(FRACTION),
                           constraints=[fd.VolumeConstraint(design, FRACTION)], method=method,
                           max_iterations=iterations, tol_change=0.0, verbose=False)
    return result, design


def relative(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


def compare(history, x, density, reference):
    """Largest relative differences of the history and the final design to the serial run."""
    expected, design = reference
    h, e = history, expected.history
    return {"compliance": relative(h.objective, e.objective), "constraint": relative(h.constraints, e.constraints),
            "change": relative(h.change, e.change), "grey": relative(h.grey_level, e.grey_level),
            "design": relative(x, design.expand(expected.x)), "density": relative(density, design.density(expected.x)),
            "iterations": len(h)}


def refused(action):
    """The error every rank raises (class name and message), or None."""
    try:
        action()
    except (InputError, CheckpointError, OptimizationError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def main():
    out, work = sys.argv[1], Path(sys.argv[2])
    logging.basicConfig(level=logging.WARNING)
    kind = dict(fraction=FRACTION, radius=RADIUS, interpolation=SIMP, tol_change=0.0, verbose=False)
    results = {}

    # the whole mesh on every rank; the passive cells given as a mask and as ids of it
    whole = fo.mesh.box(size=SHAPE, shape=SHAPE)
    dp = DistributedProblem(cantilever(whole), solver="cg", rtol=1e-12)
    rank, layout = dp.comm.getRank(), CellLayout(dp)
    centroids = whole.cell_centroids()
    forms = dict(solid=solid(centroids), void=np.flatnonzero(void(centroids)))
    oc = minimize_compliance(dp, method=fopt.OC(move=0.2), max_iterations=OC_ITERATIONS, **forms, **kind)
    mma = minimize_compliance(dp, method=fopt.MMA(move=0.2), max_iterations=MMA_ITERATIONS, **forms, **kind)

    # compliance and gradient at a random design against the serial Compliance
    from femopt.distributed.topology import DistributedCompliance

    objective = DistributedCompliance(dp, radius=RADIUS, fraction=FRACTION, interpolation=SIMP, **forms)
    design = serial_design(whole)
    x = design.expand(np.random.default_rng(2).uniform(0.1, 1.0, design.n_design))
    c, dc, g, dg = objective(x[layout.own_cells])
    dc, dg = layout.gather(dc), layout.gather(dg)
    model = fd.CellScaledModel(cantilever(fo.mesh.box(size=SHAPE, shape=SHAPE)), "E")
    c_ref, dc_ref = fd.Compliance(model, design)(x[design.active])
    g_ref, dg_ref = fd.VolumeConstraint(design, FRACTION)(x[design.active])
    passive = design.passive != 0
    results["gradient"] = {"compliance": abs(c - c_ref) / abs(c_ref), "gradient": relative(dc[design.active], dc_ref),
                           "volume": abs(g - g_ref), "volume_gradient": relative(dg[design.active], dg_ref),
                           "passive_entries": float(np.abs(dc[passive]).max() + np.abs(dg[passive]).max()),
                           "counts": [int(objective.passive.counts[i]) for i in range(3)]}

    # refusals, on every rank alike (a rank-local error must not leave the other waiting)
    results["refusals"] = {
        "both": refused(lambda: minimize_compliance(dp, method="oc", max_iterations=1, solid=void, void=void, **kind)),
        "all": refused(lambda: minimize_compliance(dp, method="oc", max_iterations=1, solid=lambda c: c[:, 0] > 6,
                                                   void=lambda c: c[:, 0] < 6, **kind)),
        "one_rank": refused(lambda: minimize_compliance(dp, method="oc", max_iterations=1,
                                                        solid=np.zeros(3, bool) if rank == 1 else None, **kind)),
        "tag": refused(lambda: minimize_compliance(dp, method="oc", max_iterations=1, void="hole", **kind))}

    # the mesh in pieces; predicates (each rank applies them to its cells); MMA resumed
    pieces = box(size=SHAPE, shape=SHAPE)
    dq = DistributedProblem(cantilever(pieces), solver="cg", rtol=1e-12)
    q = CellLayout(dq)
    forms = dict(solid=solid, void=void)
    oc_p = minimize_compliance(dq, method=fopt.OC(move=0.2), max_iterations=OC_ITERATIONS, **forms, **kind)
    mma_p = minimize_compliance(dq, method=fopt.MMA(move=0.2), max_iterations=MMA_ITERATIONS, **forms, **kind)
    checkpoint = work / "passive.npz"
    first = minimize_compliance(dq, method=fopt.MMA(move=0.2), max_iterations=MMA_ITERATIONS - 1,
                                checkpoint=checkpoint, **forms, **kind)
    resumed = minimize_compliance(dq, method=fopt.MMA(move=0.2), max_iterations=MMA_ITERATIONS,
                                  checkpoint=checkpoint, resume=True, **forms, **kind)
    other = refused(lambda: minimize_compliance(dq, method=fopt.MMA(move=0.2), max_iterations=MMA_ITERATIONS,
                                                checkpoint=checkpoint, resume=True, solid=solid, **kind))
    gathered = {name: (q.gather(r.x), q.gather(r.density)) for name, r in (("oc", oc_p), ("mma", mma_p))}
    results["resume"] = {"first": first.iterations, "iterations": resumed.iterations, "this_run": len(resumed.timings),
                         "design": float(np.abs(resumed.x - mma_p.x).max()),
                         "compliance": float(np.abs(resumed.history.objective - mma_p.history.objective).max()),
                         "other_passive_refused": other}
    results["refusals_agree"] = int(round(layout.sum(float(results["refusals"]["one_rank"] is not None))))
    if rank != 0:
        return
    oc_ref = serial(fopt.OC(move=0.2), OC_ITERATIONS)
    mma_ref = serial(fopt.MMA(move=0.2), MMA_ITERATIONS)
    results["whole"] = {"oc": compare(oc.history, oc.x, oc.density, oc_ref),
                        "mma": compare(mma.history, mma.x, mma.density, mma_ref),
                        "volume_fraction": abs(oc.volume_fraction - oc_ref[1].volume_fraction(oc_ref[1].density(
                            oc_ref[0].x)))}
    results["pieces"] = {"oc": compare(oc_p.history, *gathered["oc"], oc_ref),
                         "mma": compare(mma_p.history, *gathered["mma"], mma_ref)}
    expected, design = oc_ref
    results["passive"] = {"x_solid": oc.x[design.passive == 1].tolist(), "x_void": oc.x[design.passive == -1].tolist(),
                          "rho_solid": oc.density[design.passive == 1].tolist(),
                          "rho_void": oc.density[design.passive == -1].tolist(),
                          "n_active": int(design.n_design)}
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
