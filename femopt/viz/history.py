"""The history of an optimization run as a picture: objective, constraints and design
change against the iteration, one panel each (matplotlib).

Constraints follow the ``g(x) <= 0`` convention: the zero line is drawn and the
infeasible side shaded. A positive objective spanning more than two decades, and the
design change, are drawn on a logarithmic axis.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..errors import InputError
from .figures import matplotlib_figure, show_or_save

__all__ = ["plot_history", "history_arrays"]

_PANELS = ("objective", "constraints", "change")


def history_arrays(history) -> dict[str, np.ndarray]:
    """The history as arrays: ``objective (n_iterations,)``, ``constraints
    (n_iterations, n_constraints)``, ``change (n_iterations,)`` and ``iteration
    (n_iterations,)``; absent keys are left out (``iteration`` defaults to 0, 1, ...).

    Args:
        history: ``minimize``'s :class:`~femopt.optimize.History` (or its result), a
            mapping of sequences ``{"objective": [...], "constraints": [[g0, g1],
            ...], "change": [...]}`` or a sequence of per-iteration mappings
            ``[{"objective": f, "constraints": [g0, g1], "change": c}, ...]``; a
            constraint may be a single number per iteration. Other keys are ignored.

    Raises:
        InputError: none of the three keys, entries of different lengths, or
            constraints with a varying count.
    """
    if hasattr(getattr(history, "history", None), "as_arrays"):    # an OptimizeResult
        history = history.history
    if hasattr(history, "as_arrays"):                                # minimize's History
        history = history.as_arrays()
    if isinstance(history, Mapping):
        columns = {k: history[k] for k in (*_PANELS, "iteration") if k in history}
    elif isinstance(history, Sequence) and all(isinstance(r, Mapping) for r in history):
        keys = [k for k in (*_PANELS, "iteration") if history and all(k in r for r in history)]
        columns = {k: [r[k] for r in history] for k in keys}
    else:
        raise InputError("history must be a mapping of sequences {'objective': [...], ...} or a "
                         f"sequence of per-iteration mappings, got {type(history).__name__}")
    if not any(k in columns for k in _PANELS):
        raise InputError(f"history has none of the keys {list(_PANELS)}; got "
                         f"{sorted(history) if isinstance(history, Mapping) else 'records without them'}")
    arrays = {}
    for key, values in columns.items():
        try:
            array = np.asarray(values, dtype=np.float64)
        except ValueError as error:
            raise InputError(f"history[{key!r}] must be numbers with the same count every "
                             f"iteration: {error}") from None
        if key == "constraints" and array.ndim == 1:
            array = array[:, None]
        expected = 2 if key == "constraints" else 1
        if array.ndim != expected:
            raise InputError(f"history[{key!r}] must have {expected} dimension(s) (iterations"
                             f"{', constraints' if expected == 2 else ''}), got shape {array.shape}")
        arrays[key] = array
    lengths = {key: len(array) for key, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(f"history entries must have one value per iteration, got lengths {lengths}")
    n = next(iter(lengths.values()))
    arrays.setdefault("iteration", np.arange(n, dtype=np.float64))
    return arrays


def plot_history(history, *, screenshot=None, title: str | None = None,
                 constraint_names: Sequence[str] | None = None, figsize=(7.0, 6.0), dpi: int = 100):
    """Plot the objective, the constraints and the design change per iteration.

    Args:
        history: see :func:`history_arrays`; panels are drawn for the keys present.
        screenshot: a file to save the picture to (PNG, or any format matplotlib knows
            from the extension), rendered without a display; ``None`` shows a window.
        title: figure title.
        constraint_names: legend labels, one per constraint (default ``g0, g1, ...``).
        figsize, dpi: figure size in inches and resolution of the file.

    Returns:
        The matplotlib ``Figure`` (closed and saved when ``screenshot`` is given).

    Raises:
        InputError: malformed history, wrong number of constraint names, or no display
            and no ``screenshot``.
    """
    arrays = history_arrays(history)
    panels = [key for key in _PANELS if key in arrays]
    n_constraints = arrays["constraints"].shape[1] if "constraints" in arrays else 0
    names = list(constraint_names) if constraint_names is not None else \
        [f"g{k}" for k in range(n_constraints)]
    if len(names) != n_constraints:
        raise InputError(f"constraint_names has {len(names)} names for {n_constraints} constraints")
    figure = matplotlib_figure(screenshot, figsize, "history.png")
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    iteration = arrays["iteration"]
    for ax, key in zip(axes, panels):
        _DRAW[key](ax, iteration, arrays[key], names)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("iteration")
    if title:
        figure.suptitle(title)
    return show_or_save(figure, screenshot, dpi)


def _draw_objective(ax, iteration, values, _names):
    ax.plot(iteration, values, color="tab:blue", marker="o", markersize=3)
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100.0:
        ax.set_yscale("log")
    ax.set_ylabel("objective")


def _draw_constraints(ax, iteration, values, names):
    for k, label in enumerate(names):
        ax.plot(iteration, values[:, k], marker="o", markersize=3, label=label)
    ax.axhline(0.0, color="black", linewidth=0.8)
    top = np.nanmax(values) if np.isfinite(values).any() else 0.0
    if top > 0:
        ax.axhspan(0.0, top * 1.05, color="tab:red", alpha=0.08, linewidth=0)
    ax.set_ylabel("constraints (g ≤ 0)")
    if len(names) > 1 or names != ["g0"]:
        ax.legend(loc="best", fontsize="small")


def _draw_change(ax, iteration, values, _names):
    ax.plot(iteration, values, color="tab:green", marker="o", markersize=3)
    if np.all(values[np.isfinite(values)] > 0):
        ax.set_yscale("log")
    ax.set_ylabel("change")


_DRAW = {"objective": _draw_objective, "constraints": _draw_constraints, "change": _draw_change}
