"""Parallel VTU output for ParaView: each rank writes its piece, rank 0 the index.

``write_pvtu("out/design.pvtu", dp, cell_data=..., point_data=...)`` writes

* ``out/design_p<rank>.vtu`` on every rank (meshio's VTU writer): the rank's cells with
  their nodes (owned and ghost: interface nodes appear in both neighbouring pieces with
  the same values), the rank's cell fields, the local node fields, and a cell field
  ``rank``;
* ``out/design.pvtu`` on rank 0: the small XML index (``PUnstructuredGrid``) naming the
  pieces and declaring their arrays — meshio has no PVTU writer. ParaView (and VTK's
  ``XMLPUnstructuredGridReader``, e.g. through ``pyvista.read``) opens it as one mesh.

Nothing is gathered: memory and file size per rank follow the rank's share.
"""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

import meshio
import numpy as np

from ..errors import InputError

__all__ = ["write_pvtu", "piece_paths"]

_VTK_TYPES = {"float64": "Float64", "float32": "Float32", "int64": "Int64", "int32": "Int32",
              "uint8": "UInt8", "int8": "Int8"}


def piece_paths(path, n_ranks: int) -> list[Path]:
    """The piece files of ``path`` (a ``.pvtu``) written by ``n_ranks`` ranks."""
    path = Path(path)
    return [path.with_name(f"{path.stem}_p{rank}.vtu") for rank in range(n_ranks)]


def _checked(data, n, what):
    out = {}
    for name, values in (data or {}).items():
        values = np.asarray(values)
        if values.shape[:1] != (n,) or values.ndim > 2:
            raise InputError(f"{what}[{name!r}] must be ({n},) or ({n}, k) (this rank's {what.split('_')[0]}s), "
                             f"got shape {values.shape}")
        if values.dtype.name not in _VTK_TYPES:
            values = values.astype(np.float64)
        out[str(name)] = values
    return out


def _declaration(name, values) -> str:
    components = 1 if values.ndim == 1 else values.shape[1]
    return (f'      <PDataArray type="{_VTK_TYPES[values.dtype.name]}" Name={quoteattr(name)} '
            f'NumberOfComponents="{components}"/>')


def write_pvtu(path, problem, *, cell_data=None, point_data=None) -> Path:
    """Write the ranks' pieces and the ``.pvtu`` index. Collective.

    Args:
        path: the index file, ending in ``.pvtu`` (its folder is created).
        problem: the :class:`~femopt.distributed.DistributedProblem` (its local mesh).
        cell_data: ``{name: (n_own_cells,) or (n_own_cells, k)}``, the own cells in the
            order of ``problem.piece.cells``.
        point_data: ``{name: (n_local_nodes,) or (n_local_nodes, k)}``, the local nodes
            (owned, then ghosts: the order of :meth:`DistributedProblem.local_field`,
            reshaped to ``(-1, n_components)``). 2-vectors are padded to 3 components.

    Returns:
        The path of the index.

    Raises:
        InputError: a path not ending in ``.pvtu``, or data of the wrong length.
    """
    path = Path(path)
    if path.suffix.lower() != ".pvtu":
        raise InputError(f"write_pvtu writes a .pvtu index and its .vtu pieces; got {str(path)!r} "
                         "(give e.g. 'out/design.pvtu')")
    comm = problem.comm
    rank, size = comm.getRank(), comm.getSize()
    mesh = problem.local.space.mesh
    cells = _checked(cell_data, mesh.n_cells, "cell_data")
    cells["rank"] = np.full(mesh.n_cells, rank, dtype=np.int32)
    points_data = _checked(point_data, mesh.n_nodes, "point_data")
    for name, values in points_data.items():
        if values.ndim == 2 and values.shape[1] == 2:
            points_data[name] = np.pad(values, ((0, 0), (0, 1)))
    points = np.zeros((mesh.n_nodes, 3))
    points[:, :mesh.dim] = mesh.points
    path.parent.mkdir(parents=True, exist_ok=True)
    pieces = piece_paths(path, size)
    piece = meshio.Mesh(points, [(mesh.cell_type.meshio_name, mesh.cells)], point_data=points_data,
                        cell_data={name: [values] for name, values in cells.items()})
    meshio.write(pieces[rank], piece, file_format="vtu")
    if rank == 0:
        lines = ['<?xml version="1.0"?>',
                 '<VTKFile type="PUnstructuredGrid" version="0.1" byte_order="LittleEndian">',
                 '  <PUnstructuredGrid GhostLevel="0">', "    <PPointData>",
                 *(_declaration(n, v) for n, v in points_data.items()), "    </PPointData>", "    <PCellData>",
                 *(_declaration(n, v) for n, v in cells.items()), "    </PCellData>",
                 '    <PPoints>\n      <PDataArray type="Float64" NumberOfComponents="3"/>\n    </PPoints>',
                 *(f"    <Piece Source={quoteattr(p.name)}/>" for p in pieces),
                 "  </PUnstructuredGrid>", "</VTKFile>", ""]
        path.write_text("\n".join(lines), encoding="utf-8")
    comm.barrier()                                        # every piece and the index exist on return
    return path
