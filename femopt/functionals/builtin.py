"""Built-in functionals: compliance, volume, field values, aggregates, stress measures,
misfit to observations. (``von_mises`` here is :func:`femopt.von_mises`, the one
definition, re-exported.) All are JAX expressions of (u, p, X), so their partial
derivatives — and through the adjoint the total ones — come out exactly."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..physics.stress_measures import von_mises
from .base import Functional, integrate_cells, integrate_facets, quadrature_values
from .probe import PointProbe

__all__ = ["compliance", "thermal_compliance", "volume", "mass", "point_value", "boundary_average", "mean",
           "p_norm", "von_mises_p_norm", "von_mises_ks", "misfit", "von_mises"]


class _Compliance(Functional):
    def evaluate(self, problem, u, params, X):
        return jnp.dot(problem.external_loads(params, X), u)

    def cache_key(self):
        return type(self)


def compliance(problem=None) -> Functional:
    """Work of the external dead loads, f(p, X)·u: body forces, tractions, pressures and
    point loads times the displacement (structural compliance); heat sources and heat
    fluxes times the temperature (thermal compliance). Loads that depend on the state
    (convection) are not external work and are left out."""
    return _Compliance()


def thermal_compliance(problem=None) -> Functional:
    """Thermal compliance ∫ q T dx + ∫ q_n T dS (heat sources and fluxes times the
    temperature): :func:`compliance` under its heat-conduction name."""
    return _Compliance()


class _Volume(Functional):
    def __init__(self, density, cells):
        self.density, self.cells = density, cells

    def evaluate(self, problem, u, params, X):
        name = self.density
        integrand = (lambda g, uu, x, p: 1.0) if name is None else (lambda g, uu, x, p: p[name])
        return jnp.sum(integrate_cells(problem, integrand, u, params, X, self.cells))


def volume(problem=None, *, density: str | None = None, cells=None) -> Functional:
    """Volume (area in 2D) ∫ dx over ``cells`` (default all); with ``density`` (the name
    of a scalar parameter: global, per cell or per node) the weighted volume ∫ ρ dx, i.e.
    the mass."""
    if problem is not None and density is not None:
        _check_scalar_parameter(problem, density)
    return _Volume(density, cells)


def mass(problem=None, *, density: str) -> Functional:
    """Mass ∫ ρ dx, ``density`` the name of a scalar parameter (global, per cell or per node)."""
    return volume(problem, density=density)


def _check_scalar_parameter(problem, name):
    if name not in problem.params:
        raise InputError(f"density {name!r} is not a parameter of this problem ({sorted(problem.params)}); "
                         "declare it as a physics parameter to integrate (and differentiate) it")


class _PointValue(Functional):
    def __init__(self, probe, component):
        self.probe, self.component = probe, component

    def evaluate(self, problem, u, params, X):
        values = self.probe.values(problem, u)
        return values[0, 0 if self.component is None else self.component]


def point_value(problem, point, component=None) -> Functional:
    """Field value at a point (interpolated in the cell containing it). For a vector
    field give ``component``."""
    _check_component(problem, component)
    return _PointValue(PointProbe(problem.mesh, np.atleast_2d(point)), component)


def _check_component(problem, component):
    c = problem.space.n_components
    if component is None and c > 1:
        raise InputError(f"the field has {c} components: pass component=0..{c - 1}")
    if component is not None and not 0 <= component < c:
        raise InputError(f"component {component} out of range for {c} component(s)")


class _BoundaryAverage(Functional):
    def __init__(self, facets, component):
        self.facets, self.component = facets, component

    def evaluate(self, problem, u, params, X):
        k = self.component
        pick = (lambda v: v) if k is None else (lambda v: v[k])
        num = integrate_facets(problem, self.facets, lambda uu, x, n, p: pick(uu), u, params, X)
        den = integrate_facets(problem, self.facets, lambda uu, x, n, p: 1.0, u, params, X)
        return jnp.sum(num) / jnp.sum(den)


def boundary_average(problem, selection, component=None) -> Functional:
    """Mean of the field (component) over boundary facets: ∫_Γ u dS / ∫_Γ dS."""
    _check_component(problem, component)
    return _BoundaryAverage(problem.mesh.facets(selection), component)


class _Mean(Functional):
    def __init__(self, component, power):
        self.component, self.power = component, power

    def evaluate(self, problem, u, params, X):
        k, q = self.component, self.power
        val = (lambda uu: uu) if k is None else (lambda uu: uu[k])
        integrand = (lambda g, uu, x, p: val(uu)) if q is None else (lambda g, uu, x, p: jnp.abs(val(uu)) ** q)
        values, weights = quadrature_values(problem, integrand, u, params, X)
        average = jnp.sum(values * weights) / jnp.sum(weights)
        return average if q is None else average ** (1.0 / q)


def mean(problem, component=None) -> Functional:
    """Volume average of the field (e.g. mean temperature)."""
    _check_component(problem, component)
    return _Mean(component, None)


def p_norm(problem, p: float = 8.0, component=None) -> Functional:
    """Volume-normalized p-norm (1/|Ω| ∫ |u|^p dx)^(1/p): a smooth maximum of the field
    (e.g. peak temperature) that tends to max |u| as p grows."""
    _check_component(problem, component)
    return _Mean(component, float(p))


def _point_von_mises(problem):
    """σ_vm(grad_u, u, x, p) at a point from the physics' own stress (3x3)."""
    physics = problem.physics
    if not callable(getattr(physics, "stress", None)):
        raise InputError(f"von Mises stress needs an elasticity physics (one with a stress(grad_u, u, x, p) "
                         f"method), got {type(physics).__name__}")
    return lambda g, uu, x, p: von_mises(physics.stress(g, uu, x, p))


class _StressAggregate(Functional):
    def __init__(self, kind, exponent, weight):
        self.kind, self.exponent, self.weight = kind, float(exponent), weight

    def evaluate(self, problem, u, params, X):
        vm = _point_von_mises(problem)
        w = self.weight
        stress = vm if w is None else (lambda g, uu, x, p: p[w] * vm(g, uu, x, p))
        values, weights = quadrature_values(problem, stress, u, params, X)
        vol = jnp.sum(weights)
        if self.kind == "p":
            q = self.exponent
            return (jnp.sum(weights * values ** q) / vol) ** (1.0 / q)
        rho = self.exponent
        # exp of ρ(σ − shift): the shift cancels exactly, so it may be held constant
        # (stop_gradient); the largest point value keeps exp from overflowing.
        shift = jax.lax.stop_gradient(jnp.max(values))
        return shift + jnp.log(jnp.sum(weights * jnp.exp(rho * (values - shift))) / vol) / rho


def von_mises_p_norm(problem=None, p: float = 8.0, *, weight: str | None = None) -> Functional:
    """(1/|Ω| ∫ (w σ_vm)^p dx)^(1/p): smooth maximum of the von Mises stress; ``weight``
    names an optional per-cell parameter (e.g. a relaxed density) multiplying σ_vm."""
    return _StressAggregate("p", p, weight)


def von_mises_ks(problem=None, rho: float = 20.0, *, weight: str | None = None) -> Functional:
    """Kreisselmeier–Steinhauser aggregate (1/ρ) ln(1/|Ω| ∫ exp(ρ w σ_vm) dx) of the von
    Mises stress (a smooth maximum)."""
    return _StressAggregate("ks", rho, weight)


class _Misfit(Functional):
    def __init__(self, probe, observations, weights, component):
        self.probe, self.obs, self.w, self.component = probe, observations, weights, component

    def evaluate(self, problem, u, params, X):
        values = self.probe.values(problem, u)
        if self.component is not None:
            values = values[:, self.component]
        values = values.reshape(self.obs.shape)
        return 0.5 * jnp.sum(self.w * (values - self.obs) ** 2)


def misfit(problem, points, observations, weights=None, component=None) -> Functional:
    """Weighted least squares ½ Σ w_k (u(x_k) − d_k)² against observations ``d`` at
    ``points (m, dim)``; ``observations`` is ``(m,)`` (scalar field or one component) or
    ``(m, n_components)``; ``weights`` broadcast to it (e.g. 1/σ²)."""
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    obs = np.asarray(observations, dtype=np.float64)
    c = problem.space.n_components
    expected = (len(points),) if (c == 1 or component is not None) else (len(points), c)
    if obs.shape != expected:
        raise InputError(f"observations have shape {obs.shape}, expected {expected}")
    w = np.ones_like(obs) if weights is None else np.broadcast_to(np.asarray(weights, dtype=np.float64), obs.shape)
    return _Misfit(PointProbe(problem.mesh, points), obs, w, component)
