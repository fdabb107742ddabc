"""Volume-to-point heat conduction: where to put a conductive material so that heat
generated uniformly in a square plate reaches a small sink with the least resistance.

Square plate of n x n unit QUAD4 cells, uniform heat source q = 1, temperature 0 on a
sink at the middle tenth of the left edge, all other edges insulated. Conductivity
k(ρ) = k_min + ρ^3 (k_0 − k_min) with k_0 = 1, k_min = 1e-3 (Gersborg-Hansen, Bendsøe
& Sigmund 2006; Bendsøe & Sigmund 2003 §1.5); conductive material fraction 0.4; density
filter of radius max(1.5, 0.015 n) cells; objective the thermal compliance ∫ q T dx
(= f·T). The result is the familiar tree of conducting branches reaching from the sink
into the plate.

Run:  python examples/heat_sink.py            (100 x 100, up to 200 iterations)
      FEMOPT_EXAMPLE_SIZE=small                (24 x 24, 25 iterations)
Writes femopt-output/heat_sink.vtu (density, temperature) and heat_sink.png.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

import femopt as fo
from femopt import design as fd
from femopt import optimize as fopt


def run(n=100, *, fraction=0.4, radius=None, max_iterations=200, method="oc", output_dir="femopt-output"):
    """Optimize; returns a dict with the result, the density and the temperature."""
    mesh = fo.mesh.rectangle(size=(n, n), shape=(n, n), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix(lambda x: np.isclose(x[:, 0], 0.0) & (np.abs(x[:, 1] - n / 2) <= 0.05 * n + 1e-9))
    problem.heat_source(1.0)
    model = fd.CellScaledModel(problem, "k")
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, radius or max(1.5, 0.015 * n)),
                              interpolation=fd.SIMP(penalty=3.0, E0=1.0, Emin=1e-3))
    objective = fd.Compliance(model, design)
    volume = fd.VolumeConstraint(design, fraction)
    result = fopt.minimize(objective, design.initial(fraction), constraints=[volume], method=method,
                           max_iterations=max_iterations, tol_change=0.01, grey_level=design.grey_level)
    density, k = design(result.x)
    compliance, _, T_free = model.compliance(k)
    temperature = model.expand(T_free)
    out = {"result": result, "compliance": compliance, "density": density, "temperature": temperature,
           "volume_fraction": design.volume_fraction(density), "mesh": mesh}
    if output_dir is not None:
        _write(Path(output_dir), mesh, n, out)
    return out


def _write(folder, mesh, n, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fo.mesh.write(folder / "heat_sink.vtu", mesh, point_data={"temperature": out["temperature"]},
                  cell_data={"density": out["density"]})
    c = np.floor(mesh.cell_centroids()).astype(int)
    image = np.zeros((n, n))
    image[c[:, 1], c[:, 0]] = out["density"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    left.imshow(1.0 - image, cmap="gray", origin="lower", vmin=0, vmax=1)
    left.set_title(f"conductor, thermal compliance {out['compliance']:.4g}")
    left.set_axis_off()
    right.semilogy(out["result"].history.objective)
    right.set_xlabel("iteration")
    right.set_ylabel("thermal compliance")
    fig.tight_layout()
    fig.savefig(folder / "heat_sink.png", dpi=100)
    plt.close(fig)


def main():
    small = os.environ.get("FEMOPT_EXAMPLE_SIZE") == "small"
    out = run(**(dict(n=24, max_iterations=25) if small else {}))
    logging.getLogger("femopt.examples").warning(
        "thermal compliance %.5g after %d iterations, conductive fraction %.3f", out["compliance"],
        out["result"].iterations, out["volume_fraction"])
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
