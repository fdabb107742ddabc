"""Wall-clock timing for the benchmarks: best or median of repeated runs."""
from __future__ import annotations

import time

import numpy as np

__all__ = ["seconds", "best_seconds", "median_seconds"]


def seconds(fn, repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn()``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def best_seconds(fn, repeat: int) -> float:
    """The fastest of ``repeat`` calls (least disturbed by other load on the machine)."""
    return min(seconds(fn, repeat))


def median_seconds(fn, repeat: int) -> float:
    """The median of ``repeat`` calls."""
    return float(np.median(seconds(fn, repeat)))
