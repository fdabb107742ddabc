"""Shared test configuration: float64 JAX, strict about implicit rank promotion, and an
off-screen plotting backend."""
import os

os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")

import jax  # noqa: E402

import femopt  # noqa: E402,F401  (switches on float64)

jax.config.update("jax_numpy_rank_promotion", "raise")
