"""Density filters: the distance-weighted (cone) filter and the sensitivity filter.

The density filter (Bruns & Tortorelli 2001, Bourdin 2001) replaces each cell's design
value by a weighted mean over the cells whose centroids lie within the radius ``r``:

    ρ̃_i = Σ_j w_ij v_j x_j / Σ_j w_ij v_j,      w_ij = max(0, r − |c_i − c_j|),

``v_j`` the cell volumes (all equal on a structured mesh, where this is exactly the
filter of the 88-line code). The matrix is built once (a k-d tree over the centroids,
SciPy sparse) and applied inside JAX code through a ``jax.custom_vjp`` whose forward and
backward passes are SciPy mat-vecs with W and Wᵀ (host callbacks): measured at 300 x 100
cells this is ~10x faster on the CPU than ``jax.experimental.sparse`` (BCOO), and the
transpose is exact by construction (tested against ⟨Wx, y⟩ = ⟨x, Wᵀy⟩).

The sensitivity filter (Sigmund 1997; top88 ``ft = 1``) is not a map of the design but
a heuristic smoothing of the objective's gradient; it is offered as
:meth:`DensityFilter.filter_sensitivity` for the classical set-up.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ..errors import InputError
from ..mesh.quality import cell_measures

__all__ = ["DensityFilter", "filter_matrix", "host_linear_map"]


def filter_matrix(centroids, radius: float, volumes=None) -> tuple[sp.csr_matrix, np.ndarray]:
    """Cone weights ``H_ij = max(0, r − |c_i − c_j|) v_j`` (CSR) and their row sums.

    Args:
        centroids: cell centroids ``(n_cells, dim)``.
        radius: filter radius ``r`` (> 0, same unit as the coordinates).
        volumes: cell volumes ``(n_cells,)`` (default: all 1).
    """
    centroids = np.asarray(centroids, dtype=np.float64)
    if not np.isfinite(radius) or radius <= 0:
        raise InputError(f"filter radius must be a positive number, got {radius!r}")
    tree = cKDTree(centroids)
    distances = tree.sparse_distance_matrix(tree, radius, output_type="coo_matrix")
    weights = radius - distances.data
    keep = (weights > 0) & (distances.row != distances.col)
    rows, cols, weights = distances.row[keep], distances.col[keep], weights[keep]
    # Whether SciPy stores the zero self-distances varies: drop them and add the diagonal.
    n = len(centroids)
    rows = np.concatenate([rows, np.arange(n)])
    cols = np.concatenate([cols, np.arange(n)])
    weights = np.concatenate([weights, np.full(n, float(radius))])
    if volumes is not None:
        weights = weights * np.asarray(volumes, dtype=np.float64)[cols]
    H = sp.csr_matrix((weights, (rows, cols)), shape=(n, n))
    H.sum_duplicates()
    return H, np.asarray(H.sum(axis=1)).ravel()


def host_linear_map(apply, apply_transpose, size: int):
    """A linear map y = A x computed on the host (SciPy), as a JAX function of x that
    reverse-mode differentiates through ``apply_transpose`` (x̄ = Aᵀ ȳ).

    Args:
        apply, apply_transpose: NumPy ``(size,) -> (size,)`` callables, A and Aᵀ.
        size: length of x and y.
    """
    shape = jax.ShapeDtypeStruct((size,), jnp.float64)

    @jax.custom_vjp
    def linear_map(x):
        return jax.pure_callback(lambda v: apply(np.asarray(v, dtype=np.float64)), shape, x)

    def forward(x):
        return linear_map(x), None

    def backward(_, y_bar):
        return (jax.pure_callback(lambda v: apply_transpose(np.asarray(v, dtype=np.float64)), shape, y_bar),)

    linear_map.defvjp(forward, backward)
    return linear_map


class DensityFilter:
    """The distance-weighted density filter on a mesh's cells.

    Args:
        mesh: the mesh (cells are the design cells).
        radius: filter radius in mesh units (top88's ``rmin`` on a unit-cell grid).

    Attributes:
        matrix: the normalized filter ``W = diag(1/Σ_j H_ij) H`` (CSR, rows sum to 1).
        H, row_sums: the unnormalized weights and their row sums.
    """

    def __init__(self, mesh, radius: float):
        volumes = np.abs(np.asarray(cell_measures(mesh.points, mesh.cells, mesh.cell_type), dtype=np.float64))
        self.radius = float(radius)
        self.H, self.row_sums = filter_matrix(mesh.cell_centroids(), radius, volumes)
        self.matrix = sp.diags(1.0 / self.row_sums) @ self.H
        self.matrix = self.matrix.tocsr()
        self.n_cells = mesh.n_cells
        self._apply = self._make_apply()

    def _make_apply(self):
        W, WT = self.matrix, self.matrix.T.tocsr()
        return host_linear_map(lambda v: W @ v, lambda v: WT @ v, self.n_cells)

    def arrays(self) -> dict:
        """Nothing to pass into compiled code: the matrix stays on the host."""
        return {}

    def apply(self, arrays: dict, x):
        """ρ̃ = W x inside JAX code (reverse-mode differentiable)."""
        return self._apply(x)

    def __call__(self, x):
        """ρ̃ = W x with NumPy/SciPy (outside JAX)."""
        return self.matrix @ np.asarray(x, dtype=np.float64)

    def filter_sensitivity(self, x, gradient, *, minimum: float = 1e-3) -> np.ndarray:
        """The sensitivity filter of Sigmund (1997) as in top88 (``ft = 1``):

            ĝ_i = Σ_j H_ij x_j g_j / (max(minimum, x_i) Σ_j H_ij).

        A heuristic: ĝ is not the gradient of any function, which is why it only pairs
        with optimality criteria (and why a converged design is not a KKT point)."""
        x = np.asarray(x, dtype=np.float64)
        return (self.H @ (x * np.asarray(gradient))) / self.row_sums / np.maximum(minimum, x)
