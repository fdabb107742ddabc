"""Distributed solve on 1 and N MPI ranks against femopt's serial solve: a linear-elastic
HEX8 cantilever (fixed at x = 0, traction at x = L) of ≈ 215k dofs by default.

For each rank count, ``mpirun -n N python -m femopt.benchmarks.distributed --worker``
builds the serial Problem on every rank (or each rank's piece of it) and solves it with
:class:`~femopt.distributed.DistributedProblem` (CG + GAMG with rigid-body modes, KSP
rtol 1e-8) twice: the first solve includes JAX's compile and PETSc's first set-up; the
second is reported by phase:

* partition:  bisection, ownership, numbering, local mesh (once per problem);
* assembly:   femopt's kernels on the rank's cells, then the insertion into the PETSc
              matrix (preallocated once) and the ghosted right-hand side;
* setup:      KSP / GAMG set-up (the coarse hierarchy);
* solve:      the CG iterations;
* memory:     peak resident memory per rank (``getrusage`` maxrss, MB): with
              ``--mesh replicated`` every rank holds the whole mesh and serial Problem,
              with ``--mesh pieces`` only its piece (``femopt.distributed.box``).

Femopt's own serial ``Problem.solve()`` (``linear_solver="auto"``) of the same problem
runs in a subprocess for its own peak memory; every distributed solution is compared
with it (relative l2 difference). The ranks share the machine's cores with JAX's threads:
on a 2-core machine 2 ranks cannot show a speed-up of the kernels.

Run:  python -m femopt.benchmarks.distributed [--shape 60 30 37] [--ranks 1 2]
      [--mesh replicated pieces] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

__all__ = ["cantilever", "run_distributed_benchmark", "main"]


def cantilever(shape, pieces: bool = False):
    """The benchmark problem on a box of ``shape`` hex8 cells with unit cell size: the
    whole mesh, or this rank's piece of it (``pieces=True``: ``femopt.distributed.box``)."""
    import femopt as fo
    from femopt.distributed import box as piece_box
    from femopt.mesh import box
    from femopt.physics import LinearElasticity

    make = piece_box if pieces else box
    mesh = make(tuple(float(n) for n in shape), tuple(int(n) for n in shape))
    problem = fo.Problem(mesh, LinearElasticity(E=1000.0, nu=0.3))
    problem.fix("xmin").traction("xmax", [0.0, 0.0, -1.0])
    return problem


def maxrss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _worker(shape, out, rtol, pieces=False):
    """One rank of a distributed run: writes ``out.rank<r>.json`` (and the solution, rank 0)."""
    from femopt.distributed import DistributedProblem

    start = time.perf_counter()
    problem = cantilever(shape, pieces)
    build = time.perf_counter() - start
    dp = DistributedProblem(problem, solver="cg", rtol=rtol)
    start = time.perf_counter()
    dp.solve(gather="none")
    first = time.perf_counter() - start
    start = time.perf_counter()
    u = dp.solve(gather="root")
    second = time.perf_counter() - start
    rank = dp.comm.getRank()
    record = {"rank": rank, "ranks": dp.comm.getSize(), "mesh": "pieces" if pieces else "replicated",
              "dofs": int(dp.n_dofs), "owned_dofs": int(dp.n_owned_dofs),
              "cells": int(dp.piece.cells.size), "ghost_nodes": int(dp.piece.ghost_nodes.size),
              "build_problem_s": build, "first_solve_s": first, "solve_s": second,
              "iterations": int(dp.iterations), "timings": dp.timings, "maxrss_mb": maxrss_mb()}
    with open(f"{out}.rank{rank}.json", "w") as f:
        json.dump(record, f)
    if rank == 0:
        np.save(f"{out}.u.npy", np.asarray(u))


def _serial(shape, out):
    """femopt's serial default solve, timed; the solution to ``out.u.npy``."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    problem = cantilever(shape)
    start = time.perf_counter()
    u = problem.solve()
    first = time.perf_counter() - start
    problem.state = None                                  # a second solve from scratch (compiled)
    start = time.perf_counter()
    u = problem.solve()
    second = time.perf_counter() - start
    solver = problem.bound_linear_solver()
    with open(f"{out}.serial.json", "w") as f:
        json.dump({"first_solve_s": first, "solve_s": second, "maxrss_mb": maxrss_mb(),
                   "solver": repr(solver)[:120]}, f)
    np.save(f"{out}.serial.u.npy", np.asarray(u))


def rank_records(module: str, n: int, out: str, arguments, timeout) -> list:
    """Run ``python -m module --worker out *arguments`` on ``n`` MPI ranks from the
    repository root; every rank's JSON record (files ``out.rank<r>.json``)."""
    from femopt.distributed.launch import run_mpi

    here = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    process = run_mpi(n, ["-m", module, "--worker", out, *arguments], timeout=timeout, cwd=here)
    if process.returncode != 0:
        raise RuntimeError(f"mpirun -n {n} failed:\n{process.stderr[-3000:]}")
    per_rank = []
    for r in range(n):
        with open(f"{out}.rank{r}.json") as f:
            per_rank.append(json.load(f))
    return per_rank


def print_report(report, module: str, argv, json_path) -> None:
    """The command line and the table on stdout (the CLI's output), the records as JSON."""
    if json_path:
        with open(json_path, "w") as f:
            json.dump(report["records"], f, indent=1)
    print(f"command: python -m {module} " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(report["table"])


def run_distributed_benchmark(shape=(60, 30, 37), ranks=(1, 2), rtol=1e-8, timeout=1800,
                              meshes=("replicated", "pieces")):
    """Run the serial and distributed solves (every rank holding the whole mesh, and/or
    each rank building only its piece); returns a dict with ``records`` and ``table``."""
    here = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    records = {}
    with tempfile.TemporaryDirectory() as tmp:
        serial_out = os.path.join(tmp, "run")
        subprocess.run([sys.executable, "-m", "femopt.benchmarks.distributed", "--serial-worker", serial_out,
                        "--shape", *map(str, shape)], check=True, timeout=timeout, cwd=here)
        with open(f"{serial_out}.serial.json") as f:
            records["serial"] = json.load(f)
        reference = np.load(f"{serial_out}.serial.u.npy")
        for mesh in meshes:
            for n in ranks:
                out = os.path.join(tmp, f"mpi{n}{mesh}")
                per_rank = rank_records("femopt.benchmarks.distributed", n, out,
                                        ["--rtol", str(rtol), "--shape", *map(str, shape), "--mesh", mesh], timeout)
                u = np.load(f"{out}.u.npy")
                rel = float(np.linalg.norm(u - reference) / np.linalg.norm(reference))
                records[f"{n} ranks, {mesh}"] = {"per_rank": per_rank, "rel_diff_to_serial": rel}
    return {"records": records, "table": _table(records, shape)}


def _table(records, shape):
    serial = records["serial"]
    lines = [f"linear elasticity, hex8 box {shape[0]}x{shape[1]}x{shape[2]} cells",
             "| run | dofs/rank | partition s | assembly s (kernels + insert) | setup s | solve s | its | "
             "first solve s | solve total s | max RSS MB/rank | rel. diff |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, record in records.items():
        if name == "serial":
            continue
        ranks = record["per_rank"]
        t = [r["timings"] for r in ranks]
        worst = lambda key: max(x[key] for x in t)  # noqa: E731 (the slowest rank sets the pace)
        memory = "/".join(f"{r['maxrss_mb']:.0f}" for r in ranks)
        lines.append(f"| {name} | {'/'.join(str(r['owned_dofs']) for r in ranks)} | {worst('partition'):.2f} | "
                     f"{worst('assembly_kernels') + worst('assembly_insert'):.2f} ({worst('assembly_kernels'):.2f} + "
                     f"{worst('assembly_insert'):.2f}) | {worst('solver_setup'):.2f} | {worst('solve'):.2f} | "
                     f"{ranks[0]['iterations']} | {max(r['first_solve_s'] for r in ranks):.2f} | "
                     f"{max(r['solve_s'] for r in ranks):.2f} | "
                     f"{memory} | {record['rel_diff_to_serial']:.1e} |")
    lines.append(f"| femopt serial ({serial['solver']}) | all | | | | | | {serial['first_solve_s']:.2f} | "
                 f"{serial['solve_s']:.2f} | {serial['maxrss_mb']:.0f} | reference |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m femopt.benchmarks.distributed", description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[60, 30, 37])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--mesh", nargs="+", choices=("replicated", "pieces"), default=["replicated", "pieces"],
                        help="every rank holds the whole mesh, or builds only its piece (femopt.distributed.box)")
    parser.add_argument("--json", help="write the records to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--serial-worker", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)          # unknown "-..." options are PETSc's
    if args.worker:
        return _worker(args.shape, args.worker, args.rtol, pieces=args.mesh == ["pieces"])
    if args.serial_worker:
        return _serial(args.shape, args.serial_worker)
    report = run_distributed_benchmark(tuple(args.shape), tuple(args.ranks), args.rtol, meshes=tuple(args.mesh))
    print_report(report, "femopt.benchmarks.distributed", argv, args.json)


if __name__ == "__main__":
    main()
