"""Seconds per topology-optimization iteration on 1 and N MPI ranks against femopt's
serial loop: the HEX8 cantilever of ``femopt bench topopt`` (clamped at x = 0, unit
loads along the bottom edge of the free end, volume fraction 0.3, filter radius 1.5,
SIMP p = 3, OC move 0.2).

``mpirun -n N python -m femopt.benchmarks.distributed_topopt --worker ...`` runs
:func:`femopt.distributed.minimize_compliance` (CG + GAMG, KSP rtol 1e-8) for
``--iterations`` iterations; each iteration is split into

* solve:    the DistributedProblem solve (assembly with femopt's kernels, GAMG set-up, CG);
* gradient: u_eᵀ K_e u_e of the own cells and the compliance sum;
* filter:   the parallel filter products W x and Wᵀ ρ̄;
* update:   the OC step with its bisection (a global sum per step);

medians over the iterations after the first (JAX compile, first GAMG set-up), the
slowest rank's; plus KSP iterations and the peak memory of each rank. femopt's serial
loop (:func:`femopt.benchmarks.topopt.femopt_loop`: CellScaledModel, AMG-CG) runs in a
subprocess of its own for its memory. The compliances of the runs are compared.

Run:  python -m femopt.benchmarks.distributed_topopt [--shape 60 30 30] [--ranks 1 2]
      [--iterations 5] [--mesh replicated pieces] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from .distributed import maxrss_mb, print_report, rank_records

__all__ = ["run_benchmark", "main"]

PHASES = ("solve", "gradient", "filter", "update", "total")


def cantilever(shape, pieces: bool = False):
    """The block of unit HEX8 cells clamped at x = 0 with unit downward loads along the
    bottom edge of the free end (``femopt bench topopt``'s cantilever), not solved yet:
    the whole mesh, or this rank's piece of it (``pieces=True``: ``femopt.distributed.box``)."""
    import femopt as fo
    from femopt.distributed import box as piece_box

    nx = shape[0]
    mesh = (piece_box if pieces else fo.mesh.box)(size=shape, shape=shape, cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    problem.fix("xmin")
    problem.point_load(lambda x: np.isclose(x[:, 0], nx) & np.isclose(x[:, 2], 0.0), [0.0, 0.0, -1.0])
    return problem


def _worker(shape, iterations, out, pieces=False):
    from femopt import design as fd
    from femopt.distributed import DistributedProblem, minimize_compliance
    from femopt.optimize import OC

    dp = DistributedProblem(cantilever(shape, pieces), solver="cg", rtol=1e-8)
    result = minimize_compliance(dp, fraction=0.3, radius=1.5, interpolation=fd.SIMP(3.0, 1.0, 1e-9),
                                 method=OC(move=0.2), max_iterations=iterations, tol_change=0.0, verbose=False)
    rank = dp.comm.getRank()
    rss = maxrss_mb()
    with open(f"{out}.rank{rank}.json", "w") as f:
        json.dump({"rank": rank, "ranks": result.ranks, "maxrss_mb": rss, "timings": result.timings,
                   "compliance": list(result.history.objective), "cells": int(dp.piece.cells.size),
                   "dofs": int(dp.n_dofs)}, f)


def _serial(shape, iterations, out):
    from femopt.benchmarks.topopt import femopt_loop

    times, compliances, setup = femopt_loop("cantilever3d", tuple(shape), iterations)
    with open(out, "w") as f:
        json.dump({"timings": times, "compliance": compliances, "setup_s": setup, "maxrss_mb": maxrss_mb()}, f)


def _median(rows, key):
    rows = rows[1:] if len(rows) > 1 else rows
    return float(np.median([r.get(key, 0.0) for r in rows]))


def run_benchmark(shape=(60, 30, 30), ranks=(1, 2), iterations=5, timeout=3600, meshes=("replicated", "pieces")):
    """Run the serial loop and the distributed runs (whole mesh on every rank and/or
    pieces); returns ``{"records", "table"}``."""
    here = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    module = "femopt.benchmarks.distributed_topopt"
    records = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "serial.json")
        subprocess.run([sys.executable, "-m", module, "--serial-worker", out, "--iterations", str(iterations),
                        "--shape", *map(str, shape)], check=True, timeout=timeout, cwd=here)
        with open(out) as f:
            records["serial"] = json.load(f)
        for mesh in meshes:
            for n in ranks:
                out = os.path.join(tmp, f"mpi{n}{mesh}")
                records[f"{n} ranks, {mesh}"] = rank_records(module, n, out, [
                    "--iterations", str(iterations), "--shape", *map(str, shape), "--mesh", mesh], timeout)
    return {"records": records, "table": _table(records, shape, iterations)}


def _table(records, shape, iterations):
    serial = records["serial"]
    reference = np.array(serial["compliance"])
    lines = [f"compliance topology optimization, hex8 cantilever {shape[0]}x{shape[1]}x{shape[2]}, {iterations} "
             "OC iterations (medians over iterations 2.., seconds, the slowest rank's)",
             "| run | solve | gradient | filter | update | total | KSP its | max RSS MB/rank | compliance rel. diff |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, per_rank in records.items():
        if name == "serial":
            continue
        rows = per_rank[0]["timings"]                 # per-iteration figures are already the ranks' maxima
        diff = float(np.max(np.abs(np.array(per_rank[0]["compliance"]) - reference) / reference))
        lines.append(f"| {name} | " + " | ".join(f"{_median(rows, k):.3f}" for k in PHASES)
                     + f" | {int(_median(rows, 'ksp_iterations'))} | "
                     + "/".join(f"{r['maxrss_mb']:.0f}" for r in per_rank) + f" | {diff:.1e} |")
    rows = serial["timings"]
    solve = [dict(r, solve=r["assembly"] + r["solve"], gradient=r["sensitivity"]) for r in rows]
    lines.append("| femopt serial (CellScaledModel, AMG-CG) | " + " | ".join(f"{_median(solve, k):.3f}" for k in PHASES)
                 + f" | | {serial['maxrss_mb']:.0f} | reference |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m femopt.benchmarks.distributed_topopt",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[60, 30, 30])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--mesh", nargs="+", choices=("replicated", "pieces"), default=["replicated", "pieces"],
                        help="every rank holds the whole mesh, or builds only its piece (femopt.distributed.box)")
    parser.add_argument("--json", help="write the records to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--serial-worker", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)           # unknown "-..." options are PETSc's
    if args.worker:
        return _worker(tuple(args.shape), args.iterations, args.worker, pieces=args.mesh == ["pieces"])
    if args.serial_worker:
        return _serial(tuple(args.shape), args.iterations, args.serial_worker)
    report = run_benchmark(tuple(args.shape), tuple(args.ranks), args.iterations, meshes=tuple(args.mesh))
    print_report(report, "femopt.benchmarks.distributed_topopt", argv, args.json)


if __name__ == "__main__":
    main()
