"""Checkpoint schedules: every schedule is legal when run on symbolic states, reaches the
adjoint steps n … 1 once each in order within its snapshot budget, and costs exactly the
closed-form minimum — itself checked against the classical recurrence and against a
brute-force search over every legal action sequence for small n."""
import heapq
import math
from functools import lru_cache

import numpy as np
import pytest

from femopt.errors import InputError
from femopt.sensitivity import checkpointing as cp
from femopt.sensitivity.checkpointing import (AdjointStep, Advance, Finish, Forget, Hold, Restore, Revolve,
                                              Store, StoreAll, revolve_forward_steps)
from femopt.sensitivity.checkpoint_simulation import simulate

SMALL = [(n, s) for s in range(1, 7) for n in range(1, 61)]
LARGE = [(1000, 20), (1000, 10), (1000, 5), (1000, 50), (1000, 1000), (1000, 1500), (7, 7), (7, 100)]


def check_schedule(schedule, n, snapshot_budget):
    """Run the schedule on symbolic states and check what every schedule guarantees."""
    actions = list(schedule)
    result = simulate(actions, n)
    assert result.adjoint_order == tuple(range(n, 0, -1))
    assert result.forward_steps == schedule.forward_steps
    assert result.recomputed_steps == schedule.recomputed_steps == schedule.forward_steps - n
    assert result.max_snapshots == schedule.max_snapshots <= snapshot_budget
    assert result.max_disk_snapshots == 0
    assert result.max_states <= result.max_snapshots + 2          # + the current and the held state
    sweep = actions[:actions.index(Hold(n))]                          # the forward sweep
    assert all(isinstance(a, (Store, Advance)) for a in sweep)
    assert sum(a.stop - a.start for a in sweep if isinstance(a, Advance)) == n
    stored = set()
    for action in actions:                                            # every snapshot is forgotten
        if isinstance(action, Store):
            stored.add(action.step)
        elif isinstance(action, Forget):
            stored.remove(action.step)
    assert not stored and actions[-1] == Finish()
    return result


@pytest.mark.parametrize("n, s", SMALL + LARGE)
def test_revolve_is_legal_within_budget_and_minimal(n, s):
    schedule = Revolve(s).schedule(n)
    check_schedule(schedule, n, s)
    assert schedule.forward_steps == revolve_forward_steps(n, s)
    assert schedule.max_snapshots == min(s, n)


@pytest.mark.parametrize("n", list(range(1, 61)) + [1000])
def test_store_all_runs_each_step_once(n):
    schedule = StoreAll().schedule(n)
    result = check_schedule(schedule, n, n)
    assert (result.forward_steps, result.recomputed_steps, result.max_snapshots) == (n, 0, n)
    assert result.max_states == n + 1


@pytest.mark.parametrize("n", [1, 2, 9, 40])
def test_revolve_with_a_snapshot_per_step_is_store_all(n):
    assert list(Revolve(n).schedule(n)) == list(StoreAll().schedule(n))
    assert list(Revolve(n + 5).schedule(n)) == list(StoreAll().schedule(n))


# --- the closed form, against independent answers --------------------------------------

@lru_cache(maxsize=None)
def recurrence(length, snapshots):
    """Classical recurrence for visiting a chain of `length` states from the last to the
    first, starting at the first (stored), with `snapshots` snapshots counting it: advance
    m steps, store, do the later length - m states with one snapshot fewer, restore, do the
    earlier m states. Visiting the single current state costs 0 (the adjoint step itself
    runs no forward step); with no snapshot only a single state can be visited."""
    if length == 1:
        return 0
    if snapshots == 0:
        return math.inf
    return min(m + recurrence(length - m, snapshots - 1) + recurrence(m, snapshots)
               for m in range(1, length))


@pytest.mark.parametrize("s", range(1, 7))
def test_closed_form_solves_the_classical_recurrence(s):
    # n steps have n + 1 states: u_n, …, u_0 are needed in that order.
    for n in range(1, 61):
        assert revolve_forward_steps(n, s) == recurrence(n + 1, s), n


def brute_force_minimum(n, s):
    """Fewest forward steps over *every* legal sequence of single-step Advance, Store,
    Restore, Forget, Hold and AdjointStep actions (the rules of `simulate`), with at most s
    snapshots: Dijkstra over the consumer's states (current, held, snapshots, next adjoint
    step, forward sweep done)."""
    start = (0, -1, frozenset(), n, False)
    best = {start: 0}
    queue = [(0, start)]
    while queue:
        cost, state = heapq.heappop(queue)
        if cost > best[state]:
            continue
        current, held, snapshots, next_adjoint, swept = state
        if next_adjoint == 0:
            return cost
        moves = []
        if current < n:
            moves.append((1, (current + 1, held, snapshots, next_adjoint, swept or current + 1 == n)))
        if current not in snapshots and len(snapshots) < s:
            moves.append((0, (current, held, snapshots | {current}, next_adjoint, swept)))
        for step in snapshots:
            moves.append((0, (current, held, snapshots - {step}, next_adjoint, swept)))
            if swept:
                moves.append((0, (step, held, snapshots, next_adjoint, swept)))
        moves.append((0, (current, current, snapshots, next_adjoint, swept)))
        if held == next_adjoint and current == next_adjoint - 1:
            moves.append((0, (current, -1, snapshots, next_adjoint - 1, swept)))
        for extra, following in moves:
            if cost + extra < best.get(following, math.inf):
                best[following] = cost + extra
                heapq.heappush(queue, (cost + extra, following))
    raise AssertionError("no legal schedule found")


@pytest.mark.parametrize("n, s", [(n, s) for s in (1, 2, 3) for n in range(1, 8)] + [(9, 2), (10, 3)])
def test_closed_form_is_the_minimum_over_all_schedules(n, s):
    assert revolve_forward_steps(n, s) == brute_force_minimum(n, s)


def test_special_cases_of_the_closed_form():
    for n in range(1, 80):
        assert revolve_forward_steps(n, 1) == n * (n + 1) // 2   # restart from u_0 for every state
        assert revolve_forward_steps(n, n) == n                   # every state kept
    # β(2, 2) = 6 states (n = 5) with 2 snapshots: each step run at most twice.
    assert revolve_forward_steps(5, 2) == 2 * 6 - math.comb(4, 3)


def test_thousand_steps_twenty_snapshots():
    # n + 1 = 1001 states, β(20, 2) = 231 < 1001 <= β(20, 3) = 1771: t = 3,
    # W = 3 * 1001 - β(21, 2) = 3003 - 253 = 2750 forward steps, 2.75 forward sweeps.
    schedule = Revolve(20).schedule(1000)
    assert schedule.forward_steps == revolve_forward_steps(1000, 20) == 2750
    assert schedule.recomputed_steps == 1750
    assert simulate(schedule, 1000).forward_steps / 1000 == 2.75
    # The textbook count (an adjoint step re-runs its own forward step) for the same
    # problem is the chain of 1000 states plus those 1000 re-runs: 3747, "3.75 sweeps".
    assert revolve_forward_steps(999, 20) + 1000 == 3747


def test_counts_accept_numpy_integers():
    assert Revolve(np.int64(3)).schedule(np.int32(10)).forward_steps == revolve_forward_steps(10, 3) == 18
    assert Revolve(np.int64(3)).snapshots == 3 and type(Revolve(np.int64(3)).snapshots) is int


# --- bad input -------------------------------------------------------------------------

@pytest.mark.parametrize("snapshots, words", [(0, ">= 1, got 0"), (-2, ">= 1, got -2"),
                                              (2.5, "whole number"), (3.0, "whole number"),
                                              ("3", "whole number"), (True, "whole number"),
                                              (None, "whole number")])
def test_bad_snapshot_counts_are_refused(snapshots, words):
    with pytest.raises(InputError, match="snapshots") as caught:
        Revolve(snapshots)
    assert words in str(caught.value)
    with pytest.raises(InputError, match="snapshots"):
        revolve_forward_steps(10, snapshots)


@pytest.mark.parametrize("n_steps, words", [(0, ">= 1, got 0"), (-1, ">= 1, got -1"), (10.0, "whole number"),
                                            (np.float64(4), "whole number")])
@pytest.mark.parametrize("make", [lambda n: Revolve(3).schedule(n), lambda n: StoreAll().schedule(n),
                                  lambda n: revolve_forward_steps(n, 3), lambda n: simulate([], n)])
def test_bad_step_counts_are_refused(make, n_steps, words):
    with pytest.raises(InputError, match="n_steps") as caught:
        make(n_steps)
    assert words in str(caught.value)


def test_store_place_is_checked():
    with pytest.raises(InputError, match="'tape'.*memory.*disk"):
        Store(0, where="tape")


# --- the simulator refuses illegal schedules -------------------------------------------

GOOD = list(Revolve(2).schedule(3))


def edited(index, *replacement):
    return GOOD[:index] + list(replacement) + GOOD[index + 1:]


@pytest.mark.parametrize("actions, words", [
    (edited(1, Advance(1, 2)), "current state is u_0, not u_1"),
    (edited(1, Advance(0, 4)), "0 < stop <= 3"),
    (edited(2, Store(2)), "current state is u_1, not u_2"),
    (GOOD[:1] + [Store(0)] + GOOD[1:], "snapshot 0 exists already"),
    (edited(3, Restore(1)), "forward sweep has not reached u_3"),
    (edited(5, Restore(2)), "no snapshot 2"),
    (edited(12, Forget(0)), "no snapshot 0"),
    (edited(4), "needs u_3 held"),
    (edited(7, AdjointStep(2)), "next adjoint step is 3"),
    (edited(8, Hold(1)), "current state is u_2, not u_1"),
    (GOOD[:-3] + [Finish()], "adjoint steps 1 … 1 have not run"),
    (GOOD[:-1], "ended without Finish"),
    (GOOD + [Finish()], "follows Finish"),
    (edited(0, "store"), "not a checkpointing action"),
])
def test_simulator_refuses_illegal_actions(actions, words):
    with pytest.raises(InputError, match="illegal|ended without") as caught:
        simulate(actions, 3)
    assert words in str(caught.value)


def test_simulator_counts_disk_snapshots_apart_from_memory():
    actions = [Store(0, "disk"), Advance(0, 1), Store(1, "disk"), Advance(1, 2), Hold(2),
               Restore(1), AdjointStep(2), Hold(1), Forget(1), Restore(0), AdjointStep(1), Forget(0),
               Finish()]
    result = simulate(actions, 2)
    assert (result.max_snapshots, result.max_disk_snapshots, result.max_states) == (2, 2, 2)
    assert result.forward_steps == 2 and result.adjoint_order == (2, 1)


def test_public_names_are_exported():
    import femopt.sensitivity as sensitivity
    for name in cp.__all__:
        assert getattr(sensitivity, name) is getattr(cp, name)


def test_the_consumer_of_the_docs_gets_the_chain_rule_right():
    import re
    from pathlib import Path
    page = (Path(__file__).resolve().parents[2] / "docs" / "sensitivities.md").read_text()
    block = re.findall(r"```python\n(.*?)```", page, flags=re.S)[-1]
    namespace = {}
    exec(compile(block, "sensitivities.md", "exec"), namespace)
    states = [1.0]
    for _ in range(40):
        states.append(states[-1] - 0.01 * states[-1] ** 2)
    assert namespace["adjoint"] == pytest.approx(np.prod([1 - 0.02 * u for u in states[:-1]]), rel=1e-14)
