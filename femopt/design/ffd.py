"""Free-form deformation: :class:`FFDBox`.

A box [lower, upper] carries a tensor lattice of control points P_I. A node with local
coordinates ξ = (X − lower) / (upper − lower) ∈ [0, 1]^dim moves by

    d(X) = Σ_I N_{i}(ξ₀) N_{j}(ξ₁) [N_{k}(ξ₂)] ΔP_I,

with a Bernstein basis per axis (the default: degree n_axis − 1) or a clamped B-spline
(:mod:`femopt.design.splines`). The control points sit at the Greville abscissae, so the
undeformed lattice maps every node to itself and an affine motion of all the control
points moves every node in the box by the same affine map. The variables are the
components of ΔP chosen by a mask; d = B x for a constant sparse B.

By default the lattice's outer layer stays fixed: the basis functions of the inner
control points vanish on the box's faces, so the motion is zero there and continuous
with the nodes outside the box, which never move.

Two uses with :class:`~femopt.design.ShapeDesign`: move ALL the nodes in the box directly
(``nodes=None``; FFD is itself a volume morph: ``ShapeDesign(mesh, ffd, morph=None)``),
or move only a boundary's nodes (``nodes="hole"``) and let a mesh morph carry the rest.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from .splines import bspline_basis, check_degree, greville_abscissae

__all__ = ["FFDBox"]


class FFDBox:
    """Free-form deformation of the nodes in a box by a lattice of control points.

    Args:
        mesh: the reference :class:`~femopt.Mesh` (2D or 3D).
        lower, upper: the box's corners ``(dim,)``, ``upper > lower``.
        shape: control points per axis ``(dim,)``, each >= 2.
        degree: None: Bernstein basis (degree ``shape[a] - 1`` on axis a); an int p: the
            clamped B-spline of degree p on every axis (``shape[a] >= p + 1``).
        nodes: None: the nodes in the box (closed, up to ``tolerance`` of its size); or a
            selection (tag name, predicate, ids): those nodes, sorted; the ones outside
            the box get a zero displacement (e.g. a boundary for a morph).
        moving: boolean mask of the control points that move, ``shape`` (all components)
            or ``(*shape, dim)`` (per component); default: all but the lattice's outer layer.
        tolerance: relative slack of the box test.

    Attributes:
        nodes: ``(n_moving_nodes,)`` sorted node ids, the rows of :meth:`displacement`.
        control_points: ``(*shape, dim)`` the lattice on the reference box.
        mask: ``(*shape, dim)`` bool, the moving components; the variables are
            ΔP[mask] in C order (control point major, then component).
        matrix: B, sparse ``(n_moving_nodes * dim, n_variables)``: displacement = B x.
    """

    def __init__(self, mesh, lower, upper, shape, *, degree=None, nodes=None, moving=None,
                 tolerance: float = 1e-9):
        dim = mesh.dim
        lower, upper = (np.asarray(v, dtype=np.float64) for v in (lower, upper))
        if lower.shape != (dim,) or upper.shape != (dim,) or not np.all(np.isfinite(lower)) \
                or not np.all(np.isfinite(upper)):
            raise InputError(f"lower and upper must be {dim} finite numbers each (the mesh is {dim}D), "
                             f"got {lower.tolist()} and {upper.tolist()}")
        if not np.all(upper > lower):
            raise InputError(f"the box needs upper > lower on every axis, got lower {lower.tolist()}, "
                             f"upper {upper.tolist()}")
        shape = tuple(np.atleast_1d(np.asarray(shape)).tolist())
        if len(shape) != dim or not all(isinstance(n, int) and n >= 2 for n in shape):
            raise InputError(f"shape must be {dim} integers >= 2 (control points per axis), got {shape!r}")
        degrees = [n - 1 for n in shape] if degree is None else [degree] * dim
        for n, p in zip(shape, degrees):
            check_degree(n, p, "FFDBox")
        self.dim, self.shape, self.degrees = dim, shape, tuple(degrees)
        self.lower, self.upper = lower, upper
        size = upper - lower
        local_all = (mesh.points - lower) / size
        in_box = np.all((local_all >= -tolerance) & (local_all <= 1.0 + tolerance), axis=1)
        if nodes is None:
            self.nodes = np.flatnonzero(in_box).astype(np.int64)
            if self.nodes.size == 0:
                raise InputError(f"no node lies in the box {lower.tolist()}..{upper.tolist()}")
        else:
            self.nodes = mesh.nodes(nodes)
        self.mask = self._mask(moving)
        if not self.mask.any():
            raise InputError(f"no control point moves: the lattice {shape} has no interior points "
                             "(use >= 3 per axis) and no moving= mask was given" if moving is None else
                             "the moving= mask selects no control point")

        axes = [lower[a] + size[a] * greville_abscissae(shape[a], degrees[a]) for a in range(dim)]
        self.control_points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
        inside = in_box[self.nodes]
        local = np.clip(local_all[self.nodes[inside]], 0.0, 1.0)
        weights = np.ones((inside.sum(), 1))
        for a in range(dim):  # tensor product, C order over the lattice
            axis_basis = bspline_basis(local[:, a], shape[a], degrees[a])
            weights = (weights[:, :, None] * axis_basis[:, None, :]).reshape(len(local), -1)
        rows = np.zeros((self.nodes.size, weights.shape[1]))
        rows[inside] = weights
        full = sp.kron(sp.csr_matrix(rows), sp.identity(dim, format="csr"), format="csc")
        self.matrix = full[:, np.flatnonzero(self.mask.ravel())].tocsr()
        self.matrix.eliminate_zeros()

    def _mask(self, moving) -> np.ndarray:
        shape, dim = self.shape, self.dim
        if moving is None:
            interior = np.zeros(shape, dtype=bool)
            interior[tuple(slice(1, -1) for _ in shape)] = True
            return np.repeat(interior[..., None], dim, axis=-1)
        moving = np.asarray(moving)
        if moving.dtype != bool or moving.shape not in (shape, shape + (dim,)):
            raise InputError(f"moving must be a boolean mask of shape {shape} or {shape + (dim,)}, "
                             f"got dtype {moving.dtype} and shape {moving.shape}")
        return moving.copy() if moving.shape == shape + (dim,) else np.repeat(moving[..., None], dim, axis=-1)

    @property
    def n_variables(self) -> int:
        return self.matrix.shape[1]

    def displacement(self, x) -> np.ndarray:
        """Node displacement ``(n_moving_nodes, dim)`` for the design ``x (n_variables,)``."""
        return (self.matrix @ np.asarray(x, dtype=np.float64)).reshape(-1, self.dim)

    def vjp(self, displacement_bar) -> np.ndarray:
        """Bᵀ d̄: the gradient ``(n_variables,)`` from d̄ ``(n_moving_nodes, dim)``."""
        return self.matrix.T @ np.asarray(displacement_bar, dtype=np.float64).ravel()

    def control_displacement(self, x) -> np.ndarray:
        """ΔP ``(*shape, dim)`` for design ``x``."""
        delta = np.zeros(self.shape + (self.dim,))
        delta[self.mask] = x
        return delta

    def variables(self, control_displacement) -> np.ndarray:
        """x ``(n_variables,)`` from ΔP ``(*shape, dim)`` (its masked components)."""
        delta = np.asarray(control_displacement, dtype=np.float64)
        if delta.shape != self.shape + (self.dim,):
            raise InputError(f"control displacement must have shape {self.shape + (self.dim,)}, got {delta.shape}")
        return delta[self.mask]
