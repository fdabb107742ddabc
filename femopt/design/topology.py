"""Density-based topology design: design vector x → physical density ρ → property E(ρ).

The map, written once in JAX and compiled once per design:

    x (n_active,) → full cell vector (passive cells at 1 or 0)
      → filter (density or Helmholtz; optional)      ρ̃
      → Heaviside projection (optional, β scheduled) ρ̄
      → passive cells forced to solid / void          ρ
      → interpolation (SIMP / RAMP)                   E(ρ)

Its reverse-mode derivative is ``jax.vjp`` of the same code. Large constants (the
filter matrix) and the changing β are passed as arguments to the compiled functions,
never closed over, so changing β does not recompile and nothing large is baked in.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..mesh.quality import cell_measures
from .fingerprint import density_design_fingerprint
from .projection import SIMP, Continuation, heaviside

__all__ = ["DensityDesign"]


def _cell_ids(mesh, selection):
    if selection is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(selection, str):
        if selection not in mesh.cell_tags:
            raise InputError(f"no cell tag {selection!r}; the mesh has {sorted(mesh.cell_tags)}")
        return np.asarray(mesh.cell_tags[selection], dtype=np.int64)
    if callable(selection):
        return np.asarray(mesh.cells_where(selection), dtype=np.int64)
    ids = np.asarray(selection)
    if ids.dtype == bool:
        if ids.shape != (mesh.n_cells,):
            raise InputError(f"a boolean cell mask needs {mesh.n_cells} entries, got {ids.shape}")
        return np.flatnonzero(ids)
    return ids.astype(np.int64).ravel()


class DensityDesign:
    """The density parametrization of a mesh's cells.

    Args:
        mesh: the design mesh.
        filter: a :class:`~femopt.design.DensityFilter`, a
            :class:`~femopt.design.HelmholtzFilter`, or None (no filter).
        interpolation: ``SIMP(...)`` (default: penalty 3, E0 = 1, Emin = 1e-9) or ``RAMP(...)``.
        projection: None, or the sharpness β of a Heaviside projection: a number or a
            :class:`~femopt.design.Continuation`.
        threshold: the projection threshold η.
        solid, void: passive cells (ids, boolean mask, predicate on centroids or a cell
            tag) held at density 1 / 0 and not design variables.

    The design vector holds the active cells only (``n_design`` entries, in cell order).
    A design is its own schedule for :func:`femopt.optimize.minimize`
    (``schedule=design``): β follows the continuation by iteration number.
    Its variables are densities: ``bounds = (0, 1)``, which ``minimize`` takes when an
    objective or constraint built on this design is given without ``bounds=``, and its
    :meth:`grey_level` is the progress line's grey column.
    """

    #: bounds of every design variable (a density), for :func:`femopt.optimize.minimize`
    bounds = (0.0, 1.0)

    def __init__(self, mesh, *, filter=None, interpolation=None, projection=None,
                 threshold: float = 0.5, solid=None, void=None):
        self.mesh = mesh
        self.filter = filter
        self.interpolation = interpolation or SIMP()
        if projection is not None and not isinstance(projection, Continuation):
            beta = float(projection)
            projection = Continuation(beta, 1.0, 1, beta)
        self.projection = projection
        self.threshold = float(threshold)
        if not 0.0 < self.threshold < 1.0:
            raise InputError(f"projection threshold must be in (0, 1), got {threshold!r}")
        solid_ids, void_ids = _cell_ids(mesh, solid), _cell_ids(mesh, void)
        if np.intersect1d(solid_ids, void_ids).size:
            raise InputError("some cells are marked both solid and void")
        n = mesh.n_cells
        self.passive = np.zeros(n, dtype=np.int8)  # 0 active, 1 solid, -1 void
        self.passive[solid_ids] = 1
        self.passive[void_ids] = -1
        self.active = np.flatnonzero(self.passive == 0)
        if self.active.size == 0:
            raise InputError("every cell is passive: nothing left to design")
        self.volumes = np.abs(np.asarray(cell_measures(mesh.points, mesh.cells, mesh.cell_type), dtype=np.float64))
        self.beta = self.projection.value(0) if self.projection else 1.0
        self.timings: dict[str, float] = {}
        self._arrays = {
            "filter": filter.arrays() if filter is not None else {},
            "active": jnp.asarray(self.active),
            "base": jnp.asarray((self.passive == 1).astype(np.float64)),
            "solid": jnp.asarray(self.passive == 1),
            "void": jnp.asarray(self.passive == -1),
        }
        self._forward = jax.jit(self._map)
        self._backward = jax.jit(self._map_vjp)

    @property
    def n_design(self) -> int:
        return int(self.active.size)

    # -- the map, in JAX ---------------------------------------------------------------------
    def _map(self, arrays, x, beta):
        rho = arrays["base"].at[arrays["active"]].set(x)
        if self.filter is not None:
            rho = self.filter.apply(arrays["filter"], rho)
        if self.projection is not None:
            rho = heaviside(rho, beta, self.threshold)
        rho = jnp.where(arrays["solid"], 1.0, jnp.where(arrays["void"], 0.0, rho))
        return rho, self.interpolation(rho)

    def _map_vjp(self, arrays, x, beta, rho_bar, property_bar):
        _, vjp = jax.vjp(lambda x: self._map(arrays, x, beta), x)
        return vjp((rho_bar, property_bar))[0]

    # -- public --------------------------------------------------------------------------------
    def initial(self, fraction: float) -> np.ndarray:
        """A uniform design ``(n_design,)`` at the volume fraction (as top88 starts)."""
        return np.full(self.n_design, float(fraction))

    def expand(self, x) -> np.ndarray:
        """Cell vector ``(n_cells,)`` of the raw design (passive cells at 1 / 0)."""
        full = (self.passive == 1).astype(np.float64)
        full[self.active] = x
        return full

    def _check(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.n_design,):
            raise InputError(f"design vector has shape {x.shape}, expected ({self.n_design},)")
        return jnp.asarray(x)

    def __call__(self, x):
        """``(ρ, E)``: physical densities and interpolated property, both ``(n_cells,)``."""
        t0 = time.perf_counter()
        rho, prop = self._forward(self._arrays, self._check(x), self.beta)
        rho, prop = np.asarray(rho), np.asarray(prop)
        self._tick(t0)
        return rho, prop

    def density(self, x) -> np.ndarray:
        """Physical densities ρ ``(n_cells,)``, computed with NumPy/SciPy: the same map
        as the JAX one without the dispatch cost, for the many cheap evaluations of an
        optimality-criteria bisection."""
        rho = self.expand(np.asarray(x, dtype=np.float64))
        if self.filter is not None:
            rho = self.filter(rho)
        if self.projection is not None:
            rho = heaviside(rho, self.beta, self.threshold, xp=np)
        rho[self.passive == 1] = 1.0
        rho[self.passive == -1] = 0.0
        return rho

    def vjp(self, x, density_bar=None, property_bar=None) -> np.ndarray:
        """Pull cotangents of ρ and E ``(n_cells,)`` back to the design ``(n_design,)``."""
        t0 = time.perf_counter()
        zero = np.zeros(self.mesh.n_cells)
        out = np.asarray(self._backward(self._arrays, self._check(x), self.beta,
                                        jnp.asarray(zero if density_bar is None else density_bar),
                                        jnp.asarray(zero if property_bar is None else property_bar)))
        self._tick(t0)
        return out

    def _tick(self, t0):
        self.timings["filter"] = self.timings.get("filter", 0.0) + time.perf_counter() - t0

    def volume_fraction(self, rho) -> float:
        """Σ v_e ρ_e / Σ v_e over all cells."""
        return float(self.volumes @ rho / self.volumes.sum())

    def grey_level(self, x) -> float:
        """Measure of non-discreteness 4 Σ v ρ(1−ρ) / Σ v over the active cells (0: black
        and white, 1: all grey at 0.5; Sigmund 2007)."""
        rho = self.density(x)[self.active]
        v = self.volumes[self.active]
        return float(4.0 * v @ (rho * (1.0 - rho)) / v.sum())

    # -- schedule protocol (see femopt.optimize.minimize) ------------------------------------
    def set_iteration(self, iteration: int) -> None:
        """Set β for ``iteration`` from the continuation."""
        if self.projection is not None:
            self.beta = self.projection.value(iteration)

    def is_final(self, iteration: int) -> bool:
        """Whether the continuation has reached its last step."""
        return self.projection is None or self.projection.is_final(iteration)

    def fingerprint(self) -> dict[str, str]:
        """Mesh, design cells, filter, interpolation and projection, for minimize's checkpoint."""
        return density_design_fingerprint(self)
