"""Admissible parameter values: the rules a physics states about its constants.

A negative Young's modulus or a Poisson's ratio of 0.6 gives a stiffness matrix that is
not positive definite, and a solve that returns a plausible but meaningless number (a
negative compliance). Each physics lists :class:`ParameterRule` objects; the problem
checks every value against them where it enters (problem set-up, ``solve(params)``,
each evaluation of a design-driven field) and raises
:class:`~femopt.errors.ParameterError` naming the parameter, the offending cell or node
ids and the admissible range.

Global constants and fields differ in one respect: a field may be zero where a rule
says ``zero_in_fields`` (void cells of a topology design with ``Emin = 0``), while the
constant itself must be strictly inside the range. A zero-stiffness region that leaves
nodes unsupported then shows as a singular tangent naming those nodes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["ParameterRule", "positive", "non_negative", "between"]


@dataclass(frozen=True)
class ParameterRule:
    """One condition on one or several parameters.

    Attributes:
        names: the parameters the condition reads (all must be present to check it).
        admissible: the condition in words, e.g. ``"0 < E"``.
        holds: ``holds(*values, field) -> bool array``: True where the condition holds;
            ``values`` are float64 arrays broadcast against each other, ``field`` is
            True when the values are per cell / per node.
    """

    names: tuple[str, ...]
    admissible: str
    holds: Callable[..., np.ndarray]


def positive(name: str, *, zero_in_fields: bool = False) -> ParameterRule:
    """``name > 0`` (``>= 0`` inside fields when ``zero_in_fields``)."""
    text = f"0 < {name}" + (" (0 allowed in per-cell / per-node fields)" if zero_in_fields else "")
    return ParameterRule((name,), text,
                         lambda v, field: (v >= 0.0) if (field and zero_in_fields) else (v > 0.0))


def non_negative(name: str) -> ParameterRule:
    """``name >= 0``."""
    return ParameterRule((name,), f"0 <= {name}", lambda v, field: v >= 0.0)


def between(name: str, lower: float, upper: float, why: str = "") -> ParameterRule:
    """``lower < name < upper`` (open interval)."""
    text = f"{lower:g} < {name} < {upper:g}" + (f" ({why})" if why else "")
    return ParameterRule((name,), text, lambda v, field: (v > lower) & (v < upper))
