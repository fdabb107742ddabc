"""Physics as pointwise JAX laws: elasticity, hyperelasticity, heat conduction, loads,
and the protocol for your own (:class:`Physics`, :func:`custom_physics`)."""
from .base import Physics, custom_physics
from .capacity import HeatCapacity
from .elasticity import LinearElasticity, lame_parameters
from .heat import HeatConduction
from .hyperelasticity import NeoHookean, StVenantKirchhoff, deformation_gradient_3d

__all__ = ["Physics", "custom_physics", "LinearElasticity", "lame_parameters", "HeatConduction",
           "HeatCapacity", "NeoHookean", "StVenantKirchhoff", "deformation_gradient_3d"]
