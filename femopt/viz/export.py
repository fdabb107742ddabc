"""Series of states for ParaView and other readers, through meshio: the time steps of a
transient run or the iterations of an optimization as XDMF or as a ParaView collection
(``.pvd`` + one VTU per step), and reading a series back. One state is one file of
:func:`femopt.mesh.write` (any format meshio writes, ``.vtu`` for ParaView).

A series is one fixed mesh with fields that change: the mesh is written once (XDMF)
or with every step (PVD). For a shape optimization, write the node displacement from
the initial shape as a point field and warp by it in ParaView.

Layout on disk:

* ``run.xdmf``: the XML index; the arrays go inline (``data_format="XML"``) or into
  ``run.h5`` next to it (``"HDF"``, needs h5py). ``"auto"`` picks HDF when h5py is
  installed. The index is written when the writer is closed.
* ``run.pvd`` and ``run/run_000000.vtu, ...``: every step's VTU is complete on disk
  and the ``.pvd`` is replaced (atomically) after each step, so a killed run leaves a
  readable series of the steps written so far.

Points are written in 3D and 2-vectors on 2D meshes as 3-vectors (ParaView warps by
them); :func:`read_series` gives 2D meshes' vectors back with 2 components.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, NamedTuple
from xml.etree import ElementTree as ET

import meshio
import numpy as np

from ..errors import InputError
from ..mesh.cell_types import from_meshio_name
from ..mesh.mesh import Mesh
from .convert import cell_array, padded_points, point_array

__all__ = ["SeriesWriter", "SeriesStep", "read_series"]

_XDMF_SUFFIXES = (".xdmf", ".xmf")


class SeriesStep(NamedTuple):
    """The fields of one step: ``point_data {name: (n_nodes, ...)}`` and
    ``cell_data {name: (n_cells, ...)}``."""

    point_data: dict
    cell_data: dict


class SeriesWriter:
    """Write a time series of fields on one mesh, step by step.

    >>> with SeriesWriter("run.pvd", mesh) as series:          # doctest: +SKIP
    ...     for it, rho in enumerate(designs):
    ...         series.write(it, cell_data={"density": rho})

    Args:
        path: ``.xdmf`` / ``.xmf`` (XDMF) or ``.pvd`` (ParaView collection of VTU files).
        mesh: the mesh every step lives on.
        data_format: XDMF only: ``"auto"``, ``"HDF"`` or ``"XML"`` (see the module
            docstring).

    Raises:
        InputError: another suffix, an unknown data format, or ``"HDF"`` without h5py.
    """

    def __init__(self, path, mesh: Mesh, *, data_format: str = "auto"):
        if not isinstance(mesh, Mesh):
            raise InputError(f"SeriesWriter needs a femopt Mesh, got {type(mesh).__name__}")
        self.path = Path(path)
        self.mesh = mesh
        self.times: list[float] = []
        suffix = self.path.suffix.lower()
        if suffix in _XDMF_SUFFIXES:
            self._backend = _XdmfBackend(self.path, mesh, data_format)
        elif suffix == ".pvd":
            if data_format != "auto":
                raise InputError(f"data_format is for XDMF files; a .pvd series is VTU files, "
                                 f"got data_format={data_format!r}")
            self._backend = _PvdBackend(self.path, mesh)
        else:
            raise InputError(f"a series is written to .xdmf, .xmf or .pvd, got {str(path)!r}")
        self._closed = False

    def write(self, time: float, point_data: Mapping | None = None,
              cell_data: Mapping | None = None) -> None:
        """Add one step.

        Args:
            time: the step's time (or iteration number); must increase from step to step.
            point_data: ``{name: (n_nodes,) | (n_nodes, k) | (n_nodes, d, d)}``.
            cell_data: ``{name: (n_cells,) | (n_cells, k) | (n_cells, d, d)}``.
        """
        if self._closed:
            raise InputError(f"the series {str(self.path)!r} is closed; open a new SeriesWriter")
        time = float(time)
        if not np.isfinite(time) or (self.times and time <= self.times[-1]):
            raise InputError(f"series times must be finite and increasing: got {time!r} after "
                             f"{self.times[-1] if self.times else 'no step'}")
        points = {n: _file_array(point_array(self.mesh, v, n)) for n, v in (point_data or {}).items()}
        cells = {n: _file_array(cell_array(self.mesh, v, n)) for n, v in (cell_data or {}).items()}
        self._backend.write(len(self.times), time, points, cells)
        self.times.append(time)

    def close(self) -> None:
        """Finish the files (the XDMF index is written here). Idempotent."""
        if not self._closed:
            self._closed = True
            self._backend.close()

    def __enter__(self) -> "SeriesWriter":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SeriesWriter({str(self.path)!r}, {len(self.times)} steps)"


def read_series(path) -> tuple[np.ndarray, list[SeriesStep]]:
    """Read a series written by :class:`SeriesWriter` (or another XDMF temporal
    collection / PVD of VTU files with one cell block).

    Returns:
        ``times (n_steps,)`` and one :class:`SeriesStep` per step with its
        ``point_data`` and ``cell_data`` dicts. On a 2D mesh (2D cells, all z = 0) a
        3-component field whose third component is zero everywhere comes back with 2.

    Raises:
        InputError: an unknown suffix or a file meshio can not read.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*_XDMF_SUFFIXES, ".pvd"):
        raise InputError(f"read_series reads .xdmf, .xmf or .pvd files, got {str(path)!r}")
    try:
        times, steps, points, cell_type = (_read_pvd if suffix == ".pvd" else _read_xdmf)(path)
    except (OSError, ET.ParseError, meshio.ReadError, KeyError, ValueError) as error:
        raise InputError(f"cannot read the series {str(path)!r}: {type(error).__name__}: {error}") from error
    ctype = from_meshio_name(cell_type)
    if ctype is not None and ctype.dim == 2 and not np.any(points[:, 2:]):
        steps = [SeriesStep(_unpadded(s.point_data), _unpadded(s.cell_data)) for s in steps]
    return np.asarray(times, dtype=np.float64), steps


# ----------------------------------------------------------------------------- backends
class _XdmfBackend:
    def __init__(self, path: Path, mesh: Mesh, data_format: str):
        if data_format not in ("auto", "HDF", "XML"):
            raise InputError(f"data_format must be 'auto', 'HDF' or 'XML', got {data_format!r}")
        if data_format != "XML":
            try:
                import h5py
            except ImportError:
                if data_format == "HDF":
                    raise InputError("data_format='HDF' needs h5py (pip install h5py); or use "
                                     "data_format='XML' or a .pvd series") from None
                h5py = None
            data_format = "HDF" if h5py is not None else "XML"
        self.writer = meshio.xdmf.TimeSeriesWriter(path, data_format=data_format)
        if data_format == "HDF":
            # meshio's __enter__ opens "<stem>.h5" in the current directory; the index
            # names the file relative to itself, so it must sit next to the .xdmf.
            self.writer.h5_filename = str(path.with_suffix(".h5"))
            self.writer.h5_file = h5py.File(self.writer.h5_filename, "w")
        self.writer.write_points_cells(padded_points(mesh.points),
                                       [(mesh.cell_type.meshio_name, np.asarray(mesh.cells))])

    def write(self, index, time, point_data, cell_data):
        self.writer.write_data(time, point_data=point_data,
                               cell_data={n: [v] for n, v in cell_data.items()})

    def close(self):
        self.writer.__exit__(None, None, None)


class _PvdBackend:
    def __init__(self, path: Path, mesh: Mesh):
        self.path = path
        self.folder = path.with_suffix("")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.points = padded_points(mesh.points)
        self.cells = [(mesh.cell_type.meshio_name, np.asarray(mesh.cells))]
        self.entries: list[tuple[float, str]] = []
        self._write_index()

    def write(self, index, time, point_data, cell_data):
        step = self.folder / f"{self.path.stem}_{index:06d}.vtu"
        meshio.write(step, meshio.Mesh(self.points, self.cells, point_data=point_data,
                                       cell_data={n: [v] for n, v in cell_data.items()}))
        self.entries.append((time, f"{self.folder.name}/{step.name}"))
        self._write_index()

    def close(self):
        self._write_index()

    def _write_index(self):
        root = ET.Element("VTKFile", type="Collection", version="0.1", byte_order="LittleEndian")
        collection = ET.SubElement(root, "Collection")
        for time, file in self.entries:
            ET.SubElement(collection, "DataSet", timestep=repr(time), group="", part="0", file=file)
        ET.indent(root)
        partial = self.path.with_name(self.path.name + ".part")
        ET.ElementTree(root).write(partial, xml_declaration=True, encoding="utf-8")
        os.replace(partial, self.path)


def _read_xdmf(path: Path):
    with meshio.xdmf.TimeSeriesReader(path) as reader:
        points, blocks = reader.read_points_cells()
        times, steps = [], []
        for k in range(reader.num_steps):
            time, point_data, cell_data = reader.read_data(k)
            times.append(time)
            steps.append(SeriesStep(dict(point_data), _joined(cell_data)))
    return times, steps, _three_d(points), blocks[0].type


def _read_pvd(path: Path):
    root = ET.parse(path).getroot()
    times, steps, points, cell_type = [], [], None, None
    for dataset in root.iter("DataSet"):
        step = meshio.read(path.parent / dataset.attrib["file"])
        times.append(float(dataset.attrib.get("timestep", len(times))))
        steps.append(SeriesStep(dict(step.point_data), _joined(step.cell_data)))
        points, cell_type = step.points, step.cells[0].type
    if points is None:
        return [], [], np.zeros((0, 3)), None
    return times, steps, _three_d(points), cell_type


def _joined(cell_data: dict) -> dict:
    return {name: np.concatenate([np.asarray(b) for b in blocks]) for name, blocks in cell_data.items()}


def _three_d(points) -> np.ndarray:
    return padded_points(np.asarray(points, dtype=np.float64))


def _unpadded(data: dict) -> dict:
    return {name: (v[:, :2] if v.ndim == 2 and v.shape[1] == 3 and not np.any(v[:, 2]) else v)
            for name, v in data.items()}


def _file_array(array: np.ndarray) -> np.ndarray:
    """float64 or int64: types every reader (and meshio's XDMF XML writer) knows."""
    return array.astype(np.int64 if array.dtype.kind in "iu" else np.float64)
