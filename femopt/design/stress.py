"""Stress constraints of a density design: relaxed von Mises stress at the cell centroids
and its adaptively normalized p-norm (Le, Norato, Bruns, Ha & Tortorelli 2010).

For a linear problem whose stiffness scales with one per-cell parameter (a
:class:`~femopt.design.CellScaledModel`), the solid-material stress at cell e's centroid
is linear in the cell's nodal displacements, σ_e = S_e u_e, so the squared von Mises
stress is a quadratic form σ_vm,e² = u_eᵀ Q_e u_e with one small matrix Q_e per cell,
built once from the physics' own ``stress_3d`` (JAX) at unit parameter. One design
evaluation is then one factorization, one mat-vec per cell and one adjoint solve.

The measure (Le et al. 2010, eqs. 10, 16 and 20):

    σ_e   = ρ_e^q σ_vm,e                 qp-relaxed stress (Bruggi 2008), q ≈ 0.5
    P_N   = (Σ_{e ∈ S} σ_e^P)^(1/P)      p-norm over the stress cells S (≥ max σ_e)
    c_k   = α σ_max,k−1 / P_N,k−1 + (1 − α) c_k−1      adaptive normalization
    g(x)  = c_k P_N(x) / σ_lim − 1 ≤ 0

c_k is frozen within an iteration (its derivative is not taken, as in the paper), so
c_k P_N tracks the true maximum stress as the design settles while P_N stays smooth.
The gradient is exact for fixed c_k: adjoint Kλ = ∂P_N/∂u, then
dP_N/dE_e = −λ_eᵀ K_e u_e and the explicit ∂P_N/∂ρ_e, chained to x by ``design.vjp``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..assembly.kernels import CellTables, geometry
from ..assembly.parameters import cell_field
from ..errors import InputError
from .fingerprint import describe, fingerprint_of, merge, problem_fingerprint

__all__ = ["CentroidVonMises", "StressConstraint"]


class CentroidVonMises:
    """von Mises stress of the solid material at the cell centroids of a
    :class:`~femopt.design.CellScaledModel`'s problem, for a displacement solved with any
    stiffness field.

    Attributes:
        Q: ``(n_cells, n·c, n·c)`` with σ_vm,e² = u_eᵀ Q_e u_e (u_e: cell e's nodal
            displacements, node-major), at the model parameter equal to ``solid``.
    """

    def __init__(self, model, *, solid: float = 1.0):
        problem = model.problem
        physics = problem.physics
        if not hasattr(physics, "stress_3d"):
            raise InputError(f"centroid von Mises stress needs a physics with stress_3d, got {type(physics).__name__}")
        self.model = model
        mesh, space = problem.mesh, problem.space
        c = space.n_components
        element = space.element
        centre = element.nodes.mean(axis=0, keepdims=True)
        tables = CellTables(N=element.shape_functions(centre), dN=element.shape_gradients(centre), w=np.ones(1))
        params = problem.parameters({model.parameter: cell_field(np.full(mesh.n_cells, float(solid)))})
        pg, pc, pn = problem.split(params)
        n = mesh.cells.shape[1]
        deviator = np.eye(9) - np.outer(np.eye(3).ravel(), np.eye(3).ravel()) / 3.0
        M = jnp.asarray(1.5 * deviator.T @ deviator)        # σ_vm² = 1.5 s:s = σᵀ M σ

        def one(X, pcc, pnc):
            G, _ = geometry(tables, X)
            # parameters at the centroid: globals, the cell's values, nodal values interpolated
            p = dict(pg, **pcc, **{k: jnp.tensordot(tables.N[0], v, axes=(0, 0)) for k, v in pnc.items()})

            def stress(U):
                g = jnp.einsum("ai,ak->ki", G[0], U)
                return jnp.reshape(physics.stress_3d(g if c > 1 else g[0], p), (9,))

            S = jnp.reshape(jax.jacfwd(stress)(jnp.zeros((n, c))), (9, n * c))
            return S.T @ M @ S

        nodes = mesh.cells
        self.Q = np.asarray(jax.jit(jax.vmap(one))(mesh.points[nodes], pc, {k: v[nodes] for k, v in pn.items()}))
        self._dofs = (nodes[:, :, None] * c + np.arange(c)[None, None, :]).reshape(len(nodes), n * c)
        self._free_of_dof = np.full(space.n_dofs, -1, dtype=np.int64)
        self._free_of_dof[model.partition.free] = np.arange(model.partition.free.size)

    def cell_displacements(self, u_free) -> np.ndarray:
        """``(n_cells, n·c)`` cell dof values from free dof values (prescribed dofs 0)."""
        full = np.zeros(self._free_of_dof.size)
        full[self.model.partition.free] = u_free
        return full[self._dofs]

    def __call__(self, u_free) -> np.ndarray:
        """σ_vm at the centroids ``(n_cells,)``."""
        ue = self.cell_displacements(u_free)
        return np.sqrt(np.maximum(np.einsum("ea,eab,eb->e", ue, self.Q, ue), 1e-300))

    def pull_back(self, u_free, vm, vm_bar) -> np.ndarray:
        """∂(Σ vm_bar_e σ_vm,e)/∂u on the free dofs ``(n_free,)``."""
        ue = self.cell_displacements(u_free)
        local = np.einsum("eab,eb->ea", self.Q, ue) * (vm_bar / vm)[:, None]
        full = np.bincount(self._dofs.ravel(), weights=local.ravel(), minlength=self._free_of_dof.size)
        return full[self.model.partition.free]


def stress_cells(model, design, limit, cells) -> np.ndarray:
    """The checks the stress measures share; the boolean mask ``(n_cells,)`` of the stress
    cells (``cells``: ids or a boolean mask; None for all)."""
    if not limit > 0:
        raise InputError(f"stress limit must be > 0, got {limit!r}")
    if model.n_cells != design.mesh.n_cells:
        raise InputError(f"model has {model.n_cells} cells, design {design.mesh.n_cells}")
    mask = np.ones(model.n_cells, dtype=bool) if cells is None else np.zeros(model.n_cells, dtype=bool)
    if cells is not None:
        mask[np.asarray(cells)] = True
    if not mask.any():
        raise InputError("no stress cells: give at least one cell in cells=")
    return mask


class StressConstraint:
    """g(x) = c_k P_N(ρ^q σ_vm) / σ_lim − 1 ≤ 0, with Le et al.'s adaptive normalization c_k.

    Args:
        model: a :class:`~femopt.design.CellScaledModel` of the problem (parameter = the
            interpolated property, e.g. ``"E"``).
        design: the :class:`~femopt.design.DensityDesign`; its interpolation's ``E0`` is
            the solid value the stress is computed at.
        limit: the stress limit σ_lim.
        p: the p-norm exponent P (8–12 is usual).
        q: the relaxation exponent of ρ^q (0.5; q must be below the SIMP penalty).
        cells: the stress cells S (ids or boolean mask; default all), e.g. without the
            cells under a point load, whose stress is the load's and not the design's.
        damping: α ∈ (0, 1] of the normalization update; ``None`` keeps c = 1 (the
            plain p-norm, an upper bound of the maximum).

    Attributes:
        last: ``{"stress", "p_norm", "max", "normalization", "u"}`` of the last new design.
    """

    def __init__(self, model, design, limit: float, *, p: float = 8.0, q: float = 0.5, cells=None,
                 damping: float | None = 0.5):
        mask = stress_cells(model, design, limit, cells)
        if not p >= 1 or not 0 < q:
            raise InputError(f"StressConstraint needs p >= 1 and q > 0, got p={p!r}, q={q!r}")
        if damping is not None and not 0 < damping <= 1:
            raise InputError(f"damping α must be in (0, 1] or None, got {damping!r}")
        self.model, self.design = model, design
        self.limit, self.p, self.q, self.damping = float(limit), float(p), float(q), damping
        self.mask = mask
        self.von_mises = CentroidVonMises(model, solid=getattr(design.interpolation, "E0", 1.0))
        self.normalization = 1.0
        self.last: dict = {}
        self._x = None
        self._ratio = None

    def relaxed_stress(self, x):
        """``(σ (n_cells,), ρ, E, u_free, factorization, σ_vm)`` at the design x."""
        rho, E = self.design(x)
        u, factorization = self.model.solve(E)
        vm = self.von_mises(u)
        return rho ** self.q * vm, rho, E, u, factorization, vm

    def p_norm(self, x):
        """``(P_N, dP_N/dx)`` of the relaxed stress, without normalization."""
        sigma, rho, E, u, factorization, vm = self.relaxed_stress(x)
        s = sigma[self.mask]
        P = float(np.sum(s ** self.p) ** (1.0 / self.p))
        # ∂P/∂σ_e = (σ_e / P)^(P−1) on the stress cells
        sigma_bar = np.zeros_like(sigma)
        sigma_bar[self.mask] = (s / P) ** (self.p - 1.0)
        vm_bar = sigma_bar * rho ** self.q
        density_bar = sigma_bar * self.q * rho ** (self.q - 1.0) * vm
        density_bar[rho <= 0] = 0.0
        property_bar = self.model.adjoint_gradient(factorization, u, self.von_mises.pull_back(u, vm, vm_bar))
        self.last = {"stress": sigma, "p_norm": P, "max": float(s.max()), "u": u}
        return P, self.design.vjp(x, density_bar=density_bar, property_bar=property_bar)

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        P, grad = self.p_norm(x)
        new = self._x is None or not np.array_equal(x, self._x)
        if new and self.damping is not None:
            if self._ratio is not None:
                self.normalization = self.damping * self._ratio + (1.0 - self.damping) * self.normalization
            self._ratio = self.last["max"] / P
            self._x = x.copy()
        self.last["normalization"] = self.normalization
        return self.normalization * P / self.limit - 1.0, self.normalization * grad / self.limit

    def state_dict(self) -> dict:
        """The adaptive normalization (c_k, the last max / P_N and the design it belongs
        to) and the model's warm start: minimize's checkpoint keeps them, so a resumed run
        normalizes exactly as the uninterrupted one."""
        return {"normalization": np.array(self.normalization),
                "ratio": np.zeros(0) if self._ratio is None else np.array([self._ratio]),
                "x": np.zeros(0) if self._x is None else self._x.copy(), **self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output."""
        self.normalization = float(state["normalization"])
        ratio, x = np.asarray(state["ratio"], dtype=np.float64), np.asarray(state["x"], dtype=np.float64)
        self._ratio = float(ratio[0]) if ratio.size else None
        self._x = x.copy() if x.size else None
        self.model.load_state_dict(state)

    def fingerprint(self) -> dict[str, str]:
        """The problem, the design and the measure's settings (for minimize's checkpoint)."""
        own = {"stress constraint": (f"limit {describe(self.limit)}, p {describe(self.p)}, q {describe(self.q)}, "
                                     f"damping {describe(self.damping)}, stress cells {describe(self.mask)}")}
        return merge([("stress", own), ("stress", problem_fingerprint(self.model.problem)),
                      ("stress", fingerprint_of(self.design))])
