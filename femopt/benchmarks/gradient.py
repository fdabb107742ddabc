"""Gradient cost against the number of design variables.

A 3D cantilever (hex8, ≥ 100k dofs by default) with a SIMP stiffness field
E = E_min + ρ³ (E_0 − E_min): the compliance gradient with respect to 10, 1 000 and all
cell densities. A design of n variables sets the densities of n equal groups of cells
(n = all: one per cell). For each n it times

* forward:  ``Problem.solve`` at a new design (assembly + factorization + check);
* adjoint:  ``sensitivity.gradient(compliance, wrt="E")`` (one transposed solve with the
  kept factorization + element VJPs) plus the chain rule to the n densities;
* jax.grad: ``jax.value_and_grad`` of the same objective written with
  ``sensitivity.solve`` (forward included; the gradient part is the difference);
* direct (n = 10 only): ``method="direct"`` through 10 tangent solves, for comparison.

Each timing is the best of ``--repeat`` runs after a warm-up that compiles every kernel
(the compile times are reported separately). Target: gradient ≤ 0.5 × forward, flat in n.

Run:  python -m femopt.benchmarks.gradient [--shape 50 25 25] [--solver direct]
      femopt bench gradient --quick
"""
from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from .. import mesh as meshes
from ..functionals import compliance
from ..physics import LinearElasticity
from ..problem import Problem
from ..sensitivity import gradient, solve
from ..solvers.newton import NewtonOptions

__all__ = ["main", "run"]

E0, E_MIN, PENALTY = 1.0, 1e-3, 3.0


def _problem(shape, solver):
    size = (2.0, 1.0, 1.0)
    mesh = meshes.box(size=size, shape=shape, cell="hex8")
    # A linear problem needs one factorization: skip Newton's refactorization at the
    # solution (its tangent is the same matrix).
    problem = Problem(mesh, LinearElasticity(E=E0, nu=0.3), linear_solver=solver,
                      newton=NewtonOptions(refactor_at_solution=False))
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


def run(shape=(50, 25, 25), counts=(10, 1000, None), solver="direct", repeat=2, jax_path=True,
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

    for n in counts:
        n_vars = n_cells if n is None else min(int(n), n_cells)
        groups = _groups(n_cells, n_vars)
        x = 0.4 + 0.2 * rng.random(n_vars)

        def forward(x=x, groups=groups):
            return problem.solve({"E": _stiffness(x[groups])})

        def adjoint(x=x, groups=groups, n_vars=n_vars):
            rho = x[groups]
            g = gradient(C, problem, wrt="E", params={"E": _stiffness(rho)}, method="adjoint")
            dE_drho = PENALTY * rho ** (PENALTY - 1) * (E0 - E_MIN)
            return g.value, np.bincount(groups, weights=g["E"] * dE_drho, minlength=n_vars)

        t_forward = []
        t_adjoint = []
        for _ in range(repeat):
            t, _ = _best(forward, 1)            # a fresh design state for every adjoint run
            t_forward.append(t)
            t, (value, dx) = _best(adjoint, 1)
            t_adjoint.append(t)
        row = {"n": n_vars, "forward_s": min(t_forward), "gradient_s": min(t_adjoint)}
        row["ratio"] = row["gradient_s"] / row["forward_s"]

        if jax_path:
            if f is None:
                f = jnp.asarray(problem.external_loads(problem.parameters(), jnp.asarray(problem.mesh.points)))

            def objective(x, groups=jnp.asarray(groups)):
                return f @ solve(problem, {"E": _stiffness(x[groups])})

            value_and_grad = jax.value_and_grad(objective)
            value_and_grad(jnp.asarray(x))       # warm-up (traces the user code once)
            t_vg, (value_jax, g_jax) = _best(lambda: value_and_grad(jnp.asarray(x)), repeat)
            row["jax_value_and_grad_s"] = t_vg
            row["jax_gradient_s"] = max(t_vg - row["forward_s"], 0.0)
            row["jax_ratio"] = row["jax_gradient_s"] / row["forward_s"]
            row["jax_vs_adjoint_rel_diff"] = float(np.max(np.abs(np.asarray(g_jax) - dx)) / np.max(np.abs(dx)))

        if direct and n_vars <= 10:
            rho = x[groups]
            problem.solve({"E": _stiffness(rho)})
            basis = np.eye(n_vars)[groups]          # dE/dx = dE/dρ · (cells of each group)
            dE_drho = PENALTY * rho ** (PENALTY - 1) * (E0 - E_MIN)

            def by_direct():
                from ..sensitivity import directional_derivative
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
             "       n   forward [s]   adjoint grad [s]   ratio   jax.grad extra [s]   ratio   direct [s]"]
    for r in report["rows"]:
        jax_part = (f"{r['jax_gradient_s']:>15.3f}   {r['jax_ratio']:5.2f}" if "jax_gradient_s" in r
                    else f"{'-':>15}   {'-':>5}")
        direct = f"{r['direct_s']:10.3f}" if "direct_s" in r else f"{'-':>10}"
        lines.append(f"  {r['n']:>6}   {r['forward_s']:11.3f}   {r['gradient_s']:16.3f}   {r['ratio']:5.2f}"
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
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--no-jax", action="store_true", help="skip the jax.grad path")
    parser.add_argument("--quick", action="store_true", help="a small mesh (seconds): shape 12 6 6")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    shape = (12, 6, 6) if args.quick else tuple(args.shape)
    counts = [None if c == "all" else int(c) for c in args.counts]
    report = run(shape=shape, counts=counts, solver=args.solver, repeat=args.repeat, jax_path=not args.no_jax)
    print(_table(report))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
