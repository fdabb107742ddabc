"""Local stress constraints, one per cell, handled by an augmented Lagrangian: the
aggregation-free approach of Senhora, Giraldo-Londoño, Menezes & Paulino (2020) and
PolyStress (Giraldo-Londoño & Paulino 2021).

The problem is  min f(x)  s.t.  g_e(x) ≤ 0  for every stress cell e ∈ S, with the
"polynomial vanishing" constraint of PolyStress

    s_e = σ_vm,e / σ_lim − 1,        g_e = m_E(ρ_e) (s_e³ + s_e),

σ_vm,e the von Mises stress of the solid material at cell e's centroid
(:class:`~femopt.design.CentroidVonMises`) and m_E(ρ) = E(ρ)/E0 the stiffness
interpolation: the constraint vanishes with the material (the relaxation that lets
cells leave the design, Cheng & Guo's singularity), and m_E σ_vm is the stress the SIMP
material carries, so g_e ≤ 0 means m_E σ_vm ≤ σ_lim wherever there is material. The
cubic penalizes large violations more than small ones.

The augmented Lagrangian of step k, with multipliers λ_e ≥ 0 and penalty μ_k,

    J_k(x) = f(x) + (1/N) Σ_{e∈S} [λ_e h_e + (μ_k/2) h_e²],   h_e = max(g_e, −λ_e/μ_k),

(N = |S|) is a bound-constrained function of the design whatever the number of
constraints, so every cell's stress is differentiated in ONE adjoint solve: J_k depends
on u only through Σ_e w_e g_e with w_e = max(λ_e + μ_k g_e, 0)/N = ∂J_k/∂g_e. A few
optimizer steps on J_k, then (:meth:`LocalStressAugmentedLagrangian.update`)

    λ_e ← λ_e + μ_k h_e = max(λ_e + μ_k g_e, 0),     μ_{k+1} = min(α μ_k, μ_max),

with PolyStress's μ_0 = 10, α = 1.1, μ_max = 10⁴. :class:`AugmentedLagrangianSchedule`
is that outer loop as a schedule of :func:`femopt.optimize.minimize` (λ, μ updated every
few optimizer steps, the projection's continuation, a stopping rule on the stresses); its
multipliers go into minimize's checkpoint, so a killed run resumes exactly. See
``examples/lbracket_stress.py``.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .fingerprint import describe, fingerprint_of, merge, name_of, problem_fingerprint
from .stress import CentroidVonMises, stress_cells

__all__ = ["AugmentedLagrangianSchedule", "LocalStressAugmentedLagrangian"]


class LocalStressAugmentedLagrangian:
    """``x -> (J_k, dJ_k/dx)``: an objective plus the augmented-Lagrangian penalty of the
    local stress constraints g_e = m_E(ρ_e)(s_e³ + s_e) ≤ 0, s_e = σ_vm,e/σ_lim − 1.

    Args:
        model: a :class:`~femopt.design.CellScaledModel` (parameter = the interpolated
            stiffness, e.g. ``"E"``).
        design: the :class:`~femopt.design.DensityDesign`; its interpolation's ``E0`` is
            the solid value the stress is computed at and m_E = E/E0.
        limit: the stress limit σ_lim.
        cells: the constrained cells S (ids or boolean mask; default all), e.g. without
            the cells under a point load.
        objective: ``x -> (f, df/dx)``; default the volume fraction Σ v_e ρ_e / Σ v_e.
        penalty: μ_0.
        penalty_growth: α, the factor on μ at each :meth:`update`.
        max_penalty: μ_max.

    Attributes:
        multipliers: λ ``(|S|,)``, zero at the start.
        penalty: the current μ_k.
        last: ``{"objective", "value", "von_mises", "stress_ratio", "g", "u"}`` of the last
            evaluation; ``stress_ratio`` = m_E σ_vm / σ_lim ``(n_cells,)`` (the constraint
            reads stress_ratio ≤ 1 on S).
    """

    def __init__(self, model, design, limit: float, *, cells=None, objective=None, penalty: float = 10.0,
                 penalty_growth: float = 1.1, max_penalty: float = 1e4):
        mask = stress_cells(model, design, limit, cells)
        if not (penalty > 0 and penalty_growth >= 1 and max_penalty >= penalty):
            raise InputError(f"augmented Lagrangian needs penalty > 0, penalty_growth >= 1 and max_penalty >= "
                             f"penalty; got {penalty!r}, {penalty_growth!r}, {max_penalty!r}")
        self.model, self.design, self.limit = model, design, float(limit)
        self.mask = mask
        self.solid = float(getattr(design.interpolation, "E0", 1.0))
        self.von_mises = CentroidVonMises(model, solid=self.solid)
        self.objective = objective if objective is not None else self._volume_fraction
        self.multipliers = np.zeros(int(mask.sum()))
        self.penalty = float(penalty)
        self.penalty_growth, self.max_penalty = float(penalty_growth), float(max_penalty)
        self.last: dict = {}

    def _volume_fraction(self, x):
        v = self.design.volumes
        rho = self.design.density(x)
        return float(v @ rho / v.sum()), self.design.vjp(x, density_bar=v / v.sum())

    def constraints(self, x):
        """``(g (|S|,), stress_ratio (n_cells,), m_E, σ_vm, u_free, factorization)``."""
        _, E = self.design(np.asarray(x, dtype=np.float64))
        u, factorization = self.model.solve(E)
        vm = self.von_mises(u)
        stiffness = E / self.solid
        s = vm[self.mask] / self.limit - 1.0
        g = stiffness[self.mask] * (s ** 3 + s)
        return g, stiffness * vm / self.limit, stiffness, vm, u, factorization

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        f, df = self.objective(x)
        g, ratio, stiffness, vm, u, factorization = self.constraints(x)
        lam, mu, N = self.multipliers, self.penalty, g.size
        h = np.maximum(g, -lam / mu)
        value = float(f + np.sum(lam * h + 0.5 * mu * h ** 2) / N)
        # ∂J/∂g_e: zero where h = −λ/μ (the term is then −λ²/2μ, independent of x)
        weight = np.maximum(lam + mu * g, 0.0) / N
        s = vm[self.mask] / self.limit - 1.0
        property_bar = np.zeros(self.model.n_cells)
        property_bar[self.mask] = weight * (s ** 3 + s) / self.solid
        vm_bar = np.zeros(self.model.n_cells)
        vm_bar[self.mask] = weight * stiffness[self.mask] * (3.0 * s ** 2 + 1.0) / self.limit
        property_bar += self.model.adjoint_gradient(factorization, u, self.von_mises.pull_back(u, vm, vm_bar))
        self.last = {"objective": float(f), "value": value, "von_mises": vm, "stress_ratio": ratio, "g": g, "u": u}
        return value, np.asarray(df, dtype=np.float64) + self.design.vjp(x, property_bar=property_bar)

    def fingerprint(self) -> dict[str, str]:
        """The problem, the design, the base objective and the penalty settings (the
        multipliers are state, kept by :class:`AugmentedLagrangianSchedule`)."""
        base = "volume fraction" if self.objective == self._volume_fraction else name_of(self.objective)
        own = {"stress augmented Lagrangian": (
            f"limit {describe(self.limit)}, stress cells {describe(self.mask)}, objective {base}, "
            f"penalty growth {describe(self.penalty_growth)}, max penalty {describe(self.max_penalty)}")}
        return merge([("stress AL", own), ("stress AL", problem_fingerprint(self.model.problem)),
                      ("stress AL", fingerprint_of(self.design)),
                      ("stress AL objective", fingerprint_of(self.objective))])

    def state_dict(self) -> dict:
        """The model's warm start (the multipliers are the schedule's state)."""
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output."""
        self.model.load_state_dict(state)

    def update(self, g=None) -> None:
        """λ ← max(λ + μ g, 0) and μ ← min(α μ, μ_max), with g the constraints of the last
        evaluation (or the ones given, ``(|S|,)``)."""
        if g is None:
            if "g" not in self.last:
                raise InputError("update() before any evaluation: call the function once or pass g=")
            g = self.last["g"]
        g = np.asarray(g, dtype=np.float64)
        if g.shape != self.multipliers.shape:
            raise InputError(f"g has shape {g.shape}, expected {self.multipliers.shape} (one per stress cell)")
        self.multipliers = np.maximum(self.multipliers + self.penalty * g, 0.0)
        self.penalty = min(self.penalty_growth * self.penalty, self.max_penalty)


class AugmentedLagrangianSchedule:
    """The augmented Lagrangian's outer loop as a schedule of
    :func:`femopt.optimize.minimize` (``minimize(al, x0, schedule=...)``).

    Before iteration k > 0 with k % ``every`` = 0 it updates λ and μ from the
    constraints of iteration k − 1 (:meth:`LocalStressAugmentedLagrangian.update`), and
    it sets the design's projection sharpness for iteration k. The run counts as at its
    last step (minimize may then stop on its change rule) once the design's
    continuation is final and the largest m_E σ_vm / σ_lim over the stress cells is at
    most 1 + ``tol_stress``.

    The multipliers, the penalty and the last constraint values are the schedule's
    state: minimize writes them into its checkpoint and restores them on resume.

    Args:
        al: the :class:`LocalStressAugmentedLagrangian` being minimized.
        every: optimizer iterations per multiplier update (PolyStress: 5).
        design: a :class:`~femopt.design.DensityDesign` whose projection continuation
            to follow, or None.
        tol_stress: the stopping rule's tolerance on the stress ratio.
    """

    def __init__(self, al: LocalStressAugmentedLagrangian, *, every: int = 5, design=None, tol_stress: float = 0.005):
        if int(every) < 1:
            raise InputError(f"every must be >= 1, got {every!r}")
        self.al, self.every, self.design, self.tol_stress = al, int(every), design, float(tol_stress)
        self.updates = 0

    def set_iteration(self, iteration: int) -> None:
        """Update λ, μ when ``iteration`` starts a new outer step; set β."""
        if iteration > 0 and iteration % self.every == 0 and iteration // self.every > self.updates:
            self.al.update()
            self.updates = iteration // self.every
        if self.design is not None:
            self.design.set_iteration(iteration)

    def max_stress_ratio(self) -> float:
        """max m_E σ_vm / σ_lim over the stress cells at the last evaluation (inf before any)."""
        ratio = self.al.last.get("stress_ratio")
        return float(ratio[self.al.mask].max()) if ratio is not None else float("inf")

    def is_final(self, iteration: int) -> bool:
        """Continuation final and the stresses within the limit (+ ``tol_stress``)."""
        projection_final = self.design is None or self.design.is_final(iteration)
        return projection_final and self.max_stress_ratio() <= 1.0 + self.tol_stress

    def fingerprint(self) -> dict[str, str]:
        """The outer loop's settings and the followed design."""
        own = {"augmented Lagrangian schedule": f"every {self.every}, tol_stress {describe(self.tol_stress)}"}
        return merge([("schedule", own), ("schedule", fingerprint_of(self.design))])

    def state_dict(self) -> dict:
        """λ, μ, the number of updates done and the last g and stress ratios."""
        last = self.al.last
        n_cells = self.al.mask.size
        return {"multipliers": self.al.multipliers.copy(), "penalty": np.array(self.al.penalty),
                "updates": np.array(self.updates), "g": np.asarray(last.get("g", np.zeros(0))),
                "stress_ratio": np.asarray(last.get("stress_ratio", np.zeros(0))),
                "n_cells": np.array(n_cells)}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output (checks that it fits this problem)."""
        multipliers = np.asarray(state["multipliers"], dtype=np.float64)
        if multipliers.shape != self.al.multipliers.shape or int(state["n_cells"]) != self.al.mask.size:
            raise InputError(f"schedule state is for {multipliers.size} stress cells of {int(state['n_cells'])}, "
                             f"this problem has {self.al.multipliers.size} of {self.al.mask.size}")
        self.al.multipliers = multipliers.copy()
        self.al.penalty = float(state["penalty"])
        self.updates = int(state["updates"])
        evaluated = np.asarray(state["g"]).size > 0
        self.al.last = {"g": np.array(state["g"], dtype=np.float64),
                        "stress_ratio": np.array(state["stress_ratio"], dtype=np.float64)} if evaluated else {}
