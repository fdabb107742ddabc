"""Preconditioned conjugate gradients for large symmetric positive definite systems.

``factorize`` builds the preconditioner (the expensive, reusable part); each solve runs
CG from zero. Preconditioners: smoothed-aggregation AMG (pyamg, optional extra
``femopt[amg]``; falls back to Jacobi with a warning when pyamg is missing), Jacobi, or
a symmetrized incomplete LU (SciPy ``spilu``).
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import time

import numpy as np
import scipy.sparse.linalg as spla

from femopt._progress import PROGRESS
from femopt.errors import InputError, SingularMatrixError, SolverError
from femopt.solvers.linear_base import PROGRESS_MIN_DOFS, Factorization, LinearSolver, format_dofs
from femopt.solvers.reuse import PreconditionerReuse
from femopt.solvers.threaded import ThreadedCSR, single_threaded_blas

__all__ = ["CGSolver", "CGFactorization", "PRECONDITIONERS"]

_log = logging.getLogger("femopt.solvers")

PRECONDITIONERS = ("amg", "jacobi", "ilu")

#: A cheaper AMG set-up: the prolongation smoother's weight from local row sums instead of
#: a spectral-radius estimate (an Arnoldi iteration in Python, most of pyamg's set-up
#: time), and the candidates not smoothed further. Measured on 45 000-dof hex8 elasticity
#: with rigid-body modes: set-up 1.0-1.4 s against 4.1-4.4 s, CG 20 iterations against 15
#: (5.0 s against 3.8-4.1 s): a single solve is ~25 % faster, while a preconditioner kept
#: for many solves (topology optimization) pays off the full set-up.
FAST_AMG_SETUP = {"improve_candidates": None, "smooth": ("jacobi", {"omega": 4.0 / 3.0, "weighting": "local"})}


def import_pyamg():
    """pyamg, or None when it is not installed."""
    try:
        return importlib.import_module("pyamg")
    except ImportError:
        return None


@contextlib.contextmanager
def seeded_global_numpy_random(seed: int = 0):
    """Run a block with NumPy's global generator seeded, then put the caller's state back.

    pyamg's set-up draws the start vector of its spectral-radius estimate (the Jacobi
    prolongation smoother's weight) from ``np.random.rand``: without a fixed seed two
    runs of the same script build slightly different hierarchies, and CG results differ
    in the last digits (1.7e-8 after an MBB run), which breaks bitwise resume. The user's
    own use of ``np.random`` is left exactly where it was.
    """
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


class CGFactorization(Factorization):
    """A matrix with its preconditioner, solved by CG per right-hand side.

    Attributes:
        preconditioner: name of the preconditioner actually built.
        last_iterations: CG iterations of the most recent solve, one per right-hand side.
    """

    def __init__(self, matrix, preconditioner, apply, *, rtol, atol, maxiter, reuse=None, reused=False,
                 refresh=None):
        super().__init__(matrix, f"cg+{preconditioner}")
        self.preconditioner = preconditioner
        self.reused = reused
        self._reuse = reuse
        # set up a preconditioner for THIS matrix when a kept one stops helping
        self._refresh = refresh
        n = matrix.shape[0]
        # Every preconditioner here is symmetric, so it serves A and A^T alike.
        self._M = spla.LinearOperator((n, n), matvec=apply, dtype=np.float64)
        self.rtol = rtol
        self.atol = atol
        self.maxiter = maxiter
        self.last_iterations: list[int] = []

    def _solve(self, b, transpose, guess=None):
        n = self.shape[0]
        if transpose:
            operator = self.matrix.T
        else:
            if getattr(self, "_threaded", None) is None:
                self._threaded = ThreadedCSR(self.matrix)    # CG's products on all cores
            operator = self._threaded
        columns = b.reshape(n, -1)
        starts = None if guess is None else guess.reshape(n, -1)
        x = np.zeros_like(columns, order="F")
        self.last_iterations = []
        start = time.perf_counter()
        with single_threaded_blas():       # spinning BLAS threads would take the product's cores
            for j in range(columns.shape[1]):
                x[:, j] = self._solve_one(operator, columns[:, j], None if starts is None else starts[:, j])
        if n >= PROGRESS_MIN_DOFS:
            _log.info("CG (%s) on %d dofs: %s iterations, %.1f s", self.preconditioner, n,
                      "/".join(map(str, self.last_iterations)), time.perf_counter() - start, extra=PROGRESS)
        if self._reuse is not None and self.last_iterations:
            self._reuse.record(max(self.last_iterations))
        return x.reshape(b.shape)

    def _solve_from(self, b, guess):
        return self._solve(b, False, guess)

    def _solve_one(self, operator, b, start=None):
        count = [0]

        def callback(_):
            count[0] += 1

        # SciPy's rtol is relative to ||b|| whatever the start, so a warm start stops at
        # the same accuracy as a cold one, only sooner.
        attempt = self._reuse.attempt_limit() if (self.reused and self._refresh is not None) else None
        if attempt is not None:
            # A kept preconditioner gets a bounded try; when it needs more, set up one for
            # this matrix and go on from where CG got (the waste is bounded by the limit).
            limit = attempt if self.maxiter is None else min(attempt, self.maxiter)
            x, info = spla.cg(operator, b, x0=start, rtol=self.rtol, atol=self.atol, maxiter=limit,
                              M=self._M, callback=callback)
            if info > 0:
                _log.debug("kept preconditioner needed more than %d iterations: set up anew", limit)
                self._M = spla.LinearOperator(self.shape, matvec=self._refresh(), dtype=np.float64)
                self.reused, self._refresh = False, None
                start, count[0] = x, 0     # the new preconditioner's baseline counts from here
        else:
            info = 1
        if info != 0 or attempt is None:
            x, info = spla.cg(operator, b, x0=start, rtol=self.rtol, atol=self.atol, maxiter=self.maxiter,
                              M=self._M, callback=callback)
        self.last_iterations.append(count[0])
        if info == 0 and np.isfinite(x).all():
            return x
        b_norm = np.linalg.norm(b)
        reached = np.linalg.norm(operator @ x - b) / (b_norm if b_norm > 0 else 1.0)
        if info > 0:
            why = f"did not converge in {count[0]} iterations"
        else:
            why = f"broke down after {count[0]} iterations (is the matrix SPD?)"
        raise SolverError(
            f"CG with {self.preconditioner} preconditioner {why}: relative residual "
            f"{reached:.2e} reached, {self.rtol:.1e} requested (n = {self.shape[0]}). Raise "
            "maxiter, use a stronger preconditioner ('amg'), or a direct solver."
        )


class CGSolver(LinearSolver):
    """Preconditioned conjugate gradients (``scipy.sparse.linalg.cg``).

    For symmetric positive definite matrices only; this is not checked (an indefinite or
    nonsymmetric matrix shows up as slow convergence or a breakdown ``SolverError``).
    ``solve_transpose`` runs CG on ``A^T`` (the same matrix, for SPD ``A``).

    Args:
        preconditioner: ``"amg"`` (pyamg smoothed aggregation; Jacobi with a logged
            warning when pyamg is not installed), ``"jacobi"`` (diagonal), ``"ilu"``
            (SciPy ``spilu``, symmetrized; cheap to build, weaker than AMG in 3D), or an
            object with ``setup(A) -> apply`` (``apply(v) -> M⁻¹v``, symmetric positive
            definite) and optionally a ``name``, e.g. a geometric multigrid.
        rtol: relative residual tolerance, ``||A x - b|| <= max(rtol ||b||, atol)``.
        atol: absolute residual tolerance.
        maxiter: iteration limit per right-hand side (``None``: SciPy's ``10 n``).
        near_nullspace: ``(n, k)`` near-null-space vectors for AMG, e.g. the rigid-body
            modes of elasticity (k = 3 in 2D, 6 in 3D); ignored by the other
            preconditioners.
        ilu_drop_tol, ilu_fill_factor: ``spilu`` parameters.
        amg_options: keyword arguments of ``pyamg.smoothed_aggregation_solver`` (e.g.
            :data:`FAST_AMG_SETUP`).
        reuse: a :class:`~femopt.solvers.reuse.PreconditionerReuse` policy: later
            factorizations of matrices of the same size reuse the last preconditioner
            until CG iterations grow (``True``: the default policy; None: set up anew at
            every factorization). Solvers bound by "auto" reuse by default.

    Raises (from solves):
        SolverError: CG did not reach the tolerance (names iterations and residual).
    """

    def __init__(self, preconditioner="amg", *, rtol=1e-10, atol=0.0, maxiter=None,
                 near_nullspace=None, ilu_drop_tol=1e-4, ilu_fill_factor=10.0, reuse=None, amg_options=None):
        if not (preconditioner in PRECONDITIONERS or callable(getattr(preconditioner, "setup", None))):
            raise InputError(f"unknown CG preconditioner {preconditioner!r}; choose one of {PRECONDITIONERS} "
                             "or pass an object with setup(A) -> apply(v)")
        if not rtol > 0 or not atol >= 0:
            raise InputError(f"CG tolerances must be rtol > 0 and atol >= 0, got rtol={rtol!r}, atol={atol!r}")
        if maxiter is not None and (int(maxiter) != maxiter or maxiter < 1):
            raise InputError(f"maxiter must be a positive integer or None, got {maxiter!r}")
        if near_nullspace is not None:
            near_nullspace = np.asarray(near_nullspace, dtype=np.float64)
            if near_nullspace.ndim == 1:
                near_nullspace = near_nullspace[:, None]
            if near_nullspace.ndim != 2:
                raise InputError(f"near_nullspace must have shape (n, k), got {near_nullspace.shape}")
        self.preconditioner = preconditioner
        self.rtol = float(rtol)
        self.atol = float(atol)
        self.maxiter = None if maxiter is None else int(maxiter)
        self.near_nullspace = near_nullspace
        self.ilu_drop_tol = ilu_drop_tol
        self.ilu_fill_factor = ilu_fill_factor
        if reuse is True:
            reuse = PreconditionerReuse()
        if reuse is not None and reuse is not False and not isinstance(reuse, PreconditionerReuse):
            raise InputError(f"reuse must be None, True, False or a PreconditionerReuse, got {reuse!r}")
        self.reuse = None if reuse is False else reuse
        self._reuse_decided = reuse is not None
        self.amg_options = dict(amg_options or {})
        self._warned_no_pyamg = False

    def with_context(self, context):
        """A copy told the near-null space of the free dofs (AMG; when none was given),
        with a preconditioner-reuse policy of its own where the set-up is expensive
        (AMG: a set-up costs about one to two solves; a geometric multigrid's a fraction
        of one, so it is set up anew every time unless ``reuse`` says otherwise)."""
        modes = self.near_nullspace
        if self.preconditioner == "amg" and modes is None:
            modes = context.near_nullspace
        reuse = self.reuse
        if reuse is None and not self._reuse_decided and self.preconditioner == "amg":
            reuse = PreconditionerReuse()
        return CGSolver(self.preconditioner, rtol=self.rtol, atol=self.atol, maxiter=self.maxiter,
                        near_nullspace=modes, ilu_drop_tol=self.ilu_drop_tol,
                        ilu_fill_factor=self.ilu_fill_factor, amg_options=self.amg_options,
                        reuse=False if reuse is None else reuse)

    def _factorize(self, A):
        if self.reuse is not None and self.reuse.usable(A.shape[0]):
            name = getattr(self.preconditioner, "name", self.preconditioner)

            def refresh():
                apply = self._set_up(A)._M.matvec
                self.reuse.keep(apply, A.shape[0])
                return apply

            return CGFactorization(A, name, self.reuse.get(), rtol=self.rtol, atol=self.atol,
                                   maxiter=self.maxiter, reuse=self.reuse, reused=True, refresh=refresh)
        factorization = self._set_up(A)
        if self.reuse is not None:
            self.reuse.keep(factorization._M.matvec, A.shape[0])
            factorization._reuse = self.reuse
        return factorization

    def _set_up(self, A):
        kind = self.preconditioner
        if not isinstance(kind, str):
            return self._factorization(A, getattr(kind, "name", type(kind).__name__), kind.setup(A))
        if kind == "amg":
            pyamg = import_pyamg()
            if pyamg is not None:
                return self._factorization(A, "amg", self._amg(A, pyamg))
            if not self._warned_no_pyamg:
                self._warned_no_pyamg = True
                _log.warning("pyamg is not installed (pip install 'femopt[amg]'); CG falls back "
                             "to the Jacobi preconditioner, which converges much more slowly")
            kind = "jacobi"
        if kind == "jacobi":
            return self._factorization(A, "jacobi", _jacobi(A))
        return self._factorization(A, "ilu", self._ilu(A))

    def _ilu(self, A):
        """Symmetrized incomplete LU: ``v -> (ILU^-1 v + ILU^-T v) / 2``.

        SuperLU's ILU is not symmetric, and CG with it stalls once the fill cap
        (``fill_factor``) makes it drop entries: on a 3D Poisson 20^3 matrix CG reached only
        a 3e-3 relative residual in 1000 iterations; symmetrized, it converges to 1e-12 in
        ~40 (in ~25 with the symmetric ordering below, also used by :class:`DirectSolver`).
        The average of the two solves is symmetric, so ``A^T = A`` solves use it too.
        """
        try:
            ilu = spla.spilu(A.tocsc(), drop_tol=self.ilu_drop_tol, fill_factor=self.ilu_fill_factor,
                             permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                             options=dict(SymmetricMode=True))
        except RuntimeError as error:
            raise SingularMatrixError(f"incomplete LU failed, the matrix is singular: {error}") from error
        return lambda v: 0.5 * (ilu.solve(np.ravel(v)) + ilu.solve(np.ravel(v), trans="T"))

    def _amg(self, A, pyamg):
        candidates = self.near_nullspace
        if candidates is not None and candidates.shape[0] != A.shape[0]:
            raise InputError(f"near_nullspace has {candidates.shape[0]} rows but the matrix has "
                             f"{A.shape[0]}; pass one row per (free) dof")
        with seeded_global_numpy_random():
            hierarchy = pyamg.smoothed_aggregation_solver(A, B=candidates, **self.amg_options)
        return hierarchy.aspreconditioner(cycle="V").matvec

    def _factorization(self, A, name, apply):
        return CGFactorization(A, name, apply,
                               rtol=self.rtol, atol=self.atol, maxiter=self.maxiter)

    def __repr__(self) -> str:
        return f"CGSolver(preconditioner={self.preconditioner!r}, rtol={self.rtol:g}, maxiter={self.maxiter})"


def _jacobi(A):
    diagonal = A.diagonal()
    zero = np.flatnonzero(diagonal == 0.0)
    if zero.size:
        raise SingularMatrixError(
            f"zero diagonal entries at dofs {format_dofs(zero)}: the matrix is singular or not "
            "positive definite (missing supports, or dofs that belong to no cell?)", dofs=zero)
    negative = np.flatnonzero(diagonal < 0.0)
    if negative.size:
        raise SolverError(f"negative diagonal entries at dofs {format_dofs(negative)}: the matrix is "
                          "not positive definite, CG does not apply; use the direct solver")
    inverse = 1.0 / diagonal
    return lambda v: inverse * np.ravel(v)
