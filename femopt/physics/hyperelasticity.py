"""Hyperelasticity: compressible neo-Hookean and St Venant–Kirchhoff.

Both are energy densities ψ(F) of the deformation gradient F = I + ∇u (reference
configuration, total Lagrangian); the first Piola–Kirchhoff stress P = ∂ψ/∂F and the
tangent ∂P/∂F come from JAX. In 2D the mesh is a plane-strain section (F_33 = 1).
"""
from __future__ import annotations

import jax.numpy as jnp

from .admissible import ParameterRule, positive
from .base import Physics
from .elasticity import lame_parameters

__all__ = ["NeoHookean", "StVenantKirchhoff", "deformation_gradient_3d"]


def deformation_gradient_3d(grad_u):
    """F = I + ∇u as a 3x3 matrix; a 2x2 gradient is a plane-strain section."""
    dim = grad_u.shape[0]
    F = jnp.eye(dim) + grad_u
    if dim == 2:
        F = jnp.zeros((3, 3)).at[:2, :2].set(F).at[2, 2].set(1.0)
    return F


def _det3(F):
    # Written out: cheaper than a batched LU for 3x3 and exact for the derivatives.
    return (F[0, 0] * (F[1, 1] * F[2, 2] - F[1, 2] * F[2, 1])
            - F[0, 1] * (F[1, 0] * F[2, 2] - F[1, 2] * F[2, 0])
            + F[0, 2] * (F[1, 0] * F[2, 1] - F[1, 1] * F[2, 0]))


class _Hyperelastic(Physics):
    components = "vector"
    #: the field is a finite displacement: a solution must not invert any cell
    finite_strain = True
    flux_uses_value = False
    source_uses_gradient = False
    symmetric = True
    #: one number per point each (a field holds one per cell or node)
    parameter_shapes = {"mu": (), "lmbda": ()}

    def __init__(self, mu=1.0, lmbda=1.0):
        super().__init__(mu=mu, lmbda=lmbda)

    @classmethod
    def from_young(cls, E, nu):
        """Construct from Young's modulus and Poisson's ratio (small-strain limit)."""
        lmbda, mu = lame_parameters(E, nu)
        return cls(mu=mu, lmbda=lmbda)

    def cache_key(self):
        return type(self)

    def parameter_rules(self, dim: int) -> list:
        """``0 < mu`` (0 allowed in fields) and a positive bulk modulus
        ``lmbda + 2 mu / 3 > 0`` (the small-strain limit is linear elasticity with these
        Lamé parameters; 2D meshes are plane-strain sections of a 3D body)."""
        bulk = ParameterRule(("mu", "lmbda"), "bulk modulus lmbda + 2 mu / 3 > 0",
                             lambda mu, lmbda, field: (lmbda + 2.0 * mu / 3.0 >= 0.0) if field
                             else (lmbda + 2.0 * mu / 3.0 > 0.0))
        return [positive("mu", zero_in_fields=True), bulk]

    def energy(self, grad_u, u, x, p):
        return self.strain_energy(deformation_gradient_3d(grad_u), p)

    def first_piola(self, F, p):
        """P = ∂ψ/∂F for a 3x3 F (used by tests and post-processing)."""
        import jax

        return jax.grad(self.strain_energy)(F, p)

    def cauchy_stress(self, F, p):
        """σ = P Fᵀ / det F."""
        return self.first_piola(F, p) @ F.T / _det3(F)

    def stress(self, grad_u, u, x, p):
        """Cauchy (true) stress ``(3, 3)`` at a point, ``F = I + ∇u`` (2D: plane strain):
        the quantity behind :func:`femopt.stress`. Flux signature; ``u``, ``x`` unused."""
        return self.cauchy_stress(deformation_gradient_3d(grad_u), p)

    def strain(self, grad_u, u, x, p):
        """Green–Lagrange strain E = ½ (FᵀF − I) ``(3, 3)`` (2D: E_zz = 0, plane strain)."""
        F = deformation_gradient_3d(grad_u)
        return 0.5 * (F.T @ F - jnp.eye(3))


class NeoHookean(_Hyperelastic):
    """Compressible neo-Hookean: ψ = μ/2 (tr C − 3) − μ ln J + λ/2 (ln J)².

    Parameters ``mu`` (shear modulus) and ``lmbda`` (Lamé's first parameter).
    """

    def strain_energy(self, F, p):
        J = _det3(F)
        lnJ = jnp.log(J)
        I1 = jnp.sum(F * F)
        return 0.5 * p["mu"] * (I1 - 3.0) - p["mu"] * lnJ + 0.5 * p["lmbda"] * lnJ**2


class StVenantKirchhoff(_Hyperelastic):
    """St Venant–Kirchhoff: ψ = μ E:E + λ/2 (tr E)², E = (FᵀF − I)/2."""

    def strain_energy(self, F, p):
        E = 0.5 * (F.T @ F - jnp.eye(3))
        trE = jnp.trace(E)
        return p["mu"] * jnp.sum(E * E) + 0.5 * p["lmbda"] * trE**2
