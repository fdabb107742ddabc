"""Exception types raised by femopt.

Three kinds of failure get three treatments (see docs/concepts.md):

* bad input — rejected where it enters, with a message that names the value and the fix
  (:class:`InputError`, :class:`MeshError`);
* numerical failure — :class:`NewtonError`, :class:`SingularMatrixError`, carrying what
  is needed to understand it (history, offending dofs);
* a broken internal invariant — :class:`InternalError`, a bug in femopt.
"""
from __future__ import annotations

import reprlib

__all__ = [
    "FemoptError",
    "InputError",
    "MeshError",
    "ParameterError",
    "CheckpointError",
    "ResourceError",
    "SolverError",
    "SingularMatrixError",
    "NewtonError",
    "SingularJacobianError",
    "InternalError",
    "FemoptWarning",
    "describe_value",
]

_SHORT = reprlib.Repr()
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = 4
_SHORT.maxstring = _SHORT.maxother = 40


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


class ParameterError(InputError):
    """A material constant, field, load or prescribed value is outside its admissible
    range or not finite (``E <= 0``, ``nu >= 0.5``, a NaN in a load...).

    Attributes:
        name: the parameter's name (``"E"``, ``"traction"``, ``"prescribed"``...).
        ids: ids of the offending cells, nodes or dofs (empty for a global value).
        where: what ``ids`` count: ``"cell"``, ``"node"``, ``"dof"``, ``"entry"`` or ``""``.
        admissible: the admissible range in words (``"0 < E"``, ``"-1 < nu < 0.5"``).
    """

    def __init__(self, message, name="", ids=(), where="", admissible=""):
        super().__init__(message)
        self.name = name
        self.ids = tuple(int(i) for i in ids)
        self.where = where
        self.admissible = admissible


class CheckpointError(InputError):
    """A checkpoint file cannot be used: unreadable, truncated, not a femopt checkpoint,
    written by a different problem or run, or its folder is not writable.

    Attributes:
        path: the checkpoint file.
        differences: for a checkpoint of another run, ``{what: (in the file, in this run)}``.
    """

    def __init__(self, message, path="", differences=None):
        super().__init__(message)
        self.path = str(path)
        self.differences = dict(differences or {})


class ResourceError(FemoptError, MemoryError):
    """A request would need more memory than the machine has; refused before starting.

    Attributes:
        estimate_bytes: the estimated peak memory of the request.
        available_bytes: the memory available when it was refused.
    """

    def __init__(self, message, estimate_bytes=0, available_bytes=0):
        super().__init__(message)
        self.estimate_bytes = int(estimate_bytes)
        self.available_bytes = int(available_bytes)


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


class SingularJacobianError(NewtonError, SingularMatrixError):
    """Newton stopped because the tangent is singular — usually missing supports.

    Both a :class:`NewtonError` (``history``, ``reason == "singular"``) and a
    :class:`SingularMatrixError` (``dofs``), so ``except fo.SingularMatrixError`` and
    ``except fo.NewtonError`` both catch it.

    Attributes:
        dofs: global dof ids that no equation constrains (when they can be found).
        nodes, components: the same dofs as node ids and field components.
        free_modes: names of the rigid-body modes no support removes, e.g.
            ``("translation x", "rotation about z")`` (elasticity; empty otherwise).
    """

    def __init__(self, message, history=(), dofs=(), nodes=(), components=(), free_modes=()):
        SolverError.__init__(self, message)
        self.history = list(history)
        self.reason = "singular"
        self.dofs = tuple(int(d) for d in dofs)
        self.nodes = tuple(int(n) for n in nodes)
        self.components = tuple(int(c) for c in components)
        self.free_modes = tuple(free_modes)


class InternalError(FemoptError, AssertionError):
    """An invariant inside femopt was broken: this is a bug, please report it."""


class FemoptWarning(UserWarning):
    """Base class of the warnings femopt issues (e.g. coincident nodes in a mesh); filter
    them with ``warnings.filterwarnings("ignore", category=femopt.FemoptWarning)`` or
    make them errors with ``"error"``."""


def describe_value(value) -> str:
    """A received value for an error message: its type and a short repr, e.g.
    ``list [[0.0, 1.0], [2.0]]`` or ``str 'abc'``."""
    return f"{type(value).__name__} {_SHORT.repr(value)}"
