"""Exception types raised by femopt.

Three kinds of failure get three treatments (see docs/concepts.md):

* bad input — rejected where it enters, with a message that names the value and the fix
  (:class:`InputError`, :class:`MeshError`);
* numerical failure — :class:`NewtonError`, :class:`SingularMatrixError`, carrying what
  is needed to understand it (history, offending dofs);
* a broken internal invariant — :class:`InternalError`, a bug in femopt.
"""
from __future__ import annotations

__all__ = [
    "FemoptError",
    "InputError",
    "MeshError",
    "SolverError",
    "SingularMatrixError",
    "NewtonError",
    "InternalError",
]


class FemoptError(Exception):
    """Base class of every error femopt raises on purpose."""


class InputError(FemoptError, ValueError):
    """An argument has the wrong shape, type or value."""


class MeshError(InputError):
    """A mesh is malformed: bad shapes, indices out of range, inverted or degenerate cells.

    Attributes:
        cells: ids of the offending cells (empty when the problem is not per cell).
    """

    def __init__(self, message, cells=()):
        super().__init__(message)
        self.cells = tuple(int(c) for c in cells)


class SolverError(FemoptError, RuntimeError):
    """A linear or nonlinear solve failed."""


class SingularMatrixError(SolverError):
    """A matrix could not be factorized: usually missing supports (rigid-body modes).

    Attributes:
        dofs: global dof ids where the factorization broke down or that no equation
            constrains (may be empty when the backend cannot tell).
    """

    def __init__(self, message, dofs=()):
        super().__init__(message)
        self.dofs = tuple(int(d) for d in dofs)


class NewtonError(SolverError):
    """Newton's method stopped without converging.

    Attributes:
        history: the per-iteration records (residual norm, increment, step length).
        reason: short machine-readable reason ("max_iterations", "line_search", "nan", ...).
    """

    def __init__(self, message, history=(), reason="unknown"):
        super().__init__(message)
        self.history = list(history)
        self.reason = reason


class InternalError(FemoptError, AssertionError):
    """An invariant inside femopt was broken: this is a bug, please report it."""
