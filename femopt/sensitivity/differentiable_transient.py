"""A transient run that JAX can differentiate: ``U = femopt.solve_transient(transient, ...)``.

Like :func:`~.differentiable.solve` for a steady problem: a ``jax.custom_vjp`` whose
forward pass runs femopt's theta stepper on the host and returns every state
``(n_levels, n_dofs)``; the backward pass takes JAX's cotangent of those states and runs
the discrete adjoint backward in time (:class:`~.transient_levels.LevelAdjoint`) with the
states of the forward pass (all of them are in the output anyway, so nothing is
recomputed). Differentiable inputs: the values in ``params`` (``capacity`` included), the
``initial`` field and per-level arrays in ``loads``. Reverse mode only, as for the steady
solve. For long runs whose states do not fit in memory, use
:func:`~.transient_adjoint.transient_gradient` with a checkpoint schedule instead.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..assembly.parameters import CELL, NODE, cell_field, nodal_field
from ..errors import InputError
from ..problem.transient import time_levels
from .differentiable import _ready
from .transient_levels import CAPACITY, INITIAL, LevelAdjoint

__all__ = ["solve_transient"]


class _GivenCotangents:
    """The 'functional' Σ_k Ūᵀ_k U_k whose partials are JAX's cotangents of the states."""

    def __init__(self, cotangents):
        self.cotangents = cotangents

    def observe(self, k, u, params):
        pass

    def partials(self, k, u, params, **wanted):
        return self.cotangents[k], {}, None


def solve_transient(transient, params=None, *, initial, times=None, t_end=None, steps=None, loads=None,
                    prescribed=None):
    """Every state of a transient run as a JAX array ``(n_levels, n_dofs)``,
    differentiable (reverse mode) with respect to ``params`` values, ``initial`` and the
    per-level arrays in ``loads``.

    Args:
        transient: the :class:`~femopt.TransientProblem`.
        params: ``{name: value}`` overrides (JAX or NumPy arrays; ``cell_field`` /
            ``nodal_field`` markers kept), ``capacity`` included.
        initial: the initial field as an array: a number, nodal values or a flat dof
            vector (a function of x is accepted but not differentiated).
        times, t_end, steps, prescribed: the run, as for :meth:`TransientProblem.solve`.
        loads: as for ``solve``; entries given as arrays (one value per level) are
            differentiated, functions of t are not.

    Example::

        def objective(log_k):
            U = fo.solve_transient(tp, {"k": fo.cell_field(jnp.exp(log_k))}, initial=0.0, t_end=1.0, steps=50)
            return jnp.sum((U[:, probe] - data) ** 2)

        g = jax.grad(objective)(log_k0)
    """
    problem = transient.problem
    params = dict(params or {})
    kinds, arrays = {}, {}
    for name, value in params.items():
        if name not in problem.params and name != CAPACITY:
            raise InputError(f"unknown parameter {name!r}; this transient problem has "
                             f"{sorted(problem.params) + [CAPACITY]}")
        kind = getattr(value, "kind", None)
        if kind is not None:
            kinds[name] = kind
            value = value.values
        arrays[name] = jnp.asarray(value, dtype=jnp.float64)
    static_loads, load_arrays = {}, {}
    for name, spec in (loads or {}).items():
        if callable(spec):
            static_loads[name] = spec
        else:
            load_arrays[name] = jnp.asarray(spec, dtype=jnp.float64)
    if callable(initial):
        initial_array, initial_fn = None, initial
    else:
        initial_array, initial_fn = jnp.asarray(initial, dtype=jnp.float64), None
    run = dict(times=times, t_end=t_end, steps=steps, prescribed=prescribed)

    def host_inputs(p, initial_values, load_values):
        overrides = {name: (cell_field(np.asarray(v)) if kinds.get(name) == CELL else
                            nodal_field(np.asarray(v)) if kinds.get(name) == NODE else np.asarray(v))
                     for name, v in p.items()}
        all_loads = {**static_loads, **{name: np.asarray(v) for name, v in load_values.items()}}
        start = initial_fn if initial_values is None else np.asarray(initial_values)
        return transient.prepare(**run, initial=start, loads=all_loads or None, params=overrides)

    shape = jax.ShapeDtypeStruct((time_levels(times, t_end, steps).size, problem.space.n_dofs), jnp.float64)

    def forward_host(p, initial_values, load_values):
        setup = host_inputs(p, initial_values, load_values)
        states = setup.stepper.run(setup.u0_free).states
        return np.stack([setup.full(k, states[k]) for k in range(setup.times.size)])

    def backward_host(states, p, initial_values, load_values, cotangents):
        setup = host_inputs(p, initial_values, load_values)
        names = list(p) + list(load_values) + ([INITIAL] if initial_values is not None else [])
        backward = LevelAdjoint(setup, _GivenCotangents(np.asarray(cotangents, dtype=np.float64)), names)
        free = problem.partition.free
        states = np.asarray(states)
        for k in range(setup.n_steps, 0, -1):
            backward.step(k, states[k][free])
        backward.initial_level(states[0][free])
        grads = backward.gradients()
        out_p = {name: np.asarray(grads[name], dtype=np.float64).reshape(np.shape(v)) for name, v in p.items()}
        out_loads = {name: np.asarray(grads[name], dtype=np.float64).reshape(np.shape(v))
                     for name, v in load_values.items()}
        out_initial = None
        if initial_values is not None:
            g = np.asarray(grads[INITIAL], dtype=np.float64).reshape(-1)
            out_initial = np.asarray(np.sum(g) if np.ndim(initial_values) == 0 else
                                     g.reshape(np.shape(initial_values)), dtype=np.float64)
        return out_p, out_initial, out_loads

    @jax.custom_vjp
    def run_states(p, initial_values, load_values):
        return jax.pure_callback(forward_host, shape, p, initial_values, load_values, vmap_method="sequential")

    def fwd(p, initial_values, load_values):
        states = _ready(run_states(p, initial_values, load_values))
        return states, (states, p, initial_values, load_values)

    def bwd(residuals, cotangents):
        states, p, initial_values, load_values = residuals
        out_shapes = ({k: jax.ShapeDtypeStruct(jnp.shape(v), jnp.float64) for k, v in p.items()},
                      None if initial_values is None else jax.ShapeDtypeStruct(jnp.shape(initial_values),
                                                                                jnp.float64),
                      {k: jax.ShapeDtypeStruct(jnp.shape(v), jnp.float64) for k, v in load_values.items()})
        return _ready(jax.pure_callback(backward_host, out_shapes, states, p, initial_values, load_values,
                                        cotangents, vmap_method="sequential"))

    run_states.defvjp(fwd, bwd)
    return _ready(run_states(arrays, initial_array, load_arrays))
