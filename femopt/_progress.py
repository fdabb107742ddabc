"""Progress lines a script shows without configuring logging.

femopt reports through :mod:`logging` only (loggers ``femopt.<layer>``). A library must
not configure logging behind the application's back, yet a newcomer's script that runs
a 200-iteration optimization should not be silent. The compromise:

* Records meant as progress (one line per optimization iteration, the start and end of
  a long factorization or solve) carry ``extra={"progress": True}`` and are logged at
  INFO.
* While :func:`progress_output` is active — ``minimize`` and ``Problem.solve`` enter it —
  and the application has configured no logging at all (no handler on the root logger
  or on ``femopt``), a temporary handler on the ``femopt`` logger writes the progress
  records (and femopt's warnings) to standard error. It is removed when the call returns.
* An application that configured logging gets the records through its own handlers and
  nothing else is added. ``verbose=False`` adds nothing; ``verbose=True`` adds the
  handler even then (a notebook whose root logger already has a handler).
"""
from __future__ import annotations

import contextlib
import logging
import sys

__all__ = ["progress_output", "PROGRESS", "ProgressFilter"]

#: ``extra=PROGRESS`` marks a log record as a progress line.
PROGRESS = {"progress": True}

_package_logger = logging.getLogger("femopt")
_depth = {"n": 0}


class ProgressFilter(logging.Filter):
    """Passes progress records and warnings (what a quiet run still shows)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or bool(getattr(record, "progress", False))


class _StderrHandler(logging.StreamHandler):
    """Writes to the *current* ``sys.stderr`` (pytest and notebooks replace it)."""

    def __init__(self):
        super().__init__()
        self.addFilter(ProgressFilter())
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # logging.StreamHandler.__init__ assigns it
        pass


def _logging_configured() -> bool:
    return bool(logging.getLogger().handlers) or any(
        not isinstance(h, _StderrHandler) for h in _package_logger.handlers)


@contextlib.contextmanager
def progress_output(verbose: bool | None = None):
    """Show femopt's progress lines on standard error for the duration (see the module
    docstring): ``None`` when the application configured no logging, ``True`` always,
    ``False`` never. Re-entrant: a solve inside ``minimize`` adds nothing more."""
    show = (not _logging_configured()) if verbose is None else bool(verbose)
    if not show or _depth["n"]:
        _depth["n"] += show
        try:
            yield
        finally:
            _depth["n"] -= show
        return
    handler, level = _StderrHandler(), _package_logger.level
    _package_logger.addHandler(handler)
    if level == logging.NOTSET or level > logging.INFO:
        _package_logger.setLevel(logging.INFO)
    _depth["n"] += 1
    try:
        yield
    finally:
        _depth["n"] -= 1
        _package_logger.removeHandler(handler)
        _package_logger.setLevel(level)
