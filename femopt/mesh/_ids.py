"""Formatting of id lists for error messages (private)."""
from __future__ import annotations

import numpy as np


def describe_ids(ids, limit: int = 10) -> str:
    """``"[3, 8, 12]"``, or the first ``limit`` ids and the total: ``"[3, 8, ...] (57 in all)"``."""
    ids = np.asarray(ids).ravel()
    shown = ", ".join(str(int(i)) for i in ids[:limit])
    if ids.size > limit:
        return f"[{shown}, ...] ({ids.size} in all)"
    return f"[{shown}]"
