"""The maximum a posteriori point and the Laplace approximation around it, for a few
unknowns (global constants: a dense Hessian).

:func:`find_map` minimizes the negative log posterior F(m) of a :class:`Calibration` by
L-BFGS-B (gradients only) or by an inexact Newton-CG trust-region method that uses
Hessian-vector products (Gauss–Newton by default: positive semidefinite, so every CG
step is a descent direction), preconditioned by the prior's covariance. :func:`laplace` forms the Hessian column by column at the
MAP point and returns the Gaussian ``N(m_MAP, H⁻¹)`` in the unknowns' coordinates, with
standard deviations, correlations and credible intervals in physical units (for log
coordinates the interval ``exp(m ± z σ)`` — a log-normal's — is exact for that
Gaussian, not a linearization).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm

from ..errors import InputError
from .newton import trust_region_newton_cg

__all__ = ["MapResult", "LaplaceResult", "find_map", "laplace", "METHODS"]

_log = logging.getLogger("femopt.calibration")

METHODS = ("L-BFGS-B", "newton-cg")


@dataclass
class MapResult:
    """The maximum a posteriori point.

    Attributes:
        m: the unknowns in their coordinates ``(n,)``; ``parameters`` their physical values.
        cost: F(m) (negative log posterior up to a constant); ``misfit`` its data part.
        gradient_norm: |∇F(m)|.
        iterations: optimizer iterations; ``counts``: PDE work of this search
            (:class:`~.calibration.SolveCounts`).
        success, message: the optimizer's verdict.
    """

    m: np.ndarray
    parameters: dict
    cost: float
    misfit: float
    gradient_norm: float
    iterations: int
    counts: object
    seconds: float
    success: bool
    message: str
    method: str

    def __repr__(self):
        c = self.counts
        return (f"MapResult({self.method}: F = {self.cost:.6g}, misfit = {self.misfit:.6g}, |grad| = "
                f"{self.gradient_norm:.2e}, {self.iterations} iterations, {c.state_solves} state solves, "
                f"{c.linear_solves} linear solves, {c.hessian_products} Hessian products, {self.seconds:.1f} s; "
                f"{self.message})")


def _counts_since(calibration, start):
    now = calibration.counts
    return replace(now, state_solves=now.state_solves - start.state_solves,
                   newton_iterations=now.newton_iterations - start.newton_iterations,
                   linear_solves=now.linear_solves - start.linear_solves,
                   hessian_products=now.hessian_products - start.hessian_products)


def find_map(calibration, *, method: str = "L-BFGS-B", m0=None, bounds=None, max_iterations: int = 200,
             gtol: float = 1e-8, hessian: str = "gauss-newton") -> MapResult:
    """The maximum a posteriori point of ``calibration``.

    Args:
        method: ``"L-BFGS-B"`` or ``"newton-cg"`` (inexact Newton-CG in a trust region,
            with femopt's Hessian-vector products, preconditioned by the prior:
            :mod:`.newton`).
        m0: start (coordinates; default ``calibration.initial()``).
        bounds: ``(lower, upper)`` on the coordinates (L-BFGS-B only), numbers or ``(n,)``.
        max_iterations: optimizer iterations.
        gtol: stop when the gradient's norm (Newton-CG) or largest entry (L-BFGS-B) is below.
        hessian: ``"gauss-newton"`` or ``"full"`` (Newton-CG).
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    m0 = calibration.initial() if m0 is None else np.asarray(m0, dtype=np.float64)
    if m0.shape != (calibration.n,):
        raise InputError(f"m0 must have shape ({calibration.n},), got {m0.shape}")
    start_counts = replace(calibration.counts)
    start = time.perf_counter()
    fun = calibration.cost_and_gradient
    if method == "L-BFGS-B":
        lb = None if bounds is None else np.broadcast_to(np.asarray(bounds[0], dtype=np.float64), m0.shape)
        ub = None if bounds is None else np.broadcast_to(np.asarray(bounds[1], dtype=np.float64), m0.shape)
        scipy_bounds = None if bounds is None else list(zip(lb, ub))
        result = minimize(fun, m0, jac=True, method="L-BFGS-B", bounds=scipy_bounds,
                          options={"maxiter": max_iterations, "gtol": gtol, "ftol": 1e-15})
    else:
        if bounds is not None:
            raise InputError("bounds go with method='L-BFGS-B'; Newton-CG works on unconstrained coordinates "
                             "(use transform='log' for positive unknowns)")
        P_apply, P_inverse = calibration.preconditioner()
        result = trust_region_newton_cg(fun, m0, lambda m, v: calibration.hessian_apply(m, v, kind=hessian),
                                        P_apply=P_apply, P_inverse=P_inverse, gtol=gtol,
                                        max_iterations=max_iterations)
    m = np.asarray(result.x, dtype=np.float64)
    cost, gradient = calibration.cost_and_gradient(m)
    out = MapResult(m=m, parameters=calibration.parameters(m), cost=cost, misfit=calibration.misfit(m),
                    gradient_norm=float(np.linalg.norm(gradient)), iterations=int(result.nit),
                    counts=_counts_since(calibration, start_counts), seconds=time.perf_counter() - start,
                    success=bool(result.success), message=str(result.message), method=method)
    _log.info("%r", out)
    return out


@dataclass
class LaplaceResult:
    """The Gaussian ``N(mean, covariance)`` in the unknowns' coordinates at a MAP point.

    Attributes:
        mean: ``(n,)``; covariance ``(n, n)``; hessian ``(n, n)`` (its inverse).
        names: one label per unknown (``"mu"``, or ``"k[3]"`` for a field's entries).
        transforms: each unknown's coordinates (``"log"`` / ``"identity"``).
    """

    mean: np.ndarray
    covariance: np.ndarray
    hessian: np.ndarray
    names: list
    transforms: list
    kind: str = "gauss-newton"
    counts: object = field(default=None, repr=False)

    @property
    def std(self) -> np.ndarray:
        """Standard deviations in the coordinates (for log ones: of ln p)."""
        return np.sqrt(np.diag(self.covariance))

    @property
    def correlation(self) -> np.ndarray:
        s = self.std
        return self.covariance / np.outer(s, s)

    def median(self) -> np.ndarray:
        """The physical values at the mean (the median of a log-normal)."""
        return np.array([np.exp(m) if t == "log" else m for m, t in zip(self.mean, self.transforms)])

    def interval(self, level: float = 0.95) -> np.ndarray:
        """Equal-tailed credible intervals in physical units ``(n, 2)``."""
        if not 0 < level < 1:
            raise InputError(f"level must be in (0, 1), got {level!r}")
        z = norm.ppf(0.5 + level / 2.0)
        low, high = self.mean - z * self.std, self.mean + z * self.std
        log = np.array([t == "log" for t in self.transforms])
        return np.stack([np.where(log, np.exp(low), low), np.where(log, np.exp(high), high)], axis=1)

    def sample(self, n_samples: int, seed=0) -> np.ndarray:
        """Draws in the coordinates ``(n_samples, n)``."""
        rng = np.random.default_rng(seed)
        return rng.multivariate_normal(self.mean, self.covariance, size=int(n_samples), method="cholesky")

    def summary(self, level: float = 0.95) -> str:
        lines = [f"{'unknown':<12}{'median':>12}{'std (coord.)':>14}{f'{level:.0%} interval':>28}"]
        for name, med, s, (a, b) in zip(self.names, self.median(), self.std, self.interval(level)):
            lines.append(f"{name:<12}{med:>12.6g}{s:>14.4g}   [{a:.6g}, {b:.6g}]")
        return "\n".join(lines)


def laplace(calibration, m, *, hessian: str = "gauss-newton", max_unknowns: int = 200) -> LaplaceResult:
    """The Laplace approximation at ``m`` (a MAP point) with the dense Hessian of F:
    ``n`` Hessian-vector products (each two linear solves per experiment)."""
    m = np.asarray(m, dtype=np.float64)
    n = calibration.n
    if n > max_unknowns:
        raise InputError(f"{n} unknowns: a dense Hessian needs {n} Hessian products; for a field use the low-rank "
                         "Laplace approximation (low_rank_laplace)")
    start = replace(calibration.counts)
    H = np.stack([calibration.hessian_apply(m, e, kind=hessian) for e in np.eye(n)], axis=1)
    H = 0.5 * (H + H.T)
    try:
        np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        raise InputError(f"the {hessian} Hessian at m is not positive definite (smallest eigenvalue "
                         f"{float(np.linalg.eigvalsh(H)[0]):.3e}): is m a minimum? (find_map first)") from None
    names, transforms = [], []
    for block, _ in calibration.parts(m):
        for name in block.names:
            size = block.size // len(block.names)
            names += [name] if size == 1 else [f"{name}[{i}]" for i in range(size)]
            transforms += [block.transform] * size
    return LaplaceResult(mean=m.copy(), covariance=np.linalg.inv(H), hessian=H, names=names, transforms=transforms,
                         kind=hessian, counts=_counts_since(calibration, start))
