"""Package-wide JAX configuration.

femopt computes in float64: stiffness matrices of stiff materials and adjoint gradients
lose digits fast in float32. JAX defaults to float32, so importing femopt switches on
``jax_enable_x64`` — a process-wide JAX flag. It changes the default dtype of the
user's own ``jnp.array(1.0)`` too (float64 instead of float32); arrays the user created
with an explicit dtype keep it. Set the environment variable ``FEMOPT_X64=0`` before
importing femopt to leave JAX's setting alone (femopt then warns, because its results
are only verified in float64).

Compiled kernels are also kept on disk, in JAX's persistent compilation cache, so that a
second run of the same script does not compile them again (a first solve compiles for
2-7 s). femopt points the cache at ``$XDG_CACHE_HOME/femopt/jax`` (``~/.cache/femopt/jax``)
unless the user has set ``jax_compilation_cache_dir`` already (JAX_COMPILATION_CACHE_DIR);
``FEMOPT_JAX_CACHE=/some/folder`` chooses another folder, ``FEMOPT_JAX_CACHE=0`` leaves the
cache off. The cache is process-wide: the user's own jitted functions that compile for
longer than 0.1 s are kept there too.
"""
from __future__ import annotations

import logging
import os

import jax

_log = logging.getLogger("femopt")


_OFF = ("0", "false", "False", "no", "off")

#: Compilations shorter than this are not written to the persistent cache.
CACHE_MIN_COMPILE_SECONDS = 0.1


def configure_jax() -> None:
    """Switch on float64 in JAX unless the user opted out with FEMOPT_X64=0, and the
    persistent compilation cache unless FEMOPT_JAX_CACHE=0 or the user chose one."""
    _enable_compilation_cache()
    if os.environ.get("FEMOPT_X64", "1").strip() in _OFF:
        if not jax.config.jax_enable_x64:
            _log.warning(
                "FEMOPT_X64=0: JAX runs in float32; femopt's results and gradients are "
                "verified in float64 only"
            )
        return
    jax.config.update("jax_enable_x64", True)


def _enable_compilation_cache() -> None:
    setting = os.environ.get("FEMOPT_JAX_CACHE", "").strip()
    if setting in _OFF or getattr(jax.config, "jax_compilation_cache_dir", None):
        return
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = setting or os.path.join(base, "femopt", "jax")
    try:
        os.makedirs(folder, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", CACHE_MIN_COMPILE_SECONDS)
    except (OSError, AttributeError, ValueError) as error:  # read-only home, an old JAX
        _log.debug("persistent compilation cache not enabled: %s", error)
