"""Linear solvers behind one interface: factorize once, solve many, solve transposed.

::

    solver = make_solver("direct")
    fact = solver.factorize(K)            # K: scipy.sparse (n, n)
    u = fact.solve(f)                     # (n,) or (n, k)
    adjoint = fact.solve_transpose(g)     # K^T adjoint = g, same factorization

Every linear solve in femopt goes through this module, so a new backend (PETSc, a GPU
solver) is one more :class:`LinearSolver` subclass. The implementations live in
:mod:`~femopt.solvers.linear_base` (interface), :mod:`~femopt.solvers.linear_direct`
(SuperLU / CHOLMOD / PARDISO) and :mod:`~femopt.solvers.linear_iterative` (CG).
"""
from __future__ import annotations

import logging

from femopt.errors import InputError
from femopt.solvers.linear_base import Factorization, LinearSolver
from femopt.solvers.linear_direct import DirectFactorization, DirectSolver, empty_factorization
from femopt.solvers.linear_iterative import CGFactorization, CGSolver, import_pyamg
from femopt.solvers.reuse import PreconditionerReuse
from femopt.solvers.selection import AutoSolver, SolverContext

__all__ = [
    "LinearSolver",
    "Factorization",
    "DirectSolver",
    "DirectFactorization",
    "empty_factorization",
    "CGSolver",
    "CGFactorization",
    "AutoSolver",
    "SolverContext",
    "PreconditionerReuse",
    "make_solver",
    "SOLVER_NAMES",
    "AUTO_DIRECT_MAX_DOFS",
]

_log = logging.getLogger("femopt.solvers")

SOLVER_NAMES = ("auto", "direct", "cg")

# Above this many unknowns "auto" prefers AMG-preconditioned CG, when pyamg is there.
# Sized for 2D: SuperLU handles a few hundred thousand 2D dofs in seconds, but 3D fill
# grows much faster — for 3D meshes beyond ~50k dofs ask for "cg" explicitly.
AUTO_DIRECT_MAX_DOFS = 200_000


def make_solver(method="auto", *, n_hint=None, **options) -> LinearSolver:
    """The linear solver for a name, or the given instance unchanged.

    Args:
        method: ``"direct"`` (:class:`DirectSolver`), ``"cg"`` (:class:`CGSolver`),
            ``"auto"`` / ``None``, or a :class:`LinearSolver` instance (returned as is).
            ``"auto"`` gives an :class:`AutoSolver`, which chooses when a problem binds it
            to its system (:class:`SolverContext`: dimension, size, symmetry, near-null
            space; see :mod:`femopt.solvers.selection`). With options, "auto" picks at once
            by ``n_hint``: direct below :data:`AUTO_DIRECT_MAX_DOFS` unknowns, CG with
            AMG above it if pyamg is installed.
        n_hint: number of unknowns, used by ``"auto"`` only.
        **options: keyword arguments of the chosen solver's constructor.

    Raises:
        InputError: unknown name, options given with an instance, or options the chosen
            solver does not take.
    """
    if isinstance(method, LinearSolver):
        if options:
            raise InputError(f"options {sorted(options)} cannot be applied to the solver instance "
                             f"{method!r}; set them when constructing it")
        return method
    if method is None:
        method = "auto"
    if method not in SOLVER_NAMES:
        raise InputError(f"unknown linear solver {method!r}; choose one of {SOLVER_NAMES} "
                         "or pass a LinearSolver instance")
    if method == "auto" and not options:
        return AutoSolver(n_hint)
    if method == "auto":
        large = n_hint is not None and n_hint > AUTO_DIRECT_MAX_DOFS
        if large and import_pyamg() is not None:
            method = "cg"
            options = {"preconditioner": "amg", **options}
        else:
            if large:
                _log.info("%d unknowns: the direct solver is used because pyamg is not installed "
                          "(pip install 'femopt[amg]' for AMG-preconditioned CG)", n_hint)
            method = "direct"
    cls = DirectSolver if method == "direct" else CGSolver
    try:
        return cls(**options)
    except TypeError as error:
        raise InputError(f"{cls.__name__} does not accept the options {sorted(options)}: {error}") from error
