"""The Laplace approximation of a field's posterior, low rank: its cost in PDE solves
depends on how many directions the data inform, not on the number of unknowns.

For one :class:`~.unknowns.Field` with a Gaussian prior ``N(m0, C)``, ``C = L Lᵀ``
(e.g. :class:`~.field_prior.BiLaplacianPrior`), at a MAP point the posterior is
approximately ``N(m_MAP, (H + C⁻¹)⁻¹)`` with H the data misfit's Gauss–Newton Hessian.
The prior-preconditioned Hessian ``Lᵀ H L`` is applied by Hessian-vector products (two
linear solves per experiment each: :meth:`Calibration.hessian_apply`) and its dominant
eigenpairs found by the randomized eigensolver of :mod:`.lowrank`; ``rank +
oversampling`` columns, ``(2 + power iterations)`` products each. A mesh twice as fine
has the same data and, for a prior that is a function-space one, the same informed
directions: the same rank and the same number of solves.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from .lowrank import EigenResult, LowRankPosterior, randomized_eigh
from .posterior import _counts_since
from .unknowns import Field

__all__ = ["FieldLaplaceResult", "low_rank_laplace"]


@dataclass
class FieldLaplaceResult:
    """The low-rank Laplace posterior of a field at a MAP point.

    Attributes:
        mean: the MAP field in its coordinates ``(n,)``.
        eigenvalues: of the prior-preconditioned misfit Hessian, descending ``(r,)``:
            those ≫ 1 are directions the data pin down; those ≪ 1 stay at the prior.
        posterior: the :class:`~.lowrank.LowRankPosterior` (covariance products, samples).
        prior_variance, variance: pointwise variances of the prior and the posterior
            ``(n,)`` (in the coordinates: of ln p for a log field).
        counts: PDE work of the eigensolver (:class:`~.calibration.SolveCounts`).
    """

    mean: np.ndarray
    eigen: EigenResult
    posterior: LowRankPosterior
    prior_variance: np.ndarray
    variance: np.ndarray
    block: Field
    counts: object

    @property
    def eigenvalues(self) -> np.ndarray:
        return self.eigen.values

    @property
    def std(self) -> np.ndarray:
        """Posterior pointwise standard deviation, in the coordinates ``(n,)``."""
        return np.sqrt(np.maximum(self.variance, 0.0))

    def informed_directions(self, threshold: float = 1.0) -> int:
        """How many eigenvalues exceed ``threshold`` (the data-informed rank)."""
        return int(np.sum(self.eigen.values > threshold))

    def sample(self, n_samples: int, seed=0) -> np.ndarray:
        """Posterior draws in the coordinates ``(n_samples, n)``."""
        return self.posterior.sample(self.mean, n_samples, seed=seed)

    def sample_physical(self, n_samples: int, seed=0) -> np.ndarray:
        """Posterior draws in physical units ``(n_samples, n)`` (``exp`` of a log field's)."""
        return self.block.to_physical(self.sample(n_samples, seed=seed))


def low_rank_laplace(calibration, m, *, rank: int = 20, oversampling: int = 10, power_iterations: int = 1,
                     seed=0, prior_variance=None) -> FieldLaplaceResult:
    """The low-rank Laplace approximation at ``m`` (a MAP point) of a calibration whose
    only unknown is one field with a Gaussian prior (``sqrt_apply``,
    ``sqrt_transpose_apply``, ``pointwise_variance``).

    Args:
        rank: eigenpairs kept (check ``eigenvalues[-1]`` is small, e.g. < 0.1; else raise it).
        oversampling, power_iterations, seed: of :func:`~.lowrank.randomized_eigh`.
        prior_variance: the pointwise variance of the prior in force (the prior's, over
            the block's ``strength``) if known; else from the prior's
            ``pointwise_variance()`` (exact on small meshes, estimated on large ones).
    """
    if len(calibration.blocks) != 1 or not isinstance(calibration.blocks[0], Field):
        raise InputError("low_rank_laplace needs a calibration whose only unknown is one Field; for a few "
                         "constants use laplace()")
    block = calibration.blocks[0]
    prior = block.prior
    if not all(callable(getattr(prior, a, None)) for a in ("sqrt_apply", "sqrt_transpose_apply")):
        raise InputError(f"the field's prior {type(prior).__name__} has no square root (sqrt_apply, "
                         "sqrt_transpose_apply): a posterior needs a Gaussian prior such as BiLaplacianPrior; "
                         "a penalty gives a MAP point only")
    m = np.asarray(m, dtype=np.float64)
    n = calibration.n
    start = replace(calibration.counts)
    scale = 1.0 / np.sqrt(block.strength)          # the prior in force is N(m0, C / strength)

    def sqrt(x):
        return scale * prior.sqrt_apply(x)

    def sqrt_transpose(x):
        return scale * prior.sqrt_transpose_apply(x)

    def whitened_hessian(block_of_vectors):
        columns = sqrt(block_of_vectors)
        products = np.stack([calibration.hessian_apply(m, columns[:, j], prior=False)
                             for j in range(columns.shape[1])], axis=1)
        return sqrt_transpose(products)

    eigen = randomized_eigh(whitened_hessian, n, rank, oversampling=oversampling,
                            power_iterations=power_iterations, seed=seed)
    posterior = LowRankPosterior(sqrt, eigen, prior_sqrt_T=sqrt_transpose)
    prior_variance = prior.pointwise_variance() / block.strength if prior_variance is None else \
        np.asarray(prior_variance, dtype=np.float64)
    variance = posterior.pointwise_variance(prior_variance)
    return FieldLaplaceResult(mean=m.copy(), eigen=eigen, posterior=posterior, prior_variance=prior_variance,
                              variance=variance, block=block, counts=_counts_since(calibration, start))
