"""Discretization: reference elements, quadrature rules, facet maps, function spaces."""
from .elements import ReferenceElement, reference_element
from .facets import facet_points_in_cell, facet_reference_normals
from .quadrature import QuadratureRule, quadrature
from .space import FunctionSpace

__all__ = ["ReferenceElement", "reference_element", "QuadratureRule", "quadrature",
           "facet_points_in_cell", "facet_reference_normals", "FunctionSpace"]
