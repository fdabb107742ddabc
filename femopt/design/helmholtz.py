"""The PDE (Helmholtz) filter of Lazarov & Sigmund (2011), solved with femopt's FE machinery.

The filtered field ρ̃ solves, with natural (zero-flux) boundary conditions,

    −r_h² Δρ̃ + ρ̃ = x,          r_h = r / (2√3)

(the factor makes its length scale match a cone filter of radius r). It is a femopt
problem like any other: a scalar custom physics with energy ½ r_h² |∇ρ̃|² + ½ ρ̃², whose
tangent (stiffness + mass) the assembler builds once and the linear-solver layer
factorizes once. The design lives on cells: ``T`` maps cell values to the load vector
(T_ie = ∫_e N_i dx) and ``P = diag(1/|e|) Tᵀ`` averages nodal values back to cells, so

    ρ̃_cells = P K⁻¹ T x,    and its adjoint   Tᵀ K⁻ᵀ Pᵀ ȳ,

applied in JAX through ``jax.custom_vjp`` around host solves with the kept factorization.
Rows of the map sum to one (K·1 = M·1 = T·1 and P·1 = 1), like the density filter's.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from ..assembly.kernels import cell_tables, geometry
from ..errors import InputError
from ..physics.base import custom_physics
from ..problem import Problem
from ..solvers.linear import DirectSolver
from .filters import host_linear_map

__all__ = ["HelmholtzFilter"]


def _helmholtz_physics(length):
    return custom_physics(
        components=1, parameters={"length": float(length)}, linear=True, energy_uses_value=True,
        energy=lambda g, u, x, p: 0.5 * p["length"] ** 2 * jnp.dot(g, g) + 0.5 * u * u)


class HelmholtzFilter:
    """The Helmholtz PDE filter on a mesh's cells.

    Args:
        mesh: the mesh of the design cells.
        radius: the equivalent cone-filter radius r (the PDE length is r / (2√3)).
        linear_solver: a femopt linear solver (default: direct, symmetric).
    """

    def __init__(self, mesh, radius: float, *, linear_solver=None):
        if not np.isfinite(radius) or radius <= 0:
            raise InputError(f"filter radius must be a positive number, got {radius!r}")
        self.radius = float(radius)
        self.n_cells = mesh.n_cells
        problem = Problem(mesh, _helmholtz_physics(radius / (2.0 * np.sqrt(3.0))))
        _, K = problem.residual_and_tangent(np.zeros(mesh.n_nodes))
        solver = linear_solver or DirectSolver(symmetric=True)
        self._factorization = solver.factorize(K)
        self.T = self._load_matrix(problem)
        volumes = np.asarray(self.T.sum(axis=0)).ravel()
        self.P = (sp.diags(1.0 / volumes) @ self.T.T).tocsr()
        self.TT = self.T.T.tocsr()
        self.PT = self.P.T.tocsr()
        self._apply = self._make_apply()

    @staticmethod
    def _load_matrix(problem) -> sp.csr_matrix:
        """T (n_nodes, n_cells): T_ie = ∫_e N_i dx."""
        space, mesh = problem.space, problem.mesh
        tables = cell_tables(space.element, space.quadrature)

        def one(X):
            _, wJ = geometry(tables, X)
            return wJ @ tables.N

        integrals = np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(mesh.points[mesh.cells])))
        n_cells, n = mesh.cells.shape
        return sp.csr_matrix((integrals.ravel(), (mesh.cells.ravel(), np.repeat(np.arange(n_cells), n))),
                             shape=(mesh.n_nodes, n_cells))

    def __call__(self, x) -> np.ndarray:
        """ρ̃ = P K⁻¹ T x with NumPy (outside JAX)."""
        return self.P @ self._factorization.solve(self.T @ np.asarray(x, dtype=np.float64))

    def _adjoint(self, y_bar) -> np.ndarray:
        return self.TT @ self._factorization.solve_transpose(self.PT @ np.asarray(y_bar, dtype=np.float64))

    def _make_apply(self):
        return host_linear_map(self.__call__, self._adjoint, self.n_cells)

    def arrays(self) -> dict:
        """Nothing to pass: the factorization lives on the host."""
        return {}

    def apply(self, arrays: dict, x):
        """ρ̃ in JAX (differentiable by reverse mode; the solves run on the host)."""
        return self._apply(x)
