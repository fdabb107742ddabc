"""The bi-Laplacian Gaussian prior of a nodal field: ``N(m0, C)``, ``C = (δ I − γ Δ)^-2``.

Function-space priors (Stuart 2010; Bui-Thanh, Ghattas, Martin & Stadler 2013) take the
covariance as the inverse square of an elliptic operator ``A = δ I − γ Δ``: in ``d = 2, 3``
dimensions ``A^-1`` alone gives fields with infinite pointwise variance, its square gives
continuous ones. On the whole of ``R^d`` it is a Matérn field (Lindgren, Rue & Lindström
2011) with

    smoothness ν = 2 − d/2,  κ² = δ/γ,  correlation length ρ = √(8ν) / κ,
    marginal variance σ² = Γ(ν) / (Γ(ν + d/2) (4π)^{d/2} κ^{2ν} γ²),

(the variance is the spectral integral ``∫ dk / (2π)^d γ^-2 (κ² + |k|²)^-2``), and the
correlation at distance ``r`` is ``2^{1−ν} / Γ(ν) (κr)^ν K_ν(κr)``, about 0.13-0.14 at
``r = ρ`` in every dimension.

Discretized with femopt's own Lagrange elements (linear cells, or quad9 / hex27):
``A = γ K + δ M + β B``, with ``K`` the stiffness of ``∫ ∇u·∇v`` (a ``HeatConduction``
tangent), ``M`` the mass ``∫ u v`` (the capacity matrix of a ``TransientProblem``) and
``B`` the boundary mass ``∫_∂Ω u v`` of a Robin condition ``γ ∂u/∂n + β u = 0`` (a
``convection`` load; β = 0 is the Neumann condition). With ``M_L`` the lumped (row-sum)
mass the nodal values ``m`` have

    covariance  C = A^-1 M_L A^-1,   precision  C^-1 = A M_L^-1 A,
    square root L = A^-1 M_L^{1/2}   (C = L Lᵀ; a sample is m0 + L ξ, ξ ~ N(0, I)).

``A`` is factorized once (femopt's ``DirectSolver``); per vector a sample or a square
root costs one solve with the factors, a covariance two, the precision, the cost and
its gradient none (sparse products).

The boundary matters. With the Neumann condition the field is reflected there: the
variance is 2σ² on a side, 4σ² at a 2D corner (8σ² at a 3D one), back to within 14 % of
σ² half a correlation length inside. ``robin="optimal"`` picks ``β = √(γδ) / c_d``: in 1D
``c_1 = 1 + √2`` makes the end variance exactly σ² (half-line Green's function:
reflection coefficient ``R = (γκ − β)/(γκ + β)``, end variance ``σ² (1 + R)² / 2``); in
2D ``c_2 = 1.42`` (Daon & Stadler 2018) leaves it within about 10 % of σ²; in 3D (the
rough ν = 1/2 field, whose fine scales a Robin condition cannot reach) the same 1.42
still leaves 1.4, 2.3 and 3.8 times the interior variance on a face, an edge and at a
corner (hex8, h = ρ/8; Neumann: 2, 4, 8). Keep a margin of about a correlation length
around the region of interest.

Mesh size: the nodal variance converges to σ² at O(h²) in 1D and 2D (2D quad4, h = ρ/20:
std 1.7 % high) but only at O(κh) in 3D, where the variance of the rough field lives at
the finest scales (hex8, h = ρ/8: variance 1.74σ², i.e. std 32 % high; covariances
at a distance converge much faster: 3 % at distance ρ). ``pointwise_variance`` gives the
discrete values (e.g. to rescale samples node by node when the marginal matters).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy import special

from ..errors import InputError
from ..mesh.mesh import Mesh
from ..physics.heat import HeatConduction
from ..problem.problem import Problem
from ..problem.transient import TransientProblem
from ..solvers.linear_direct import DirectSolver

__all__ = ["BiLaplacianPrior", "matern_parameters", "bilaplacian_coefficients", "matern_correlation",
           "EXACT_VARIANCE_MAX_NODES"]

#: ``pointwise_variance`` is exact (one solve per node) up to this many nodes, estimated above.
EXACT_VARIANCE_MAX_NODES = 5000

#: ``robin="optimal"``: β = √(γδ) / ROBIN_DIVISOR[dim] (see the module docstring).
ROBIN_DIVISOR = {1: 1.0 + math.sqrt(2.0), 2: 1.42, 3: 1.42}

#: right-hand sides per block solve (bounds the dense work arrays to n × 256 floats)
_BLOCK = 256


def _smoothness(dim: int) -> float:
    """Matérn smoothness ν = 2 − d/2 of (δ − γΔ)^-2 in ``dim`` dimensions."""
    if dim not in (1, 2, 3):
        raise InputError(f"the bi-Laplacian prior is defined in 1, 2 or 3 dimensions, got dim={dim!r}")
    return 2.0 - dim / 2.0


def _variance_constant(dim: int) -> float:
    """``Γ(ν) / (Γ(ν + d/2) (4π)^{d/2})``: the variance is this / (κ^{2ν} γ²)."""
    nu = _smoothness(dim)
    return math.gamma(nu) / (math.gamma(nu + dim / 2.0) * (4.0 * math.pi) ** (dim / 2.0))


def _positive(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a finite number > 0, got {value!r}") from None
    if not (math.isfinite(number) and number > 0):
        raise InputError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def matern_parameters(gamma, delta, dim: int) -> tuple[float, float]:
    """The correlation length ρ and marginal standard deviation σ of ``(δ − γΔ)^-2`` on
    ``R^dim`` (the values far from a boundary), as ``(ρ, σ)``."""
    gamma, delta = _positive(gamma, "gamma"), _positive(delta, "delta")
    nu = _smoothness(dim)
    kappa = math.sqrt(delta / gamma)
    return math.sqrt(8.0 * nu) / kappa, math.sqrt(_variance_constant(dim)) * kappa ** -nu / gamma


def bilaplacian_coefficients(correlation_length, std, dim: int) -> tuple[float, float]:
    """``(γ, δ)`` whose ``(δ − γΔ)^-2`` has correlation length ``correlation_length`` and
    marginal standard deviation ``std`` on ``R^dim`` (inverse of :func:`matern_parameters`)."""
    rho, sigma = _positive(correlation_length, "correlation_length"), _positive(std, "std")
    nu = _smoothness(dim)
    kappa = math.sqrt(8.0 * nu) / rho
    gamma = math.sqrt(_variance_constant(dim)) * kappa ** -nu / sigma
    return gamma, kappa * kappa * gamma


def matern_correlation(distance, correlation_length, dim: int) -> np.ndarray:
    """The correlation ``2^{1−ν}/Γ(ν) (κr)^ν K_ν(κr)`` of the field at ``distance`` (array,
    any shape, ≥ 0) on ``R^dim``, ``κ = √(8ν) / correlation_length``; 1 at distance 0."""
    nu = _smoothness(dim)
    x = math.sqrt(8.0 * nu) / _positive(correlation_length, "correlation_length") * np.asarray(distance, float)
    with np.errstate(invalid="ignore", over="ignore"):
        value = 2.0 ** (1.0 - nu) / math.gamma(nu) * x ** nu * special.kv(nu, x)
    return np.where(x > 0, value, 1.0)


class BiLaplacianPrior:
    """Gaussian prior ``N(mean, C)`` of a nodal field, ``C = A^-1 M_L A^-1`` with
    ``A = γ K + δ M + β B`` (see the module docstring).

    Args:
        mesh: a femopt :class:`~femopt.Mesh` with linear cells (or quad9 / hex27, whose
            lumped masses are positive; tri6, quad8, tet10, hex20 are refused).
        gamma: γ > 0, the weight of the Laplacian (smoothness, units value⁻¹ length^{2−d/2}).
        delta: δ > 0, the weight of the identity; ``√(γ/δ)`` sets the correlation length.
        mean: the mean field m0: a number or nodal values ``(n_nodes,)``.
        robin: the boundary condition of A: ``None`` or 0 (Neumann), a Robin coefficient
            β ≥ 0, or ``"optimal"`` for ``β = √(γδ) / c_d`` (a flatter boundary variance;
            see the module docstring).

    Attributes:
        n: number of nodes (the length of every field).
        mean: ``(n,)`` read-only.
        operator: ``A`` ``(n, n)`` CSR.   lumped_mass: ``M_L`` ``(n,)``.
        gamma, delta, robin: the coefficients (``robin`` is β, a number).

    Raises:
        InputError: a coefficient not finite and > 0 (β: ≥ 0), a mean of the wrong shape
            or not finite, or a mesh whose lumped mass is not positive at every node.
    """

    def __init__(self, mesh, gamma, delta, mean=0.0, *, robin=None):
        if not isinstance(mesh, Mesh):
            raise InputError(f"BiLaplacianPrior needs a femopt Mesh, got {type(mesh).__name__}")
        self.mesh = mesh
        self.dim = mesh.dim
        _smoothness(self.dim)
        self.gamma, self.delta = _positive(gamma, "gamma"), _positive(delta, "delta")
        self.robin = _robin_coefficient(robin, self.gamma, self.delta, self.dim)
        self.n = mesh.n_nodes
        self.mean = _nodal_values(mean, self.n, "mean")
        self.mean.flags.writeable = False
        stiffness, mass = _assemble(mesh, self.gamma, self.robin)
        self.lumped_mass = np.asarray(mass.sum(axis=1)).ravel()
        # Row sums of quadratic simplex / serendipity masses vanish or go negative at vertices.
        bad = np.flatnonzero(~(self.lumped_mass > 1e-12 * np.max(np.abs(self.lumped_mass))))
        if bad.size:
            raise InputError(
                f"the lumped (row-sum) mass of {mesh.cell_type.name} cells is not positive at {bad.size} nodes "
                f"(e.g. {bad[:5].tolist()}), so M_L^1/2 does not exist; use linear cells (tri3, quad4, tet4, "
                "hex8) or quad9 / hex27")
        self.lumped_mass.flags.writeable = False
        self._sqrt_mass = np.sqrt(self.lumped_mass)
        self.operator = (stiffness + self.delta * mass).tocsr()
        self._factorization = DirectSolver(symmetric=True).factorize(self.operator)

    @classmethod
    def from_correlation(cls, mesh, correlation_length, std, mean=0.0, *, robin=None) -> "BiLaplacianPrior":
        """The prior whose field has correlation length ρ (correlation ≈ 0.13-0.14 at that
        distance) and marginal standard deviation σ away from the boundary; other
        arguments as for the constructor."""
        if not isinstance(mesh, Mesh):
            raise InputError(f"BiLaplacianPrior needs a femopt Mesh, got {type(mesh).__name__}")
        gamma, delta = bilaplacian_coefficients(correlation_length, std, mesh.dim)
        return cls(mesh, gamma, delta, mean, robin=robin)

    @property
    def correlation_length(self) -> float:
        """ρ of the continuous field (:func:`matern_parameters`)."""
        return matern_parameters(self.gamma, self.delta, self.dim)[0]

    @property
    def std(self) -> float:
        """σ of the continuous field far from the boundary (:func:`matern_parameters`)."""
        return matern_parameters(self.gamma, self.delta, self.dim)[1]

    # -- the negative log density ------------------------------------------------------------
    def cost(self, m) -> float:
        """``½ (m − m0)ᵀ C^-1 (m − m0)`` for a field ``m (n,)`` (no solve)."""
        w = self.operator @ (_nodal_values(m, self.n, "m", scalar=False) - self.mean)
        return 0.5 * float(w @ (w / self.lumped_mass))

    def gradient(self, m) -> np.ndarray:
        """``C^-1 (m − m0)`` ``(n,)``, the gradient of :meth:`cost`."""
        return self.precision_apply(_nodal_values(m, self.n, "m", scalar=False) - self.mean)

    # -- operators, on (n,) vectors or (n, k) blocks ---------------------------------------------
    def precision_apply(self, v) -> np.ndarray:
        """``C^-1 v = A M_L^-1 A v``, ``v`` ``(n,)`` or ``(n, k)`` (no solve)."""
        v = self._block(v, "v")
        return self.operator @ _scale(1.0 / self.lumped_mass, self.operator @ v)

    def covariance_apply(self, v) -> np.ndarray:
        """``C v = A^-1 M_L A^-1 v``, ``v`` ``(n,)`` or ``(n, k)`` (two solves per column)."""
        v = self._block(v, "v")
        return self._factorization.solve(_scale(self.lumped_mass, self._factorization.solve(v)))

    def sqrt_apply(self, xi) -> np.ndarray:
        """``L ξ = A^-1 M_L^{1/2} ξ``, ``ξ`` ``(n,)`` or ``(n, k)``: white noise to a
        zero-mean sample (one solve per column)."""
        return self._factorization.solve(_scale(self._sqrt_mass, self._block(xi, "xi")))

    def sqrt_transpose_apply(self, v) -> np.ndarray:
        """``Lᵀ v = M_L^{1/2} A^-1 v``, ``v`` ``(n,)`` or ``(n, k)`` (one solve per column)."""
        return _scale(self._sqrt_mass, self._factorization.solve(self._block(v, "v")))

    # -- samples and variance ----------------------------------------------------------------------
    def sample(self, n_samples: int, seed=None) -> np.ndarray:
        """``n_samples`` independent draws ``m0 + L ξ``, ``(n_samples, n)``.

        ``seed`` (None, an int or a ``numpy.random.Generator``) fixes them; a sample
        depends only on the seed and its index, not on how many are drawn."""
        n_samples = _count(n_samples, "n_samples")
        rng = np.random.default_rng(seed)
        samples = np.empty((n_samples, self.n))
        for start in range(0, n_samples, _BLOCK):
            stop = min(start + _BLOCK, n_samples)
            xi = rng.standard_normal((stop - start, self.n)).T
            samples[start:stop] = (self.sqrt_apply(xi) + self.mean[:, None]).T
        return samples

    def pointwise_variance(self, exact: bool | None = None, *, probes: int = 256, seed=0) -> np.ndarray:
        """The marginal variances ``diag(C)`` ``(n,)``.

        Args:
            exact: True: ``diag(C)_i = Σ_j M_L,j (A^-1)_ij²``, from one solve per node (in
                blocks of 256); False: the sample estimate ``(1/probes) Σ_k (L ξ_k)_i²``,
                unbiased, relative standard error ``√(2/probes)`` at every node (9 % at
                256 probes), one solve per probe. None (default): exact up to
                :data:`EXACT_VARIANCE_MAX_NODES` nodes, estimated above.
            probes, seed: the estimate's number of samples and their seed.
        """
        if exact is None:
            exact = self.n <= EXACT_VARIANCE_MAX_NODES
        variance = np.zeros(self.n)
        if exact:
            for start in range(0, self.n, _BLOCK):
                stop = min(start + _BLOCK, self.n)
                unit = np.zeros((self.n, stop - start))
                unit[np.arange(start, stop), np.arange(stop - start)] = 1.0
                columns = self._factorization.solve(unit)          # A^-1 e_j = row j of A^-1 (A = Aᵀ)
                variance += columns ** 2 @ self.lumped_mass[start:stop]
            return variance
        probes = _count(probes, "probes")
        rng = np.random.default_rng(seed)
        for start in range(0, probes, _BLOCK):
            stop = min(start + _BLOCK, probes)
            variance += np.sum(self.sqrt_apply(rng.standard_normal((stop - start, self.n)).T) ** 2, axis=1)
        return variance / probes

    def _block(self, v, name: str) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        if v.ndim not in (1, 2) or v.shape[0] != self.n:
            raise InputError(f"{name} must have shape ({self.n},) or ({self.n}, k) (one value per node), "
                             f"got shape {v.shape}")
        if not np.isfinite(v).all():
            raise InputError(f"{name} has {np.count_nonzero(~np.isfinite(v))} entries that are not finite")
        return v

    def __repr__(self) -> str:
        return (f"BiLaplacianPrior({self.n} nodes, gamma={self.gamma:.4g}, delta={self.delta:.4g}, "
                f"robin={self.robin:.4g}; correlation length {self.correlation_length:.4g}, std {self.std:.4g})")


def _assemble(mesh: Mesh, gamma: float, robin: float):
    """``γ K + β B`` and ``M`` (CSR ``(n, n)``) with femopt's own elements: the tangent of
    heat conduction with conductivity γ and convection h = β on the whole boundary, and
    the capacity matrix of the same problem with ρc = 1."""
    problem = Problem(mesh, HeatConduction(k=gamma))
    # femopt has no facet elements for 1D cells: there ∫_∂Ω u v is the value at the two ends.
    if robin > 0 and mesh.dim > 1:
        problem.convection(mesh.boundary_facets(), h=robin, ambient=0.0, name="robin")
    _, stiffness = problem.residual_and_tangent(np.zeros(mesh.n_nodes))
    if robin > 0 and mesh.dim == 1:
        ends = mesh.facet_nodes(mesh.boundary_facets()).ravel()
        stiffness = stiffness + sp.csr_matrix((np.full(ends.size, robin), (ends, ends)), shape=stiffness.shape)
    return stiffness, TransientProblem(problem, capacity=1.0).mass_matrix()


def _robin_coefficient(robin, gamma: float, delta: float, dim: int) -> float:
    if robin is None:
        return 0.0
    if isinstance(robin, str):
        if robin != "optimal":
            raise InputError(f"robin must be None, a number >= 0 or 'optimal', got {robin!r}")
        return math.sqrt(gamma * delta) / ROBIN_DIVISOR[dim]
    try:
        beta = float(robin)
    except (TypeError, ValueError):
        raise InputError(f"robin must be None, a number >= 0 or 'optimal', got {robin!r}") from None
    if not (math.isfinite(beta) and beta >= 0):
        raise InputError(f"robin (the Robin coefficient β) must be a finite number >= 0, got {robin!r}")
    return beta


def _nodal_values(value, n: int, name: str, scalar: bool = True) -> np.ndarray:
    """A field ``(n,)`` (float copy) from nodal values, or a number when ``scalar``."""
    expected = f"{name} must be {'a number or ' if scalar else ''}nodal values of shape ({n},)"
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{expected}, got {value!r}") from None
    if not (array.shape == (n,) or (scalar and array.ndim == 0)):
        raise InputError(f"{expected}, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(f"{name} has {np.count_nonzero(~np.isfinite(array))} entries that are not finite")
    return np.array(np.broadcast_to(array, (n,)))


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _scale(weights: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``diag(weights) v`` for ``v`` ``(n,)`` or ``(n, k)``."""
    return weights[:, None] * v if v.ndim == 2 else weights * v
