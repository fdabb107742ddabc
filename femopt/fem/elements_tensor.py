"""Bases on the reference cube ``[-1, 1]^dim``: tensor-product Lagrange and serendipity.

* Tensor-product Lagrange (line2, line3, quad4, quad9, hex8, hex27): ``N_a(xi) =
  prod_j l_(k_aj)(xi_j)`` with the 1D Lagrange basis ``l`` on the nodes (-1, 1) or
  (-1, 1, 0) (VTK's line3 order) and ``k_aj`` the 1D node of node ``a`` in direction ``j``.
* Quadratic serendipity (quad8, hex20), by the classical formulas with ``x_a`` the node
  coordinates, ``d`` the dimension:
  corner ``N_a = prod_j (1 + xi_j x_aj) / 2 * (sum_j xi_j x_aj - (d - 1))``;
  mid-edge node (``x_ak = 0``) ``N_a = (1 - xi_k^2) prod_(j != k) (1 + xi_j x_aj) / 2``.

Both are products of one factor per direction (times a corner term for serendipity),
so values and gradients come from one product rule.
"""
from __future__ import annotations

import numpy as np

from femopt.errors import InternalError

__all__ = ["TensorLagrangeBasis", "SerendipityBasis"]

# 1D nodes in VTK line order: left, right, then the middle for line3.
_NODES_1D = {1: np.array([-1.0, 1.0]), 2: np.array([-1.0, 1.0, 0.0])}


def _lagrange_1d(x: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """1D Lagrange basis on ``_NODES_1D[order]`` and its derivative, each ``x.shape + (order + 1,)``."""
    x = x[..., None]
    if order == 1:
        values = np.concatenate([(1.0 - x) / 2.0, (1.0 + x) / 2.0], axis=-1)
        derivs = np.broadcast_to(np.array([-0.5, 0.5]), values.shape)
        return values, derivs
    values = np.concatenate([x * (x - 1.0) / 2.0, x * (x + 1.0) / 2.0, 1.0 - x * x], axis=-1)
    derivs = np.concatenate([x - 0.5, x + 0.5, -2.0 * x], axis=-1)
    return values, derivs


def _product_rule(factors: np.ndarray, derivatives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value and gradient of ``prod_j f_j(xi_j)``.

    Args:
        factors, derivatives: ``f_j`` and ``f_j'`` at the points, ``(n_points, n_nodes, dim)``.

    Returns:
        values ``(n_points, n_nodes)`` and gradients ``(n_points, n_nodes, dim)``.
    """
    dim = factors.shape[-1]
    gradients = np.empty(factors.shape)
    for k in range(dim):
        swapped = factors.copy()
        swapped[..., k] = derivatives[..., k]
        gradients[..., k] = np.prod(swapped, axis=-1)
    return np.prod(factors, axis=-1), gradients


class TensorLagrangeBasis:
    """Tensor-product Lagrange basis of one order in every direction.

    Args:
        nodes: reference coordinates ``(n_nodes, dim)``, each coordinate one of the 1D
            nodes of ``order``; the node-index table is read off them.
        order: 1 or 2.
    """

    def __init__(self, nodes: np.ndarray, order: int):
        nodes_1d = _NODES_1D[order]
        match = np.isclose(nodes[:, :, None], nodes_1d)  # (n_nodes, dim, n_1d)
        if not np.all(match.sum(axis=-1) == 1):
            raise InternalError(f"node table is not a tensor grid of order {order}")
        self.order = order
        self._index = match.argmax(axis=-1)  # (n_nodes, dim): 1D node per direction
        self._directions = np.arange(nodes.shape[1])

    def _factors(self, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values_1d, derivs_1d = _lagrange_1d(xi, self.order)  # (n_points, dim, n_1d)
        take = (slice(None), self._directions, self._index)  # -> (n_points, n_nodes, dim)
        return values_1d[take], derivs_1d[take]

    def values(self, xi: np.ndarray) -> np.ndarray:
        """Shape functions ``(n_points, n_nodes)`` at reference points ``(n_points, dim)``."""
        return np.prod(self._factors(xi)[0], axis=-1)

    def gradients(self, xi: np.ndarray) -> np.ndarray:
        """``dN_a / dxi_j`` as ``(n_points, n_nodes, dim)`` at points ``(n_points, dim)``."""
        return _product_rule(*self._factors(xi))[1]


class SerendipityBasis:
    """Quadratic serendipity basis (8-node quadrilateral, 20-node hexahedron).

    Args:
        nodes: reference coordinates ``(n_nodes, dim)``: corners (every coordinate
            ``+-1``) and mid-edge nodes (exactly one coordinate 0).
    """

    def __init__(self, nodes: np.ndarray):
        zeros = np.sum(nodes == 0.0, axis=1)
        if not np.all((zeros <= 1) & np.all(np.isin(nodes, (-1.0, 0.0, 1.0)), axis=1)):
            raise InternalError("node table is not a quadratic serendipity node set")
        self._nodes = nodes
        self._is_corner = zeros == 0
        self._corner_offset = nodes.shape[1] - 1

    def _evaluate(self, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self._nodes[None]  # (1, n_nodes, dim)
        s = xi[:, None, :]  # (n_points, 1, dim)
        on_axis = x == 0.0
        factors = np.where(on_axis, 1.0 - s * s, (1.0 + s * x) / 2.0)
        derivs = np.where(on_axis, -2.0 * s, x / 2.0)
        product, product_gradient = _product_rule(factors, derivs)
        # Corner term (sum_j xi_j x_aj - (d - 1)); 1 for mid-edge nodes.
        corner = np.where(self._is_corner, np.sum(s * x, axis=-1) - self._corner_offset, 1.0)
        corner_gradient = np.where(self._is_corner[:, None], self._nodes, 0.0)
        values = product * corner
        gradients = product_gradient * corner[..., None] + product[..., None] * corner_gradient
        return values, gradients

    def values(self, xi: np.ndarray) -> np.ndarray:
        """Shape functions ``(n_points, n_nodes)`` at reference points ``(n_points, dim)``."""
        return self._evaluate(xi)[0]

    def gradients(self, xi: np.ndarray) -> np.ndarray:
        """``dN_a / dxi_j`` as ``(n_points, n_nodes, dim)`` at points ``(n_points, dim)``."""
        return self._evaluate(xi)[1]
