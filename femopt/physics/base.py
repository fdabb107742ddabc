"""The physics protocol: pointwise laws in JAX, one quadrature point at a time.

A physics states its weak form at a quadrature point. For a field ``u`` with test
function ``v`` the residual is

    R(u; v) = ∫ flux(∇u, u, x, p) : ∇v + source(∇u, u, x, p) · v  dx

A physics defines ``flux`` and/or ``source``, or an ``energy`` density ψ from which
``flux = ∂ψ/∂∇u`` and ``source = ∂ψ/∂u`` follow by JAX. The assembly layer derives the
tangent by differentiating these pointwise functions; nobody writes a tangent by hand.

Shapes at one point: a scalar field has ``grad_u (dim,)``, ``u ()``, flux ``(dim,)``,
source ``()``; a field with ``c`` components has ``grad_u (c, dim)`` (``grad_u[i, j] =
∂u_i/∂x_j``), ``u (c,)``, flux ``(c, dim)``, source ``(c,)``. ``x`` is the point ``(dim,)``
and ``p`` a dict of parameter values at that point.

Parameters are *passed in*, never read from ``self``: ``parameters`` holds their default
values and the problem hands the current values to every evaluation, so each one reaches
the gradient. A value captured in a closure is a constant to JAX and can not be
differentiated — femopt then rejects a gradient request for it by name instead of
returning a silently wrong one.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp

from ..errors import InputError

__all__ = ["Physics", "custom_physics"]


class Physics:
    """Base class of a pointwise physics.

    Subclasses set ``components`` (an int, or ``"vector"`` for ``mesh.dim``), fill
    ``self.parameters`` with defaults, and define ``flux``/``source`` or ``energy``
    (all with the signature ``f(grad_u, u, x, p)``; a missing one returns ``None``).

    Flags that let the assembly skip work (conservative by default):
        linear: the residual is affine in u (Newton stops after one step).
        flux_uses_value: ``flux`` depends on ``u`` itself (e.g. k(T)).
        source_uses_gradient: ``source`` depends on ``∇u``.
        source_uses_value: ``source`` depends on ``u``.
        symmetric: the tangent is symmetric (true for every energy-based physics).
    """

    components: int | str = 1
    linear: bool = False
    flux_uses_value: bool = True
    source_uses_gradient: bool = True
    source_uses_value: bool = True
    symmetric: bool = False
    #: optional energy density ``psi(grad_u, u, x, p) -> scalar``
    energy: Callable | None = None
    #: whether ``energy`` depends on ``u`` itself (then it has a source term)
    energy_uses_value: bool = False
    #: per-point shape of each parameter, ``()`` for a number; one not listed takes the
    #: shape of its default value (minus a leading cells / nodes axis for a field)
    parameter_shapes: Mapping[str, tuple] = {}

    def __init__(self, **parameters: Any):
        self.parameters: dict[str, Any] = dict(parameters)

    def flux(self, grad_u, u, x, p):
        if self.energy is None:
            return None
        return jax.grad(self.energy, argnums=0)(grad_u, u, x, p)

    def source(self, grad_u, u, x, p):
        if self.energy is None or not self.energy_uses_value:
            return None
        return jax.grad(self.energy, argnums=1)(grad_u, u, x, p)

    def n_components(self, dim: int) -> int:
        """Number of field components on a mesh of spatial dimension ``dim``."""
        if self.components == "vector":
            return dim
        return int(self.components)

    def check_dimension(self, dim: int) -> None:
        """Raise InputError if this physics can not run in ``dim`` space dimensions."""

    def parameter_rules(self, dim: int) -> list:
        """Conditions the parameter values must meet in ``dim`` space dimensions
        (:class:`~femopt.physics.admissible.ParameterRule`; e.g. ``0 < E``). The problem
        checks them, and finiteness of every value, wherever values enter. The base
        class states none; a custom physics made by :func:`custom_physics` takes them as
        ``rules=``."""
        return list(getattr(self, "_rules", ()))

    def cache_key(self):
        """Hashable key of everything except parameter values that changes the compiled
        kernel. Built-ins return their class and static options; other physics default
        to the object itself (one compile per object)."""
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items() if jnp.ndim(v) == 0)
        return f"{type(self).__name__}({params})"


def custom_physics(
    *,
    components: int | str = 1,
    parameters: Mapping[str, Any] | None = None,
    flux: Callable | None = None,
    source: Callable | None = None,
    energy: Callable | None = None,
    energy_uses_value: bool = False,
    linear: bool = False,
    rules=(),
) -> Physics:
    """A physics from plain functions ``f(grad_u, u, x, p)`` (see the module docstring).

    Example — nonlinear heat conduction with k(T) = k0 (1 + b T) and a source::

        heat = custom_physics(
            parameters={"k0": 1.0, "b": 0.1, "q": 5.0},
            flux=lambda g, T, x, p: p["k0"] * (1 + p["b"] * T) * g,
            source=lambda g, T, x, p: -p["q"],
            rules=[positive("k0")],     # from femopt.physics.admissible
        )

    ``rules``: :class:`~femopt.physics.admissible.ParameterRule` objects the parameter
    values must satisfy (``positive``, ``non_negative``, ``between`` or your own);
    every value is checked for NaN/Inf in any case.
    """
    if energy is None and flux is None and source is None:
        raise InputError("custom_physics needs at least one of flux=, source= or energy=")
    if energy is not None and (flux is not None or source is not None):
        raise InputError("give either energy= or flux=/source=, not both")
    physics = Physics(**dict(parameters or {}))
    physics.components = components
    physics.linear = linear
    physics.symmetric = energy is not None
    physics.energy = energy
    physics.energy_uses_value = energy_uses_value
    physics._rules = tuple(rules)
    if flux is not None:
        physics.flux = flux
    if source is not None or energy is None:
        physics.source = source if source is not None else (lambda *args: None)
    if energy is None and flux is None:
        physics.flux = lambda *args: None
    return physics
