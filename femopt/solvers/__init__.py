"""Solvers: linear backends behind one interface (factorize / solve / solve_transpose),
Newton with line search, load stepping."""
from .continuation import LoadSteppingResult, load_stepping
from .linear import CGSolver, DirectSolver, Factorization, LinearSolver, make_solver
from .newton import NewtonIteration, NewtonOptions, NewtonResult, newton

__all__ = ["LinearSolver", "Factorization", "DirectSolver", "CGSolver", "make_solver",
           "newton", "NewtonOptions", "NewtonResult", "NewtonIteration",
           "load_stepping", "LoadSteppingResult"]
