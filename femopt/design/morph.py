"""Mesh morphing: interior nodes follow a prescribed boundary motion.

:class:`LinearElasticMorph` extends the displacement of some boundary nodes into the mesh
by a linear-elastic solve on the *reference* mesh (Dirichlet: the given motion on the
moving nodes, zero on the fixed ones, zero normal component on sliding ones). The
operator is linear and fixed, so it is factorized once:

    d_free = M d_moving,   M = −K_ff⁻¹ K_fm,

and the chain rule back to the moving nodes costs one transposed solve with the same
factorization:  d̄_moving = d̄_m − K_fmᵀ K_ff⁻ᵀ d̄_f.

Cells are stiffened in inverse proportion to their size (``stiffening``), the usual
trick that keeps the small cells next to a moving boundary from being crushed.
"""
from __future__ import annotations

import numpy as np

from ..assembly.dirichlet import DofPartition
from ..assembly.parameters import cell_field
from ..errors import InputError
from ..mesh.quality import cell_measures
from ..physics.elasticity import LinearElasticity
from ..problem import Problem
from ..solvers.linear import make_solver

__all__ = ["LinearElasticMorph"]


class LinearElasticMorph:
    """Linear-elastic extension of a boundary displacement to all nodes.

    Args:
        mesh: the reference :class:`~femopt.Mesh`.
        moving: the nodes whose displacement is given (tag name, predicate or node ids).
        fixed: selections of nodes that stay in place (e.g. ``["xmax", "ymax"]``).
        sliding: ``{selection: component}``: nodes that may slide along a symmetry line
            or plane; only ``component`` (the normal one) is held at zero.
        stiffening: cell stiffness ∝ (mean cell size / cell size)^stiffening; 0 is a
            uniform material.
        nu: Poisson's ratio of the fictitious material.
        linear_solver: as for :class:`~femopt.Problem` (default: direct).

    Attributes:
        moving_nodes: ``(n_moving,)`` node ids, the order of :meth:`displacement`'s input.
    """

    def __init__(self, mesh, moving, *, fixed=(), sliding=None, stiffening: float = 1.0,
                 nu: float = 0.3, linear_solver="direct"):
        if not -1.0 < nu < 0.5:
            raise InputError(f"nu must be in (-1, 0.5), got {nu!r}")
        if isinstance(fixed, str) or callable(fixed):
            fixed = [fixed]
        self.mesh, self.dim = mesh, mesh.dim
        self.moving_nodes = mesh.nodes(moving)
        dim = self.dim
        held = {}  # dof → True when its value comes from the boundary motion
        for selection, component in (sliding or {}).items():
            if not 0 <= int(component) < dim:
                raise InputError(f"sliding component for {selection!r} must be in 0..{dim - 1}, got {component!r}")
            held.update({int(n) * dim + int(component): False for n in mesh.nodes(selection)})
        for selection in fixed:
            held.update({int(n) * dim + c: False for n in mesh.nodes(selection) for c in range(dim)})
        # The moving nodes win where selections overlap (a hole node on a symmetry line).
        held.update({int(n) * dim + c: True for n in self.moving_nodes for c in range(dim)})
        prescribed = np.array(sorted(held), dtype=np.int64)
        self._partition = DofPartition(mesh.n_nodes * dim, prescribed)
        moving_dofs = (self.moving_nodes[:, None] * dim + np.arange(dim)).ravel()
        # position of each moving dof within the prescribed dofs
        self._moving_in_prescribed = np.searchsorted(prescribed, moving_dofs)

        measures = cell_measures(mesh.points, mesh.cells, mesh.cell_type)
        stiffness = (measures.mean() / measures) ** float(stiffening)
        problem = Problem(mesh, LinearElasticity(E=1.0, nu=nu))
        _, K = problem.residual_and_tangent(np.zeros(problem.space.n_dofs), {"E": cell_field(stiffness)})
        self._K_fp = self._partition.free_prescribed_block(K)
        self._factorization = make_solver(linear_solver, n_hint=self._partition.free.size).factorize(
            self._partition.free_block(K))

    def displacement(self, moving_displacement) -> np.ndarray:
        """Node displacements ``(n_nodes, dim)`` for the displacement of the moving nodes
        ``(n_moving, dim)``."""
        d = np.asarray(moving_displacement, dtype=np.float64)
        if d.shape != (self.moving_nodes.size, self.dim):
            raise InputError(f"moving displacement must have shape {(self.moving_nodes.size, self.dim)}, "
                             f"got {d.shape}")
        part = self._partition
        values = np.zeros(part.prescribed.size)
        values[self._moving_in_prescribed] = d.ravel()
        free = self._factorization.solve(-(self._K_fp @ values))
        return part.expand(free, values).reshape(-1, self.dim)

    def vjp(self, displacement_bar) -> np.ndarray:
        """The chain rule through :meth:`displacement`: for d̄ = ∂J/∂(node displacement)
        ``(n_nodes, dim)``, the gradient with respect to the moving displacement
        ``(n_moving, dim)``."""
        bar = np.asarray(displacement_bar, dtype=np.float64).ravel()
        part = self._partition
        adjoint = self._factorization.solve_transpose(bar[part.free])
        prescribed_bar = bar[part.prescribed] - self._K_fp.T @ adjoint
        return prescribed_bar[self._moving_in_prescribed].reshape(-1, self.dim)
