"""Plots of fields, deformed shapes, designs and sensitivities with pyvista.

Every function draws one picture and takes the same output arguments:

* ``screenshot="name.png"`` renders off screen to that file (no display needed) and
  returns its path;
* ``screenshot=None`` opens a window (needs a display: on Linux ``DISPLAY`` or
  ``WAYLAND_DISPLAY``; without one the error says to pass ``screenshot=``);
* ``plotter=pyvista.Plotter(...)`` draws into that plotter (e.g. one subplot) and
  returns it without showing, for composing pictures.

2D meshes are seen from +z, 3D meshes in a true isometric view (parallel projection,
along (1, 1, 1)), framed to fill the window above the scalar bar. Nodal or per-cell values are told apart by their length; when a mesh has as many
nodes as cells, wrap the values in ``femopt.nodal_field`` or ``femopt.cell_field``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvista as pv

from ..assembly.parameters import CELL, NODE, cell_field, nodal_field
from ..errors import InputError
from ..mesh.mesh import Mesh
from ..problem import Problem
from .convert import cell_array, cell_edges, padded_points, point_array, to_pyvista
from .fields import von_mises_field
from .figures import display_available, prefer_headless_rendering

__all__ = ["plot", "plot_scalar", "plot_sensitivity", "plot_design", "plot_shapes",
           "display_available"]

_WINDOW_SIZE = (1024, 768)
_OUTLINE_COLOR = "gray"
_VECTOR = "_vector"  # the grid array of the vector field, for warping and glyphs


def plot(mesh, field=None, *, scalars=None, deformed: bool = False, scale: float = 1.0,
         glyphs: bool = False, problem=None, name: str | None = None, cmap=None, clim=None,
         show_edges: bool | None = None, show_undeformed: bool = True, title: str | None = None,
         screenshot=None, window_size=None, plotter=None):
    """Plot a mesh, a field on it, and optionally its deformed shape and arrows.

    Args:
        mesh: the :class:`~femopt.Mesh`, or a solved :class:`~femopt.Problem` (then
            ``problem`` is it and ``field`` defaults to its last solution).
        field: ``None``; nodal scalars ``(n_nodes,)``; a nodal vector field such as a
            displacement ``(n_nodes, dim)``; or per-cell values ``(n_cells,)``.
        scalars: what colours the mesh: ``None`` (the field; a vector field by its
            magnitude; no field: one plain colour), ``"magnitude"``, ``"von_mises"``
            (per-cell von Mises stress of ``problem`` at the displacement ``field``), or
            an array ``(n_nodes,)`` / ``(n_cells,)``.
        deformed: draw the mesh moved by ``scale * field`` (a nodal vector field).
        scale: displacement magnification for ``deformed`` and glyph length.
        glyphs: draw an arrow per node for the vector field, the longest a tenth of
            the mesh's diagonal (times ``scale``).
        problem: the solved problem, needed for ``scalars="von_mises"``.
        name: the scalar bar's title; default ``"displacement magnitude"``, ``"von
            Mises stress"`` or ``"field"``.
        cmap, clim: colormap name and colour range ``(low, high)`` (default: data range).
        show_edges: draw cell edges; default: when the mesh has at most 2000 cells.
        show_undeformed: with ``deformed``, also draw the undeformed outline in grey.
        title: text at the top of the picture.
        screenshot, window_size, plotter: output, see the module docstring;
            ``window_size`` is ``(width, height)`` in pixels, default (1024, 768).

    Returns:
        The screenshot's :class:`~pathlib.Path`, the given ``plotter``, or ``None``
        after an on-screen window is closed.

    Raises:
        InputError: wrong shapes, an unknown ``scalars`` keyword, ``deformed`` or
            ``glyphs`` without a nodal vector field, ``"von_mises"`` without a problem,
            or no display and no ``screenshot``.
    """
    mesh, field, problem = _unpack(mesh, field, problem)
    grid = to_pyvista(mesh)
    vector, got = None, "no field"
    if field is not None:
        kind, values = _located(mesh, field, "field")
        got = f"shape {values.shape}"
        if kind == NODE and values.ndim == 2:
            grid.point_data[_VECTOR] = point_array(mesh, values, "field")
            vector = grid.point_data[_VECTOR]
        elif scalars is None:
            scalars = field
    if (deformed or glyphs) and vector is None:
        raise InputError(f"deformed=True and glyphs=True need a nodal vector field ({mesh.n_nodes}, "
                         f"{mesh.dim}) such as a displacement, got {got}")
    if not np.isfinite(scale):
        raise InputError(f"scale must be a finite number, got {scale!r}")
    color_name = _color_field(grid, mesh, scalars, vector, name, problem)

    pl, own = _plotter(screenshot, window_size, plotter)
    shown = grid
    if deformed:
        shown = grid.copy()
        shown.points = grid.points + scale * vector
        if show_undeformed:
            pl.add_mesh(_outline(grid, mesh.dim), color=_OUTLINE_COLOR, line_width=1)
    _add_field(pl, shown, mesh, color_name, cmap, clim, show_edges)
    if glyphs:
        longest = float(np.max(np.linalg.norm(vector, axis=1)))
        if longest > 0:
            factor = 0.1 * grid.length / longest * abs(scale)
            pl.add_mesh(shown.glyph(orient=_VECTOR, scale=_VECTOR, factor=factor),
                        color="black")
    return _finish(pl, own, mesh.dim, screenshot, title)


def plot_scalar(mesh, values, *, name: str = "field", cmap=None, clim=None,
                show_edges: bool | None = None, title: str | None = None, screenshot=None,
                window_size=None, plotter=None):
    """Plot a scalar field (temperature, von Mises stress, ...).

    Args:
        mesh: the :class:`~femopt.Mesh`.
        values: nodal ``(n_nodes,)`` or per-cell ``(n_cells,)`` values.
        name: shown on the scalar bar.
        cmap, clim, show_edges, title, screenshot, window_size, plotter: as in :func:`plot`.
    """
    kind, array = _located(mesh, values, name)
    if array.ndim != 1:
        raise InputError(f"plot_scalar expects one value per node or cell, got shape "
                         f"{array.shape}; use plot(mesh, field) for vector fields")
    return plot(mesh, scalars=_tagged(kind, array), name=name, cmap=cmap, clim=clim,
                show_edges=show_edges, title=title, screenshot=screenshot,
                window_size=window_size, plotter=plotter)


def plot_sensitivity(mesh, values, *, name: str = "sensitivity", cmap: str = "RdBu_r",
                     show_edges: bool | None = None, title: str | None = None, screenshot=None,
                     window_size=None, plotter=None):
    """Plot a sensitivity (a gradient per node or per cell) with a diverging colormap
    centred at zero: the colour range is ``(-m, m)``, ``m = max |values|``, so white is
    0, red an increase and blue a decrease of the objective (``RdBu_r``).

    Args: as in :func:`plot_scalar`; ``values`` ``(n_nodes,)`` or ``(n_cells,)``.
    """
    kind, array = _located(mesh, values, name)
    largest = float(np.max(np.abs(array))) if array.size else 0.0
    bound = largest if largest > 0 and np.isfinite(largest) else 1.0
    return plot(mesh, scalars=_tagged(kind, array), name=name, cmap=cmap, clim=(-bound, bound),
                show_edges=show_edges, title=title, screenshot=screenshot,
                window_size=window_size, plotter=plotter)


def plot_design(mesh, density, *, threshold: float | None = None, name: str = "density",
                cmap: str = "gray_r", clim=(0.0, 1.0), show_edges: bool | None = None,
                title: str | None = None, screenshot=None, window_size=None, plotter=None):
    """Plot a density design (topology optimization): 0 void (white) to 1 solid (black).

    Args:
        mesh: the :class:`~femopt.Mesh`.
        density: per-cell ``(n_cells,)`` or nodal ``(n_nodes,)`` densities.
        threshold: draw only the cells with density ``>= threshold`` (nodal densities:
            all nodes of the cell), with the domain's outline in grey; ``None`` draws
            every cell.
        name, cmap, clim, show_edges, title, screenshot, window_size, plotter: as in
            :func:`plot`; ``clim`` defaults to ``(0, 1)``.
    """
    kind, array = _located(mesh, density, name)
    if array.ndim != 1:
        raise InputError(f"plot_design expects one density per cell or node, got shape {array.shape}")
    if threshold is None:
        return plot(mesh, scalars=_tagged(kind, array), name=name, cmap=cmap, clim=clim,
                    show_edges=show_edges, title=title, screenshot=screenshot,
                    window_size=window_size, plotter=plotter)
    if not np.isfinite(threshold):
        raise InputError(f"threshold must be a finite number or None, got {threshold!r}")
    passed = array >= threshold if kind == CELL else np.all(array[mesh.cells] >= threshold, axis=1)
    pl, own = _plotter(screenshot, window_size, plotter)
    pl.add_mesh(_outline(to_pyvista(mesh), mesh.dim), color=_OUTLINE_COLOR, line_width=1)
    if passed.any():
        solid = mesh.submesh(np.flatnonzero(passed))
        values = array[passed] if kind == CELL else array[np.unique(mesh.cells[passed])]
        grid = to_pyvista(solid, **{("cell_data" if kind == CELL else "point_data"): {name: values}})
        _add_field(pl, grid, solid, name, cmap, clim, show_edges)
    return _finish(pl, own, mesh.dim, screenshot, title)


def plot_shapes(before: Mesh, after, *, name: str = "shape change", cmap=None,
                show_edges: bool | None = None, title: str | None = None, screenshot=None,
                window_size=None, plotter=None):
    """Plot a shape before and after (shape optimization): the initial mesh in grey
    (edges in 2D, translucent in 3D) under the final one, coloured by how far each node
    moved.

    Args:
        before: the initial :class:`~femopt.Mesh`.
        after: the final mesh (same nodes and cells), or its node coordinates
            ``(n_nodes, dim)``.
        name, cmap, show_edges, title, screenshot, window_size, plotter: as in :func:`plot`.
    """
    if not isinstance(before, Mesh):
        raise InputError(f"plot_shapes expects the initial Mesh first, got {type(before).__name__}")
    points = after.points if isinstance(after, Mesh) else np.asarray(after, dtype=np.float64)
    if points.shape != before.points.shape or (
            isinstance(after, Mesh) and not np.array_equal(after.cells, before.cells)):
        raise InputError(f"plot_shapes compares the same nodes and cells moved: expected points "
                         f"of shape {before.points.shape} and the same cells, got shape "
                         f"{points.shape}")
    moved = np.linalg.norm(points - before.points, axis=1)
    grid_before = to_pyvista(before)
    grid_after = to_pyvista(before, point_data={name: moved})
    grid_after.points = padded_points(points)
    pl, own = _plotter(screenshot, window_size, plotter)
    if before.dim <= 2:
        pl.add_mesh(cell_edges(before, grid_before.points, lift=False), color=_OUTLINE_COLOR)
    else:
        pl.add_mesh(grid_before, color=_OUTLINE_COLOR, opacity=0.25)
    _add_field(pl, grid_after, before, name, cmap, None, show_edges)
    return _finish(pl, own, before.dim, screenshot, title)


# ------------------------------------------------------------------------------ helpers
def _unpack(mesh, field, problem):
    if isinstance(mesh, Problem):
        problem = mesh
        if field is None and problem.state is not None:
            field = problem.space.as_field(problem.state.u)
        mesh = problem.mesh
    if not isinstance(mesh, Mesh):
        raise InputError(f"expected a femopt Mesh or Problem, got {type(mesh).__name__}")
    return mesh, field, problem


def _tagged(kind: str, array: np.ndarray):
    return cell_field(array) if kind == CELL else nodal_field(array)


def _located(mesh: Mesh, values, name: str) -> tuple[str, np.ndarray]:
    """(``"node"`` or ``"cell"``, the array) from the first dimension, or from a
    ``cell_field`` / ``nodal_field`` wrapper."""
    kind = getattr(values, "kind", None)
    if kind in (CELL, NODE) and hasattr(values, "values"):
        array = np.asarray(values.values)
    else:
        array = np.asarray(values)
        n = array.shape[0] if array.ndim else -1
        if n not in (mesh.n_nodes, mesh.n_cells):
            hint = ""
            if array.ndim == 1 and array.size % mesh.n_nodes == 0:
                c = array.size // mesh.n_nodes
                hint = (f"; a flat dof vector of {mesh.n_nodes} nodes x {c} components: pass "
                        f"values.reshape({mesh.n_nodes}, {c})")
            raise InputError(f"{name!r} must have n_nodes = {mesh.n_nodes} (nodal) or n_cells = "
                             f"{mesh.n_cells} (per-cell) rows, got shape {array.shape}{hint}")
        if n == mesh.n_nodes == mesh.n_cells:
            raise InputError(f"{name!r}: this mesh has as many nodes as cells ({n}); wrap the "
                             "values in femopt.nodal_field(...) or femopt.cell_field(...)")
        kind = NODE if n == mesh.n_nodes else CELL
    if kind == NODE:
        point_array(mesh, array, name)
    else:
        cell_array(mesh, array, name)
    return kind, array


def _color_field(grid, mesh, scalars, vector, name, problem) -> str | None:
    """Attach the colouring array to ``grid`` under its scalar-bar title and return the
    title (None: one plain colour)."""
    if scalars is None:
        if vector is None:
            return None
        scalars = "magnitude"
    if isinstance(scalars, str):
        if scalars == "magnitude":
            if vector is None:
                raise InputError("scalars='magnitude' needs a nodal vector field")
            label = name or "displacement magnitude"
            grid.point_data[label] = np.linalg.norm(vector, axis=1)
            return label
        if scalars == "von_mises":
            if problem is None:
                raise InputError("scalars='von_mises' needs the solved problem: pass problem=...")
            u = None if vector is None else vector[:, : mesh.dim]
            label = name or "von Mises stress"
            grid.cell_data[label] = von_mises_field(problem, u)
            return label
        raise InputError(f"scalars must be None, 'magnitude', 'von_mises' or an array, got {scalars!r}")
    label = name or "field"
    kind, array = _located(mesh, scalars, label)
    if kind == NODE:
        grid.point_data[label] = point_array(mesh, array, label)
    else:
        grid.cell_data[label] = cell_array(mesh, array, label)
    return label


def _add_field(pl, grid, mesh: Mesh, color_name, cmap, clim, show_edges) -> None:
    """Add ``grid`` (the cells of ``mesh``, possibly moved) coloured by ``color_name``."""
    if color_name is None:
        pl.add_mesh(grid, color="lightsteelblue")
    else:
        pl.add_mesh(grid, scalars=color_name, cmap=cmap, clim=clim,
                    scalar_bar_args={"title": color_name})
    if mesh.n_cells <= 2000 if show_edges is None else show_edges:
        pl.add_mesh(cell_edges(mesh, grid.points), color="black", line_width=1)


def _outline(grid, dim: int):
    """The boundary of a 2D grid, or the feature edges of a 3D grid's surface."""
    surface = grid.extract_surface(algorithm="dataset_surface")
    if dim <= 2:
        return surface.extract_feature_edges(boundary_edges=True, feature_edges=False,
                                             manifold_edges=False, non_manifold_edges=False)
    return surface.extract_feature_edges(feature_angle=30.0, boundary_edges=True,
                                         manifold_edges=False, non_manifold_edges=False)


def _plotter(screenshot, window_size, plotter):
    """(plotter, whether this call owns it)."""
    if plotter is not None:
        if not isinstance(plotter, pv.Plotter):
            raise InputError(f"plotter must be a pyvista.Plotter, got {type(plotter).__name__}")
        return plotter, False
    if screenshot is None and not display_available():
        raise InputError("there is no display to open a window on (DISPLAY is not set): pass "
                         "screenshot='picture.png' to render off screen to a file")
    size = _WINDOW_SIZE if window_size is None else tuple(int(s) for s in window_size)
    if screenshot is not None:
        prefer_headless_rendering()
    return pv.Plotter(off_screen=screenshot is not None, window_size=list(size)), True


def _finish(pl, own: bool, dim: int, screenshot, title):
    if title:
        pl.add_text(str(title), position="upper_edge", font_size=12)
    _frame(pl, dim, bottom=0.2 if pl.scalar_bars else 0.04, top=0.1 if title else 0.04)
    if not own:
        return pl
    if screenshot is None:
        pl.show()
        return None
    path = Path(screenshot)
    try:
        pl.screenshot(str(path))
    finally:
        pl.close()
    return path


def _frame(pl, dim: int, bottom: float, top: float) -> None:
    """Point the camera, with a parallel projection, from +z (2D) or along (1, 1, 1)
    (3D: a true isometric view) so that the bounding box of what is drawn fills the
    window between a ``bottom`` and a ``top`` margin (fractions of the height) left free
    for the scalar bar and the title."""
    if dim <= 2:
        pl.view_xy()
    else:
        pl.view_isometric()
    pl.enable_parallel_projection()
    camera = pl.camera
    toward_camera = np.asarray(camera.position) - np.asarray(camera.focal_point)
    toward_camera /= np.linalg.norm(toward_camera)
    up = np.asarray(camera.up, dtype=np.float64)
    up -= (up @ toward_camera) * toward_camera
    up /= np.linalg.norm(up)
    right = np.cross(up, toward_camera)
    x0, x1, y0, y1, z0, z1 = pl.bounds
    corners = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])
    middle = corners.mean(axis=0)
    across, along_up = (corners - middle) @ right, (corners - middle) @ up
    width, height = pl.window_size
    half_height = 0.5 * max(np.ptp(along_up) / (1.0 - bottom - top),
                            np.ptp(across) / (0.92 * width / height))
    if not half_height > 0:
        return
    centre = (middle + 0.5 * (across.max() + across.min()) * right
              + (0.5 * (along_up.max() + along_up.min()) - (bottom - top) * half_height) * up)
    camera.parallel_scale = half_height
    camera.focal_point = tuple(centre)
    camera.position = tuple(centre + (np.ptp(corners @ toward_camera) + half_height) * toward_camera)
    pl.reset_camera_clipping_range()
