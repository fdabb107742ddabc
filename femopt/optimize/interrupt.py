"""Ctrl-C during an optimization: finish the iteration's bookkeeping, then stop cleanly.

A KeyboardInterrupt that arrives while an iteration is being recorded and its checkpoint
written is held back until the write is complete (the checkpoint then holds that
iteration whole); one that arrives while the functions are evaluated stops the run at
once, and the checkpoint keeps the last completed iteration. Either way ``minimize``
returns the result so far with ``status="interrupted"`` and logs how to resume.
"""
from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["deferred_interrupt", "interrupted_message"]


@contextlib.contextmanager
def deferred_interrupt():
    """Hold SIGINT back for the duration, then raise KeyboardInterrupt if one came. Only
    the main thread can install signal handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.getsignal(signal.SIGINT)
    except ValueError:
        yield
        return
    if previous is not signal.default_int_handler:   # an application handler: leave it alone
        yield
        return
    received = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def interrupted_message(iterations: int, checkpoint) -> str:
    """The sentence the interrupted run's log line and result carry."""
    if iterations == 0:
        return "interrupted before the first iteration was complete; nothing was saved"
    if checkpoint is None:
        return (f"interrupted after {iterations} iterations; no checkpoint was asked for (give "
                "checkpoint='run.npz' to be able to resume)")
    return (f"interrupted after {iterations} iterations; checkpoint at {checkpoint}; rerun with "
            "resume=True to continue")
