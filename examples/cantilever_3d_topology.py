"""3D cantilever: minimum compliance topology optimization on HEX8.

A 60 x 30 x 30 block of unit HEX8 cells (54 000 cells, 176 000 dofs) clamped at x = 0,
unit downward loads along the bottom edge of the free end (x = 60, z = 0), as in the
cantilever of top3d (Liu & Tovar 2014). Volume fraction 0.3, SIMP p = 3, density filter
r = 1.5, optimality criteria. At this size femopt solves with CG preconditioned by
smoothed-aggregation AMG told the rigid-body modes (``pip install femopt[amg]``; Jacobi
without it, much slower), since a direct 3D factorization would take minutes.

Full-size run (this session's figures, 2 cores shared with other jobs; AMG-CG warm-started;
checkpointed, resumable): compliance 29 482 (it 1) -> 5 239 (10) -> 4 138 (25) -> 4 081 (50)
-> 4 056 (100) -> 4 036 (200) -> 4 025.7 at the 300-iteration cap, volume 0.300, in 6 165 s
(12-45 s per iteration). OC's max|Δx| keeps oscillating between 0.05 and 0.2 while the
compliance creeps (-0.8 % over the last 200 iterations), so the 0.01 change rule is not met;
the design is settled to the eye (docs/gallery). Not solver noise: at 30 x 15 x 15 with an
exact direct solve OC's max|Δx| is still 0.02-0.07 after 150 iterations.

Run:  python examples/cantilever_3d_topology.py      (full size: ~10-30 s per iteration)
      FEMOPT_EXAMPLE_SIZE=small                        (12 x 6 x 6, 10 iterations)
Writes femopt-output/cantilever_3d_topology.vtu (density, displacement) and a PNG with
the largest density through the depth seen from the side and from above.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

import femopt as fo
from femopt import design as fd
from femopt import optimize as fopt


def run(shape=(60, 30, 30), *, fraction=0.3, radius=1.5, max_iterations=300, method="oc",
        output_dir="femopt-output", checkpoint=None, resume=False):
    """Optimize; returns a dict with the result and the final density."""
    nx = shape[0]
    mesh = fo.mesh.box(size=shape, shape=shape, cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    problem.fix("xmin")
    problem.point_load(lambda x: np.isclose(x[:, 0], nx) & np.isclose(x[:, 2], 0.0), [0.0, 0.0, -1.0])
    model = fd.CellScaledModel(problem, "E")
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, radius), interpolation=fd.SIMP(3.0, 1.0, 1e-9))
    objective = fd.Compliance(model, design)
    volume = fd.VolumeConstraint(design, fraction)
    result = fopt.minimize(objective, design.initial(fraction), constraints=[volume], method=method,
                           max_iterations=max_iterations, tol_change=0.01, grey_level=design.grey_level,
                           checkpoint=checkpoint, resume=resume)
    density = design.density(result.x)
    out = {"result": result, "compliance": result.fun, "density": density, "mesh": mesh,
           "volume_fraction": design.volume_fraction(density), "last": objective.last, "model": model}
    if output_dir is not None:
        _write(Path(output_dir), mesh, shape, out)
    return out


def _write(folder, mesh, shape, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    displacement = out["model"].expand(out["last"]["u"])
    fo.mesh.write(folder / "cantilever_3d_topology.vtu", mesh, point_data={"displacement": displacement},
                  cell_data={"density": out["density"]})
    c = np.floor(mesh.cell_centroids()).astype(int)
    block = np.zeros(shape)
    block[c[:, 0], c[:, 1], c[:, 2]] = out["density"]
    fig, (side, top) = plt.subplots(2, 1, figsize=(8, 6))
    side.imshow(1.0 - block.max(axis=1).T, cmap="gray", origin="lower", vmin=0, vmax=1)
    side.set_title(f"side view (max over y); compliance {out['compliance']:.4g}")
    top.imshow(1.0 - block.max(axis=2).T, cmap="gray", origin="lower", vmin=0, vmax=1)
    top.set_title("top view (max over z)")
    for ax in (side, top):
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(folder / "cantilever_3d_topology.png", dpi=100)
    plt.close(fig)


def main():
    small = os.environ.get("FEMOPT_EXAMPLE_SIZE") == "small"
    out = run(**(dict(shape=(12, 6, 6), max_iterations=10) if small else {}))
    logging.getLogger("femopt.examples").warning("compliance %.5g after %d iterations", out["compliance"],
                                                 out["result"].iterations)
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
