"""Checkpoint schedules for an adjoint that runs backward in time.

A transient forward problem computes the states u_0 → u_1 → … → u_n, one forward step at
a time; forward step k takes u_{k-1} to u_k. Its adjoint runs the other way: adjoint step
k (k = n, n-1, …, 1) carries the adjoint variable across forward step k and needs **both
ends of that step, u_{k-1} and u_k** (for the theta method the residual of step k couples
u_k and u_{k-1}: the adjoint solve at step k linearizes at u_k and the step's parameter
derivative is evaluated at both). Keeping every state costs n + 1 states of memory;
a schedule trades memory for recomputed forward steps. Schedules here are plain action
lists: they know nothing about finite elements.

What a consumer (a transient adjoint driver) holds and does
----------------------------------------------------------
It holds a *current* state (at the start: the initial state u_0), a *held* state (at the
start: none) and snapshots labelled by step, and runs the actions in order:

* ``Advance(start, stop)`` — the current state is u_start; run the forward stepper to
  u_stop (``stop > start``) and make it the current state, dropping the states between.
* ``Store(step, where)`` — the current state is u_step; keep it as snapshot ``step``
  (``where``: ``"memory"`` or ``"disk"``). A stepper that returns new arrays instead of
  writing into its input lets the snapshot share the current state's memory.
* ``Restore(step)`` — make snapshot ``step`` the current state; the snapshot stays.
* ``Forget(step)`` — drop snapshot ``step``.
* ``Hold(step)`` — the current state is u_step; make it the held state, in place of the
  one held before (the later end of the next adjoint step).
* ``AdjointStep(step)`` — adjoint step ``step``: the held state is u_step, the current
  state is u_{step-1}. Afterwards u_step is never needed again: the held slot is empty.
* ``Finish()`` — the adjoint is complete; drop everything (the schedules below have
  forgotten every snapshot by then).

Guarantees of every schedule below (checked by :func:`~.checkpoint_simulation.simulate`): the first actions are
the *forward sweep*, Advances from u_0 to u_n with no Restore, so every state appears
there once and in order (accumulate time-integrated functionals there); adjoint steps
come once each, in the order n, n-1, …, 1, each with the two states it needs; no more than
``Schedule.max_snapshots`` snapshots exist at once, and at most two states besides the
snapshots (the current and the held one).

Cost of the binomial schedule
-----------------------------
Obtaining the states u_n, u_{n-1}, …, u_0 in that order (the held state supplies the
other end of each adjoint step) is the reversal of a chain of l = n + 1 states studied by
Griewank (1992) and Griewank & Walther (2000, "Algorithm 799: revolve", ACM TOMS 26).
With s snapshots (u_0's included), β(s, t) = C(s + t, s) and the repetition number t, the
integer with β(s, t - 1) < n + 1 ≤ β(s, t), the least number of forward steps (the forward
sweep included) is

    W(n, s) = t (n + 1) − β(s + 1, t − 1),

reached by the recursive binomial schedule of :class:`Revolve`. Example: n = 1000,
s = 20 gives t = 3 and W = 3003 − 253 = 2750 forward steps, 2.75 forward sweeps. In the
textbook setting the adjoint step re-runs its own forward step (it needs the step's
internals), which costs n more: 2747 + 1000 = 3747 for that example; an adjoint step that
needs only the two end states finds the later one held and skips that re-run.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Iterable, Iterator, Union

from ..errors import InputError

__all__ = ["Advance", "Store", "Restore", "Forget", "Hold", "AdjointStep", "Finish", "Schedule",
           "StoreAll", "Revolve", "revolve_forward_steps"]

PLACES = ("memory", "disk")


@dataclass(frozen=True)
class Advance:
    """Run the forward stepper from the current state u_start to u_stop (stop > start)."""
    start: int
    stop: int


@dataclass(frozen=True)
class Store:
    """Keep the current state u_step as snapshot ``step``, in ``"memory"`` or on ``"disk"``."""
    step: int
    where: str = "memory"

    def __post_init__(self):
        if self.where not in PLACES:
            raise InputError(f"Store(where={self.where!r}): expected one of {PLACES}")


@dataclass(frozen=True)
class Restore:
    """Make snapshot ``step`` the current state (the snapshot stays)."""
    step: int


@dataclass(frozen=True)
class Forget:
    """Drop snapshot ``step``."""
    step: int


@dataclass(frozen=True)
class Hold:
    """Make the current state u_step the held state: the later end of adjoint step ``step``."""
    step: int


@dataclass(frozen=True)
class AdjointStep:
    """Adjoint step across forward step ``step`` (u_{step-1} → u_step), backward: needs the
    held state u_step and the current state u_{step-1}; releases the held state."""
    step: int


@dataclass(frozen=True)
class Finish:
    """The adjoint is complete; the consumer may drop every state."""


Action = Union[Advance, Store, Restore, Forget, Hold, AdjointStep, Finish]


def _whole(value, name: str, minimum: int) -> int:
    """``value`` as an int >= minimum, or an InputError naming it."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise InputError(f"{name} must be a whole number >= {minimum}, got {value!r} "
                         f"({type(value).__name__})") from None
    if number < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {number}")
    return number


def _beta(snapshots: int, repetitions: int) -> int:
    """β(s, t) = C(s + t, s): the longest chain of states s snapshots reverse with each
    forward step run at most t times; 0 for t < 0."""
    return math.comb(snapshots + repetitions, snapshots) if repetitions >= 0 else 0


def _repetitions(length: int, snapshots: int) -> float:
    """The repetition number: the least t with β(snapshots, t) >= length (inf when no
    snapshot is left and more than one state must be visited)."""
    if length <= 1:
        return 0
    if snapshots == 0:
        return math.inf
    if snapshots == 1:
        return length - 1
    t, beta = 0, 1
    while beta < length:
        t += 1
        beta = beta * (snapshots + t) // t
    return t


def _binomial_cost(length: int, snapshots: int) -> int:
    """Least forward steps to visit a chain of ``length`` states last to first, starting at
    its first state (stored) with ``snapshots`` snapshots: t·length − β(s + 1, t − 1)."""
    t = _repetitions(length, snapshots)
    return t * length - _beta(snapshots + 1, t - 1)


def revolve_forward_steps(n_steps: int, snapshots: int) -> int:
    """Least number of forward steps (the forward sweep included) of an adjoint of
    ``n_steps`` steps with ``snapshots`` snapshots (u_0's included), each adjoint step
    needing the two ends of its forward step (see the module docstring):

        W(n, s) = t (n + 1) − β(s + 1, t − 1),   β(s, t) = C(s + t, s),
        t the integer with β(s, t − 1) < n + 1 ≤ β(s, t)

    (Griewank & Walther 2000, applied to the n + 1 states). W = n when s >= n (every state
    kept), W = n (n + 1) / 2 when s = 1; W(1000, 20) = 2750.
    """
    n_steps = _whole(n_steps, "n_steps", 1)
    snapshots = _whole(snapshots, "snapshots", 1)
    return _binomial_cost(n_steps + 1, snapshots)


def _first_advance(length: int, snapshots: int) -> int:
    """Optimal number of steps to advance from the first of ``length`` states (length >= 2,
    snapshots >= 1) before storing the next snapshot.

    The cost of advancing m steps is f(m) = m + W'(length − m, s − 1) + W'(m, s), W' the
    chain cost; W'(x, s) − W'(x − 1, s) is the repetition number of x, so f(m + 1) − f(m) =
    1 + t_s(m + 1) − t_{s-1}(length − m) is nondecreasing in m: the least m where it is
    >= 0 is a minimizer, found by bisection."""
    if snapshots == 1:
        return length - 1
    low, high = 1, length - 1
    while low < high:
        middle = (low + high) // 2
        if 1 + _repetitions(middle + 1, snapshots) >= _repetitions(length - middle, snapshots - 1):
            high = middle
        else:
            low = middle + 1
    return low


def _visit(step: int, n_steps: int) -> Iterator[Action]:
    """Actions when the current state is u_step and the adjoint has reached it."""
    if step < n_steps:
        yield AdjointStep(step + 1)
    if step > 0:
        yield Hold(step)


@dataclass(frozen=True)
class Schedule:
    """The actions of one strategy for ``n_steps`` steps; iterating yields them afresh.

    Attributes:
        n_steps: number of forward (and adjoint) steps n.
        forward_steps: forward steps run in all, the forward sweep's n included.
        max_snapshots: most snapshots that exist at once.
        recomputed_steps: ``forward_steps − n_steps``.
    """
    strategy: Union["StoreAll", "Revolve"]
    n_steps: int
    forward_steps: int
    max_snapshots: int

    @property
    def recomputed_steps(self) -> int:
        return self.forward_steps - self.n_steps

    def __iter__(self) -> Iterator[Action]:
        return self.strategy._actions(self.n_steps)


@dataclass(frozen=True)
class StoreAll:
    """Keep every state: one forward sweep storing u_0 … u_{n-1}, then n adjoint steps; n
    forward steps, n snapshots (``where="disk"``: in a temporary folder)."""
    where: str = "memory"

    def __post_init__(self):
        if self.where not in PLACES:
            raise InputError(f"StoreAll(where={self.where!r}): expected one of {PLACES}")

    def schedule(self, n_steps: int) -> Schedule:
        """The actions for ``n_steps`` steps (see the module docstring for their meaning)."""
        n_steps = _whole(n_steps, "n_steps", 1)
        return Schedule(self, n_steps, forward_steps=n_steps, max_snapshots=n_steps)

    def _actions(self, n_steps: int) -> Iterator[Action]:
        for step in range(n_steps):
            yield Store(step, self.where)
            yield Advance(step, step + 1)
        yield from _visit(n_steps, n_steps)
        for step in range(n_steps - 1, -1, -1):
            yield Restore(step)
            yield from _visit(step, n_steps)
            yield Forget(step)
        yield Finish()


@dataclass(frozen=True)
class Revolve:
    """The binomial checkpointing schedule of Griewank & Walther ("revolve"): the least
    forward steps, :func:`revolve_forward_steps`, with at most ``snapshots`` snapshots in
    memory (u_0's included; ``snapshots >= n`` keeps every state like :class:`StoreAll`).

    Each level advances from its stored first state, stores the state it reaches, reverses
    the later part with one snapshot fewer, then restores its first state and reverses the
    earlier part; the advance is chosen by the repetition numbers (see ``_first_advance``).
    ``where="disk"`` keeps the snapshots in a temporary folder instead (memory then holds
    two states whatever the number of snapshots).
    """
    snapshots: int
    where: str = "memory"

    def __post_init__(self):
        object.__setattr__(self, "snapshots", _whole(self.snapshots, "Revolve(snapshots)", 1))
        if self.where not in PLACES:
            raise InputError(f"Revolve(where={self.where!r}): expected one of {PLACES}")

    def schedule(self, n_steps: int) -> Schedule:
        """The actions for ``n_steps`` steps (see the module docstring for their meaning)."""
        n_steps = _whole(n_steps, "n_steps", 1)
        return Schedule(self, n_steps, forward_steps=revolve_forward_steps(n_steps, self.snapshots),
                        max_snapshots=min(self.snapshots, n_steps))

    def _actions(self, n_steps: int) -> Iterator[Action]:
        # A task (first, last, snapshots, stored): the current state is u_first (a snapshot
        # when stored); visit u_last … u_first with that many snapshots, u_first's included.
        # An explicit stack: with many snapshots the recursion is as deep as n.
        yield Store(0, self.where)
        tasks: list = [(0, n_steps, self.snapshots, True)]
        while tasks:
            task = tasks.pop()
            if isinstance(task, Restore):
                yield task
                continue
            first, last, snapshots, stored = task
            if first == last:
                yield from _visit(first, n_steps)
                if stored:
                    yield Forget(first)
                continue
            stop = first + _first_advance(last - first + 1, snapshots)
            yield Advance(first, stop)
            if stop < last:
                yield Store(stop, self.where)
            tasks.append((first, stop - 1, snapshots, True))
            tasks.append(Restore(first))
            tasks.append((stop, last, snapshots - 1, stop < last))
        yield Finish()
