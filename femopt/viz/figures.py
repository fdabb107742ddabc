"""Where a picture goes: a window when there is a display, else a file; and the
Matplotlib figures of the line plots (optimization history, probe time series)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import InputError

__all__ = ["display_available", "matplotlib_figure", "show_or_save"]


def display_available() -> bool:
    """Whether a window can be opened: always off Linux; on Linux when ``DISPLAY`` or
    ``WAYLAND_DISPLAY`` is set."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def matplotlib_figure(screenshot, figsize, example: str):
    """A Matplotlib figure: a pyplot window when ``screenshot`` is None (refused, naming
    ``screenshot=example``, where no display exists), else a bare ``Figure`` that renders
    with Agg and leaves pyplot's global backend alone."""
    if screenshot is None:
        if not display_available():
            raise InputError("there is no display to open a window on (DISPLAY is not set): pass "
                             f"screenshot={example!r} to save the picture to a file")
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def show_or_save(figure, screenshot, dpi):
    """Lay the figure out, then show it (``screenshot`` None) or write it to that file."""
    figure.tight_layout()
    if screenshot is None:
        import matplotlib.pyplot as plt

        plt.show()
    else:
        figure.savefig(Path(screenshot), dpi=dpi)
    return figure
