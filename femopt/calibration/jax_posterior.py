"""The log posterior of a calibration of global constants as a JAX function, for
samplers: ``θ (n,) -> log p(θ | d)`` (up to a constant), differentiable by ``jax.grad``
through femopt's differentiable solve (one state solve and one adjoint solve per
experiment and gradient).

It is the same posterior as :class:`~.calibration.Calibration`'s negative cost: the
residuals are the experiments' own whitened ones, the priors the blocks' Gaussians, in
the same coordinates. Each experiment's solve runs on the host with its ``params``
(``femopt.solve``: no load steps).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..sensitivity.differentiable import solve
from .unknowns import Constants

__all__ = ["log_posterior"]


def log_posterior(calibration):
    """``θ → −F(θ)`` in JAX for a calibration whose unknowns are all :class:`Constants`."""
    if not all(isinstance(b, Constants) for b in calibration.blocks):
        raise InputError("log_posterior is for calibrations of global constants (Constants blocks); a field's "
                         "posterior is approximated by low_rank_laplace")
    if calibration.transient:
        raise InputError("log_posterior covers steady experiments; a transient experiment has no differentiable "
                         "JAX solve here (use find_map and laplace)")
    problem = calibration.problem
    X = jnp.asarray(problem.mesh.points)
    blocks = [(b, int(calibration.offsets[i]), int(calibration.offsets[i + 1]))
              for i, b in enumerate(calibration.blocks)]
    for e in calibration.steady:
        if e.solve_options:
            raise InputError(f"experiment {e.name!r} has solve_options {sorted(e.solve_options)}: the differentiable "
                             "solve takes none (a problem that needs load steps from rest cannot be sampled this way)")
    fixed = [{name: jnp.asarray(np.asarray(getattr(v, "values", v), dtype=np.float64))
              for name, v in e.params.items()} for e in calibration.steady]

    def value(theta):
        theta = jnp.asarray(theta, dtype=jnp.float64)
        unknowns, log_prior = {}, 0.0
        for block, lo, hi in blocks:
            m = theta[lo:hi]
            p = jnp.exp(m) if block.transform == "log" else m
            unknowns.update({name: p[i] for i, name in enumerate(block.names)})
            r = m - block.mean
            log_prior = log_prior - 0.5 * block.strength * r @ (block.precision @ r)
        log_likelihood = 0.0
        for experiment, functional, overrides in zip(calibration.steady, calibration.functionals, fixed):
            params = {**overrides, **unknowns}
            u = solve(problem, params, on_failure="nan")    # a failed solve: a rejected proposal
            rho = functional.residual(problem, u, {**problem.params, **params}, X)
            log_likelihood = log_likelihood - 0.5 * jnp.sum(rho * rho)
        return log_likelihood + log_prior

    return value


def check_against(calibration, theta, log_density) -> float:
    """|log_density(θ) + F(θ)| (zero up to round-off when both describe one posterior)."""
    return float(abs(float(jax.jit(log_density)(jnp.asarray(theta))) + calibration.cost(np.asarray(theta))))
