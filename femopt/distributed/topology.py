"""Compliance, volume and their gradients for density-based topology optimization, with
the design variables of each rank's own cells.

One evaluation at the own part ``x`` of the design:

1. densities ρ = W x by the distributed filter (:mod:`.filter`), then the passive cells'
   (:mod:`.passive`) forced to 1 (solid) / 0 (void) — their entries of ``x`` are held at
   the same values and are no design variables;
2. the property E(ρ) (SIMP / RAMP) of the own cells, passed to
   :meth:`DistributedProblem.solve` as a per-cell field. Each rank reads only its own
   cells' entries of a per-cell field, so the rank's array holds its own values and a
   harmless placeholder (E₀) elsewhere — no gather of the design;
3. compliance C = f·u: each rank adds f·u over its cells' loads (body forces, tractions
   on their facets) and the point loads on the nodes it owns; one global sum;
4. dC/dE_e = −u_eᵀ K_e u_e with K_e the own cell's matrix at unit property (built once
   with femopt's element kernels on the rank's local mesh; u_e from the rank's local
   displacement, ghosts included), then dC/dx = Wᵀ(dC/dE ⊙ dE/dρ ⊙ a), with a the
   active cells' indicator (a passive cell's density does not depend on x);
5. the volume constraint g = Σ v_e ρ_e / (f V) − 1 over all cells (passive solid
   included, as the serial ``VolumeConstraint``) and its gradient Wᵀ(a ⊙ v) / (f V),
   which does not change: the volume is affine in x, one global sum per evaluation
   (the optimality-criteria bisection relies on this).

The gradients' entries of passive cells are 0.

The construction checks, on the rank's cells, that the problem's local tangent is
Σ_e s_e K_e at a random field and that the loads do not depend on the property: a physics
that is not linear in it, or design-dependent loads, are refused.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from ..assembly.kernels import tangents_at_rest
from ..assembly.parameters import cell_field
from ..design.projection import SIMP
from ..errors import InputError
from .cells import CellLayout
from .filter import DistributedFilter
from .passive import PassiveCells

__all__ = ["DistributedCompliance", "unit_cell_matrices"]

#: Element-matrix entries computed per JAX call while building the unit cell matrices.
_CHUNK_ENTRIES = 4_000_000


def unit_cell_matrices(problem, local, parameter: str, values=None) -> np.ndarray:
    """Cell matrices ``(n_local_cells, nd, nd)`` of a rank's cells (local dof order) with
    the per-cell ``parameter`` at ``values`` (``(n_cells,)``, default 1), from femopt's
    element kernels."""
    n_cells = problem.mesh.n_cells
    values = np.ones(n_cells) if values is None else values
    split = local.split(problem.split(problem.parameters({parameter: cell_field(values)})))
    nd = local.space.mesh.cells.shape[1] * local.space.n_components
    out = np.empty((local.space.mesh.n_cells, nd, nd))
    for ids, matrices in tangents_at_rest(problem.physics, local.space, split, _CHUNK_ENTRIES):
        out[ids] = matrices
    return out


def _fresh_gamg_interpolation(problem) -> None:
    """GAMG keeps its interpolation from the last set-up when the matrix changes; a design
    loop changes the stiffness by orders of magnitude between iterations, and CG then
    breaks down (PETSc 3.18: KSP_DIVERGED_INDEFINITE_PC after three OC steps on a 12x4x4
    cantilever). Ask for a fresh hierarchy at every solve, unless the command line says
    otherwise."""
    options = problem.PETSc.Options()
    name = f"{problem.options_prefix}pc_gamg_reuse_interpolation"
    if not options.hasName(name):
        options.setValue(name, "false")


class DistributedCompliance:
    """Compliance and volume of a density design whose variables are the ranks' own cells.

    Args:
        problem: a :class:`~femopt.distributed.DistributedProblem` of a linear problem
            whose stiffness is linear in ``parameter`` (homogeneous Dirichlet conditions,
            loads independent of the design).
        radius: density filter radius in mesh units (the serial ``DensityFilter``'s).
        fraction: the volume fraction bound of the constraint.
        interpolation: ``SIMP(...)`` (default penalty 3, E0 = 1, Emin = 1e-9) or ``RAMP(...)``.
        parameter: the per-cell parameter the interpolated property sets (``"E"``, ``"k"``).
        solid, void: passive cells held at density 1 / 0 (:mod:`.passive`: a predicate on
            centroids, a cell tag, or a mask / ids over ``problem.problem.mesh``'s cells).

    Attributes:
        layout: the :class:`~femopt.distributed.cells.CellLayout` (own cells, reductions).
        filter: the :class:`~femopt.distributed.filter.DistributedFilter`.
        passive: the :class:`~femopt.distributed.passive.PassiveCells`; ``active``
            ``(n_own,)`` its mask of the own cells that are design variables.
        timings: seconds per phase, accumulated: ``solve`` (assembly and KSP),
            ``gradient``, ``filter``; reset with ``timings.clear()``.
        last: ``{"rho", "E", "compliance"}`` of the last evaluation (own parts).

    Raises:
        InputError: a fraction outside (0, 1], an unknown parameter, prescribed non-zero
            values, a stiffness not linear in the parameter or loads depending on it, a bad
            solid / void selection, a cell both solid and void, no active cell.
    """

    def __init__(self, problem, *, radius: float, fraction: float, interpolation=None, parameter: str = "E",
                 solid=None, void=None):
        serial = problem.problem
        if not 0.0 < fraction <= 1.0:
            raise InputError(f"volume fraction must be in (0, 1], got {fraction!r}")
        if parameter not in serial.params:
            raise InputError(f"{parameter!r} is not a parameter of this problem (parameters: {sorted(serial.params)})")
        if problem._global_count(np.count_nonzero(serial.prescribed_values())):   # on a piece: any rank's
            raise InputError("compliance topology optimization needs homogeneous Dirichlet conditions "
                             "(prescribed values 0); fix(...) without values")
        self.problem, self.serial, self.parameter = problem, serial, parameter
        self.fraction = float(fraction)
        self.interpolation = interpolation or SIMP()
        self.layout = CellLayout(problem)
        self.passive = PassiveCells(serial.mesh, self.layout, solid, void)
        self.active = self.passive.active
        self.filter = DistributedFilter(serial.mesh, radius, self.layout)
        self.timings: dict[str, float] = {}
        self.last: dict = {}
        local = problem.local
        self._cell_dofs = local.space.dof_map            # local dofs of the own cells (n_own, nd)
        self._unit = unit_cell_matrices(serial, local, parameter)
        self._force = self._loads()
        owned = local.local_dofs[:problem.n_owned_dofs]
        self._point_force = serial.external_point_forces(serial.parameters())[owned]
        total = self.layout.sum(float(self.filter.volumes.sum()))
        self.volume_weights = self.filter.volumes / (total * self.fraction)   # g = Σ w ρ − 1
        active, passive = self.active, self.passive
        # g(x) = (Wᵀ(a ⊙ w))·x + Σ_solid w − 1: the passive entries of x are constants
        volume_map = self.filter.transpose(np.where(active, self.volume_weights, 0.0))
        self._active_map = volume_map[active]
        self._volume_offset = 0.0
        if passive.any:
            self._volume_offset = self.layout.sum(float(volume_map[passive.solid].sum())
                                                  + float(self.volume_weights[passive.solid].sum()))
        self.volume_gradient = np.where(active, volume_map, 0.0)             # dg/dx, constant
        self._active_volume = self.layout.sum(float(self.filter.volumes[active].sum()))
        _fresh_gamg_interpolation(problem)
        self._interp = jax.jit(lambda rho: jax.jvp(self.interpolation, (rho,), (jnp.ones_like(rho),)))

    def _loads(self) -> np.ndarray:
        """The rank's cell and facet loads ``f`` (local dofs) at u = 0, after checking
        that the local tangent is Σ s_e K_e and the loads do not change with s."""
        local, n_cells = self.problem.local, self.serial.mesh.n_cells
        zero = np.zeros(local.local_dofs.size)

        def assemble(values):
            params = self.serial.parameters({self.parameter: cell_field(values)})
            return local.residual_and_tangent(zero, local.split(self.serial.split(params)))

        residual, _ = assemble(np.ones(n_cells))
        s = np.random.default_rng(1).uniform(0.5, 2.0, n_cells)
        residual_s, K_s = assemble(s)
        u = np.random.default_rng(2).standard_normal(zero.size)
        energy = float(u @ (K_s @ u))
        cells = self._cell_energies(u)
        expected = float(s[self.layout.own_cells] @ cells)
        nonlinear = abs(energy - expected) > 1e-9 * max(abs(energy), np.abs(cells).sum(), 1e-300)
        moving = np.abs(residual_s - residual).max() > 1e-10 * max(np.abs(residual).max(), 1e-300)
        nonlinear, moving = (self.layout.max(float(flag)) > 0 for flag in (nonlinear, moving))   # every rank alike
        if nonlinear:
            raise InputError(f"the stiffness is not linear in {self.parameter!r} (energy mismatch "
                             f"{abs(energy - expected):.2e} on rank {self.layout.rank}): topology optimization by "
                             "cell scaling cannot represent this problem")
        if moving:
            raise InputError(f"the loads depend on {self.parameter!r}: compliance topology optimization needs "
                             "loads independent of the design")
        return -residual

    def _tick(self, phase, t0):
        self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - t0

    def _cell_energies(self, u_local) -> np.ndarray:
        """``u_eᵀ K_e u_e`` of the own cells ``(n_own,)`` at unit property."""
        out = np.empty(self._unit.shape[0])
        size = 8192
        for start in range(0, out.size, size):
            ids = slice(start, start + size)
            ue = u_local[self._cell_dofs[ids]]
            out[ids] = np.einsum("ei,eij,ej->e", ue, self._unit[ids], ue)
        return out

    # -- evaluations -------------------------------------------------------------------------
    def initial(self) -> np.ndarray:
        """The start ``(n_own,)``: the volume fraction on the active cells (as top88 and
        the serial ``DensityDesign.initial``), 1 on solid and 0 on void cells."""
        return self.passive.raw(self.fraction)

    def density(self, x) -> np.ndarray:
        """ρ = W x of the own cells, the passive ones forced to 1 / 0. Collective."""
        t0 = time.perf_counter()
        rho = self.passive.force(self.filter(x))
        self._tick("filter", t0)
        return rho

    def volume(self, x) -> float:
        """g(x) = Σ v ρ / (f V) − 1 at the own part ``x (n_own,)``, the same on every
        rank. Collective."""
        return self.active_volume(np.asarray(x)[self.active])

    def active_volume(self, y) -> float:
        """g at the design whose active own entries are ``y`` (the passive ones at their
        fixed values): what the optimality-criteria bisection evaluates. Collective."""
        return self.layout.dot(self._active_map, y) + self._volume_offset - 1.0

    def grey_level(self, rho) -> float:
        """4 Σ v ρ(1 − ρ) / Σ v over the active cells (as ``DensityDesign.grey_level``),
        from the own densities. Collective."""
        v, rho = self.filter.volumes[self.active], rho[self.active]
        return 4.0 * self.layout.sum(float(v @ (rho * (1.0 - rho)))) / self._active_volume

    def __call__(self, x):
        """``(C, dC/dx (n_own,), g, dg/dx (n_own,))`` at the own part ``x`` of the design.
        Collective: every rank calls it with its part."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.layout.n_own,):
            raise InputError(f"the rank's design part has shape {x.shape}, expected ({self.layout.n_own},)")
        rho = self.density(x)
        E, dE = (np.asarray(a) for a in self._interp(jnp.asarray(rho)))
        t0 = time.perf_counter()
        field = self.layout.problem_field(E, fill=float(self.interpolation.E0))
        self.problem.solve({self.parameter: cell_field(field)}, gather="none")
        self._tick("solve", t0)
        t0 = time.perf_counter()
        u = self.problem.local_field()
        owned = u[:self.problem.n_owned_dofs]
        compliance = self.layout.sum(float(self._force @ u) + float(self._point_force @ owned))
        property_bar = np.where(self.active, -self._cell_energies(u) * dE, 0.0)
        self._tick("gradient", t0)
        t0 = time.perf_counter()
        gradient = np.where(self.active, self.filter.transpose(property_bar), 0.0)
        self._tick("filter", t0)
        g = self.layout.dot(self.volume_weights, rho) - 1.0
        self.last = {"rho": rho, "E": E, "compliance": compliance}
        return compliance, gradient, g, self.volume_gradient
