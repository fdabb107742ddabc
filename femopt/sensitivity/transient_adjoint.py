"""Gradients of transient runs: the discrete adjoint backward in time, driven by a
checkpoint schedule.

:func:`transient_gradient` runs the forward steps a schedule asks for (storing,
restoring and recomputing states), lets the trajectory functional observe each level of
the forward sweep, and takes the adjoint steps n … 1 with the states the schedule
hands it (:class:`~.transient_levels.LevelAdjoint` holds the algebra). Every forward step
is a deterministic function of its starting state, so a recomputed state is the stored
one bit for bit and every schedule gives the same gradient bit for bit.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, InternalError
from ..functionals.trajectory import TrajectoryFunctional
from .checkpointing import AdjointStep, Advance, Finish, Forget, Hold, Restore, Revolve, StoreAll, Store
from .transient_levels import LevelAdjoint, transient_names

__all__ = ["TransientGradient", "AdjointRecord", "transient_gradient", "run_schedule"]

_log = logging.getLogger("femopt.sensitivity")


@dataclass
class AdjointRecord:
    """What a transient gradient cost.

    Attributes:
        n_steps: time steps n.
        forward_steps: forward steps run in all (the forward sweep's n included).
        adjoint_steps: adjoint steps (n).
        max_states: most states held at once: snapshots in memory, the current and the
            held state (counted on the arrays themselves).
        max_snapshots: most snapshots at once (memory and disk).
        factorizations: step matrices factorized (forward and adjoint).
        solves: adjoint linear solves.
        forward_seconds, adjoint_seconds: wall time of the forward steps and of the rest.
        strategy: the checkpointing strategy.
    """

    n_steps: int
    forward_steps: int = 0
    adjoint_steps: int = 0
    max_states: int = 0
    max_snapshots: int = 0
    factorizations: int = 0
    solves: int = 0
    forward_seconds: float = 0.0
    adjoint_seconds: float = 0.0
    strategy: object = None


@dataclass
class TransientGradient:
    """Value of a trajectory functional and its gradient by name (see
    :func:`transient_gradient` for the shapes), with the :class:`AdjointRecord`."""

    value: float
    grads: dict
    record: AdjointRecord = field(repr=False, default=None)

    def __getitem__(self, name):
        return self.grads[name]


class _Snapshots:
    """Snapshots by level, in memory or as .npy files in a temporary folder."""

    def __init__(self):
        self.memory: dict[int, np.ndarray] = {}
        self.disk: dict[int, str] = {}
        self._folder = None

    def store(self, level, u, where):
        if where == "memory":
            self.memory[level] = u
            return
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="femopt-checkpoints-")
        path = os.path.join(self._folder.name, f"state-{level}.npy")
        np.save(path, u)
        self.disk[level] = path

    def restore(self, level):
        if level in self.memory:
            return self.memory[level]
        return np.load(self.disk[level])

    def forget(self, level):
        if self.memory.pop(level, None) is None:
            os.remove(self.disk.pop(level))

    def __len__(self):
        return len(self.memory) + len(self.disk)

    def close(self):
        if self._folder is not None:
            self._folder.cleanup()


def run_schedule(setup, evaluator, backward, strategy, record: AdjointRecord) -> None:
    """Run ``strategy``'s actions for ``setup``: forward steps with ``setup.stepper``,
    ``evaluator.observe`` on each level of the forward sweep, ``backward.step`` /
    ``backward.initial_level`` for the adjoint steps; counts into ``record``."""
    stepper, n = setup.stepper, setup.n_steps
    schedule = strategy.schedule(n)
    snapshots = _Snapshots()
    current, carried, held = setup.u0_free, None, None
    swept = 0
    evaluator.observe(0, setup.full(0, current), setup.data.parameters(0))
    try:
        for action in schedule:
            if isinstance(action, Advance):
                start = time.perf_counter()
                for k in range(action.start + 1, action.stop + 1):
                    step = stepper.step(k, current, carried)
                    current, carried = step.u, step.residual
                    record.forward_steps += 1
                    if k > swept:
                        evaluator.observe(k, setup.full(k, current), setup.data.parameters(k))
                        swept = k
                record.forward_seconds += time.perf_counter() - start
            elif isinstance(action, Store):
                snapshots.store(action.step, current, action.where)
            elif isinstance(action, Restore):
                current, carried = snapshots.restore(action.step), None
            elif isinstance(action, Forget):
                snapshots.forget(action.step)
            elif isinstance(action, Hold):
                held = current
            elif isinstance(action, AdjointStep):
                backward.step(action.step, held)
                record.adjoint_steps += 1
                held = None
                if action.step == 1:
                    backward.initial_level(current)
            elif isinstance(action, Finish):
                break
            else:
                raise InternalError(f"unknown checkpointing action {action!r}")
            live = {id(a) for a in snapshots.memory.values()} | {id(current)} | ({id(held)} if held is not None
                                                                                 else set())
            record.max_states = max(record.max_states, len(live))
            record.max_snapshots = max(record.max_snapshots, len(snapshots))
    finally:
        snapshots.close()


def _forward_sweep(setup, evaluator, record: AdjointRecord) -> None:
    """Every step once, observed, keeping two states."""
    current, carried = setup.u0_free, None
    evaluator.observe(0, setup.full(0, current), setup.data.parameters(0))
    start = time.perf_counter()
    for k in range(1, setup.n_steps + 1):
        step = setup.stepper.step(k, current, carried)
        current, carried = step.u, step.residual
        evaluator.observe(k, setup.full(k, current), setup.data.parameters(k))
    record.forward_steps = setup.n_steps
    record.max_states = 2
    record.forward_seconds = time.perf_counter() - start
    record.factorizations = setup.stepper.n_factorizations


def _strategy(checkpoints):
    if checkpoints is None:
        return StoreAll()
    if isinstance(checkpoints, (StoreAll, Revolve)):
        return checkpoints
    raise InputError(f"checkpoints must be femopt.StoreAll() or femopt.Revolve(snapshots), got "
                     f"{type(checkpoints).__name__}")


def transient_gradient(functional, transient, wrt=None, *, times=None, t_end=None, steps=None, initial,
                       loads=None, prescribed=None, params=None, checkpoints=None) -> TransientGradient:
    """Value and gradient of a trajectory functional of a transient run, by the discrete
    adjoint of the theta method backward in time.

    Args:
        functional: a :class:`~femopt.functionals.trajectory.TrajectoryFunctional`
            (``time_integral(f)``, ``final_value(f)``, ``sensor_misfit(...)``, ...).
        transient: the :class:`~femopt.TransientProblem`.
        wrt: a name or names (default: all): the steady problem's parameters (material
            constants and fields, k(T) constants, loads, ``<name>.h`` / ``<name>.ambient``
            of a convection), ``"capacity"``, ``"initial"`` (the initial field),
            ``"prescribed"`` (prescribed values at every level) and ``"coordinates"``.
        times, t_end, steps, initial, loads, prescribed, params: the run, as for
            :meth:`TransientProblem.solve`.
        checkpoints: ``StoreAll()`` (default: every state in memory) or
            ``Revolve(snapshots)`` (binomial checkpointing: at most ``snapshots`` states
            stored, the fewest forward steps recomputed; ``Revolve(s, where="disk")``
            keeps them in a temporary folder).

    Returns:
        :class:`TransientGradient`; ``grads[name]`` has the shape of the quantity: a
        parameter constant in time its value's shape; a parameter given in ``loads`` (it
        varies in time) ``(n_levels, ...)``, one gradient per level's value;
        ``"initial"`` the field's shape (zero at prescribed dofs: the run overwrites them);
        ``"prescribed"`` ``(n_levels, n_prescribed)`` (ordered like
        ``problem.partition.prescribed``); ``"coordinates"`` ``(n_nodes, dim)``.

    Raises:
        InputError: bad functional, names or run inputs.
        NewtonError: a forward step did not converge.
    """
    if not isinstance(functional, TrajectoryFunctional):
        raise InputError(f"expected a trajectory functional (fo.functionals.time_integral(f), final_value(f), "
                         f"sensor_misfit(...)), got {type(functional).__name__}; a steady functional f is "
                         "wrapped by time_integral(f) or final_value(f)")
    names = transient_names(transient, wrt)
    strategy = _strategy(checkpoints)
    setup = transient.prepare(times, initial=initial, t_end=t_end, steps=steps, loads=loads,
                              prescribed=prescribed, params=params)
    record = AdjointRecord(n_steps=setup.n_steps, strategy=strategy)
    evaluator = functional.start(setup, deferred=bool(names))
    start = time.perf_counter()
    if not names:                            # the value only: one forward sweep
        _forward_sweep(setup, evaluator, record)
        return TransientGradient(evaluator.value(), {}, record)
    backward = LevelAdjoint(setup, evaluator, names)
    run_schedule(setup, evaluator, backward, strategy, record)
    grads = backward.gradients()
    record.adjoint_seconds = time.perf_counter() - start - record.forward_seconds
    record.factorizations = setup.stepper.n_factorizations + backward.n_factorizations
    record.solves = backward.n_solves
    value = evaluator.value()
    _log.info("transient gradient: %d steps, %d forward steps, at most %d states held, %.2f s forward, "
              "%.2f s adjoint", record.n_steps, record.forward_steps, record.max_states, record.forward_seconds,
              record.adjoint_seconds)
    return TransientGradient(value, grads, record)
