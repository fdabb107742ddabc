"""Lagrange bases on the unit simplex (tri3, tri6, tet4, tet10), in barycentric form.

On the unit simplex ``{xi >= 0, sum(xi) <= 1}`` the barycentric coordinates are
``L_0 = 1 - sum(xi)`` and ``L_i = xi_(i-1)`` for ``i = 1..dim``. The bases are

* linear:    ``N_a = L_a``;
* quadratic: ``N_a = L_a (2 L_a - 1)`` at corner ``a`` and ``N_m = 4 L_i L_j`` at the
  mid-node ``m`` of edge ``(i, j)``.

Which edge a mid-node sits on is read off its coordinates, so the node table in
:mod:`femopt.fem.elements` is the only statement of the VTK ordering.
"""
from __future__ import annotations

import numpy as np

from femopt.errors import InternalError

__all__ = ["SimplexBasis", "barycentric"]


def barycentric(xi: np.ndarray) -> np.ndarray:
    """Barycentric coordinates ``(n_points, dim + 1)`` of reference points ``(n_points, dim)``."""
    return np.concatenate([1.0 - xi.sum(axis=1, keepdims=True), xi], axis=1)


def _barycentric_gradient(dim: int) -> np.ndarray:
    """``dL_i / dxi_j`` as a constant ``(dim + 1, dim)`` array."""
    return np.vstack([-np.ones((1, dim)), np.eye(dim)])


class SimplexBasis:
    """Shape functions of a linear or quadratic Lagrange simplex.

    Args:
        nodes: reference coordinates of the nodes, ``(n_nodes, dim)``: the ``dim + 1``
            corners first, then (quadratic) one mid-node per edge.
        order: 1 or 2.
    """

    def __init__(self, nodes: np.ndarray, order: int):
        dim = nodes.shape[1]
        self.order = order
        self._gradient_of_barycentric = _barycentric_gradient(dim)
        node_barycentric = barycentric(nodes)
        if order == 1:
            self._first = self._second = np.arange(dim + 1)
            return
        # Each node is the product of the one or two barycentric coordinates that are
        # non-zero there: a corner pairs with itself, a mid-node with its edge's corners.
        pairs = [np.flatnonzero(np.abs(lam) > 1e-12) for lam in node_barycentric]
        if order != 2 or any(len(p) not in (1, 2) for p in pairs):
            raise InternalError(f"simplex node table does not describe an order-{order} element")
        self._first = np.array([p[0] for p in pairs])
        self._second = np.array([p[-1] for p in pairs])

    def values(self, xi: np.ndarray) -> np.ndarray:
        """Shape functions ``(n_points, n_nodes)`` at reference points ``(n_points, dim)``."""
        L = barycentric(xi)
        if self.order == 1:
            return L
        Li, Lj = L[:, self._first], L[:, self._second]
        is_corner = self._first == self._second
        return np.where(is_corner, Li * (2.0 * Li - 1.0), 4.0 * Li * Lj)

    def gradients(self, xi: np.ndarray) -> np.ndarray:
        """``dN_a / dxi_j`` as ``(n_points, n_nodes, dim)`` at points ``(n_points, dim)``."""
        G = self._gradient_of_barycentric
        if self.order == 1:
            return np.broadcast_to(G, (xi.shape[0],) + G.shape).copy()
        L = barycentric(xi)
        Li = L[:, self._first, None]
        Lj = L[:, self._second, None]
        Gi, Gj = G[self._first], G[self._second]
        is_corner = (self._first == self._second)[:, None]
        return np.where(is_corner, (4.0 * Li - 1.0) * Gi, 4.0 * (Lj * Gi + Li * Gj))
