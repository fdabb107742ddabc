"""Two-level preconditioner with a matrix-free fine level, for structured quad4 / hex8.

The fine level is never assembled: it is smoothed by Chebyshev–Jacobi with products of
:class:`~femopt.solvers.matrix_free.MatrixFreeOperator`. The coarse level (the lattice
coarsened by 2, prolongation ``P`` from :func:`~femopt.solvers.multigrid_grid.transfer_hierarchy`)
is the Galerkin matrix ``A_c = Pᵀ K P``, built cell by cell without ``K``:
``A_c = Σ_chunks Pᵀ K_chunk P`` where ``K_chunk`` holds one chunk's element matrices
(memory: one chunk plus ``A_c``, about 1/8 of the fine matrix in 3D). ``A_c`` is solved
by a sparse direct factorization when small, else by one smoothed-aggregation AMG
V-cycle (pyamg, told the rigid-body modes, built under a fixed seed).

The cycle is symmetric — pre-smoothing, coarse correction, the same post-smoothing —
so it is an SPD preconditioner for CG (Saad, 2nd ed., §13.4).
"""
from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import InputError
from ..fem.nullspace import rigid_body_modes
from .linear_iterative import import_pyamg, seeded_global_numpy_random
from .matrix_free_chebyshev import ChebyshevJacobi, chebyshev
from .multigrid_grid import structured_grid, transfer_hierarchy

__all__ = ["TwoLevelMatrixFree", "galerkin_coarse_matrix"]

_log = logging.getLogger("femopt.solvers")


def galerkin_coarse_matrix(operator, P) -> sp.csr_matrix:
    """``Pᵀ K_ff P`` ``(n_coarse, n_coarse)`` from the operator's element matrices, chunk
    by chunk, without the fine matrix.

    Args:
        operator: a :class:`~femopt.solvers.matrix_free.MatrixFreeOperator`.
        P: prolongation ``(n_free, n_coarse)`` (sparse).
    """
    position = np.full(operator.n_dofs, -1, dtype=np.int64)
    position[operator.free] = np.arange(operator.free.size)
    n, n_coarse = operator.free.size, P.shape[1]
    P = sp.csr_matrix(P)
    coarse = sp.csr_matrix((n_coarse, n_coarse))
    pending, pending_entries = [], 0

    def merge(coarse, pending):
        data, rows, cols = (np.concatenate([getattr(p, key) for p in pending]) for key in ("data", "row", "col"))
        return coarse + sp.csr_matrix((data, (rows, cols)), shape=(n_coarse, n_coarse))

    for dofs, K_e in operator.element_matrices():
        local = position[dofs]
        rows = np.broadcast_to(local[:, :, None], K_e.shape)
        cols = np.broadcast_to(local[:, None, :], K_e.shape)
        keep = (rows >= 0) & (cols >= 0)
        K_chunk = sp.csr_matrix((K_e[keep], (rows[keep], cols[keep])), shape=(n, n))
        pending.append((P.T @ (K_chunk @ P)).tocoo())
        pending_entries += pending[-1].nnz
        # merge once the chunks' entries outgrow the sum: memory stays ~2x the coarse
        # matrix, and each entry is merged O(log) times
        if pending_entries > max(coarse.nnz, 10**6):
            coarse, pending, pending_entries = merge(coarse, pending), [], 0
    if pending:
        coarse = merge(coarse, pending)
    coarse.sort_indices()
    return coarse


class TwoLevelMatrixFree:
    """Matrix-free Chebyshev smoothing + Galerkin coarse correction: ``setup(op) -> apply``.

    Args:
        degree: Chebyshev smoothing steps before and after the coarse correction.
        ratio: smoothing interval ``[upper / ratio, upper]`` of ``D⁻¹K``.
        direct_dofs: factorize the coarse matrix directly up to this many dofs, else
            one AMG V-cycle (pyamg) per application (3D elasticity, 14k coarse dofs:
            SuperLU 8 s, pyamg set-up 0.3 s).
        seed: seed of the Lanczos bound and of pyamg's set-up.

    Attributes:
        coarse_dofs: size of the coarse matrix after :meth:`setup`.
        coarse_method: ``"direct"`` or ``"amg"``.
        setup_seconds: wall time of the latest :meth:`setup`.
    """

    def __init__(self, degree: int = 3, *, ratio: float = 8.0, direct_dofs: int = 5000, seed: int = 0):
        self.smoother = ChebyshevJacobi(degree, ratio=ratio, seed=seed)
        self.direct_dofs = int(direct_dofs)
        self.seed = int(seed)
        self.coarse_dofs = None
        self.coarse_method = None
        self.setup_seconds = 0.0

    def _coarse_solver(self, A, transfer, points, c):
        if A.shape[0] <= self.direct_dofs or import_pyamg() is None:
            self.coarse_method = "direct"
            return spla.splu(A.tocsc()).solve
        self.coarse_method = "amg"
        pyamg = import_pyamg()
        modes = rigid_body_modes(points, c)
        B = None if modes is None else modes[transfer.coarse_nodes * c + transfer.coarse_components]
        with seeded_global_numpy_random(self.seed):
            hierarchy = pyamg.smoothed_aggregation_solver(A, B=B, symmetry="symmetric")
        return lambda b: hierarchy.solve(b, maxiter=1, cycle="V", tol=1e-300)

    def setup(self, operator):
        """Build the coarse level for a :class:`MatrixFreeOperator`.

        Returns:
            ``apply(r) -> z`` on NumPy arrays ``(n_free,)``.

        Raises:
            InputError: the mesh is not a structured quad4 / hex8 lattice, or too small
                to coarsen.
        """
        start = time.perf_counter()
        mesh = operator.problem.mesh
        grid = structured_grid(mesh)
        if grid is None:
            raise InputError(f"TwoLevelMatrixFree needs a structured quad4 / hex8 lattice mesh, got a "
                             f"{mesh.cell_type.name} mesh that is not one; use ChebyshevJacobi instead")
        c = operator.n_components
        transfers = transfer_hierarchy(grid, c, operator.free, coarse_dofs=1, max_levels=2)
        if not transfers:
            raise InputError("TwoLevelMatrixFree: the lattice is too small to coarsen; use ChebyshevJacobi")
        transfer = transfers[0]
        coarse = galerkin_coarse_matrix(operator, transfer.P)
        self.coarse_dofs = coarse.shape[0]
        solve_coarse = self._coarse_solver(coarse, transfer, mesh.points, c)
        inverse_diagonal = 1.0 / operator.diagonal()
        lower, upper = self.smoother.bounds(operator, inverse_diagonal)
        degree = self.smoother.degree
        P, R = transfer.P, transfer.R
        product = operator.matvec

        def smooth(r):
            return chebyshev(product, r, inverse_diagonal, lower, upper, degree)

        def apply(r):
            r = np.asarray(r, dtype=np.float64).reshape(-1)
            x = smooth(r)
            x = x + P @ solve_coarse(R @ (r - product(x)))
            return x + smooth(r - product(x))

        self.setup_seconds = time.perf_counter() - start
        _log.info("two-level matrix-free preconditioner: %d fine, %d coarse dofs (%s), %.2f s set-up",
                  operator.shape[0], self.coarse_dofs, self.coarse_method, self.setup_seconds)
        return apply

    def __repr__(self) -> str:
        return f"TwoLevelMatrixFree(degree={self.smoother.degree}, ratio={self.smoother.ratio})"
