"""Up-front memory checks: refuse a request that cannot fit before spending time on it.

A mesh or a linear system too large for the machine otherwise fails after a long wait,
deep inside NumPy or the factorization, or drives the machine into swap. Generators and
the assembly estimate their peak memory first and call :func:`check_memory`, which raises
:class:`~femopt.errors.ResourceError` with the estimate and what is available.

``FEMOPT_MEMORY_LIMIT`` (bytes, or with a ``K``/``M``/``G`` suffix) sets what femopt
counts as available instead — lower for a shared machine or tests, higher to allow swap.
"""
from __future__ import annotations

import os

from .errors import InputError, ResourceError

__all__ = ["available_memory_bytes", "check_memory", "format_bytes"]

_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _limit_from_environment() -> int | None:
    text = os.environ.get("FEMOPT_MEMORY_LIMIT", "").strip().upper().removesuffix("B")
    if not text:
        return None
    number, suffix = (text[:-1], text[-1]) if text[-1] in _SUFFIXES and not text[-1].isdigit() else (text, "")
    try:
        value = float(number) * _SUFFIXES[suffix]
    except ValueError:
        raise InputError(f"FEMOPT_MEMORY_LIMIT={os.environ['FEMOPT_MEMORY_LIMIT']!r} is not a size; "
                         "write e.g. 8G, 512M or a number of bytes") from None
    return int(value)


def _meminfo_available() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), in bytes."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (containers, batch jobs), if any."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
    return None


def available_memory_bytes() -> int | None:
    """Memory this process may still use, in bytes; None when it cannot be told.

    ``FEMOPT_MEMORY_LIMIT`` when set, else the smaller of the system's available memory
    (``MemAvailable``; free physical pages via ``sysconf`` elsewhere) and a cgroup limit.
    """
    override = _limit_from_environment()
    if override is not None:
        return override
    candidates = [_meminfo_available(), _cgroup_limit()]
    if candidates[0] is None:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    known = [c for c in candidates if c is not None]
    return min(known) if known else None


def format_bytes(n: float) -> str:
    """``1.5 GiB``-style size."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def check_memory(estimate_bytes: float, what: str, hint: str = "") -> None:
    """Raise :class:`ResourceError` when ``estimate_bytes`` exceeds the available memory.

    Args:
        estimate_bytes: estimated peak memory of the request.
        what: the request in words, e.g. ``"box(shape=(400, 400, 400), cell='hex27')"``.
        hint: what the user can do instead (appended to the message).
    """
    available = available_memory_bytes()
    if available is None or estimate_bytes <= available:
        return
    message = (f"{what} needs about {format_bytes(estimate_bytes)} of memory, but only "
               f"{format_bytes(available)} is available; refused before starting.")
    if hint:
        message += f" {hint}"
    message += " (Set FEMOPT_MEMORY_LIMIT to change what femopt counts as available.)"
    raise ResourceError(message, estimate_bytes=estimate_bytes, available_bytes=available)
