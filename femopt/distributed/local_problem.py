"""A rank's cells seen as a femopt problem, for functionals and residual products.

femopt's functionals (``Functional.evaluate(problem, u, params, X)``) and the element
products of the adjoint (:class:`~femopt.sensitivity.element_products.ResidualProducts`)
read a problem through a few attributes: ``space``, ``mesh``, ``physics``, ``params``,
``assembler``, ``split``, ``external_point_forces``, ``traced_residual`` and
``external_loads``. :class:`LocalProblem` answers them for the rank's local mesh
(:class:`~femopt.distributed.local.LocalSystem`), so the same JAX code runs on the
rank's cells only; sums over the ranks then give the global numbers.

Parameters are *localized* first (:meth:`LocalProblem.localize`): per-cell fields cut to
the rank's cells, per-node fields to its local nodes (owned, then ghosts), both marked
with ``cell_field`` / ``nodal_field`` so that their kind never depends on the local
sizes; global values stay as they are. Point loads are counted by the owner of their
node only, as in the assembly.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..assembly.parameters import CELL, GLOBAL, NODE, cell_field, nodal_field, split_parameters
from ..assembly.traced import traced_residual
from .local import LocalSystem, problem_terms

__all__ = ["LocalProblem"]


def _kinds(problem, params):
    """name → (kind, point shape) of the problem's parameters, from the global split."""
    pg, pc, pn = problem.split(params)
    out = {name: (GLOBAL, tuple(np.shape(v))) for name, v in pg.items()}
    out.update({name: (CELL, tuple(np.shape(v))[1:]) for name, v in pc.items()})
    out.update({name: (NODE, tuple(np.shape(v))[1:]) for name, v in pn.items()})
    return out


class LocalProblem:
    """The rank's cells of ``problem`` (a femopt Problem) as a problem-like view.

    Args:
        problem: the serial Problem (replicated on every rank).
        local: the rank's :class:`LocalSystem`.

    Attributes:
        space, mesh, assembler: the local function space, mesh and Assembler.
        cells: ``(n_local_cells,)`` global ids of the local cells.
        local_nodes: ``(n_local_nodes,)`` global ids of the local nodes.
        n_owned_nodes: the first ``n_owned_nodes`` local nodes are the rank's own.
    """

    def __init__(self, problem, local: LocalSystem):
        self.global_problem = problem
        self.physics = problem.physics
        self.params = problem.params            # the names (and defaults): functionals read them
        self.space = local.space
        self.mesh = local.space.mesh
        self.assembler = local.assembler
        self.cells = local.piece.cells
        self.local_nodes = local.local_nodes
        self.n_owned_nodes = local.piece.n_owned
        self._local_cell = np.full(problem.mesh.n_cells, -1, dtype=np.int64)
        self._local_cell[self.cells] = np.arange(self.cells.size)
        self._point_shapes = {name: shape for name, (_, shape) in _kinds(problem, problem.parameters()).items()}
        c = self.space.n_components
        local_of = np.full(problem.mesh.n_nodes, -1, dtype=np.int64)
        local_of[self.local_nodes[:self.n_owned_nodes]] = np.arange(self.n_owned_nodes)
        self._point_loads = []                  # (name, local dofs (m, c)) of owned nodes
        for name, nodes in problem_terms(problem)[2]:
            mine = local_of[np.asarray(nodes, dtype=np.int64)]
            mine = mine[mine >= 0]
            if mine.size:
                self._point_loads.append((name, mine[:, None] * c + np.arange(c)))

    def layout(self, params) -> dict:
        """name → (kind, point shape) of a full parameter dict: kind ``"global"``,
        ``"cell"`` or ``"node"`` (an override may turn a global default into a field)."""
        return _kinds(self.global_problem, params)

    def localize(self, params) -> dict:
        """The rank's part of a full parameter dict (values as the global problem takes
        them): per-cell fields on the local cells, per-node fields on the local nodes."""
        pg, pc, pn = self.global_problem.split(params)
        local = {name: np.asarray(v, dtype=np.float64) for name, v in pg.items()}
        local.update({name: cell_field(np.asarray(v, dtype=np.float64)[self.cells]) for name, v in pc.items()})
        local.update({name: nodal_field(np.asarray(v, dtype=np.float64)[self.local_nodes])
                      for name, v in pn.items()})
        return local

    def local_cells(self, cells):
        """Local ids of those of the global ``cells`` that the rank holds (None: all)."""
        if cells is None:
            return None
        ids = self._local_cell[np.asarray(cells, dtype=np.int64)]
        return np.sort(ids[ids >= 0])

    # -- what functionals and residual products read --------------------------------------
    def split(self, params):
        """Localized parameters sorted by kind (global, per cell, per node)."""
        return split_parameters(params, self._point_shapes, self.mesh.n_cells, self.mesh.n_nodes)[:3]

    def external_point_forces(self, params) -> np.ndarray:
        """Point loads on the rank's owned nodes ``(n_local_dofs,)`` (ghost rows zero)."""
        f = np.zeros(self.space.n_dofs)
        for name, dofs in self._point_loads:
            np.add.at(f, dofs.ravel(), np.tile(np.asarray(getattr(params[name], "values", params[name]),
                                                          dtype=np.float64), len(dofs)))
        return f

    def traced_residual(self, u, params, X, *, loads_only: bool = False):
        """The rank's part of R(u, p, X) ``(n_local_dofs,)`` in JAX, point loads of owned
        nodes included: summed over the ranks (ghost rows onto owners) it is the global R."""
        r = traced_residual(self.assembler, u, self.split(params), X, loads_only=loads_only)
        for name, dofs in self._point_loads:
            r = r.at[dofs.ravel()].add(-jnp.tile(jnp.asarray(params[name]), len(dofs)))
        return r

    def external_loads(self, params, X):
        """The rank's part of the dead external loads f(p, X) ``(n_local_dofs,)``."""
        return -self.traced_residual(jnp.zeros(self.space.n_dofs), params, X, loads_only=True)
