"""Sensitivities: adjoint and direct derivatives of functionals, a differentiable solve
for ``jax.grad``, and Taylor / finite-difference checks."""
from .adjoint import COORDINATES, PRESCRIBED, Gradient, directional_derivative, gradient, value_and_grad
from .differentiable import solve
from .taylor import TaylorResult, finite_difference_check, taylor_test

__all__ = ["gradient", "value_and_grad", "directional_derivative", "Gradient", "COORDINATES",
           "PRESCRIBED", "solve", "taylor_test", "finite_difference_check", "TaylorResult"]
