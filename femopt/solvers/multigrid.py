"""Geometric multigrid (GMG) preconditioner for CG on structured quad4 / hex8 meshes and
on uniformly refined meshes.

One V-cycle of a hierarchy built from the mesh lattice (:mod:`.multigrid_grid`) or from
the refinements :func:`femopt.mesh.refine` recorded (:mod:`.multigrid_refined`):

- transfer: vertex-centred coarsening by 2 per axis, (bi/tri)linear interpolation of
  each component, restricted to the free dofs of each level (Dirichlet dofs eliminated);
- coarse operators: Galerkin, ``A_c = Pᵀ A P`` from the fine matrix (no rediscretization:
  per-cell stiffness such as a SIMP density field is inherited exactly);
- smoother: Chebyshev polynomial of the Jacobi-scaled matrix ``D⁻¹A`` (the "fourth kind"
  polynomials of Lottes 2022, which need only an upper bound of the spectrum: no lower
  bound to tune), or damped Jacobi; the bound comes from a few Lanczos steps with a
  fixed start vector, so set-ups are bitwise reproducible;
- coarsest level: sparse direct (:class:`~femopt.solvers.linear_direct.DirectSolver`,
  symmetric ordering).

The same polynomial smooths before and after the coarse correction and the coarse solve
is exact, so the V-cycle is a symmetric positive definite operator: a valid CG
preconditioner. The transfers depend only on the lattice and the free dofs, so they are
built once; each :meth:`GeometricMultigrid.setup` (one per design iteration in topology
optimization) redoes only the Galerkin products, the smoother bounds and the coarse
factorization.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np
import scipy.sparse as sp

from femopt.errors import InputError, SolverError
from femopt.solvers.linear_base import format_dofs
from femopt.solvers.linear_direct import DirectSolver
from femopt.solvers.linear_iterative import CGSolver
from femopt.solvers.multigrid_grid import StructuredGrid, structured_grid, transfer_hierarchy
from femopt.solvers.multigrid_refined import refinement_depth, refinement_transfers
from femopt.solvers.threaded import ThreadedCSR

__all__ = ["GeometricMultigrid", "gmg_solver", "multigrid_hierarchy", "SMOOTHERS"]

_log = logging.getLogger("femopt.solvers")

SMOOTHERS = ("chebyshev", "jacobi")

#: Lanczos steps for the largest eigenvalue of ``D⁻¹A``, and the safety factor on it
#: (a Ritz value is a lower bound; the smoother diverges on modes above its bound).
_LANCZOS_STEPS = 12
_BOUND_SAFETY = 1.1


class GeometricMultigrid:
    """V-cycle preconditioner on a lattice or a refinement hierarchy: ``setup(A) -> apply``,
    ``apply(v) ≈ A⁻¹v``.

    Args:
        grid: the mesh lattice (:func:`~femopt.solvers.multigrid_grid.structured_grid`),
            or a mesh made by :func:`femopt.mesh.refine` (any supported cell type; its
            recorded refinements are the levels, :mod:`.multigrid_refined`).
        n_components: components per node (1 for heat, ``dim`` for elasticity).
        free_dofs: sorted global ids of the free dofs ``(n_free,)``: the rows of ``A``.
        smoother: ``"chebyshev"`` (default) or ``"jacobi"`` (damped, weight ``4 / (3 λ)``).
        degree: smoothing steps (polynomial degree) before and after the coarse
            correction; each costs one mat-vec on the level.
        max_levels: at most this many levels, the finest included.
        coarse_dofs: coarsen until a level has at most this many free dofs; that level
            is solved by a sparse direct factorization.

    Attributes:
        name: ``"gmg"`` (what :class:`~femopt.solvers.linear_iterative.CGSolver` reports).
        transfers: the cached :class:`~femopt.solvers.multigrid_grid.Transfer` list.
        level_dofs: free dofs per level, finest first.
        last_setup_seconds: wall time of the latest :meth:`setup`.

    Raises:
        InputError: bad arguments (names the value and what was expected).
    """

    name = "gmg"

    def __init__(self, grid: StructuredGrid, n_components: int, free_dofs, *, smoother: str = "chebyshev",
                 degree: int = 3, max_levels: int = 10, coarse_dofs: int = 3000):
        refined = getattr(grid, "refinement", None) is not None
        if not isinstance(grid, StructuredGrid) and not refined:
            raise InputError(f"grid must be a StructuredGrid (from structured_grid(mesh)) or a mesh from "
                             f"femopt.mesh.refine (which records its hierarchy), got {type(grid).__name__}")
        if smoother not in SMOOTHERS:
            raise InputError(f"unknown smoother {smoother!r}; choose one of {SMOOTHERS}")
        for name, value, low in (("n_components", n_components, 1), ("degree", degree, 1),
                                 ("max_levels", max_levels, 1), ("coarse_dofs", coarse_dofs, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
        n_dofs = (grid.n_nodes if refined else grid.n_points) * int(n_components)
        free = np.asarray(free_dofs)
        if free.ndim != 1 or free.size == 0 or not np.issubdtype(free.dtype, np.integer):
            raise InputError(f"free_dofs must be a non-empty 1-D array of dof ids, got shape {free.shape} "
                             f"and dtype {free.dtype}")
        if free[0] < 0 or free[-1] >= n_dofs or np.any(np.diff(free) <= 0):
            raise InputError(f"free_dofs must be sorted, unique and in [0, {n_dofs}) ({n_dofs // n_components} "
                             f"nodes x {int(n_components)} components), got values in "
                             f"[{free.min()}, {free.max()}]")
        self.grid = grid
        self.n_components = int(n_components)
        self.free_dofs = free.astype(np.int64)
        self.smoother = smoother
        self.degree = int(degree)
        self.max_levels = int(max_levels)
        self.coarse_dofs = int(coarse_dofs)
        build = refinement_transfers if refined else transfer_hierarchy
        self.transfers = build(grid, self.n_components, self.free_dofs, coarse_dofs=self.coarse_dofs,
                               max_levels=self.max_levels)
        self.level_dofs = [free.size] + [t.P.shape[1] for t in self.transfers]
        self.hierarchy = (f"{refinement_depth(grid)}x refined {grid.cell_type.name} mesh" if refined else
                          f"{'x'.join(map(str, grid.shape))} lattice")
        _log.info("GMG on a %s: free dofs per level %s", self.hierarchy, self.level_dofs)
        self._coarse_solver = DirectSolver(symmetric=True, backend="superlu", residual_tol=None)
        self.last_setup_seconds = 0.0

    def setup(self, A) -> Callable[[np.ndarray], np.ndarray]:
        """Build the hierarchy for ``A`` (CSR, SPD, ``(n_free, n_free)``).

        Returns:
            ``apply(v) -> M⁻¹ v`` for ``v (n_free,)``: one V-cycle from a zero guess.

        Raises:
            InputError: wrong shape.
            SolverError: a level has a non-positive diagonal entry (``A`` is not SPD).
        """
        t0 = time.perf_counter()
        if not sp.issparse(A) or A.shape != (self.free_dofs.size,) * 2:
            raise InputError(f"GMG was built for {self.free_dofs.size} free dofs; setup() needs a sparse "
                             f"({self.free_dofs.size}, {self.free_dofs.size}) matrix, got "
                             f"{type(A).__name__} of shape {getattr(A, 'shape', None)}")
        A = sp.csr_matrix(A, dtype=np.float64)
        levels = []
        for index, transfer in enumerate(self.transfers):
            levels.append(_Level(A, index, self.smoother, self.degree))
            A = (transfer.R @ (A @ transfer.P)).tocsr()
            A.sort_indices()
        coarse = self._coarse_solver.factorize(A)
        cycle = _VCycle(levels, self.transfers, coarse)
        self.last_setup_seconds = time.perf_counter() - t0
        _log.debug("GMG set-up: levels %s free dofs, %.3f s", self.level_dofs, self.last_setup_seconds)
        return cycle.apply

    def __repr__(self) -> str:
        return (f"GeometricMultigrid({self.hierarchy}, levels={self.level_dofs}, "
                f"smoother={self.smoother!r}, degree={self.degree})")


class _Level:
    """One smoothed level: the matrix, its inverse diagonal and the smoother's bound."""

    def __init__(self, A, index, smoother, degree):
        diagonal = A.diagonal()
        bad = np.flatnonzero(~(diagonal > 0.0))
        if bad.size:
            raise SolverError(f"GMG level {index}: non-positive diagonal entries at rows {format_dofs(bad)}; "
                              "the matrix is not symmetric positive definite (or some dofs belong to no "
                              "cell), CG does not apply")
        self.A = ThreadedCSR(A)            # the smoother's products on all cores
        self.inverse_diagonal = 1.0 / diagonal
        bound = _BOUND_SAFETY * largest_scaled_eigenvalue(self.A, self.inverse_diagonal)
        self.coefficients = smoothing_coefficients(smoother, degree, bound)

    def smooth(self, b, x=None, *, residual=True):
        """``degree`` smoothing steps on ``A x = b`` from ``x`` (zero when None).

        Returns ``(x, r)``: the residual ``r = b - A x`` of the result, or None when
        ``residual`` is False (saves the last mat-vec)."""
        r = b.copy() if x is None else b - self.A @ x
        x = np.zeros_like(b) if x is None else x.copy()
        d = np.zeros_like(b)
        last = len(self.coefficients) - 1
        for step, (keep, scale) in enumerate(self.coefficients):
            d *= keep
            d += scale * (self.inverse_diagonal * r)
            x += d
            if residual or step < last:
                r -= self.A @ d
        return x, (r if residual else None)


class _VCycle:
    """The V-cycle of one set-up (a closure the CG factorization keeps)."""

    def __init__(self, levels, transfers, coarse):
        self.levels = levels
        self.transfers = transfers
        self.coarse = coarse

    def apply(self, v):
        return self._cycle(0, np.ravel(np.asarray(v, dtype=np.float64)))

    def _cycle(self, index, b):
        if index == len(self.levels):
            return self.coarse.solve(b)
        level, transfer = self.levels[index], self.transfers[index]
        x, r = level.smooth(b)
        x += transfer.P @ self._cycle(index + 1, transfer.R @ r)
        x, _ = level.smooth(b, x, residual=False)
        return x


def smoothing_coefficients(smoother: str, degree: int, bound: float) -> list[tuple[float, float]]:
    """Per step ``(keep, scale)`` of ``d ← keep d + scale D⁻¹ r; x ← x + d; r ← r - A d``.

    Chebyshev of the fourth kind (Lottes 2022, "Optimal polynomial smoothers for
    multigrid V-cycles", Alg. 3): ``keep_k = (2k-1)/(2k+3)``, ``scale_k = (8k+4)/(2k+3)/λ``
    with ``scale_0 = 4/(3λ)``. Its error polynomial stays below 1 in magnitude on all of
    ``(0, λ]`` and damps the upper part of the spectrum (what the coarse grid cannot
    represent) more the higher the degree; unlike first-kind Chebyshev it needs no lower
    end of the smoothing interval. Jacobi: ``keep = 0``, ``scale = 4/(3λ)`` (error factor
    at most 1/3 at the top of the spectrum).

    Args:
        smoother: ``"chebyshev"`` or ``"jacobi"``.
        degree: number of steps.
        bound: upper bound ``λ`` of the spectrum of ``D⁻¹A``.
    """
    if smoother == "jacobi":
        return [(0.0, 4.0 / (3.0 * bound))] * degree
    return [(0.0, 4.0 / (3.0 * bound))] + [((2 * k - 1) / (2 * k + 3), (8 * k + 4) / (2 * k + 3) / bound)
                                           for k in range(1, degree)]


def largest_scaled_eigenvalue(A, inverse_diagonal, steps: int = _LANCZOS_STEPS, seed: int = 0) -> float:
    """Largest Ritz value of ``D^-1/2 A D^-1/2`` (same spectrum as ``D⁻¹A``) after a few
    Lanczos steps from a fixed random start, so the result is reproducible bit for bit.

    Args:
        A: symmetric CSR ``(n, n)``.
        inverse_diagonal: ``1 / diag(A)`` ``(n,)``.
        steps: Lanczos steps (capped at ``n``).
        seed: seed of the start vector.
    """
    n = A.shape[0]
    scale = np.sqrt(inverse_diagonal)
    q = np.random.default_rng(seed).standard_normal(n)
    q /= np.linalg.norm(q)
    previous = np.zeros(n)
    alphas, betas = [], []
    beta = 0.0
    for _ in range(min(steps, n)):
        w = scale * (A @ (scale * q)) - beta * previous
        alpha = float(q @ w)
        w -= alpha * q
        alphas.append(alpha)
        beta = float(np.linalg.norm(w))
        if beta <= 1e-12 * abs(alpha):
            break
        betas.append(beta)
        previous, q = q, w / beta
    k = len(alphas)
    T = np.diag(alphas) + np.diag(betas[:k - 1], 1) + np.diag(betas[:k - 1], -1)
    return float(np.linalg.eigvalsh(T)[-1])


def gmg_solver(problem_or_mesh, free_dofs=None, n_components=None, *, rtol: float = 1e-8,
               maxiter: int | None = None, **options) -> CGSolver:
    """CG preconditioned by :class:`GeometricMultigrid` for a structured or refined mesh.

    Args:
        problem_or_mesh: a :class:`~femopt.Problem` (its mesh, free dofs and components
            are used; fix the supports first) or a :class:`~femopt.mesh.Mesh`.
        free_dofs: sorted free dof ids; required with a mesh, default the problem's.
        n_components: components per node; required with a mesh, default the problem's.
        rtol: CG relative residual tolerance.
        maxiter: CG iteration limit (None: SciPy's default).
        **options: keyword arguments of :class:`GeometricMultigrid` (``smoother``,
            ``degree``, ``max_levels``, ``coarse_dofs``).

    Raises:
        InputError: the mesh is neither a structured quad4 / hex8 lattice nor refined by
            :func:`femopt.mesh.refine`, or a mesh was given without ``free_dofs`` and
            ``n_components``.
    """
    mesh = getattr(problem_or_mesh, "mesh", problem_or_mesh)
    if hasattr(problem_or_mesh, "partition"):
        free_dofs = problem_or_mesh.partition.free if free_dofs is None else free_dofs
        n_components = problem_or_mesh.space.n_components if n_components is None else n_components
    elif free_dofs is None or n_components is None:
        raise InputError("gmg_solver(mesh, ...) needs free_dofs and n_components; or pass the Problem")
    if not hasattr(mesh, "cell_type"):
        raise InputError(f"gmg_solver needs a Problem or a Mesh, got {type(problem_or_mesh).__name__}")
    grid = multigrid_hierarchy(mesh)
    if grid is None:
        raise InputError(f"geometric multigrid needs a structured quad4 / hex8 lattice mesh (e.g. "
                         f"femopt.mesh.box(cell='hex8')) or a mesh from femopt.mesh.refine, got a "
                         f"{mesh.cell_type.name} mesh that is neither; use CGSolver('amg') for other meshes")
    return CGSolver(GeometricMultigrid(grid, n_components, free_dofs, **options), rtol=rtol, maxiter=maxiter)


def multigrid_hierarchy(mesh):
    """What geometric multigrid can coarsen on ``mesh``: its lattice when it is a
    structured quad4 / hex8 one (coarsened down to a few thousand dofs), else the mesh
    itself when :func:`femopt.mesh.refine` made it, else None."""
    grid = structured_grid(mesh)
    if grid is not None:
        return grid
    return mesh if refinement_depth(mesh) > 0 else None
