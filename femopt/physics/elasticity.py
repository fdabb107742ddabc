"""Small-strain linear elasticity: 3D, plane strain and plane stress.

σ = λ tr(ε) I + 2 μ ε with λ, μ from Young's modulus E and Poisson's ratio ν. Plane
stress uses the reduced λ* = 2λμ / (λ + 2μ) in the in-plane law (σ_zz = 0).
E and ν may be global constants, per-cell fields or per-node fields.
"""
from __future__ import annotations

import jax.numpy as jnp

from ..errors import InputError
from .base import Physics

__all__ = ["LinearElasticity", "lame_parameters"]


def lame_parameters(E, nu):
    """(λ, μ) from Young's modulus and Poisson's ratio."""
    mu = E / (2.0 * (1.0 + nu))
    lmbda = E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
    return lmbda, mu


class LinearElasticity(Physics):
    """Linear elasticity with parameters ``E`` and ``nu``.

    Args:
        E, nu: defaults of Young's modulus and Poisson's ratio.
        plane: ``"strain"`` or ``"stress"`` for 2D meshes; ignored in 3D.
    """

    components = "vector"
    linear = True
    flux_uses_value = False
    source_uses_gradient = False
    symmetric = True

    def __init__(self, E=1.0, nu=0.3, *, plane: str = "strain"):
        if plane not in ("strain", "stress"):
            raise InputError(f"plane must be 'strain' or 'stress', got {plane!r}")
        super().__init__(E=E, nu=nu)
        self.plane = plane

    def cache_key(self):
        return (type(self), self.plane)

    def _lame(self, p, dim):
        lmbda, mu = lame_parameters(p["E"], p["nu"])
        if dim == 2 and self.plane == "stress":
            lmbda = 2.0 * lmbda * mu / (lmbda + 2.0 * mu)
        return lmbda, mu

    def flux(self, grad_u, u, x, p):
        dim = grad_u.shape[0]
        lmbda, mu = self._lame(p, dim)
        strain = 0.5 * (grad_u + grad_u.T)
        return lmbda * jnp.trace(strain) * jnp.eye(dim) + 2.0 * mu * strain

    def source(self, grad_u, u, x, p):
        return None

    def stress_3d(self, grad_u, p):
        """Full 3x3 Cauchy stress at a point (σ_zz of plane strain included)."""
        dim = grad_u.shape[0]
        sigma = self.flux(grad_u, None, None, p)
        if dim == 3:
            return sigma
        lmbda, _ = self._lame(p, dim)
        szz = lmbda * jnp.trace(grad_u) if self.plane == "strain" else 0.0
        return jnp.zeros((3, 3)).at[:2, :2].set(sigma).at[2, 2].set(szz)
