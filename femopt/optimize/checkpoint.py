"""Checkpoint files: the design, the optimizer state and the history, written atomically.

One ``.npz`` file (NumPy arrays only; read back with ``allow_pickle=False``, so loading a
checkpoint never runs code). Metadata (method, sizes, iteration, status, options, the
run's fingerprint) is a JSON string stored as a 0-d unicode array. Writing goes to a
temporary file ``.NAME.XXXXXXXX.tmp`` in the same folder, flushed and fsync'ed, then
``os.replace``-d over the target: a run killed at any moment leaves either the previous
checkpoint or the new one, never a torn file (only, at worst, the temporary file, which
the next run with this checkpoint removes: :func:`remove_stale_temporaries`).

Reading checks everything it relies on and names the file and what is wrong in a
:class:`~femopt.errors.CheckpointError`: an empty, truncated or corrupted file, a file
that is not an NPZ, an NPZ that is not a femopt checkpoint, a checkpoint of a newer
format. Format versions: 1 (no fingerprint), 2 (adds the fingerprint and the
functions' state).
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, InputError

__all__ = ["Checkpoint", "write_checkpoint", "read_checkpoint", "remove_stale_temporaries",
           "check_writable", "FORMAT_VERSION"]

_log = logging.getLogger("femopt.optimize")

FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_ZIP_MAGIC = b"PK\x03\x04"
_GROUPS = ("state", "history", "schedule", "function")


@dataclass
class Checkpoint:
    """What a run needs to continue.

    Attributes:
        x: the design to evaluate next ``(n,)``.
        iteration: the index of the next iteration (= iterations done).
        state: optimizer state (name → array).
        history: per-iteration records (name → array, first axis iterations).
        meta: method, n, m, status, options, fingerprint (JSON-serializable).
        schedule: the schedule's own state (name → array), for a schedule with
            ``state_dict()`` / ``load_state_dict()`` (e.g. augmented-Lagrangian
            multipliers); empty otherwise.
        functions: the objective's and constraints' own state, ``"role.name" → array``
            (role ``objective`` or ``constraint<i>``), for functions with
            ``state_dict()`` (e.g. a model's warm start); empty otherwise.
    """

    x: np.ndarray
    iteration: int
    state: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    schedule: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)


def _temporary_pattern(path: Path):
    # tempfile.mkstemp names: prefix + 8 characters of [a-z0-9_] + suffix
    return re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}" + re.escape(".tmp"))


def write_checkpoint(path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    arrays = {"x": np.asarray(checkpoint.x, dtype=np.float64), "iteration": np.array(checkpoint.iteration)}
    for group in _GROUPS:
        values = checkpoint.functions if group == "function" else getattr(checkpoint, group)
        arrays.update({f"{group}.{k}": np.asarray(v) for k, v in values.items()})
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


def check_writable(path) -> None:
    """Make sure the checkpoint's folder exists (create it) and takes new files: create
    and remove a temporary file there. Raises :class:`CheckpointError` naming the folder."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise CheckpointError(f"checkpoint path {str(path)!r} is a folder; give a file name, e.g. "
                              f"{str(path / 'run.npz')!r}", path=path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise CheckpointError(f"checkpoint folder {str(folder)!r} cannot be created or written "
                              f"({error.strerror or error}): the run could not save its checkpoint; "
                              "choose a writable folder or fix its permissions", path=path) from error


def remove_stale_temporaries(path) -> list[Path]:
    """Remove the temporary files a killed write of THIS checkpoint left behind
    (``.NAME.XXXXXXXX.tmp`` next to it); other files are never touched. Returns them."""
    path = Path(path)
    pattern = _temporary_pattern(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for candidate in sorted(path.parent.iterdir()):
        if pattern.fullmatch(candidate.name) and candidate.is_file():
            candidate.unlink()
            removed.append(candidate)
    if removed:
        _log.info("removed %d temporary file(s) left by an interrupted checkpoint write of %s: %s",
                  len(removed), path, ", ".join(p.name for p in removed))
    return removed


def _fail(path, problem, fix="delete it or pass resume=False to start afresh"):
    return CheckpointError(f"checkpoint {str(path)!r} {problem}; {fix}", path=path)


def _load_arrays(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except FileNotFoundError as error:
        raise CheckpointError(f"no checkpoint at {str(path)!r}", path=path) from error
    except OSError as error:
        raise _fail(path, f"cannot be opened ({error.strerror or error})", "check the path and its permissions") \
            from error
    if not head:
        raise _fail(path, "is empty (0 bytes); expected a femopt checkpoint (an NPZ file): it was probably "
                          "created but never written (a killed run of an older femopt, or an incomplete copy)")
    if head != _ZIP_MAGIC:
        raise _fail(path, f"is not an NPZ file (it starts with {head!r}, an NPZ starts with {_ZIP_MAGIC!r}); "
                          "expected a femopt checkpoint written by minimize(checkpoint=...)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as error:
        raise _fail(path, f"is truncated or corrupted ({type(error).__name__}: {error}); it was probably "
                          "written by a killed run of an older femopt (before atomic writes) or copied "
                          "incompletely") from error


def read_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by :func:`write_checkpoint` (no pickle).

    Raises:
        CheckpointError: the file is missing, empty, truncated or corrupted, not an NPZ,
            not a femopt checkpoint, or of a format this femopt does not read; the message
            names the file, what was expected and what to do.
    """
    path = Path(path)
    arrays = _load_arrays(path)
    missing = [k for k in ("meta", "x", "iteration") if k not in arrays]
    if missing:
        raise _fail(path, f"is an NPZ file but not a femopt checkpoint: it lacks the entries {missing} "
                          f"(it has {sorted(arrays)[:8]})",
                    "give the path of a file written by minimize(checkpoint=...)")
    try:
        meta = json.loads(str(arrays["meta"]))
    except ValueError as error:
        raise _fail(path, f"has metadata that is not JSON ({error})") from error
    if not isinstance(meta, dict):
        raise _fail(path, f"has metadata that is not a JSON object (got {type(meta).__name__})")
    version = meta.get("format_version")
    if version not in _READABLE_VERSIONS:
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise _fail(path, f"has format version {version}, written by a newer femopt; this femopt reads "
                              f"versions {list(_READABLE_VERSIONS)}",
                        "upgrade femopt, or pass resume=False to start afresh")
        raise _fail(path, f"has format version {version!r}; this femopt reads versions {list(_READABLE_VERSIONS)}")
    x, iteration = arrays["x"], arrays["iteration"]
    if x.ndim != 1 or x.dtype.kind != "f" or iteration.shape != () or iteration.dtype.kind not in "iu":
        raise _fail(path, f"holds a malformed design or iteration (x: {x.dtype} {x.shape}, iteration: "
                          f"{iteration.dtype} {iteration.shape}); expected a 1-D float design and an integer")
    groups = {g: {k[len(g) + 1:]: v for k, v in arrays.items() if k.startswith(g + ".")} for g in _GROUPS}
    return Checkpoint(x=x, iteration=int(iteration), state=groups["state"], history=groups["history"], meta=meta,
                      schedule=groups["schedule"], functions=groups["function"])
