"""The global assembler: runs chunk kernels over cells and scatters into CSR.

JAX runs only inside a chunk: a compiled kernel over a fixed number of cells (the last
chunk padded), cached at module level per (law, element, rule, parameter layout), so
a second problem with the same physics compiles nothing. Volume terms use the chunk
kernels of :mod:`.fast_kernels` (the same numbers as ``vmap`` of the one-cell kernels
of :mod:`.kernels`, several times faster); boundary terms, and volume terms when asked
with ``kernels="vmap"``, use ``jit(vmap(one-cell kernel))``.

Chunks bound memory: each chunk's output is scattered into the global residual and
CSR data by precomputed plans (:mod:`.scatter`) while the next chunk computes (JAX
dispatches asynchronously), and is then dropped.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..fem.elements import reference_element
from ..fem.quadrature import quadrature
from ..mesh.pieces import require_whole
from .fast_kernels import KernelSpec, chunk_kernel, tangent_rows
from .kernels import PointLaw, cell_residual, cell_tables, cell_tangent, facet_residual, facet_tangent
from .._memory import check_memory
from .pattern import SparsityPattern, build_pattern, estimate_pattern_bytes
from .scatter import make_plan

__all__ = ["CellTerm", "FacetTerm", "Assembler", "DEFAULT_CHUNK_ENTRIES"]

_log = logging.getLogger("femopt.assembly")

#: Element-matrix entries per chunk (chunk size = this / (local dofs)²), ~10 MB of
#: float64: big enough to amortize per-operation overheads, small enough for the cache.
DEFAULT_CHUNK_ENTRIES = 1_200_000

#: Most entities per chunk (padding a small mesh to a whole chunk costs little below it).
MAX_CHUNK = 2048

#: chunks dispatched ahead of the one being scattered (JAX runs them while NumPy scatters)
_IN_FLIGHT = 2

_COMPILED: dict = {}


@dataclass(frozen=True, eq=False)
class CellTerm:
    """A volume law (physics or volume load) integrated over ``cells`` (None: all)."""

    law: object
    cells: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class FacetTerm:
    """A boundary load integrated over ``facets`` ((n, 2): cell id, local facet id)."""

    load: object
    facets: np.ndarray


def _law_key(law):
    key = getattr(law, "cache_key", None)
    return key() if callable(key) else law


def _param_layout(params):
    pg, pc, pn = params
    return tuple(sorted([(k, "global", tuple(np.shape(v))) for k, v in pg.items()]
                        + [(k, "cell", tuple(np.shape(v)[1:])) for k, v in pc.items()]
                        + [(k, "node", tuple(np.shape(v)[1:])) for k, v in pn.items()]))


def _vmap_kernel(block, c, tangent):
    """jit(vmap(one-cell kernel)) with outputs in the chunk kernels' cells-first layout:
    residual (m, c, n), tangent (m, c, c, n·n) with rows (a, b) a-major."""
    if block.kind == "cell":
        one = partial(cell_tangent if tangent else cell_residual, PointLaw(block.law, c), block.tables)
    else:
        one = partial(facet_tangent if tangent else facet_residual, block.law, block.tables)
    batched = jax.vmap(one, in_axes=(0, 0, None, 0, 0))
    n = block.nodes.shape[1]

    def kernel(U, X, pg, pc, pn):
        out = batched(U, X, pg, pc, pn)
        if not tangent:
            return jnp.swapaxes(out, 1, 2)
        r, K = out                                               # (m, n, c), (m, n, c, n, c)
        return jnp.swapaxes(r, 1, 2), jnp.transpose(K, (0, 2, 4, 1, 3)).reshape(-1, c, c, n * n)

    return kernel


#: XLA options for the chunk kernels (long flat graphs): the classic loop emitters
#: compile them about twice as fast as the default ones and run as fast.
_FAST_KERNEL_OPTIONS = {"xla_cpu_use_fusion_emitters": False}


def _jit_with_options(fn):
    """``jax.jit`` with :data:`_FAST_KERNEL_OPTIONS`, or plain if this JAX/XLA lacks them."""
    plain = jax.jit(fn)
    try:
        with_options = jax.jit(fn, compiler_options=_FAST_KERNEL_OPTIONS)
    except TypeError:  # a JAX without per-function compiler options
        return plain
    state = {"fn": with_options}

    def call(*args):
        try:
            return state["fn"](*args)
        except Exception as error:  # an XLA without the option rejects it by name
            if state["fn"] is plain or "xla_cpu_use_fusion_emitters" not in str(error):
                raise
            state["fn"] = plain
            return plain(*args)

    return call


class _Block:
    """One term prepared for assembly: its cells' node ids, local→global dofs, tables.

    Attributes: ``kind`` ("cell"/"facet"), ``law``, ``cells`` (cell ids), ``nodes``
    (node ids per entity), ``local_nodes`` (facets: cell-local node numbers), ``dofs``,
    ``tables``, ``tables_key``, ``local`` (facets: cell-local dofs)."""

    def __init__(self, space, term, slots_fn):
        mesh = space.mesh
        c = space.n_components
        if isinstance(term, CellTerm):
            self.kind = "cell"
            self.law = term.law
            self.cells = np.arange(mesh.n_cells) if term.cells is None else np.asarray(term.cells, dtype=np.int64)
            self.nodes = mesh.cells[self.cells]
            self.tables = cell_tables(space.element, space.quadrature)
            self.tables_key = (mesh.cell_type.name, space.quadrature.degree)
            self.local_nodes = None
            self.local = None  # all local dofs of the cell
        else:
            self.kind = "facet"
            self.law = term.load
            facets = np.asarray(term.facets, dtype=np.int64).reshape(-1, 2)
            self.cells = facets[:, 0]
            ct = mesh.cell_type
            self.local_nodes = np.asarray(ct.facets, dtype=np.int64)[facets[:, 1]]  # (m, nf)
            self.nodes = np.take_along_axis(mesh.cells[self.cells], self.local_nodes, axis=1)
            facet_element = reference_element(ct.facet_type)
            rule = quadrature(ct.facet_type, max(1, 2 * facet_element.order))
            self.tables = cell_tables(facet_element, rule)
            self.tables_key = (ct.facet_type, rule.degree)
            self.local = (self.local_nodes[:, :, None] * c + np.arange(c)).reshape(len(facets), -1)
        self.dofs = (self.nodes[:, :, None] * c + np.arange(c)).reshape(len(self.nodes), -1)
        self.points = mesh.points[self.nodes]
        self._slots_fn = slots_fn
        self.plans: dict = {}

    @property
    def slots(self):
        """CSR slots ``(n_entities, n_local_dofs, n_local_dofs)`` of this block's entries."""
        slots = self._slots_fn()[self.cells]
        if self.local is not None:
            slots = np.take_along_axis(slots, self.local[:, :, None], axis=1)
            slots = np.take_along_axis(slots, self.local[:, None, :], axis=2)
        return slots


class Assembler:
    """Assembles the residual vector and tangent matrix of a set of terms on a space.

    Args:
        space: the FunctionSpace of the unknown field.
        cell_terms, facet_terms: lists of :class:`CellTerm` / :class:`FacetTerm`.
        chunk_entries: element-matrix entries per chunk (bounds kernel memory).
        kernels: ``"fast"`` (default) runs volume terms through the chunk kernels of
            :mod:`.fast_kernels`; ``"vmap"`` through ``vmap`` of the one-cell kernels
            (the reference formulation; same numbers to round-off, slower).
    """

    def __init__(self, space, cell_terms=(), facet_terms=(), *, chunk_entries=DEFAULT_CHUNK_ENTRIES,
                 kernels: str = "fast"):
        if kernels not in ("fast", "vmap"):
            raise InputError(f"kernels must be 'fast' or 'vmap', got {kernels!r}")
        self.space = space
        self.chunk_entries = int(chunk_entries)
        self.kernels = kernels
        self._pattern: SparsityPattern | None = None
        # a term over no cells or facets adds nothing (a piece of a distributed mesh may hold
        # none of a boundary's facets): it gets no block
        terms = [t for t in cell_terms if t.cells is None or np.size(t.cells)]
        terms += [t for t in facet_terms if np.size(t.facets)]
        self.blocks = [_Block(space, t, lambda: self.pattern.slots) for t in terms]

    @property
    def pattern(self) -> SparsityPattern:
        """The sparsity pattern, built once per (mesh topology, components) and kept on
        the mesh, so a new problem on the same mesh does not build it again (1-2 s at
        200k dofs; meshes derived with the same cells share it)."""
        if self._pattern is None:
            mesh = self.space.mesh
            c = self.space.n_components
            cache = getattr(mesh, "_cache", {})
            if ("sparsity", c) in cache and cache[("sparsity", c)].cells is mesh.cells:
                self._pattern = cache[("sparsity", c)]
                return self._pattern
            estimate = estimate_pattern_bytes(mesh.n_cells, mesh.cells.shape[1], mesh.n_nodes, c,
                                              mesh.cell_type.name)
            check_memory(estimate, f"assembling {mesh.n_nodes * c} dofs on {mesh.n_cells} "
                                   f"{mesh.cell_type.name} cells (sparsity pattern and matrix)",
                         hint="Use a coarser mesh or a lower-order cell type.")
            self._pattern = cache[("sparsity", c)] = build_pattern(mesh.cells, mesh.n_nodes, c)
        return self._pattern

    def chunk_size(self, block) -> int:
        """Entities per chunk of a block: ``chunk_entries`` / (local dofs)², rounded down
        to a power of two and at most :data:`MAX_CHUNK` — whatever the mesh size, so a
        kernel compiles once per (law, element, rule, parameter layout) and every mesh,
        small meshes padded, runs the same compiled code (a mesh-convergence study used to
        compile again for each new size). Chunks of 1024-2048 hex8 cells were measured
        fastest."""
        nd = block.dofs.shape[1]
        largest = max(1, self.chunk_entries // (nd * nd))
        return min(MAX_CHUNK, 1 << (largest.bit_length() - 1))

    def _symmetric(self, block) -> bool:
        """Whether the block's kernel computes the upper half only (see fast_kernels)."""
        return block.kind == "cell" and self.kernels == "fast" and bool(getattr(block.law, "symmetric", False))

    def _kernel(self, block, params, tangent):
        """Compiled chunk kernel and the node pairs of its tangent output rows."""
        c = self.space.n_components
        fast = block.kind == "cell" and self.kernels == "fast"
        symmetric = self._symmetric(block)
        layout = _param_layout(params)
        key = (block.kind, fast, _law_key(block.law), block.tables_key, c, tangent, symmetric, layout)
        fn = _COMPILED.get(key)
        if fn is None:
            _log.debug("new %s kernel for %s on %s (tangent=%s, symmetric=%s)", "chunk" if fast else "vmap",
                       type(block.law).__name__, block.tables_key, tangent, symmetric)
            if fast:
                spec = KernelSpec(PointLaw(block.law, c), block.tables, tangent, symmetric, layout)
                fn = _jit_with_options(chunk_kernel(spec))
            else:
                fn = jax.jit(_vmap_kernel(block, c, tangent))
            _COMPILED[key] = fn
        return fn, np.asarray(tangent_rows(block.nodes.shape[1], symmetric))

    def _plans(self, block, rows, tangent):
        """Scatter plans of a block; a tangent plan serves the residual too."""
        size = self.chunk_size(block)
        key = (size, rows.tobytes())
        if key in block.plans:
            return block.plans[key]
        if not tangent:
            for (other_size, _), plans in block.plans.items():
                if other_size == size:
                    return plans
        block.plans[key if tangent else (size, b"")] = plans = make_plan(
            block, self.pattern, size, rows, tangent, upper=self._symmetric(block))
        return plans

    def _run(self, block, U, params, tangent):
        """Yield (chunk plan, residual (size, c, n), tangent (size, c, c, rows) or None),
        the next chunk's kernel already dispatched while the caller scatters."""
        pg, pc, pn = params
        fn, rows = self._kernel(block, params, tangent)
        plans = self._plans(block, rows, tangent)
        pc_all = {k: np.asarray(v)[block.cells] for k, v in pc.items()}
        pn_all = {k: np.asarray(v)[block.nodes] for k, v in pn.items()}

        def launch(plan):
            e = plan.entities
            return fn(U[block.nodes[e]], block.points[e], pg,
                      {k: v[e] for k, v in pc_all.items()}, {k: v[e] for k, v in pn_all.items()})

        pending = deque(launch(plan) for plan in plans[:_IN_FLIGHT])
        for j, plan in enumerate(plans):
            out = pending.popleft()
            if j + _IN_FLIGHT < len(plans):
                pending.append(launch(plans[j + _IN_FLIGHT]))
            if tangent:
                r, K = out
                yield plan, np.asarray(r), np.asarray(K)
            else:
                yield plan, np.asarray(out), None

    def residual(self, u, params, *, magnitude: bool = False) -> np.ndarray:
        """Global residual ``(n_dofs,)`` at the flat dof vector ``u``.

        ``magnitude=True`` sums the absolute values of the cell and facet contributions
        instead: the size of what the residual adds up, against which its round-off
        is measured (an equilibrium sums large contributions to a small total)."""
        require_whole(self.space.mesh, "assembling a residual")
        U = np.asarray(u, dtype=np.float64).reshape(self.space.mesh.n_nodes, -1)
        r = np.zeros(self.space.n_dofs)
        for block in self.blocks:
            for plan, r_e, _ in self._run(block, U, params, tangent=False):
                plan.dofs.add_to(r, np.abs(r_e).ravel() if magnitude else r_e.ravel())
        return r

    def residual_and_tangent(self, u, params):
        """Residual ``(n_dofs,)`` and CSR tangent ``(n_dofs, n_dofs)`` at ``u``."""
        require_whole(self.space.mesh, "assembling a tangent")
        U = np.asarray(u, dtype=np.float64).reshape(self.space.mesh.n_nodes, -1)
        r = np.zeros(self.space.n_dofs)
        data = np.zeros(self.pattern.nnz)
        # Symmetric blocks fill the upper triangle only; mirror it before the others add in.
        ordered = sorted(self.blocks, key=lambda block: not self._symmetric(block))
        n_symmetric = sum(map(self._symmetric, self.blocks))
        for j, block in enumerate(ordered):
            if j == n_symmetric and n_symmetric:
                self.pattern.mirror_lower(data)
            for plan, r_e, K_e in self._run(block, U, params, tangent=True):
                plan.dofs.add_to(r, r_e.ravel())
                plan.slots.add_to(data, K_e.ravel())
        if n_symmetric == len(ordered) and n_symmetric:
            self.pattern.mirror_lower(data)
        return r, self.pattern.matrix(data)
