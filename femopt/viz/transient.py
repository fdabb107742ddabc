"""Output of a transient run: the whole series to ParaView (XDMF or PVD, through
:class:`~femopt.viz.export.SeriesWriter`) and the field at probe points against time
(matplotlib)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from .export import SeriesWriter
from .figures import matplotlib_figure, show_or_save

__all__ = ["write_transient", "plot_probes"]


def write_transient(path, result, *, name: str = "temperature", data_format: str = "auto") -> Path:
    """Write every state of a :class:`~femopt.problem.TransientResult` as a time series.

    Args:
        path: ``.xdmf`` / ``.xmf`` or ``.pvd`` (see :class:`SeriesWriter`).
        result: the transient result (its mesh, times and states).
        name: the point field's name.
        data_format: XDMF only: ``"auto"``, ``"HDF"`` or ``"XML"``.

    Returns:
        The path written.
    """
    times, states = _series(result)
    with SeriesWriter(path, result.mesh, data_format=data_format) as series:
        for t, state in zip(times, states):
            series.write(t, point_data={name: state})
    return Path(path)


def plot_probes(result, points, *, labels: Sequence[str] | None = None, screenshot=None,
                title: str | None = None, ylabel: str = "temperature", exact=None,
                figsize=(7.0, 4.0), dpi: int = 100):
    """The field at probe points against time, one line per point.

    Args:
        result: a :class:`~femopt.problem.TransientResult` of a scalar field.
        points: one point ``(dim,)`` or several ``(m, dim)``.
        labels: legend entries, one per point (default: the coordinates).
        screenshot: a file to save the picture to, rendered without a display; ``None``
            shows a window.
        title, ylabel: figure title and y-axis label.
        exact: optional ``exact(x (dim,), t (n_levels,)) -> (n_levels,)`` drawn dashed
            beside each probe (a reference solution).
        figsize, dpi: figure size in inches and resolution of the file.

    Returns:
        The matplotlib ``Figure`` (closed and saved when ``screenshot`` is given).

    Raises:
        InputError: a point outside the mesh, a vector field, wrong number of labels, or
            no display and no ``screenshot``.
    """
    times, states = _series(result)
    if states.ndim != 2:
        raise InputError(f"plot_probes draws scalar fields; this result has {states.shape[2]} components")
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    labels = list(labels) if labels is not None else \
        ["(" + ", ".join(f"{c:g}" for c in p) + ")" for p in points]
    if len(labels) != len(points):
        raise InputError(f"labels has {len(labels)} entries for {len(points)} probe point(s)")
    values = [result.at(p) for p in points]          # locates every point before drawing
    figure = matplotlib_figure(screenshot, figsize, "probes.png")
    ax = figure.subplots()
    for point, label, series in zip(points, labels, values):
        line, = ax.plot(times, series, marker="o", markersize=2, label=label)
        if exact is not None:
            ax.plot(times, np.asarray(exact(point, times), dtype=np.float64), linestyle="--",
                    color=line.get_color(), linewidth=1.0)
    ax.set_xlabel("time")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", title="exact: dashed" if exact is not None else None)
    if title:
        ax.set_title(title)
    return show_or_save(figure, screenshot, dpi)


def _series(result):
    times = getattr(result, "times", None)
    states = getattr(result, "states", None)
    if times is None or states is None or getattr(result, "mesh", None) is None:
        raise InputError(f"expected a TransientResult (times, states, mesh), got {type(result).__name__}")
    return np.asarray(times), np.asarray(states)
