"""The discrete adjoint of the theta method, one time level at a time.

Step k of a transient run (free rows; full vectors ``U_k`` carry level k's prescribed
values ``g_k``; ``r`` the steady residual, ``M(c)`` the capacity matrix):

    R_k = M(c) (U_k − U_{k-1}) / Δt_k + θ r(U_k, p_k) + (1 − θ) r(U_{k-1}, p_{k-1}) = 0.

With multipliers λ_1 … λ_n (free dofs, zero on prescribed ones; λ_0 = λ_{n+1} = 0) and

    μ_k = θ λ_k + (1 − θ) λ_{k+1},      ν_k = λ_k / Δt_k − λ_{k+1} / Δt_{k+1}

(the weights with which level k's residual and capacity term enter Σ_k λ_kᵀ R_k), the
adjoint equations, run k = n, n-1, …, 1, are

    (M / Δt_k + θ K_k)ᵀ λ_k = ∂J/∂u_k + M λ_{k+1} / Δt_{k+1} − (1 − θ) K_kᵀ λ_{k+1}

(free block; ``K_k`` the tangent at ``U_k``), and every gradient is a sum over levels of
products at that level alone:

    dJ/dp    = Σ_k ∂J/∂p_k − μ_kᵀ ∂r/∂p (U_k, p_k)          (per level for a load that varies)
    dJ/dc    = − Σ_k ν_kᵀ ∂(M(c) U_k)/∂c
    dJ/dX    = Σ_k ∂J/∂X_k − μ_kᵀ ∂r/∂X − ν_kᵀ ∂(M U_k)/∂X
    dJ/dg_k  = [∂J/∂U_k − ∂r/∂Uᵀ μ_k − M ν_k] on the prescribed dofs
    dJ/du_0  = [∂J/∂U_0 − ∂r/∂Uᵀ μ_0 − M ν_0] on the free dofs (the same expression on
               the free dofs of a later level is the adjoint equation: zero).

So adjoint step k needs the state of level k only. Each product is an element-level
JAX VJP (:mod:`.element_products`); a load that enters the residual affinely (a source,
a flux, an ambient temperature, a point load) of a linear system has a derivative that
depends on neither state nor level, so its Σ_k μ_k is taken through one VJP at the end.
"""
from __future__ import annotations

import weakref

import numpy as np

from ..assembly.parameters import split_parameters
from ..errors import InputError
from ..problem.transient_data import tangent_parameters
from .element_products import ResidualProducts, residual_products
from .state import COORDINATES, PRESCRIBED, unwrap

__all__ = ["INITIAL", "CAPACITY", "LevelAdjoint", "capacity_products", "transient_names"]

INITIAL = "initial"
CAPACITY = "capacity"


class _CapacityTerm:
    """What :class:`ResidualProducts` needs of a problem, for the capacity term ``M(c) U``
    (no point loads). Holds no reference to the transient problem."""

    def __init__(self, assembler, mesh):
        self.assembler, self.mesh, self.space = assembler, mesh, assembler.space
        self.params = {CAPACITY: None}

    def split(self, params):
        mesh = self.mesh
        return split_parameters({CAPACITY: params[CAPACITY]}, {CAPACITY: ()}, mesh.n_cells, mesh.n_nodes)[:3]

    def external_point_forces(self, params):
        return np.zeros(self.space.n_dofs)


_CAPACITY: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def capacity_products(transient) -> ResidualProducts:
    """Element products of the capacity term ``M(c) U`` of a transient problem (cached)."""
    assembler = transient.capacity_assembler
    held = _CAPACITY.get(transient)
    if held is None or held[1].assembler is not assembler:
        term = _CapacityTerm(assembler, transient.problem.mesh)
        held = (term, ResidualProducts(term))
        _CAPACITY[transient] = held
    return held[1]


def transient_names(transient, wrt) -> list[str]:
    """Validated names to differentiate with respect to (default: all): the steady
    problem's parameters, ``"capacity"``, ``"initial"``, ``"prescribed"`` and
    ``"coordinates"``."""
    known = list(transient.problem.params) + [CAPACITY, INITIAL, PRESCRIBED, COORDINATES]
    names = known if wrt is None else [wrt] if isinstance(wrt, str) else list(wrt)
    for name in names:
        if not isinstance(name, str) or name not in known:
            raise InputError(f"can not differentiate with respect to {name!r}: a transient gradient is taken with "
                             f"respect to {known}")
    if len(set(names)) != len(names):
        raise InputError(f"wrt names a quantity twice: {names}")
    return names


class LevelAdjoint:
    """The backward sweep's state and accumulated gradients for one run.

    ``step(k, u_k)`` for k = n … 1 (adjoint step k, the free state of level k), then
    ``initial_level(u_0)``, then ``gradients()``.
    """

    def __init__(self, setup, evaluator, names):
        self.setup, self.evaluator, self.names = setup, evaluator, list(names)
        self.transient = setup.problem
        self.problem = self.transient.problem
        self.part = self.problem.partition
        self.stepper = setup.stepper
        self.theta = self.stepper.theta
        self.data = setup.data
        self.products = residual_products(self.problem)
        n_free, n = self.part.free.size, setup.n_steps
        self.lam_next = np.zeros(n_free)            # λ_{k+1}
        self.n_solves = 0
        self.n_factorizations = 0
        params0 = self.data.parameters(0)
        self.varying = set(self.data.varying)
        parameters = [name for name in self.names if name in self.problem.params]
        # loads whose derivative is a fixed vector: Σ_k μ_k through one VJP at the end
        self.folded = [name for name in parameters if self.stepper.linear and name not in self.varying
                       and name not in tangent_parameters(self.problem)]
        self.per_level = [name for name in parameters if name not in self.folded]
        self.mu_sum = np.zeros(self.problem.space.n_dofs) if self.folded else None
        self.grads = {}
        for name in parameters:
            shape = np.shape(unwrap(params0[name]))
            self.grads[name] = np.zeros(((n + 1,) if name in self.varying else ()) + shape)
        if CAPACITY in self.names:
            self.grads[CAPACITY] = np.zeros(np.shape(unwrap(setup.capacity)))
        if COORDINATES in self.names:
            self.grads[COORDINATES] = np.zeros(self.problem.mesh.points.shape)
        if PRESCRIBED in self.names:
            self.grads[PRESCRIBED] = np.zeros((n + 1, self.part.prescribed.size))
        self.capacity = capacity_products(self.transient) \
            if (CAPACITY in self.names or COORDINATES in self.names) else None

    # -- adjoint step k ----------------------------------------------------------------------
    def _full(self, free_values) -> np.ndarray:
        out = np.zeros(self.problem.space.n_dofs)
        out[self.part.free] = free_values
        return out

    def step(self, k: int, u_free: np.ndarray) -> None:
        """Adjoint step k (n … 1) at the free state of level k: solve for λ_k, then add
        level k's share of every gradient."""
        setup, stepper, theta = self.setup, self.stepper, self.theta
        U = setup.full(k, u_free)
        params = self.data.parameters(k)
        dJ_du, dJ_dp, dJ_dX = self._partials(k, U, params)
        rhs = np.zeros(self.part.free.size) if dJ_du is None else np.array(dJ_du[self.part.free])
        lam_next = self.lam_next
        if k < setup.n_steps:
            rhs += stepper.mass @ lam_next / setup.step_size(k + 1)
        dt = setup.step_size(k)
        if stepper.linear:
            if theta < 1.0 and k < setup.n_steps:
                rhs -= (1.0 - theta) * (stepper.tangent.T @ lam_next)
            factorization = stepper.factorization(k)
        else:
            _, K = stepper.residual_and_jacobian(u_free, float(setup.times[k]))
            if theta < 1.0 and k < setup.n_steps:
                rhs -= (1.0 - theta) * (K.T @ lam_next)
            factorization = stepper.linear_solver.factorize((stepper.mass / dt + theta * K).tocsr())
            self.n_factorizations += 1
        lam = np.asarray(factorization.solve_transpose(rhs), dtype=np.float64).reshape(-1)
        self.n_solves += 1
        self._level(k, U, params, lam, (dJ_du, dJ_dp, dJ_dX))
        self.lam_next = lam

    def initial_level(self, u0_free: np.ndarray) -> None:
        """Level 0 (after adjoint step 1): its share of the gradients and dJ/du_0."""
        U = self.setup.full(0, u0_free)
        params = self.data.parameters(0)
        self._level(0, U, params, np.zeros_like(self.lam_next), self._partials(0, U, params))

    def _partials(self, k, U, params):
        return self.evaluator.partials(k, U, params, parameters=bool(self.per_level or self.folded),
                                       coordinates=COORDINATES in self.names)

    def _level(self, k, U, params, lam, partials) -> None:
        dJ_du, dJ_dp, dJ_dX = partials
        setup, theta, names = self.setup, self.theta, self.names
        n = setup.n_steps
        lam_next = self.lam_next if k < n else np.zeros_like(lam)
        mu = self._full(theta * lam + (1.0 - theta) * lam_next)
        nu = self._full((lam / setup.step_size(k) if k > 0 else 0.0)
                        - (lam_next / setup.step_size(k + 1) if k < n else 0.0))
        if self.mu_sum is not None:
            self.mu_sum += mu
        needs_state_products = (self.per_level or COORDINATES in names or PRESCRIBED in names
                                or (k == 0 and INITIAL in names))
        ct = None
        if needs_state_products:
            state_parts = COORDINATES in names or PRESCRIBED in names or (k == 0 and INITIAL in names)
            ct = self.products.vjp(U, params, mu, only=None if state_parts else self.per_level)
        for name in self.per_level:
            share = np.asarray(dJ_dp.get(name, 0.0)) - ct.params[name]
            if name in self.varying:
                self.grads[name][k] += share
            else:
                self.grads[name] += share
        for name in self.folded:
            if name in dJ_dp:
                self.grads[name] += dJ_dp[name]
        cm = None
        if self.capacity is not None:
            cm = self.capacity.vjp(U, {CAPACITY: setup.capacity}, nu)
            if CAPACITY in names:
                self.grads[CAPACITY] -= cm.params[CAPACITY]
        if COORDINATES in names:
            self.grads[COORDINATES] += (0.0 if dJ_dX is None else dJ_dX) - ct.coordinates - cm.coordinates
        if PRESCRIBED in names or (k == 0 and INITIAL in names):
            total = (np.zeros_like(U) if dJ_du is None else dJ_du) - ct.u - setup.mass @ nu
            if PRESCRIBED in names:
                self.grads[PRESCRIBED][k] = total[self.part.prescribed]
            if k == 0 and INITIAL in names:
                initial = np.zeros_like(U)
                initial[self.part.free] = total[self.part.free]
                self.grads[INITIAL] = self.problem.space.as_field(initial)

    def gradients(self) -> dict:
        """The gradients by name, after :meth:`initial_level` (the folded loads' VJP here)."""
        if self.folded:
            U = self.setup.full(0, self.setup.u0_free)
            ct = self.products.vjp(U, self.data.parameters(0), self.mu_sum)
            for name in self.folded:
                self.grads[name] = self.grads[name] - ct.params[name]
        return {name: self.grads[name] for name in self.names}
