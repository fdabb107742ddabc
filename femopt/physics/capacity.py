"""Heat capacity: the mass term ∫ ρc T v dx of transient heat conduction.

As a pointwise law it is a source ``ρc · T`` (no flux): assembled at ``T``, its residual
is ``M T`` and its tangent the capacity ("mass") matrix ``M_ij = ∫ ρc N_i N_j dx``. The
parameter ``capacity`` (ρc, energy per volume and degree) is passed in like every other,
so a transient adjoint reaches it through the same traced-residual machinery.
"""
from __future__ import annotations

from .admissible import positive
from .base import Physics

__all__ = ["HeatCapacity"]


class HeatCapacity(Physics):
    """The capacity term ``source = capacity · u`` (any number of components).

    Args:
        capacity: default ρc: a number, or a per-cell / per-node field (the problem that
            uses it passes the current value at every evaluation).
        components: components of the field it multiplies (1 for a temperature).
    """

    flux_uses_value = False
    source_uses_gradient = False
    source_uses_value = True
    linear = True
    symmetric = True
    parameter_shapes = {"capacity": ()}

    def __init__(self, capacity=1.0, *, components: int = 1):
        super().__init__(capacity=capacity)
        self.components = components

    def cache_key(self):
        return (type(self), self.components)

    def parameter_rules(self, dim: int) -> list:
        """``0 < capacity`` (0 allowed in fields: a region without heat capacity)."""
        return [positive("capacity", zero_in_fields=True)]

    def flux(self, grad_u, u, x, p):
        return None

    def source(self, grad_u, u, x, p):
        return p["capacity"] * u
