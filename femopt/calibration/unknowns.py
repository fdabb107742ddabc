"""The unknowns of a calibration: named parameters of the problem, their coordinates
(identity or log) and their prior.

The calibration works on one vector ``m``: the blocks below laid end to end, each in its
own coordinates. ``transform="log"`` writes a positive parameter p as ``m = ln p`` —
unconstrained, and scale-free (a Gaussian prior on ln p is a log-normal prior on p).

* :class:`Constants` — global parameters with a joint Gaussian prior on their
  coordinates: ``mean``, and ``std`` (independent) or ``covariance`` (coupled).
* :class:`Field` — a per-node or per-cell parameter field with a Gaussian field prior
  (an object with ``cost``, ``gradient``, ``precision_apply``: e.g.
  :class:`~femopt.calibration.field_prior.BiLaplacianPrior`) or a penalty
  ``m → (value, gradient)`` (``femopt.design.Tikhonov``, ``TotalVariation``), which
  gives a MAP point but no posterior.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..assembly.parameters import cell_field, nodal_field
from ..errors import InputError

__all__ = ["Constants", "Field", "TRANSFORMS"]

TRANSFORMS = ("identity", "log")


def _transform(name):
    if name not in TRANSFORMS:
        raise InputError(f"transform must be one of {TRANSFORMS}, got {name!r}")
    return name


class _Block:
    transform: str
    size: int
    #: α, the factor on the prior's cost (1: the prior as given; a Gaussian prior's
    #: covariance is divided by it): the hyperparameter a bilevel choice tunes.
    strength: float = 1.0

    def to_physical(self, m: np.ndarray) -> np.ndarray:
        return np.exp(m) if self.transform == "log" else np.array(m, dtype=np.float64)

    def to_coordinates(self, p) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        if self.transform == "log":
            if not np.all(p > 0):
                raise InputError(f"{self!r}: a log-transformed parameter must be > 0, got min {float(p.min())!r}")
            return np.log(p)
        return p.copy()

    def derivative(self, m: np.ndarray) -> np.ndarray:
        """dp/dm (elementwise)."""
        return np.exp(m) if self.transform == "log" else np.ones_like(m)

    def second_derivative(self, m: np.ndarray) -> np.ndarray:
        """d²p/dm² (elementwise)."""
        return np.exp(m) if self.transform == "log" else np.zeros_like(m)


class Constants(_Block):
    """Global parameters ``names`` with a joint Gaussian prior on their coordinates.

    Args:
        names: parameter names of the problem (each a number).
        mean: prior mean, in the coordinates (``ln p`` for ``transform="log"``).
        std: prior standard deviations (number or one per name), or
        covariance: ``(k, k)`` prior covariance (couples the parameters).
        transform: ``"log"`` (default; positive parameters) or ``"identity"``.
        initial: starting values of the parameters (physical units; default: the prior
            mean mapped back).
    """

    def __init__(self, names: Sequence[str], mean, *, std=None, covariance=None, transform: str = "log",
                 initial=None):
        self.names = [names] if isinstance(names, str) else list(names)
        k = len(self.names)
        if not k or len(set(self.names)) != k:
            raise InputError(f"names must be distinct parameter names, got {self.names}")
        self.transform, self.size = _transform(transform), k
        self.mean = np.broadcast_to(np.asarray(mean, dtype=np.float64), (k,)).copy()
        if (std is None) == (covariance is None):
            raise InputError("give the prior spread as std= or covariance=, one of the two")
        if std is not None:
            std = np.broadcast_to(np.asarray(std, dtype=np.float64), (k,))
            if not np.all(std > 0):
                raise InputError("std must be > 0")
            covariance = np.diag(std**2)
        covariance = np.asarray(covariance, dtype=np.float64)
        if covariance.shape != (k, k) or not np.allclose(covariance, covariance.T, rtol=1e-12, atol=0):
            raise InputError(f"covariance must be a symmetric ({k}, {k}) matrix, got shape {covariance.shape}")
        try:
            np.linalg.cholesky(covariance)
        except np.linalg.LinAlgError:
            raise InputError("the prior covariance is not positive definite") from None
        self.covariance = covariance
        self.precision = np.linalg.inv(covariance)
        self.initial = self.mean.copy() if initial is None else \
            self.to_coordinates(np.broadcast_to(np.asarray(initial, dtype=np.float64), (k,)))

    def check(self, problem) -> None:
        for name in self.names:
            if name not in problem.params:
                raise InputError(f"unknown parameter {name!r}; the problem has {sorted(problem.params)}")
            if np.shape(getattr(problem.params[name], "values", problem.params[name])) != ():
                raise InputError(f"Constants takes global numbers; {name!r} is a field or a vector: use Field")

    def values(self, m) -> dict:
        p = self.to_physical(m)
        return {name: float(p[i]) for i, name in enumerate(self.names)}

    def gradient_of(self, grads: dict) -> np.ndarray:
        """∂/∂p of the named gradients, as the block's vector."""
        return np.array([float(np.asarray(grads[name])) for name in self.names])

    def direction(self, v) -> dict:
        return {name: float(v[i]) for i, name in enumerate(self.names)}

    def prior_cost(self, m) -> float:
        r = m - self.mean
        return 0.5 * self.strength * float(r @ self.precision @ r)

    def prior_gradient(self, m) -> np.ndarray:
        return self.strength * (self.precision @ (m - self.mean))

    def prior_hessian_apply(self, m, v) -> np.ndarray:
        return self.strength * (self.precision @ v)

    def preconditioner(self):
        """(P, P⁻¹) of Newton-CG: the prior's Hessian and covariance (as applied functions)."""
        return (lambda v: self.strength * (self.precision @ v), lambda v: (self.covariance @ v) / self.strength)

    def __repr__(self):
        return f"Constants({self.names}, transform={self.transform!r})"


class Field(_Block):
    """A per-node (``kind="node"``) or per-cell field parameter ``name``.

    Args:
        name: the problem's parameter.
        prior: a Gaussian field prior (``cost``, ``gradient``, ``precision_apply``,
            on the coordinates) or a penalty ``m → (value, gradient)``.
        kind: ``"node"`` or ``"cell"``.
        transform: ``"log"`` (default) or ``"identity"``.
        initial: starting field (physical units; a number or one value per node/cell;
            default: the prior's mean mapped back, else 1 for log, 0 for identity).
    """

    def __init__(self, name: str, prior, *, kind: str = "node", transform: str = "log", initial=None):
        if kind not in ("node", "cell"):
            raise InputError(f"kind must be 'node' or 'cell', got {kind!r}")
        self.name, self.prior, self.kind = name, prior, kind
        self.names = [name]
        self.transform = _transform(transform)
        self.gaussian = all(callable(getattr(prior, a, None)) for a in ("cost", "gradient", "precision_apply"))
        if not self.gaussian and not callable(prior):
            raise InputError("prior must be a Gaussian field prior (cost, gradient, precision_apply) or a penalty "
                             "m -> (value, gradient) such as femopt.design.Tikhonov")
        self._initial = initial
        self.size = None

    def check(self, problem) -> None:
        if self.name not in problem.params:
            raise InputError(f"unknown parameter {self.name!r}; the problem has {sorted(problem.params)}")
        mesh = problem.mesh
        self.size = mesh.n_nodes if self.kind == "node" else mesh.n_cells
        mean = getattr(self.prior, "mean", None)
        if self._initial is not None:
            start = np.broadcast_to(np.asarray(self._initial, dtype=np.float64), (self.size,))
            self.initial = self.to_coordinates(start)
        elif mean is not None and np.size(mean) in (1, self.size):
            self.initial = np.broadcast_to(np.asarray(mean, dtype=np.float64), (self.size,)).copy()
        else:
            self.initial = np.zeros(self.size)

    def values(self, m) -> dict:
        p = self.to_physical(m)
        return {self.name: nodal_field(p) if self.kind == "node" else cell_field(p)}

    def gradient_of(self, grads: dict) -> np.ndarray:
        return np.asarray(grads[self.name], dtype=np.float64).reshape(self.size)

    def direction(self, v) -> dict:
        return {self.name: np.asarray(v, dtype=np.float64)}

    def prior_cost(self, m) -> float:
        return self.strength * (float(self.prior.cost(m)) if self.gaussian else float(self.prior(m)[0]))

    def prior_gradient(self, m) -> np.ndarray:
        return self.strength * np.asarray(self.prior.gradient(m) if self.gaussian else self.prior(m)[1],
                                          dtype=np.float64)

    def prior_hessian_apply(self, m, v) -> np.ndarray:
        """The prior's Hessian on v: exact for a Gaussian prior; for a penalty the
        derivative of its gradient along v (exact for a quadratic one such as Tikhonov,
        by a central difference otherwise)."""
        if self.gaussian:
            return self.strength * np.asarray(self.prior.precision_apply(v), dtype=np.float64)
        h = 1e-6 * max(1.0, float(np.linalg.norm(m))) / max(float(np.linalg.norm(v)), 1e-300)
        return self.strength * (self.prior(m + h * v)[1] - self.prior(m - h * v)[1]) / (2.0 * h)

    def preconditioner(self):
        """(P, P⁻¹) of Newton-CG: a Gaussian prior's Hessian and covariance; the identity
        for a penalty."""
        if not self.gaussian:
            return (lambda v: v, lambda v: v)
        prior = self.prior
        return (lambda v: self.strength * np.asarray(prior.precision_apply(v), dtype=np.float64),
                lambda v: np.asarray(prior.covariance_apply(v), dtype=np.float64) / self.strength)

    def __repr__(self):
        return f"Field({self.name!r}, kind={self.kind!r}, transform={self.transform!r})"
