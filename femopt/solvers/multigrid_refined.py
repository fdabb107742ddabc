"""Geometric multigrid transfers of a uniformly refined mesh.

:func:`femopt.mesh.refine` records on the mesh it returns the mesh it refined and the
nodal prolongation between them (``mesh.refinement``: fine nodes ``0 .. n_coarse - 1``
are the coarse nodes; each new node takes the average of the corners of the edge, face
or cell it was made on). That is exactly the interpolation a multigrid hierarchy needs —
linear fields on simplices and multilinear ones on quads / hexes are reproduced — so an
unstructured mesh refined k times gets a (k + 1)-level hierarchy, whatever the cell
shapes. The transfers are the same as on a lattice (:mod:`.multigrid_grid`): each node
level's interpolation expanded to the field's components and restricted to the free
dofs (a coarse dof is free when the fine dof on its node is), Galerkin coarse operators
built from the fine matrix.
"""
from __future__ import annotations

import numpy as np

from femopt.solvers.multigrid_grid import Transfer, free_rows, restrict_to_free

__all__ = ["refinement_depth", "refinement_transfers", "coarsest_mesh"]


def refinement_depth(mesh) -> int:
    """How many uniform refinements ``mesh.refinement`` records (0: none)."""
    depth, current = 0, mesh
    while getattr(current, "refinement", None) is not None:
        depth, current = depth + 1, current.refinement.coarse
    return depth


def coarsest_mesh(mesh):
    """The mesh at the bottom of the refinement chain (``mesh`` itself if unrefined)."""
    while getattr(mesh, "refinement", None) is not None:
        mesh = mesh.refinement.coarse
    return mesh


def refinement_transfers(mesh, n_components: int, free_dofs, *, coarse_dofs: int,
                         max_levels: int) -> list[Transfer]:
    """The prolongations of the hierarchy recorded by refinement, finest first.

    Args:
        mesh: a mesh from :func:`femopt.mesh.refine` (``mesh.refinement`` set).
        n_components: components per node (node-major dofs ``node * c + component``).
        free_dofs: sorted global ids of the free dofs, the order of the finest matrix.
        coarse_dofs: stop once a level has at most this many free dofs.
        max_levels: at most this many levels, the finest included.

    Returns:
        Up to ``refinement_depth(mesh)`` :class:`~femopt.solvers.multigrid_grid.Transfer`
        (fewer when ``coarse_dofs`` or ``max_levels`` stops earlier).
    """
    c = int(n_components)
    point_nodes = np.arange(mesh.n_nodes)
    row = free_rows(point_nodes, c, free_dofs, mesh.n_nodes * c)
    transfers: list[Transfer] = []
    current = mesh
    while (len(transfers) + 1 < max_levels and np.count_nonzero(row >= 0) > coarse_dofs
           and getattr(current, "refinement", None) is not None):
        coarse = current.refinement.coarse
        coinciding = np.arange(coarse.n_nodes)
        found = restrict_to_free(current.refinement.prolongation, coinciding, row, c, point_nodes,
                                 (coarse.n_nodes,))
        if found is None:
            break
        transfer, row = found
        transfers.append(transfer)
        point_nodes, current = point_nodes[coinciding], coarse
    return transfers
