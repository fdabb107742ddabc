"""Sensitivities: adjoint and direct derivatives of functionals, Hessian-vector products,
a differentiable solve for ``jax.grad``, and Taylor / finite-difference checks.

* :func:`gradient` / :func:`value_and_grad` — dJ/d(parameters, coordinates, prescribed
  values); ``method="auto" | "adjoint" | "direct"``.
* :func:`directional_derivative`, :func:`state_derivative` — forward (direct) derivatives.
* :func:`hessian_vector_product`, :func:`hessian` — exact second order (second-order adjoint).
* :class:`ReducedFunctional` — ``fun`` / ``jac`` / ``hessp`` for ``scipy.optimize.minimize``.
* :func:`solve` — ``u = solve(problem, params)`` inside ``jax.grad`` (custom_vjp);
  :func:`solve_transient` the same for every state of a transient run.
* :func:`taylor_test`, :func:`finite_difference_check` — verify any gradient.
* :func:`transient_gradient` — gradients of transient runs (discrete adjoint backward in time).
* :class:`Revolve`, :class:`StoreAll` — checkpoint schedules for an adjoint backward in time
  (actions, :func:`revolve_forward_steps`, :func:`simulate`).
"""
from .adjoint import (METHODS, Gradient, choose_method, directional_derivative, gradient, state_derivative,
                      value_and_grad)
from .checkpoint_simulation import SimulationResult, simulate
from .checkpointing import (AdjointStep, Advance, Finish, Forget, Hold, Restore, Revolve, Schedule, Store,
                            StoreAll, revolve_forward_steps)
from .differentiable import solve
from .differentiable_transient import solve_transient
from .hessian import hessian, hessian_vector_product
from .reduced import ReducedFunctional
from .state import COORDINATES, PRESCRIBED
from .transient_adjoint import AdjointRecord, TransientGradient, transient_gradient
from .transient_direct import transient_directional_derivative
from .taylor import FiniteDifferenceResult, TaylorResult, finite_difference_check, taylor_test

__all__ = ["gradient", "value_and_grad", "directional_derivative", "state_derivative", "Gradient",
           "METHODS", "choose_method", "COORDINATES", "PRESCRIBED", "hessian_vector_product", "hessian",
           "ReducedFunctional", "solve", "taylor_test", "finite_difference_check", "TaylorResult",
           "FiniteDifferenceResult", "Advance", "Store", "Restore", "Forget", "Hold", "AdjointStep",
           "Finish", "Schedule", "StoreAll", "Revolve", "revolve_forward_steps", "SimulationResult",
           "simulate", "transient_gradient", "TransientGradient", "AdjointRecord",
           "transient_directional_derivative", "solve_transient"]
