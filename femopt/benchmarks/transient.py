"""Transient adjoint with checkpointing: forward time, gradient time and peak memory
against the number of snapshots.

The problem: a unit square of n x n QUAD4 cells (n = 100: 10 201 dofs), heat
conduction with a conductivity per cell (a design field), ρc = 1, temperature 0 on the
left edge, a uniform heat source pulsed in time, q(t) = 1 + sin(50 t), from T = 0, run
to t = 0.1 in ``--steps`` backward-Euler steps (1 000 by default). The functional is the
time integral of the mean temperature; its gradient is taken with respect to the
conductivity of every cell (one element-level VJP per time level) by
:func:`femopt.transient_gradient`, with every state kept (``store-all``) and with the
binomial schedule ``Revolve(s)`` for each ``--snapshots`` s.

Columns:

* ``forward s``: the run without a gradient (the value only, two states in memory);
* ``gradient s``: the whole gradient (forward sweep, recomputations, adjoint steps),
  and ``x fwd`` its ratio to ``forward s``;
* ``fwd steps``: forward steps run (n for store-all; the Griewank–Walther minimum for
  revolve, ``revolve_forward_steps(n, s)``);
* ``states``: most states held at once (snapshots in memory, the current and the held
  one), counted on the arrays;
* ``peak MB``: peak of the memory NumPy allocated during the call (``tracemalloc``),
  and ``extra/state``: the peak above the value-only run's (which holds two states and
  one step's temporaries), in units of one full state vector — what the checkpointing
  holds; about ``states − 2``.

A second table repeats store-all at a quarter and half of the steps: its peak memory
grows in proportion to the steps. Times are the minimum of ``--repeat`` runs, untraced;
the memory comes from one more, traced run. ``--png``
draws gradient time and peak memory against the snapshots.

Run:  python -m femopt.benchmarks.transient [--n 100] [--steps 1000] [--snapshots 5 10 20 50]
      [--repeat 1] [--json FILE] [--png FILE]      (or: femopt bench transient ...)
      femopt bench transient --quick               (20 x 20 cells, 100 steps)
"""
from __future__ import annotations

import argparse
import json
import time
import tracemalloc

import numpy as np

__all__ = ["transient_case", "measure", "run_transient_benchmark", "main"]


def transient_case(n: int, steps: int):
    """``(transient problem, functional, run keywords)`` of the benchmark."""
    import femopt as fo

    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(n, n), cell="quad4")
    k = np.random.default_rng(0).uniform(0.5, 1.5, mesh.n_cells)
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=fo.cell_field(k)))
    problem.fix("xmin", 0.0)
    problem.heat_source(1.0)
    transient = fo.TransientProblem(problem, capacity=1.0, theta=1.0)
    functional = fo.functionals.time_integral(fo.functionals.mean(problem))
    run = dict(t_end=0.1, steps=steps, initial=0.0, loads={"heat_source": lambda t: 1.0 + np.sin(50.0 * t)})
    return transient, functional, run


def _timed(call, repeat):
    """(result, least seconds of ``repeat`` calls, peak traced bytes of one more call):
    tracing every allocation slows Python, so the timed calls run untraced."""
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    try:
        call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, best, peak


def measure(transient, functional, run, strategy, repeat=1) -> dict:
    """One row: the gradient with ``strategy`` (None: the value only)."""
    import femopt as fo

    wrt = [] if strategy is None else ["k"]
    g, seconds, peak = _timed(lambda: fo.transient_gradient(functional, transient, wrt=wrt, checkpoints=strategy,
                                                             **run), repeat)
    record = g.record
    return {"strategy": "forward" if strategy is None else _name(strategy), "seconds": seconds,
            "forward_steps": record.forward_steps, "states": record.max_states, "peak_bytes": peak,
            "value": g.value, "gradient": None if strategy is None else g["k"]}


def _name(strategy) -> str:
    return "store-all" if not hasattr(strategy, "snapshots") else f"revolve({strategy.snapshots})"


def run_transient_benchmark(n=100, steps=1000, snapshots=(5, 10, 20, 50), repeat=1) -> dict:
    """Every row of both tables (see the module docstring)."""
    import femopt as fo

    transient, functional, run = transient_case(n, steps)
    warm = dict(run, steps=4)
    fo.transient_gradient(functional, transient, wrt=["k"], **warm)        # compile the kernels
    fo.transient_gradient(functional, transient, wrt=[], **warm)
    state_bytes = transient.problem.space.n_dofs * 8
    forward = measure(transient, functional, run, None, repeat)
    rows = [measure(transient, functional, run, fo.StoreAll(), repeat)]
    rows += [measure(transient, functional, run, fo.Revolve(s), repeat) for s in snapshots]
    reference = rows[0]["gradient"]
    for row in rows:
        row["x_forward"] = row["seconds"] / forward["seconds"]
        row["extra_states"] = (row["peak_bytes"] - forward["peak_bytes"]) / state_bytes
        row["same_gradient"] = bool(np.array_equal(row.pop("gradient"), reference))
    forward.pop("gradient")
    growth = []
    for part in (steps // 4, steps // 2, steps):
        row = measure(transient, functional, dict(run, steps=part), fo.StoreAll(), 1) if part != steps \
            else dict(rows[0])
        growth.append({"steps": part, "peak_bytes": row["peak_bytes"]})
    return {"n": n, "dofs": transient.problem.space.n_dofs, "steps": steps, "state_bytes": state_bytes,
            "forward": forward, "rows": rows, "store_all_growth": growth}


def _table(report) -> str:
    state = report["state_bytes"]
    forward = report["forward"]
    lines = [f"transient heat, {report['n']} x {report['n']} QUAD4, {report['dofs']} dofs, {report['steps']} "
             f"backward-Euler steps; gradient of the time-integrated mean temperature w.r.t. k per cell",
             f"{'strategy':<14}{'forward s':>10}{'gradient s':>11}{'x fwd':>7}{'fwd steps':>10}{'states':>8}"
             f"{'peak MB':>9}{'extra/state':>12}{'same g':>8}",
             f"{'(value only)':<14}{forward['seconds']:>10.2f}{'':>11}{'':>7}{forward['forward_steps']:>10}"
             f"{forward['states']:>8}{forward['peak_bytes'] / 1e6:>9.1f}{0.0:>12.1f}"]
    for row in report["rows"]:
        lines.append(f"{row['strategy']:<14}{'':>10}{row['seconds']:>11.2f}{row['x_forward']:>7.2f}"
                     f"{row['forward_steps']:>10}{row['states']:>8}{row['peak_bytes'] / 1e6:>9.1f}"
                     f"{row['extra_states']:>12.1f}{'yes' if row['same_gradient'] else 'NO':>8}")
    lines.append("store-all peak memory against the steps: " + ", ".join(
        f"{g['steps']} steps {g['peak_bytes'] / 1e6:.1f} MB" for g in report["store_all_growth"]))
    return "\n".join(lines)


def _plot(report, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    revolve = [r for r in report["rows"] if r["strategy"].startswith("revolve")]
    s = [int(r["strategy"][8:-1]) for r in revolve]
    store_all = report["rows"][0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(s, [r["x_forward"] for r in revolve], "o-", label="revolve(s)")
    left.axhline(store_all["x_forward"], color="gray", ls="--", label="store-all")
    left.set(xlabel="snapshots s", ylabel="gradient time / forward time", xscale="log")
    left.legend()
    state = report["state_bytes"]
    right.plot(s, [max(r["extra_states"], 0.5) for r in revolve], "o-", label="revolve(s)")
    right.plot(s, s, ":", color="k", label="s states")
    right.axhline(store_all["extra_states"], color="gray", ls="--", label="store-all")
    right.set(xlabel="snapshots s", ylabel="peak memory above the forward run / state", xscale="log",
              yscale="log")
    right.legend()
    for axis in (left, right):
        axis.set_xticks(s, [str(v) for v in s])
        axis.minorticks_off()
    fig.suptitle(f"{report['dofs']} dofs, {report['steps']} steps")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="femopt bench transient", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="cells per side (default 100: 10 201 dofs)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--snapshots", type=int, nargs="+", default=[5, 10, 20, 50])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="20 x 20 cells, 100 steps, snapshots 5 10 20")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--png", help="draw gradient time and peak memory against the snapshots")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.steps, args.snapshots = 20, 100, [5, 10, 20]
    report = run_transient_benchmark(args.n, args.steps, tuple(args.snapshots), args.repeat)
    print(_table(report))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    if args.png:
        _plot(report, args.png)
    return 0 if all(r["same_gradient"] for r in report["rows"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
