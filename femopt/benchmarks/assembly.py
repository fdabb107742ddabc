"""Assembly speed: neo-Hookean HEX8 residual + tangent on n×n×n boxes, against the naive
formulation, and a linear-elastic solve at about 200k dofs.

For each n (default 20, 40, 60), in a fresh subprocess (so that its peak memory is its
own), with a random small displacement field on a box of hex8 cells:

* setup:    sparsity pattern and scatter plans (once per mesh);
* compile:  first ``residual_and_tangent`` minus a steady one (JIT of the chunk kernels);
* kernel:   the chunk kernels alone (residual + tangent of all cells, chunk by chunk);
* scatter:  adding the chunks into the residual and the CSR data;
* total:    a steady ``residual_and_tangent`` (kernels and scatter overlap: JAX
            dispatches the next chunk while NumPy scatters the last); M el/s = cells / total;
* naive:    ``jit(vmap(jacfwd(element_residual)))`` over all cells at once plus one
            ``np.bincount`` into CSR (the formulation femopt started from), its compile
            excluded; measured in the same run, ratio = naive / total. Where the naive
            temporaries would not fit in memory it runs on a subset of cells and its time
            is scaled up by cells (labelled "extrapolated");
* memory:   peak resident memory while assembling, over the resident memory before (the
            kernel's ``VmHWM`` from ``/proc/self/status``, reset through
            ``/proc/self/clear_refs``; it includes XLA's buffers), next to the CSR matrix
            size and the size of all element matrices at once.

Then ``femopt.Problem`` solves linear elasticity on a hex8 box with ≈ ``solve_dofs``
unknowns (fixed at x = 0, traction at x = 1); at that size a direct 3D factorization
fills in too much, so the solve uses ``linear_solver="cg"`` (AMG-preconditioned CG when
pyamg is installed, Jacobi otherwise — the table says which).

Run:  python -m femopt.benchmarks.assembly [--sizes 20 40 60] [--quick] [--json FILE]
      femopt bench assembly --quick
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from .timing import best_seconds

__all__ = ["run_assembly_benchmark", "main"]

#: fraction of the available memory the naive formulation may take before it runs on a subset
_NAIVE_MEMORY_FRACTION = 0.5


def _memory_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak():
    """Reset VmHWM to the current RSS (Linux ≥ 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _available_bytes():
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def _setup(n, seed=0):
    from ..assembly.assembler import Assembler, CellTerm
    from ..fem.space import FunctionSpace
    from ..mesh import box
    from ..physics import NeoHookean

    mesh = box(size=(1.0, 1.0, 1.0), shape=(n, n, n), cell="hex8")
    space = FunctionSpace(mesh, 3)
    law = NeoHookean(mu=1.0, lmbda=2.0)
    u = np.random.default_rng(seed).normal(0.0, 0.02 / n, space.n_dofs)
    params = ({k: np.float64(v) for k, v in law.parameters.items()}, {}, {})
    return space, law, u, params, Assembler(space, [CellTerm(law)])


def _naive(space, law, u, params, pattern, cells):
    """Seconds of jit(vmap(jacfwd(element_residual))) on ``cells`` + one bincount, and
    the compile time; the element residual is femopt's one-cell kernel."""
    from functools import partial

    import jax

    from ..assembly.kernels import PointLaw, cell_residual, cell_tables

    tables = cell_tables(space.element, space.quadrature)
    residual = partial(cell_residual, PointLaw(law, 3), tables)
    fn = jax.jit(jax.vmap(jax.jacfwd(residual), in_axes=(0, 0, None, None, None)))
    mesh = space.mesh
    nodes = mesh.cells[cells]
    U = np.asarray(u).reshape(-1, 3)[nodes]
    X = mesh.points[nodes]
    pg = params[0]
    start = time.perf_counter()
    jax.block_until_ready(fn(U, X, pg, {}, {}))
    first = time.perf_counter() - start
    slots = pattern.entity_slots(cells, np.stack(np.meshgrid(np.arange(8), np.arange(8), indexing="ij"), -1).reshape(-1, 2))

    def run():
        K = np.asarray(fn(U, X, pg, {}, {}))                              # (m, n, c, n, c)
        K = K.transpose(0, 2, 4, 1, 3)                                    # slots' layout
        return np.bincount(slots.ravel(), weights=K.ravel(), minlength=pattern.nnz)

    steady = best_seconds(run, 2)
    return steady, max(first - steady, 0.0)


def measure_size(n, repeat=3, naive=True):
    """Figures for one box size (call in a fresh process for a clean peak memory)."""
    space, law, u, params, assembler = _setup(n)
    n_cells = space.mesh.n_cells
    start = time.perf_counter()
    pattern = assembler.pattern
    block = assembler.blocks[0]
    _, rows = assembler._kernel(block, params, tangent=True)
    assembler._plans(block, rows, tangent=True)
    if assembler._symmetric(block):
        pattern.mirror  # noqa: B018  (built on first use; part of the once-per-mesh setup)
    setup = time.perf_counter() - start

    start = time.perf_counter()
    assembler.residual_and_tangent(u, params)
    first = time.perf_counter() - start
    baseline = _memory_kib("VmRSS")
    peak_ok = _reset_peak()
    cpu = time.process_time()
    total = best_seconds(lambda: assembler.residual_and_tangent(u, params), repeat)
    cpu = (time.process_time() - cpu) / repeat
    peak = (_memory_kib("VmHWM") - baseline) * 1024 if peak_ok else None

    def kernels_only():
        for _ in assembler._run(block, np.asarray(u).reshape(-1, 3), params, tangent=True):
            pass

    kernel = best_seconds(kernels_only, repeat)

    def timed_scatter():
        r, data, spent = np.zeros(space.n_dofs), np.zeros(pattern.nnz), 0.0
        for plan, r_e, K_e in assembler._run(block, np.asarray(u).reshape(-1, 3), params, tangent=True):
            t = time.perf_counter()
            plan.dofs.add_to(r, r_e.ravel())
            plan.slots.add_to(data, K_e.ravel())
            spent += time.perf_counter() - t
        return spent

    scatter = min(timed_scatter() for _ in range(repeat))
    nd = 24
    row = {"n": n, "cells": n_cells, "dofs": space.n_dofs, "nnz": pattern.nnz, "setup_s": setup,
           "compile_s": max(first - total, 0.0), "kernel_s": kernel, "scatter_s": scatter,
           "total_s": total, "Mel_per_s": n_cells / total / 1e6, "cpu_s": cpu, "peak_bytes": peak,
           "load_average": os.getloadavg()[0],
           "matrix_bytes": pattern.nnz * (8 + pattern.indices.itemsize) + pattern.indptr.nbytes,
           "all_element_matrices_bytes": n_cells * nd * nd * 8}
    if naive:
        # jacfwd keeps ~ (local dofs) tangent copies of every per-point temporary
        need = n_cells * nd * nd * 8 * 12
        budget = _NAIVE_MEMORY_FRACTION * _available_bytes()
        cells = np.arange(n_cells) if need <= budget else np.arange(int(n_cells * budget / need))
        steady, compile_s = _naive(space, law, u, params, pattern, cells)
        row.update(naive_cells=len(cells), naive_s=steady * n_cells / len(cells),
                   naive_extrapolated=len(cells) < n_cells, naive_compile_s=compile_s)
        row["ratio"] = row["naive_s"] / total
    return row


def measure_solve(target_dofs, solver="cg"):
    """Linear elasticity through femopt.Problem on a hex8 box of ≈ target_dofs unknowns:
    seconds of the solve (one Newton step: assembly, preconditioner or factorization,
    linear solve) after a warm-up that compiles the kernels, and of one assembly."""
    from .. import mesh as meshes
    from ..physics import LinearElasticity
    from ..problem import Problem
    from ..solvers.newton import NewtonOptions

    def problem_on(n):
        mesh = meshes.box(size=(1.0, 1.0, 1.0), shape=(n, n, n), cell="hex8")
        # linear: one factorization; Newton's refactorization at the solution would repeat it
        problem = Problem(mesh, LinearElasticity(E=1.0, nu=0.3), linear_solver=solver,
                          newton=NewtonOptions(refactor_at_solution=False))
        return problem.fix("xmin").traction("xmax", [0.0, 0.0, -1e-3])

    n = max(2, int(round((target_dofs / 3) ** (1 / 3))) - 1)
    problem = problem_on(n)
    size = problem.assembler.chunk_size(problem.assembler.blocks[0])
    problem_on(max(2, int(np.ceil(size ** (1 / 3))))).solve()   # compiles the same chunk kernels
    start = time.perf_counter()
    problem.solve()
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    problem.residual_and_tangent(np.zeros(problem.space.n_dofs))
    assembly = time.perf_counter() - start
    state = problem.state
    fact = None if state is None else (state.factorization or state.newton[-1].factorization)
    return {"n": n, "dofs": problem.space.n_dofs, "solver": getattr(fact, "solver_name", solver),
            "iterations": getattr(fact, "last_iterations", None), "solve_s": seconds,
            "assembly_s": assembly}


def _subprocess(args):
    out = subprocess.run([sys.executable, "-m", "femopt.benchmarks.assembly", "--worker", *args],
                         capture_output=True, text=True, check=False, env=dict(os.environ))
    if out.returncode != 0:
        raise RuntimeError(f"benchmark worker {args} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_assembly_benchmark(sizes=(20, 40, 60), solve_dofs=200_000, out=None, *, repeat=3,
                           naive=True, solver="cg"):
    """Measure every size (each in its own process) and the solve; returns a dict with
    ``rows`` (one per size), ``solve`` and ``table`` (the printed table). ``out``: a path
    to write the dict to as JSON."""
    rows = [_subprocess(["size", str(n), str(repeat), "1" if naive else "0"]) for n in sizes]
    solve = _subprocess(["solve", str(solve_dofs), solver]) if solve_dofs else None
    report = {"rows": rows, "solve": solve, "memory": "peak RSS over baseline (VmHWM, includes XLA buffers)",
              "cpu_count": os.cpu_count()}
    report["table"] = format_table(report)
    if out:
        with open(out, "w") as f:
            json.dump(report, f, indent=2)
    return report


def format_table(report):
    head = (f"{'n':>4} {'cells':>8} {'dofs':>8} {'setup s':>8} {'compile s':>9} {'kernel s':>8} "
            f"{'scatter s':>9} {'total s':>8} {'M el/s':>7} {'cpu s':>6} {'naive s':>9} {'ratio':>6} "
            f"{'peak MB':>8} {'CSR MB':>7} {'all K_e MB':>10} {'load':>5}")
    lines = ["neo-Hookean HEX8 residual + tangent + CSR scatter, float64", head]
    for r in report["rows"]:
        naive = "" if "naive_s" not in r else f"{r['naive_s']:8.2f}" + ("*" if r["naive_extrapolated"] else " ")
        ratio = f"{r['ratio']:6.1f}" if "ratio" in r else ""
        peak = f"{r['peak_bytes'] / 2**20:8.0f}" if r["peak_bytes"] is not None else "     n/a"
        lines.append(f"{r['n']:>4} {r['cells']:>8} {r['dofs']:>8} {r['setup_s']:8.2f} {r['compile_s']:9.2f} "
                     f"{r['kernel_s']:8.3f} {r['scatter_s']:9.3f} {r['total_s']:8.3f} {r['Mel_per_s']:7.3f} "
                     f"{r['cpu_s']:6.2f} {naive:>9} {ratio:>6} {peak} {r['matrix_bytes'] / 2**20:7.0f} "
                     f"{r['all_element_matrices_bytes'] / 2**20:10.0f} {r['load_average']:5.1f}")
    if any(r.get("naive_extrapolated") for r in report["rows"]):
        lines.append("* naive on a subset of cells (its temporaries for all cells would not fit in "
                     "memory), time scaled up by cells")
    lines.append(f"peak MB: {report['memory']}; kernel and scatter overlap inside 'total'; "
                 f"cpu s: process CPU time of one assembly (all threads); load: 1-min load average "
                 f"of the machine ({report['cpu_count']} CPUs) — other processes slow 'total' down")
    s = report.get("solve")
    if s:
        its = f", {s['iterations'][0]} CG iterations" if s.get("iterations") else ""
        lines.append(f"linear elasticity through femopt.Problem, hex8 {s['n']}^3, {s['dofs']} dofs, "
                     f"linear_solver={s['solver']}{its}: solve {s['solve_s']:.2f} s "
                     f"(of which one assembly {s['assembly_s']:.2f} s)")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        kind, *args = argv[1:]
        from .._config import configure_jax

        configure_jax()
        if kind == "size":
            result = measure_size(int(args[0]), repeat=int(args[1]), naive=args[2] == "1")
        else:
            result = measure_solve(int(args[0]), solver=args[1])
        print(json.dumps(result))
        return 0
    parser = argparse.ArgumentParser(prog="femopt bench assembly", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 40, 60], help="box sizes n (n³ cells)")
    parser.add_argument("--solve-dofs", type=int, default=200_000, help="unknowns of the solve (0: skip)")
    parser.add_argument("--solver", default="cg", choices=("cg", "direct", "auto"))
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive reference")
    parser.add_argument("--quick", action="store_true", help="sizes 10 20, solve at 20k dofs")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    sizes, solve_dofs = ((10, 20), 20_000) if args.quick else (args.sizes, args.solve_dofs)
    report = run_assembly_benchmark(sizes, solve_dofs, args.json, repeat=args.repeat,
                                    naive=not args.no_naive, solver=args.solver)
    print("command: python -m femopt.benchmarks.assembly " + " ".join(argv))
    print(report["table"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
