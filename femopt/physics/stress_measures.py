"""The von Mises equivalent stress: the one definition femopt uses everywhere.

σ_vm = sqrt(3/2 s:s), s = σ − tr(σ)/3 I the deviator of the full 3x3 stress. Plane
problems need the out-of-plane normal stress σ_zz: 0 in plane stress, ν (σ_xx + σ_yy)
(linear elasticity) in plane strain. femopt's stresses (:func:`femopt.stress`,
``physics.stress``) are always 3x3 with σ_zz filled in, so they go in as they are; an
in-plane ``(2, 2)`` stress needs its ``sigma_zz`` named.

NumPy in, NumPy out; JAX in (traced too), JAX out — the same expression serves
post-processing and the stress functionals that gradients differentiate.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..errors import InputError

__all__ = ["von_mises"]


def _namespace(x):
    return np if isinstance(x, (np.ndarray, np.generic, list, tuple, float, int)) else jnp


def von_mises(stress, sigma_zz=None):
    """von Mises equivalent stress of ``(..., 3, 3)`` stresses; returns ``(...)``.

    Args:
        stress: full stresses ``(..., 3, 3)`` (3D, or plane with σ_zz in place — what
            :func:`femopt.stress` returns), or in-plane stresses ``(..., 2, 2)``.
        sigma_zz: only with ``(..., 2, 2)`` stresses: the out-of-plane normal stress,
            ``0.0`` for plane stress, ``nu * (σ_xx + σ_yy)`` for linear plane strain
            (a number or ``(...)``).

    Raises:
        InputError: the stress is not ``(..., 3, 3)`` / ``(..., 2, 2)``, or a 2x2 stress
            comes without ``sigma_zz`` (or a 3x3 one with it).
    """
    xp = _namespace(stress)
    sigma = xp.asarray(stress, dtype=float) if xp is np else stress
    shape = tuple(np.shape(sigma))
    if len(shape) < 2 or shape[-2:] not in ((3, 3), (2, 2)):
        raise InputError(f"von_mises expects stresses of shape (..., 3, 3) (or in-plane (..., 2, 2) with "
                         f"sigma_zz=), got shape {shape}")
    if shape[-2:] == (2, 2):
        if sigma_zz is None:
            raise InputError("an in-plane (..., 2, 2) stress needs its out-of-plane normal stress: pass "
                             "sigma_zz=0.0 for plane stress or sigma_zz=nu * (sxx + syy) for plane strain "
                             "(femopt.stress returns the full 3x3 stress, which needs none)")
        full = xp.zeros(shape[:-2] + (3, 3))
        if xp is np:
            full[..., :2, :2] = sigma
            full[..., 2, 2] = sigma_zz
        else:
            full = full.at[..., :2, :2].set(sigma).at[..., 2, 2].set(sigma_zz)
        sigma = full
    elif sigma_zz is not None:
        raise InputError("sigma_zz is for in-plane (..., 2, 2) stresses; a (..., 3, 3) stress holds it already")
    mean = (sigma[..., 0, 0] + sigma[..., 1, 1] + sigma[..., 2, 2]) / 3.0
    deviator = sigma - mean[..., None, None] * xp.eye(3)
    # The tiny shift keeps the derivative finite at zero stress (sqrt has an infinite
    # slope at 0); it is far below any stress a float64 can resolve next to it.
    return xp.sqrt(1.5 * xp.sum(deviator * deviator, axis=(-2, -1)) + 1e-300)
