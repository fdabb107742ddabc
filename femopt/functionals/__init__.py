"""Functionals J(u, p, X) of a solved problem, written in JAX: the objectives and
constraints that sensitivities differentiate."""
from .base import Functional, from_function, integrate_cells, integrate_facets
from .builtin import (boundary_average, compliance, mean, misfit, p_norm, point_value, volume,
                      von_mises, von_mises_ks, von_mises_p_norm)
from .probe import PointProbe

__all__ = ["Functional", "from_function", "integrate_cells", "integrate_facets", "PointProbe",
           "compliance", "volume", "point_value", "boundary_average", "mean", "p_norm",
           "von_mises", "von_mises_p_norm", "von_mises_ks", "misfit"]
