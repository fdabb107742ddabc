"""Per-iteration time of density-based topology optimization: femopt against a plain
NumPy/SciPy top88-style loop that this module keeps as its reference.

Cases (same physics, mesh numbering, filter and optimizer in both loops):

* ``mbb2d``: the half MBB beam, 300 x 100 QUAD4 (plane stress), density filter
  r = 1.5, SIMP p = 3, volume fraction 0.5, OC (move 0.2);
* ``cantilever3d``: a HEX8 cantilever 60 x 30 x 30 (54 000 cells), clamped at x = 0,
  unit loads along the bottom edge of the free end, volume fraction 0.3, r = 1.5, OC.

The reference is the 88-line algorithm written with NumPy/SciPy the way its Python ports
are: element matrix by Gauss quadrature, ``coo_matrix((sK, (iK, jK))).tocsc()`` assembly
and free-dof slicing, ``spsolve`` in 2D; in 3D SciPy's ``cg`` with a Jacobi
preconditioner (rtol 1e-8), since a direct solve at this size takes hours (SuperLU:
~110 s at 53k dofs, growing ~n²). femopt runs ``CellScaledModel`` + ``DensityDesign`` +
``minimize(method=OC)``; its 3D default is CG with AMG and rigid-body modes when pyamg
is installed (Jacobi otherwise).

Each iteration is split into assembly, solve, sensitivity, filter (forward and
backward) and optimizer update (OC with its bisection). Times are medians over the
iterations after the first (which includes one-off JIT compilation); femopt's mean over
all its iterations is reported too (the figure a long run averages to).
``--reference-iterations`` runs the reference for fewer iterations than femopt (a
100-iteration femopt average need not wait for the reference's Jacobi CG). The first
compliance of both loops is compared as a check that they solve the same problem.

Run:  python -m femopt.benchmarks.topopt [--case mbb2d cantilever3d] [--iterations 8]
      [--shape3d 60 30 30] [--shape2d 300 100] [--json out.json]
      femopt bench topopt
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["main", "run_case", "reference_loop", "femopt_loop"]

PHASES = ("assembly", "solve", "sensitivity", "filter", "update")


# --------------------------------------------------------------------------- the reference
def element_stiffness(dim, nu=0.3, plane_stress=True):
    """Bilinear / trilinear unit-cell stiffness at E = 1 by 2^dim Gauss points (VTK node
    order, node-major dofs)."""
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1]] if dim == 2 else
                       [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                        [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=float)
    if dim == 2 and plane_stress:
        D = np.array([[1, nu, 0], [nu, 1, 0], [0, 0, (1 - nu) / 2]]) / (1 - nu ** 2)
    else:
        lam, mu = nu / ((1 + nu) * (1 - 2 * nu)), 1 / (2 * (1 + nu))
        D = lam * np.outer(np.r_[np.ones(dim), np.zeros(3 if dim == 3 else 1)],
                           np.r_[np.ones(dim), np.zeros(3 if dim == 3 else 1)]) + mu * np.diag(
            np.r_[2 * np.ones(dim), np.ones(3 if dim == 3 else 1)])
    g = (1 + np.array([-1, 1]) / np.sqrt(3)) / 2
    n = len(corners)
    KE = np.zeros((dim * n, dim * n))
    for point in np.array(np.meshgrid(*[g] * dim, indexing="ij")).reshape(dim, -1).T:
        dN = np.array([[np.prod([(1 if c[j] else -1) if j == i else (point[j] if c[j] else 1 - point[j])
                                 for j in range(dim)]) for i in range(dim)] for c in corners])
        pairs = [(0, 1), (1, 2), (0, 2)] if dim == 3 else [(0, 1)]
        B = np.zeros((dim + len(pairs), dim * n))
        for i in range(dim):
            B[i, i::dim] = dN[:, i]
        for r, (i, j) in enumerate(pairs):
            B[dim + r, i::dim], B[dim + r, j::dim] = dN[:, j], dN[:, i]
        KE += B.T @ D @ B / 2 ** dim
    return KE


def _grid(shape):
    """Cells (n_cells, 2^dim) node ids, x fastest, VTK corner order; node coordinates."""
    dim = len(shape)
    ids = np.arange(np.prod(np.add(shape, 1))).reshape(tuple(np.add(shape, 1)[::-1]))
    if dim == 2:
        a = ids[:-1, :-1]
        cells = np.stack([a, ids[:-1, 1:], ids[1:, 1:], ids[1:, :-1]], -1).reshape(-1, 4)
    else:
        s = [slice(None, -1), slice(1, None)]
        c = [ids[s[k], s[j], s[i]] for (i, j, k) in
             [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)]]
        cells = np.stack(c, -1).reshape(-1, 8)
    axes = np.meshgrid(*[np.arange(n + 1.0) for n in shape[::-1]], indexing="ij")
    points = np.stack([a.ravel() for a in axes[::-1]], -1)
    return cells, points


def _case_setup(case, shape):
    dim = len(shape)
    cells, points = _grid(shape)
    ndof = dim * len(points)
    f = np.zeros(ndof)
    if case == "mbb2d":
        nx, ny = shape
        fixed = np.r_[dim * np.flatnonzero(points[:, 0] == 0),
                      dim * np.flatnonzero((points[:, 0] == nx) & (points[:, 1] == 0)) + 1]
        f[dim * np.flatnonzero((points[:, 0] == 0) & (points[:, 1] == ny)) + 1] = -1.0
        fraction = 0.5
    else:
        nx = shape[0]
        clamped = np.flatnonzero(points[:, 0] == 0)
        fixed = (dim * clamped[:, None] + np.arange(dim)).ravel()
        f[dim * np.flatnonzero((points[:, 0] == nx) & (points[:, 2] == 0)) + 2] = -1.0
        fraction = 0.3
    return dict(dim=dim, cells=cells, points=points, fixed=np.unique(fixed), f=f, fraction=fraction)


def reference_loop(case, shape, iterations, radius=1.5, penalty=3.0):
    """The NumPy/SciPy top88-style loop; returns (per-iteration phase times, compliances)."""
    s = _case_setup(case, shape)
    dim, cells, f = s["dim"], s["cells"], s["f"]
    n = len(cells)
    KE = element_stiffness(dim)
    edof = (dim * cells[:, :, None] + np.arange(dim)).reshape(n, -1)
    iK = np.kron(edof, np.ones((edof.shape[1], 1))).ravel()
    jK = np.kron(edof, np.ones((1, edof.shape[1]))).ravel()
    free = np.setdiff1d(np.arange(f.size), s["fixed"])
    centroids = s["points"][cells].mean(axis=1)
    from scipy.spatial import cKDTree

    tree = cKDTree(centroids)
    D = tree.sparse_distance_matrix(tree, radius, output_type="coo_matrix")
    H = sp.coo_matrix((radius - D.data, (D.row, D.col)), shape=(n, n)).tocsr()
    H = (H + sp.diags(np.full(n, radius) - H.diagonal())).tocsr()  # self weight r
    Hs = np.asarray(H.sum(1)).ravel()
    Emin, E0, vf = 1e-9, 1.0, s["fraction"]
    x = np.full(n, vf)
    xPhys = H @ x / Hs
    u = np.zeros(f.size)
    times, compliances = [], []
    for _ in range(iterations):
        t0 = time.perf_counter()
        sK = (KE.ravel()[:, None] * (Emin + xPhys ** penalty * (E0 - Emin))).ravel(order="F")
        K = sp.coo_matrix((sK, (iK, jK)), shape=(f.size, f.size)).tocsc()
        K = K[free, :][:, free]
        t1 = time.perf_counter()
        if dim == 2:
            u[free] = spla.spsolve(K, f[free])
        else:
            d = 1.0 / K.diagonal()
            u[free], _ = spla.cg(K, f[free], rtol=1e-8, maxiter=20000,
                                 M=spla.LinearOperator(K.shape, matvec=lambda v: d * v))
        t2 = time.perf_counter()
        ue = u[edof]
        ce = np.einsum("ij,jk,ik->i", ue, KE, ue)
        c = float(((Emin + xPhys ** penalty * (E0 - Emin)) * ce).sum())
        dc = -penalty * xPhys ** (penalty - 1) * (E0 - Emin) * ce
        dv = np.ones(n)
        t3 = time.perf_counter()
        dc = H @ (dc / Hs)
        dv = H @ (dv / Hs)
        t4 = time.perf_counter()
        l1, l2, move = 0.0, 1e9, 0.2
        while (l2 - l1) / (l1 + l2) > 1e-3:
            lmid = 0.5 * (l2 + l1)
            xnew = np.maximum(0.0, np.maximum(x - move, np.minimum(1.0, np.minimum(x + move, x * np.sqrt(-dc / dv / lmid)))))
            xPhys = H @ xnew / Hs
            if xPhys.sum() > vf * n:
                l1 = lmid
            else:
                l2 = lmid
        x = xnew
        t5 = time.perf_counter()
        times.append({"assembly": t1 - t0, "solve": t2 - t1, "sensitivity": t3 - t2, "filter": t4 - t3,
                      "update": t5 - t4, "total": t5 - t0})
        compliances.append(c)
    return times, compliances


# ----------------------------------------------------------------------------------- femopt
def femopt_loop(case, shape, iterations, radius=1.5, penalty=3.0):
    """The same iterations with femopt; returns (per-iteration phase times, compliances, setup s)."""
    import femopt as fo
    from femopt import design as fd
    from femopt import optimize as fopt

    s = _case_setup(case, shape)
    t_setup = time.perf_counter()
    if s["dim"] == 2:
        nx, ny = shape
        mesh = fo.mesh.rectangle(size=(nx, ny), shape=shape, cell="quad4")
        pb = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
        pb.fix(lambda x: np.isclose(x[:, 0], 0), components=0)
        pb.fix(lambda x: np.isclose(x[:, 0], nx) & np.isclose(x[:, 1], 0), components=1)
        pb.point_load(lambda x: np.isclose(x[:, 0], 0) & np.isclose(x[:, 1], ny), [0.0, -1.0])
    else:
        nx = shape[0]
        mesh = fo.mesh.box(size=shape, shape=shape, cell="hex8")
        pb = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
        pb.fix("xmin")
        pb.point_load(lambda x: np.isclose(x[:, 0], nx) & np.isclose(x[:, 2], 0), [0.0, 0.0, -1.0])
    model = fd.CellScaledModel(pb, "E", check=False)
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, radius),
                              interpolation=fd.SIMP(penalty, 1.0, 1e-9))
    objective, volume = fd.Compliance(model, design), fd.VolumeConstraint(design, s["fraction"])
    setup = time.perf_counter() - t_setup
    update_times = []

    class TimedOC(fopt.OC):
        def step(self, *args):
            t0 = time.perf_counter()
            x_new = super().step(*args)
            update_times.append(time.perf_counter() - t0)
            return x_new

    times, before = [], {}

    def record(info):
        now = {**model.timings, **design.timings}
        times.append({k: now.get(k, 0.0) - before.get(k, 0.0) for k in ("assembly", "solve", "sensitivity",
                                                                         "filter")})
        times[-1].update(update=update_times[-1], total=info.seconds)
        before.update(now)

    result = fopt.minimize(objective, design.initial(s["fraction"]), constraints=[volume], method=TimedOC(move=0.2),
                           max_iterations=iterations, tol_change=0.0, callback=record)
    return times, list(result.history.objective), setup


# ---------------------------------------------------------------------------------- report
def _median(times):
    rows = times[1:] if len(times) > 1 else times
    return {k: float(np.median([r[k] for r in rows])) for k in (*PHASES, "total")}


def run_case(case, shape, iterations, reference_iterations=None):
    """Both loops on one case; the reference runs ``reference_iterations`` (default: as
    many as femopt; a 100-iteration femopt average need not wait for a slow reference)."""
    reference_iterations = iterations if reference_iterations is None else reference_iterations
    ref_times, ref_c = reference_loop(case, shape, max(1, min(reference_iterations, iterations)))
    fem_times, fem_c, setup = femopt_loop(case, shape, iterations)
    ref, fem = _median(ref_times), _median(fem_times)
    return {"case": case, "shape": list(shape), "iterations": iterations, "reference": ref, "femopt": fem,
            "reference_iterations": len(ref_times), "femopt_setup_s": setup,
            "femopt_mean_total_s": float(np.mean([t["total"] for t in fem_times])),
            "ratio_total": ref["total"] / fem["total"],
            "compliance_first": {"reference": ref_c[0], "femopt": fem_c[0]},
            "compliance_last": {"reference": ref_c[-1], "femopt": fem_c[-1]}}


def _table(report):
    lines = []
    for r in report:
        lines.append(f"{r['case']} {tuple(r['shape'])}, {r['iterations']} iterations (medians over iterations "
                     f"2..{r['iterations']}, the reference's over 2..{r['reference_iterations']}; femopt set-up "
                     f"{r['femopt_setup_s']:.1f} s; femopt mean over all {r['iterations']} iterations "
                     f"{r['femopt_mean_total_s']:.3f} s)")
        lines.append(f"  {'phase':12s} {'reference s':>12s} {'femopt s':>12s} {'speed-up':>9s}")
        for k in (*PHASES, "total"):
            a, b = r["reference"][k], r["femopt"][k]
            lines.append(f"  {k:12s} {a:12.4f} {b:12.4f} {a / b if b > 0 else float('inf'):9.2f}")
        c0, c1 = r["compliance_first"], r["compliance_last"]
        lines.append(f"  first compliance: reference {c0['reference']:.6g}, femopt {c0['femopt']:.6g}; "
                     f"last: {c1['reference']:.6g} / {c1['femopt']:.6g}"
                     + ("" if r["reference_iterations"] == r["iterations"] else " (after different iteration counts)"))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="femopt bench topopt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", nargs="+", default=["mbb2d", "cantilever3d"], choices=["mbb2d", "cantilever3d"])
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--reference-iterations", type=int, default=None,
                        help="iterations of the reference loop (default: --iterations)")
    parser.add_argument("--shape2d", type=int, nargs=2, default=[300, 100])
    parser.add_argument("--shape3d", type=int, nargs=3, default=[60, 30, 30])
    parser.add_argument("--quick", action="store_true", help="small sizes (60x20, 20x10x10), 3 iterations")
    parser.add_argument("--json", help="write the report to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.shape2d, args.shape3d, args.iterations = [60, 20], [20, 10, 10], 3
    report = [run_case(case, tuple(args.shape2d if case == "mbb2d" else args.shape3d), args.iterations,
                       args.reference_iterations) for case in args.case]
    print(_table(report))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
