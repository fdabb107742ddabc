"""Ctrl-C during an optimization: finish the iteration, then stop cleanly.

While ``minimize`` runs, the first Ctrl-C (SIGINT) does not raise: it is recorded and
logged ("stopping after this iteration; Ctrl-C again to stop at once"), the iteration
under way is completed, recorded and checkpointed, and ``minimize`` returns the result
so far with ``status="interrupted"``. Raising at once is what Python does by default,
but the exception would often surface inside a JAX callback or a SciPy routine, which
turn it into an unrelated error (JAX reports "CpuCallback error ... KeyboardInterrupt"
as a ValueError) and lose the iteration. A second Ctrl-C raises KeyboardInterrupt at
once; ``minimize`` then also returns ``status="interrupted"`` (whatever the exception
became on its way out), and the checkpoint holds the last completed iteration.

Only the main thread can install signal handlers, and an application that installed its
own SIGINT handler keeps it: then Ctrl-C behaves as that handler decides.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading

__all__ = ["StopRequest", "stop_requests", "interrupted_message"]

_log = logging.getLogger("femopt.optimize")


class StopRequest:
    """How many times Ctrl-C was pressed during the run (0: never)."""

    def __init__(self):
        self.presses = 0
        self.holding = False

    @property
    def requested(self) -> bool:
        return self.presses > 0

    @contextlib.contextmanager
    def hold(self):
        """Record presses without raising for the duration (an iteration being recorded
        and checkpointed is finished whole), then raise if Ctrl-C came twice."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.presses >= 2:
            raise KeyboardInterrupt

    def press(self, signum=None, frame=None) -> None:
        self.presses += 1
        if self.holding:
            return
        if self.presses == 1:
            _log.warning("Ctrl-C: stopping after this iteration (its checkpoint is written); press Ctrl-C "
                         "again to stop at once")
            return
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_requests():
    """Yield a :class:`StopRequest` that SIGINT presses for the duration (see the module
    docstring); the previous handler is restored afterwards."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    try:
        previous = signal.getsignal(signal.SIGINT)
    except ValueError:
        yield request
        return
    if previous is not signal.default_int_handler:   # an application handler: leave it alone
        yield request
        return
    signal.signal(signal.SIGINT, request.press)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupted_message(iterations: int, checkpoint) -> str:
    """The sentence the interrupted run's log line and result carry."""
    if iterations == 0:
        return "interrupted before the first iteration was complete; nothing was saved"
    if checkpoint is None:
        return (f"interrupted after {iterations} iterations; no checkpoint was asked for (give "
                "checkpoint='run.npz' to be able to resume)")
    return (f"interrupted after {iterations} iterations; checkpoint at {checkpoint}; rerun with "
            "resume=True to continue")
