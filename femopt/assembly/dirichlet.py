"""Dirichlet conditions by elimination: the free / prescribed partition of the dofs.

Newton works on the free dofs only; prescribed dofs carry their values inside the full
vector. The free–free block of the tangent is cut out of the assembled CSR matrix by a
precomputed index map, so eliminating costs one gather per assembly.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["DofPartition"]


class DofPartition:
    """Free and prescribed dofs of a space, with a fast free–free extraction.

    Args:
        n_dofs: total number of dofs.
        prescribed: ids of the prescribed dofs (unique).

    A partition serves matrices of one sparsity pattern (one assembler): the index maps
    are computed from the first matrix it sees.
    """

    def __init__(self, n_dofs: int, prescribed: np.ndarray):
        self.n_dofs = int(n_dofs)
        self.prescribed = np.unique(np.asarray(prescribed, dtype=np.int64))
        mask = np.ones(self.n_dofs, dtype=bool)
        mask[self.prescribed] = False
        self.free = np.flatnonzero(mask)
        self._maps: dict = {}

    def expand(self, u_free: np.ndarray, prescribed_values: np.ndarray) -> np.ndarray:
        """Full dof vector from free values and prescribed values."""
        u = np.empty(self.n_dofs)
        u[self.free] = u_free
        u[self.prescribed] = prescribed_values
        return u

    def _block_map(self, K: sp.csr_matrix, rows, cols):
        key = (K.nnz, rows is self.free, cols is self.free)
        if key not in self._maps:
            probe = sp.csr_matrix((np.arange(K.nnz, dtype=np.float64) + 1.0, K.indices, K.indptr),
                                  shape=K.shape)
            block = probe[rows][:, cols].tocsr()
            block.sort_indices()
            # The +1 keeps entry 0 from vanishing as a structural zero.
            self._maps[key] = (block.data.astype(np.int64) - 1, block.indices, block.indptr, block.shape)
        return self._maps[key]

    def free_block(self, K: sp.csr_matrix) -> sp.csr_matrix:
        """K[free][:, free] as CSR, by a gather of K.data."""
        index, indices, indptr, shape = self._block_map(K, self.free, self.free)
        return sp.csr_matrix((K.data[index], indices, indptr), shape=shape)

    def free_prescribed_block(self, K: sp.csr_matrix) -> sp.csr_matrix:
        """K[free][:, prescribed] as CSR (the coupling a prescribed value exerts)."""
        index, indices, indptr, shape = self._block_map(K, self.free, self.prescribed)
        return sp.csr_matrix((K.data[index], indices, indptr), shape=shape)
