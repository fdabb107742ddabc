"""What was measured, and how noisy: observations of a solved problem as whitened
residuals.

Each observation type maps a state ``(u, p, X)`` to predicted values ``y``; with the data
``d`` and the noise covariance Γ = L Lᵀ (independent noise: Γ = diag(σ²)) its whitened
residual is ``ρ = L⁻¹ (y − d)`` and its negative log-likelihood ½ |ρ|². Predictions are
JAX expressions, so the adjoint, tangent and second-order machinery differentiates them.

* :class:`PointData` — the field (displacement component, temperature) at points.
* :class:`ReactionData` — the reaction force on a supported boundary: the sum over its
  prescribed dofs of the residual, i.e. the force the support applies to the body (for
  a bar pulled by a prescribed displacement, positive in the direction of the pull).

An :class:`Experiment` is one solve of the problem — with its own parameter overrides
(a load level, a prescribed displacement) and Newton options — and the observations
made on it.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from ..errors import InputError
from ..functionals.probe import PointProbe

__all__ = ["PointData", "ReactionData", "Experiment", "NoiseModel"]


class NoiseModel:
    """Gaussian noise of ``k`` observations: ``sigma`` (a number or ``(k,)``: independent)
    or ``covariance`` ``(k, k)`` (symmetric positive definite)."""

    def __init__(self, k: int, sigma=None, covariance=None):
        if (sigma is None) == (covariance is None):
            raise InputError("give the noise as sigma= (standard deviations) or covariance= (a k x k matrix), "
                             "one of the two")
        self.k = k
        if sigma is not None:
            try:
                sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (k,)).copy()
            except ValueError:
                raise InputError(f"sigma must be a number or {k} values, got shape {np.shape(sigma)}") from None
            if not (np.isfinite(sigma).all() and np.all(sigma > 0)):
                raise InputError("sigma (the noise standard deviations) must be finite and > 0")
            self.sigma, self.cholesky = sigma, None
        else:
            covariance = np.asarray(covariance, dtype=np.float64)
            if covariance.shape != (k, k):
                raise InputError(f"covariance must have shape ({k}, {k}), got {covariance.shape}")
            if not np.allclose(covariance, covariance.T, rtol=1e-12, atol=0.0):
                raise InputError("covariance must be symmetric")
            try:
                self.cholesky = np.linalg.cholesky(covariance)
            except np.linalg.LinAlgError:
                raise InputError("covariance is not positive definite") from None
            self.sigma = np.sqrt(np.diag(covariance))

    def whiten(self, residual):
        """``L⁻¹ residual`` in JAX (``(k,)``)."""
        if self.cholesky is None:
            return residual / self.sigma
        return jsl.solve_triangular(self.cholesky, residual, lower=True)

    def sample(self, rng) -> np.ndarray:
        """One draw of the noise ``(k,)``."""
        xi = rng.standard_normal(self.k)
        return self.sigma * xi if self.cholesky is None else self.cholesky @ xi


class _Data(ABC):
    """The shared part: data vector, noise model, whitened residual."""

    noise: NoiseModel
    values: np.ndarray

    @abstractmethod
    def predict(self, problem, u, params, X):
        """The predicted values in JAX."""

    def residual(self, problem, u, params, X):
        """The whitened residual ``ρ`` ``(k,)`` in JAX."""
        return self.noise.whiten(jnp.ravel(self.predict(problem, u, params, X)) - self.values)

    @property
    def size(self) -> int:
        return self.values.size


class PointData(_Data):
    """The field at points: ``values (m,)`` of one component (or of a scalar field) at
    ``points (m, dim)``; noise ``sigma`` (number or ``(m,)``) or ``covariance (m, m)``.
    The points keep their place in their cell if the mesh moves."""

    def __init__(self, problem, points, values, *, sigma=None, covariance=None, component=None):
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        c = problem.space.n_components
        if component is None and c > 1:
            raise InputError(f"the field has {c} components: give component= (0 ... {c - 1})")
        if component is not None and (isinstance(component, bool) or not isinstance(component, (int, np.integer))
                                      or not 0 <= component < c):
            raise InputError(f"component must be an integer in 0 ... {c - 1}, got {component!r}")
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(points),):
            raise InputError(f"values must have shape ({len(points)},) (one per point), got {values.shape}")
        if not np.isfinite(values).all():
            raise InputError("values hold NaN or Inf")
        self.probe, self.component = PointProbe(problem.mesh, points), component or 0
        self.values = values
        self.noise = NoiseModel(len(points), sigma, covariance)

    def predict(self, problem, u, params, X):
        return self.probe.values(problem, u)[:, self.component]

    def __repr__(self):
        return f"PointData({self.size} points, component {self.component})"


class ReactionData(_Data):
    """The reaction force on a supported boundary: the sum over the prescribed dofs of
    ``selection``'s nodes (a tag, a predicate on x or node ids; all of them must be
    prescribed in ``component``) of the residual, one number ``value`` with noise
    ``sigma``."""

    def __init__(self, problem, selection, value, *, sigma, component=0):
        c = problem.space.n_components
        if isinstance(component, bool) or not isinstance(component, (int, np.integer)) or not 0 <= component < c:
            raise InputError(f"component must be an integer in 0 ... {c - 1}, got {component!r}")
        nodes = np.asarray(problem.mesh.nodes(selection), dtype=np.int64)
        if nodes.size == 0:
            raise InputError(f"the selection {selection!r} holds no node")
        dofs = nodes * c + component
        free = np.isin(dofs, problem.partition.prescribed, invert=True)
        if free.any():
            raise InputError(f"a reaction is read on prescribed dofs: {int(free.sum())} of the {dofs.size} selected "
                             f"dofs (e.g. node {int(nodes[free][0])}, component {component}) are free; fix them first")
        value = np.asarray(value, dtype=np.float64)
        if value.shape != () or not np.isfinite(value):
            raise InputError(f"value must be one finite number (the measured reaction), got {value!r}")
        self.dofs, self.component = dofs, component
        self.values = value.reshape(1)
        self.noise = NoiseModel(1, sigma, None)

    def predict(self, problem, u, params, X):
        return jnp.sum(problem.traced_residual(u, params, X)[self.dofs]).reshape(1)

    def __repr__(self):
        return f"ReactionData({self.dofs.size} dofs, component {self.component})"


@dataclass
class Experiment:
    """One solve of the problem and what was observed on it.

    Attributes:
        data: the observations (:class:`PointData`, :class:`ReactionData`).
        params: parameter overrides of this solve (load level, prescribed scale ...),
            not unknowns.
        solve_options: keywords of ``Problem.solve`` (``load_steps``).
        name: a label for reports.
    """

    data: Sequence[Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    solve_options: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self):
        if isinstance(self.data, _Data):
            self.data = [self.data]
        self.data = list(self.data)
        if not self.data or not all(isinstance(d, _Data) for d in self.data):
            raise InputError("an Experiment needs a list of observations (PointData, ReactionData)")

    @property
    def size(self) -> int:
        return sum(d.size for d in self.data)
