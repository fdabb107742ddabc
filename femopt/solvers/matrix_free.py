"""Matrix-free solves of linear problems whose matrix does not fit in memory.

The pieces: :class:`~femopt.solvers.matrix_free_operator.MatrixFreeOperator` (``K_ff x``
as a jvp of the one-cell residual, chunked and scatter-added in one compiled JAX
program; the diagonal and the element matrices chunk by chunk), the preconditioners
:class:`~femopt.solvers.matrix_free_chebyshev.ChebyshevJacobi` (a polynomial in
``D⁻¹K``: products only) and
:class:`~femopt.solvers.matrix_free_multigrid.TwoLevelMatrixFree` (matrix-free smoothing,
Galerkin coarse level built cell by cell), and :func:`matrix_free_solve`, the one verb:
the field of ``problem.solve`` by preconditioned CG without assembling ``K``.

With the Chebyshev–Jacobi (or Jacobi, or no) preconditioner the whole CG loop is one
compiled JAX program (``lax.while_loop``), so it runs unchanged on a GPU.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg as spla

from ..errors import InputError, SolverError
from .matrix_free_chebyshev import ChebyshevJacobi, chebyshev, pcg
from .matrix_free_multigrid import TwoLevelMatrixFree
from .matrix_free_operator import DEFAULT_CHUNK, MatrixFreeOperator

__all__ = ["MatrixFreeOperator", "MatrixFreeReport", "matrix_free_solve", "ChebyshevJacobi",
           "TwoLevelMatrixFree", "DEFAULT_CHUNK"]

_log = logging.getLogger("femopt.solvers")


@dataclass(frozen=True)
class MatrixFreeReport:
    """What a :func:`matrix_free_solve` did: CG iterations, final relative residual
    ``|b - K x| / |b|`` (CG's recurrence in the JAX loop, recomputed after the host
    loop), the preconditioner's eigenvalue bound of ``D⁻¹K`` (None without
    one), and wall seconds of set-up (operator, diagonal, bound) and of CG."""

    iterations: int
    relative_residual: float
    upper_bound: float | None
    setup_seconds: float
    solve_seconds: float


def _solve_program(operator, degree):
    """Jitted CG (+ Chebyshev–Jacobi of ``degree``, or none when ``degree == 0``) with
    every array an argument, so nothing large is baked into the program."""

    def run(b, arguments, inverse_diagonal, lower, upper, rtol, maxiter):
        product = lambda x: operator.product(x, *arguments)
        if degree == 0:
            precondition = lambda r: r
        else:
            precondition = lambda r: chebyshev(product, r, inverse_diagonal, lower, upper, degree)
        return pcg(product, precondition, b, rtol=rtol, maxiter=maxiter)

    return jax.jit(run)


def _host_cg(operator, b, apply, rtol, maxiter):
    """SciPy CG with a host preconditioner: ``(x, iterations, |b - K x| / |b|, converged)``."""
    iterations = [0]

    def count(_):
        iterations[0] += 1

    M = spla.LinearOperator(operator.shape, matvec=apply, dtype=np.float64)
    x, info = spla.cg(operator, b, rtol=rtol, atol=0.0, maxiter=maxiter, M=M, callback=count)
    b_norm = np.linalg.norm(b)
    residual = np.linalg.norm(b - operator @ x) / (b_norm if b_norm > 0 else 1.0)
    return x, iterations[0], float(residual), info == 0


def matrix_free_solve(problem, params=None, *, rtol: float = 1e-8, maxiter: int | None = None,
                      preconditioner="chebyshev", chunk: int = DEFAULT_CHUNK,
                      report: bool = False, raise_on_failure: bool = True):
    """Solve a linear problem by CG on :class:`MatrixFreeOperator` (no matrix assembled).

    Args:
        problem: a :class:`~femopt.Problem` with a linear physics, supports and loads.
        params: parameter overrides (name → value).
        rtol: relative residual tolerance of CG.
        maxiter: CG iteration limit (default ``max(1000, n_free // 10)``).
        preconditioner: ``"chebyshev"`` (``ChebyshevJacobi()``, the default),
            ``"jacobi"`` (``ChebyshevJacobi(degree=1)``), ``"none"`` (plain CG),
            ``"two-level"`` (:class:`TwoLevelMatrixFree`, structured quad4 / hex8 meshes),
            or a :class:`ChebyshevJacobi` / :class:`TwoLevelMatrixFree`. The first three
            run CG as one compiled JAX loop; the two-level one runs SciPy's CG on the host
            (its coarse level is a SciPy / pyamg solve).
        chunk: cells per chunk of the operator.
        report: also return a :class:`MatrixFreeReport`.
        raise_on_failure: raise SolverError when CG stops above ``rtol`` (default), or
            return the last iterate (logged as a warning).

    Returns:
        Nodal values ``(n_nodes,)`` or ``(n_nodes, c)`` like ``problem.solve``; with
        ``report=True``, ``(field, MatrixFreeReport)``.

    Raises:
        InputError: the physics is not linear, or bad ``rtol`` / ``maxiter``.
        SolverError: CG did not reach ``rtol`` within ``maxiter`` (``raise_on_failure``).
    """
    if not (isinstance(rtol, (float, int)) and 0 < rtol < 1):
        raise InputError(f"rtol must be a number in (0, 1), got {rtol!r}")
    if maxiter is not None and (isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer))
                                or maxiter < 1):
        raise InputError(f"maxiter must be a positive integer or None, got {maxiter!r}")
    named = {"chebyshev": ChebyshevJacobi, "jacobi": lambda: ChebyshevJacobi(degree=1), "none": lambda: None,
             "two-level": TwoLevelMatrixFree}
    if not getattr(problem.physics, "symmetric", False):
        raise InputError(f"matrix_free_solve runs CG, which needs a symmetric tangent; "
                         f"{type(problem.physics).__name__} declares symmetric=False: use problem.solve()")
    if isinstance(preconditioner, str) and preconditioner in named:
        preconditioner = named[preconditioner]()
    elif not isinstance(preconditioner, (ChebyshevJacobi, TwoLevelMatrixFree)):
        raise InputError(f"preconditioner must be one of {sorted(named)}, a ChebyshevJacobi or a "
                         f"TwoLevelMatrixFree, got {preconditioner!r}")
    start = time.perf_counter()
    operator = MatrixFreeOperator(problem, params, chunk=chunk)
    maxiter = max(1000, operator.shape[0] // 10) if maxiter is None else int(maxiter)
    b = operator.load_vector()
    if isinstance(preconditioner, TwoLevelMatrixFree):
        apply = preconditioner.setup(operator)
        upper = preconditioner.smoother.upper
        setup = time.perf_counter() - start
        x, iterations, residual, converged = _host_cg(operator, b, apply, rtol, maxiter)
    else:
        inverse_diagonal = 1.0 / operator.diagonal()
        if preconditioner is None:
            degree, lower, upper = 0, 0.0, None
        elif preconditioner.degree == 1:  # Jacobi: CG is blind to the scale, no bound needed
            degree, lower, upper = 1, 0.0, None
        else:
            degree = preconditioner.degree
            lower, upper = preconditioner.bounds(operator, inverse_diagonal)
        setup = time.perf_counter() - start
        program = _solve_program(operator, degree)
        x, iterations, residual = program(jnp.asarray(b), operator.arguments(),
                                          jnp.asarray(inverse_diagonal), lower, 1.0 if upper is None else upper,
                                          float(rtol), maxiter)
        x, iterations, residual = np.asarray(x), int(iterations), float(residual)
        converged = residual <= rtol
    solve = time.perf_counter() - start - setup
    _log.info("matrix-free CG: %d iterations, relative residual %.2e, %.2f s set-up, %.2f s solve",
              iterations, residual, setup, solve)
    if not converged:
        message = (f"matrix-free CG stopped after {iterations} iterations at relative residual "
                   f"{residual:.3e} > rtol {rtol:g}; raise maxiter or the preconditioner degree")
        if raise_on_failure:
            raise SolverError(message)
        _log.warning(message)
    u = operator.lifting()
    u[operator.free] = x
    field = problem.space.as_field(u)
    if report:
        return field, MatrixFreeReport(iterations, residual, upper, setup, solve)
    return field
