"""Running a checkpoint schedule on symbolic states: what it costs and whether each action
is legal (the checks the schedules of :mod:`.checkpointing` are tested with)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..errors import InputError
from .checkpointing import Action, AdjointStep, Advance, Finish, Forget, Hold, Restore, Store, _whole

__all__ = ["SimulationResult", "simulate"]


@dataclass(frozen=True)
class SimulationResult:
    """What a schedule did, run on symbolic states.

    Attributes:
        n_steps: number of steps n.
        forward_steps: forward steps run in all (the forward sweep's n included).
        max_snapshots: most snapshots at once (memory and disk).
        max_disk_snapshots: most snapshots on disk at once.
        max_states: most distinct states in memory at once, between actions: memory
            snapshots, the current and the held state (a state in several roles counts once).
        adjoint_order: the adjoint steps in the order they ran, ``(n, n-1, …, 1)``.
    """
    n_steps: int
    forward_steps: int
    max_snapshots: int
    max_disk_snapshots: int
    max_states: int
    adjoint_order: tuple

    @property
    def recomputed_steps(self) -> int:
        return self.forward_steps - self.n_steps


def simulate(actions: Iterable[Action], n_steps: int) -> SimulationResult:
    """Run ``actions`` on symbolic states (a state is its step number) as the consumer of
    the module docstring would, and check that each is legal: Advance from the current
    state forward within 0 … n, Store / Hold of the current state, Restore / Forget of an
    existing snapshot, no Restore before the forward sweep has reached u_n, adjoint steps
    n, n-1, …, 1 once each with the held state u_step and the current state u_{step-1},
    Finish last and only after adjoint step 1.

    Raises:
        InputError: naming the first illegal action, its index and why.
    """
    n_steps = _whole(n_steps, "n_steps", 1)
    current, held, snapshots = 0, None, {}
    reached_end, finished, next_adjoint = False, False, n_steps
    forward, max_snapshots, max_disk, max_states = 0, 0, 0, 1
    order = []
    for index, action in enumerate(actions):
        def illegal(why):
            return InputError(f"action {index}, {action!r}, is illegal: {why}")
        if finished:
            raise illegal("it follows Finish()")
        if isinstance(action, Advance):
            if action.start != current:
                raise illegal(f"the current state is u_{current}, not u_{action.start}")
            if not action.start < action.stop <= n_steps:
                raise illegal(f"expected {action.start} < stop <= {n_steps}")
            forward += action.stop - action.start
            current = action.stop
            reached_end = reached_end or current == n_steps
        elif isinstance(action, (Store, Hold)):
            if action.step != current:
                raise illegal(f"the current state is u_{current}, not u_{action.step}")
            if isinstance(action, Hold):
                held = current
            elif current in snapshots:
                raise illegal(f"snapshot {current} exists already")
            else:
                snapshots[current] = action.where
        elif isinstance(action, (Restore, Forget)):
            if action.step not in snapshots:
                raise illegal(f"there is no snapshot {action.step} (snapshots: {sorted(snapshots)})")
            if isinstance(action, Forget):
                del snapshots[action.step]
            elif not reached_end:
                raise illegal(f"the forward sweep has not reached u_{n_steps} yet")
            else:
                current = action.step
        elif isinstance(action, AdjointStep):
            if action.step != next_adjoint:
                raise illegal(f"the next adjoint step is {next_adjoint}")
            if held != action.step or current != action.step - 1:
                raise illegal(f"it needs u_{action.step} held and u_{action.step - 1} current; "
                              f"the held state is {'none' if held is None else f'u_{held}'}, "
                              f"the current state u_{current}")
            order.append(action.step)
            next_adjoint, held = next_adjoint - 1, None
        elif isinstance(action, Finish):
            if next_adjoint:
                raise illegal(f"adjoint steps {next_adjoint} … 1 have not run")
            finished = True
        else:
            raise illegal("not a checkpointing action (Advance, Store, Restore, Forget, Hold, "
                          "AdjointStep, Finish)")
        in_memory = {step for step, where in snapshots.items() if where == "memory"}
        in_memory |= {current} | ({held} if held is not None else set())
        max_snapshots = max(max_snapshots, len(snapshots))
        max_disk = max(max_disk, sum(where == "disk" for where in snapshots.values()))
        max_states = max(max_states, len(in_memory))
    if not finished:
        raise InputError(f"the schedule ended without Finish() (next adjoint step: {next_adjoint})")
    return SimulationResult(n_steps, forward, max_snapshots, max_disk, max_states, tuple(order))
