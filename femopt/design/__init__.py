"""Design parametrizations: design vector → problem parameters, written in JAX so the
chain rule back to the design is automatic.

* topology: :class:`DensityDesign` (filter → projection → passive cells → interpolation),
  :class:`DensityFilter`, :class:`HelmholtzFilter`, :func:`heaviside`,
  :class:`Continuation`, :class:`SIMP`, :class:`RAMP`;
* evaluation: :class:`CellScaledModel` (fast linear solve and sensitivity for a
  stiffness linear in one per-cell parameter);
* objectives and constraints: :class:`Compliance`, :class:`FunctionalObjective` (any
  functional, several parameters from one design, load steps), :class:`VolumeConstraint`,
  :class:`Sum` (``objective + regularization``), :class:`StressConstraint` (adaptively
  normalized p-norm of the relaxed von Mises stress at the cell centroids, from
  :class:`CentroidVonMises`);
* material fields: :class:`Tikhonov` and :class:`TotalVariation` regularization of a
  per-cell or per-node field (:func:`cell_gradient`, :func:`node_gradient`);
* shape: boundary parametrizations :class:`HoleShape` (a hole's radius in cosine modes) and
  :class:`BSplineBoundary` (a boundary curve moved by a B-spline's control points),
  :class:`FFDBox` (free-form deformation of the nodes in a box), :class:`LinearElasticMorph`
  (interior nodes follow), :class:`ShapeDesign`, :class:`ShapeFunctional`.
"""
from .ffd import FFDBox
from .filters import DensityFilter, filter_matrix
from .helmholtz import HelmholtzFilter
from .linear_model import CellScaledModel
from .morph import LinearElasticMorph
from .field_gradient import cell_gradient, node_gradient
from .objectives import Compliance, FunctionalObjective, Sum, VolumeConstraint
from .projection import RAMP, SIMP, Continuation, heaviside
from .regularization import Tikhonov, TotalVariation
from .shape import HoleShape, ShapeDesign, ShapeFunctional
from .shape_parametrizations import BSplineBoundary
from .stress import CentroidVonMises, StressConstraint
from .stress_al import AugmentedLagrangianSchedule, LocalStressAugmentedLagrangian
from .topology import DensityDesign

__all__ = ["DensityDesign", "DensityFilter", "HelmholtzFilter", "filter_matrix", "heaviside",
           "Continuation", "SIMP", "RAMP", "CellScaledModel", "Compliance", "FunctionalObjective",
           "VolumeConstraint", "HoleShape", "BSplineBoundary", "FFDBox", "LinearElasticMorph", "ShapeDesign",
           "ShapeFunctional", "Sum", "Tikhonov", "TotalVariation", "cell_gradient", "node_gradient",
           "StressConstraint", "CentroidVonMises", "LocalStressAugmentedLagrangian",
           "AugmentedLagrangianSchedule"]
