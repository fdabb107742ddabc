"""Geometric multigrid against smoothed-aggregation AMG as CG preconditioners, 3D elasticity.

A linear-elastic hex8 block of n_x x n_y x n_z unit cells (E = 1, ν = 0.3), fixed at
x = 0, a downward traction on x = n_x; the free–free stiffness comes from femopt's
:class:`~femopt.design.CellScaledModel` (the matrices topology optimization solves).
Two stiffness fields per size:

* ``uniform``: E = 1 in every cell;
* ``simp``: E = E_min + ρ³ (1 − E_min), E_min = 1e-9, random densities ρ uniform in
  [0.3, 1] (fixed seed), the shape of a SIMP iteration's matrix.

Each is solved to ``||A u − f|| <= 1e-8 ||f||`` by CG with

* ``amg``: pyamg's ``smoothed_aggregation_solver`` told the six rigid-body modes, one
  V-cycle per CG iteration (femopt's ``CGSolver("amg", near_nullspace=...)``);
* ``gmg``: :class:`~femopt.solvers.multigrid.GeometricMultigrid` (Galerkin coarse levels
  on the lattice, Chebyshev smoothing, direct coarsest level).

Columns: set-up (building the preconditioner: ``factorize``), CG iterations, CG time,
total; each the minimum over ``--repeat`` runs (the machine may be shared), and the
relative difference between the two solutions.

Run:  python -m femopt.benchmarks.multigrid [--shape 40 40 40] [--repeat 3] [--json FILE]
      femopt bench multigrid --quick                   (12^3 cells, one run)
      (default shapes 20^3, 30^3, 40^3: 26k, 86k, 202k free dofs)

On a machine shared with other jobs, set ``OPENBLAS_NUM_THREADS=1`` before starting:
SciPy's CG spends its time in short BLAS dot products, and OpenBLAS threads waiting for
busy cores made the CG phase of both methods ~5x slower (0.7 s instead of 0.09 s for
GMG at 20^3 on 2 loaded cores).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

__all__ = ["run_multigrid_benchmark", "main"]

#: SIMP stiffness of the ``simp`` case: E_min + ρ^p (1 − E_min), ρ ~ U[0.3, 1].
SIMP_PENALTY, SIMP_MIN, DENSITY_RANGE = 3.0, 1e-9, (0.3, 1.0)


def _model(shape):
    import femopt as fo
    from femopt import design as fd

    mesh = fo.mesh.box(size=shape, shape=shape, cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.0, -1.0])
    return problem, fd.CellScaledModel(problem, "E", linear_solver="direct", check=False)


def _stiffness_fields(n_cells):
    density = np.random.default_rng(0).uniform(*DENSITY_RANGE, n_cells)
    return {"uniform": np.ones(n_cells),
            "simp": SIMP_MIN + density ** SIMP_PENALTY * (1.0 - SIMP_MIN)}


def _solvers(problem, rtol):
    from femopt.fem.nullspace import rigid_body_modes
    from femopt.solvers.linear import CGSolver
    from femopt.solvers.multigrid import gmg_solver

    modes = rigid_body_modes(problem.mesh.points, 3)[problem.partition.free]
    return {"amg": CGSolver("amg", rtol=rtol, near_nullspace=modes),
            "gmg": gmg_solver(problem, rtol=rtol)}


def _time_solver(solver, K, f, repeat):
    best = {"setup_s": np.inf, "cg_s": np.inf}
    for _ in range(repeat):
        t0 = time.perf_counter()
        factorization = solver.factorize(K)
        t1 = time.perf_counter()
        u = factorization.solve(f)
        t2 = time.perf_counter()
        best["setup_s"] = min(best["setup_s"], t1 - t0)
        best["cg_s"] = min(best["cg_s"], t2 - t1)
    best["iterations"] = int(factorization.last_iterations[0])
    best["total_s"] = best["setup_s"] + best["cg_s"]
    return best, u


def run_multigrid_benchmark(shapes, *, repeat=3, rtol=1e-8, cases=("uniform", "simp")):
    """Time AMG and GMG preconditioned CG; returns one dict per (shape, case, method)."""
    rows = []
    for shape in shapes:
        t0 = time.perf_counter()
        problem, model = _model(tuple(shape))
        build = time.perf_counter() - t0
        solvers = _solvers(problem, rtol)
        fields = _stiffness_fields(problem.mesh.n_cells)
        for case in cases:
            K, f = model.stiffness(fields[case]), model.force
            solutions = {}
            for method, solver in solvers.items():
                best, solutions[method] = _time_solver(solver, K, f, repeat)
                levels = getattr(solver.preconditioner, "level_dofs", None)
                rows.append({"shape": list(shape), "dofs": int(K.shape[0]), "case": case, "method": method,
                             "levels": levels, "model_build_s": build, **best})
            u_amg, u_gmg = solutions["amg"], solutions["gmg"]
            difference = float(np.linalg.norm(u_gmg - u_amg) / np.linalg.norm(u_amg))
            for row in rows[-2:]:
                row["difference"] = difference
    return rows


def format_table(rows) -> str:
    header = (f"{'shape':>12s} {'free dofs':>10s} {'case':>8s} {'method':>6s} {'set-up s':>9s} "
              f"{'CG its':>7s} {'CG s':>8s} {'total s':>8s} {'|du|/|u|':>9s}  levels (free dofs)")
    lines = [header, "-" * len(header)]
    for r in rows:
        shape = "x".join(str(n) for n in r["shape"])
        levels = "" if r["levels"] is None else " > ".join(str(n) for n in r["levels"])
        lines.append(f"{shape:>12s} {r['dofs']:>10d} {r['case']:>8s} {r['method']:>6s} "
                     f"{r['setup_s']:9.3f} {r['iterations']:7d} {r['cg_s']:8.3f} {r['total_s']:8.3f} "
                     f"{r['difference']:9.1e}  {levels}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="femopt bench multigrid", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", type=int, nargs=3, action="append", metavar=("NX", "NY", "NZ"),
                        help="cells per axis (repeat the option for several sizes)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the minimum is kept")
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--case", nargs="+", default=["uniform", "simp"], choices=["uniform", "simp"])
    parser.add_argument("--quick", action="store_true", help="one 12^3 block, one run")
    parser.add_argument("--json", help="write the rows to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.shape, args.repeat = args.shape or [(12, 12, 12)], 1
    shapes = args.shape or [(20, 20, 20), (30, 30, 30), (40, 40, 40)]
    rows = run_multigrid_benchmark(shapes, repeat=args.repeat, rtol=args.rtol, cases=tuple(args.case))
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
