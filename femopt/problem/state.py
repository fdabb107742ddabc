"""The outcome of a solve: the field, the parameters that produced it, the factorization
the adjoint reuses, and whether it is a solution at all."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["State"]


@dataclass
class State:
    """A solution (or, with ``converged=False``, a failed attempt) and what produced it.

    Attributes:
        u: flat dof vector ``(n_dofs,)``.
        params: the parameter values used (name → array).
        factorization: factorization of the free–free tangent at ``u`` (reused by the
            adjoint); None for a failed attempt.
        newton: the Newton result(s) — iteration history.
        converged: False when ``solve(raise_on_failure=False)`` returned Newton's last
            iterate without converging: ``u`` is then NOT a solution, and gradients and
            functionals refuse it (they solve again, and raise).
        reason: which test stopped Newton (``"residual"``, ``"increment"``) or why it
            failed (``"max_iterations"``, ``"line_search"``, ``"singular"``...).
        message: the same in words.
    """

    u: np.ndarray
    params: dict
    factorization: Any = None
    newton: list = field(default_factory=list)
    converged: bool = True
    reason: str = "residual"
    message: str = ""

    def __repr__(self) -> str:
        status = "converged" if self.converged else "NOT converged"
        return (f"State({self.u.size} dofs, {status} ({self.reason}), "
                f"{sum(r.n_iterations for r in self.newton)} Newton iterations)")
