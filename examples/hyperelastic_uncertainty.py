"""Calibration with uncertainty: neo-Hookean constants (μ, λ) from a noisy
force–displacement curve — the most probable constants, their 95 % credible intervals by
the Laplace approximation and by NUTS sampling, and the curve the model predicts with
its uncertainty band against the data.

Setup. A tensile test in plane strain: a strip 2 long and 1 wide, modelled by its upper
half (2 x 0.5, QUAD4, 4 x 2 cells; 2 x 1 small) with the symmetry plane y = 0 (u_y = 0).
It is clamped at x = 0 (u = 0) and pulled by a clamped grip at x = 2 moved by (δ, 0):
displacement-controlled, so the reaction force on the grip — ``ReactionData`` on the
grip's nodes, component 0: the sum of the residual over their prescribed x-dofs, the
force the grip applies — is the measured "force", and δ the "displacement". The
deformation is not homogeneous: the clamps hold the strip's width at its ends, it necks
in between. Compressible neo-Hookean, ψ = μ/2 (tr C − 3) − μ ln J + λ/2 (ln J)²; the
truth μ = 1, λ = 2 (small-strain Poisson's ratio 1/3).

Load levels. δ = 0.8 k / n for k = 1 ... n, n = 6 levels (3 small): nominal strain up to
40 %, where the force curve has bent well away from its initial slope. The prescribed
values of ``Problem.fix`` are numbers, not parameters, so a level cannot be a parameter
override of one specimen; instead the mesh holds one copy of the strip per level, side
by side and disconnected, each with its own grip displacement (a hyperelastic response
does not depend on the path, so each copy is the same test stopped at its level). One
``Experiment`` solves them all in one Newton solve — from rest, without load steps,
which ``log_posterior`` needs. From rest it takes 5-6 Newton iterations at the truth;
of the (μ, λ) pairs tried between 0.05 and 50 it fails only where λ/μ ≥ 100 (at 50 %
strain; 500 at 40 %) — far out in the prior, and a failed solve is a rejected proposal.

Data per level (synthetic, seeded, from the same model at the truth): the grip force with
noise σ_F = 0.01 (2 % of the largest force, 0.477) and the lateral contraction u_y of
the strip's edge at mid-length, (1, 0.5), with σ_u = 0.002 (2 % of the largest, 0.089) —
an extensometer across the neck. Without the contraction the force curve alone does not
separate μ from λ (see the results).

Prior: independent log-normal, ``Constants(["mu", "lmbda"], mean=ln(1, 1), std=1,
transform="log")`` — each within a factor e of 1 — on the unknowns m = (ln μ, ln λ).

(1) MAP point: ``find_map(..., method="newton-cg")`` from the prior mean (μ = λ = 1),
    trust-region Newton-CG on Gauss–Newton Hessian-vector products.
(2) Laplace: ``laplace(..., hessian="gauss-newton")`` and ``"full"`` at the MAP point:
    N(m_MAP, H⁻¹) on (ln μ, ln λ), its std, correlation and 95 % intervals
    exp(m ± 1.96 σ). The same for the force data alone (no contraction).
(3) NUTS: ``sample_nuts(log_posterior(calibration), ...)`` — the log posterior in JAX
    around ``femopt.solve(..., on_failure="nan")`` (one state and one adjoint solve per
    gradient evaluation), BlackJAX window adaptation with a dense mass matrix; 4 chains x
    (200 warmup + 300 draws) (small: 2 x (40 + 80)). The chains run in the coordinates
    z of m = m_MAP + L z, L L^T the Laplace covariance — a linear change of variables,
    so the same posterior, in which the sampler's first trial steps (step size ~1, unit
    mass matrix) are of the posterior's size instead of ~100 of its standard deviations,
    where the solves overflow (see the note at the end). They start at z = 2 ξ, ξ
    standard normal, so that R-hat sees them come together. Mean, std and equal-tailed
    95 % intervals of (μ, λ) against Laplace's; ESS and R-hat recomputed for (ln μ, ln λ).
(4) Predictive band: for 200 NUTS draws (60 small) the force and contraction curves at
    20 grip displacements δ ∈ (0, 1] (to 50 % strain, past the data) and at the data's
    own, one Newton solve of a problem of 24 (22) strips per draw: the 95 % band of the
    model curve (parameter uncertainty) and the 95 % posterior-predictive band of a new
    measurement (model + noise), with the data ± 2σ.

Results (seeded; full, small in brackets; 2 CPU cores).
(1) MAP μ = 1.0095, λ = 1.9838 (1.0154, 2.0055) in 4 (4) Newton-CG iterations: 5 state
    solves (14 Newton iterations), 26 linear solves, 10 Hessian products; 5.6 s, mostly
    compiling.
(2) Laplace: std of ln μ, ln λ 0.0132, 0.0249 (0.0166, 0.0267), correlation 0.18 (0.24);
    95 % intervals μ ∈ [0.9836, 1.0361] ([0.9829, 1.0491]), λ ∈ [1.8892, 2.0831]
    ([1.9032, 2.1134]). Gauss–Newton and full Hessian agree to 4 digits (the fit is
    close: the residuals' curvature term is small). The force alone (no contraction)
    identifies the small-strain stiffness but not μ and λ apart: correlation −0.994, std
    0.13 and 0.65, λ ∈ [0.44, 5.7] — the prior, not the data, bounds λ.
(3) NUTS: μ = 1.0089 ± 0.0126, λ = 1.983 ± 0.048 (1.0136 ± 0.0148, 1.998 ± 0.049);
    95 % intervals μ ∈ [0.9843, 1.0340] ([0.9880, 1.0468]), λ ∈ [1.8921, 2.0785]
    ([1.9093, 2.1103]). Bulk ESS 908 and 1144 (108, 120) of 1200 (160) draws, R-hat
    ≤ 1.003 (≤ 1.001), no divergences, acceptance 0.91 (0.83); 8698 (917) gradient
    evaluations, each a Newton solve warm-started from the last state and an adjoint:
    157 s (21 s), 69 s (10 s) of it warmup and about 10 s compiling the sampler —
    some 17 ms (12 ms) per evaluation. Against Laplace the means of ln μ, ln λ differ
    by −1.6, −0.9 (−1.4, −1.8) Monte Carlo standard errors, the stds are 0.94, 0.97
    (0.88, 0.92) of Laplace's, the interval widths 0.95, 0.96 (0.89, 0.96): the
    posterior is very nearly the Laplace Gaussian (slightly narrower in ln μ), and the
    truth is inside every interval.
(4) The model's 95 % band of the force is 0.0075 wide at the last data level and 0.0087
    at 50 % strain — a fifth of the ± 2σ noise band: six levels of two observations pin
    the curve far better than any one reading. All 6 (3) forces and contractions lie in
    the 95 % predictive band. About 175 s (30 s) in all.

Note. Sampled in (ln μ, ln λ) directly, BlackJAX's warmup starts with step size 1 on a
posterior of width ~0.02; the first trial trajectories reach μ ~ e^50 and beyond, where
the solve "converges" in 0 iterations (its tolerance is relative to the residual at rest,
itself astronomically large) and the adjoint then raises on a non-finite cotangent
(``femopt.solve``'s ``on_failure="nan"`` covers the forward solve only), which ends the
run. The whitened coordinates of (3) avoid this.

Run:  python examples/hyperelastic_uncertainty.py   (FEMOPT_EXAMPLE_SIZE=small: 3 levels,
2 x 1 cells, short chains). NUTS needs BlackJAX (``pip install "femopt[uq]"``).
Writes femopt-output/hyperelastic_uncertainty.png (force and contraction against δ: data
± 2σ, MAP and true curves, model and predictive 95 % bands, and the same less the MAP
curve; the μ–λ plane: NUTS draws, Laplace 95 % ellipse, MAP point and truth; the Laplace
regions with and without the contraction, full size only).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.stats import chi2

import femopt as fo
from femopt.calibration import (Calibration, Constants, Experiment, PointData, ReactionData, find_map,
                                laplace)
from femopt.calibration.jax_posterior import log_posterior

_log = logging.getLogger("femopt.examples")

#: the constants behind the synthetic data
TRUTH = {"mu": 1.0, "lmbda": 2.0}
NAMES = ("mu", "lmbda")
#: the half strip: length, half width; the gap between copies in the mesh
LENGTH, HALF_WIDTH, GAP = 2.0, 0.5, 1.0
#: the largest grip displacement of the data (40 % strain) and of the predictive band (50 %)
MAX_DISPLACEMENT, MAX_PREDICTED = 0.8, 1.0
#: noise of the grip force and of the contraction
SIGMA_FORCE, SIGMA_CONTRACTION = 0.01, 0.002
#: the prior on (ln mu, ln lmbda)
PRIOR_MEAN, PRIOR_STD = np.log([1.0, 1.0]), 1.0
NOISE_SEED = 1


class Specimens:
    """One half strip per grip displacement in ``displacements``, side by side in one
    mesh (nx x ny QUAD4 each, nx even): strip i is clamped on its left edge ("clamp{i}"),
    held by u_y = 0 on the symmetry plane ("sym{i}"), and its grip ("grip{i}") is moved by
    (δ_i, 0). ``gauge[i]`` is the node at mid-length of its free edge."""

    def __init__(self, displacements, nx=4, ny=2):
        if nx % 2:
            raise ValueError("nx must be even (the gauge point is a node)")
        self.displacements = np.asarray(displacements, dtype=np.float64)
        base = fo.mesh.rectangle(size=(LENGTH, HALF_WIDTH), shape=(nx, ny), cell="quad4")
        points, cells, tags = [], [], {}
        for i in range(len(self.displacements)):
            offset = i * base.n_nodes
            points.append(base.points + [i * (LENGTH + GAP), 0.0])
            cells.append(base.cells + offset)
            for name, tag in (("clamp", "xmin"), ("grip", "xmax"), ("sym", "ymin"), ("edge", "ymax")):
                tags[f"{name}{i}"] = base.node_tags[tag] + offset
        self.mesh = fo.mesh.Mesh(np.vstack(points), np.vstack(cells), "quad4", node_tags=tags)
        self.problem = fo.Problem(self.mesh, fo.physics.NeoHookean(**TRUTH))
        gauge = []
        for i, delta in enumerate(self.displacements):
            self.problem.fix(f"clamp{i}", 0.0)
            self.problem.fix(f"sym{i}", 0.0, components=1)
            self.problem.fix(f"grip{i}", [float(delta), 0.0])
            edge = self.mesh.nodes(f"edge{i}")
            gauge.append(edge[np.argmin(np.abs(self.mesh.points[edge, 0] - (i * (LENGTH + GAP) + LENGTH / 2)))])
        self.gauge = np.array(gauge)
        self.grip_dofs = [2 * self.mesh.nodes(f"grip{i}") for i in range(len(self.displacements))]

    @property
    def strain(self):
        """Nominal strain δ / length of each strip."""
        return self.displacements / LENGTH

    def respond(self, params):
        """``(force, contraction)`` of every strip at ``params`` (a host solve, warm-started
        from the last one): the grip force and u_y at the gauge node."""
        u = self.problem.solve(params)
        residual = self.problem.residual(self.problem.state.u)
        force = np.array([residual[dofs].sum() for dofs in self.grip_dofs])
        return force, u[self.gauge, 1]

    def observations(self, force, contraction, sigma_force=SIGMA_FORCE, sigma_contraction=SIGMA_CONTRACTION):
        """The data as femopt observations: a ``ReactionData`` per grip, one ``PointData``
        for the contractions at the gauge points."""
        data = [ReactionData(self.problem, f"grip{i}", f, sigma=sigma_force, component=0)
                for i, f in enumerate(force)]
        if contraction is not None:
            data.append(PointData(self.problem, self.mesh.points[self.gauge], contraction, sigma=sigma_contraction,
                                  component=1))
        return data


def synthetic_data(specimens, seed=NOISE_SEED):
    """Clean and noisy force and contraction at the truth."""
    force, contraction = specimens.respond(TRUTH)
    rng = np.random.default_rng(seed)
    return {"clean_force": force, "clean_contraction": contraction,
            "force": force + SIGMA_FORCE * rng.standard_normal(force.shape),
            "contraction": contraction + SIGMA_CONTRACTION * rng.standard_normal(contraction.shape)}


def make_calibration(specimens, data, *, contraction=True):
    experiment = Experiment(specimens.observations(data["force"], data["contraction"] if contraction else None),
                            name="tensile test")
    prior = Constants(list(NAMES), mean=PRIOR_MEAN, std=PRIOR_STD, transform="log")
    return Calibration(specimens.problem, experiment, prior)


def laplace_ellipse(result, level=0.95, n=200):
    """The Laplace ``level`` region's boundary in (μ, λ): the ellipse of the Gaussian on
    (ln μ, ln λ), mapped by exp. ``(n, 2)``."""
    radius = np.sqrt(chi2.ppf(level, 2))
    angle = np.linspace(0.0, 2.0 * np.pi, n)
    circle = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return np.exp(result.mean + radius * circle @ np.linalg.cholesky(result.covariance).T)


def run(n_levels=6, nx=4, ny=2, *, n_chains=4, n_warmup=200, n_samples=300, n_band=200, seed=0,
        force_only=True, output_dir="femopt-output"):
    """(1)-(4) of the module docstring; returns a dict of everything measured."""
    # BlackJAX: the optional extra femopt[uq]
    from femopt.calibration.sampling import bulk_ess, sample_nuts, split_rhat

    start = time.perf_counter()
    displacements = MAX_DISPLACEMENT * np.arange(1, n_levels + 1) / n_levels
    specimens = Specimens(displacements, nx, ny)
    data = synthetic_data(specimens)
    truth = np.array([TRUTH[n] for n in NAMES])

    # (1) MAP point
    cal = make_calibration(specimens, data)
    best = find_map(cal, method="newton-cg")
    mu, lmbda = (best.parameters[n] for n in NAMES)
    _log.warning("MAP: mu = %.4f, lmbda = %.4f (truth %.1f, %.1f) in %d Newton-CG iterations: %d state solves "
                 "(%d Newton iterations), %d linear solves, %d Hessian products, %.1f s",
                 mu, lmbda, *truth, best.iterations, best.counts.state_solves, best.counts.newton_iterations,
                 best.counts.linear_solves, best.counts.hessian_products, best.seconds)

    # (2) Laplace, Gauss-Newton and full Hessian; and the force alone
    gn = laplace(cal, best.m, hessian="gauss-newton")
    full = laplace(cal, best.m, hessian="full")
    for name, result in (("Gauss-Newton", gn), ("full", full)):
        _log.warning("Laplace (%s Hessian): std of ln mu, ln lmbda %s, correlation %.3f\n%s", name,
                     np.array2string(result.std, precision=4), result.correlation[0, 1], result.summary())
    lap_force = best_force = None
    if force_only:      # the same data without the contraction (a new calibration: its kernels compile)
        force_cal = make_calibration(specimens, data, contraction=False)
        best_force = find_map(force_cal, method="newton-cg")
        lap_force = laplace(force_cal, best_force.m, hessian="full")
        _log.warning("force alone: MAP mu = %.4f, lmbda = %.4f; Laplace std %s, correlation %.3f\n%s",
                     *(best_force.parameters[n] for n in NAMES), np.array2string(lap_force.std, precision=3),
                     lap_force.correlation[0, 1], lap_force.summary())

    # (3) NUTS on the same posterior
    # NUTS runs in the Laplace-whitened coordinates z, m = m_MAP + L z (L L^T the Laplace
    # covariance): a linear change of variables, so the same posterior, but one in which
    # the sampler's first steps (step size ~1, unit mass matrix) are of the posterior's size
    # rather than ~100 of its standard deviations (where the strip's solve overflows).
    density = log_posterior(cal)
    L = np.linalg.cholesky(full.covariance)
    whitened = lambda z: density(best.m + L @ z)                       # noqa: E731
    spread = 2.0 * np.random.default_rng(seed + 1).standard_normal((n_chains, cal.n))
    nuts_z = sample_nuts(whitened, spread, n_samples=n_samples, n_warmup=n_warmup, n_chains=n_chains, seed=seed)
    nuts = replace(nuts_z, samples=best.m + nuts_z.samples @ L.T, names=("ln mu", "ln lmbda"))
    nuts = replace(nuts, ess=bulk_ess(nuts.samples), rhat=split_rhat(nuts.samples))
    nuts_interval = np.exp(nuts.credible_interval(0.95)).T          # (2, 2): rows mu, lmbda
    draws = np.exp(nuts.draws)
    nuts_mean, nuts_std = draws.mean(axis=0), draws.std(axis=0, ddof=1)
    mcse = nuts.mcse                                                 # of the mean of ln mu, ln lmbda
    _log.warning("NUTS:\n%s\nmu = %.4f ± %.4f, lmbda = %.4f ± %.4f; 95 %% intervals mu [%.4f, %.4f], "
                 "lmbda [%.4f, %.4f]", nuts.summary(), nuts_mean[0], nuts_std[0], nuts_mean[1], nuts_std[1],
                 *nuts_interval.ravel())
    agreement = {"mean_in_mcse": (nuts.mean - full.mean) / mcse,
                 "std_ratio": nuts.std / full.std,
                 "interval_ratio": (nuts_interval[:, 1] - nuts_interval[:, 0])
                 / (full.interval(0.95)[:, 1] - full.interval(0.95)[:, 0])}
    _log.warning("NUTS against Laplace (full): means differ by %s MCSE, std ratio %s, 95 %% interval width "
                 "ratio %s", np.array2string(agreement["mean_in_mcse"], precision=2),
                 np.array2string(agreement["std_ratio"], precision=3),
                 np.array2string(agreement["interval_ratio"], precision=3))

    # (4) predictive band: a finer set of grip displacements, past the data, and the data's own
    grid = MAX_PREDICTED * np.arange(1, 21) / 20
    grid = grid[np.min(np.abs(grid[:, None] - displacements[None, :]), axis=1) > 1e-9]
    fine = Specimens(np.sort(np.concatenate([grid, displacements])), nx, ny)
    at_data = np.searchsorted(fine.displacements, displacements)
    rng = np.random.default_rng(seed)
    chosen = draws[rng.choice(len(draws), size=min(n_band, len(draws)), replace=False)]
    t_band = time.perf_counter()
    curves = [fine.respond(dict(zip(NAMES, p))) for p in chosen]
    band_seconds = time.perf_counter() - t_band
    band, coverage = {}, {}
    for index, (key, sigma) in enumerate((("force", SIGMA_FORCE), ("contraction", SIGMA_CONTRACTION))):
        model = np.array([c[index] for c in curves])                   # (draws, levels)
        # a new measurement: each draw's curve plus 50 draws of the noise
        noisy = (model[:, None, :] + sigma * rng.standard_normal((len(model), 50, model.shape[1]))).reshape(
            -1, model.shape[1])
        band[key] = np.quantile(model, [0.025, 0.975], axis=0)
        band[f"{key}_predictive"] = lo, hi = np.quantile(noisy, [0.025, 0.975], axis=0)
        coverage[key] = int(np.sum((data[key] >= lo[at_data]) & (data[key] <= hi[at_data])))
    map_curve = fine.respond(best.parameters)
    true_curve = fine.respond(TRUTH)
    width = band["force"][1] - band["force"][0]
    _log.warning("predictive band from %d NUTS draws (%.1f s): 95 %% band of the model force %.4f wide at "
                 "delta = %.1f (data end; noise sigma %.3f), %.4f at %.1f; data within the 95 %% predictive "
                 "band: %d of %d forces, %d of %d contractions", len(chosen), band_seconds,
                 width[at_data[-1]], MAX_DISPLACEMENT, SIGMA_FORCE, width[-1], MAX_PREDICTED,
                 coverage["force"], n_levels, coverage["contraction"], n_levels)

    out = {"specimens": specimens, "fine": fine, "data": data, "truth": truth, "calibration": cal,
           "map": best, "map_parameters": np.array([mu, lmbda]),
           "laplace": full, "laplace_gn": gn, "laplace_interval": full.interval(0.95),
           "laplace_gn_interval": gn.interval(0.95),
           "force_only_laplace": lap_force, "force_only_map": best_force,
           "nuts": nuts, "nuts_interval": nuts_interval, "nuts_mean": nuts_mean, "nuts_std": nuts_std,
           "agreement": agreement, "band": band, "coverage": coverage, "at_data": at_data, "map_curve": map_curve,
           "true_curve": true_curve, "band_draws": chosen, "seconds": None}
    if output_dir is not None:
        _write(Path(output_dir), out)
    out["seconds"] = time.perf_counter() - start
    _log.warning("total %.1f s", out["seconds"])
    return out


def _write(folder, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    folder.mkdir(parents=True, exist_ok=True)
    specimens, fine, data, band = out["specimens"], out["fine"], out["data"], out["band"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    x_data, x_fine = specimens.displacements, np.concatenate([[0.0], fine.displacements])
    at_data = out["at_data"]
    pad = lambda y: np.concatenate([[0.0], y])          # noqa: E731 - every curve starts at rest
    for column, key, sigma, sign, label in ((0, "force", SIGMA_FORCE, 1.0, "grip force F"),
                                            (1, "contraction", SIGMA_CONTRACTION, -1.0,
                                             "contraction −u_y at mid-length")):
        index = 0 if key == "force" else 1
        map_curve = sign * out["map_curve"][index]
        for row, offset in ((0, np.zeros_like(map_curve)), (1, map_curve)):
            ax = axes[row, column]
            predictive = sign * band[f"{key}_predictive"] - offset
            model = sign * band[key] - offset
            ax.fill_between(x_fine[1:], predictive.min(axis=0), predictive.max(axis=0), color="tab:blue",
                            alpha=0.15, lw=0, label="95 % predictive band (model + noise)")
            ax.fill_between(x_fine, pad(model.min(axis=0)), pad(model.max(axis=0)), color="tab:blue",
                            alpha=0.5, lw=0, label="95 % band of the model (NUTS draws)")
            ax.plot(x_fine, pad(map_curve - offset), "-", color="tab:blue", lw=1.2, label="MAP")
            ax.plot(x_fine, pad(sign * out["true_curve"][index] - offset), "k--", lw=1, label="truth")
            ax.errorbar(x_data, sign * data[key] - offset[at_data], yerr=2 * sigma, fmt="o", color="tab:red",
                        ms=4, capsize=3, label="data ± 2σ")
            ax.axvline(MAX_DISPLACEMENT, color="0.6", lw=0.8, ls=":")
            ax.set_xlabel("grip displacement δ (strip length 2)")
            ax.set_ylabel(label if row == 0 else f"{label} − MAP curve")
            if row == 0:
                ax.legend(fontsize=7, loc="upper left")
    axes[0, 0].set_title("force–displacement: data and the model's 95 % bands", fontsize=9)
    axes[0, 1].set_title("lateral contraction (past δ = 0.8: extrapolation)", fontsize=9)
    axes[1, 0].set_title("the same, less the MAP curve", fontsize=9)
    axes[1, 1].set_title("the same, less the MAP curve", fontsize=9)
    ax = axes[0, 2]
    draws = np.exp(out["nuts"].draws)
    ax.plot(draws[:, 0], draws[:, 1], ".", ms=2, alpha=0.4, color="tab:green", label="NUTS draws")
    ellipse = laplace_ellipse(out["laplace"])
    ax.plot(ellipse[:, 0], ellipse[:, 1], "-", color="tab:purple", label="Laplace 95 % region")
    ax.plot(*out["map_parameters"], "s", color="tab:purple", ms=6, label="MAP")
    ax.plot(*out["truth"], "k*", ms=10, label="truth")
    ax.set_xlabel("μ")
    ax.set_ylabel("λ")
    nuts = out["nuts"]
    ax.set_title(f"posterior: NUTS {nuts.n_chains} chains x {nuts.n_samples} (ESS {nuts.ess.min():.0f}, "
                 f"R-hat {nuts.rhat.max():.3f}) and Laplace", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1, 2]
    if out["force_only_laplace"] is not None:
        wide = laplace_ellipse(out["force_only_laplace"])
        ax.plot(wide[:, 0], wide[:, 1], "-", color="tab:orange", label="force alone")
        ax.plot(*np.exp(out["force_only_map"].m), "s", color="tab:orange", ms=5)
        ax.plot(ellipse[:, 0], ellipse[:, 1], "-", color="tab:purple", label="force and contraction")
        ax.plot(*out["truth"], "k*", ms=10, label="truth")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
            axis.set_minor_locator(ticker.LogLocator(subs=(2.0, 5.0)))
            axis.set_minor_formatter(ticker.FormatStrFormatter("%g"))
        ax.set_xlabel("μ")
        ax.set_ylabel("λ")
        ax.set_title("Laplace 95 % regions: the force curve alone leaves λ to the prior", fontsize=9)
        ax.legend(fontsize=7)
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "force alone: not run at this size", ha="center", va="center", fontsize=9)
    fig.tight_layout()
    fig.savefig(folder / "hyperelastic_uncertainty.png", dpi=100)
    plt.close(fig)


def main():
    small = os.environ.get("FEMOPT_EXAMPLE_SIZE") == "small"
    return run(**(dict(n_levels=3, nx=2, ny=1, n_chains=2, n_warmup=40, n_samples=80, n_band=60,
                       force_only=False)
                  if small else {}))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
