"""Posterior sampling of a few global parameters by NUTS (No-U-Turn Hamiltonian Monte
Carlo), through BlackJAX.

:func:`sample_nuts` draws from a density known up to a constant, given as a JAX function
``log_density(theta (d,)) -> scalar`` that ``jax.grad`` can differentiate — e.g. a log
posterior built on ``femopt.solve``, whose solves and adjoints run on the host. Each chain
runs BlackJAX's window adaptation (step size by dual averaging, diagonal or dense mass
matrix from the warmup draws), then NUTS with the adapted parameters. :class:`NutsResult`
holds the draws and the standard checks: rank-normalized split R-hat and bulk effective
sample size (Vehtari et al. 2021), acceptance, divergences, gradient evaluations.

Chains run one after another, each a compiled warmup and a compiled sampling loop. They
are not vmapped: under ``jax.vmap`` a NUTS trajectory is as long as the longest in the
batch, and host callbacks (femopt's solves) run for every chain at every step, finished
or not — 1.8× the solves of sequential chains in a measurement, and slower even for a
pure-JAX density. Chain ``i`` uses the key ``fold_in(key(seed), i)``: the same seed gives
the same draws, and adding chains leaves the first ones unchanged.

Nothing here knows about problems or solvers; BlackJAX is an optional dependency
(``pip install "femopt[uq]"``), imported when :func:`sample_nuts` is called.
"""
from __future__ import annotations

import numbers
import sys
import time
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from ..errors import InputError, describe_value

__all__ = ["sample_nuts", "NutsResult", "split_rhat", "bulk_ess", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "femopt[uq]"'


def _blackjax():
    try:
        import blackjax
    except ImportError as exc:
        raise ImportError(f"NUTS sampling needs BlackJAX, which is not installed: {INSTALL_HINT} "
                          "(or pip install blackjax)") from exc
    return blackjax


# ---------------------------------------------------------------------------------------
# diagnostics


def _as_chains(samples):
    """(n_chains, n_draws) or (n_chains, n_draws, d) → float array (n_chains, n_draws, d)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[1] < 4:
        raise InputError(f"samples must be (n_chains, n_draws[, d]) with n_draws >= 4; got shape {x.shape}")
    return x


def _split(x):
    """(m, n, d) → (2m, n // 2, d): each chain's first and last halves (middle draw of an
    odd chain dropped)."""
    h = x.shape[1] // 2
    return np.concatenate([x[:, :h], x[:, x.shape[1] - h:]], axis=0)


def _rank_normalize(x):
    """Normal scores of the ranks over all chains and draws, per variable: (m, n, d)."""
    m, n, d = x.shape
    ranks = rankdata(x.reshape(m * n, d), axis=0)  # average rank for ties
    return ndtri((ranks - 0.375) / (m * n + 0.25)).reshape(m, n, d)


def _ess(x):
    """Effective sample size of (m, n, d) draws: Stan's multi-chain estimate, autocorrelation
    by FFT, Geyer's initial monotone sequence. Constant variables get ``n·m``."""
    m, n, d = x.shape
    centered = x - x.mean(axis=1, keepdims=True)
    nfft = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(centered, n=nfft, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=nfft, axis=1)[:, :n] / n   # (m, n, d), biased
    chain_var = acov[:, 0] * n / (n - 1.0)                              # (m, d)
    w = chain_var.mean(axis=0)                                          # within
    var_plus = w * (n - 1.0) / n
    if m > 1:
        var_plus = var_plus + x.mean(axis=1).var(axis=0, ddof=1)        # + between / n
    ess = np.empty(d)
    for j in range(d):
        if not var_plus[j] > 0:
            ess[j] = m * n
            continue
        rho = 1.0 - (w[j] - acov[:, :, j].mean(axis=0)) / var_plus[j]   # (n,), rho[0] = 1
        rho[0] = 1.0
        pairs = rho[: n - n % 2].reshape(-1, 2).sum(axis=1)             # P_k = rho_2k + rho_2k+1
        k = np.argmax(pairs <= 0) if np.any(pairs <= 0) else pairs.size
        pairs = np.minimum.accumulate(pairs[:k])                        # initial monotone
        tau = -1.0 + 2.0 * pairs.sum()
        ess[j] = m * n / max(tau, 1.0 / np.log10(m * n))
    return ess


def split_rhat(samples):
    """Rank-normalized split R-hat (Vehtari et al. 2021: the larger of bulk and tail R-hat)
    of ``samples`` (n_chains, n_draws[, d]) → (d,). Near 1 when the chains agree; above
    1.01 they have not mixed."""
    x = _split(_as_chains(samples))
    m, n, d = x.shape

    def psrf(z):
        means = z.mean(axis=1)
        w = z.var(axis=1, ddof=1).mean(axis=0)
        b = n * means.var(axis=0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.sqrt(((n - 1.0) / n * w + b / n) / w)
        return np.where(w > 0, r, np.nan)

    bulk = psrf(_rank_normalize(x))
    folded = np.abs(x - np.median(x.reshape(m * n, d), axis=0))
    tail = psrf(_rank_normalize(folded))
    return np.fmax(bulk, tail)


def bulk_ess(samples):
    """Bulk effective sample size (ESS of the rank-normalized split chains, Vehtari et al.
    2021) of ``samples`` (n_chains, n_draws[, d]) → (d,). The number of independent draws
    worth as much for estimating the centre of the distribution; the Monte Carlo error of
    a posterior mean is about ``std / sqrt(ess)``."""
    return _ess(_rank_normalize(_split(_as_chains(samples))))


# ---------------------------------------------------------------------------------------
# result


@dataclass(frozen=True, repr=False)
class NutsResult:
    """Draws of :func:`sample_nuts` and their diagnostics.

    Attributes:
        samples: (n_chains, n_samples, d) draws after warmup.
        log_density: (n_chains, n_samples) log density at the draws.
        ess: (d,) bulk effective sample size over all chains.
        rhat: (d,) rank-normalized split R-hat; below 1.01 is the usual bar.
        acceptance_rate: mean NUTS acceptance statistic of the sampling phase.
        n_divergent: divergent transitions in the sampling phase (should be 0; any is a
            sign of a region the step size cannot resolve — the estimates may be biased).
        n_grad_evals: evaluations of ``log_density`` with its gradient, warmup included (one
            per leapfrog step, one per chain start, one per distinct initial point checked).
            For a femopt posterior: forward solves, and as many adjoint solves.
        step_size: (n_chains,) adapted step sizes.
        inverse_mass_matrix: (n_chains, d, d) if dense, else (n_chains, d).
        wall_time: seconds of the whole call, compilation included.
        warmup_time: seconds of it spent in warmup (compilation included).
        names: d parameter names for :meth:`summary` (``theta[i]`` when not given).
    """

    samples: np.ndarray
    log_density: np.ndarray
    ess: np.ndarray
    rhat: np.ndarray
    acceptance_rate: float
    n_divergent: int
    n_grad_evals: int
    step_size: np.ndarray
    inverse_mass_matrix: np.ndarray
    wall_time: float
    warmup_time: float
    names: tuple = ()

    n_chains = property(lambda self: self.samples.shape[0])
    n_samples = property(lambda self: self.samples.shape[1])
    dim = property(lambda self: self.samples.shape[2])

    @property
    def draws(self) -> np.ndarray:
        """All chains' draws pooled: (n_chains * n_samples, d)."""
        return self.samples.reshape(-1, self.dim)

    @property
    def mean(self) -> np.ndarray:
        """(d,) posterior mean estimate."""
        return self.draws.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        """(d,) posterior standard deviation estimate."""
        return self.draws.std(axis=0, ddof=1)

    @property
    def mcse(self) -> np.ndarray:
        """(d,) Monte Carlo standard error of :attr:`mean`, ``std / sqrt(ess)``."""
        return self.std / np.sqrt(self.ess)

    def quantiles(self, q) -> np.ndarray:
        """Posterior quantiles: ``q`` scalar or array in [0, 1] → ``q.shape + (d,)``."""
        qa = np.asarray(q, dtype=np.float64)
        if not np.all((qa >= 0) & (qa <= 1)):
            raise InputError(f"quantile levels must lie in [0, 1]; got {describe_value(q)}")
        return np.quantile(self.draws, qa, axis=0)

    def credible_interval(self, level=0.95) -> np.ndarray:
        """Equal-tailed credible interval: (2, d), rows lower and upper bound."""
        if not (isinstance(level, numbers.Real) and 0 < level < 1):
            raise InputError(f"level must be a number in (0, 1), e.g. 0.95; got {describe_value(level)}")
        return self.quantiles([(1 - level) / 2, (1 + level) / 2])

    def summary(self, level=0.95) -> str:
        """A table: per parameter mean, std, credible interval, MCSE, ESS, R-hat; then the
        run's acceptance, divergences, gradient evaluations and time."""
        names = self.names or tuple(f"theta[{i}]" for i in range(self.dim))
        lo, hi = self.credible_interval(level)
        pct = f"{100 * level:g}%"
        width = max(8, *(len(n) for n in names))
        head = (f"{'':<{width}} {'mean':>11} {'std':>10} {pct + ' lo':>11} {pct + ' hi':>11} "
                f"{'mcse':>9} {'ess':>7} {'rhat':>6}")
        rows = [head]
        for i, name in enumerate(names):
            rows.append(f"{name:<{width}} {self.mean[i]:>11.4g} {self.std[i]:>10.3g} {lo[i]:>11.4g} "
                        f"{hi[i]:>11.4g} {self.mcse[i]:>9.2g} {self.ess[i]:>7.0f} {self.rhat[i]:>6.3f}")
        rows.append(f"{self.n_chains} chains x {self.n_samples} samples; acceptance "
                    f"{self.acceptance_rate:.2f}; {self.n_divergent} divergent; "
                    f"{self.n_grad_evals} gradient evaluations; {self.wall_time:.1f} s "
                    f"({self.warmup_time:.1f} s warmup)")
        return "\n".join(rows)

    def __repr__(self):
        return (f"NutsResult({self.n_chains} chains x {self.n_samples} samples, d={self.dim}, "
                f"max R-hat {np.nanmax(self.rhat):.3f}, min ESS {np.min(self.ess):.0f}, "
                f"acceptance {self.acceptance_rate:.2f}, {self.n_divergent} divergent, "
                f"{self.n_grad_evals} gradient evaluations, {self.wall_time:.1f} s)")


# ---------------------------------------------------------------------------------------
# sampler


@partial(jax.jit, static_argnames=("log_density",))
def _value_and_grad(x, *, log_density):
    return jax.value_and_grad(log_density)(x)


@partial(jax.jit, static_argnames=("log_density", "n_warmup", "target", "dense", "depth"))
def _warmup(key, x0, *, log_density, n_warmup, target, dense, depth):
    bj = _blackjax()
    keep = bj.adaptation.base.get_filter_adapt_info_fn(info_keys={"num_integration_steps"})
    adapt = bj.window_adaptation(bj.nuts, log_density, is_mass_matrix_diagonal=not dense,
                                 target_acceptance_rate=target, adaptation_info_fn=keep,
                                 max_num_doublings=depth)
    (state, params), info = adapt.run(key, x0, num_steps=n_warmup)
    steps = jnp.sum(info.info.num_integration_steps)
    return state, params["step_size"], params["inverse_mass_matrix"], steps


@partial(jax.jit, static_argnames=("log_density", "n_samples", "depth"))
def _sample(key, state, step_size, inverse_mass_matrix, *, log_density, n_samples, depth):
    kernel = _blackjax().nuts(log_density, step_size, inverse_mass_matrix, max_num_doublings=depth)

    def one(s, k):
        s, i = kernel.step(k, s)
        return s, (s.position, s.logdensity, i.acceptance_rate, i.is_divergent, i.num_integration_steps)

    return jax.lax.scan(one, state, jax.random.split(key, n_samples))[1]


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {describe_value(value)}")
    return int(value)


def _progress_fn(progress):
    if progress is None or progress is False:
        return lambda *args: None
    if progress is True:
        return lambda chain, n_chains, phase, seconds: print(
            f"NUTS chain {chain + 1}/{n_chains}: {phase} done ({seconds:.1f} s)", file=sys.stderr, flush=True)
    if callable(progress):
        return progress
    raise InputError(f"progress must be None, a bool or a callable(chain, n_chains, phase, "
                     f"seconds); got {describe_value(progress)}")


def sample_nuts(log_density, initial, *, n_samples=1000, n_warmup=500, n_chains=4, seed=0,
                target_acceptance=0.8, dense_mass=True, max_tree_depth=10, names=None,
                progress=None) -> NutsResult:
    """Draw from ``exp(log_density)`` by NUTS with window adaptation, chain by chain.

    Args:
        log_density: JAX function ``theta (d,) -> scalar``, the log density up to a
            constant; reverse-mode differentiable (``jax.grad``), jit-compatible. Host
            callbacks inside (``femopt.solve``) are fine. Return ``-inf`` outside the
            support; use unconstrained coordinates (log of positive constants).
        initial: (d,) start shared by all chains, or (n_chains, d), one per chain.
            Spread-out starts make R-hat a sharper test of convergence.
        n_samples: draws kept per chain (>= 4).
        n_warmup: adaptation iterations per chain, discarded (>= 10).
        n_chains: independent chains (>= 1; R-hat wants several).
        seed: integer; equal seeds give identical draws.
        target_acceptance: step-size adaptation target in (0, 1); raise it (0.9, 0.95)
            when the run reports divergences.
        dense_mass: adapt a dense mass matrix (right for a few correlated parameters)
            rather than a diagonal one.
        max_tree_depth: NUTS stops doubling a trajectory at ``2**max_tree_depth`` leapfrog
            steps — the cap on gradient evaluations (solves) per draw.
        names: d parameter names for the summary table.
        progress: None; True prints a line to stderr after each chain's warmup and
            sampling; or ``progress(chain, n_chains, phase, seconds)`` with phase
            ``"warmup"`` or ``"sampling"``.

    Returns:
        :class:`NutsResult` — ``samples`` (n_chains, n_samples, d), mean, std, quantiles,
        credible intervals, ESS, R-hat, acceptance, divergences, gradient evaluations.

    Raises:
        InputError: a bad argument, or ``log_density`` not finite (or its gradient not
            finite) at a starting point.
        ImportError: BlackJAX is not installed (``pip install "femopt[uq]"``).
    """
    if not callable(log_density):
        raise InputError("log_density must be a function theta (d,) -> scalar; got "
                         + describe_value(log_density))
    n_samples = _count(n_samples, "n_samples", 4)
    n_warmup = _count(n_warmup, "n_warmup", 10)
    n_chains = _count(n_chains, "n_chains", 1)
    max_tree_depth = _count(max_tree_depth, "max_tree_depth", 1)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise InputError(f"seed must be an integer; got {describe_value(seed)}")
    if not (isinstance(target_acceptance, numbers.Real) and 0 < target_acceptance < 1):
        raise InputError(f"target_acceptance must be a number in (0, 1), e.g. 0.8; got "
                         f"{describe_value(target_acceptance)}")
    report = _progress_fn(progress)
    try:
        x0 = np.asarray(initial, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"initial must be a (d,) or (n_chains, d) array of numbers; got "
                         f"{describe_value(initial)}") from None
    if x0.ndim not in (1, 2) or x0.shape[-1] == 0 or (x0.ndim == 2 and x0.shape[0] != n_chains):
        raise InputError(f"initial must have shape (d,) or (n_chains, d) = ({n_chains}, d); got "
                         f"shape {x0.shape}")
    if not np.all(np.isfinite(x0)):
        raise InputError(f"initial must be finite; got {describe_value(x0.tolist())}")
    d = x0.shape[-1]
    names = () if names is None else tuple(str(n) for n in names)
    if names and len(names) != d:
        raise InputError(f"names must give {d} names, one per parameter; got {names!r}")
    starts = np.broadcast_to(x0, (n_chains, d))

    _blackjax()  # fail early, before compiling anything
    try:
        out = jax.eval_shape(log_density, jax.ShapeDtypeStruct((d,), jnp.float64))
    except Exception as exc:  # noqa: BLE001 - reported with the shape that was tried
        raise InputError(f"log_density could not be traced at a (d,) = ({d},) float64 input: "
                         f"{type(exc).__name__}: {exc}") from exc
    if not (hasattr(out, "shape") and out.shape == () and jnp.issubdtype(out.dtype, jnp.floating)):
        raise InputError(f"log_density must return a float scalar; given a ({d},) input it "
                         f"returns {describe_value(out)}")

    t0 = time.perf_counter()
    unique = [starts[0]] if x0.ndim == 1 else list(starts)
    for i, x in enumerate(unique):
        value, grad = _value_and_grad(jnp.asarray(x), log_density=log_density)
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            raise InputError(f"log_density is not finite at initial[{i}] = {x.tolist()}: value "
                             f"{float(value)}, gradient {np.asarray(grad).tolist()}; start where "
                             "the density is positive")
    n_grad = len(unique)

    master = jax.random.key(seed)
    samples, logd, accept, diverge, step_sizes, imms = [], [], [], [], [], []
    warmup_time = time.perf_counter() - t0
    for c in range(n_chains):
        k_warm, k_sample = jax.random.split(jax.random.fold_in(master, c))
        tw = time.perf_counter()
        state, eps, imm, warm_steps = _warmup(k_warm, jnp.asarray(starts[c]), log_density=log_density,
                                              n_warmup=n_warmup, target=float(target_acceptance),
                                              dense=bool(dense_mass), depth=max_tree_depth)
        jax.block_until_ready(state)
        warmup_time += time.perf_counter() - tw
        report(c, n_chains, "warmup", time.perf_counter() - tw)
        ts = time.perf_counter()
        pos, ld, acc, div, steps = jax.device_get(
            _sample(k_sample, state, eps, imm, log_density=log_density, n_samples=n_samples,
                    depth=max_tree_depth))
        report(c, n_chains, "sampling", time.perf_counter() - ts)
        n_grad += 1 + int(warm_steps) + int(np.sum(steps))   # 1: the chain's initial state
        samples.append(pos), logd.append(ld), accept.append(acc), diverge.append(div)
        step_sizes.append(float(eps)), imms.append(np.asarray(imm))
    samples = np.stack(samples)
    return NutsResult(samples=samples, log_density=np.stack(logd), ess=bulk_ess(samples),
                      rhat=split_rhat(samples), acceptance_rate=float(np.mean(accept)),
                      n_divergent=int(np.sum(diverge)), n_grad_evals=n_grad,
                      step_size=np.array(step_sizes), inverse_mass_matrix=np.stack(imms),
                      wall_time=time.perf_counter() - t0, warmup_time=warmup_time, names=names)
