"""Pointwise laws of loads: body forces and heat sources in the volume, tractions,
pressure, heat flux and convection (Robin) on boundary facets.

Each load is a small physics-like object with a ``source`` (volume) or an ``integrand``
(boundary) evaluated at one quadrature point; its magnitude is a named parameter so that
it reaches the gradient like any material constant. A load's ``value`` is either a
constant (stored as the parameter) or a JAX-traceable function of the point ``x`` that
the parameter (default 1) scales — so a position-dependent load also follows a shape
change.

Residual sign convention: R(u) = internal forces − external loads, so a load enters
with a minus sign.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp

from ..errors import InputError

__all__ = ["VolumeLoad", "BoundaryLoad", "Traction", "Pressure", "HeatFlux", "Convection"]


def _value_at(value_fn, scale, x):
    return scale if value_fn is None else scale * value_fn(x)


class _CachedByContent:
    """Loads with the same class, parameter name and value function compile to the same
    kernel: the key lets a new problem reuse the compiled code of an earlier one."""

    def cache_key(self):
        return (type(self), self.name, getattr(self, "value_fn", None))


@dataclass(frozen=True, eq=False)
class VolumeLoad(_CachedByContent):
    """Body force (vector field) or heat source (scalar field) per unit volume.

    ``source = -value`` in the residual; parameter ``name`` holds the value (or the
    scale of ``value_fn``)."""

    name: str
    value_fn: Callable | None = None

    linear = True
    flux_uses_value = False
    source_uses_gradient = False
    source_uses_value = False

    def parameter_names(self):
        return (self.name,)

    def flux(self, grad_u, u, x, p):
        return None

    def source(self, grad_u, u, x, p):
        return -_value_at(self.value_fn, p[self.name], x) * jnp.ones_like(u)


class BoundaryLoad(ABC):
    """A boundary integrand ``g(u, x, n, p)`` (n: outward unit normal in the reference
    configuration) added to the residual as ∫ g · v dS."""

    uses_value = False

    @abstractmethod
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the parameters the integrand reads."""

    @abstractmethod
    def integrand(self, u, x, n, p):
        """Value of g at one point; shape of ``u``."""


@dataclass(frozen=True, eq=False)
class _ScaledBoundaryLoad(BoundaryLoad, _CachedByContent):
    """A load whose magnitude is the parameter ``name`` (times ``value_fn(x)`` if given)."""

    name: str
    value_fn: Callable | None = None

    def parameter_names(self):
        return (self.name,)

    def value(self, x, p):
        return _value_at(self.value_fn, p[self.name], x)


class Traction(_ScaledBoundaryLoad):
    """Dead surface traction t (force per reference area): ∫ −t · v dS."""

    def integrand(self, u, x, n, p):
        return -self.value(x, p) * jnp.ones_like(u)


class HeatFlux(Traction):
    """Heat flowing INTO the body through the surface, per area: ∫ −q v dS — the scalar
    field's traction."""


class Pressure(_ScaledBoundaryLoad):
    """Dead pressure on the reference surface, t = −p n: ∫ p n · v dS."""

    def integrand(self, u, x, n, p):
        value = self.value(x, p)
        if jnp.ndim(value) != 0:
            raise InputError(f"pressure {self.name!r}: the value must be a number per point, but its function "
                             f"returns shape {jnp.shape(value)}; for a vector load use traction")
        return value * n


@dataclass(frozen=True, eq=False)
class Convection(BoundaryLoad, _CachedByContent):
    """Newton cooling h (T − T_ambient) out of the body: ∫ h (T − T_amb) v dS.

    Parameters ``<name>.h`` and ``<name>.ambient``."""

    name: str

    uses_value = True

    def parameter_names(self):
        return (f"{self.name}.h", f"{self.name}.ambient")

    def integrand(self, u, x, n, p):
        return p[f"{self.name}.h"] * (u - p[f"{self.name}.ambient"])
