"""Calibration with uncertainty: a conductivity field from sparse temperature sensors —
the most probable field, how sure the data make us of it (pointwise and in samples), at
a cost in PDE solves that does not grow with the mesh, and how strong the prior should be.

Setup. A unit square plate (QUAD4, 32 x 32 cells; 12 x 12 small), held at T = 0 on its
left edge, with a nodal conductivity k = exp(m). Two experiments on it: (A) a uniform
heat source q = 10, (B) a heat flux 5 into the top edge; everything else insulated. The
true log-conductivity m is one seeded draw of the prior below, drawn on a 96 x 96
reference mesh and interpolated to the calibration meshes (range −0.83 ... 1.64, i.e. k
from 0.44 to 5.2). Synthetic data: the temperature at 29 sensors (a jittered 6 x 6 grid
over [0.1, 0.9]² without the ones in the disc |x − (0.85, 0.85)| < 0.3, the "blind
corner") in both experiments, solved on the reference mesh (no inverse crime), plus
seeded Gaussian noise of σ = 1 % of each experiment's largest reading: 58 observations.

Prior: ``BiLaplacianPrior.from_correlation(mesh, 0.3, 0.5, robin="optimal")`` on m
(correlation length 0.3, standard deviation 0.5, mean 0: k = 1), the Gaussian field with
covariance (δ − γΔ)^-2 discretized by femopt's own elements. The unknown is
``Field("k", prior, kind="node", transform="log")`` in a ``Calibration`` of the two
experiments (``PointData`` with their σ).

(1) MAP point and posterior. ``find_map(..., method="newton-cg")`` (trust-region
    Newton-CG on Gauss–Newton Hessian-vector products, two linear solves per experiment
    each), then ``low_rank_laplace`` with rank 58 = the number of observations (the
    largest rank the Gauss–Newton misfit Hessian can have, so that with oversampling 10
    the randomized range finder captures all of it without power iterations): the
    eigenvalues λ of the prior-preconditioned Hessian (λ > 1: the data beat the prior in
    that direction), the posterior's pointwise standard deviation of m and posterior
    samples m_MAP + L S ξ.
    Checks: the MAP field is closer to the truth than the prior mean; the standard
    deviation is lower near the sensors (within 0.05) than far from all of them (farther
    than 0.25: the blind corner); the truth lies within ±2 posterior standard deviations
    at most nodes.
(2) Cost against mesh size. The same at 64 x 64 (24 x 24 small), from the coarse MAP
    point interpolated: the eigensolver's Hessian products and linear solves are the
    same number at both sizes — 2 (rank + oversampling) products, 4 solves each — and so
    is the number of eigenvalues above 1, while a dense Hessian would need one product
    per node.
(3) The prior's strength α (the factor on the prior's cost: the covariance over α). A
    third of the sensors (every third one) is held out; the other two thirds calibrate.
    (a) Bilevel: a zero of dO/d ln α, O the held-out misfit, by safeguarded secant steps
        from α = 1; the derivative by ``prior_strength_gradient`` (implicit
        differentiation through the inner MAP point: one conjugate-gradient solve with
        the full Hessian).
    (b) Discrepancy principle: the α at which the training misfit per datum
        2 misfit / N is 1 (interpolated on a grid of α, 0.32 to 100 by half decades).
    (c) L-curve: the corner (largest curvature) of (log misfit, log prior cost) on the
        same grid.
    The grid also gives the held-out misfit, against which the bilevel optimum is
    checked.

Results (seeded, full size). (1) Relative L2 error of the MAP ln k 0.54 against 1 for
the prior mean; misfit per datum 0.49 — below 1, as it should be when the fit spends
about half the data on informed directions; 28 of the 58 eigenvalues above 1 (the
largest 1.1e4, the 58th 1.6e-3); posterior std of ln k 0.28 on average near the
sensors, 0.44 far from them, against a prior std of 0.51 (the discrete prior's variance
is high near the boundary); the truth within ±2 std at 96 % of the nodes. The std is
lowest near the cold edge, and stays high along the insulated right edge even at the
sensors there: where little heat flows, T says little about k. (2) Low-rank posterior
at 1089 and 4225 nodes (169 and 625 small): 136 Hessian products and 544 linear solves
at both, 28 and 28 eigenvalues above 1, eigenvalues equal to 2 digits; a dense Hessian
would take 1089 and 4225 products. The MAP searches took 138 and 80 Hessian products (9
and 6 Newton-CG iterations; the second starts from the coarse MAP point). (3) Bilevel
α = 6.3 in 4 evaluations, each conjugate-gradient solve 23-42 Hessian products (CG
preconditioned by the prior's covariance); discrepancy principle α = 5.0; L-curve corner
α = 3.2 (the half-decade grid is coarse and the curve has no sharp corner); the
held-out misfit on the grid is lowest at 3.2 and flat from 3 to 10, the bilevel optimum
below every grid value. The three agree within a factor 2, all above the α = 1 the truth
was drawn at (one draw of truth and noise, 18 held-out data); the ln k error is
0.58-0.60 at all of them and 0.57 at α = 1 — it hardly depends on α between 1 and 10.
About 36 s (under 30 s small) on 2 cores, a third of it at 64 x 64 (mostly the exact
prior variance there: one solve per node).

Run:  python examples/field_uncertainty.py   (FEMOPT_EXAMPLE_SIZE=small: 12 x 12 and 24 x 24)
Writes femopt-output/field_uncertainty.vtu (true and MAP ln k and k, posterior and
prior standard deviation of ln k, two posterior samples), field_uncertainty_sd.png (the
posterior standard deviation with the sensors, pyvista) and field_uncertainty.png (truth,
MAP, posterior samples, eigenvalues at both sizes, ±2 std band against the truth, the
choice of α and the L-curve).
"""
from __future__ import annotations

import functools
import logging
import os
import time
from pathlib import Path

import numpy as np

import femopt as fo
from femopt.calibration import (BiLaplacianPrior, Calibration, Experiment, Field, PointData, find_map,
                                held_out_misfit, inner_map, low_rank_laplace, prior_strength_gradient)
from femopt.fem.locate import locate_points

_log = logging.getLogger("femopt.examples")

#: the prior on m = ln k: correlation length, standard deviation
CORRELATION, PRIOR_STD = 0.3, 0.5
#: the two experiments: the uniform heat source "q" and the flux "top" into the top edge
CASES = ({"q": 10.0, "top": 0.0}, {"q": 0.0, "top": 5.0})
#: noise: this fraction of each experiment's largest reading
NOISE = 0.01
#: the corner without sensors: centre, radius
BLIND = (np.array([0.85, 0.85]), 0.3)
#: the mesh the data come from, and the seeds of the truth and of the noise
REFERENCE, TRUTH_SEED, NOISE_SEED = 96, 4, 0
#: Newton-CG stops at this gradient norm (|∇F| at the prior mean: 500-1200)
GTOL = 1e-3
#: the grid of prior strengths for the discrepancy principle and the L-curve
ALPHAS = 10.0 ** np.arange(-0.5, 2.01, 0.5)


def sensor_layout(seed=1):
    """29 sensors: a 6 x 6 grid over [0.1, 0.9]² jittered by up to ±0.04, without the 7
    in the blind corner."""
    grid = np.linspace(0.1, 0.9, 6)
    points = np.array([[x, y] for y in grid for x in grid])
    points += np.random.default_rng(seed).uniform(-0.04, 0.04, points.shape)
    return points[np.linalg.norm(points - BLIND[0], axis=1) > BLIND[1]]


SENSORS = sensor_layout()
#: the sensors held out for the choice of α: every third one
HELD_OUT = np.arange(len(SENSORS)) % 3 == 2


def plate_problem(n):
    """The plate at n x n cells: k a nodal field, T = 0 on the left edge, a uniform
    source "q" and a flux "top" into the top edge (both set per experiment)."""
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(n, n), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=fo.nodal_field(np.ones(mesh.n_nodes))))
    problem.fix("xmin", 0.0)
    problem.heat_source(0.0, name="q")
    problem.heat_flux("ymax", 0.0, name="top")
    return mesh, problem


def prior_on(mesh):
    return BiLaplacianPrior.from_correlation(mesh, CORRELATION, PRIOR_STD, mean=0.0, robin="optimal")


@functools.lru_cache(maxsize=1)
def synthetic_data():
    """The truth (a prior draw on the reference mesh) and the noisy readings of both
    experiments: ``{"mesh", "m", "clean" (2, s), "sigma" (2,), "data" (2, s)}``."""
    mesh, problem = plate_problem(REFERENCE)
    m = prior_on(mesh).sample(1, seed=TRUTH_SEED)[0]
    _, nodes, weights = locate_points(mesh, SENSORS)
    clean = []
    for case in CASES:
        u = problem.solve({**case, "k": fo.nodal_field(np.exp(m))})
        clean.append(np.einsum("sa,sa->s", weights, u[nodes]))
    clean = np.array(clean)
    sigma = NOISE * np.abs(clean).max(axis=1)
    rng = np.random.default_rng(NOISE_SEED)
    data = clean + sigma[:, None] * rng.standard_normal(clean.shape)
    return {"mesh": mesh, "m": m, "clean": clean, "sigma": sigma, "data": data}


def true_log_conductivity(points):
    """The true m = ln k at ``points`` (linear interpolation of the reference draw)."""
    truth = synthetic_data()
    _, nodes, weights = locate_points(truth["mesh"], points)
    return np.einsum("sa,sa->s", weights, truth["m"][nodes])


def calibration(n, sensors=None):
    """``(mesh, Calibration)`` at n x n cells with the sensors of the mask ``sensors``
    (default all); a list of masks gives one calibration per mask sharing one unknown
    block (one strength α)."""
    mesh, problem = plate_problem(n)
    block = Field("k", prior_on(mesh), kind="node", transform="log")
    truth = synthetic_data()
    masks = [np.ones(len(SENSORS), bool)] if sensors is None else \
        (sensors if isinstance(sensors, list) else [sensors])
    out = []
    for mask in masks:
        experiments = [Experiment(PointData(problem, SENSORS[mask], truth["data"][e][mask], sigma=truth["sigma"][e]),
                                  params=case, name="AB"[e]) for e, case in enumerate(CASES)]
        out.append(Calibration(problem, experiments, block))
    return (mesh, *out)


def posterior(n, *, rank=None, oversampling=10, power_iterations=0, samples=3, coarse=None):
    """Part (1) at n x n: MAP point, low-rank Laplace posterior and what it says.

    ``rank`` defaults to the number of observations (the Gauss–Newton Hessian's largest
    possible rank: with ``oversampling`` > 0 the range finder then captures all of it
    without power iterations). ``coarse``: a ``(mesh, m)`` MAP point of another mesh to
    start from (interpolated)."""
    mesh, cal = calibration(n)
    m_true = true_log_conductivity(mesh.points)
    rank = rank or cal.n_observations
    start = time.perf_counter()
    m0 = None
    if coarse is not None:
        _, nodes, weights = locate_points(coarse[0], mesh.points)
        m0 = np.einsum("sa,sa->s", weights, coarse[1][nodes])
    found = find_map(cal, method="newton-cg", gtol=GTOL, m0=m0)
    map_seconds = time.perf_counter() - start
    start = time.perf_counter()
    laplace = low_rank_laplace(cal, found.m, rank=rank, oversampling=oversampling,
                               power_iterations=power_iterations, seed=0)
    laplace_seconds = time.perf_counter() - start
    std, prior_std = laplace.std, np.sqrt(laplace.prior_variance)
    distance = np.min(np.linalg.norm(mesh.points[:, None, :] - SENSORS[None], axis=2), axis=1)
    near, far = distance < 0.05, distance > 0.25
    out = {"n": n, "mesh": mesh, "calibration": cal, "map": found, "laplace": laplace, "m_true": m_true,
           "m_map": found.m, "std": std, "prior_std": prior_std, "samples": laplace.sample(samples, seed=1),
           "eigenvalues": laplace.eigenvalues, "informed": laplace.informed_directions(1.0),
           "counts": laplace.counts, "rank": rank, "oversampling": oversampling,
           "error": float(np.linalg.norm(found.m - m_true) / np.linalg.norm(m_true)),
           "prior_error": 1.0,                              # the prior mean m = 0
           "misfit_per_datum": 2.0 * found.misfit / cal.n_observations,
           "std_near": float(std[near].mean()), "std_far": float(std[far].mean()),
           "prior_std_mean": float(prior_std.mean()),
           "coverage": float(np.mean(np.abs(found.m - m_true) <= 2.0 * std)),
           "map_seconds": map_seconds, "laplace_seconds": laplace_seconds}
    c = laplace.counts
    _log.warning("%d x %d (%d nodes): MAP ln k relative error %.3f (prior mean 1), misfit per datum %.2f, %d "
                 "Newton-CG iterations, %d Hessian products, %.1f s; low-rank posterior: %d of %d eigenvalues > 1 "
                 "(largest %.3g, last %.2g), %d Hessian products, %d linear solves, %.1f s; std of ln k %.3f near "
                 "the sensors, %.3f far from them (prior %.3f); coverage of ±2 std %.1f %%", n, n, mesh.n_nodes,
                 out["error"], out["misfit_per_datum"], found.iterations, found.counts.hessian_products,
                 map_seconds, out["informed"], rank, out["eigenvalues"][0], out["eigenvalues"][-1],
                 c.hessian_products, c.linear_solves, laplace_seconds, out["std_near"], out["std_far"],
                 out["prior_std_mean"], 100 * out["coverage"])
    return out


def _interpolate_crossing(x, y, level):
    """The x at which y (increasing on the whole, sampled at x) first crosses ``level``,
    linearly interpolated; the end of the grid if it never does."""
    above = np.flatnonzero(y >= level)
    if above.size == 0:
        return float(x[-1])
    i = int(above[0])
    if i == 0:
        return float(x[0])
    return float(x[i - 1] + (level - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))


def l_curve_corner(misfit, prior_cost, log_alpha):
    """Index of the largest curvature of (ln misfit, ln prior cost) along ln α."""
    x, y = np.log(misfit), np.log(prior_cost)
    dx, dy = np.gradient(x, log_alpha), np.gradient(y, log_alpha)
    ddx, ddy = np.gradient(dx, log_alpha), np.gradient(dy, log_alpha)
    curvature = (dx * ddy - dy * ddx) / np.maximum(dx * dx + dy * dy, 1e-300) ** 1.5
    return int(np.argmax(curvature[1:-1]) + 1), curvature


def _nearest(cache, log_alpha):
    """The cached MAP point whose ln α is nearest (a warm start)."""
    key = min(cache, key=lambda k: abs(k - log_alpha))
    return cache[key]


def prior_strength(n, *, alphas=ALPHAS, m0=None, max_evaluations=8):
    """Part (3) at n x n: α by the bilevel gradient on the held-out sensors, by the
    discrepancy principle and by the L-curve, all for the calibration on the others.
    ``m0``: a start for the first MAP point (e.g. part (1)'s)."""
    mesh, inner, outer = calibration(n, [~HELD_OUT, HELD_OUT])
    m_true = true_log_conductivity(mesh.points)
    objective = held_out_misfit(outer)
    n_train, n_held = inner.n_observations, outer.n_observations
    maps = {} if m0 is None else {0.0: np.asarray(m0, dtype=np.float64)}

    def solve(alpha):
        found = inner_map(inner, alpha, method="newton-cg", gtol=GTOL,
                          m0=_nearest(maps, np.log(alpha)) if maps else None)
        maps[float(np.log(alpha))] = found.m
        return found

    def error(m):
        return float(np.linalg.norm(m - m_true) / np.linalg.norm(m_true))

    # the grid, from α = 1 outwards, each MAP point from its neighbour's
    start = time.perf_counter()
    log_alpha = np.log(alphas)
    rows = {}
    for i in np.argsort(np.abs(log_alpha)):
        found = solve(alphas[i])
        rows[i] = (found.misfit, inner.prior_cost(found.m) / alphas[i], objective(found.m)[0], error(found.m))
    misfit, prior_cost, held_out, errors = (np.array(column) for column in zip(*(rows[i] for i in range(len(alphas)))))
    grid_seconds = time.perf_counter() - start

    # (b) discrepancy principle: 2 misfit / N = 1
    alpha_discrepancy = float(np.exp(_interpolate_crossing(log_alpha, 2.0 * misfit / n_train, 1.0)))
    error_discrepancy = error(solve(alpha_discrepancy).m)
    # (c) the L-curve's corner
    corner, curvature = l_curve_corner(misfit, prior_cost, log_alpha)
    alpha_lcurve = float(alphas[corner])

    # (a) bilevel: a zero of dO/d ln α by safeguarded secant steps from α = 1 (at most
    # one e-fold at a time, inside the bracket where the derivative changes sign)
    start = time.perf_counter()
    history = []
    s, low, high = 0.0, -np.inf, np.inf
    for _ in range(max_evaluations):
        found = solve(float(np.exp(s)))
        g = prior_strength_gradient(inner, found.m, objective, rtol=1e-6)
        history.append({"alpha": float(np.exp(s)), "held_out": g.value, "log_derivative": g.log_derivative,
                        "cg_iterations": g.cg_iterations, "hessian_products": g.counts.hessian_products,
                        "error": error(found.m)})
        if g.log_derivative < 0:
            low = max(low, s)
        else:
            high = min(high, s)
        if len(history) > 1 and history[-2]["log_derivative"] != g.log_derivative:
            previous = np.log(history[-2]["alpha"])
            slope = (g.log_derivative - history[-2]["log_derivative"]) / (s - previous)
            step = -g.log_derivative / slope if slope > 0 else -np.sign(g.log_derivative)
        else:
            step = -np.sign(g.log_derivative)
        target = s + float(np.clip(step, -1.0, 1.0))
        if not low < target < high:                       # outside the bracket: bisect it
            target = 0.5 * (low + high) if np.isfinite(low) and np.isfinite(high) else target
        if abs(target - s) < 0.1:                         # α to about 10 %
            break
        s = target
    best = min(history, key=lambda h: h["held_out"])
    alpha_bilevel = best["alpha"]
    bilevel_seconds = time.perf_counter() - start

    inner.blocks[0].strength = 1.0
    out = {"alphas": alphas, "misfit_per_datum": 2.0 * misfit / n_train, "prior_cost": prior_cost,
           "held_out_per_datum": 2.0 * held_out / n_held, "errors": errors, "curvature": curvature,
           "n_train": n_train, "n_held_out": n_held,
           "alpha_bilevel": alpha_bilevel, "alpha_discrepancy": alpha_discrepancy, "alpha_lcurve": alpha_lcurve,
           "alpha_grid_best": float(alphas[int(np.argmin(held_out))]),
           "error_bilevel": best["error"], "error_discrepancy": error_discrepancy,
           "error_lcurve": float(errors[corner]),
           "bilevel_history": history, "bilevel_evaluations": len(history),
           "grid_seconds": grid_seconds, "bilevel_seconds": bilevel_seconds}
    _log.warning("prior strength (%d training, %d held-out observations): bilevel α = %.3g (%d evaluations, %.1f s; "
                 "held-out misfit per datum %.3f), discrepancy principle α = %.3g, L-curve corner α = %.3g, lowest "
                 "held-out misfit on the grid at α = %.3g (grid %.1f s); ln k errors %.3f, %.3f, %.3f", n_train,
                 n_held, alpha_bilevel, len(history), bilevel_seconds, 2.0 * best["held_out"] / n_held,
                 alpha_discrepancy, alpha_lcurve, out["alpha_grid_best"], grid_seconds, out["error_bilevel"],
                 error_discrepancy, out["error_lcurve"])
    return out


def run(n=32, n_fine=64, *, output_dir="femopt-output"):
    """Parts (1)-(3); returns {"posterior", "fine", "strength", "seconds"}."""
    start = time.perf_counter()
    coarse = posterior(n)
    fine = posterior(n_fine, samples=1, coarse=(coarse["mesh"], coarse["m_map"]))
    out = {"posterior": coarse, "fine": fine, "strength": prior_strength(n, m0=coarse["m_map"])}
    _log.warning("low-rank posterior at %d and %d nodes: %d and %d Hessian products, %d and %d linear solves, %d "
                 "and %d eigenvalues > 1", coarse["mesh"].n_nodes, fine["mesh"].n_nodes,
                 coarse["counts"].hessian_products, fine["counts"].hessian_products, coarse["counts"].linear_solves,
                 fine["counts"].linear_solves, coarse["informed"], fine["informed"])
    if output_dir is not None:
        _write(Path(output_dir), out)
    out["seconds"] = time.perf_counter() - start
    return out


def _write(folder, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pyvista as pv

    folder.mkdir(parents=True, exist_ok=True)
    post, fine, strength = out["posterior"], out["fine"], out["strength"]
    mesh = post["mesh"]
    samples = post["samples"]
    fo.mesh.write(folder / "field_uncertainty.vtu", mesh,
                  point_data={"ln_k_true": post["m_true"], "ln_k_map": post["m_map"],
                              "k_true": np.exp(post["m_true"]), "k_map": np.exp(post["m_map"]),
                              "ln_k_posterior_std": post["std"], "ln_k_prior_std": post["prior_std"],
                              "ln_k_sample_1": samples[0], "ln_k_sample_2": samples[1]})

    # the posterior standard deviation with the sensors (pyvista, off screen)
    plotter = pv.Plotter(off_screen=True, window_size=[900, 820])
    fo.viz.plot_scalar(mesh, post["std"], name="posterior std of ln k", cmap="magma", plotter=plotter,
                       clim=(0.0, float(post["prior_std"].max())), show_edges=False,
                       title=f"posterior std of ln k (prior {post['prior_std_mean']:.2f}), sensors")
    plotter.add_text("white: calibrate, cyan: held out for alpha", position="lower_left", font_size=9)
    lifted = np.column_stack([SENSORS, np.full(len(SENSORS), 0.02)])
    plotter.add_points(lifted[~HELD_OUT], color="white", point_size=14, render_points_as_spheres=True)
    plotter.add_points(lifted[HELD_OUT], color="cyan", point_size=14, render_points_as_spheres=True)
    try:
        plotter.screenshot(str(folder / "field_uncertainty_sd.png"))
    finally:
        plotter.close()

    # truth, MAP, samples; eigenvalues; the choice of α (matplotlib)
    fig, axes = plt.subplots(2, 4, figsize=(18, 8.5))
    triangles = mesh.cells[:, [0, 1, 2, 0, 2, 3]].reshape(-1, 3)        # each quad4 as two triangles
    limit = float(np.abs(np.concatenate([post["m_true"], post["m_map"], samples[:2].ravel()])).max())
    panels = ((axes[0, 0], post["m_true"], "true ln k"),
              (axes[0, 1], post["m_map"], f"MAP ln k (rel. error {post['error']:.2f}; prior mean 1)"),
              (axes[0, 2], samples[0], "posterior sample 1"),
              (axes[0, 3], samples[1], "posterior sample 2"))
    for ax, values, title in panels:
        pc = ax.tripcolor(mesh.points[:, 0], mesh.points[:, 1], triangles, values, shading="gouraud",
                          cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.plot(SENSORS[:, 0], SENSORS[:, 1], "k.", markersize=4)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
        fig.colorbar(pc, ax=ax, shrink=0.8)
    ax = axes[1, 0]
    for result, style in ((post, "o-"), (fine, "s--")):
        ax.semilogy(np.arange(1, result["rank"] + 1), np.maximum(result["eigenvalues"], 1e-6), style, markersize=3,
                    label=f"{result['mesh'].n_nodes} nodes: {result['informed']} > 1, "
                          f"{result['counts'].linear_solves} solves")
    ax.axhline(1.0, color="gray", linewidth=0.8)
    ax.set_xlabel("index")
    ax.set_ylabel("eigenvalue of the prior-preconditioned Hessian")
    ax.set_title("informed directions: the same at both mesh sizes", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    order = np.argsort(post["m_true"])
    ax.fill_between(np.arange(order.size), (post["m_map"] - 2 * post["std"])[order],
                    (post["m_map"] + 2 * post["std"])[order], color="C0", alpha=0.3, label="MAP ± 2 std")
    ax.plot(post["m_true"][order], "k-", linewidth=1, label="truth")
    ax.set_xlabel("node (sorted by true ln k)")
    ax.set_ylabel("ln k")
    ax.set_title(f"truth within ±2 std at {100 * post['coverage']:.0f} % of the nodes", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1, 2]
    alphas = strength["alphas"]
    ax.loglog(alphas, strength["misfit_per_datum"], "o-", label="training misfit per datum")
    ax.loglog(alphas, strength["held_out_per_datum"], "s-", label="held-out misfit per datum")
    ax.axhline(1.0, color="gray", linewidth=0.8)
    for name, color in (("bilevel", "C2"), ("discrepancy", "C3"), ("lcurve", "C4")):
        ax.axvline(strength[f"alpha_{name}"], color=color, linestyle="--",
                   label=f"{name}: α = {strength[f'alpha_{name}']:.2g}")
    ax.set_xlabel("prior strength α")
    ax.set_title("choosing α", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1, 3]
    ax.loglog(strength["misfit_per_datum"] * strength["n_train"] / 2, strength["prior_cost"], "o-")
    for a, x, y in zip(alphas, strength["misfit_per_datum"] * strength["n_train"] / 2, strength["prior_cost"]):
        ax.annotate(f"{a:.2g}", (x, y), fontsize=7, textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("misfit")
    ax.set_ylabel("prior cost R(m) (α = 1)")
    ax.set_title(f"L-curve: corner at α = {strength['alpha_lcurve']:.2g}", fontsize=9)
    fig.tight_layout()
    fig.savefig(folder / "field_uncertainty.png", dpi=90)
    plt.close(fig)


def main():
    small = os.environ.get("FEMOPT_EXAMPLE_SIZE") == "small"
    return run(**(dict(n=12, n_fine=24) if small else {}))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
