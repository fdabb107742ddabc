"""Why a tangent is singular, in the user's terms: which parts of the mesh the supports
leave free to move (and how), and which nodes belong to no cell.

The analysis of the supports (a connected-components pass over the mesh and a small SVD
per part) runs once per set of supports; a solve then checks the few candidate motions
against its first tangent (:func:`null_motions`, a few mat-vecs) — so a singular system
is refused by name before any factorization, even where a direct solver would return
a finite answer (a consistent right-hand side) or CG would iterate to its limit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import SingularJacobianError
from ..fem.nullspace import mode_names, rigid_body_modes
from ..fem.elements import reference_element
from ..mesh.quality import CHECK_CHUNK

__all__ = ["FreePart", "free_parts", "orphan_nodes", "null_motions", "singular_jacobian_error", "tangled_cells"]

# singular values below this (relative to the largest, columns normalized) count as zero
_RANK_TOL = 1e-8


@dataclass(frozen=True)
class FreePart:
    """A connected part of the mesh that the supports do not hold.

    Attributes:
        nodes: its node ids (sorted).
        cells: its cell ids (sorted).
        modes: names of the free motions, e.g. ``("translation x", "rotation about z")``;
            a free combination that is not one of the named motions is described by its
            direction (a rotation about a supported point, say).
        index, count: which part of how many connected parts of the mesh.
        dofs: the part's global dofs ``(m,)``.
        motions: the free motions as columns over ``dofs``, ``(m, len(modes))``
            (orthonormal mode combinations; zero on the prescribed dofs).
    """

    nodes: np.ndarray
    cells: np.ndarray
    modes: tuple[str, ...]
    index: int
    count: int
    dofs: np.ndarray
    motions: np.ndarray


def orphan_nodes(n_nodes: int, cells: np.ndarray) -> np.ndarray:
    """Ids of nodes that no cell uses (their equations are empty)."""
    used = np.zeros(n_nodes, dtype=bool)
    used[cells.ravel()] = True
    return np.flatnonzero(~used)


def _node_parts(n_nodes, cells):
    """Connected-component label per node (through shared cells) and per cell. A chain
    through each cell's nodes connects them as well as all pairs would, at a fraction of
    the memory."""
    heads, tails = cells[:, :-1].ravel(), cells[:, 1:].ravel()
    graph = sp.coo_matrix((np.ones(heads.size, dtype=np.int8), (heads, tails)), shape=(n_nodes, n_nodes))
    count, labels = connected_components(graph, directed=False)
    return count, labels, labels[cells[:, 0]]


def free_parts(points, cells, n_components: int, prescribed_dofs) -> list[FreePart]:
    """The connected parts of a mesh on which the prescribed dofs leave a zero-energy
    motion free (rigid-body modes for displacements, the constant for a scalar field).

    Args:
        points: ``(n_nodes, dim)``; cells: ``(n_cells, n_nodes_per_cell)``.
        n_components: field components per node (1, or ``dim`` for displacements;
            anything else gives ``[]``: no zero-energy modes known).
        prescribed_dofs: global ids of the prescribed dofs (node-major numbering).

    Returns:
        One :class:`FreePart` per part with free motions (orphan nodes excluded).
    """
    points = np.asarray(points, dtype=np.float64)
    dim = points.shape[1]
    names = mode_names(n_components, dim)
    if names is None:
        return []
    prescribed = np.zeros(len(points) * n_components, dtype=bool)
    prescribed[np.asarray(prescribed_dofs, dtype=np.int64)] = True
    count, node_label, cell_label = _node_parts(len(points), cells)
    used = np.zeros(len(points), dtype=bool)
    used[cells.ravel()] = True
    present = np.zeros(count, dtype=bool)
    present[node_label[used]] = True
    used_labels = np.flatnonzero(present)
    parts = []
    for index, label in enumerate(used_labels):
        nodes = np.flatnonzero((node_label == label) & used)
        modes = rigid_body_modes(points[nodes], n_components)
        modes = modes / np.linalg.norm(modes, axis=0)
        dofs = (nodes[:, None] * n_components + np.arange(n_components)).ravel()
        held = modes[prescribed[dofs]]
        free = _free_combinations(held, modes.shape[1])
        if free.shape[0] == 0:
            continue
        parts.append(FreePart(nodes=nodes, cells=np.flatnonzero(cell_label == label),
                              modes=_describe(free, names, dim, n_components), index=index,
                              count=len(used_labels), dofs=dofs, motions=modes @ free.T))
    return parts


def _free_combinations(held: np.ndarray, k: int) -> np.ndarray:
    """Orthonormal rows spanning the mode coefficients that the held rows do not see."""
    if held.shape[0] == 0:
        return np.eye(k)
    # R of a QR keeps the singular values of the tall matrix; padded to k x k its full
    # SVD also spans the directions the (possibly fewer than k) held rows never reach.
    r = np.zeros((k, k))
    triangle = np.linalg.qr(held, mode="r")
    r[: triangle.shape[0]] = triangle
    _, s, vt = np.linalg.svd(r)
    rank = int(np.sum(s > _RANK_TOL * max(s[0], 1e-300)))
    return vt[rank:]


def _describe(free: np.ndarray, names, dim, n_components) -> tuple[str, ...]:
    """Named modes that lie in the free space, then the rest by direction."""
    k = free.shape[1]
    projector = free.T @ free
    named = [j for j in range(k) if projector[j, j] > 1.0 - 1e-8]
    words = [names[j] for j in named]
    remaining = free.shape[0] - len(named)
    if remaining <= 0:
        return tuple(words)
    basis = np.eye(k)[named].T if named else np.zeros((k, 0))
    rest = free.T - basis @ (basis.T @ free.T)
    u, s, _ = np.linalg.svd(rest, full_matrices=False)
    for vector in u[:, :remaining].T:
        words.append(_direction_words(vector, dim, n_components))
    return tuple(words)


def _direction_words(vector, dim, n_components) -> str:
    if n_components == 1 or dim == 1:
        return "uniform value"
    translation, rotation = vector[:dim], vector[dim:]
    if np.linalg.norm(rotation) < 1e-8:
        return f"translation along {_axis_words(translation)}"
    if dim == 2:
        return "rotation in the plane about a supported point"
    return f"rotation about an axis along {_axis_words(rotation)} (through the supported nodes)"


def _axis_words(direction) -> str:
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    axis = int(np.argmax(np.abs(d)))
    if abs(d[axis]) > 1.0 - 1e-8:
        return "xyz"[axis]
    return "(" + ", ".join(f"{v:.3g}" for v in d) + ")"


def _ids(ids, limit=12) -> str:
    ids = np.asarray(ids).ravel()
    text = ", ".join(str(int(i)) for i in ids[:limit])
    return f"[{text}, ... ({ids.size} in all)]" if ids.size > limit else f"[{text}]"


def null_motions(problem, K_free, parts, rtol: float = 1e-8) -> list[FreePart]:
    """The parts whose free motions ``K_free`` really does not resist: ``||K v|| <=
    rtol ||K||_inf ||v||`` for every motion ``v`` of the part (a convection boundary or
    a spring term makes the motion cost energy, and the part is held after all)."""
    part_map = problem.partition
    position = np.full(problem.space.n_dofs, -1, dtype=np.int64)
    position[part_map.free] = np.arange(part_map.free.size)
    scale = float(abs(K_free).sum(axis=1).max()) or 1.0
    held_nowhere = []
    for free in parts:
        rows = position[free.dofs]
        keep = rows >= 0
        V = np.zeros((part_map.free.size, free.motions.shape[1]))
        V[rows[keep]] = free.motions[keep]
        residual = np.linalg.norm(K_free @ V, axis=0)
        if np.all(residual <= rtol * scale * np.linalg.norm(V, axis=0)):
            held_nowhere.append(free)
    return held_nowhere


def singular_jacobian_error(problem, error=None, parts=None) -> SingularJacobianError:
    """A :class:`SingularJacobianError` explained on the mesh: global dofs (not positions
    among the free dofs), their nodes and components, nodes in no cell, and the motions
    the supports leave free.

    Args:
        problem: the problem.
        error: the NewtonError of a failed factorization (its cause names free-dof
            positions), or None when a free motion was found before factorizing.
        parts: the free parts, if already known (else found from the supports).
    """
    cause = getattr(error, "__cause__", None)
    part = problem.partition
    mesh, c = problem.mesh, problem.space.n_components
    positions = np.asarray(getattr(cause, "dofs", ()), dtype=np.int64)
    dofs = part.free[positions[(positions >= 0) & (positions < part.free.size)]]
    orphans = orphan_nodes(mesh.n_nodes, mesh.cells)
    loose = [n for n in orphans.tolist() if not np.all(np.isin(n * c + np.arange(c), part.prescribed))]
    if parts is None:
        parts = [] if problem.physics_allows_no_supports() else free_parts(mesh.points, mesh.cells, c,
                                                                          part.prescribed)
    lines = ["The tangent (stiffness) matrix is singular, so Newton cannot take a step."]
    if loose:
        orphan_dofs = (np.asarray(loose)[:, None] * c + np.arange(c)).ravel()
        dofs = np.union1d(dofs, orphan_dofs)
        lines.append(f"Node(s) {_ids(loose)} belong to no cell: their dofs {_ids(orphan_dofs)} appear in no "
                     "equation. Remove unused nodes from the mesh or fix them.")
    for free in parts:
        where = (f"part {free.index + 1} of {free.count} of the mesh ({free.cells.size} cells, {free.nodes.size} "
                 f"nodes, e.g. nodes {_ids(free.nodes, 5)})" if free.count > 1 else "the body")
        lines.append(f"The supports leave {where} free to move: {', '.join(free.modes)}. Add supports with "
                     "problem.fix(...) that stop these motions.")
    if not loose and not parts:
        lines.append("The supports hold every part of the mesh, so the cause is in the material or the state: "
                     "cells with zero stiffness (a field that is 0) leaving nodes unsupported, a mechanism, or a "
                     "tangent that lost definiteness under large deformation.")
    if dofs.size:
        nodes, comps = dofs // c, dofs % c
        pairs = ", ".join(f"{n}:{k}" for n, k in zip(nodes[:12].tolist(), comps[:12].tolist()))
        lines.append(f"Global dofs involved: {_ids(dofs)} (node:component {pairs}{' ...' if dofs.size > 12 else ''}).")
    detail = getattr(cause, "detail", None)
    if detail:
        lines.append(f"({detail}.)")
    dofs = np.asarray(dofs, dtype=np.int64)
    return SingularJacobianError(" ".join(lines), history=getattr(error, "history", ()), dofs=dofs, nodes=dofs // c,
                                 components=dofs % c,
                                 free_modes=tuple(m for free in parts for m in free.modes))


def tangled_cells(mesh, u, physics) -> np.ndarray:
    """Cells a finite-strain solution inverts: det(dx/dξ) of the deformed map ``X + u``
    at any node of the reference cell <= 0 (det F <= 0 there, even where every quadrature
    point sees a positive one). Empty for physics without ``finite_strain``."""
    if not getattr(physics, "finite_strain", False):
        return np.zeros(0, dtype=np.int64)
    element = reference_element(mesh.cell_type)
    gradients = element.shape_gradients(element.nodes)              # (k, n, dim)
    deformed = mesh.points + np.reshape(u, mesh.points.shape)
    bad = []
    for start in range(0, len(mesh.cells), CHECK_CHUNK):
        x = deformed[mesh.cells[start:start + CHECK_CHUNK]]           # (m, n, dim)
        jacobians = np.linalg.det(np.einsum("qaj,mai->mqij", gradients, x))
        bad.append(start + np.flatnonzero(np.any(jacobians <= 0.0, axis=1)))
    return np.concatenate(bad)
