"""Transient thermal design: where to put a conductive inlay in a board so that a component
that is switched on and off stays cool over the whole duty cycle.

Unit square board of n x n QUAD4 cells (lengths in board widths). A component, the
0.2 x 0.2 square centred at (0.75, 0.5), dissipates power 1 in pulses: on for 0.1 of
every period 0.25, four pulses in the run t ∈ [0, 1] (each ends 0.15 before the next
starts). A heat sink holds T = 0 on the middle tenth of the left edge; the other edges
are insulated; T = 0 at t = 0. Each cell has a density ρ between board (ρ = 0) and inlay
(ρ = 1): conductivity k(ρ) = k_min + ρ^p (1 − k_min), k_min = 1e-3, and heat capacity
ρc(ρ) = 0.55 + 0.45 ρ (roughly FR4 against copper, both scaled to copper's, so that one
time unit is the diffusion time across the board in copper). The component is held
solid; inlay fraction 0.3 of the board; density filter of radius max(1.5, 0.015 n) cells.
The objective is the time integral of the component's mean temperature,

    J = ∫_0^1 T̄_c(t) dt,      T̄_c = (1 / |c|) ∫_c T dx,

by backward Euler (``time_integral`` of a cell-restricted mean, a ``from_function``
functional), its gradient by the discrete adjoint backward in time with Revolve
checkpointing (at most 10 stored states), pulled back through the filter and both
interpolations (k and ρc) to the design; optimality criteria with the volume constraint.
``objective="peak"`` minimizes a smooth maximum over time of T̄_c instead.

The SIMP penalty p follows a continuation 1 → 1.5 → 2.25 → 3 (the objective is the
schedule that minimize drives). Started at p = 3 (``every=None``), the uniform design
conducts so poorly (k = 0.027) that within the run no heat reaches the sink: the
gradient does not see the sink, and the optimizer settles on an island of copper with
fins around the component, never connected to the sink (J = 0.579 at full size, 0.625
small: 6 % and 4 % above the results below). At p = 1 the sink is felt from the start.

How the design differs from the steady one. For the time-averaged load (any constant
load on the component: the problem is linear, its optimal design does not depend on the
magnitude) the best use of the copper is one thick bar from the component to the sink.
Within the run heat travels only about √(k t / ρc) ≈ 1 board width, so the transient
design makes the bar thinner and spends the copper saved on branched fins around the
component, which carry each pulse away from it into the board's heat capacity. Measured
with ``compare_steady`` (J, and the steady mean temperature T̄_c under the time-averaged
load, for both designs; the uniform start's J at p = 3):

    80 x 80, 100 steps, 150 iterations:   transient design  J = 0.545, steady T̄_c = 1.49
                                          steady design     J = 0.680, steady T̄_c = 0.91
                                          uniform start     J = 1.57
    24 x 24, 20 steps, 40 iterations:     transient 0.604 / 1.71, steady 0.697 / 0.98,
                                          uniform 1.65

The transient design keeps the component 20 % cooler over the run (and its peak at the
centre 17 % lower) than the steady design, which in turn is 39 % cooler in steady
operation. One evaluation (forward run, 225 forward steps with the recomputations of
Revolve(10), and 100 adjoint steps) takes about 0.8 s at full size; the full run about
140 s, the small one 10 s (on two cores).

Run:  python examples/transient_design.py      (80 x 80, 100 time steps, up to 150 iterations)
      FEMOPT_EXAMPLE_SIZE=small                 (24 x 24, 20 time steps, 40 iterations)
Writes femopt-output/transient_design.vtu (density, final and peak temperature, the steady
design's density) and transient_design.png (the designs, the temperature at the component's
centre over time for the uniform start, the steady and the transient design, and the
objective history).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import femopt as fo
from femopt import design as fd
from femopt import optimize as fopt
from femopt.design.fingerprint import describe, merge, problem_fingerprint
from femopt.functionals import from_function, integrate_cells, time_integral, time_peak

#: The component: centre x, centre y and half-width (board widths).
COMPONENT = (0.75, 0.5, 0.1)
#: Pulses: period, the fraction of it the component is on, its power while on.
PERIOD, DUTY, POWER = 0.25, 0.4, 1.0
#: Heat capacity ρc of board (ρ = 0) and inlay (ρ = 1).
CAPACITY = (0.55, 1.0)
#: Conductivity of the inlay and of the board.
K0, K_MIN = 1.0, 1e-3


def in_component(x):
    """Whether the points ``x (m, 2)`` (cell centroids) lie in the component."""
    cx, cy, h = COMPONENT
    return (np.abs(x[:, 0] - cx) < h) & (np.abs(x[:, 1] - cy) < h)


def switched_on(t) -> float:
    """1 while the component is on, else 0: on for t in (j P, (j + DUTY) P], so that a
    backward-Euler step ending at t is heated over the whole step or not at all (with
    steps that divide DUTY · P)."""
    s = t / PERIOD
    phase = s - np.floor(s - 1e-9)  # in (0, 1]: a level at the end of a period is its last
    return 1.0 if phase <= DUTY + 1e-9 else 0.0


class TransientObjective:
    """x → (J, dJ/dx) for a trajectory functional J of a transient run whose conductivity
    and heat capacity come from a density design:

        ρ = the design's physical density (filter),
        k = k_min + ρ^p (k_0 − k_min),    ρc = c_0 + ρ (c_1 − c_0),

    with p from ``penalty`` (a :class:`~femopt.design.Continuation` over the iterations;
    pass the objective as minimize's ``schedule``). Each call solves the run forward and
    its adjoint backward (``fo.transient_gradient`` with respect to ``k`` and
    ``capacity``) and pulls both back through the design (``design.vjp``). Nothing is
    carried from one call to the next and p is a function of the iteration number, so a
    checkpointed optimization resumes exactly; ``fingerprint()`` names the problem, the
    design and the run for minimize's checkpoint.
    """

    def __init__(self, transient, design, functional, run, *, penalty=None, conductivity=(K_MIN, K0),
                 capacity=CAPACITY, snapshots=10):
        self.transient, self.design, self.functional, self.run = transient, design, functional, dict(run)
        self.penalty = penalty or fd.Continuation(3.0, 1.0, 1, 3.0)
        self.conductivity = tuple(float(c) for c in conductivity)
        self.capacity = tuple(float(c) for c in capacity)
        self.checkpoints = fo.Revolve(snapshots)
        self.p = self.penalty.value(0)
        self.last = None

    # -- schedule protocol (minimize calls set_iteration before each evaluation) ---------
    def set_iteration(self, iteration: int) -> None:
        """Set the penalty p for ``iteration``."""
        self.p = self.penalty.value(iteration)

    def is_final(self, iteration: int) -> bool:
        """Whether p has reached its last value (only then may the run converge)."""
        return self.penalty.is_final(iteration)

    # -- evaluation ------------------------------------------------------------------------
    def parameters(self, x, p=None):
        """``({"k": ..., "capacity": ...}, ρ, dk/dρ)`` at ``x`` (penalty ``p``, default the
        current one)."""
        p = self.p if p is None else float(p)
        rho, _ = self.design(x)
        (k_min, k0), (c0, c1) = self.conductivity, self.capacity
        k = k_min + rho ** p * (k0 - k_min)
        dk = p * rho ** (p - 1.0) * (k0 - k_min)
        return {"k": fo.cell_field(k), "capacity": fo.cell_field(c0 + (c1 - c0) * rho)}, rho, dk

    def __call__(self, x):
        params, _, dk = self.parameters(x)
        g = fo.transient_gradient(self.functional, self.transient, wrt=["k", "capacity"], params=params,
                                  checkpoints=self.checkpoints, **self.run)
        c0, c1 = self.capacity
        grad = self.design.vjp(x, density_bar=dk * g["k"] + (c1 - c0) * g["capacity"])
        self.last = g
        return g.value, grad

    def value(self, x, p=None) -> float:
        """J at ``x`` (penalty ``p``, default the current one): one forward run, no adjoint."""
        params = self.parameters(x, p)[0]
        return fo.transient_gradient(self.functional, self.transient, wrt=[], params=params, **self.run).value

    def solve(self, x, p=None):
        """The transient run at ``x`` (a :class:`~femopt.problem.TransientResult`)."""
        return self.transient.solve(params=self.parameters(x, p)[0], **self.run)

    def fingerprint(self) -> dict[str, str]:
        """The steady problem, the design, the functional, the run and the interpolations."""
        own = {"transient objective": (f"{describe(self.functional)}, theta {describe(self.transient.theta)}, "
                                       f"penalty {describe(self.penalty)}, conductivity "
                                       f"{describe(self.conductivity)}, capacity {describe(self.capacity)}, "
                                       f"run {describe(self.run)}")}
        return merge([("transient", own), ("transient", problem_fingerprint(self.transient.problem)),
                      ("transient", self.design.fingerprint())])


def build(n, *, fraction=0.3, radius=None, t_end=1.0, steps=100, every=25, objective="integral", rho=50.0):
    """The board, its transient problem, the design, the objective and the volume
    constraint (``every``: iterations per step of the penalty continuation; None: p = 3
    from the start)."""
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(n, n), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=fo.cell_field(np.full(mesh.n_cells, K0))))
    problem.fix(lambda x: np.isclose(x[:, 0], 0.0) & (np.abs(x[:, 1] - 0.5) <= 0.05 + 1e-9))
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, (radius or max(1.5, 0.015 * n)) / n),
                              interpolation=fd.SIMP(penalty=3.0, E0=K0, Emin=K_MIN), solid=in_component)
    component = mesh.cells_where(in_component)
    area = float(design.volumes[component].sum())
    problem.heat_source(POWER / area, cells=component)

    def component_mean(pb, u, p, X):
        return jnp.sum(integrate_cells(pb, lambda grad_T, T, x, q: T, u, p, X, cells=component)) / area

    mean_temperature = from_function(component_mean)
    if objective == "integral":
        J = time_integral(mean_temperature)
    elif objective == "peak":
        J = time_peak(mean_temperature, rho=rho)
    else:
        raise ValueError(f"objective must be 'integral' or 'peak', got {objective!r}")
    transient = fo.TransientProblem(problem, capacity=CAPACITY[1], theta=1.0)
    times = np.linspace(0.0, t_end, steps + 1)
    source = POWER / area * np.array([switched_on(t) for t in times])   # one value per time level
    inputs = dict(times=times, initial=0.0, loads={"heat_source": source})
    penalty = fd.Continuation(1.0, 1.5, every, 3.0) if every else fd.Continuation(3.0, 1.0, 1, 3.0)
    return dict(mesh=mesh, problem=problem, transient=transient, design=design, component=component,
                mean_temperature=mean_temperature, run=inputs, source=source,
                objective=TransientObjective(transient, design, J, inputs, penalty=penalty),
                volume=fd.VolumeConstraint(design, fraction))


def run(n=80, *, fraction=0.3, steps=100, every=25, max_iterations=150, method="oc", objective="integral",
        tol_change=0.01, compare_steady=True, checkpoint=None, resume=False, output_dir="femopt-output"):
    """Optimize; returns a dict with the result, the design, its J and the hot-spot history
    (``checkpoint`` / ``resume`` as for :func:`femopt.optimize.minimize`)."""
    parts = build(n, fraction=fraction, steps=steps, every=every, objective=objective)
    mesh, design, J, volume = parts["mesh"], parts["design"], parts["objective"], parts["volume"]
    x0 = design.initial(fraction)
    result = fopt.minimize(J, x0, constraints=[volume], method=method, max_iterations=max_iterations,
                           tol_change=tol_change, schedule=J, grey_level=design.grey_level,
                           checkpoint=checkpoint, resume=resume)
    final_p = J.penalty.maximum
    density = design(result.x)[0]
    hot_spot = np.array(COMPONENT[:2])
    runs = {"uniform": J.solve(x0, final_p), "transient design": J.solve(result.x, final_p)}
    out = {"result": result, "objective": J.value(result.x, final_p), "objective_uniform": J.value(x0, final_p),
           "density": density, "volume_fraction": design.volume_fraction(density), "mesh": mesh,
           "temperature": runs["transient design"].final, "peak_temperature": runs["transient design"].states.max(0),
           "times": runs["uniform"].times, "source": parts["source"], "steady": None, "mean_temperature": None}
    if compare_steady and result.status != "interrupted":     # Ctrl-C: no second run
        # the same functional, steady, at the time-averaged load (value scaled by the duty)
        mean_load = fd.FunctionalObjective(parts["problem"], parts["mean_temperature"], design, "k", scale=DUTY)
        steady = fopt.minimize(mean_load, x0, constraints=[volume], method=method, max_iterations=max_iterations,
                               tol_change=tol_change, grey_level=design.grey_level)
        runs["steady design"] = J.solve(steady.x, final_p)
        out["steady"] = {"result": steady, "density": design(steady.x)[0], "objective": J.value(steady.x, final_p),
                         "mean_temperature": mean_load(steady.x)[0]}
        out["mean_temperature"] = mean_load(result.x)[0]
    out["hot_spot"] = {name: r.at(hot_spot) for name, r in runs.items()}
    if output_dir is not None:
        _write(Path(output_dir), mesh, n, out)
    return out


def _image(mesh, n, density):
    c = np.floor(mesh.cell_centroids() * n).astype(int)
    image = np.zeros((n, n))
    image[c[:, 1], c[:, 0]] = density
    return image


def _write(folder, mesh, n, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    cell_data = {"density": out["density"]}
    if out["steady"] is not None:
        cell_data["steady_density"] = out["steady"]["density"]
    fo.mesh.write(folder / "transient_design.vtu", mesh,
                  point_data={"temperature": out["temperature"], "peak_temperature": out["peak_temperature"]},
                  cell_data=cell_data)
    designs = [(f"transient design, J = {out['objective']:.4g}", out["density"])]
    if out["steady"] is not None:
        designs.append((f"steady design, J = {out['steady']['objective']:.4g}", out["steady"]["density"]))
    fig, axes = plt.subplots(1, len(designs) + 2, figsize=(4.6 * (len(designs) + 2), 4.2))
    for ax, (title, density) in zip(axes, designs):
        ax.imshow(1.0 - _image(mesh, n, density), cmap="gray", origin="lower", vmin=0, vmax=1, extent=(0, 1, 0, 1))
        ax.set_title(title)
        ax.set_axis_off()
    history, times = axes[-1], out["times"]
    curves = axes[-2]
    on = out["source"] > 0
    for k in np.flatnonzero(on):          # the steps the component is on: (t_{k-1}, t_k]
        curves.axvspan(times[k - 1], times[k], color="orange", alpha=0.15, linewidth=0)
    for name, values in out["hot_spot"].items():
        curves.plot(times, values, label=name)
    curves.set_xlabel("time")
    curves.set_ylabel("temperature at the component's centre")
    curves.legend(fontsize="small")
    history.plot(out["result"].history.objective)
    history.set_xlabel("iteration")
    history.set_ylabel("J (at the iteration's penalty)")
    fig.tight_layout()
    fig.savefig(folder / "transient_design.png", dpi=100)
    plt.close(fig)


def main():
    small = os.environ.get("FEMOPT_EXAMPLE_SIZE") == "small"
    out = run(**(dict(n=24, steps=20, every=5, max_iterations=40) if small else {}))
    steady, log = out["steady"], logging.getLogger("femopt.examples")
    log.warning("J = ∫ T̄_c dt: %.4g (uniform start %.4g) after %d iterations, inlay fraction %.3f",
                out["objective"], out["objective_uniform"], out["result"].iterations, out["volume_fraction"])
    if steady is not None:            # None when Ctrl-C stopped the transient run
        log.warning("steady design: J = %.4g; steady mean temperature of the component: %.4g (steady design "
                    "%.4g)", steady["objective"], out["mean_temperature"], steady["mean_temperature"])
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("femopt.newton").setLevel(logging.WARNING)   # the steady design's solves
    main()
