"""Chunk kernels: residuals and tangents of many cells at once, laid out for XLA on CPU.

The one-cell kernels of :mod:`.kernels` state the mathematics; vmapped over cells they
run as many tiny batched contractions, which XLA on CPU executes at a few percent of
the machine's speed (docs/kernels.md). These kernels compute the same
numbers in three stages that XLA runs well:

1. Quadrature-point quantities, one *entry* at a time: the Jacobian J, its inverse,
   the field gradient, the law's flux and its derivatives (through
   :mod:`.scalarize`), and their pull-backs to the reference cell. Each entry is an
   array over all points of the chunk, shape ``(n_cells, n_points)``, so every
   operation is a long vectorized loop.
2. One GEMM with a fixed table (the reference-element trick): with G = dN·J⁻¹,

       K[a,i,b,k] = Σ_q Σ_mn dN[q,a,m] dN[q,b,n] · Ã[q,i,m,k,n],
       Ã[q,i,m,k,n] = w_q det J · Σ_jl J⁻¹[m,j] A[i,j,k,l] J⁻¹[n,l],

   so K for all cells is ``H @ Ã`` with ``H[(a,b),(q,m,n)]`` the same for every
   cell; terms with ∂flux/∂u, ∂source/∂∇u and ∂source/∂u add columns to H (N in
   place of dN). The residual is ``R @ P̃`` in the same way.
3. For a symmetric law only the rows a ≤ b of H are used; the assembler scatters them
   into the upper triangle and mirrors it.

Outputs are cells-first: residual ``(n_cells, c, n)``, tangent
``(n_cells, c, c, n_rows)`` with rows listed by :func:`tangent_rows`; the assembler's
scatter maps use the same layout, so nothing is transposed, and one cell's entries
are adjacent, which keeps the scatter's writes local.

What was measured (hex8 neo-Hookean, residual + tangent, one chunk of 1 000–2 000
cells on a 2-core AVX2 machine; process CPU time per cell, both XLA threads counted):
vmap of the one-cell kernels 37 µs; this module without the stored geometry of
:func:`_materialize` 8–9 µs, with it 4.5–6 µs; the pull-back as array operations on
stacked entries instead of entry by entry 12 µs; storing the law's outputs or its
intermediates as well: no gain. The GEMM is ~1 µs of it (XLA ≈ OpenBLAS, 15–25 G
multiply-adds/s for this shape). The law alone, vmapped over points in the usual way
(``jacfwd`` of the flux or ``hessian`` of the energy, points first or last), costs
0.5–1.3 µs per point, i.e. 4–10 µs per cell before any contraction.

Names (one chunk): N (q, n) shape functions, dN (q, n, d) reference gradients, w (q,)
weights, entries ``Ji[m][j]`` of J⁻¹, ``wJ`` weight × det J; c field components.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import entries as E
from .scalarize import evaluate_jaxpr, used_inputs

__all__ = ["KernelSpec", "tangent_rows", "chunk_kernel", "point_function"]


def tangent_rows(n: int, symmetric: bool):
    """Node pairs (a, b) of the tangent output rows: all n² pairs, a-major; for a
    symmetric law the pairs a < b, then the diagonal a = b (the rest are transposes)."""
    if not symmetric:
        return tuple((a, b) for a in range(n) for b in range(n))
    return tuple((a, b) for a in range(n) for b in range(a + 1, n)) + tuple((a, a) for a in range(n))


def point_function(law, tangent: bool):
    """The law at one point with its derivatives: ``f(g, u, x, p) -> dict`` with flux
    ``f`` (c, d), source ``s`` (c,) and, for the tangent, A = ∂f/∂g (c, d, c, d),
    B = ∂f/∂u (c, d, c), C = ∂s/∂g (c, c, d), D = ∂s/∂u (c, c). Derivatives that are
    identically zero are folded away later, so flags need not be trusted."""

    def at_point(g, u, x, p):
        out = {}
        flux = lambda g, u: law.flux(g, u, x, p)  # noqa: E731
        source = lambda g, u: law.source(g, u, x, p)  # noqa: E731
        f, s = flux(g, u), source(g, u)
        if f is not None:
            out["f"] = f
            if tangent:
                out["A"], out["B"] = jax.jacfwd(flux, (0, 1))(g, u)
        if s is not None:
            out["s"] = s
            if tangent:
                out["C"], out["D"] = jax.jacfwd(source, (0, 1))(g, u)
        return out

    return at_point


def _entries(array, lead: int):
    """``array`` of shape ``(*entry_shape, *rest)`` as an object array of its
    ``entry_shape = array.shape[:lead]`` entries, each a ``rest``-shaped array."""
    shape = array.shape[:lead]
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = array[idx]
    return out


def _det_inv(J):
    """Determinant and inverse of a d×d matrix of entries (d = 1, 2, 3)."""
    d = len(J)
    if d == 1:
        return J[0][0], [[1.0 / J[0][0]]]
    if d == 2:
        det = J[0][0] * J[1][1] - J[0][1] * J[1][0]
        return det, [[J[1][1] / det, -J[0][1] / det], [-J[1][0] / det, J[0][0] / det]]
    cof = [[J[1][1] * J[2][2] - J[1][2] * J[2][1], J[0][2] * J[2][1] - J[0][1] * J[2][2],
            J[0][1] * J[1][2] - J[0][2] * J[1][1]],
           [J[1][2] * J[2][0] - J[1][0] * J[2][2], J[0][0] * J[2][2] - J[0][2] * J[2][0],
            J[0][2] * J[1][0] - J[0][0] * J[1][2]],
           [J[1][0] * J[2][1] - J[1][1] * J[2][0], J[0][1] * J[2][0] - J[0][0] * J[2][1],
            J[0][0] * J[1][1] - J[0][1] * J[1][0]]]
    det = J[0][0] * cof[0][0] + J[0][1] * cof[1][0] + J[0][2] * cof[2][0]
    return det, [[cof[m][j] / det for j in range(3)] for m in range(3)]


def _materialize(g, Ji, WJi, wJ, shape):
    """The point geometry and field gradient as one stored array.

    XLA fuses cheap elementwise producers into every consumer; the law and the
    pull-back read these entries hundreds of times, so recomputing them in each fusion
    costs more than storing them once (measured ~30 % of the kernel, hex8 neo-Hookean)."""
    d = len(Ji)
    entries = [*g.ravel(), *(Ji[a][b] for a in range(d) for b in range(d)),
               *(WJi[a][b] for a in range(d) for b in range(d)), wJ]
    traced = [k for k, e in enumerate(entries) if not E.is_constant(e)]
    stored = jax.lax.optimization_barrier(
        jnp.stack([jnp.broadcast_to(entries[k], shape) for k in traced]))
    for row, k in enumerate(traced):
        entries[k] = stored[row]
    stored_g = np.empty(g.shape, dtype=object)
    for k, idx in enumerate(np.ndindex(*g.shape)):
        stored_g[idx] = entries[k]
    rest = entries[g.size:]
    Ji = [rest[a * d:(a + 1) * d] for a in range(d)]
    WJi = [rest[d * d + a * d:d * d + (a + 1) * d] for a in range(d)]
    return stored_g, Ji, WJi, rest[-1]


def _flatten(nested):
    for item in nested:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def _dot(pairs):
    acc = 0.0
    for a, b in pairs:
        acc = E.add(acc, E.mul(a, b))
    return acc


@dataclass(frozen=True, eq=False)
class KernelSpec:
    """What a compiled chunk kernel depends on besides array shapes."""

    law: object            # PointLaw
    tables: object         # CellTables
    tangent: bool
    symmetric: bool
    param_shapes: tuple    # ((name, kind, point_shape), ...) sorted by name


def _point_jaxpr(spec: KernelSpec):
    c, d = spec.law.c, spec.tables.dN.shape[2]
    sds = lambda shape: jax.ShapeDtypeStruct(shape, jnp.float64)  # noqa: E731
    params = {name: sds(shape) for name, _, shape in spec.param_shapes}
    fn = point_function(spec.law, spec.tangent)
    closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(sds((c, d)), sds((c,)), sds((d,)), params)
    return closed, jax.tree_util.tree_structure(out_shape)


def chunk_kernel(spec: KernelSpec):
    """A function ``(U (m, n, c), X (m, n, d), pg, pc, pn) -> (r (m, c, n)[, K (m, c, c, rows)])``
    for a chunk of m cells; ``pc`` values are ``(m, *point_shape)``, ``pn`` values
    ``(m, n, *point_shape)``. Not jitted: the caller jits and caches it."""
    tables = spec.tables
    Nt, dN, w = (np.asarray(a, dtype=np.float64) for a in (tables.N, tables.dN, tables.w))
    nq, n, d = dN.shape
    c = spec.law.c
    closed, out_tree = _point_jaxpr(spec)
    used = used_inputs(closed)  # per flattened input: g, u, x, then params by name
    g_used, u_used, x_used = used[:3]
    param_used = dict(zip([name for name, _, _ in spec.param_shapes], used[3:]))
    rows = tangent_rows(n, spec.symmetric)

    def kernel(U, X, pg, pc, pn):
        m = U.shape[0]
        shape = (m, nq)
        Jf = jnp.einsum("qak,eai->ikeq", dN, X)            # J[i, k] = ∂x_i/∂ξ_k
        det, Ji = _det_inv([[Jf[i, k] for k in range(d)] for i in range(d)])
        wJ = det * w[None, :]
        WJi = [[wJ * Ji[k][j] for j in range(d)] for k in range(d)]
        g = np.zeros((c, d), dtype=object)
        if g_used:
            Gr = jnp.einsum("qaj,eak->kjeq", dN, U)         # reference gradient
            for k in range(c):
                for j in range(d):
                    g[k, j] = _dot((Gr[k, mm], Ji[mm][j]) for mm in range(d))
        g, Ji, WJi, wJ = _materialize(g, Ji, WJi, wJ, shape)
        u = _entries(jnp.einsum("qa,eak->keq", Nt, U), 1) if u_used else np.zeros(c, dtype=object)
        x = _entries(jnp.einsum("qa,eai->ieq", Nt, X), 1) if x_used else np.zeros(d, dtype=object)
        p_args = []
        for name, kind, ps in spec.param_shapes:
            if not param_used[name]:
                p_args.append(np.zeros(ps, dtype=object))
            elif kind == "global":
                p_args.append(_entries(jnp.asarray(pg[name]), len(ps)))
            elif kind == "cell":
                v = jnp.moveaxis(jnp.asarray(pc[name]), 0, -1)[..., None]     # (*ps, m, 1)
                p_args.append(_entries(v, len(ps)))
            else:
                v = jnp.einsum("qa,ea...->...eq", Nt, jnp.asarray(pn[name]))  # (*ps, m, q)
                p_args.append(_entries(v, len(ps)))
        flat = evaluate_jaxpr(closed, [g, u, x, *p_args], shape)
        out = jax.tree_util.tree_unflatten(out_tree, flat)

        # Residual: r[a,i] = Σ_q Σ_m dN[q,a,m] P̃[q,i,m] + Σ_q N[q,a] wJ s[q,i].
        columns, tables_r = [], []
        if "f" in out:
            f = out["f"]
            columns += [[_dot((f[i, j], WJi[mm][j]) for j in range(d)) for i in range(c)] for mm in range(d)]
            tables_r.append(dN)                                         # (q, n, d)
        if "s" in out:
            columns.append([E.mul(wJ, out["s"][i]) for i in range(c)])
            tables_r.append(Nt[:, :, None])
        r = _contract(tables_r, columns, n, (c,), shape)
        if not spec.tangent:
            return r
        return r, _tangent(out, Ji, WJi, wJ, Nt, dN, rows, spec.symmetric, c, shape)

    return kernel


def _contract(tables, columns, n_rows, entry_shape, shape):
    """Σ over points and table columns of ``table[q, row, L] · operand[e, entry, q, L]``.

    ``tables`` is a list of (q, rows, L_t) arrays; ``columns`` the list of all L = ΣL_t
    column entries, each a nested list of ``entry_shape`` entries (arrays over
    ``shape = (m, q)`` or constants). One GEMM; returns ``(m, *entry_shape, rows)``."""
    m, nq = shape
    size = int(np.prod(entry_shape, dtype=int))
    if not columns:
        return jnp.zeros((m, *entry_shape, n_rows))
    table = np.concatenate(tables, axis=2)                            # (q, rows, L)
    flat = [list(_flatten(col)) for col in columns]                   # [L][entry]
    keep = [k for k in range(table.shape[2]) if not all(E.is_constant(e) and e == 0 for e in flat[k])]
    if not keep:
        return jnp.zeros((m, *entry_shape, n_rows))
    entries = [jnp.broadcast_to(jnp.asarray(flat[k][j], jnp.float64), shape) for j in range(size) for k in keep]
    operand = jnp.stack(entries, axis=1).reshape(m * size, len(keep) * nq)   # [(e, entry), (L, q)]
    H = np.transpose(table[:, :, keep], (1, 2, 0)).reshape(n_rows, -1)       # [row, (L, q)]
    return (operand @ jnp.asarray(H.T)).reshape(m, *entry_shape, n_rows)


def _tangent(out, Ji, WJi, wJ, Nt, dN, rows, symmetric, c, shape):
    """Tangent K[e, i, k, (a,b)] for the node pairs ``rows``, (m, c, c, n_rows).

    For a symmetric law A has the major symmetry A[i,j,k,l] = A[k,l,i,j], hence
    Ã[i,m,k,n] = Ã[k,n,i,m]: only (i, m) ≤ (k, n) is computed."""
    d = len(Ji)
    rows = np.asarray(rows)
    ra, rb = rows[:, 0], rows[:, 1]
    tables, columns = [], []
    if "A" in out:
        A = out["A"]
        At = {}
        for i in range(c):
            for mm in range(d):
                for k in range(c):
                    T = [_dot((WJi[mm][j], A[i, j, k, ll]) for j in range(d)) for ll in range(d)]
                    for nn in range(d):
                        if symmetric and (k, nn) < (i, mm):
                            continue
                        At[i, mm, k, nn] = _dot((T[ll], Ji[nn][ll]) for ll in range(d))
        get = (lambda i, mm, k, nn: At[(i, mm, k, nn)] if (i, mm, k, nn) in At else At[(k, nn, i, mm)])
        columns += [[[get(i, mm, k, nn) for k in range(c)] for i in range(c)]
                    for mm in range(d) for nn in range(d)]
        tables.append((dN[:, ra, :, None] * dN[:, rb, None, :]).reshape(dN.shape[0], len(rows), d * d))
    if "B" in out:
        B = out["B"]
        columns += [[[_dot((WJi[mm][j], B[i, j, k]) for j in range(d)) for k in range(c)] for i in range(c)]
                    for mm in range(d)]
        tables.append(dN[:, ra, :] * Nt[:, rb, None])
    if "C" in out:
        C = out["C"]
        columns += [[[_dot((C[i, k, ll], WJi[nn][ll]) for ll in range(d)) for k in range(c)] for i in range(c)]
                    for nn in range(d)]
        tables.append(Nt[:, ra, None] * dN[:, rb, :])
    if "D" in out:
        D = out["D"]
        columns.append([[E.mul(wJ, D[i, k]) for k in range(c)] for i in range(c)])
        tables.append((Nt[:, ra] * Nt[:, rb])[:, :, None])
    return _contract(tables, columns, len(rows), (c, c), shape)
