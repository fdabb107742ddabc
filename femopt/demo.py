"""``femopt demo``: the first thing a newcomer runs (about a minute).

1. Topology optimization of the MBB beam, the 88-line code's set-up (60 x 20 QUAD4,
   volume fraction 0.5, SIMP penalty 3, density filter radius 1.5, optimality criteria);
   the final compliance is compared with a faithful top88 run (218.80, see
   examples/mbb_beam.py for the reference).
2. A 3D cantilever (HEX8): solve, the exact gradient of the compliance with respect to
   the stiffness of every cell by one adjoint solve, checked against the closed form
   Σ E·dC/dE = −C and by a Taylor test.

Files written to the output folder:

    mbb_design.vtu, mbb_design.png, mbb_history.png   the optimized beam and its history
    cantilever.vtu        displacement, von Mises stress, compliance sensitivity
    cantilever.png        deformed shape coloured by von Mises stress
    sensitivity.png       dC/dE per cell (diverging colours, white = 0)
    summary.txt           the figures printed at the end
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

__all__ = ["run_demo"]

_log = logging.getLogger("femopt.demo")


#: top88(60, 20, 0.5, 3, 1.5, ft=2): a faithful run of the 88-line code (shared reference).
MBB_REFERENCE = 218.80


def _mbb(out, quick):
    """Optimize the half MBB beam; returns (compliance, iterations, seconds)."""
    import femopt as fo
    from femopt import design as fd
    from femopt import optimize as fopt
    from femopt import viz

    start = time.perf_counter()
    nx, ny = (30, 10) if quick else (60, 20)
    mesh = fo.mesh.rectangle(size=(nx, ny), shape=(nx, ny), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    problem.fix(lambda x: np.isclose(x[:, 0], 0.0), components=0)                          # symmetry
    problem.fix(lambda x: np.isclose(x[:, 0], nx) & np.isclose(x[:, 1], 0.0), components=1)  # roller
    problem.point_load(lambda x: np.isclose(x[:, 0], 0.0) & np.isclose(x[:, 1], ny), [0.0, -1.0])
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 1.5),
                              interpolation=fd.SIMP(penalty=3.0, E0=1.0, Emin=1e-9))
    model = fd.CellScaledModel(problem, "E")
    result = fopt.minimize(fd.Compliance(model, design), design.initial(0.5),
                           constraints=[fd.VolumeConstraint(design, 0.5)], bounds=(0.0, 1.0),
                           method=fopt.OC(move=0.2), max_iterations=40 if quick else 300,
                           tol_change=0.01, grey_level=design.grey_level)
    density, _ = design(result.x)
    fo.mesh.write(out / "mbb_design.vtu", mesh, cell_data={"density": np.asarray(density)})
    viz.plot_design(mesh, np.asarray(density), title=f"MBB beam: c = {result.fun:.2f}",
                    screenshot=out / "mbb_design.png")
    viz.plot_history(result.history.as_arrays(), title="MBB beam", constraint_names=["volume"],
                     screenshot=out / "mbb_history.png")
    if result.status == "interrupted":   # Ctrl-C: the design so far is written, then stop
        raise KeyboardInterrupt
    return float(result.fun), int(result.iterations), time.perf_counter() - start


def run_demo(out="femopt-output", *, quick: bool = False) -> dict:
    """Run the demo, write its files into ``out``; returns the figures."""
    import femopt as fo
    from femopt import viz

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mbb_compliance, mbb_iterations, mbb_seconds = _mbb(out, quick)
    start = time.perf_counter()
    shape = (12, 3, 3) if quick else (36, 9, 9)
    mesh = fo.mesh.box(size=(4.0, 1.0, 1.0), shape=shape, cell="hex8")
    E = np.full(mesh.n_cells, 210e3)  # steel, MPa
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=E, nu=0.3))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.0, -50.0])  # N/mm² on the free end
    u = problem.solve()

    compliance = fo.functionals.compliance()
    result = fo.gradient(compliance, problem, wrt="E")
    dC_dE = result["E"]
    closed_form = float(np.sum(E * dC_dE) / result.value)  # exactly −1 for a homogeneous body

    rng = np.random.default_rng(0)
    direction = rng.uniform(-1.0, 1.0, mesh.n_cells) * 1e3

    def compliance_at(stiffness):
        problem.solve({"E": stiffness})
        return compliance(problem)

    taylor = fo.taylor_test(compliance_at, E, direction, dC_dE, n_steps=4, h0=1.0)
    problem.solve()
    von_mises = fo.von_mises(fo.stress(problem, at="centres"))

    fo.mesh.write(out / "cantilever.vtu", mesh, point_data={"displacement": u},
                  cell_data={"von_mises": von_mises, "dC_dE": dC_dE})
    scale = 0.15 * 4.0 / max(float(np.abs(u).max()), 1e-30)
    viz.plot(mesh, u, deformed=True, scale=scale, scalars=von_mises, name="von Mises [MPa]",
             title=f"deformed x{scale:.0f}", screenshot=out / "cantilever.png")
    viz.plot_sensitivity(mesh, dC_dE, name="dC/dE", screenshot=out / "sensitivity.png")

    figures = {
        "mbb_compliance": mbb_compliance,
        "mbb_iterations": mbb_iterations,
        "cells": mesh.n_cells,
        "dofs": problem.space.n_dofs,
        "tip_deflection_mm": float(-u[:, 2].min()),
        "compliance": result.value,
        "sum_E_dC_dE_over_C": closed_form,
        "taylor_rate": taylor.rate,
        "seconds": time.perf_counter() - start,
    }
    reference = "" if quick else f"  (top88 reference {MBB_REFERENCE}: {100 * (mbb_compliance / MBB_REFERENCE - 1):+.2f} %)"
    lines = [f"MBB beam topology optimization: compliance {mbb_compliance:.2f} after "
             f"{mbb_iterations} iterations, {mbb_seconds:.1f} s{reference}",
             f"3D cantilever: {mesh.n_cells} HEX8 cells, {problem.space.n_dofs} dofs",
             f"tip deflection      {figures['tip_deflection_mm']:.5e} mm",
             f"compliance C        {figures['compliance']:.6e} N·mm",
             f"sum(E dC/dE) / C    {closed_form:.12f}   (exact: -1)",
             f"Taylor test rate    {taylor.rate:.2f}          (2 for an exact gradient)",
             f"wall time           {figures['seconds']:.1f} s",
             f"files in {out}/: mbb_design.vtu/.png, mbb_history.png, cantilever.vtu/.png, "
             "sensitivity.png, summary.txt"]
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))  # the CLI's report to the user
    return figures
