"""Where a picture goes: a window when there is a display, else a file; and the
Matplotlib figures of the line plots (optimization history, probe time series)."""
from __future__ import annotations

import ctypes.util
import os
import re
import sys
from pathlib import Path

from ..errors import InputError

__all__ = ["display_available", "matplotlib_figure", "show_or_save", "prefer_headless_rendering"]


def display_available() -> bool:
    """Whether a window can be opened: always off Linux; on Linux when ``WAYLAND_DISPLAY``
    is set or ``DISPLAY`` names an X server that is there (a local display ``:N`` whose
    socket exists; a remote one ``host:N`` is trusted)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("WAYLAND_DISPLAY")) or _x_display_reachable(os.environ.get("DISPLAY", ""))


def _x_display_reachable(display: str) -> bool:
    if not display:
        return False
    local = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display)
    return local is None or Path(f"/tmp/.X11-unix/X{local.group(1)}").exists()


def prefer_headless_rendering() -> None:
    """Render off screen without an X server through EGL where libEGL is installed.

    VTK's Linux wheels try X first and, with no X server, print "bad X server connection"
    before falling back; a user who only asked for a PNG should not see that. When no
    display is reachable and the user has not chosen a window class
    (``VTK_DEFAULT_OPENGL_WINDOW``), this selects VTK's EGL window. Without libEGL
    VTK's own order stays (X, then its fallbacks)."""
    if not sys.platform.startswith("linux") or os.environ.get("VTK_DEFAULT_OPENGL_WINDOW") or display_available():
        return
    if ctypes.util.find_library("EGL"):
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkEGLRenderWindow"


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
