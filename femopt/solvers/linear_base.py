"""The linear-solver interface: factorize once, solve many times, solve transposed.

A :class:`LinearSolver` is a strategy object with no per-matrix state; its
:meth:`~LinearSolver.factorize` returns a :class:`Factorization` that holds everything
needed to solve ``A x = b`` and ``A^T y = b`` for any number of right-hand sides. The
transposed solve reuses the same factorization, which is what the adjoint needs: Newton
leaves the factorization of the tangent at the solution, and the adjoint solves
``K^T lambda = dJ/du`` with it at the cost of two triangular solves.

Concrete solvers live in :mod:`femopt.solvers.linear_direct` and
:mod:`femopt.solvers.linear_iterative`; :mod:`femopt.solvers.linear` is the public entry.
"""
from __future__ import annotations

import abc
import logging
import time

import numpy as np
import scipy.sparse as sp

from femopt._progress import PROGRESS
from femopt.errors import InputError

_log = logging.getLogger("femopt.solvers")

#: Systems of at least this many unknowns announce their set-up (factorization or
#: preconditioner) and its time as progress lines (see ``femopt._progress``).
PROGRESS_MIN_DOFS = 50_000

__all__ = ["LinearSolver", "Factorization", "as_square_csr", "format_dofs"]


def as_square_csr(A, what: str = "matrix") -> sp.csr_matrix:
    """``A`` as a canonical float64 CSR matrix (sorted indices, no duplicates).

    Args:
        A: square scipy.sparse matrix or array, shape ``(n, n)``; a dense 2D numpy array
            is accepted and converted.
        what: name of the argument, for error messages.

    Returns:
        CSR matrix of shape ``(n, n)``; ``A`` itself when it already is one (the caller's
        matrix is never modified in place).

    Raises:
        InputError: ``A`` is not 2D, not square, empty, complex, or holds NaN/Inf.
    """
    if sp.issparse(A):
        A = A.tocsr()
    elif isinstance(A, np.ndarray) and A.ndim == 2:
        A = sp.csr_matrix(A)
    else:
        raise InputError(
            f"{what} must be a square scipy.sparse matrix (CSR or CSC), got "
            f"{type(A).__name__} with shape {getattr(A, 'shape', None)}"
        )
    if A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise InputError(f"{what} must be square and non-empty, got shape {A.shape}")
    if np.iscomplexobj(A.data):
        raise InputError(f"{what} must be real (float64), got dtype {A.dtype}")
    if A.dtype != np.float64:
        A = A.astype(np.float64)
    if not A.has_canonical_format:
        A = A.copy()
        A.sum_duplicates()
    if not np.isfinite(A.data).all():
        bad_rows = np.unique(np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))[~np.isfinite(A.data)])
        raise InputError(f"{what} holds NaN or Inf entries in rows {format_dofs(bad_rows)}")
    return A


def format_dofs(dofs, limit: int = 20) -> str:
    """Short printable list of dof ids: the first ``limit`` and the total count."""
    dofs = np.asarray(dofs, dtype=np.int64).ravel()
    shown = ", ".join(str(d) for d in dofs[:limit])
    if dofs.size > limit:
        return f"[{shown}, ...] ({dofs.size} in all)"
    return f"[{shown}]"


class Factorization(abc.ABC):
    """A matrix ready to be solved with, for any number of right-hand sides.

    Attributes:
        matrix: the matrix ``A`` it was built from, CSR, shape ``(n, n)``.
        solver_name: which backend built it (``"superlu"``, ``"cholmod"``, ``"cg+amg"``...).
    """

    def __init__(self, matrix: sp.csr_matrix, solver_name: str):
        self.matrix = matrix
        self.solver_name = solver_name

    @property
    def shape(self) -> tuple[int, int]:
        """Shape ``(n, n)`` of the factorized matrix."""
        return self.matrix.shape

    @property
    def nnz(self) -> int:
        """Stored nonzeros of the factorized matrix ``A`` (not of its factors)."""
        return int(self.matrix.nnz)

    def solve(self, b, *, guess=None) -> np.ndarray:
        """Solve ``A x = b``.

        Args:
            b: right-hand side, shape ``(n,)`` or ``(n, k)`` for k right-hand sides.
            guess: a starting point of the shape of ``b`` for iterative solvers (e.g. the
                previous design's solution in an optimization loop); direct ones ignore it.

        Returns:
            x, float64, same shape as ``b``.
        """
        b = self._check_rhs(b)
        if guess is None:
            return self._solve(b, transpose=False)
        guess = np.asarray(guess, dtype=np.float64)
        if guess.shape != b.shape:
            raise InputError(f"the initial guess must have the right-hand side's shape {b.shape}, "
                             f"got {guess.shape}")
        return self._solve_from(b, guess)

    def _solve_from(self, b: np.ndarray, guess: np.ndarray) -> np.ndarray:
        """``A x = b`` started from ``guess``; only iterative backends use the guess."""
        return self._solve(b, transpose=False)

    def solve_transpose(self, b) -> np.ndarray:
        """Solve ``A^T y = b`` with the same factorization (the adjoint solve).

        Args:
            b: right-hand side, shape ``(n,)`` or ``(n, k)``.

        Returns:
            y, float64, same shape as ``b``.
        """
        return self._solve(self._check_rhs(b), transpose=True)

    def _check_rhs(self, b) -> np.ndarray:
        b = np.asarray(b)
        n = self.shape[0]
        if b.ndim not in (1, 2) or b.shape[0] != n:
            raise InputError(
                f"right-hand side must have shape ({n},) or ({n}, k) to match the "
                f"{n}x{n} matrix, got shape {b.shape}"
            )
        if np.iscomplexobj(b):
            raise InputError(f"right-hand side must be real, got dtype {b.dtype}")
        if not np.isfinite(b).all():
            raise InputError("right-hand side holds NaN or Inf entries")
        return np.array(b, dtype=np.float64, order="F" if b.ndim == 2 else "C")

    @abc.abstractmethod
    def _solve(self, b: np.ndarray, transpose: bool) -> np.ndarray:
        """Backend solve; ``b`` is a validated float64 array of shape (n,) or (n, k)."""

    def __repr__(self) -> str:
        n = self.shape[0]
        return f"{type(self).__name__}({self.solver_name}, {n}x{n}, nnz={self.nnz})"


class LinearSolver(abc.ABC):
    """Strategy that turns a sparse matrix into a :class:`Factorization`.

    Solvers hold options only, never a matrix, so one instance serves every Newton
    iteration and every design iteration.
    """

    def factorize(self, A) -> Factorization:
        """Factorize (or precondition) ``A``.

        Args:
            A: square scipy.sparse matrix, shape ``(n, n)``; converted to CSR/CSC as the
                backend needs (the argument is not modified).

        Returns:
            a :class:`Factorization` whose ``solve`` / ``solve_transpose`` accept
            ``(n,)`` or ``(n, k)`` right-hand sides.
        """
        A = as_square_csr(A)
        if A.shape[0] < PROGRESS_MIN_DOFS:
            return self._factorize(A)
        _log.info("linear system: %d dofs, %d nonzeros — setting up %s ...", A.shape[0], A.nnz,
                  type(self).__name__, extra=PROGRESS)
        start = time.perf_counter()
        factorization = self._factorize(A)
        _log.info("%s of %d dofs ready in %.1f s", factorization.solver_name, A.shape[0],
                  time.perf_counter() - start, extra=PROGRESS)
        return factorization

    def with_context(self, context) -> "LinearSolver":
        """This solver configured for a system described by a
        :class:`~femopt.solvers.selection.SolverContext` (node coordinates, components,
        free dofs, symmetry): e.g. CG with AMG takes the near-null space from it, "auto"
        makes its choice. The default: the solver itself."""
        return self

    @abc.abstractmethod
    def _factorize(self, A: sp.csr_matrix) -> Factorization:
        """Backend factorization of a validated canonical float64 CSR matrix."""
