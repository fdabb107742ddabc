"""Run under ``mpirun -n N`` by test_mpi.py (and serially by hand): each case is solved by
femopt's serial Problem.solve and by DistributedProblem on all ranks; rank 0 writes the
relative differences to the JSON file named by the first argument.

    mpirun -n 2 python tests/distributed/mpi_cases.py out.json [cg|direct ...] [-femopt_... PETSc options]
"""
import json
import sys

import numpy as np

import femopt as fo
from femopt.distributed import DistributedProblem
from femopt.mesh import box, rectangle
from femopt.physics import HeatConduction, LinearElasticity


def cantilever():
    """3D HEX8 cantilever: clamped at xmin, shear traction at xmax, gravity, and a
    per-cell Young's modulus (cut per rank like every cell field)."""
    mesh = box((4.0, 1.0, 1.0), (12, 3, 4))
    problem = fo.Problem(mesh, LinearElasticity(E=1.0, nu=0.3), linear_solver="direct")
    problem.fix("xmin").traction("xmax", [0.0, 0.0, -1e-3]).body_force([0.0, -1e-4, 0.0])
    centroids = mesh.cell_centroids()
    params = {"E": 1.0 + 0.5 * np.sin(centroids[:, 0])}
    return problem, params


def heat():
    """2D heat on quads: prescribed temperatures (one non-zero: lifted into the right-hand
    side), a flux, convection and a nodal heat source."""
    mesh = rectangle((2.0, 1.0), (17, 9))
    problem = fo.Problem(mesh, HeatConduction(k=2.0), linear_solver="direct")
    source = 1.0 + mesh.points[:, 0] * mesh.points[:, 1]
    problem.fix("xmin", 1.0).fix("ymin", 0.0).heat_flux("ymax", 0.5).convection("xmax", 3.0, 0.2)
    problem.heat_source(fo.nodal_field(source))
    return problem, {}


def main():
    out = sys.argv[1]
    solvers = [arg for arg in sys.argv[2:] if arg in ("cg", "direct")] or ["cg"]  # the rest: PETSc options
    results = {}
    for name, make in (("cantilever", cantilever), ("heat", heat)):
        problem, params = make()
        reference = problem.solve(params)
        for solver in solvers:
            dp = DistributedProblem(problem, solver=solver, rtol=1e-12)
            u = dp.solve(params)
            key = f"{name}/{solver}"
            results[key] = {
                "rel_diff": float(np.linalg.norm(u - reference) / np.linalg.norm(reference)),
                "iterations": int(dp.iterations),
                "ksp": dp.ksp.getType(), "pc": dp.ksp.getPC().getType(),
                "factor": dp.ksp.getPC().getFactorSolverType() if dp.ksp.getPC().getType() == "lu" else None,
                "ranks": dp.comm.getSize(), "owned_dofs": int(dp.n_owned_dofs),
            }
            results[key]["ownership_ranges"] = [int(r) for r in dp.matrix.getOwnershipRanges()]
    if dp.comm.getRank() == 0:
        with open(out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
