"""The global assembler: runs element kernels over cells in chunks and scatters.

JAX runs only inside a chunk: ``vmap`` of a one-cell kernel over a fixed-size chunk of
cells, ``jit``-compiled once per (law, element, rule, chunk size) and kept in a
module-level cache, so a second problem with the same physics compiles nothing. Chunks
bound the memory of per-point temporaries; what is kept across chunks is the output
(element matrices feeding one ``np.bincount`` into the CSR data).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..fem.elements import reference_element
from ..fem.quadrature import quadrature
from .kernels import (CellTables, PointLaw, cell_residual, cell_tables, cell_tangent,
                      facet_residual, facet_tangent)
from .pattern import SparsityPattern, build_pattern

__all__ = ["CellTerm", "FacetTerm", "Assembler", "DEFAULT_CHUNK_ENTRIES"]

_log = logging.getLogger("femopt.assembly")

#: Element-matrix entries per chunk (chunk size = this / (local dofs)²), ~16 MB of float64.
DEFAULT_CHUNK_ENTRIES = 2_000_000

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


def _compiled(kind, law, tables_key, tables, c, tangent):
    """jit(vmap(one-cell kernel)) for a chunk, cached across problems."""
    key = (kind, _law_key(law), tables_key, c, tangent)
    fn = _COMPILED.get(key)
    if fn is None:
        if kind == "cell":
            point_law = PointLaw(law, c)
            one = partial(cell_tangent if tangent else cell_residual, point_law, tables)
        else:
            one = partial(facet_tangent if tangent else facet_residual, law, tables)
        fn = jax.jit(jax.vmap(one, in_axes=(0, 0, None, 0, 0)))
        _COMPILED[key] = fn
    return fn


class _Block:
    """One term prepared for assembly: its cells' node ids, local→global dofs, tables."""

    def __init__(self, space, term, pattern_slots_fn):
        mesh = space.mesh
        c = space.n_components
        if isinstance(term, CellTerm):
            self.kind = "cell"
            self.law = term.law
            self.cells = np.arange(mesh.n_cells) if term.cells is None else np.asarray(term.cells)
            self.nodes = mesh.cells[self.cells]
            self.tables = cell_tables(space.element, space.quadrature)
            self.tables_key = (mesh.cell_type.name, space.quadrature.degree)
            self.local = None  # all local dofs of the cell
        else:
            self.kind = "facet"
            self.law = term.load
            facets = np.asarray(term.facets, dtype=np.int64).reshape(-1, 2)
            self.cells = facets[:, 0]
            ct = mesh.cell_type
            local_nodes = np.asarray(ct.facets, dtype=np.int64)[facets[:, 1]]  # (m, nf)
            self.nodes = np.take_along_axis(mesh.cells[self.cells], local_nodes, axis=1)
            facet_element = reference_element(ct.facet_type)
            rule = quadrature(ct.facet_type, max(1, 2 * facet_element.order))
            self.tables = cell_tables(facet_element, rule)
            self.tables_key = (ct.facet_type, rule.degree)
            self.local = (local_nodes[:, :, None] * c + np.arange(c)).reshape(len(facets), -1)
        self.dofs = (self.nodes[:, :, None] * c + np.arange(c)).reshape(len(self.nodes), -1)
        self._slots_fn = pattern_slots_fn
        self._slots = None

    @property
    def slots(self):
        """CSR slots of this block's element-matrix entries."""
        if self._slots is None:
            slots = self._slots_fn()[self.cells]
            if self.local is not None:
                slots = np.take_along_axis(slots, self.local[:, :, None], axis=1)
                slots = np.take_along_axis(slots, self.local[:, None, :], axis=2)
            self._slots = slots
        return self._slots


class Assembler:
    """Assembles the residual vector and tangent matrix of a set of terms on a space.

    Args:
        space: the FunctionSpace of the unknown field.
        cell_terms, facet_terms: lists of :class:`CellTerm` / :class:`FacetTerm`.
        chunk_entries: element-matrix entries per chunk (bounds kernel memory).
    """

    def __init__(self, space, cell_terms=(), facet_terms=(), *, chunk_entries=DEFAULT_CHUNK_ENTRIES):
        self.space = space
        self.chunk_entries = int(chunk_entries)
        self._pattern: SparsityPattern | None = None
        self.blocks = [_Block(space, t, lambda: self.pattern.slots) for t in (*cell_terms, *facet_terms)]

    @property
    def pattern(self) -> SparsityPattern:
        if self._pattern is None:
            mesh = self.space.mesh
            self._pattern = build_pattern(mesh.cells, mesh.n_nodes, self.space.n_components)
        return self._pattern

    def _chunks(self, block):
        nd = block.dofs.shape[1]
        size = max(64, self.chunk_entries // (nd * nd))
        m = len(block.cells)
        size = min(size, m)
        for start in range(0, m, size):
            idx = np.arange(start, min(start + size, m))
            pad = size - len(idx)
            yield idx, np.concatenate([idx, np.full(pad, idx[-1])]) if pad else idx

    def _run(self, block, U, params, tangent):
        """Yield (index range, residual (k, nd), tangent (k, nd, nd) or None) per chunk."""
        mesh, c = self.space.mesh, self.space.n_components
        pg, pc, pn = params
        fn = _compiled(block.kind, block.law, block.tables_key, block.tables, c, tangent)
        X_all = mesh.points[block.nodes]
        U_all = U[block.nodes]
        pc_all = {k: v[block.cells] for k, v in pc.items()}
        pn_all = {k: v[block.nodes] for k, v in pn.items()}
        for idx, padded in self._chunks(block):
            out = fn(U_all[padded], X_all[padded], pg,
                     {k: v[padded] for k, v in pc_all.items()},
                     {k: v[padded] for k, v in pn_all.items()})
            k = len(idx)
            if tangent:
                r, K = out
                nd = block.dofs.shape[1]
                yield idx, np.asarray(r).reshape(len(padded), nd)[:k], np.asarray(K).reshape(len(padded), nd, nd)[:k]
            else:
                yield idx, np.asarray(out).reshape(len(padded), -1)[:k], None

    def residual(self, u, params) -> np.ndarray:
        """Global residual ``(n_dofs,)`` at the flat dof vector ``u``."""
        U = np.asarray(u, dtype=np.float64).reshape(self.space.mesh.n_nodes, -1)
        r = np.zeros(self.space.n_dofs)
        for block in self.blocks:
            for idx, r_e, _ in self._run(block, U, params, tangent=False):
                r += np.bincount(block.dofs[idx].ravel(), weights=r_e.ravel(), minlength=r.size)
        return r

    def residual_and_tangent(self, u, params):
        """Residual ``(n_dofs,)`` and CSR tangent ``(n_dofs, n_dofs)`` at ``u``."""
        U = np.asarray(u, dtype=np.float64).reshape(self.space.mesh.n_nodes, -1)
        r = np.zeros(self.space.n_dofs)
        data = np.zeros(self.pattern.nnz)
        for block in self.blocks:
            nd = block.dofs.shape[1]
            K_all = np.empty((len(block.cells), nd, nd))
            for idx, r_e, K_e in self._run(block, U, params, tangent=True):
                r += np.bincount(block.dofs[idx].ravel(), weights=r_e.ravel(), minlength=r.size)
                K_all[idx] = K_e
            data += np.bincount(block.slots.ravel(), weights=K_all.ravel(), minlength=data.size)
        return r, self.pattern.matrix(data)
