"""Sums over ranks that every rank receives whole, through PETSc (no mpi4py needed).

Each rank adds its values at global indices into a parallel vector (off-rank entries
travel through PETSc's stash when the vector is assembled), then every rank receives the
whole vector. The owner of an entry sums, and everyone receives the owner's number, so
all ranks see bit-for-bit the same result — what decisions taken on every rank (Newton's
tests, a line search) need to stay in step.
"""
from __future__ import annotations

import numpy as np

__all__ = ["sum_to_all"]


def sum_to_all(PETSc, comm, indices, values, size: int) -> np.ndarray:
    """``(size,)`` array on every rank: entry ``i`` is the sum over the ranks of their
    ``values`` at ``indices == i`` (``indices`` may repeat; a rank may give none).

    Args:
        PETSc: the petsc4py module.
        comm: the PETSc communicator.
        indices: ``(m,)`` global indices in ``0..size-1``.
        values: ``(m,)`` numbers.
        size: length of the result.
    """
    indices = np.asarray(indices, dtype=PETSc.IntType).ravel()
    values = np.asarray(values, dtype=np.float64).ravel()
    vec = PETSc.Vec().createMPI((PETSc.DECIDE, int(size)), comm=comm)
    vec.set(0.0)
    if indices.size:
        vec.setValues(indices, values, addv=PETSc.InsertMode.ADD_VALUES)
    vec.assemblyBegin()
    vec.assemblyEnd()
    scatter, whole = PETSc.Scatter.toAll(vec)
    scatter.scatter(vec, whole, addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.FORWARD)
    result = whole.getArray(readonly=True).copy()
    for obj in (scatter, whole, vec):
        obj.destroy()
    return result
