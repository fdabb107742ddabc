"""Gradient cost against the number of design variables.

A 3D cantilever (hex8, ≥ 100k dofs by default) with a SIMP stiffness field
E = E_min + ρ³ (E_0 − E_min): the compliance gradient with respect to 10, 1 000 and all
cell densities. A design of n variables sets the densities of n equal groups of cells
(n = all: one per cell). For each n it times

* forward:  ``Problem.solve`` at a new design (assembly + factorization + residual check);
* adjoint:  ``sensitivity.gradient(compliance, wrt="E")`` at that design (one transposed
  solve with the kept factorization + the functional's partials + element VJPs) plus the
  chain rule to the n densities — best of ``--repeat``;
* jax:      the same objective written with ``sensitivity.solve`` under ``jax.vjp``: the
  first forward pass (a solve, plus tracing the user code) and the backward pass (the
  adjoint; best of ``--repeat`` after a first call), its ratio taken to the forward solve;
* direct (n ≤ 10): one tangent solve per design variable
  (``directional_derivative``), for comparison.

A first solve and a first gradient compile every kernel (their times are reported
separately). Target: gradient ≤ 0.5 × forward, flat in n.

Run:  python -m femopt.benchmarks.gradient [--shape 50 25 25] [--solver direct]
      femopt bench gradient --quick
"""
from __future__ import annotations

import argparse
import json
import logging
import time

import jax
import jax.numpy as jnp
import numpy as np

from .. import mesh as meshes
from ..functionals import compliance
from ..physics import LinearElasticity
from ..problem import Problem
from ..sensitivity import directional_derivative, gradient, solve

__all__ = ["main", "run"]

_log = logging.getLogger("femopt.benchmarks")

E0, E_MIN, PENALTY = 1.0, 1e-3, 3.0


def _problem(shape, solver):
    size = (2.0, 1.0, 1.0)
    mesh = meshes.box(size=size, shape=shape, cell="hex8")
    problem = Problem(mesh, LinearElasticity(E=E0, nu=0.3), linear_solver=solver)
    problem.fix("xmin").traction("xmax", [0.0, 0.0, -1e-3], name="load")
    return problem


def _groups(n_cells, n):
    """Cell → design variable: n contiguous groups of cell ids."""
    return (np.arange(n_cells) * n) // n_cells


def _stiffness(rho):
    return E_MIN + rho**PENALTY * (E0 - E_MIN)


def _best(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def run(shape=(50, 25, 25), counts=(10, 1000, None), solver="direct", repeat=3, jax_path=True,
        direct=True, seed=0):
    """Measure; returns a dict of results (times in seconds)."""
    problem = _problem(tuple(shape), solver)
    n_cells, n_dofs = problem.mesh.n_cells, problem.space.n_dofs
    rng = np.random.default_rng(seed)
    C = compliance()
    f = None
    report = {"shape": list(shape), "n_cells": n_cells, "n_dofs": n_dofs, "solver": solver, "rows": []}

    start = time.perf_counter()
    problem.solve({"E": _stiffness(np.full(n_cells, 0.5))})
    report["first_solve_s"] = time.perf_counter() - start
    report["factorization"] = repr(problem.state.factorization)
    start = time.perf_counter()
    gradient(C, problem, wrt="E")
    report["first_gradient_s"] = time.perf_counter() - start
    _log.info("%d dofs: first solve %.1f s, first gradient %.1f s", n_dofs, report["first_solve_s"],
              report["first_gradient_s"])

    done = set()
    for n in counts:
        n_vars = n_cells if n is None else min(int(n), n_cells)
        if n_vars in done:
            continue
        done.add(n_vars)
        groups = _groups(n_cells, n_vars)
        x = 0.4 + 0.2 * rng.random(n_vars)
        rho = x[groups]
        params = {"E": _stiffness(rho)}
        dE_drho = PENALTY * rho ** (PENALTY - 1) * (E0 - E_MIN)

        t_forward, _ = _best(lambda: problem.solve(params), 1)      # a new design: factorizes

        def adjoint():
            # the state is at `params`: no solve, one transposed solve + element VJPs
            g = gradient(C, problem, wrt="E", params=params, method="adjoint")
            return np.bincount(groups, weights=g["E"] * dE_drho, minlength=n_vars)

        t_adjoint, dx = _best(adjoint, repeat)
        row = {"n": n_vars, "forward_s": t_forward, "gradient_s": t_adjoint, "ratio": t_adjoint / t_forward}
        _log.info("n = %d: forward %.3f s, gradient %.3f s", n_vars, t_forward, t_adjoint)

        if jax_path:
            if f is None:
                f = jnp.asarray(problem.external_loads(problem.parameters(), jnp.asarray(problem.mesh.points)))
            group_ids = jnp.asarray(groups)

            def objective(x):
                return f @ solve(problem, {"E": _stiffness(x[group_ids])})

            start = time.perf_counter()
            _, pullback = jax.vjp(objective, jnp.asarray(x))        # forward: a solve (+ tracing)
            row["jax_forward_s"] = time.perf_counter() - start
            pullback(jnp.ones(()))                                   # first backward: compiles
            t_backward, (g_jax,) = _best(lambda: pullback(jnp.ones(())), repeat)
            row["jax_gradient_s"] = t_backward
            row["jax_ratio"] = t_backward / t_forward
            row["jax_vs_adjoint_rel_diff"] = float(np.max(np.abs(np.asarray(g_jax) - dx)) / np.max(np.abs(dx)))

        if direct and n_vars <= 10:
            problem.solve(params)
            basis = np.eye(n_vars)[groups]          # dE/dx: dE/dρ on the cells of each group

            def by_direct():
                return [directional_derivative(C, problem, {"E": basis[:, k] * dE_drho})[1]
                        for k in range(n_vars)]

            by_direct()                              # warm-up: compiles the tangent kernels
            t_direct, d = _best(by_direct, 1)
            row["direct_s"] = t_direct
            row["direct_vs_adjoint_rel_diff"] = float(np.max(np.abs(np.asarray(d) - dx)) / np.max(np.abs(dx)))
        report["rows"].append(row)
    return report


def _table(report):
    lines = [f"compliance gradient, 3D cantilever hex8 {tuple(report['shape'])}: {report['n_cells']} cells, "
             f"{report['n_dofs']} dofs, solver {report['solver']} ({report['factorization']})",
             f"first solve (compiles kernels) {report['first_solve_s']:.2f} s, "
             f"first gradient (compiles) {report['first_gradient_s']:.2f} s",
             "       n   forward [s]   adjoint grad [s]   ratio   jax 1st fwd [s]   jax bwd [s]   ratio   direct [s]"]
    for r in report["rows"]:
        jax_part = (f"{r['jax_forward_s']:15.3f}   {r['jax_gradient_s']:11.3f}   {r['jax_ratio']:5.3f}"
                    if "jax_gradient_s" in r else f"{'-':>15}   {'-':>11}   {'-':>5}")
        direct = f"{r['direct_s']:10.3f}" if "direct_s" in r else f"{'-':>10}"
        lines.append(f"  {r['n']:>6}   {r['forward_s']:11.3f}   {r['gradient_s']:16.3f}   {r['ratio']:5.3f}"
                     f"   {jax_part}   {direct}")
    diffs = [f"{k} {r[k]:.1e}" for r in report["rows"] for k in ("jax_vs_adjoint_rel_diff",
                                                                  "direct_vs_adjoint_rel_diff") if k in r]
    lines.append("agreement (max rel. diff): " + ", ".join(diffs))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="femopt bench gradient", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", type=int, nargs=3, default=(50, 25, 25), help="hex8 cells per axis")
    parser.add_argument("--solver", default="direct", choices=("direct", "cg", "auto"))
    parser.add_argument("--counts", nargs="+", default=["10", "1000", "all"],
                        help="numbers of design variables ('all': one per cell)")
    parser.add_argument("--repeat", type=int, default=3, help="gradient timings: best of this many")
    parser.add_argument("--no-jax", action="store_true", help="skip the jax.grad path")
    parser.add_argument("--quick", action="store_true", help="a small mesh (seconds): shape 12 6 6")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    shape = (12, 6, 6) if args.quick else tuple(args.shape)
    counts = [None if c == "all" else int(c) for c in args.counts]
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    _log.setLevel(logging.INFO)
    report = run(shape=shape, counts=counts, solver=args.solver, repeat=args.repeat, jax_path=not args.no_jax)
    print(_table(report))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
