"""Matrix-free tangent of a linear problem: K v without storing K.

For a physics whose residual is affine in the field (``physics.linear``), the free-free
tangent applied to a vector is the directional derivative of the residual,
``K v = d/dt R(t v)``: a ``jax.jvp`` of the one-cell residual of
:mod:`femopt.assembly.kernels`, evaluated over chunks of cells (``vmap``) inside a
``lax.scan`` and scatter-added into the output with ``.at[].add`` — one compiled XLA
program per operator, so the same code runs on a GPU. Cell geometry is recomputed on
every apply (nothing per cell is stored but the node ids and per-cell parameters):
memory is O(n_dofs + n_cells), against O(nnz) for the assembled CSR matrix.

Boundary terms (tractions, convection) are handled the same way with the one-facet
residual, so a Robin condition enters K and a traction enters the load vector only.
The diagonal (for Jacobi / Chebyshev) comes from the one-cell tangent kernel, chunked
and scattered the same way, so the fine matrix is never assembled.

Padding: the last chunk is filled with copies of the first cell, whose scatter indices
are sent out of range (``n_dofs``) and dropped (``mode="drop"``).
"""
from __future__ import annotations

import logging
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg as spla

from ..assembly.kernels import PointLaw, cell_residual, cell_tangent, facet_residual, facet_tangent
from ..errors import InputError

__all__ = ["MatrixFreeOperator", "DEFAULT_CHUNK"]

_log = logging.getLogger("femopt.solvers")

#: Cells per scan step: enough to keep vector units busy, small enough that the chunk's
#: temporaries (a few hundred floats per cell) stay in cache.
DEFAULT_CHUNK = 2048


def _one_entity(block, c):
    """One-entity residual and tangent functions ``(U, X, pg, pc, pn)`` of a block."""
    if block.kind == "cell":
        law = PointLaw(block.law, c)
        return partial(cell_residual, law, block.tables), partial(cell_tangent, law, block.tables)
    return partial(facet_residual, block.law, block.tables), partial(facet_tangent, block.law, block.tables)


class _ChunkedBlock:
    """A block's entities padded to whole chunks: node ids ``(n_chunks, chunk, n_e)``
    (int32 when they fit), per-cell parameters ``(n_chunks, chunk, ...)``."""

    def __init__(self, block, c, pc, chunk):
        self.residual_fn, self.tangent_fn = _one_entity(block, c)
        count = len(block.nodes)
        size = max(1, min(chunk, count))
        n_chunks = -(-count // size)
        pad = n_chunks * size - count
        index_type = np.int32 if block.nodes.max(initial=0) < 2**31 - 1 else np.int64
        nodes = np.concatenate([block.nodes, np.repeat(block.nodes[:1], pad, axis=0)])
        self.count = count
        self.size = size
        self.nodes = jnp.asarray(nodes.reshape(n_chunks, size, -1).astype(index_type))
        cells = np.concatenate([block.cells, np.repeat(block.cells[:1], pad)])
        self.pc = {k: jnp.asarray(np.asarray(v)[cells].reshape(n_chunks, size, *np.shape(v)[1:]))
                   for k, v in pc.items()}

    @property
    def data(self):
        return (self.nodes, self.pc)


def _scan_blocks(blocks, out, evaluate, points, pg, pn, data, c):
    """``out`` plus the scatter-add over every block of ``evaluate(block, nodes, X, pc,
    pn_e) -> (m, n_e, c)`` per chunk."""
    n_dofs = out.shape[0]
    for block, (nodes_all, pc_all) in zip(blocks, data):
        starts = jnp.arange(nodes_all.shape[0]) * block.size

        def body(acc, step, block=block):
            nodes, pc, start = step
            values = evaluate(block, nodes, points[nodes], pg, pc, {k: v[nodes] for k, v in pn.items()})
            valid = (start + jnp.arange(block.size)) < block.count
            dofs = nodes[:, :, None] * c + jnp.arange(c)[None, None, :]
            dofs = jnp.where(valid[:, None, None], dofs, n_dofs)
            return acc.at[dofs.reshape(-1)].add(values.reshape(-1), mode="drop"), None

        out, _ = jax.lax.scan(body, out, (nodes_all, pc_all, starts))
    return out


def _tangent_values(block, nodes, X, pg, pc, pn, V):
    batched = jax.vmap(block.residual_fn, in_axes=(0, 0, None, 0, 0))
    V_e = V[nodes]
    _, dR = jax.jvp(lambda U: batched(U, X, pg, pc, pn), (jnp.zeros_like(V_e),), (V_e,))
    return dR


def _residual_values(block, nodes, X, pg, pc, pn, U):
    return jax.vmap(block.residual_fn, in_axes=(0, 0, None, 0, 0))(U[nodes], X, pg, pc, pn)


def _diagonal_values(block, nodes, X, pg, pc, pn, U):
    _, K = jax.vmap(block.tangent_fn, in_axes=(0, 0, None, 0, 0))(U[nodes], X, pg, pc, pn)
    return jnp.einsum("makak->mak", K)


class MatrixFreeOperator(spla.LinearOperator):
    """The free-free tangent ``K_ff`` of a linear problem as a matrix-free operator.

    Args:
        problem: a :class:`~femopt.Problem` with a linear physics (``physics.linear``),
            supports fixed and loads applied.
        params: parameter overrides (name → value), e.g. ``{"E": E_cells}`` with
            ``E_cells (n_cells,)``.
        chunk: cells per chunk of the compiled loop (bounds temporary memory).

    The operator is a ``scipy.sparse.linalg.LinearOperator`` of shape
    ``(n_free, n_free)``; :meth:`apply` is the same product on JAX arrays (no host
    round trip, for device-resident solvers).

    Raises:
        InputError: the physics is not linear, or ``chunk`` is not a positive integer.
        ParameterError: a parameter value is not finite or not admissible.
    """

    def __init__(self, problem, params=None, *, chunk: int = DEFAULT_CHUNK):
        if not getattr(problem.physics, "linear", False):
            raise InputError(f"MatrixFreeOperator needs a linear physics (physics.linear True); "
                             f"{type(problem.physics).__name__} is not: use problem.solve() (Newton)")
        if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
            raise InputError(f"chunk must be a positive integer (cells per chunk), got {chunk!r}")
        params = problem.parameters(params)
        problem.check_parameters(params)
        self.problem = problem
        self.params = params
        space = problem.space
        c = space.n_components
        self.n_components = c
        self.n_dofs = space.n_dofs
        pg, pc, pn = problem.split(params)
        blocks = problem.assembler.blocks  # entity tables only: no sparsity pattern is built
        self._blocks = [_ChunkedBlock(b, c, pc, int(chunk)) for b in blocks]
        self._pg = {k: jnp.asarray(v) for k, v in pg.items()}
        self._pn = {k: jnp.asarray(v) for k, v in pn.items()}
        self._points = jnp.asarray(problem.mesh.points)
        part = problem.partition
        self.free = np.asarray(part.free)
        self._free = jnp.asarray(self.free.astype(np.int32 if self.n_dofs < 2**31 - 1 else np.int64))
        self._prescribed = part.prescribed
        self._prescribed_values = problem.prescribed_values()
        self._point_forces = problem.external_point_forces(params)
        self._diagonal = None
        self._element_jit = {}
        n_free = self.free.size
        super().__init__(dtype=np.float64, shape=(n_free, n_free))
        self._apply_jit = jax.jit(self.product)
        self._transpose_jit = jax.jit(self._transpose_free)
        self._full_jit = jax.jit(partial(self._run, _tangent_values))
        self._residual_jit = jax.jit(partial(self._run, _residual_values))
        self._diagonal_jit = jax.jit(partial(self._run, _diagonal_values))
        _log.debug("matrix-free operator: %d free dofs, %d block(s), chunk %d", n_free, len(blocks), chunk)

    # -- the compiled loops --------------------------------------------------------------
    def _run(self, evaluate, vector, points, pg, pn, data):
        """Scatter-added block values ``(n_dofs,)`` of ``evaluate`` at the flat ``vector``."""
        field = vector.reshape(-1, self.n_components)
        fn = lambda block, nodes, X, pg, pc, pn: evaluate(block, nodes, X, pg, pc, pn, field)
        return _scan_blocks(self._blocks, jnp.zeros(self.n_dofs), fn, points, pg, pn, data,
                            self.n_components)

    def product(self, x, points, pg, pn, data, free):
        """``K_ff x`` as a pure JAX function of the :meth:`arguments` (for use inside
        ``jit``: nothing large is closed over)."""
        full = jnp.zeros(self.n_dofs).at[free].set(x)
        return self._run(_tangent_values, full, points, pg, pn, data)[free]

    def arguments(self):
        """The arrays :meth:`product` takes: coordinates, global / nodal parameters, the
        chunked node ids and cell parameters, the free dof ids."""
        return self._points, self._pg, self._pn, tuple(b.data for b in self._blocks), self._free

    # -- public products -----------------------------------------------------------------
    def apply(self, x):
        """``K_ff x`` on a JAX array ``(n_free,)`` (stays on the device)."""
        return self._apply_jit(x, *self.arguments())

    def apply_full(self, v) -> np.ndarray:
        """``K v`` for a full dof vector ``(n_dofs,)``, all rows and columns."""
        return np.asarray(self._full_jit(jnp.asarray(v, dtype=jnp.float64), *self.arguments()[:4]))

    def _matvec(self, x):
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        return np.asarray(self.apply(jnp.asarray(x)))

    def _rmatvec(self, y):
        """``K_ffᵀ y`` by transposing the linear map (``jax.vjp``): right for any linear
        physics, symmetric or not."""
        y = jnp.asarray(np.asarray(y, dtype=np.float64).reshape(-1))
        return np.asarray(self._transpose_jit(y, *self.arguments()))

    def _transpose_free(self, y, points, pg, pn, data, free):
        _, pullback = jax.vjp(lambda x: self.product(x, points, pg, pn, data, free), jnp.zeros_like(y))
        return pullback(y)[0]

    def residual(self, u) -> np.ndarray:
        """Global residual ``R(u)`` ``(n_dofs,)`` (point loads included), without
        assembling: the same vector as ``problem.residual(u, params)``."""
        r = self._residual_jit(jnp.asarray(u, dtype=jnp.float64), *self.arguments()[:4])
        return np.asarray(r) - self._point_forces

    def load_vector(self) -> np.ndarray:
        """Right-hand side on the free dofs ``(n_free,)``: ``-R(u_p)`` restricted to the free
        dofs, ``u_p`` the prescribed values with zeros elsewhere (so the prescribed values'
        coupling ``K_fp u_p`` is subtracted)."""
        return -self.residual(self.lifting())[self.free]

    def lifting(self) -> np.ndarray:
        """The prescribed values as a full dof vector ``(n_dofs,)``, zero on free dofs."""
        u = np.zeros(self.n_dofs)
        u[self._prescribed] = self._prescribed_values
        return u

    def diagonal(self) -> np.ndarray:
        """``diag(K_ff)`` ``(n_free,)`` from per-cell tangent diagonals, never a matrix."""
        if self._diagonal is None:
            full = self._diagonal_jit(jnp.zeros(self.n_dofs), *self.arguments()[:4])
            self._diagonal = np.asarray(full)[self.free]
        return self._diagonal

    def element_matrices(self):
        """Yield ``(dofs (m, k), K_e (m, k, k))`` chunk by chunk over every block (cells,
        then boundary facets), ``k = n_e · c`` local dofs in node-major order, padding
        removed. Memory: one chunk; the sum of the ``K_e`` is the full tangent ``K``."""
        points, pg, pn, data, _ = self.arguments()
        c = self.n_components
        for index, (block, (nodes_all, pc_all)) in enumerate(zip(self._blocks, data)):
            fn = self._element_jit.get(index)
            if fn is None:
                batched = jax.vmap(block.tangent_fn, in_axes=(0, 0, None, 0, 0))

                def element_tangents(nodes, pc, points, pg, pn, batched=batched):  # linear: K at u = 0
                    pn_e = {k: v[nodes] for k, v in pn.items()}
                    return batched(jnp.zeros((*nodes.shape, c)), points[nodes], pg, pc, pn_e)[1]

                fn = self._element_jit[index] = jax.jit(element_tangents)
            for j in range(nodes_all.shape[0]):
                nodes = nodes_all[j]
                K = np.asarray(fn(nodes, {k: v[j] for k, v in pc_all.items()}, points, pg, pn))
                m = min(block.size, block.count - j * block.size)
                k = K.shape[1] * c
                dofs = (np.asarray(nodes[:m], dtype=np.int64)[:, :, None] * c + np.arange(c)).reshape(m, k)
                yield dofs, K[:m].reshape(m, k, k)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the operator holds (node ids, coordinates, parameters,
        free dof ids, the cached diagonal)."""
        arrays = [self._points, self._free, *self._pg.values(), *self._pn.values()]
        for block in self._blocks:
            arrays += [block.nodes, *block.pc.values()]
        total = sum(int(a.nbytes) for a in arrays)
        return total + (0 if self._diagonal is None else self._diagonal.nbytes)
