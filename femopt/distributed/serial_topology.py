"""The route :func:`~femopt.distributed.minimize_compliance` takes without petsc4py:
femopt's serial topology optimization with the same settings — ``CellScaledModel``,
``DensityDesign`` with a ``DensityFilter``, ``Compliance`` + ``VolumeConstraint`` and
:func:`femopt.optimize.minimize` — wrapped into the same result. It is also the
reference the distributed runs are tested against.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..design import CellScaledModel, Compliance, DensityDesign, DensityFilter, SIMP, VolumeConstraint
from ..mesh.io import write
from ..optimize import minimize

__all__ = ["serial_minimize_compliance"]


def serial_minimize_compliance(problem, fraction, radius, interpolation, parameter, optimizer, max_iterations,
                               tol_change, tol_feasibility, checkpoint, resume, check_fingerprint, report_every,
                               verbose, output, *, solid=None, void=None):
    """Arguments as :func:`~femopt.distributed.minimize_compliance` (``optimizer`` an
    OC / MMA instance; ``solid`` / ``void`` go to ``DensityDesign``); returns a
    :class:`~femopt.distributed.optimize.TopologyResult` with ``ranks = 0`` whose ``x`` is
    the raw cell vector (``DensityDesign.expand``: passive cells at 1 / 0), as the
    distributed route's. ``output`` ending in ``.pvtu`` is written as one ``.vtu``."""
    from .optimize import TopologyResult

    mesh = problem.mesh
    model = CellScaledModel(problem, parameter)
    design = DensityDesign(mesh, filter=DensityFilter(mesh, radius), interpolation=interpolation or SIMP(),
                           solid=solid, void=void)
    objective, volume = Compliance(model, design), VolumeConstraint(design, fraction)
    result = minimize(objective, design.initial(fraction), constraints=[volume], method=optimizer,
                      max_iterations=max_iterations, tol_change=tol_change, tol_feasibility=tol_feasibility,
                      checkpoint=checkpoint, resume=resume, check_fingerprint=check_fingerprint,
                      report_every=report_every, verbose=verbose)
    density, x = design.density(result.x), design.expand(result.x)
    if output is not None:
        path = Path(output)
        point = {"displacement": model.expand(objective.last["u"])} if objective.last else {}
        write(path.with_suffix(".vtu"), mesh, point_data=point, cell_data={"density": density, "design": x})
    return TopologyResult(x=x, density=density, compliance=result.fun,
                          volume_fraction=design.volume_fraction(density), iterations=result.iterations,
                          status=result.status, success=result.success, message=result.message,
                          history=result.history, timings=[], ranks=0, cells=np.arange(mesh.n_cells))
