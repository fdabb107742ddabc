"""Solvers: linear backends behind one interface (factorize / solve / solve_transpose),
the automatic choice (:mod:`.selection`), geometric multigrid for structured meshes
(:mod:`.multigrid`), a matrix-free operator (:mod:`.matrix_free`), Newton with line
search, load stepping, theta-method time stepping (:mod:`.theta`)."""
from .continuation import LoadSteppingResult, load_stepping
from .linear import (AutoSolver, CGSolver, DirectSolver, Factorization, LinearSolver, PreconditionerReuse,
                     SolverContext, make_solver)
from .matrix_free import ChebyshevJacobi, MatrixFreeOperator, TwoLevelMatrixFree, matrix_free_solve
from .multigrid import GeometricMultigrid, gmg_solver
from .multigrid_grid import structured_grid
from .newton import NewtonIteration, NewtonOptions, NewtonResult, newton
from .theta import ThetaRun, ThetaStep, ThetaStepper

__all__ = ["LinearSolver", "Factorization", "DirectSolver", "CGSolver", "AutoSolver", "SolverContext",
           "PreconditionerReuse", "make_solver", "GeometricMultigrid", "gmg_solver", "structured_grid",
           "MatrixFreeOperator", "matrix_free_solve", "ChebyshevJacobi", "TwoLevelMatrixFree",
           "newton", "NewtonOptions", "NewtonResult", "NewtonIteration",
           "load_stepping", "LoadSteppingResult", "ThetaStepper", "ThetaStep", "ThetaRun"]
