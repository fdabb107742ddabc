"""Checkpoint files: the design, the optimizer state and the history, written atomically.

One ``.npz`` file (NumPy arrays only; read back with ``allow_pickle=False``, so loading a
checkpoint never runs code). Metadata (method, sizes, iteration, status, options) is a
JSON string stored as a 0-d unicode array. Writing goes to a temporary file in the same
folder, flushed and fsync'ed, then ``os.replace``-d over the target: a run killed at any
moment leaves either the previous checkpoint or the new one, never a torn file.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["Checkpoint", "write_checkpoint", "read_checkpoint"]

FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """What a run needs to continue.

    Attributes:
        x: the design to evaluate next ``(n,)``.
        iteration: the index of the next iteration (= iterations done).
        state: optimizer state (name → array).
        history: per-iteration records (name → array, first axis iterations).
        meta: method, n, m, status, options (JSON-serializable).
        schedule: the schedule's own state (name → array), for a schedule with
            ``state_dict()`` / ``load_state_dict()`` (e.g. augmented-Lagrangian
            multipliers); empty otherwise.
    """

    x: np.ndarray
    iteration: int
    state: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    schedule: dict = field(default_factory=dict)


def write_checkpoint(path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    arrays = {"x": np.asarray(checkpoint.x, dtype=np.float64), "iteration": np.array(checkpoint.iteration)}
    arrays.update({f"state.{k}": np.asarray(v) for k, v in checkpoint.state.items()})
    arrays.update({f"history.{k}": np.asarray(v) for k, v in checkpoint.history.items()})
    arrays.update({f"schedule.{k}": np.asarray(v) for k, v in checkpoint.schedule.items()})
    meta = dict(checkpoint.meta, format_version=FORMAT_VERSION)
    arrays["meta"] = np.array(json.dumps(meta, default=str))
    for name, value in arrays.items():
        if value.dtype == object:
            raise InputError(f"checkpoint entry {name!r} is not a plain array (dtype object)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by :func:`write_checkpoint` (no pickle)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read checkpoint {str(path)!r}: {error}") from error
    if "meta" not in arrays or "x" not in arrays:
        raise InputError(f"{str(path)!r} is not a femopt checkpoint (no 'meta' / 'x' entries)")
    meta = json.loads(str(arrays["meta"]))
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"checkpoint {str(path)!r} has format version {meta.get('format_version')}, "
                         f"this femopt reads version {FORMAT_VERSION}")
    state = {k[len("state."):]: v for k, v in arrays.items() if k.startswith("state.")}
    history = {k[len("history."):]: v for k, v in arrays.items() if k.startswith("history.")}
    schedule = {k[len("schedule."):]: v for k, v in arrays.items() if k.startswith("schedule.")}
    return Checkpoint(x=arrays["x"], iteration=int(arrays["iteration"]), state=state, history=history, meta=meta,
                      schedule=schedule)
