"""Visualization and export: fields, deformed shapes, designs and sensitivities with
pyvista (on screen, or off screen to a PNG with ``screenshot=``), optimization
histories with matplotlib, and VTU / XDMF / PVD files for ParaView through meshio.

One entry point per task:

* ``to_pyvista(mesh, point_data=..., cell_data=...)`` → ``pyvista.UnstructuredGrid``
* ``plot(mesh, u, deformed=True, scale=10, scalars="von_mises", problem=pb, screenshot="beam.png")``
  and the presets ``plot_scalar``, ``plot_design``, ``plot_shapes``, ``plot_sensitivity``
* ``plot_history(history, screenshot="history.png")``
* one state to a file: ``femopt.mesh.write(path, mesh, point_data=..., cell_data=...)``
  (any format meshio knows, tags included); a series: ``SeriesWriter("run.xdmf" |
  "run.pvd", mesh)``, ``read_series(path) -> (times, steps)``
* ``write_transient(path, result)``, ``plot_probes(result, points, screenshot=...)``: a
  transient run's series and the field at points against time
* ``cell_to_nodes(mesh, values)`` (per-cell values to the nodes, for pictures); stresses
  to plot come from ``femopt.stress`` and ``femopt.von_mises``
"""
from .convert import VTK_CELL_TYPES, to_pyvista
from .export import SeriesStep, SeriesWriter, read_series
from .fields import cell_to_nodes
from .history import history_arrays, plot_history
from .plot import display_available, plot, plot_design, plot_scalar, plot_sensitivity, plot_shapes
from .transient import plot_probes, write_transient

__all__ = [
    "to_pyvista", "VTK_CELL_TYPES",
    "plot", "plot_scalar", "plot_design", "plot_shapes", "plot_sensitivity", "display_available",
    "plot_history", "history_arrays",
    "SeriesWriter", "SeriesStep", "read_series", "write_transient", "plot_probes",
    "cell_to_nodes",
]
