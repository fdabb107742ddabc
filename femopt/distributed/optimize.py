"""``minimize_compliance``: density-based compliance topology optimization, the same
script serially or under ``mpirun -n N``.

::

    result = minimize_compliance(problem, fraction=0.3, radius=1.5, method="oc",
                                 max_iterations=100, checkpoint="run.npz", resume=True,
                                 output="out/design.pvtu")

Every rank runs the loop on the design variables of its own cells (:mod:`.topology`):

* **OC** is distributed: each cell's update is local; the volume bisection needs one
  global sum per bisection step (the volume is linear in x, so no filter exchange).
* **MMA** is distributed too: femopt's :class:`~femopt.optimize.MMA` steps each rank's
  own cells (asymptotes, move limits, the separable approximation are per cell), and the
  primal–dual subproblem reduces its sums over the cells (``P @ v``, ``G diag(w) Gᵀ``,
  residual norms, the largest feasible step) across ranks, added in rank order, so every
  rank takes the same dual steps; its per-cell state is gathered into the checkpoint.
* passive cells (``solid=`` / ``void=``, :mod:`.passive`) keep their entries of the
  rank's design at 1 / 0: the optimizers step the active entries only;
* convergence max|Δx| is a global maximum; the objective, constraint, change and grey
  level in the history are the same on every rank.
* progress lines (``femopt.optimize``, as :func:`femopt.optimize.minimize`'s) come from
  rank 0 only; the checkpoint holds the design gathered on rank 0 in the original cell
  order (written atomically by :func:`~femopt.optimize.checkpoint.write_checkpoint`), so
  it does not depend on the number of ranks; on resume every rank reads it.

Without petsc4py the same call runs femopt's serial route (``CellScaledModel``,
``DensityDesign`` with ``DensityFilter``, :func:`femopt.optimize.minimize`) and returns
the same kind of result.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from .._progress import progress_output
from ..design.fingerprint import describe, merge, problem_fingerprint
from ..errors import InputError
from ..optimize.base import Evaluation, OptimizationError
from ..optimize.checkpoint import Checkpoint, write_checkpoint
from ..optimize.history import History, IterationInfo, Reporter
from ..optimize.mma import MMA
from ..optimize.oc import OC
from ..optimize.resume import check_resume_arguments, start
from ._petsc import petsc_available

__all__ = ["minimize_compliance", "TopologyResult", "oc_step"]

_log = logging.getLogger("femopt.distributed")

#: the solve's parts, from DistributedProblem.timings: (name in TopologyResult.timings, key)
_SOLVE_PHASES = (("assembly", "assembly_kernels"), ("insertion", "assembly_insert"),
                 ("ksp_setup", "solver_setup"), ("ksp_solve", "solve"))


@dataclass
class TopologyResult:
    """Outcome of :func:`minimize_compliance` (the same on every rank).

    Attributes:
        x: the final design on the cells of ``problem.mesh`` (after the last update): the
            whole mesh's ``(n_cells,)`` in its cell order, on every rank — or, when the
            problem is set up on a mesh piece, the piece's cells only. Passive cells hold
            1 (solid) / 0 (void), also on the serial route.
        density: its filtered densities (passive cells at 1 / 0), on the same cells.
        compliance: the compliance of the last evaluated design.
        volume_fraction: Σ v ρ / Σ v of ``density``.
        iterations, status, success, message, history: as :class:`~femopt.optimize.OptimizeResult`.
        timings: per iteration, seconds of ``solve`` (assembly + KSP), ``gradient``,
            ``filter``, ``update`` and ``total``, the solve's parts ``assembly``,
            ``insertion``, ``ksp_setup``, ``ksp_solve``, and the KSP ``ksp_iterations``
            (this run's iterations only; empty on the serial route).
        ranks: the number of MPI ranks (0: femopt's serial route, no PETSc).
        cells: the whole mesh's ids of the cells ``x`` and ``density`` are given on
            (``arange(n_cells)`` unless the problem is set up on a mesh piece).
    """

    x: np.ndarray
    density: np.ndarray
    compliance: float
    volume_fraction: float
    iterations: int
    status: str
    success: bool
    message: str
    history: History
    timings: list = field(default_factory=list)
    ranks: int = 1
    cells: np.ndarray | None = None


def _optimizer(method):
    if isinstance(method, (OC, MMA)):
        return method
    if isinstance(method, str) and method.lower() in ("oc", "mma"):
        return OC() if method.lower() == "oc" else MMA()
    raise InputError(f"method must be 'oc', 'mma', an OC(...) or an MMA(...), got {method!r}")


def oc_step(optimizer: OC, x, df, dg, volume) -> np.ndarray:
    """femopt's OC update (bounds 0..1) on a rank's own variables; ``volume(x_new)`` is
    the global constraint value (collective), so the bisection agrees on every rank."""
    step = optimizer.move * 1.0
    low, high = np.maximum(0.0, x - step), np.minimum(1.0, x + step)
    descent = np.maximum(0.0, -df) / dg
    return optimizer.bisect(x, descent, low, high, volume)


def _on_root(layout, action):
    """Run ``action()`` on rank 0; every rank learns whether it failed (and raises)."""
    value, error = None, None
    if layout.rank == 0:
        try:
            value = action()
        except Exception as caught:  # re-raised below, after the other ranks know
            error = caught
    if layout.agree(1 if error is not None else 0):
        if error is not None:
            raise error
        raise OptimizationError("rank 0 failed (its error names the reason)")
    return value


def minimize_compliance(problem, *, fraction: float, radius: float, interpolation=None, parameter: str = "E",
                        method="oc", max_iterations: int = 200, tol_change: float = 0.01,
                        tol_feasibility: float = 1e-3, checkpoint=None, resume=False, check_fingerprint: bool = True,
                        report_every: int = 1, verbose: bool | None = None, solver: str = "cg", rtol: float = 1e-8,
                        output=None, solid=None, void=None) -> TopologyResult:
    """Minimize compliance subject to a volume fraction, with a density filter.

    Args:
        problem: a femopt :class:`~femopt.Problem` (set up identically on every rank, or
            on each rank's mesh piece: ``femopt.distributed.box`` / ``cut``) or a
            :class:`~femopt.distributed.DistributedProblem` of it; linear physics whose
            stiffness is linear in ``parameter``, homogeneous supports, fixed loads.
        fraction: volume fraction bound; the design starts uniform at it.
        radius: density filter radius in mesh units.
        interpolation: ``SIMP(...)`` (default penalty 3, E0 = 1, Emin = 1e-9) or ``RAMP(...)``.
        parameter: the per-cell parameter set by the interpolation (``"E"``; ``"k"`` for heat).
        method: ``"oc"`` (default), ``"mma"``, or an ``OC(...)`` / ``MMA(...)`` instance.
        max_iterations, tol_change, tol_feasibility: as :func:`femopt.optimize.minimize`.
        checkpoint, resume, check_fingerprint: as :func:`femopt.optimize.minimize`; the
            file is written by rank 0 and read by every rank.
        report_every, verbose: progress lines (rank 0 only).
        solver, rtol: the DistributedProblem's KSP when ``problem`` is a Problem.
        output: a ``.pvtu`` path: the final density and the last displacement are
            written there for ParaView (:func:`~femopt.distributed.output.write_pvtu`;
            a ``.vtu`` on the serial route).
        solid, void: passive cells, held at density 1 / 0 and not designed, as
            :class:`~femopt.design.DensityDesign`'s: a predicate on cell centroids (each
            rank applies it to its cells: the portable form), a cell tag name, or a
            boolean mask / ids over the cells of ``problem.mesh`` (on a piece, the
            piece's cells). The volume constraint counts them (solid ones as material);
            the grey level and max|Δx| are over the active cells.

    Raises:
        InputError: bad arguments (named), on every rank alike — also a cell both solid
            and void, or no active cell; CheckpointError: as ``minimize``.
    """
    check_resume_arguments(checkpoint, resume, check_fingerprint)
    if max_iterations < 1:
        raise InputError(f"max_iterations must be >= 1, got {max_iterations}")
    optimizer = _optimizer(method)
    if not hasattr(problem, "numbering"):                 # a femopt Problem, not a DistributedProblem
        if not petsc_available():
            from .serial_topology import serial_minimize_compliance

            _log.info("petsc4py is not installed: femopt's serial route")
            return serial_minimize_compliance(problem, fraction, radius, interpolation, parameter, optimizer,
                                              max_iterations, tol_change, tol_feasibility, checkpoint, resume,
                                              check_fingerprint, report_every, verbose, output, solid=solid,
                                              void=void)
        from .problem import DistributedProblem

        problem = DistributedProblem(problem, solver=solver, rtol=rtol)
    from .topology import DistributedCompliance

    compliance = DistributedCompliance(problem, radius=radius, fraction=fraction, interpolation=interpolation,
                                       parameter=parameter, solid=solid, void=void)
    root = compliance.layout.rank == 0
    with progress_output(verbose if root else False):
        return _run(compliance, optimizer, max_iterations, tol_change, tol_feasibility, checkpoint, resume,
                    check_fingerprint, report_every, output)


def _meta(compliance, optimizer):
    name, settings = type(optimizer).__name__, optimizer.options()
    n = compliance.layout.n_cells
    run = {"method": name, "design variables": str(compliance.passive.counts[2] if compliance.passive.any else n),
           "constraints": "1", "bounds": "[0, 1]", "objective": "DistributedCompliance"}
    run.update({f"option {k}": describe(v) for k, v in sorted(settings.items())})
    dp = compliance.problem
    own = {"compliance": f"parameter {compliance.parameter!r}, interpolation {describe(compliance.interpolation)}, "
                         f"filter radius {describe(compliance.filter.radius)}, volume fraction "
                         f"{describe(compliance.fraction)}",
           "linear solver": f"{dp.solver}, rtol {describe(dp.tolerances['rtol'])}",
           **compliance.passive.fingerprint()}
    if compliance.layout.on_pieces:
        from .fingerprint import piece_fingerprint

        described = piece_fingerprint(dp, compliance.layout)
    else:
        described = problem_fingerprint(compliance.serial)
    fingerprint = merge([("run", run), ("compliance", own), ("compliance", described)])
    return {"method": name, "n": n, "m": 1, "options": settings, "fingerprint": fingerprint, "distributed": True}


def _start(layout, checkpoint, resume, meta, check_fingerprint):
    """Rank 0 prepares (and checks) the checkpoint; every rank then reads it if resuming."""
    saved = _on_root(layout, lambda: start(checkpoint, resume, meta, check_fingerprint))
    if not layout.agree(1 if saved is not None else 0):
        return None
    if layout.rank == 0:
        return saved
    from ..optimize.checkpoint import read_checkpoint

    return read_checkpoint(checkpoint)


def _run(compliance, optimizer, max_iterations, tol_change, tol_feasibility, checkpoint, resume,
         check_fingerprint, report_every, output):
    layout, dp = compliance.layout, compliance.problem
    root, n = layout.rank == 0, layout.n_cells
    meta = _meta(compliance, optimizer)
    mma = isinstance(optimizer, MMA)
    if mma:                      # each rank steps its own cells; sums over cells are reduced
        optimizer = optimizer.with_reductions(_CellSums(layout))
    active = compliance.active            # the optimizer steps these entries; passive ones stay
    lower, upper = np.zeros(int(active.sum())), np.ones(int(active.sum()))
    state = optimizer.init_state(layout.n_own, 1) if mma else {}
    x, iteration, history = compliance.initial(), 0, History(1)
    saved = _start(layout, checkpoint, resume, meta, check_fingerprint)
    if saved is not None:
        x, iteration = np.array(saved.x[layout.natural_cells]), saved.iteration
        x[compliance.passive.solid], x[compliance.passive.void] = 1.0, 0.0
        history = History.from_arrays(saved.history, 1)
        state.update({k: (np.array(v[layout.natural_cells]) if np.ndim(v) == 1 and len(v) == n else np.array(v))
                      for k, v in saved.state.items()})
        if saved.meta.get("status") == "converged":
            return _result(compliance, x, history, "converged", "already converged in the checkpoint", [], output)
    report = Reporter(report_every, max_iterations) if root else None
    status, message = "max_iterations", f"stopped after max_iterations = {max_iterations}"
    timings = []
    while iteration < max_iterations:
        t0 = time.perf_counter()
        before = dict(compliance.timings)
        f, df, g, dg = compliance(x)
        rho = compliance.last["rho"]
        t_update = time.perf_counter()
        x_next = x.copy()
        if mma:
            x_next[active] = _active_step(optimizer, iteration, x, Evaluation(f, df, np.array([g]), dg[None, :]),
                                          lower, upper, state, active)
        else:
            x_next[active] = oc_step(optimizer, x[active], df[active], dg[active], compliance.active_volume)
        t_update = time.perf_counter() - t_update
        change = layout.max(float(np.max(np.abs(x_next - x))) if x.size else 0.0)
        grey = compliance.grey_level(rho)
        seconds = layout.max(time.perf_counter() - t0)
        info = IterationInfo(iteration, x, f, np.array([g]), change, grey, seconds)
        done = g <= tol_feasibility and change <= tol_change
        history.append(info)
        x, iteration = x_next, iteration + 1
        if done:
            status, message = "converged", f"max|dx| = {change:.4g} <= {tol_change}"
        spent = {k: layout.max(compliance.timings.get(k, 0.0) - before.get(k, 0.0)) for k in ("solve", "gradient",
                                                                                               "filter")}
        spent.update({name: layout.max(dp.timings.get(key, 0.0)) for name, key in _SOLVE_PHASES})
        timings.append(dict(spent, update=layout.max(t_update), total=seconds, ksp_iterations=int(dp.iterations)))
        if checkpoint is not None:       # the design and MMA's per-cell state, gathered in cell order
            x_all = layout.gather(x, root_only=True)
            state_all = {k: (layout.gather(v, root_only=True) if np.ndim(v) == 1 else v) for k, v in state.items()}
            _on_root(layout, lambda: write_checkpoint(checkpoint, Checkpoint(
                x_all, iteration, state_all, history.as_arrays(),
                dict(meta, status="converged" if done else "running"))))
        if root:
            report(info)
        if done:
            break
    result = _result(compliance, x, history, status, message, timings, output)
    return report.finish(result) if root else result


def _result(compliance, x, history, status, message, timings, output):
    layout = compliance.layout
    rho = compliance.density(x)
    volume = layout.sum(float(compliance.filter.volumes @ rho)) / layout.sum(float(compliance.filter.volumes.sum()))
    if output is not None:
        from .output import write_pvtu

        point = {}
        if compliance.problem.solution is not None:
            c = compliance.problem.problem.space.n_components
            point["displacement"] = compliance.problem.local_field().reshape(-1, c)
        write_pvtu(output, compliance.problem, cell_data={"density": rho, "design": x}, point_data=point)
    last = float(history.objective[-1]) if len(history) else float("nan")
    cells = layout.natural_cells
    if not layout.on_pieces:             # on pieces the result stays on the rank's cells
        x, rho, cells = layout.gather(x), layout.gather(rho), np.arange(layout.n_cells)
    return TopologyResult(x=x, density=rho, compliance=last, volume_fraction=volume, cells=cells,
                          iterations=len(history), status=status, success=status == "converged", message=message,
                          history=history, timings=timings, ranks=layout.size)


def _active_step(optimizer, iteration, x, evaluation, lower, upper, state, active):
    """MMA's step on the active entries of the own cells; its per-cell state is kept over
    all own cells (passive entries 0), as the checkpoint gathers it."""
    per_cell = [k for k, v in state.items() if np.ndim(v) == 1]
    part = {k: (v[active] if k in per_cell else v) for k, v in state.items()}
    step = Evaluation(evaluation.f, evaluation.df[active], evaluation.g, evaluation.dg[:, active])
    x_active = optimizer.step(iteration, x[active], step, lower, upper, part, None)
    for k, v in part.items():
        if k in per_cell:
            full = np.zeros(x.size)
            full[active] = v
            v = full
        state[k] = v
    return x_active


class _CellSums:
    """MMA's reductions over the design variables when each rank holds its own cells."""

    def __init__(self, layout):
        self.layout = layout

    def sum(self, local):
        return self.layout.sum_array(local)

    def max(self, local: float) -> float:
        return self.layout.max(local)
