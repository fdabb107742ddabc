"""Package-wide JAX configuration.

femopt computes in float64: stiffness matrices of stiff materials and adjoint gradients
lose digits fast in float32. JAX defaults to float32, so importing femopt switches on
``jax_enable_x64`` — a process-wide JAX flag. It changes the default dtype of the
user's own ``jnp.array(1.0)`` too (float64 instead of float32); arrays the user created
with an explicit dtype keep it. Set the environment variable ``FEMOPT_X64=0`` before
importing femopt to leave JAX's setting alone (femopt then warns, because its results
are only verified in float64).
"""
from __future__ import annotations

import logging
import os

import jax

_log = logging.getLogger("femopt")


def configure_jax() -> None:
    """Switch on float64 in JAX unless the user opted out with FEMOPT_X64=0."""
    if os.environ.get("FEMOPT_X64", "1").strip() in ("0", "false", "False", "no"):
        if not jax.config.jax_enable_x64:
            _log.warning(
                "FEMOPT_X64=0: JAX runs in float32; femopt's results and gradients are "
                "verified in float64 only"
            )
        return
    jax.config.update("jax_enable_x64", True)
