"""Design parametrizations: design vector → problem parameters, written in JAX so the
chain rule back to the design is automatic.

* topology: :class:`DensityDesign` (filter → projection → passive cells → interpolation),
  :class:`DensityFilter`, :class:`HelmholtzFilter`, :func:`heaviside`,
  :class:`Continuation`, :class:`SIMP`, :class:`RAMP`;
* evaluation: :class:`CellScaledModel` (fast linear solve and sensitivity for a
  stiffness linear in one per-cell parameter);
* objectives and constraints: :class:`Compliance`, :class:`FunctionalObjective`,
  :class:`VolumeConstraint`;
* shape: :class:`HoleShape` (boundary motion from a few modes), :class:`LinearElasticMorph`
  (interior nodes follow), :class:`ShapeDesign`, :class:`ShapeFunctional`.
"""
from .filters import DensityFilter, filter_matrix
from .helmholtz import HelmholtzFilter
from .linear_model import CellScaledModel
from .morph import LinearElasticMorph
from .objectives import Compliance, FunctionalObjective, VolumeConstraint
from .projection import RAMP, SIMP, Continuation, heaviside
from .shape import HoleShape, ShapeDesign, ShapeFunctional
from .topology import DensityDesign

__all__ = ["DensityDesign", "DensityFilter", "HelmholtzFilter", "filter_matrix", "heaviside",
           "Continuation", "SIMP", "RAMP", "CellScaledModel", "Compliance", "FunctionalObjective",
           "VolumeConstraint", "HoleShape", "LinearElasticMorph", "ShapeDesign", "ShapeFunctional"]
