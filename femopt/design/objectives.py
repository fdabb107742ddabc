"""Objectives and constraints of a density design, as ``x → (value, gradient)`` callables
for :func:`femopt.optimize.minimize`.

* :class:`Compliance`: structural (or thermal) compliance through a
  :class:`~femopt.design.CellScaledModel` (fast path: one factorization, no re-tracing).
* :class:`FunctionalObjective`: any femopt functional through the general adjoint
  (``femopt.sensitivity.gradient``) — nonlinear physics, stresses, point values.
* :class:`VolumeConstraint`: ρ-weighted volume fraction ≤ target, written g(x) ≤ 0.

Each chains the derivative with respect to the cell parameter back to the design with
``DensityDesign.vjp`` (JAX).
"""
from __future__ import annotations

import numpy as np

from ..assembly.parameters import cell_field
from ..errors import InputError
from ..sensitivity import gradient as adjoint_gradient

__all__ = ["Compliance", "FunctionalObjective", "VolumeConstraint"]


class Compliance:
    """Compliance C(x) = f·u(E(ρ(x))) and dC/dx.

    Args:
        model: a :class:`~femopt.design.CellScaledModel` of the problem.
        design: the :class:`~femopt.design.DensityDesign`.
        sensitivity_filter: a :class:`~femopt.design.DensityFilter` to apply Sigmund's
            sensitivity filter to dC/dx (top88 ``ft = 1``; pair it with ``method="oc"``
            and a design without density filter).
        scale: the value and gradient are multiplied by this (MMA likes O(1..100)).

    Attributes:
        last: ``{"u": free dofs, "rho": densities, "E": stiffness}`` of the last evaluation.
    """

    def __init__(self, model, design, *, sensitivity_filter=None, scale: float = 1.0):
        if model.n_cells != design.mesh.n_cells:
            raise InputError(f"model has {model.n_cells} cells, design {design.mesh.n_cells}")
        self.model, self.design = model, design
        self.sensitivity_filter = sensitivity_filter
        self.scale = float(scale)
        self.last: dict = {}

    def __call__(self, x):
        rho, E = self.design(x)
        c, dc_dE, u = self.model.compliance(E)
        grad = self.design.vjp(x, property_bar=dc_dE)
        if self.sensitivity_filter is not None:
            active = self.design.active
            full = np.zeros(self.design.mesh.n_cells)
            full[active] = grad
            grad = self.sensitivity_filter.filter_sensitivity(self.design.expand(x), full)[active]
        self.last = {"u": u, "rho": rho, "E": E}
        return self.scale * c, self.scale * grad


class FunctionalObjective:
    """Any functional J of a problem, with the per-cell parameter ``parameter`` set to
    the interpolated property; dJ/dx by femopt's general adjoint and ``design.vjp``.

    Slower than :class:`Compliance` (a Newton solve and a traced residual per call) but
    valid for nonlinear physics and any functional."""

    def __init__(self, problem, functional, design, parameter: str, *, scale: float = 1.0):
        self.problem, self.functional, self.design = problem, functional, design
        self.parameter, self.scale = parameter, float(scale)

    def __call__(self, x):
        _, E = self.design(x)
        g = adjoint_gradient(self.functional, self.problem, wrt=self.parameter,
                           params={self.parameter: cell_field(E)})
        return self.scale * g.value, self.scale * self.design.vjp(x, property_bar=g[self.parameter])


class VolumeConstraint:
    """g(x) = V(ρ(x)) / (fraction · V_total) − 1 ≤ 0: the material volume fraction of the
    physical densities (passive solid included) at most ``fraction``."""

    def __init__(self, design, fraction: float):
        if not 0.0 < fraction <= 1.0:
            raise InputError(f"volume fraction must be in (0, 1], got {fraction!r}")
        self.design, self.fraction = design, float(fraction)
        self._weights = design.volumes / (design.volumes.sum() * self.fraction)

    def value(self, x) -> float:
        """g(x) without its gradient (cheap: no FE solve; optimality criteria bisect on it)."""
        # multiply-and-sum, not a BLAS dot: called ~30 times per OC step, and a threaded
        # BLAS call on a busy machine can cost milliseconds where this costs microseconds.
        return float(np.sum(self._weights * self.design.density(x)) - 1.0)

    def __call__(self, x):
        rho = self.design.density(x)
        return float(self._weights @ rho - 1.0), self.design.vjp(x, density_bar=self._weights)
