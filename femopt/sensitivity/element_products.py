"""Products with the derivatives of the global residual R(u, p, X), cell by cell.

Sensitivities never form ∂R/∂p or ∂R/∂X. They need them applied to one vector:

* ``vjp``:  λᵀ ∂R/∂(u, p, X)                       (adjoint gradients),
* ``jvp``:  ∂R/∂(u, p, X) · (δu, δp, δX)           (direct sensitivities, tangent solves),
* ``hvp``:  ∂/∂(u, p, X) [λᵀ ∂R/∂(u, p, X) · δ]     (second-order adjoint, forward over
  reverse).

Each is ``jax.vjp`` / ``jax.jvp`` of the very one-cell kernels Newton assembles with
(:func:`~femopt.assembly.kernels.cell_residual`, ``facet_residual``), ``vmap``-ed over a
chunk of cells, ``jit``-compiled once and scattered with ``np.bincount`` — so the
derivative is of exactly the residual Newton solved, and a chunk's memory is bounded.

Two choices keep compilation rare (compiling, not running, dominates small problems):

* every parameter reaches the kernel as a per-cell value (a global one is broadcast) or
  a per-node value, so a global and a per-cell ``E`` share one compiled kernel; the
  per-cell cotangent of a global parameter is summed;
* chunks have one fixed size (small meshes padded), and kernels are cached by (operation, law,
  element, components), not by problem — a second problem with the same physics reuses
  them.

Point loads (``Problem.point_load``) are the one residual term outside the kernels: they
are affine in their parameter and independent of u and X, so their columns of ∂R/∂p are
read once from ``Problem.external_point_forces``.
"""
from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping
from functools import partial

import jax
import numpy as np

from ..assembly.kernels import PointLaw, cell_residual, facet_residual
from ..assembly.parameters import CELL, GLOBAL, NODE
from ..errors import InputError, InternalError
from ..functionals.compiled import tuned_jit

__all__ = ["ResidualProducts", "Cotangents", "residual_products"]

#: Cells per kernel call, whatever the mesh size: every mesh (small ones padded) runs the
#: same compiled kernel, so a mesh-convergence study compiles each product once.
CHUNK = 1024

_KERNELS: dict = {}


@dataclasses.dataclass
class Cotangents:
    """A row vector times ∂R (or a second-order product), split by what it multiplies.

    Attributes:
        u: ``(n_dofs,)``.
        params: name → array of the parameter's own shape (global: point shape;
            per-cell ``(n_cells, ...)``; per-node ``(n_nodes, ...)``).
        coordinates: ``(n_nodes, dim)``.
    """

    u: np.ndarray
    params: dict
    coordinates: np.ndarray


def _law_key(law):
    """Hashable key of what a law's compiled kernel depends on (not parameter values)."""
    key = getattr(law, "cache_key", None)
    if callable(key):
        return key()
    if dataclasses.is_dataclass(law):  # loads: their kernel depends on type, name, value_fn
        return (type(law),) + tuple(getattr(law, f.name) for f in dataclasses.fields(law))
    return law


def _law_parameters(law):
    """Names a law reads: a load's ``parameter_names()``, a physics' ``parameters``;
    None when it does not say (then it gets every parameter)."""
    names = getattr(law, "parameter_names", None)
    if callable(names):
        return tuple(names())
    declared = getattr(law, "parameters", None)
    if isinstance(declared, Mapping):
        return tuple(declared)
    return None


def _chunk_size(m):
    return CHUNK


def _kernel(operation, kind, law, tables_key, tables, c):
    """jit(vmap(operation on one cell)), cached across problems."""
    key = (operation, kind, _law_key(law), tables_key, c)
    fn = _KERNELS.get(key)
    if fn is not None:
        return fn
    if kind == "cell":
        residual = partial(cell_residual, PointLaw(law, c), tables)
    else:
        residual = partial(facet_residual, law, tables)

    def one(U, X, pc, pn):
        return residual(U, X, {}, pc, pn)

    def vjp(U, X, pc, pn, lam):
        _, pullback = jax.vjp(one, U, X, pc, pn)
        return pullback(lam)

    def vjp_params(U, X, pc, pn, lam):
        # the parameters' cotangents only: no work for ∂R/∂u, ∂R/∂X
        _, pullback = jax.vjp(lambda pc_, pn_: one(U, X, pc_, pn_), pc, pn)
        return pullback(lam)

    def jvp(U, X, pc, pn, dU, dX, dpc, dpn):
        return jax.jvp(one, (U, X, pc, pn), (dU, dX, dpc, dpn))[1]

    def hvp(U, X, pc, pn, lam, dU, dX, dpc, dpn):
        # forward over reverse: the directional derivative of λᵀ∂R along δ
        return jax.jvp(lambda *a: vjp(*a, lam), (U, X, pc, pn), (dU, dX, dpc, dpn))[1]

    fn = tuned_jit(jax.vmap({"vjp": vjp, "vjp_params": vjp_params, "jvp": jvp, "hvp": hvp}[operation]))
    _KERNELS[key] = fn
    return fn


class ResidualProducts:
    """vjp / jvp / hvp of a problem's global residual, applied element by element.

    Made for the problem's current assembler (its terms); :func:`residual_products`
    returns a cached one that is rebuilt when loads are added.
    """

    def __init__(self, problem):
        # a weak reference: the cache of products is keyed by the problem
        self._problem = weakref.ref(problem)
        self.assembler = problem.assembler
        self.space = problem.space
        self.mesh = problem.mesh
        self._blocks = []
        for block in self.assembler.blocks:
            self._blocks.append((block, _law_parameters(block.law)))
        self._point_columns = None

    @property
    def problem(self):
        return self._problem()

    # -- parameters ---------------------------------------------------------------------
    def _split(self, params):
        """(per-cell values incl. broadcast globals, per-node values, layout) where
        layout maps name → (kind, point shape)."""
        pg, pc, pn = self.problem.split(params)
        n_cells = self.mesh.n_cells
        cell_values, node_values, layout = {}, {}, {}
        for name, value in pg.items():
            value = np.asarray(value, dtype=np.float64)
            cell_values[name] = np.broadcast_to(value, (n_cells,) + value.shape)
            layout[name] = (GLOBAL, value.shape)
        for name, value in pc.items():
            cell_values[name] = np.asarray(value, dtype=np.float64)
            layout[name] = (CELL, cell_values[name].shape[1:])
        for name, value in pn.items():
            node_values[name] = np.asarray(value, dtype=np.float64)
            layout[name] = (NODE, node_values[name].shape[1:])
        return cell_values, node_values, layout

    def value_shape(self, kind, point_shape):
        """Shape of a parameter value of this kind."""
        lead = {GLOBAL: (), CELL: (self.mesh.n_cells,), NODE: (self.mesh.n_nodes,)}[kind]
        return lead + tuple(point_shape)

    def _tangents(self, dparams, layout):
        """Per-cell and per-node tangents shaped like the kernel inputs (zero if absent)."""
        n_cells = self.mesh.n_cells
        dcell, dnode = {}, {}
        for name, (kind, point_shape) in layout.items():
            shape = self.value_shape(kind, point_shape)
            d = dparams.get(name) if dparams else None
            d = np.zeros(shape) if d is None else np.asarray(getattr(d, "values", d), dtype=np.float64)
            if d.shape != shape:
                raise InternalError(f"tangent of {name!r} has shape {d.shape}, expected {shape}")
            if kind == GLOBAL:
                dcell[name] = np.broadcast_to(d, (n_cells,) + shape)
            elif kind == CELL:
                dcell[name] = d
            else:
                dnode[name] = d
        return dcell, dnode

    # -- the loop over blocks and chunks --------------------------------------------------
    def _run(self, operation, u, params, lam=None, du=None, dparams=None, dX=None, only=None):
        cell_values, node_values, layout = self._split(params)
        reverse = operation in ("vjp", "vjp_params")
        c = self.space.n_components
        n_nodes, dim = self.mesh.n_nodes, self.mesh.dim
        U = np.asarray(u, dtype=np.float64).reshape(n_nodes, c)
        X = np.asarray(self.mesh.points, dtype=np.float64)
        Lam = None if lam is None else np.asarray(lam, dtype=np.float64).reshape(n_nodes, c)
        if not reverse:
            dU = np.zeros((n_nodes, c)) if du is None else np.asarray(du, dtype=np.float64).reshape(n_nodes, c)
            dXa = np.zeros((n_nodes, dim)) if dX is None else np.asarray(dX, dtype=np.float64)
            dcell, dnode = self._tangents(dparams, layout)
        out = _Accumulator(self, layout, vector=(operation == "jvp"))
        for j, (block, law_names) in enumerate(self._blocks):
            names = set(cell_values) | set(node_values) if law_names is None else set(law_names)
            pick_c = [k for k in cell_values if k in names]
            pick_n = [k for k in node_values if k in names]
            if only is not None and not (set(pick_c) | set(pick_n)) & only:
                continue                 # a block whose law reads none of the wanted parameters
            args = (cell_values, node_values, pick_c, pick_n, U, X, Lam)
            tangents = None if reverse else (dU, dXa, dcell, dnode)
            try:
                results = list(self._block_chunks(operation, block, args, tangents))
            except KeyError as error:
                if law_names is None:
                    raise InputError(f"{type(block.law).__name__} reads the parameter {error}, which this "
                                     f"problem does not have ({sorted(layout)})") from error
                # The law reads a parameter it does not declare (allowed by the assembly):
                # from now on it gets them all.
                self._blocks[j] = (block, None)
                results = list(self._block_chunks(operation, block, (cell_values, node_values, list(cell_values),
                                                                     list(node_values), U, X, Lam), tangents))
            for idx, k, result in results:
                if operation == "jvp":
                    out.add_vector(block.dofs[idx], np.asarray(result)[:k])
                elif operation == "vjp_params":
                    out.add_cotangents(block, idx, k, None, None, *result)
                else:
                    gU, gX, gpc, gpn = result
                    out.add_cotangents(block, idx, k, gU, gX, gpc, gpn)
        return out, layout

    def _block_chunks(self, operation, block, args, tangents):
        """Yield (entity ids, count, kernel output) for each padded chunk of a block."""
        cell_values, node_values, pick_c, pick_n, U, X, Lam = args
        fn = _kernel(operation, block.kind, block.law, block.tables_key, block.tables, self.space.n_components)
        cells, nodes = block.cells, block.nodes
        size = _chunk_size(len(cells))
        for start in range(0, len(cells), size):
            idx = np.arange(start, min(start + size, len(cells)))
            padded = np.concatenate([idx, np.full(size - len(idx), idx[-1])]) if len(idx) < size else idx
            ce, ne = cells[padded], nodes[padded]
            call = [U[ne], X[ne], {k: cell_values[k][ce] for k in pick_c}, {k: node_values[k][ne] for k in pick_n}]
            if operation in ("vjp", "vjp_params", "hvp"):
                call.append(Lam[ne])
            if tangents is not None:
                dU, dXa, dcell, dnode = tangents
                call += [dU[ne], dXa[ne], {k: dcell[k][ce] for k in pick_c}, {k: dnode[k][ne] for k in pick_n}]
            yield idx, len(idx), fn(*call)

    def _point_load_columns(self, params, layout):
        """name → (n_dofs, size) columns of −∂R/∂p for point-load parameters (cached)."""
        if self._point_columns is None:
            zero = {k: np.zeros(np.shape(getattr(v, "values", v))) for k, v in params.items()}
            columns = {}
            for name, (kind, shape) in layout.items():
                if kind != GLOBAL:
                    continue
                size = int(np.prod(shape))
                cols = []
                for j in range(size):
                    trial = dict(zero)
                    trial[name] = np.eye(size)[j].reshape(shape)
                    cols.append(self.problem.external_point_forces(trial))
                block = np.stack(cols, axis=1)
                if np.any(block):
                    columns[name] = block
            self._point_columns = columns
        return self._point_columns

    # -- public products ------------------------------------------------------------------
    def vjp(self, u, params, lam, *, only=None) -> Cotangents:
        """λᵀ ∂R/∂u, λᵀ ∂R/∂p, λᵀ ∂R/∂X at ``(u, params)`` for ``lam (n_dofs,)``.

        ``only``: names of parameters: then only their cotangents are wanted — ``u`` and
        ``coordinates`` come back zero, blocks that read none of them are skipped, and
        other parameters' entries are not meaningful."""
        only = None if only is None else set(only)
        out, layout = self._run("vjp" if only is None else "vjp_params", u, params, lam=lam, only=only)
        result = out.cotangents()
        lam = np.asarray(lam, dtype=np.float64)
        for name, cols in self._point_load_columns(params, layout).items():
            result.params[name] = result.params[name] - (lam @ cols).reshape(layout[name][1])
        return result

    def jvp(self, u, params, du=None, dparams=None, dX=None) -> np.ndarray:
        """∂R/∂u δu + ∂R/∂p δp + ∂R/∂X δX, ``(n_dofs,)``; absent tangents are zero."""
        out, layout = self._run("jvp", u, params, du=du, dparams=dparams, dX=dX)
        r = out.vector
        for name, cols in self._point_load_columns(params, layout).items():
            d = (dparams or {}).get(name)
            if d is not None:
                r = r - cols @ np.asarray(d, dtype=np.float64).ravel()
        return r

    def hvp(self, u, params, lam, du=None, dparams=None, dX=None) -> Cotangents:
        """Second-order product: the derivative along (δu, δp, δX) of λᵀ ∂R/∂(u, p, X)
        (point loads are affine in p and contribute nothing)."""
        out, _ = self._run("hvp", u, params, lam=lam, du=du, dparams=dparams, dX=dX)
        return out.cotangents()


class _Accumulator:
    """Scatter of per-cell kernel outputs into global arrays (``np.bincount``)."""

    def __init__(self, products, layout, vector):
        self.n_dofs = products.space.n_dofs
        self.n_nodes, self.dim = products.mesh.n_nodes, products.mesh.dim
        self.n_cells = products.mesh.n_cells
        self.layout = layout
        if vector:
            self.vector = np.zeros(self.n_dofs)
        else:
            self.u = np.zeros(self.n_dofs)
            self.X = np.zeros(self.n_nodes * self.dim)
            rows = {GLOBAL: 1, CELL: self.n_cells, NODE: self.n_nodes}
            self.params = {name: np.zeros((rows[kind], int(np.prod(shape, dtype=int))))
                           for name, (kind, shape) in layout.items()}

    def add_vector(self, dofs, values):
        self.vector += np.bincount(dofs.ravel(), weights=values.ravel(), minlength=self.n_dofs)

    def add_cotangents(self, block, idx, k, gU, gX, gpc, gpn):
        nodes = block.nodes[idx]
        if gU is not None:
            self.u += np.bincount(block.dofs[idx].ravel(), weights=np.asarray(gU)[:k].ravel(),
                                  minlength=self.n_dofs)
        if gX is not None:
            xdofs = (nodes[:, :, None] * self.dim + np.arange(self.dim)).ravel()
            self.X += np.bincount(xdofs, weights=np.asarray(gX)[:k].ravel(), minlength=self.X.size)
        for name, g in gpc.items():
            kind, _ = self.layout[name]
            g = np.asarray(g)[:k].reshape(k, -1)
            target = self.params[name]
            if kind == GLOBAL:
                target += g.sum(axis=0)[None, :]
            else:
                for j in range(g.shape[1]):
                    target[:, j] += np.bincount(block.cells[idx], weights=g[:, j], minlength=self.n_cells)
        for name, g in gpn.items():
            g = np.asarray(g)[:k]
            g = g.reshape(g.shape[0] * g.shape[1], -1)
            target = self.params[name]
            for j in range(g.shape[1]):
                target[:, j] += np.bincount(nodes.ravel(), weights=g[:, j], minlength=self.n_nodes)

    def cotangents(self) -> Cotangents:
        params = {}
        for name, (kind, shape) in self.layout.items():
            lead = () if kind == GLOBAL else ((self.n_nodes if kind == NODE else self.n_cells),)
            params[name] = self.params[name].reshape(lead + shape)
        return Cotangents(u=self.u, params=params, coordinates=self.X.reshape(self.n_nodes, self.dim))


_PRODUCTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def residual_products(problem) -> ResidualProducts:
    """The :class:`ResidualProducts` of ``problem``'s current terms (cached per problem,
    rebuilt when its assembler changes, i.e. when loads are added)."""
    products = _PRODUCTS.get(problem)
    if products is None or products.assembler is not problem.assembler:
        products = ResidualProducts(problem)
        _PRODUCTS[problem] = products
    return products
