"""The method of moving asymptotes (Svanberg 1987), in the form of Svanberg's 2007 notes
("MMA and GCMMA — two methods for nonlinear optimization").

Why written here, from the notes, instead of wrapping a port: the optimizer's whole
state (previous two iterates and the asymptotes) must be plain arrays the checkpoint can
store, so that a resumed run is bitwise the uninterrupted one; the subproblem is small
dense linear algebra that NumPy vectorizes; and the code can follow the notes equation
by equation (the names below are the notes' names), which is what makes it reviewable.

The problem solved is

    min f₀(x) + a₀ z + Σ (c_i y_i + ½ d_i y_i²)
    s.t. f_i(x) − a_i z − y_i ≤ 0,  lower ≤ x ≤ upper,  y, z ≥ 0,

with a₀ = 1, a_i = 0, d_i = 1 and c_i large (1000): for a feasible problem y = 0 at the
optimum and this is the ordinary NLP. Each iteration:

1. asymptotes: L = x − s (upper − lower), U = x + s (upper − lower) with s = 0.5 for the
   first two iterations; after that each gap shrinks by 0.7 where x oscillates and
   grows by 1.2 where it moves steadily, kept between 0.01 and 10 times (upper − lower);
2. move limits α = max(lower, L + 0.1 (x − L), x − 0.5 (upper − lower)), β likewise;
3. the convex separable approximation with p_ij, q_ij from the positive/negative parts
   of ∂f_i/∂x_j plus the regularization 0.001 |∂f_i/∂x_j| + 10⁻⁵/(upper − lower);
4. the subproblem solved by the primal–dual interior-point method of the notes
   (``subsolv``), ε lowered from 1 to 10⁻⁷ by factors of 10.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .base import OptimizationError, Optimizer

__all__ = ["MMA", "mma_subproblem", "LocalVariables"]


class LocalVariables:
    """Sums and maxima over the design variables when this process holds all of them.

    The subproblem touches the variables only elementwise and through sums over them
    (``P @ v``, ``G diag(w) Gᵀ``, residual norms, the largest feasible step). A process
    holding a part of the variables (one MPI rank's cells) passes an object with the same
    two methods whose results are reduced over all processes, and every process then
    takes the same dual steps on its own part (:mod:`femopt.distributed`)."""

    @staticmethod
    def sum(local):
        """Σ over all variables of the partial sums ``local`` (an array of any shape)."""
        return local

    @staticmethod
    def max(local: float) -> float:
        """The largest of every process's ``local``."""
        return local


class MMA(Optimizer):
    """Svanberg's MMA with its standard asymptote and move-limit updates.

    Args:
        move: move limit as a fraction of (upper − lower) (Svanberg 2007: 0.5; topology
            optimization codes often use 0.2).
        asyinit, asyincr, asydecr: initial asymptote distance and its growth / shrink
            factors (0.5, 1.2, 0.7).
        albefa: how close to an asymptote a move may go (0.1).
        c: weight of the constraint-violation variables y (1000); raise it if a
            converged design violates a constraint.
    """

    def __init__(self, move: float = 0.5, *, asyinit: float = 0.5, asyincr: float = 1.2,
                 asydecr: float = 0.7, albefa: float = 0.1, c: float = 1000.0):
        if not 0 < move <= 1 or not 0 < asyinit <= 1 or not asyincr >= 1 or not 0 < asydecr <= 1:
            raise InputError(f"MMA needs 0 < move <= 1, 0 < asyinit <= 1, asyincr >= 1 and "
                             f"0 < asydecr <= 1; got move={move}, asyinit={asyinit}, "
                             f"asyincr={asyincr}, asydecr={asydecr}")
        self.move, self.asyinit, self.asyincr, self.asydecr = float(move), float(asyinit), float(asyincr), float(asydecr)
        self.albefa, self.c = float(albefa), float(c)
        self.reductions = LocalVariables()

    def with_reductions(self, reductions) -> "MMA":
        """A copy whose steps work on a part of the variables, summing over all parts with
        ``reductions`` (see :class:`LocalVariables`); the settings are the same."""
        other = MMA(self.move, asyinit=self.asyinit, asyincr=self.asyincr, asydecr=self.asydecr,
                    albefa=self.albefa, c=self.c)
        other.reductions = reductions
        return other

    def init_state(self, n, m):
        empty = np.zeros(n)
        return {"xold1": empty.copy(), "xold2": empty.copy(), "low": empty.copy(), "upp": empty.copy(),
                "steps": np.array(0)}

    def step(self, iteration, x, evaluation, lower, upper, state, constraint_values):
        k = int(state["steps"]) + 1  # the notes count from 1
        span = upper - lower
        if k <= 2:
            low, upp = x - self.asyinit * span, x + self.asyinit * span
        else:
            trend = (x - state["xold1"]) * (state["xold1"] - state["xold2"])
            factor = np.where(trend > 0, self.asyincr, np.where(trend < 0, self.asydecr, 1.0))
            low = x - factor * (state["xold1"] - state["low"])
            upp = x + factor * (state["upp"] - state["xold1"])
            low = np.clip(low, x - 10.0 * span, x - 0.01 * span)
            upp = np.clip(upp, x + 0.01 * span, x + 10.0 * span)
        alfa = np.maximum.reduce([low + self.albefa * (x - low), x - self.move * span, lower])
        beta = np.minimum.reduce([upp - self.albefa * (upp - x), x + self.move * span, upper])
        m = evaluation.g.size
        x_new = mma_subproblem(x, evaluation.df, evaluation.g, evaluation.dg.reshape(m, x.size), low, upp,
                               alfa, beta, span, c=np.full(m, self.c), d=np.ones(m), reductions=self.reductions)
        state["xold2"], state["xold1"] = state["xold1"], x.copy()
        state["low"], state["upp"], state["steps"] = low, upp, np.array(k)
        return x_new


def mma_subproblem(x, df0, fval, dfdx, low, upp, alfa, beta, span, *, a0=1.0, a=None, c=None, d=None,
                   reductions=None):
    """Build and solve one MMA subproblem; returns the new x ``(n,)``.

    ``df0 (n,)``: objective gradient; ``fval (m,)``, ``dfdx (m, n)``: constraint values
    and gradients; ``low, upp``: asymptotes; ``alfa, beta``: move limits. With
    ``reductions`` (see :class:`LocalVariables`) the arrays ``(n,)`` are this process's
    part of the variables and the sums run over all parts."""
    R = LocalVariables() if reductions is None else reductions
    m = fval.size
    a = np.zeros(m) if a is None else a
    c = np.full(m, 1000.0) if c is None else c
    d = np.ones(m) if d is None else d
    raa0 = 1e-5
    span_inv = 1.0 / np.maximum(span, 1e-5)
    ux2, xl2 = (upp - x) ** 2, (x - low) ** 2
    p0, q0 = np.maximum(df0, 0.0), np.maximum(-df0, 0.0)
    pq0 = 0.001 * (p0 + q0) + raa0 * span_inv
    p0, q0 = (p0 + pq0) * ux2, (q0 + pq0) * xl2
    P, Q = np.maximum(dfdx, 0.0), np.maximum(-dfdx, 0.0)
    PQ = 0.001 * (P + Q) + raa0 * span_inv[None, :]
    P, Q = (P + PQ) * ux2[None, :], (Q + PQ) * xl2[None, :]
    b = R.sum(P @ (1.0 / (upp - x)) + Q @ (1.0 / (x - low))) - fval
    return _subsolv(low, upp, alfa, beta, p0, q0, P, Q, a0, a, b, c, d, R)


def _residual(x, y, z, lam, xsi, eta, mu, zet, s, epsi, low, upp, alfa, beta, p0, q0, P, Q, a0, a, b, c, d, R):
    """The optimality conditions' residual as ``(2-norm, largest entry)`` over all parts."""
    plam, qlam = p0 + P.T @ lam, q0 + Q.T @ lam
    gvec = R.sum(P @ (1.0 / (upp - x)) + Q @ (1.0 / (x - low)))
    dpsidx = plam / (upp - x) ** 2 - qlam / (x - low) ** 2
    per_variable = np.concatenate([dpsidx - xsi + eta, xsi * (x - alfa) - epsi, eta * (beta - x) - epsi])
    small = np.concatenate([c + d * y - mu - lam, [a0 - zet - a @ lam], gvec - a * z - y + s - b,
                            mu * y - epsi, [zet * z - epsi], lam * s - epsi])
    squares = R.sum(np.array([per_variable @ per_variable]))[0] + small @ small
    worst = max(R.max(float(np.abs(per_variable).max(initial=0.0))), float(np.abs(small).max()))
    return float(np.sqrt(squares)), worst


def _subsolv(low, upp, alfa, beta, p0, q0, P, Q, a0, a, b, c, d, R):
    """Primal–dual Newton for the MMA subproblem (Svanberg's ``subsolv``)."""
    m, n_here = P.shape
    n = int(round(R.sum(np.array([float(n_here)]))[0]))     # all variables, on every part
    epsi = 1.0
    x = 0.5 * (alfa + beta)
    y, z, lam = np.ones(m), 1.0, np.ones(m)
    xsi = np.maximum(1.0 / (x - alfa), 1.0)
    eta = np.maximum(1.0 / (beta - x), 1.0)
    mu, zet, s = np.maximum(1.0, 0.5 * c), 1.0, np.ones(m)
    fixed = (low, upp, alfa, beta, p0, q0, P, Q, a0, a, b, c, d, R)
    while epsi > 1e-7:
        norm, worst = _residual(x, y, z, lam, xsi, eta, mu, zet, s, epsi, *fixed)
        inner = 0
        while worst > 0.9 * epsi and inner < 200:
            inner += 1
            ux1, xl1 = upp - x, x - low
            plam, qlam = p0 + P.T @ lam, q0 + Q.T @ lam
            gvec = R.sum(P @ (1.0 / ux1) + Q @ (1.0 / xl1))
            GG = P / ux1[None, :] ** 2 - Q / xl1[None, :] ** 2
            dpsidx = plam / ux1 ** 2 - qlam / xl1 ** 2
            delx = dpsidx - epsi / (x - alfa) + epsi / (beta - x)
            dely = c + d * y - lam - epsi / y
            delz = a0 - a @ lam - epsi / z
            dellam = gvec - a * z - y - b + epsi / lam
            diagx = 2.0 * (plam / ux1 ** 3 + qlam / xl1 ** 3) + xsi / (x - alfa) + eta / (beta - x)
            diagy = d + mu / y
            diaglamyi = s / lam + 1.0 / diagy
            if m < n:
                blam = dellam + dely / diagy - R.sum(GG @ (delx / diagx))
                A = np.diag(diaglamyi) + R.sum((GG / diagx[None, :]) @ GG.T)
                AA = np.block([[A, a[:, None]], [a[None, :], np.array([[-zet / z]])]])
                sol = np.linalg.solve(AA, np.concatenate([blam, [delz]]))
                dlam, dz = sol[:m], sol[m]
                dx = -delx / diagx - (GG.T @ dlam) / diagx
            else:                        # as many constraints as variables: all on this process
                dellamyi = dellam + dely / diagy
                Axx = np.diag(diagx) + (GG.T / diaglamyi[None, :]) @ GG
                azz = zet / z + a @ (a / diaglamyi)
                axz = -GG.T @ (a / diaglamyi)
                bx = delx + GG.T @ (dellamyi / diaglamyi)
                bz = delz - a @ (dellamyi / diaglamyi)
                AA = np.block([[Axx, axz[:, None]], [axz[None, :], np.array([[azz]])]])
                sol = np.linalg.solve(AA, -np.concatenate([bx, [bz]]))
                dx, dz = sol[:n], sol[n]
                dlam = (GG @ dx) / diaglamyi - dz * (a / diaglamyi) + dellamyi / diaglamyi
            dy = -dely / diagy + dlam / diagy
            dxsi = -xsi + epsi / (x - alfa) - (xsi * dx) / (x - alfa)
            deta = -eta + epsi / (beta - x) + (eta * dx) / (beta - x)
            dmu = -mu + epsi / y - (mu * dy) / y
            dzet = -zet + epsi / z - zet * dz / z
            ds = -s + epsi / lam - (s * dlam) / lam
            xx = np.concatenate([y, [z], lam, mu, [zet], s])
            dxx = np.concatenate([dy, [dz], dlam, dmu, [dzet], ds])
            # Largest step keeping every slack and multiplier positive (1% margin).
            per_variable = np.concatenate([-1.01 * dxsi / xsi, -1.01 * deta / eta, -1.01 * dx / (x - alfa),
                                           1.01 * dx / (beta - x)])
            largest = max(float(np.max(-1.01 * dxx / xx)), R.max(float(per_variable.max(initial=-np.inf))), 1.0)
            step = 1.0 / largest
            old = (x, y, z, lam, xsi, eta, mu, zet, s)
            new_norm, halvings = 2.0 * norm, 0
            while new_norm > norm and halvings < 50:
                halvings += 1
                x, y, z, lam, xsi, eta, mu, zet, s = (o + step * do for o, do in zip(
                    old, (dx, dy, dz, dlam, dxsi, deta, dmu, dzet, ds)))
                new_norm, new_worst = _residual(x, y, z, lam, xsi, eta, mu, zet, s, epsi, *fixed)
                step /= 2.0
            norm, worst = new_norm, new_worst
        epsi *= 0.1
    if not np.all(np.isfinite(x)):
        raise OptimizationError("the MMA subproblem produced non-finite values (check the scaling of "
                                "the objective and constraints, and that gradients are finite)")
    return x
