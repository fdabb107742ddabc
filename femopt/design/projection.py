"""Heaviside projection with a continuation schedule, and the material interpolations.

Projection (Wang, Lazarov & Sigmund 2011), threshold η and sharpness β:

    ρ̄ = (tanh(βη) + tanh(β(ρ̃ − η))) / (tanh(βη) + tanh(β(1 − η))),

which maps 0 → 0 and 1 → 1 for every β and tends to a step at η as β grows. β is
raised along a :class:`Continuation` schedule (a pure function of the iteration number,
so a run resumed from a checkpoint sees the same β as an uninterrupted one).

Interpolations of a stiffness-like property from the physical density ρ ∈ [0, 1]:

    SIMP:  E(ρ) = E_min + ρ^p (E_0 − E_min)
    RAMP:  E(ρ) = E_min + ρ / (1 + q (1 − ρ)) (E_0 − E_min)

``E_min > 0`` keeps the stiffness matrix non-singular where material is absent.
"""
from __future__ import annotations

import math

from dataclasses import dataclass

import jax.numpy as jnp

from ..errors import InputError

__all__ = ["heaviside", "Continuation", "SIMP", "RAMP"]


def heaviside(rho, beta, eta=0.5, *, xp=jnp):
    """The tanh projection of ``rho`` with sharpness ``beta`` and threshold ``eta``
    (``xp``: ``jax.numpy``, or ``numpy`` outside JAX)."""
    num = xp.tanh(beta * eta) + xp.tanh(beta * (rho - eta))
    return num / (xp.tanh(beta * eta) + xp.tanh(beta * (1.0 - eta)))


@dataclass(frozen=True)
class Continuation:
    """β_k = min(maximum, initial · factor^⌊k / every⌋) for iteration k (0-based).

    Example: ``Continuation(1.0, 2.0, every=50, maximum=32.0)`` doubles β every 50
    iterations from 1 to 32.
    """

    initial: float = 1.0
    factor: float = 2.0
    every: int = 50
    maximum: float = 32.0

    def __post_init__(self):
        if self.initial <= 0 or self.factor < 1 or self.every < 1 or self.maximum < self.initial:
            raise InputError(f"Continuation needs initial > 0, factor >= 1, every >= 1 and "
                             f"maximum >= initial; got {self}")

    def value(self, iteration: int) -> float:
        """β at ``iteration``."""
        if self.factor == 1.0:
            return float(self.initial)
        # capped at the steps that reach the maximum: factor**steps would overflow later
        steps_to_maximum = math.ceil(math.log(self.maximum / self.initial) / math.log(self.factor))
        steps = min(int(iteration) // self.every, steps_to_maximum)
        return float(min(self.maximum, self.initial * self.factor ** steps))

    def is_final(self, iteration: int) -> bool:
        """Whether β has reached its last value (a converged run may then stop)."""
        return self.value(iteration) >= self.maximum or self.factor == 1.0


def _check(name, value, low):
    if not value > low:
        raise InputError(f"{name} must be > {low}, got {value!r}")


def _check_stiffness_range(E0, Emin):
    """``0 <= Emin < E0``, both finite. ``Emin = 0`` is allowed (void cells then carry no
    stiffness; a node whose cells are all void makes the tangent singular, named by the
    solve), but 1e-9 E0 is the safe choice."""
    if not (math.isfinite(E0) and math.isfinite(Emin) and 0.0 <= Emin < E0):
        raise InputError(f"the interpolation needs 0 <= Emin < E0 (finite), got E0={E0!r}, Emin={Emin!r}; "
                         "a negative Emin gives void cells a negative stiffness")


@dataclass(frozen=True)
class SIMP:
    """SIMP interpolation E_min + ρ^p (E_0 − E_min)."""

    penalty: float = 3.0
    E0: float = 1.0
    Emin: float = 1e-9

    def __post_init__(self):
        _check("SIMP penalty", self.penalty, 0.0)
        _check_stiffness_range(self.E0, self.Emin)

    def __call__(self, rho):
        return self.Emin + rho ** self.penalty * (self.E0 - self.Emin)


@dataclass(frozen=True)
class RAMP:
    """RAMP interpolation E_min + ρ / (1 + q (1 − ρ)) (E_0 − E_min) (Stolpe & Svanberg 2001);
    its slope at ρ = 0 is finite, which suits design-dependent loads."""

    q: float = 8.0
    E0: float = 1.0
    Emin: float = 1e-9

    def __post_init__(self):
        _check("RAMP q", self.q, -1.0)
        _check_stiffness_range(self.E0, self.Emin)

    def __call__(self, rho):
        return self.Emin + rho / (1.0 + self.q * (1.0 - rho)) * (self.E0 - self.Emin)
