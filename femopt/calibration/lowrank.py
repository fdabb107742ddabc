"""Low-rank Laplace posteriors: a randomized eigensolver for the prior-preconditioned
misfit Hessian and the Gaussian posterior it defines.

For a field parameter ``m`` (length ``n``) with a Gaussian prior ``N(m0, C)``,
``C = L Lᵀ``, and a data-misfit Hessian ``H`` known only through Hessian-vector
products, the Laplace posterior covariance is ``(H + C⁻¹)⁻¹``. In whitened coordinates
``m = m0 + L x`` the prior is ``N(0, I)`` and the Hessian is the prior-preconditioned

    H̃ = Lᵀ H L           (symmetric positive semi-definite, n × n)

whose spectrum decays fast when the data inform only a few directions. With its
dominant eigenpairs ``H̃ ≈ W Λ Wᵀ`` (``W`` orthonormal, ``n × r``) the Sherman–Morrison–
Woodbury identity gives

    Γ̃_post = (I + H̃)⁻¹ ≈ I − W diag(λ/(1+λ)) Wᵀ,
    Γ_post = L Γ̃_post Lᵀ = C − (LW) diag(λ/(1+λ)) (LW)ᵀ,

and the symmetric square root ``S = I − W diag(1 − 1/√(1+λ)) Wᵀ`` (``S Sᵀ = Γ̃_post``
exactly, because ``(1/√(1+λ))² = 1 − λ/(1+λ)``) draws samples ``m_MAP + L S ξ``.
Dropping an eigenpair with ``λ < τ`` changes the variance along ``w`` by less than
``τ/(1+τ)`` of the prior variance there, which is why a threshold such as 0.1 picks ``r``.

The eigensolver is the randomized one of Halko, Martinsson & Tropp (SIAM Rev. 2011):
``randomized_eigh(..., method="double")`` is their range finder with subspace
iteration followed by Rayleigh–Ritz (Algorithms 4.1/4.4 + 5.3), ``method="single"``
their single-pass variant (§5.5) that never applies ``H̃`` to the basis. The posterior
formulas are those of Bui-Thanh, Ghattas, Martin & Stadler (SIAM J. Sci. Comput. 2013)
and Isaac, Petra, Stadler & Ghattas (J. Comput. Phys. 2015).

Operators are callables on blocks: ``apply(X)`` with ``X`` of shape ``(n, k)`` returns
``(n, k)``. A code that only has single-vector products wraps it in :func:`blockwise`.
"""
from __future__ import annotations

import functools
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..errors import FemoptWarning, InputError, describe_value

__all__ = ["EigenResult", "LowRankPosterior", "blockwise", "randomized_eigh"]

_METHODS = ("double", "single")


@dataclass(frozen=True)
class EigenResult:
    """Dominant eigenpairs of a symmetric operator.

    Attributes:
        values: eigenvalues ``(r,)``, descending.
        vectors: orthonormal eigenvectors ``(n, r)``; column ``i`` goes with ``values[i]``.
        n_products: operator-vector products spent to find them (a block of ``k``
            columns counts ``k``); for a Hessian each is a pair of PDE solves.
    """

    values: np.ndarray
    vectors: np.ndarray
    n_products: int

    @property
    def rank(self) -> int:
        return int(self.values.shape[0])

    def truncate(self, threshold: float = 0.1) -> EigenResult:
        """The eigenpairs with ``value > threshold`` (same ``n_products``).

        Warns (:class:`~femopt.FemoptWarning`) when every eigenvalue is above the
        threshold: the next, uncomputed ones may be too, so the rank asked of
        :func:`randomized_eigh` was too small.
        """
        threshold = _real(threshold, "threshold")
        keep = self.values > threshold
        if self.rank > 0 and keep.all():
            warnings.warn(f"all {self.rank} computed eigenvalues exceed the threshold {threshold:g} "
                          f"(smallest {self.values[-1]:.3g}): the rank was too small; rerun "
                          "randomized_eigh with a larger rank", FemoptWarning, stacklevel=2)
        return EigenResult(self.values[keep], self.vectors[:, keep], self.n_products)


def blockwise(apply_one):
    """A block operator ``(n, k) -> (n, k)`` from a single-vector one ``(n,) -> (n,)``,
    applying it column by column (``k`` calls per block)."""
    if not callable(apply_one):
        raise InputError(f"apply_one must be a callable (n,) -> (n,); received "
                         f"{describe_value(apply_one)}")

    def apply(block):
        return np.stack([np.ravel(apply_one(block[:, j])) for j in range(block.shape[1])], axis=1)

    return apply


def randomized_eigh(apply, n: int, rank: int, *, oversampling: int = 10,
                    power_iterations: int | None = None, method: str = "double",
                    seed=0) -> EigenResult:
    """The ``rank`` dominant eigenpairs of a symmetric ``n × n`` operator known only
    through products, by a randomized eigensolver.

    A Gaussian test matrix ``Ω`` of ``l = min(rank + oversampling, n)`` columns samples
    the range, ``Y = A Ω``. Products, counted in ``n_products``:

    * ``"double"``: ``q = power_iterations`` (default 1) subspace iterations
      ``Y ← A orth(Y)`` sharpen the basis, ``Q = orth(Y)``, then the eigenpairs of
      ``Qᵀ A Q`` (Rayleigh–Ritz): ``(2 + q) l`` products. Eigenvalue errors shrink like
      ``(λ_{l+1}/λ_i)^{2(q+1)}``.
    * ``"single"``: ``Q = orth(Y)`` and ``B ≈ Qᵀ A Q`` from ``B (QᵀΩ) = QᵀY`` without
      applying ``A`` again: ``l`` products, less accurate (``power_iterations`` must be
      0 or left out). For when a second pass is impossible (products streamed once).

    Args:
        apply: the operator on a block, ``(n, k) -> (n, k)``; called with blocks of ``l``
            columns (see :func:`blockwise` for single-vector products; a
            ``scipy.sparse.linalg.LinearOperator`` works as is).
        n: the operator's size.
        rank: number of eigenpairs returned, ``1 <= rank <= n``.
        oversampling: extra test vectors (``p``); 5–20 is usual.
        power_iterations: subspace iterations of the double pass (default 1).
        method: ``"double"`` (default) or ``"single"``.
        seed: an int or a ``numpy.random.Generator`` for ``Ω``.

    Returns:
        :class:`EigenResult` with ``values (rank,)`` descending, ``vectors (n, rank)``.
    """
    if not callable(apply):
        raise InputError(f"apply must be a callable (n, k) -> (n, k); received "
                         f"{describe_value(apply)} (for a matrix A pass lambda X: A @ X)")
    n = _count(n, "n", minimum=1)
    rank = _count(rank, "rank", minimum=1)
    if rank > n:
        raise InputError(f"rank {rank} exceeds the operator size n = {n}")
    oversampling = _count(oversampling, "oversampling", minimum=0)
    if not isinstance(method, str) or method not in _METHODS:
        raise InputError(f"method must be one of {_METHODS}; received {describe_value(method)}")
    if power_iterations is None:
        power_iterations = 1 if method == "double" else 0
    power_iterations = _count(power_iterations, "power_iterations", minimum=0)
    if method == "single" and power_iterations:
        raise InputError(f"power_iterations = {power_iterations} with method 'single': a single "
                         "pass has no power iterations; use method='double'")
    rng = _generator(seed)

    n_columns = min(rank + oversampling, n)
    counter = _CountingOperator(apply, n)
    test_matrix = rng.standard_normal((n, n_columns))
    sample = counter(test_matrix)
    if method == "double":
        for _ in range(power_iterations):
            sample = counter(_orthonormal(sample))
        basis = _orthonormal(sample)
        projected = basis.T @ counter(basis)
    else:
        basis = _orthonormal(sample)
        # B (QᵀΩ) = QᵀY, i.e. (QᵀΩ)ᵀ Bᵀ = (QᵀY)ᵀ; QᵀΩ is a square Gaussian-like matrix.
        projected = np.linalg.solve((basis.T @ test_matrix).T, (basis.T @ sample).T).T
    values, small_vectors = np.linalg.eigh(0.5 * (projected + projected.T))
    order = np.argsort(values)[::-1][:rank]
    return EigenResult(values[order], basis @ small_vectors[:, order], counter.n_products)


class LowRankPosterior:
    """The Laplace posterior ``N(m_MAP, Γ_post)`` from a prior square root and the
    dominant eigenpairs of the prior-preconditioned misfit Hessian ``Lᵀ H L``.

    Args:
        prior_sqrt: ``L``, the prior covariance square root (``C = L Lᵀ``) on a block,
            ``(n, k) -> (n, k)``.
        eigen: :class:`EigenResult` of ``Lᵀ H L`` (e.g. from :func:`randomized_eigh`);
            eigenvalues must exceed −1 so the posterior precision is positive definite
            (a Gauss–Newton Hessian gives ``λ >= 0``).
        prior_sqrt_T: ``Lᵀ`` on a block; needed only by :meth:`covariance_apply`
            (``L`` itself when it is symmetric, e.g. ``L = (δ − γΔ)⁻¹`` for the
            bi-Laplacian prior ``C = (δ − γΔ)⁻²``).

    Cost: :meth:`sample` one ``L`` block per call, :meth:`covariance_apply` one ``Lᵀ``
    and one ``L``; :meth:`pointwise_variance` applies ``L`` to the ``r`` eigenvectors
    once (kept).
    """

    def __init__(self, prior_sqrt, eigen: EigenResult, *, prior_sqrt_T=None):
        if not callable(prior_sqrt):
            raise InputError(f"prior_sqrt must be a callable (n, k) -> (n, k); received "
                             f"{describe_value(prior_sqrt)}")
        if prior_sqrt_T is not None and not callable(prior_sqrt_T):
            raise InputError(f"prior_sqrt_T must be a callable (n, k) -> (n, k) or None; "
                             f"received {describe_value(prior_sqrt_T)}")
        if not isinstance(eigen, EigenResult):
            raise InputError(f"eigen must be an EigenResult (from randomized_eigh); received "
                             f"{describe_value(eigen)}")
        values = np.asarray(eigen.values, dtype=float)
        if np.any(~np.isfinite(values)) or np.any(values <= -1.0):
            bad = np.flatnonzero(~np.isfinite(values) | (values <= -1.0))
            raise InputError(f"eigenvalues {values[bad].tolist()} (positions {bad.tolist()}) are "
                             "not finite or <= -1: the posterior precision I + Lᵀ H L would not be "
                             "positive definite; drop them (EigenResult.truncate) or use a "
                             "Gauss-Newton Hessian")
        self.eigen = eigen
        self.n = int(eigen.vectors.shape[0])
        self._prior_sqrt = _CountingOperator(prior_sqrt, self.n)
        self._prior_sqrt_T = None if prior_sqrt_T is None else _CountingOperator(prior_sqrt_T, self.n)
        # Diagonal weights of the update and of the square root (see the module docstring).
        self._update = values / (1.0 + values)
        self._sqrt_update = 1.0 - 1.0 / np.sqrt(1.0 + values)

    @property
    def log_det_term(self) -> float:
        """``½ Σ log(1+λ_i) = ½ log det(I + Lᵀ H L) = ½ (log det C − log det Γ_post)``:
        the log-determinant term of the Laplace evidence and, for a linear model, the
        expected information gain."""
        return 0.5 * float(np.sum(np.log1p(self.eigen.values)))

    @property
    def trace_term(self) -> float:
        """``Σ λ_i/(1+λ_i) = tr(I − Γ̃_post)``: the number of parameters the data inform
        (the trace term of the prior-to-posterior KL divergence)."""
        return float(np.sum(self._update))

    def whitened_covariance_apply(self, vectors):
        """``Γ̃_post v = v − W diag(λ/(1+λ)) Wᵀ v`` for ``v`` of shape ``(n,)`` or ``(n, k)``."""
        return self._low_rank_update(vectors, self._update, "vectors")

    def whitened_sqrt_apply(self, vectors):
        """``S ξ = ξ − W diag(1 − 1/√(1+λ)) Wᵀ ξ`` (``S = Sᵀ``, ``S Sᵀ = Γ̃_post``) for
        ``ξ`` of shape ``(n,)`` or ``(n, k)``."""
        return self._low_rank_update(vectors, self._sqrt_update, "vectors")

    def covariance_apply(self, vectors):
        """``Γ_post v = L Γ̃_post Lᵀ v`` for ``v`` of shape ``(n,)`` or ``(n, k)``."""
        if self._prior_sqrt_T is None:
            raise InputError("covariance_apply needs prior_sqrt_T (Lᵀ): pass it to LowRankPosterior")
        block, was_vector = self._as_block(vectors, "vectors")
        result = self._prior_sqrt(self.whitened_covariance_apply(self._prior_sqrt_T(block)))
        return result[:, 0] if was_vector else result

    def sample(self, mean, n_samples: int, *, seed=0):
        """``n_samples`` draws ``mean + L S ξ``, ``ξ ~ N(0, I)``, as rows ``(n_samples, n)``.

        Args:
            mean: the posterior mean (the MAP point) ``(n,)``.
            n_samples: number of draws, ``>= 1``.
            seed: an int or a ``numpy.random.Generator``.
        """
        mean = self._as_field(mean, "mean")
        n_samples = _count(n_samples, "n_samples", minimum=1)
        noise = _generator(seed).standard_normal((self.n, n_samples))
        return mean + self._prior_sqrt(self.whitened_sqrt_apply(noise)).T

    def pointwise_variance(self, prior_variance):
        """``diag(Γ_post) = diag(C) − Σ_i λ_i/(1+λ_i) (L w_i)²``.

        Args:
            prior_variance: ``diag(C)`` of shape ``(n,)`` (exact, or estimated by the caller).

        Returns:
            The posterior variance ``(n,)``; only as accurate as ``prior_variance`` and the
            rank (a truncated spectrum over-estimates it).
        """
        prior_variance = self._as_field(prior_variance, "prior_variance")
        return prior_variance - (self._prior_sqrt_vectors ** 2) @ self._update

    @functools.cached_property
    def _prior_sqrt_vectors(self):
        """``L W`` of shape ``(n, r)``."""
        if self.eigen.rank == 0:
            return np.zeros((self.n, 0))
        return self._prior_sqrt(np.asarray(self.eigen.vectors, dtype=float))

    def _low_rank_update(self, vectors, weights, name):
        block, was_vector = self._as_block(vectors, name)
        basis = self.eigen.vectors
        result = block - basis @ (weights[:, None] * (basis.T @ block))
        return result[:, 0] if was_vector else result

    def _as_block(self, vectors, name):
        array = np.asarray(vectors, dtype=float)
        if array.ndim not in (1, 2) or array.shape[0] != self.n:
            raise InputError(f"{name} must have shape ({self.n},) or ({self.n}, k); received "
                             f"shape {array.shape}")
        return (array[:, None], True) if array.ndim == 1 else (array, False)

    def _as_field(self, values, name):
        array = np.asarray(values, dtype=float)
        if array.shape != (self.n,):
            raise InputError(f"{name} must have shape ({self.n},); received shape {array.shape}")
        if not np.all(np.isfinite(array)):
            bad = np.flatnonzero(~np.isfinite(array))
            raise InputError(f"{name} has non-finite entries at positions {bad[:5].tolist()}")
        return array


class _CountingOperator:
    """A user's block operator, checked on every call (shape, finiteness) and counted."""

    def __init__(self, apply, n):
        self.apply = apply
        self.n = n
        self.n_products = 0

    def __call__(self, block):
        result = np.asarray(self.apply(block), dtype=float)
        if result.shape != block.shape:
            raise InputError(f"the operator {_name(self.apply)} returned shape {result.shape} for a "
                             f"block of shape {block.shape}; it must map (n, k) to (n, k) with "
                             f"n = {self.n} (wrap a single-vector operator in blockwise)")
        if not np.all(np.isfinite(result)):
            raise InputError(f"the operator {_name(self.apply)} returned non-finite values")
        self.n_products += block.shape[1]
        return result


def _orthonormal(block):
    """An orthonormal basis ``(n, k)`` of the columns (Householder QR: orthonormal even
    when the block is rank deficient)."""
    return scipy.linalg.qr(block, mode="economic")[0]


def _name(function):
    return getattr(function, "__qualname__", type(function).__name__)


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; received {describe_value(value)}")
    return int(value)


def _real(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise InputError(f"{name} must be a finite real number; received {describe_value(value)}")
    return float(value)


def _generator(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"seed must be a non-negative integer or a numpy.random.Generator; "
                         f"received {describe_value(seed)}")
    return np.random.default_rng(int(seed))
