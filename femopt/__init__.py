"""femopt — finite-element design optimization with exact adjoint gradients.

One obvious entry point per concept:

* mesh:      ``femopt.mesh.box / rectangle / read``  → :class:`Mesh`
* space:     :class:`FunctionSpace`
* physics:   ``femopt.physics.LinearElasticity / NeoHookean / HeatConduction`` or your own
* problem:   :class:`Problem` — supports, loads, parameters, ``solve``;
             :class:`TransientProblem` — the same in time (theta method)
* results:   :func:`stress` / :func:`strain` / :func:`heat_flux` at points, quadrature
             points, cell centres or recovered at the nodes; :func:`von_mises`
* gradient:  :func:`gradient` / :func:`value_and_grad` of a ``femopt.functionals`` functional
             (adjoint), :func:`solve` inside ``jax.grad``, :func:`taylor_test` to verify;
             :func:`transient_gradient` of a transient run (checkpoints :class:`Revolve`)
* calibrate: ``femopt.calibration`` — parameters from data with priors, MAP point,
             Laplace posterior (dense or low rank), NUTS, prior strength
* output:    ``femopt.mesh.write`` (VTU and everything meshio writes)

Importing femopt switches JAX to float64 (``jax_enable_x64``); see ``femopt._config``.
"""
from ._config import configure_jax

configure_jax()

from . import assembly, fem, functionals, mesh, physics, sensitivity, solvers  # noqa: E402
from .assembly.parameters import cell_field, nodal_field  # noqa: E402
from .errors import (CheckpointError, FemoptError, FemoptWarning, InputError, InternalError,  # noqa: E402
                     MeshError, NewtonError, ParameterError, ResourceError, SingularJacobianError,
                     SingularMatrixError, SolverError)
from .fem.space import FunctionSpace  # noqa: E402
from .mesh.mesh import Mesh  # noqa: E402
from .problem import Problem, State  # noqa: E402
from .physics.stress_measures import von_mises  # noqa: E402
from .problem.stresses import heat_flux, strain, stress  # noqa: E402
from .problem.transient import TransientProblem  # noqa: E402
from .problem.transient_result import TransientResult  # noqa: E402
from .sensitivity import (Revolve, StoreAll, gradient, solve, solve_transient, taylor_test,  # noqa: E402
                          transient_gradient, value_and_grad)
from .solvers.newton import NewtonOptions  # noqa: E402

__version__ = "0.1.0"

# Subpackages that pull in heavy dependencies (pyvista, optimizers) load on first use.
_LAZY = ("viz", "design", "optimize", "calibration", "benchmarks")


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"femopt.{name}")
    raise AttributeError(f"module 'femopt' has no attribute {name!r}")

__all__ = [
    "assembly", "fem", "functionals", "mesh", "physics", "sensitivity", "solvers",
    "gradient", "value_and_grad", "solve", "taylor_test", "transient_gradient", "solve_transient",
    "StoreAll", "Revolve",
    "Mesh", "FunctionSpace", "Problem", "State", "NewtonOptions", "TransientProblem", "TransientResult",
    "cell_field", "nodal_field",
    "stress", "strain", "heat_flux", "von_mises",
    "FemoptError", "InputError", "MeshError", "ParameterError", "CheckpointError",
    "ResourceError", "SolverError", "SingularMatrixError", "NewtonError",
    "SingularJacobianError", "InternalError", "FemoptWarning",
    "viz", "design", "optimize", "calibration", "benchmarks",
    "__version__",
]
