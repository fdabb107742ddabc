"""Sparse matrix–vector products on several threads.

CG and the multigrid smoothers spend almost all their time in ``A @ x`` with a CSR matrix,
and SciPy runs that product on one thread. Its C++ kernel releases the GIL, though, so
the rows can be split into blocks of about equal non-zeros and multiplied by a pool of
Python threads at once: on the 2-core reference machine a 13-million-entry hex8
stiffness takes 9.4 ms instead of 17.5 ms. Each block is a CSR view of the matrix's own
arrays (no copy of the values); results are written into their rows of one output, so
the product is bitwise the single-threaded one.

The number of threads is the CPUs this process may run on, or ``FEMOPT_THREADS`` when
set (``FEMOPT_THREADS=1`` switches threading off). Small matrices (under
:data:`MIN_THREADED_NNZ` entries) are multiplied directly: a thread hand-off costs more
than it saves there.

OpenBLAS keeps its worker threads spinning for a while after each BLAS call, and CG makes
one (a dot product, a norm) between every two products: those spinning threads took the
cores from the product's threads, and the gain vanished inside CG (19 ms either way).
:func:`single_threaded_blas` holds BLAS to one thread around a solve (level-1 BLAS on
vectors of this size gains nothing from threads), through threadpoolctl, which knows
each BLAS vendor's entry points; without it the solve runs as before.
"""
from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["ThreadedCSR", "thread_count", "single_threaded_blas", "MIN_THREADED_NNZ"]

#: Below this many stored entries a product runs on the calling thread.
MIN_THREADED_NNZ = 200_000

_POOL: ThreadPoolExecutor | None = None


def thread_count() -> int:
    """Threads for sparse products: ``FEMOPT_THREADS`` if set, else the usable CPUs."""
    setting = os.environ.get("FEMOPT_THREADS", "").strip()
    if setting:
        try:
            return max(1, int(setting))
        except ValueError:
            return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:            # not on Linux
        return max(1, os.cpu_count() or 1)


_CONTROLLER = None


def single_threaded_blas():
    """A context in which BLAS runs on one thread (a no-op without threadpoolctl, or
    when sparse products are not threaded)."""
    global _CONTROLLER
    if thread_count() == 1:
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER = False
        else:
            _CONTROLLER = ThreadpoolController()
    if _CONTROLLER is False:
        return contextlib.nullcontext()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def _pool(threads: int) -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None or _POOL._max_workers < threads:
        _POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="femopt-spmv")
    return _POOL


class ThreadedCSR(spla.LinearOperator):
    """``A @ x`` of a CSR matrix on several threads; a SciPy ``LinearOperator``.

    Args:
        A: the matrix (any SciPy sparse format; converted to CSR once).
        threads: number of row blocks / threads (default :func:`thread_count`).

    Attributes:
        matrix: the CSR matrix.
    """

    def __init__(self, A, threads: int | None = None):
        A = A if sp.isspmatrix_csr(A) or isinstance(A, sp.csr_array) else sp.csr_matrix(A)
        super().__init__(dtype=np.float64, shape=A.shape)
        self.matrix = A
        threads = thread_count() if threads is None else max(1, int(threads))
        self.threads = threads if A.nnz >= MIN_THREADED_NNZ else 1
        self._blocks = self._split(A, self.threads) if self.threads > 1 else []

    @staticmethod
    def _split(A, threads):
        """Row blocks of about equal non-zeros, as CSR views of A's arrays."""
        indptr = A.indptr
        cuts = np.searchsorted(indptr, np.linspace(0, A.nnz, threads + 1)[1:-1])
        bounds = [0, *sorted(set(int(c) for c in cuts)), A.shape[0]]
        blocks = []
        for start, stop in zip(bounds[:-1], bounds[1:]):
            if stop <= start:
                continue
            lo, hi = indptr[start], indptr[stop]
            view = sp.csr_matrix((A.data[lo:hi], A.indices[lo:hi], indptr[start:stop + 1] - lo),
                                 shape=(stop - start, A.shape[1]), copy=False)
            blocks.append((start, stop, view))
        return blocks

    def _matvec(self, x):
        x = np.ravel(np.asarray(x, dtype=np.float64))
        if not self._blocks:
            return self.matrix @ x
        out = np.empty(self.shape[0])

        def product(block):
            start, stop, view = block
            out[start:stop] = view @ x

        for future in [_pool(self.threads).submit(product, block) for block in self._blocks]:
            future.result()
        return out

    def _rmatvec(self, x):
        return self.matrix.T @ np.ravel(np.asarray(x, dtype=np.float64))

    def __matmul__(self, x):
        if np.ndim(x) == 1:
            return self._matvec(x)
        return self.matrix @ x

    def diagonal(self):
        return self.matrix.diagonal()
