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

from femopt.solvers.multigrid_grid import Transfer, build_transfers

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
    def levels():
        current = mesh
        while getattr(current, "refinement", None) is not None:
            coarse = current.refinement.coarse
            yield current.refinement.prolongation, np.arange(coarse.n_nodes), (coarse.n_nodes,)
            current = coarse

    return build_transfers(levels(), np.arange(mesh.n_nodes), n_components, free_dofs, mesh.n_nodes,
                           coarse_dofs=coarse_dofs, max_levels=max_levels)
