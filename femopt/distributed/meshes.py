"""Meshes that are never whole on any rank: each rank builds (or keeps) only its piece.

::

    mesh = femopt.distributed.box(size=(2, 1, 1), shape=(400, 200, 200))   # this rank's piece
    problem = fo.Problem(mesh, fo.LinearElasticity(E=1.0, nu=0.3)).fix("xmin").traction("xmax", [0, 0, -1])
    u = DistributedProblem(problem).solve()        # the displacement on this rank's nodes

:func:`box` and :func:`rectangle` build the rank's block of femopt's structured box /
rectangle directly (:mod:`femopt.mesh.box_pieces`): memory per rank falls with the number
of ranks. :func:`cut` cuts a whole mesh (read from a file, say) into the rank's piece, so
the whole mesh can be dropped before the problem is set up. The rank and the number of
ranks come from PETSc's communicator; without petsc4py they are 0 and 1 and the piece is
the whole mesh, so the same script runs serially (``problem.solve()`` works on it too).
See :mod:`femopt.mesh.pieces` for what a piece holds.
"""
from __future__ import annotations

from ..mesh.box_pieces import box_piece, rectangle_piece
from ..mesh.pieces import cut_piece
from ._petsc import petsc_available

__all__ = ["box", "rectangle", "cut", "rank_and_size"]


def rank_and_size(comm=None) -> tuple[int, int]:
    """``(rank, size)`` of ``comm`` (default PETSc's COMM_WORLD); ``(0, 1)`` without petsc4py."""
    if comm is None:
        if not petsc_available():
            return 0, 1
        from ._petsc import import_petsc

        comm = import_petsc().COMM_WORLD
    return comm.getRank(), comm.getSize()


def box(size=(1.0, 1.0, 1.0), shape=(10, 10, 10), cell: str = "hex8", origin=(0.0, 0.0, 0.0), *, comm=None):
    """This rank's piece of ``femopt.mesh.box(size, shape, cell, origin)``: the ranks split
    the boxes in a process grid of nearly equal blocks (interfaces as small as the grid
    allows), and each builds only its block. Tags (``xmin`` ... ``zmax``) mark the whole
    box's sides. Same arguments as :func:`femopt.mesh.box`; ``comm`` a PETSc communicator.

    Raises:
        InputError: bad arguments, or more ranks than the grid can split the boxes into.
    """
    rank, n_ranks = rank_and_size(comm)
    return box_piece(rank, n_ranks, size=size, shape=shape, cell=cell, origin=origin)


def rectangle(size=(1.0, 1.0), shape=(10, 10), cell: str = "quad4", origin=(0.0, 0.0), *, comm=None):
    """This rank's piece of ``femopt.mesh.rectangle(size, shape, cell, origin)`` (see
    :func:`box`)."""
    rank, n_ranks = rank_and_size(comm)
    return rectangle_piece(rank, n_ranks, size=size, shape=shape, cell=cell, origin=origin)


def cut(mesh, *, comm=None, cell_part=None):
    """This rank's piece of the whole ``mesh`` (recursive coordinate bisection of the
    cells, or ``cell_part``: the rank of every cell). Every rank must pass the same mesh.

    Raises:
        InputError: a bad ``cell_part``, or nodes in no cell.
    """
    rank, n_ranks = rank_and_size(comm)
    return cut_piece(mesh, rank, n_ranks, cell_part=cell_part)
