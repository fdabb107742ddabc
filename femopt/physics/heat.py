"""Steady heat conduction: flux = k(T) ∇T, with k constant, a field, or a function of T.

Sign convention: the residual is ∫ k ∇T·∇v dx − ∫ q v dx − (boundary terms), so a
positive heat source ``q`` heats the body (added through ``Problem.heat_source``).
"""
from __future__ import annotations

from typing import Callable

from ..errors import InputError
from .admissible import positive
from .base import Physics

__all__ = ["HeatConduction"]


class HeatConduction(Physics):
    """Heat conduction with conductivity parameter ``k``.

    Args:
        k: default conductivity (constant, or overridden per cell/node by the problem).
        conductivity: optional ``f(T, k) -> k_eff`` making the law nonlinear, e.g.
            ``lambda T, k: k * (1 + 0.01 * T)``; it receives the temperature and the
            parameter ``k`` at the point, so ``k`` stays differentiable.
        **constants: further parameters of ``conductivity``, by name with their
            defaults, passed to it as keywords: ``HeatConduction(k=1.0, beta=0.01,
            conductivity=lambda T, k, beta: k * (1 + beta * T))`` makes ``beta`` a
            parameter like ``k`` (overridable per solve, per cell or node, and
            differentiable) instead of a constant captured in the function.
    """

    components = 1
    source_uses_gradient = False
    symmetric = True
    #: one number per point (a field holds one per cell or node)
    parameter_shapes = {"k": ()}

    def __init__(self, k=1.0, *, conductivity: Callable | None = None, **constants):
        if conductivity is not None and not callable(conductivity):
            raise InputError(f"conductivity must be a function f(T, k), got {type(conductivity).__name__}")
        if constants and conductivity is None:
            raise InputError(f"parameters {sorted(constants)} are given but no conductivity function uses them: "
                             "pass conductivity=lambda T, k, ...: ... taking them as keywords")
        super().__init__(k=k, **constants)
        self.constants = tuple(constants)
        if constants:
            self.parameter_shapes = {"k": (), **{name: () for name in constants}}
        self.conductivity = conductivity
        self.linear = conductivity is None
        self.flux_uses_value = conductivity is not None
        # k(T) ∇T is not the gradient of an energy: its tangent is unsymmetric.
        self.symmetric = conductivity is None

    def cache_key(self):
        return (type(self), self.conductivity, self.constants)

    def parameter_rules(self, dim: int) -> list:
        """``0 < k`` (0 allowed in fields) for the linear law; with a ``conductivity``
        function ``k`` is whatever that function makes of it, so only finiteness."""
        return [positive("k", zero_in_fields=True)] if self.conductivity is None else []

    def flux(self, grad_T, T, x, p):
        k = p["k"] if self.conductivity is None else \
            self.conductivity(T, p["k"], **{name: p[name] for name in self.constants})
        return k * grad_T

    def source(self, grad_T, T, x, p):
        return None

    def heat_flux(self, grad_T, T, x, p):
        """Heat flux q = −k(T) ∇T ``(dim,)`` at a point (Fourier's law: heat flows from
        hot to cold), the quantity behind :func:`femopt.heat_flux`; the weak form's
        ``flux`` is +k ∇T."""
        return -self.flux(grad_T, T, x, p)
