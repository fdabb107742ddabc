"""The negative log posterior of a calibration, its gradient and Hessian-vector products.

With unknowns ``m`` (blocks of :mod:`.unknowns`, physical values ``p = T(m)``),
experiments e (one solve each, state ``u_e(p)``) and whitened residuals ``ρ_e(u_e, p)``
(:mod:`.observations`):

    F(m) = Σ_e ½ |ρ_e(u_e(p), p)|²  +  Σ_blocks prior(m_block).

* gradient: one adjoint solve per experiment (``femopt.sensitivity``), chained through
  ``dp/dm``;
* Gauss–Newton product ``Jᵀ J v`` (J = dρ/dm): per experiment a tangent solve
  ``K δu = −∂R/∂p δp``, ``δρ = ∂ρ/∂u δu + ∂ρ/∂p δp``, then the adjoint of ``δρᵀ ρ``:
  two linear solves with the experiment's kept factorization; symmetric positive
  semidefinite, what Newton-CG and the Laplace approximation use by default;
* full product: femopt's second-order adjoint per experiment plus the transform's
  curvature ``g_p T''(m) v``.

Each experiment's state is solved once per ``m`` (warm-started from the last one) and
kept, so the gradient and any number of Hessian products at one point share it.
``counts`` says how many nonlinear solves, Newton iterations and linear solves ran.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..functionals.base import Functional
from ..functionals.compiled import rewrap_fields, unwrap_fields
from ..sensitivity.adjoint import gradient_at_state, tangents_at_state
from ..sensitivity.element_products import residual_products
from ..sensitivity.hessian import hessian_vector_product_at_state
from .observations import Experiment
from .transient_experiment import TransientExperiment
from .unknowns import Constants, Field

__all__ = ["Calibration", "SolveCounts"]

_log = logging.getLogger("femopt.calibration")


@dataclass
class SolveCounts:
    """PDE work done so far: nonlinear (state) solves, their Newton iterations, linear
    solves with a kept factorization (adjoint, tangent, second-order), Hessian products."""
    state_solves: int = 0
    newton_iterations: int = 0
    linear_solves: int = 0
    hessian_products: int = 0

    def total_pde_solves(self) -> int:
        return self.state_solves + self.linear_solves


class _ExperimentMisfit(Functional):
    """½ |ρ_e|² of one experiment as a femopt Functional."""

    def __init__(self, experiment):
        self.experiment = experiment

    def residual(self, problem, u, params, X):
        return jnp.concatenate([d.residual(problem, u, params, X) for d in self.experiment.data])

    def evaluate(self, problem, u, params, X):
        r = self.residual(problem, u, params, X)
        return 0.5 * jnp.sum(r * r)


class Calibration:
    """Experiments on one problem, unknowns with priors: the negative log posterior.

    Args:
        problem: the :class:`~femopt.Problem` (its supports and loads; the unknowns and
            each experiment's ``params`` override its parameters).
        experiments: :class:`Experiment` s (steady solves) and
            :class:`~.transient_experiment.TransientExperiment` s (sensor time series of
            transient runs of this problem), or one.
        unknowns: :class:`Constants` / :class:`Field` blocks (or one).
    """

    def __init__(self, problem, experiments, unknowns):
        self.problem = problem
        kinds = (Experiment, TransientExperiment)
        self.experiments = [experiments] if isinstance(experiments, kinds) else list(experiments)
        self.blocks = [unknowns] if isinstance(unknowns, (Constants, Field)) else list(unknowns)
        if not self.experiments or not all(isinstance(e, kinds) for e in self.experiments):
            raise InputError("experiments must be Experiment objects (one solve and its observations each) or "
                             "TransientExperiment objects (a transient run and its sensor time series)")
        for e in self.experiments:
            if isinstance(e, TransientExperiment) and e.transient.problem is not problem:
                raise InputError(f"transient experiment {e.name!r} runs another problem than the calibration's")
        if not self.blocks or not all(isinstance(b, (Constants, Field)) for b in self.blocks):
            raise InputError("unknowns must be Constants / Field blocks")
        names = [n for b in self.blocks for n in b.names]
        if len(set(names)) != len(names):
            raise InputError(f"a parameter appears in two unknown blocks: {names}")
        for block in self.blocks:
            block.check(problem)
        for e in self.experiments:
            clash = set(e.params) & set(names)
            if clash:
                raise InputError(f"experiment {e.name!r} overrides unknowns {sorted(clash)}")
        self.names = names
        self.offsets = np.cumsum([0] + [b.size for b in self.blocks])
        self.steady = [e for e in self.experiments if isinstance(e, Experiment)]
        self.transient = [e for e in self.experiments if isinstance(e, TransientExperiment)]
        self.functionals = [_ExperimentMisfit(e) for e in self.steady]
        self.counts = SolveCounts()
        self._point = None            # (m bytes, states)
        self._warm = [None] * len(self.steady)
        self._gn_kernels = {}
        self._gradient = None         # (m bytes, misfit, ∂misfit/∂p)

    # -- the vector of unknowns ---------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of unknowns."""
        return int(self.offsets[-1])

    @property
    def n_observations(self) -> int:
        return sum(e.size for e in self.experiments)

    def initial(self) -> np.ndarray:
        """The starting point (the blocks' ``initial``), in coordinates."""
        return np.concatenate([b.initial for b in self.blocks])

    def parts(self, m):
        """``(block, m_block)`` pairs."""
        m = np.asarray(m, dtype=np.float64)
        if m.shape != (self.n,):
            raise InputError(f"m must have shape ({self.n},) (the unknowns in their coordinates), got {m.shape}")
        return [(b, m[self.offsets[i]:self.offsets[i + 1]]) for i, b in enumerate(self.blocks)]

    def parameters(self, m) -> dict:
        """The unknowns' physical values by name (fields marked)."""
        out = {}
        for block, mb in self.parts(m):
            out.update(block.values(mb))
        return out

    def _transform_derivative(self, m) -> np.ndarray:
        return np.concatenate([b.derivative(mb) for b, mb in self.parts(m)])

    def _physical_vector(self, grads: dict) -> np.ndarray:
        return np.concatenate([b.gradient_of(grads) for b in self.blocks])

    def _direction(self, dp) -> dict:
        out = {}
        for block, piece in self.parts(dp):
            out.update(block.direction(piece))
        return out

    # -- states -----------------------------------------------------------------------------------
    def states(self, m):
        """Every steady experiment's converged state at m (solved once per m, warm-started)."""
        m = np.asarray(m, dtype=np.float64)
        key = m.tobytes()
        if self._point is not None and self._point[0] == key:
            return self._point[1]
        unknowns = self.parameters(m)
        states = []
        for i, e in enumerate(self.steady):
            options = dict(e.solve_options)
            if self._warm[i] is not None and "initial" not in options:
                options["initial"] = self.problem.space.as_field(self._warm[i])
            self.problem.solve({**e.params, **unknowns}, **options)
            state = self.problem.state
            if state is None or not state.converged:
                raise InputError(f"experiment {e.name or i!r} did not converge at these parameters")
            self.counts.state_solves += 1
            self.counts.newton_iterations += sum(getattr(r, "n_iterations", 0) for r in state.newton)
            self._warm[i] = state.u.copy()
            states.append(state)
        self._point = (key, states)
        return states

    # -- value and gradient -----------------------------------------------------------------------
    def residuals(self, m) -> list:
        """Whitened residuals ρ_e ``(k_e,)`` per experiment at m (steady ones first)."""
        X = jnp.asarray(self.problem.mesh.points)
        steady = [np.asarray(f.residual(self.problem, jnp.asarray(s.u), s.params, X))
                  for f, s in zip(self.functionals, self.states(m))]
        unknowns = self.parameters(m)
        return steady + [e.residuals(unknowns) for e in self.transient]

    def misfit(self, m) -> float:
        """Σ_e ½ |ρ_e|²."""
        return float(sum(0.5 * np.sum(r * r) for r in self.residuals(m)))

    def prior_cost(self, m) -> float:
        return float(sum(b.prior_cost(mb) for b, mb in self.parts(m)))

    def cost(self, m) -> float:
        """The negative log posterior (up to a constant)."""
        return self.misfit(m) + self.prior_cost(m)

    def misfit_gradient_physical(self, m):
        """``(misfit, ∂misfit/∂p)`` with the gradient as a vector over the blocks (kept for
        the last m: a full Hessian product at the point reuses it)."""
        key = np.asarray(m, dtype=np.float64).tobytes()
        if self._gradient is not None and self._gradient[0] == key:
            return self._gradient[1], self._gradient[2].copy()
        states = self.states(m)
        value, total = 0.0, np.zeros(self.n)
        for f, state in zip(self.functionals, states):
            g = gradient_at_state(f, self.problem, state, self.names)
            self.counts.linear_solves += 1
            value += g.value
            total += self._physical_vector(g.grads)
        unknowns = self.parameters(m)
        for e in self.transient:
            misfit, grads = e.gradient(unknowns, self.names)
            self.counts.state_solves += 1          # a forward run (and one adjoint run)
            self.counts.linear_solves += 1
            value += misfit
            total += self._physical_vector(grads)
        self._gradient = (key, value, total.copy())
        return value, total

    def cost_and_gradient(self, m):
        """``(F(m), ∇F(m))``: one adjoint solve per experiment."""
        misfit, g_p = self.misfit_gradient_physical(m)
        gradient = g_p * self._transform_derivative(m)
        prior = 0.0
        for i, (block, mb) in enumerate(self.parts(m)):
            prior += block.prior_cost(mb)
            gradient[self.offsets[i]:self.offsets[i + 1]] += block.prior_gradient(mb)
        return misfit + prior, gradient

    def preconditioner(self):
        """``(P, P⁻¹)`` on the whole vector: each block's prior Hessian and covariance
        (identity for a penalty) — Newton-CG's norm and preconditioner."""
        pieces = [(b.preconditioner(), self.offsets[i], self.offsets[i + 1]) for i, b in enumerate(self.blocks)]

        def apply(which):
            def run(v):
                out = np.empty(self.n)
                for pair, lo, hi in pieces:
                    out[lo:hi] = pair[which](np.asarray(v[lo:hi], dtype=np.float64))
                return out
            return run

        return apply(0), apply(1)

    # -- Hessian products ---------------------------------------------------------------------------
    def hessian_apply(self, m, v, *, kind: str = "gauss-newton", prior: bool = True) -> np.ndarray:
        """``H v`` of F at m: the misfit's Gauss–Newton (``kind="gauss-newton"``) or full
        (``"full"``) Hessian, plus the prior's when ``prior``."""
        if kind not in ("gauss-newton", "full"):
            raise InputError(f"kind must be 'gauss-newton' or 'full', got {kind!r}")
        if kind == "full" and self.transient:
            raise InputError("the full Hessian of a transient experiment is not available: use kind='gauss-newton'")
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (self.n,):
            raise InputError(f"v must have shape ({self.n},), got {v.shape}")
        d = self._transform_derivative(m)
        direction = self._direction(d * v)
        states = self.states(m)
        hp = np.zeros(self.n)
        for i, (f, state) in enumerate(zip(self.functionals, states)):
            if kind == "gauss-newton":
                hp += self._gauss_newton(i, state, direction)
            else:
                hp += self._physical_vector(hessian_vector_product_at_state(f, self.problem, state, direction,
                                                                            self.names))
                self.counts.linear_solves += 3
        unknowns = self.parameters(m) if self.transient else None
        for e in self.transient:
            hp += self._physical_vector(e.gauss_newton(unknowns, direction, self.names))
            self.counts.state_solves += 2          # a tangent run and an adjoint run
        out = d * hp
        if kind == "full":
            _, g_p = self.misfit_gradient_physical(m)
            second = np.concatenate([b.second_derivative(mb) for b, mb in self.parts(m)])
            out += g_p * second * v
        if prior:
            for i, (block, mb) in enumerate(self.parts(m)):
                out[self.offsets[i]:self.offsets[i + 1]] += block.prior_hessian_apply(
                    mb, v[self.offsets[i]:self.offsets[i + 1]])
        self.counts.hessian_products += 1
        return out

    def _gauss_newton(self, i, state, direction) -> np.ndarray:
        problem, part = self.problem, self.problem.partition
        du = tangents_at_state(problem, state, [direction])[:, 0]
        arrays, kinds = unwrap_fields(state.params)
        dp = {name: jnp.zeros_like(value) for name, value in arrays.items()}
        for name, value in direction.items():
            dp[name] = jnp.asarray(np.broadcast_to(value, np.shape(arrays[name])), dtype=jnp.float64)
        g_u, g_p = self._gn_kernel(i, kinds)(jnp.asarray(state.u), arrays, jnp.asarray(problem.mesh.points),
                                              jnp.asarray(du), dp)
        lam = np.zeros(problem.space.n_dofs)
        lam[part.free] = state.factorization.solve_transpose(np.asarray(g_u)[part.free])
        self.counts.linear_solves += 2
        ct = residual_products(problem).vjp(state.u, state.params, lam, only=self.names)
        grads = {name: np.asarray(g_p[name]) - ct.params[name] for name in self.names}
        return self._physical_vector(grads)

    def _gn_kernel(self, i, kinds):
        key = (i, kinds)
        fn = self._gn_kernels.get(key)
        if fn is None:
            functional, problem = self.functionals[i], self.problem

            def pieces(u, p, X, du, dp):
                def rho(u_, p_):
                    return functional.residual(problem, u_, rewrap_fields(p_, kinds), X)

                _, drho = jax.jvp(rho, (u, p), (du, dp))
                _, pullback = jax.vjp(rho, u, p)
                return pullback(drho)

            fn = self._gn_kernels[key] = jax.jit(pieces)
        return fn

    def __repr__(self):
        return (f"Calibration({len(self.experiments)} experiment(s), {self.n_observations} observations, "
                f"{self.n} unknowns: {self.blocks})")
