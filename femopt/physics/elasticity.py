"""Small-strain linear elasticity: 3D, plane strain and plane stress.

σ = λ tr(ε) I + 2 μ ε with λ, μ from Young's modulus E and Poisson's ratio ν. Plane
stress uses the reduced λ* = 2λμ / (λ + 2μ) in the in-plane law (σ_zz = 0).
E and ν may be global constants, per-cell fields or per-node fields.
"""
from __future__ import annotations

import jax.numpy as jnp

from ..errors import InputError
from .admissible import between, positive
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
        plane: ``"strain"`` or ``"stress"`` for 2D meshes (``"stress"`` on a 3D mesh is
            refused).

    Admissible values: ``E > 0`` (a per-cell / per-node field may be 0 in places, e.g.
    SIMP's void cells), ``-1 < nu < 0.5`` (3D, plane strain) or ``-1 < nu < 1`` (plane
    stress); every value finite. Others raise :class:`~femopt.errors.ParameterError`.
    """

    components = "vector"
    linear = True
    flux_uses_value = False
    source_uses_gradient = False
    symmetric = True
    #: one number per point each (a field holds one per cell or node)
    parameter_shapes = {"E": (), "nu": ()}

    def __init__(self, E=1.0, nu=0.3, *, plane: str = "strain"):
        if plane not in ("strain", "stress"):
            raise InputError(f"plane must be 'strain' or 'stress', got {plane!r}")
        super().__init__(E=E, nu=nu)
        self.plane = plane

    def cache_key(self):
        return (type(self), self.plane)

    def check_dimension(self, dim: int) -> None:
        if dim == 3 and self.plane == "stress":
            raise InputError("LinearElasticity(plane='stress') is a 2D model, but the mesh is 3D; "
                             "leave plane at its default for 3D meshes")

    def parameter_rules(self, dim: int) -> list:
        """``0 < E`` (0 allowed in fields: void cells), and ``-1 < nu < 0.5`` in 3D and
        plane strain (positive shear and bulk moduli), ``-1 < nu < 1`` in plane stress."""
        upper, why = (1.0, "plane stress") if (dim == 2 and self.plane == "stress") else \
            (0.5, "3D / plane strain: positive bulk and shear moduli")
        return [positive("E", zero_in_fields=True), between("nu", -1.0, upper, why)]

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

    def stress(self, grad_u, u, x, p):
        """Cauchy stress ``(3, 3)`` at a point (σ_zz of plane strain included, 0 in plane
        stress): the quantity behind :func:`femopt.stress`. Flux signature; ``u`` and
        ``x`` are not used."""
        return self.stress_3d(grad_u, p)

    def strain(self, grad_u, u, x, p):
        """Small strain ε = ½ (∇u + ∇uᵀ) as ``(3, 3)``: ε_zz = 0 in plane strain,
        ε_zz = −ν / (1 − ν) (ε_xx + ε_yy) in plane stress (where σ_zz = 0)."""
        dim = grad_u.shape[0]
        strain = 0.5 * (grad_u + grad_u.T)
        if dim == 3:
            return strain
        ezz = -p["nu"] / (1.0 - p["nu"]) * jnp.trace(strain) if self.plane == "stress" else 0.0
        return jnp.zeros((3, 3)).at[:2, :2].set(strain).at[2, 2].set(ezz)

    def stress_3d(self, grad_u, p):
        """Full 3x3 Cauchy stress at a point (σ_zz of plane strain included)."""
        dim = grad_u.shape[0]
        sigma = self.flux(grad_u, None, None, p)
        if dim == 3:
            return sigma
        lmbda, _ = self._lame(p, dim)
        szz = lmbda * jnp.trace(grad_u) if self.plane == "strain" else 0.0
        return jnp.zeros((3, 3)).at[:2, :2].set(sigma).at[2, 2].set(szz)
