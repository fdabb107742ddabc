"""femopt side by side with other libraries on the same problems: answers checked, time
ratios measured in the same run.

Cases:

* ``cube n``: HEX8 linear elasticity on the unit cube, n cells per side (E = 1,
  nu = 0.3), clamped at x = 0, traction (0, 0, -1) on x = 1. Per library:

  - assembly: the stiffness alone, warm (femopt: ``Problem.residual_and_tangent`` at
    u = 0 after a first call that compiles; scikit-fem: ``asm`` of its
    ``linear_elasticity`` form on a ready basis), best of ``--repeat``;
  - solve: from a model with its supports and loads to the displacement (femopt: a new
    ``Problem(...).solve()`` with ``linear_solver="auto"``, kernels already compiled;
    scikit-fem: bases + assembly + condensation + solve). scikit-fem uses the method
    family femopt's "auto" picked: pyamg smoothed aggregation with the rigid-body modes
    and CG to rtol 1e-10 when femopt chose CG + AMG, else SciPy's sparse direct solve
    (femopt's direct solver may be PARDISO, the method column says which);
  - gradient: the compliance gradient with respect to a per-cell E (femopt:
    ``value_and_grad(compliance(), problem, wrt="E")`` at a solved state; scikit-fem has
    no adjoint, so by hand: dC/dE_e = -u_e·K_e(E=1) u_e through an elementwise
    functional);
  - answer: the compliance f·u. scikit-fem's compliance, displacement and gradient must
    agree with femopt's to ``--rtol`` (default 1e-6), else the command exits with 1.

* ``mbb2d topopt WxH``: the per-iteration time of a top88-style NumPy/SciPy loop
  against femopt's ``CellScaledModel`` loop (both from :mod:`femopt.benchmarks.topopt`);
  gradient = its sensitivity phase; answer = the first compliance (checked as above).

* torch-fem (when installed, :mod:`compare_torchfem`): the cube's solve (its model built
  and solved with the per-cell E differentiable) and gradient (``backward()``), answers
  checked like scikit-fem's; its note gives the ratio of solve + gradient to femopt's.

* JAX-FEM (when installed, :mod:`compare_jaxfem`): the cube as a JAX-FEM ``Problem``
  solved through its ``ad_wrapper`` (solve: a new problem built and solved after a first
  call that compiles; gradient: the VJP, its adjoint solve), answers checked likewise;
  its note adds the first call's times. ``--jaxfem-solver`` picks its linear solver:
  ``auto`` follows femopt's choice (direct: its ``umfpack_solver``, i.e. SciPy's
  spsolve; CG with AMG or multigrid: its ``petsc_solver`` with its defaults, PETSc
  BiCGStab(l) + ILU(0), to rtol 1e-10), or ``direct``, ``petsc``, ``cg+amg`` (PETSc CG +
  GAMG), ``jax`` (its overall default, BiCGStab + Jacobi in JAX).
  Not installed (or a module it imports missing): its row says "skipped" and why.

``--out DIR`` writes ``compare.csv`` and ``compare.png`` (time against dofs, log-log, per
library and phase, with the power-law exponent fitted over the cube sizes).

Run:  python -m femopt.benchmarks.compare [--sizes 8 12 16 24] [--mbb 120 40] [--out DIR]
      femopt bench compare --quick
      femopt bench compare --sizes 25 --no-mbb [--jaxfem-solver petsc] [--peers JAX-FEM]
"""
from __future__ import annotations

import argparse
import csv
import logging
import os
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from .compare_jaxfem import JAXFEM_METHODS, jaxfem_cube
from .compare_peers import UNADAPTED_PEERS, PeerUnavailable, skfem_cube, undetected_peer_reason
from .compare_torchfem import torchfem_cube
from .timing import best_seconds

__all__ = ["main", "run", "Row", "cube_femopt", "fit_exponent", "PEERS"]

_log = logging.getLogger("femopt.benchmarks")

E, NU, TRACTION = 1.0, 0.3, (0.0, 0.0, -1.0)
PHASES = ("assembly", "solve", "gradient")
PEERS = ("scikit-fem", "torch-fem", "JAX-FEM")


@dataclass
class Row:
    """One line of the table; times in seconds (NaN: not measured), ratios = this
    library's time over femopt's on the same case."""

    case: str
    dofs: int
    library: str
    status: str = "ok"            # ok | skipped | mismatch
    assembly_s: float = float("nan")
    solve_s: float = float("nan")
    gradient_s: float = float("nan")
    answer: float = float("nan")
    assembly_ratio: float = float("nan")
    solve_ratio: float = float("nan")
    gradient_ratio: float = float("nan")
    method: str = ""
    note: str = ""


# ------------------------------------------------------------------------------- the cube
def _cube_problem(mesh):
    import femopt as fo

    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=E, nu=NU))
    return problem.fix("xmin").traction("xmax", list(TRACTION))


def cube_femopt(n, repeat=3):
    """femopt on the n x n x n cube; returns (Row, mesh, displacement (n_nodes, 3),
    gradient (n_cells,))."""
    import femopt as fo

    mesh = fo.mesh.box(size=(1.0, 1.0, 1.0), shape=(n, n, n), cell="hex8")
    problem = _cube_problem(mesh)
    problem.solve()                                             # compiles every kernel
    zero = np.zeros(problem.space.n_dofs)
    problem.residual_and_tangent(zero)
    assembly = best_seconds(lambda: problem.residual_and_tangent(zero), repeat)

    fresh = _cube_problem(mesh)
    start = time.perf_counter()
    displacement = fresh.solve()
    solve = time.perf_counter() - start
    factorization = fresh.state.factorization
    method = factorization.solver_name
    if getattr(factorization, "last_iterations", None):
        method += f" ({max(factorization.last_iterations)} it)"

    params = {"E": np.full(mesh.n_cells, E)}
    fresh.solve(params)
    compliance = fo.functionals.compliance()
    fo.value_and_grad(compliance, fresh, wrt="E", params=params)   # compiles the gradient
    start = time.perf_counter()
    value, gradient = fo.value_and_grad(compliance, fresh, wrt="E", params=params)
    gradient_s = time.perf_counter() - start
    row = Row(f"cube {n}", problem.space.n_dofs, "femopt", assembly_s=assembly, solve_s=solve,
              gradient_s=gradient_s, answer=float(value), method=method)
    return row, mesh, np.asarray(displacement), np.asarray(gradient)


def _relative(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(float).tiny))


def _cube_peer(library, measure, reference, displacement, gradient, rtol):
    """A peer's row on the cube: ``measure()`` returns its results dict (see
    :func:`~femopt.benchmarks.compare_peers.skfem_cube`); answers checked against femopt's."""
    try:
        peer = measure()
    except PeerUnavailable as reason:
        return Row(reference.case, reference.dofs, library, status="skipped", note=str(reason))
    differences = {"compliance": _relative(peer["compliance"], reference.answer),
                   "displacement": _relative(peer["displacement"], displacement),
                   "gradient": _relative(peer["gradient"], gradient)}
    bad = {k: v for k, v in differences.items() if not v <= rtol}
    note = "rel. diff " + ", ".join(f"{k} {v:.1e}" for k, v in differences.items())
    total = (peer["solve_s"] + peer["gradient_s"]) / (reference.solve_s + reference.gradient_s)
    note += f"; solve + gradient ratio {total:.2f}" + (f"; {peer['note']}" if peer.get("note") else "")
    return Row(reference.case, reference.dofs, library, status="mismatch" if bad else "ok",
               assembly_s=peer["assembly_s"], solve_s=peer["solve_s"], gradient_s=peer["gradient_s"],
               answer=peer["compliance"], method=peer["method"], note=note)


def _cube_peers(reference, mesh, displacement, gradient, rtol, repeat, jaxfem_solver="auto", peers=PEERS):
    method = "cg+amg" if reference.method.startswith("cg+amg") else "direct"
    iterative = "petsc" if reference.method.startswith("cg+") else "direct"    # AMG or multigrid
    jaxfem_method = iterative if jaxfem_solver == "auto" else jaxfem_solver
    geometry = dict(E=E, nu=NU, traction=TRACTION, length=1.0)
    measures = {
        "scikit-fem": lambda: skfem_cube(mesh.points, mesh.cells, method=method, repeat=repeat, **geometry),
        "torch-fem": lambda: torchfem_cube(mesh.points, mesh.cells, **geometry),
        "JAX-FEM": lambda: jaxfem_cube(mesh.points, mesh.cells, method=jaxfem_method, **geometry),
    }
    return [_cube_peer(library, measures[library], reference, displacement, gradient, rtol)
            for library in PEERS if library in peers]


# -------------------------------------------------------------------------------- the MBB
def _mbb(shape, iterations, rtol):
    from .topopt import run_case

    result = run_case("mbb2d", tuple(shape), iterations)
    case, dofs = f"mbb2d topopt {shape[0]}x{shape[1]}", 2 * (shape[0] + 1) * (shape[1] + 1)
    per = f"per iteration, median of {iterations - 1}" if iterations > 1 else "one iteration"
    fem, ref = result["femopt"], result["reference"]
    femopt_row = Row(case, dofs, "femopt", assembly_s=fem["assembly"], solve_s=fem["solve"],
                     gradient_s=fem["sensitivity"], answer=result["compliance_first"]["femopt"],
                     method="CellScaledModel + OC", note=f"{per}; total {fem['total']:.4g} s")
    difference = _relative(result["compliance_first"]["reference"], femopt_row.answer)
    reference_row = Row(case, dofs, "numpy top88", status="ok" if difference <= rtol else "mismatch",
                        assembly_s=ref["assembly"], solve_s=ref["solve"], gradient_s=ref["sensitivity"],
                        answer=result["compliance_first"]["reference"], method="coo assembly + spsolve",
                        note=f"{per}; total {ref['total']:.4g} s, total ratio {result['ratio_total']:.2f}; "
                             f"rel. diff compliance {difference:.1e}")
    return [femopt_row, reference_row]


# ---------------------------------------------------------------------------------- run
def _with_ratios(rows):
    femopt_rows = {r.case: r for r in rows if r.library == "femopt"}
    for row in rows:
        base = femopt_rows.get(row.case)
        if base is None:
            continue
        for phase in PHASES:
            mine, theirs = getattr(row, f"{phase}_s"), getattr(base, f"{phase}_s")
            if np.isfinite(mine) and np.isfinite(theirs) and theirs > 0:
                setattr(row, f"{phase}_ratio", mine / theirs)
    return rows


def run(sizes=(8, 12, 16, 24), mbb_shape=(120, 40), iterations=8, rtol=1e-6, repeat=3, jaxfem_solver="auto",
        peers=PEERS):
    """All rows (list of :class:`Row`); ``jaxfem_solver``: ``"auto"`` or a key of
    :data:`~femopt.benchmarks.compare_jaxfem.JAXFEM_METHODS`; ``peers``: the libraries
    of :data:`PEERS` run on the cubes (the others get no row)."""
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        raise ValueError(f"peers {unknown} are not among {list(PEERS)}")
    rows = []
    for n in sizes:
        reference, mesh, displacement, gradient = cube_femopt(int(n), repeat)
        rows += [reference] + _cube_peers(reference, mesh, displacement, gradient, rtol, repeat, jaxfem_solver,
                                          peers)
        rows += [Row(reference.case, reference.dofs, library, status="skipped",
                     note=undetected_peer_reason(module)) for module, library in UNADAPTED_PEERS]
        _log.info("cube %d (%d dofs) done", n, reference.dofs)
    if mbb_shape is not None:
        rows += _mbb(mbb_shape, iterations, rtol)
    return _with_ratios(rows)


# ------------------------------------------------------------------------------ output
def _seconds(value):
    return f"{value:.4f}" if np.isfinite(value) else "-"


def _ratio(row):
    parts = [f"{p[0]} {getattr(row, p + '_ratio'):.2f}" for p in PHASES
             if np.isfinite(getattr(row, p + "_ratio"))]
    return " ".join(parts) if row.library != "femopt" else "1"


def table(rows) -> str:
    """The printed table; ratio = this library's time / femopt's (a: assembly, s: solve,
    g: gradient); > 1 means femopt is faster."""
    header = (f"{'case':22s} {'dofs':>7s} {'library':12s} {'assembly s':>10s} {'solve s':>9s} "
              f"{'gradient s':>10s} {'answer':>13s}  {'ratio to femopt':22s} method / note")
    lines = [header, "-" * len(header)]
    for r in rows:
        if r.status == "skipped":
            lines.append(f"{r.case:22s} {r.dofs:7d} {r.library:12s} skipped: {r.note}")
            continue
        answer = f"{r.answer:.8g}" if np.isfinite(r.answer) else "-"
        flag = "MISMATCH " if r.status == "mismatch" else ""
        lines.append(f"{r.case:22s} {r.dofs:7d} {r.library:12s} {_seconds(r.assembly_s):>10s} "
                     f"{_seconds(r.solve_s):>9s} {_seconds(r.gradient_s):>10s} {answer:>13s}  "
                     f"{_ratio(r):22s} {flag}{r.method}{'; ' + r.note if r.note else ''}")
    return "\n".join(lines)


def write_csv(rows, path):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Row)])
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))


def fit_exponent(dofs, seconds):
    """The exponent p of seconds ≈ c · dofs^p (least squares in log-log); NaN with fewer
    than two finite positive points."""
    dofs, seconds = np.asarray(dofs, dtype=float), np.asarray(seconds, dtype=float)
    keep = np.isfinite(seconds) & (seconds > 0) & (dofs > 0)
    if np.unique(dofs[keep]).size < 2:
        return float("nan")
    return float(np.polyfit(np.log(dofs[keep]), np.log(seconds[keep]), 1)[0])


def write_plot(rows, path):
    """Time against dofs of the cube cases, one line per (library, phase), log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cube = [r for r in rows if r.case.startswith("cube") and r.status != "skipped"]
    figure, axis = plt.subplots(figsize=(7.5, 5.0))
    styles = {"assembly": "o-", "solve": "s--", "gradient": "^:"}
    for index, library in enumerate(dict.fromkeys(r.library for r in cube)):
        mine = sorted((r for r in cube if r.library == library), key=lambda r: r.dofs)
        for phase in PHASES:
            dofs = np.array([r.dofs for r in mine])
            seconds = np.array([getattr(r, f"{phase}_s") for r in mine])
            if not np.isfinite(seconds).any():
                continue
            exponent = fit_exponent(dofs, seconds)
            label = f"{library} {phase}" + (f" (∝ dofs^{exponent:.2f})" if np.isfinite(exponent) else "")
            axis.loglog(dofs, seconds, styles[phase], color=f"C{index}", label=label)
    axis.set_xlabel("dofs")
    axis.set_ylabel("time [s]")
    axis.set_title(f"HEX8 elasticity, unit cube (E = {E:g}, nu = {NU:g})")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="femopt bench compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 12, 16, 24], help="cube cells per side")
    parser.add_argument("--mbb", type=int, nargs=2, default=[120, 40], metavar=("NX", "NY"),
                        help="MBB topology-optimization mesh")
    parser.add_argument("--iterations", type=int, default=8, help="MBB iterations (times: medians after the first)")
    parser.add_argument("--no-mbb", action="store_true", help="skip the MBB case")
    parser.add_argument("--repeat", type=int, default=3, help="assembly timings: best of this many")
    parser.add_argument("--rtol", type=float, default=1e-6, help="answers must agree to this relative difference")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (cubes 3, 4, 6; MBB 30x10, 3 iterations)")
    parser.add_argument("--jaxfem-solver", choices=["auto", *JAXFEM_METHODS], default="auto",
                        help="JAX-FEM's linear solver (auto: the family femopt picked)")
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS),
                        help="the other libraries run on the cubes (e.g. leave out scikit-fem's "
                             "direct solve on large cubes)")
    parser.add_argument("--out", help="write compare.csv and compare.png into this folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.mbb, args.iterations = [3, 4, 6], [30, 10], 3
    if min(args.sizes) < 1 or args.iterations < 1 or args.repeat < 1:
        parser.error(f"--sizes, --iterations and --repeat must be positive, got {args.sizes}, "
                     f"{args.iterations}, {args.repeat}")
    rows = run(sizes=args.sizes, mbb_shape=None if args.no_mbb else tuple(args.mbb),
               iterations=args.iterations, rtol=args.rtol, repeat=args.repeat, jaxfem_solver=args.jaxfem_solver,
               peers=args.peers)
    print(table(rows))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        write_csv(rows, os.path.join(args.out, "compare.csv"))
        write_plot(rows, os.path.join(args.out, "compare.png"))
        print(f"wrote {os.path.join(args.out, 'compare.csv')} and {os.path.join(args.out, 'compare.png')}")
    mismatches = [r for r in rows if r.status == "mismatch"]
    if mismatches:
        print("answers disagree: " + "; ".join(f"{r.case} {r.library}: {r.note}" for r in mismatches))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
