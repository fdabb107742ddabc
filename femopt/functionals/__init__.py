"""Functionals J(u, p, X) of a solved problem, written in JAX: the objectives and
constraints that sensitivities differentiate.

Built in: :func:`compliance` (alias :func:`thermal_compliance`), :func:`volume` /
:func:`mass`, :func:`point_value`, :func:`boundary_average`, :func:`mean`, :func:`p_norm`,
:func:`von_mises_p_norm`, :func:`von_mises_ks`, :func:`misfit`, :func:`point_stress` (a stress
component or the von Mises stress at a point). Your own: subclass
:class:`Functional` or wrap ``f(problem, u, params, X)`` with :func:`from_function`, using
:func:`integrate_cells` / :func:`integrate_facets` for integrals.

Of a transient run (:mod:`.trajectory`): :func:`time_integral`, :func:`time_mean`,
:func:`final_value`, :func:`time_weighted`, :func:`time_peak` of any of the above, and
:func:`sensor_misfit` against sensor time series.
"""
from .base import Functional, Sum, from_function, integrate_cells, integrate_facets
from .builtin import (boundary_average, compliance, mass, mean, misfit, p_norm, point_value,
                      thermal_compliance, volume, von_mises, von_mises_ks, von_mises_p_norm)
from .point_stress import point_stress
from .probe import PointProbe
from .trajectory import (SensorMisfit, TimeFunctional, TrajectoryFunctional, final_value, sensor_misfit,
                         time_integral, time_mean, time_peak, time_weighted)

__all__ = ["Functional", "Sum", "from_function", "integrate_cells", "integrate_facets", "PointProbe",
           "compliance", "thermal_compliance", "volume", "mass", "point_value", "boundary_average", "mean",
           "p_norm", "von_mises", "von_mises_p_norm", "von_mises_ks", "misfit", "point_stress",
           "TrajectoryFunctional", "TimeFunctional", "SensorMisfit", "time_integral", "time_mean", "final_value",
           "time_weighted", "time_peak", "sensor_misfit"]
