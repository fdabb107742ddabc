"""Reading a mesh file so that only rank 0 ever holds the whole mesh.

::

    mesh = femopt.distributed.read("part.msh")      # this rank's piece, tags included

Rank 0 reads the file (``femopt.mesh.read``: meshio, gmsh physical groups as tags), cuts
it into one piece per rank (:func:`femopt.mesh.cut_piece`: coordinate bisection, or the
given ``cell_part``) and sends each rank its piece (:mod:`.transfer`); the other ranks
hold only their piece. Rank 0's memory still grows with the whole mesh — the file is
read there whole — but no other rank's does. An error on rank 0 (a missing file, a bad
mesh) is raised on every rank with rank 0's message, so no rank is left waiting.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..mesh.io import read as read_whole
from ..mesh.mesh import Mesh
from ..mesh.pieces import MeshPiece, bisect_cells, cut_piece
from .meshes import rank_and_size
from .transfer import pack, send_from_root, unpack

__all__ = ["read"]

_PIECE_ARRAYS = ("global_nodes", "node_starts", "cell_starts", "natural_nodes", "natural_cells", "boundary")


def _whole(path, cell_type, merge_coincident):
    mesh = read_whole(path, cell_type, merge_coincident=merge_coincident)
    used = np.zeros(mesh.n_nodes, dtype=bool)
    used[mesh.cells.ravel()] = True
    if not used.all():            # a file may list nodes no cell uses: the pieces number used nodes only
        mesh = mesh.submesh(np.arange(mesh.n_cells))
    return mesh


def _arrays(piece: Mesh) -> dict:
    info = piece.piece
    out = {"points": piece.points, "cells": piece.cells,
           "cell_type": np.frombuffer(piece.cell_type.name.encode(), dtype=np.uint8),
           "layout": np.array([info.rank, info.n_ranks, info.n_owned])}
    out.update({name: getattr(info, name) for name in _PIECE_ARRAYS})
    for kind, tags in (("node", piece.node_tags), ("facet", piece.facet_tags), ("cell", piece.cell_tags)):
        out.update({f"{kind} tag:{name}": ids for name, ids in tags.items()})
    return out


def _piece(arrays: dict) -> Mesh:
    tags = {"node": {}, "facet": {}, "cell": {}}
    for key, value in arrays.items():
        kind, _, name = key.partition(" tag:")
        if name:
            tags[kind][name] = value
    rank, n_ranks, n_owned = (int(v) for v in arrays["layout"])
    mesh = Mesh(arrays["points"], arrays["cells"], arrays["cell_type"].tobytes().decode(), node_tags=tags["node"],
                facet_tags=tags["facet"], cell_tags=tags["cell"], check=False)
    return mesh.as_piece(MeshPiece(rank=rank, n_ranks=n_ranks, n_owned=n_owned,
                                   **{name: arrays[name] for name in _PIECE_ARRAYS}))


def read(path, cell_type=None, *, comm=None, cell_part=None, merge_coincident: bool = False) -> Mesh:
    """This rank's piece of the mesh in ``path``, read on rank 0 and sent out.

    Args:
        path, cell_type, merge_coincident: as :func:`femopt.mesh.read`. Nodes that no cell
            uses are dropped (the pieces' natural node ids number the used nodes, in the
            file's order).
        comm: a PETSc communicator (default COMM_WORLD; without petsc4py one rank).
        cell_part: ``(n_cells,)`` rank of every cell, read on rank 0 only (the others may
            pass None); default coordinate bisection.

    Raises:
        InputError: on every rank, with rank 0's message, when the file cannot be read or
            cut (and the errors of :func:`femopt.mesh.read`).
    """
    rank, size = rank_and_size(comm)
    if size == 1:
        return cut_piece(_whole(path, cell_type, merge_coincident), 0, 1, cell_part=cell_part)
    from ._petsc import import_petsc

    PETSc = import_petsc()
    comm = comm if comm is not None else PETSc.COMM_WORLD
    records = None
    if rank == 0:
        try:
            whole = _whole(path, cell_type, merge_coincident)
            part = bisect_cells(whole.cell_centroids(), size) if cell_part is None else cell_part
            records = [pack(_arrays(cut_piece(whole, r, size, cell_part=part))) for r in range(size)]
            del whole
        except Exception as error:  # every rank raises it, below
            message = f"rank 0 could not read {str(path)!r}: {type(error).__name__}: {error}"
            records = [pack({"error": np.frombuffer(message.encode(), dtype=np.uint8)})] * size
    arrays = unpack(send_from_root(PETSc, comm, records))
    if "error" in arrays:
        raise InputError(arrays["error"].tobytes().decode())
    return _piece(arrays)
