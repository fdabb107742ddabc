"""Sending each rank its own arrays from rank 0, through PETSc alone (no mpi4py).

Rank 0 packs, for every rank, a dict of NumPy arrays into one float64 record: a JSON
header (names, dtypes, shapes; its UTF-8 bytes one per number) followed by the arrays'
values. Every rank learns the records' lengths (one reduction), then fetches its own
record from a parallel vector that rank 0 owns whole, with one PETSc scatter. Integers
travel as float64 and come back exactly (below 2^53).
"""
from __future__ import annotations

import json

import numpy as np

from ..errors import InputError
from .reductions import sum_to_all

__all__ = ["pack", "unpack", "send_from_root"]

#: integers above this do not survive float64
_EXACT = 2 ** 53


def pack(arrays: dict) -> np.ndarray:
    """One float64 record of ``{name: array}`` (numeric arrays, integers below 2^53)."""
    entries, parts = [], []
    for name, value in arrays.items():
        value = np.asarray(value)
        if value.dtype.kind not in "biuf":
            raise InputError(f"cannot send {name!r} of dtype {value.dtype}")
        if value.dtype.kind in "iu" and value.size and np.abs(value).max() >= _EXACT:
            raise InputError(f"{name!r} holds integers of 2^53 or more: they would not travel exactly")
        entries.append([str(name), value.dtype.str, list(value.shape)])
        parts.append(value.astype(np.float64).ravel())
    header = np.frombuffer(json.dumps(entries).encode(), dtype=np.uint8).astype(np.float64)
    return np.concatenate([[float(header.size)], header, *parts])


def unpack(record: np.ndarray) -> dict:
    """The ``{name: array}`` of a record made by :func:`pack` (dtypes and shapes restored)."""
    record = np.asarray(record, dtype=np.float64)
    n = int(record[0])
    entries = json.loads(record[1:1 + n].astype(np.uint8).tobytes().decode())
    out, at = {}, 1 + n
    for name, dtype, shape in entries:
        size = int(np.prod(shape, dtype=np.int64))
        values = record[at:at + size]
        dtype = np.dtype(dtype)
        out[name] = (np.rint(values) if dtype.kind in "biu" else values).astype(dtype).reshape(shape)
        at += size
    return out


def send_from_root(PETSc, comm, records) -> np.ndarray:
    """Each rank's record: rank 0 passes ``records`` (one float64 array per rank), the
    others None; every rank gets its own. Collective."""
    rank, size = comm.getRank(), comm.getSize()
    lengths = np.zeros(size)
    if rank == 0:
        if len(records) != size:
            raise InputError(f"{len(records)} records for {size} ranks")
        lengths[:] = [len(r) for r in records]
    lengths = sum_to_all(PETSc, comm, np.arange(size) if rank == 0 else [], lengths if rank == 0 else [], size)
    lengths = np.rint(lengths).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    total = int(starts[-1])
    outbox = PETSc.Vec().createMPI((total if rank == 0 else 0, total), comm=comm)
    if rank == 0 and total:
        outbox.array[:] = np.concatenate(records)
    mine = int(lengths[rank])
    inbox = PETSc.Vec().createSeq(mine, comm=PETSc.COMM_SELF)
    source = PETSc.IS().createStride(mine, first=int(starts[rank]), step=1, comm=PETSc.COMM_SELF)
    scatter = PETSc.Scatter().create(outbox, source, inbox, None)
    scatter.scatter(outbox, inbox, addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.FORWARD)
    record = inbox.getArray(readonly=True).copy()
    for obj in (scatter, source, inbox, outbox):
        obj.destroy()
    return record
