"""Element kernels: residual and tangent of one cell (or facet) from a pointwise law.

The law is evaluated at quadrature points; the tangent comes from JAX derivatives of
the law *at the point* (∂flux/∂∇u etc.), contracted with the shape-function gradients.
Differentiating at the point instead of the whole element residual keeps the derivative
small (a (c·d)² block per point instead of an (n·c)² Jacobian of a long element
computation) — see docs/kernels.md for the measurements behind this choice.

These one-cell functions are the reference statement of the element mathematics (and
what the sensitivity layer differentiates). The assembler computes the same numbers for
whole chunks of cells through :mod:`.fast_kernels`, laid out for XLA on CPU.

Names inside the kernels (one cell, shapes in brackets):
  X (n, d) node coordinates, U (n, c) nodal field values, N (q, n) shape functions,
  dN (q, n, d) reference gradients, w (q,) weights, G (q, n, d) physical gradients,
  g (q, c, d) field gradient, wJ (q,) weight × Jacobian determinant.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..mesh.pieces import require_whole
from ..errors import InputError

__all__ = ["PointLaw", "CellTables", "cell_tables", "cell_residual", "cell_tangent",
           "facet_residual", "facet_tangent", "geometry", "inverted_points", "tangents_at_rest"]


@dataclass(frozen=True, eq=False)
class CellTables:
    """Constant tables of an element and a quadrature rule (NumPy, baked into kernels).

    N (q, n), dN (q, n, d), w (q,)."""

    N: np.ndarray
    dN: np.ndarray
    w: np.ndarray


def cell_tables(element, rule) -> CellTables:
    return CellTables(N=element.shape_functions(rule.points),
                      dN=element.shape_gradients(rule.points), w=np.asarray(rule.weights))


def _det_inv(J):
    """Determinant and inverse of (..., d, d) matrices for d = 1, 2, 3, written out."""
    d = J.shape[-1]
    if d == 1:
        det = J[..., 0, 0]
        return det, (1.0 / det)[..., None, None]
    if d == 2:
        a, b, c, e = J[..., 0, 0], J[..., 0, 1], J[..., 1, 0], J[..., 1, 1]
        det = a * e - b * c
        inv = jnp.stack([jnp.stack([e, -b], -1), jnp.stack([-c, a], -1)], -2)
        return det, inv / det[..., None, None]
    cof = jnp.stack([
        jnp.stack([J[..., 1, 1] * J[..., 2, 2] - J[..., 1, 2] * J[..., 2, 1],
                   J[..., 0, 2] * J[..., 2, 1] - J[..., 0, 1] * J[..., 2, 2],
                   J[..., 0, 1] * J[..., 1, 2] - J[..., 0, 2] * J[..., 1, 1]], -1),
        jnp.stack([J[..., 1, 2] * J[..., 2, 0] - J[..., 1, 0] * J[..., 2, 2],
                   J[..., 0, 0] * J[..., 2, 2] - J[..., 0, 2] * J[..., 2, 0],
                   J[..., 0, 2] * J[..., 1, 0] - J[..., 0, 0] * J[..., 1, 2]], -1),
        jnp.stack([J[..., 1, 0] * J[..., 2, 1] - J[..., 1, 1] * J[..., 2, 0],
                   J[..., 0, 1] * J[..., 2, 0] - J[..., 0, 0] * J[..., 2, 1],
                   J[..., 0, 0] * J[..., 1, 1] - J[..., 0, 1] * J[..., 1, 0]], -1),
    ], -2)
    det = J[..., 0, 0] * cof[..., 0, 0] + J[..., 0, 1] * cof[..., 1, 0] + J[..., 0, 2] * cof[..., 2, 0]
    return det, cof / det[..., None, None]


def geometry(tables: CellTables, X):
    """Physical gradients G (q, n, d) and weights wJ (q,) of one cell with nodes X (n, d)."""
    J = jnp.einsum("qaj,ai->qij", tables.dN, X)  # J[i, j] = ∂x_i/∂ξ_j
    det, inv = _det_inv(J)
    G = jnp.einsum("qaj,qji->qai", tables.dN, inv)
    return G, tables.w * det


def inverted_points(tables: CellTables, X):
    """Smallest Jacobian determinant over the quadrature points of each cell, X (m, n, d)."""
    J = jnp.einsum("qaj,mai->mqij", tables.dN, X)
    det, _ = _det_inv(J)
    return jnp.min(det, axis=1)


class PointLaw:
    """A physics (or volume load) seen at one point, with shapes normalized to
    flux (c, d) and source (c,) whatever the number of components."""

    def __init__(self, law, n_components: int):
        self.law = law
        self.c = n_components

    def _args(self, g, u):
        return (g[0], u[0]) if self.c == 1 else (g, u)

    def flux(self, g, u, x, p):
        f = self.law.flux(*self._args(g, u), x, p)
        return None if f is None else jnp.reshape(f, g.shape)

    def source(self, g, u, x, p):
        s = self.law.source(*self._args(g, u), x, p)
        return None if s is None else jnp.broadcast_to(jnp.reshape(s, (-1,)), u.shape)

    def check(self, dim, p):
        """Evaluate shapes once (abstractly) and name the culprit when they are wrong."""
        g = jax.ShapeDtypeStruct((self.c, dim), jnp.float64)
        u = jax.ShapeDtypeStruct((self.c,), jnp.float64)
        x = jax.ShapeDtypeStruct((dim,), jnp.float64)
        for what, fn, expected in (("flux", self.law.flux, (dim,) if self.c == 1 else (self.c, dim)),
                                   ("source", self.law.source, () if self.c == 1 else (self.c,))):
            try:
                out = jax.eval_shape(lambda g, u, x, p: fn(*self._args(g, u), x, p), g, u, x, p)
            except Exception as exc:  # the user's law failed to trace: say which one
                raise InputError(f"{type(self.law).__name__}.{what} failed on a point with "
                                 f"grad_u {expected if what == 'flux' else (self.c, dim)}: {exc}") from exc
            if out is not None and tuple(out.shape) not in (expected, (1,) if expected == () else expected):
                raise InputError(f"{type(self.law).__name__}.{what} returned shape {out.shape}, "
                                 f"expected {expected} for {self.c} component(s) in {dim}D")


def _point_params(pg, pc, pn, N_q):
    """Parameters at one point: globals, this cell's value, nodal values interpolated."""
    p = dict(pg)
    p.update(pc)
    p.update({k: jnp.tensordot(N_q, v, axes=(0, 0)) for k, v in pn.items()})
    return p


def _fields_at_points(tables, G, X, U):
    g = jnp.einsum("qai,ak->qki", G, U)
    u = tables.N @ U
    x = tables.N @ X
    return g, u, x


def cell_residual(law: PointLaw, tables: CellTables, U, X, pg, pc, pn):
    """Residual of one cell, (n, c)."""
    G, wJ = geometry(tables, X)
    g, u, x = _fields_at_points(tables, G, X, U)

    def at_point(g, u, x, N_q):
        p = _point_params(pg, pc, pn, N_q)
        f, s = law.flux(g, u, x, p), law.source(g, u, x, p)
        return (jnp.zeros_like(g) if f is None else f), (jnp.zeros_like(u) if s is None else s)

    f, s = jax.vmap(at_point)(g, u, x, tables.N)
    return jnp.einsum("q,qai,qki->ak", wJ, G, f) + jnp.einsum("q,qa,qk->ak", wJ, tables.N, s)


def cell_tangent(law: PointLaw, tables: CellTables, U, X, pg, pc, pn):
    """Residual (n, c) and tangent (n, c, n, c) of one cell."""
    G, wJ = geometry(tables, X)
    g, u, x = _fields_at_points(tables, G, X, U)
    flags = law.law
    n, c = U.shape

    def at_point(g, u, x, N_q):
        p = _point_params(pg, pc, pn, N_q)
        flux = partial(law.flux, x=x, p=p)
        source = partial(law.source, x=x, p=p)
        out = {}
        if flux(g, u) is not None:
            out["f"], out["A"] = flux(g, u), jax.jacfwd(flux, 0)(g, u)
            if getattr(flags, "flux_uses_value", True):
                out["B"] = jax.jacfwd(flux, 1)(g, u)
        if source(g, u) is not None:
            out["s"] = source(g, u)
            if getattr(flags, "source_uses_gradient", True):
                out["C"] = jax.jacfwd(source, 0)(g, u)
            if getattr(flags, "source_uses_value", True):
                out["D"] = jax.jacfwd(source, 1)(g, u)
        return out

    o = jax.vmap(at_point)(g, u, x, tables.N)
    N = tables.N
    r = jnp.zeros((n, c))
    K = jnp.zeros((n, c, n, c))
    if "f" in o:
        r = r + jnp.einsum("q,qai,qki->ak", wJ, G, o["f"])
        K = K + jnp.einsum("q,qaj,qijkl,qbl->aibk", wJ, G, o["A"], G)
    if "B" in o:
        K = K + jnp.einsum("q,qaj,qijk,qb->aibk", wJ, G, o["B"], N)
    if "s" in o:
        r = r + jnp.einsum("q,qa,qk->ak", wJ, N, o["s"])
    if "C" in o:
        K = K + jnp.einsum("q,qa,qikl,qbl->aibk", wJ, N, o["C"], G)
    if "D" in o:
        K = K + jnp.einsum("q,qa,qik,qb->aibk", wJ, N, o["D"], N)
    return r, K


def _facet_geometry(tables: CellTables, X):
    """Outward unit normals (q, d) and weights × surface measure (q,) of a facet with
    nodes X (n, d) in d = 2 or 3 dimensions."""
    T = jnp.einsum("qaj,ai->qij", tables.dN, X)  # tangents, (q, d, d-1)
    if X.shape[1] == 2:
        t = T[:, :, 0]
        normal = jnp.stack([t[:, 1], -t[:, 0]], -1)  # edge direction turned clockwise
    else:
        normal = jnp.cross(T[:, :, 0], T[:, :, 1])
    area = jnp.linalg.norm(normal, axis=-1)
    return normal / area[:, None], tables.w * area


def facet_residual(load, tables: CellTables, U, X, pg, pc, pn):
    """Residual (n, c) of a boundary load on one facet."""
    normal, wA = _facet_geometry(tables, X)
    u, x = tables.N @ U, tables.N @ X

    def at_point(u, x, n, N_q):
        return jnp.broadcast_to(load.integrand(u, x, n, _point_params(pg, pc, pn, N_q)), u.shape)

    gq = jax.vmap(at_point)(u, x, normal, tables.N)
    return jnp.einsum("q,qa,qk->ak", wA, tables.N, gq)


def facet_tangent(load, tables: CellTables, U, X, pg, pc, pn):
    """Residual (n, c) and tangent (n, c, n, c) of a boundary load on one facet."""
    normal, wA = _facet_geometry(tables, X)
    u, x = tables.N @ U, tables.N @ X

    def at_point(u, x, n, N_q):
        p = _point_params(pg, pc, pn, N_q)
        fn = lambda uu: jnp.broadcast_to(load.integrand(uu, x, n, p), u.shape)
        return fn(u), jax.jacfwd(fn)(u)

    gq, dg = jax.vmap(at_point)(u, x, normal, tables.N)
    N = tables.N
    return (jnp.einsum("q,qa,qk->ak", wA, N, gq),
            jnp.einsum("q,qa,qik,qb->aibk", wA, N, dg, N))


def tangents_at_rest(physics, space, split, chunk_entries: int = 4_000_000):
    """Yield ``(cell ids, matrices (k, n c, n c))``: every cell's tangent at u = 0 with the
    split parameters ``(global, per cell, per node)``, in chunks of about
    ``chunk_entries`` matrix entries (one compiled ``vmap`` over the cells). For a linear
    physics these are its cell stiffness matrices; design models scale them by a per-cell
    parameter instead of re-running the kernels."""
    pg, pc, pn = split
    mesh, c = space.mesh, space.n_components
    require_whole(mesh, "computing cell stiffness matrices")
    law, tables = PointLaw(physics, c), cell_tables(space.element, space.quadrature)
    n = mesh.cells.shape[1]
    U = jnp.zeros((n, c))

    def one(X, pcc, pnc):
        _, K = cell_tangent(law, tables, U, X, pg, pcc, pnc)
        return jnp.reshape(K, (n * c, n * c))

    fn = jax.jit(jax.vmap(one))
    size = max(1, min(mesh.n_cells, chunk_entries // (n * c) ** 2))
    for start in range(0, mesh.n_cells, size):
        ids = np.arange(start, min(start + size, mesh.n_cells))
        nodes = mesh.cells[ids]
        yield ids, np.asarray(fn(mesh.points[nodes], {k: v[ids] for k, v in pc.items()},
                                 {k: v[nodes] for k, v in pn.items()}))
