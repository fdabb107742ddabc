"""Starting a run that has a checkpoint: the folder is checked before the first (possibly
long) iteration, temporary files of killed writes are removed, and a checkpoint is only
resumed by the run that wrote it.

"The run that wrote it" is decided by the run's fingerprint (:func:`run_fingerprint`):
the method and its options, the design size, the bounds, the names of the objective,
constraints and schedule, and whatever their ``fingerprint()`` methods report (mesh,
supports, physics, filter, interpolation, ...; see :mod:`femopt.design.fingerprint`).
Tolerances and ``max_iterations`` are not part of it: a resumed run may ask for more
iterations or a tighter tolerance.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..design.fingerprint import describe, fingerprint_of, merge, name_of
from ..errors import CheckpointError, InputError
from .checkpoint import Checkpoint, check_writable, read_checkpoint, remove_stale_temporaries

__all__ = ["check_resume_arguments", "run_fingerprint", "differences", "start", "function_states",
           "load_function_states"]

_log = logging.getLogger("femopt.optimize")

_HISTORY = ("objective", "constraints", "change", "grey_level", "seconds")
_OVERRIDE = "pass check_fingerprint=False to resume it anyway (a WARNING lists what differs)"


def check_resume_arguments(checkpoint, resume, check_fingerprint) -> None:
    """``resume`` is True, False or ``"require"`` and needs a checkpoint path;
    ``check_fingerprint`` is a bool."""
    if not (isinstance(resume, bool) or (isinstance(resume, str) and resume == "require")):
        raise InputError(f"resume must be True, False or 'require', got {resume!r}")
    if not isinstance(check_fingerprint, bool):
        raise InputError(f"check_fingerprint must be True or False, got {check_fingerprint!r}")
    if resume and checkpoint is None:
        raise InputError(f"resume={resume!r} needs a checkpoint file: pass checkpoint='run.npz' "
                         "(the file the run writes after every iteration and resumes from)")


def _bounds(lower, upper) -> str:
    if lower.size and np.all(lower == lower[0]) and np.all(upper == upper[0]):
        return f"[{describe(lower[0])}, {describe(upper[0])}]"
    return f"lower {describe(lower)}, upper {describe(upper)}"


def run_fingerprint(fun, constraints, schedule, method: str, options: dict, n: int, lower, upper) -> dict:
    """``{what: description}`` of everything that decides a run's iterates."""
    run = {"method": method, "design variables": str(n), "constraints": str(len(constraints)),
           "bounds": _bounds(lower, upper), "objective": name_of(fun)}
    run.update({f"constraint {i}": name_of(g) for i, g in enumerate(constraints)})
    run.update({f"option {k}": describe(v) for k, v in sorted(options.items())})
    run["schedule"] = "none" if schedule is None else name_of(schedule)
    parts = [("run", run), ("objective", fingerprint_of(fun))]
    parts += [(f"constraint {i}", fingerprint_of(g)) for i, g in enumerate(constraints)]
    if schedule is not None:
        parts.append(("schedule", fingerprint_of(schedule)))
    return merge(parts)


def differences(in_file: dict, in_run: dict) -> dict:
    """``{what: (in the file, in this run)}`` for the entries that differ."""
    keys = list(in_run) + [k for k in in_file if k not in in_run]
    return {k: (in_file.get(k, "(not recorded)"), in_run.get(k, "(absent)"))
            for k in keys if in_file.get(k) != in_run.get(k)}


def _listing(diffs: dict) -> str:
    return "\n".join(f"  {what}: in the file {a!r}, in this run {b!r}" for what, (a, b) in diffs.items())


def _check(saved: Checkpoint, path, meta: dict, check_fingerprint: bool) -> None:
    n, m = meta["n"], meta["m"]
    sizes = {"design variables": (saved.meta.get("n"), n), "constraints": (saved.meta.get("m"), m)}
    hard = {k: v for k, v in sizes.items() if v[0] != v[1]}
    if saved.x.size != n:
        hard["design variables"] = (saved.x.size, n)
    if hard:
        raise CheckpointError(f"checkpoint {str(path)!r} belongs to a run of another size and cannot be "
                              f"resumed (check_fingerprint=False does not apply):\n{_listing(hard)}\n"
                              "give this run its own checkpoint file, or pass resume=False to start afresh",
                              path=path, differences=hard)
    lengths = {k: len(np.atleast_1d(saved.history.get(k, ()))) for k in _HISTORY}
    if set(lengths.values()) != {saved.iteration}:
        raise CheckpointError(f"checkpoint {str(path)!r} has an incomplete history ({lengths} entries after "
                              f"{saved.iteration} iterations; expected the columns {list(_HISTORY)}, one entry "
                              "per iteration); delete it or pass resume=False to start afresh", path=path)
    recorded = saved.meta.get("fingerprint")
    if not isinstance(recorded, dict):
        if check_fingerprint:
            raise CheckpointError(f"checkpoint {str(path)!r} has no fingerprint (written by an older femopt, "
                                  "format version 1), so nothing shows it belongs to this problem; pass "
                                  "resume=False to start afresh, or, if you are sure it is this run's, "
                                  "check_fingerprint=False to resume it unchecked", path=path)
        _log.warning("resuming %s without checking it: it has no fingerprint (older femopt)", path)
        return
    diffs = differences(recorded, meta["fingerprint"])
    if not diffs:
        return
    if check_fingerprint:
        raise CheckpointError(f"checkpoint {str(path)!r} was written by a different run; what differs:\n"
                              f"{_listing(diffs)}\nresume it with the run that wrote it, give this run "
                              f"another checkpoint file or pass resume=False to start afresh; if the "
                              f"change is intended, {_OVERRIDE}", path=path, differences=diffs)
    _log.warning("resuming %s although it was written by a different run (check_fingerprint=False); "
                 "what differs:\n%s", path, _listing(diffs))


def start(checkpoint, resume, meta: dict, check_fingerprint: bool) -> Checkpoint | None:
    """Prepare ``checkpoint`` for a run before its first iteration: the folder must be
    writable, stale temporary files of this checkpoint go; with ``resume``, read the file
    and check it against ``meta`` (``n``, ``m``, ``fingerprint``).

    Returns:
        The checkpoint to continue from, or None to start from x0.
    """
    if checkpoint is None:
        return None
    path = Path(checkpoint)
    check_writable(path)
    remove_stale_temporaries(path)
    if not resume:
        return None
    if not path.exists():
        if resume == "require":
            raise CheckpointError(f"no checkpoint at {str(path)!r} to resume (resume='require'); check the "
                                  "path, or pass resume=True to start from x0 when it is missing", path=path)
        _log.info("no checkpoint at %s; starting from x0", path)
        return None
    saved = read_checkpoint(path)
    _check(saved, path, meta, check_fingerprint)
    _log.info("resuming from %s at iteration %d", path, saved.iteration)
    return saved


def function_states(functions) -> dict:
    """``{"role.name": array}`` of the ``(role, function)`` pairs that have ``state_dict()``."""
    out = {}
    for role, function in functions:
        if hasattr(function, "state_dict") and hasattr(function, "load_state_dict"):
            out.update({f"{role}.{k}": np.asarray(v) for k, v in function.state_dict().items()})
    return out


def load_function_states(saved: dict, functions) -> None:
    """Give each ``(role, function)`` pair with ``load_state_dict`` its saved state."""
    for role, function in functions:
        state = {k[len(role) + 1:]: v for k, v in saved.items() if k.startswith(role + ".")}
        if state and hasattr(function, "load_state_dict"):
            function.load_state_dict(state)
