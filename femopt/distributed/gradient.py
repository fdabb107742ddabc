"""Adjoint gradients on PETSc: ``DistributedProblem.gradient``.

At the converged state ``u`` of ``R(u, p) = 0`` and a functional ``J(u, p)``:

1. **J and ∂J/∂u, ∂J/∂p**: a functional that is a function of cell integrals
   (:mod:`.functionals`: compliance, volume, mean, p-norms, ...) is evaluated by each rank
   on its cells and summed over the ranks; others are evaluated whole on every rank on
   the gathered state. ∂J/∂u goes into a PETSc vector (ghost rows summed onto owners).
2. **Adjoint solve** ``Kᵀ λ = ∂J/∂u`` on the free dofs (λ = 0 where u is prescribed), with
   the problem's KSP and the tangent at the solution: the same KSP solve for a symmetric
   physics (reusing the preconditioner or the LU factorization), ``KSPSolveTranspose``
   otherwise. As in :mod:`femopt.sensitivity.adjoint`, a linear symmetric problem with
   homogeneous supports whose ∂J/∂u is its load (compliance) needs no solve: λ = u when
   ``||∂J/∂u − b|| <= 1e-10 ||∂J/∂u||``, b the right-hand side the state was solved with
   (norms reduced over all ranks).
3. **dJ/dp = ∂J/∂p − λᵀ ∂R/∂p**: λᵀ∂R/∂p by the JAX element products of the serial adjoint
   (:class:`~femopt.sensitivity.element_products.ResidualProducts`) on the rank's cells,
   then summed over the ranks: global constants and load magnitudes (every rank a part),
   per-cell fields (each cell on one rank), per-node fields and the node coordinates
   (``"coordinates"``, the shape derivative: shared nodes summed).
4. **dJ/dū = ∂J/∂ū − λᵀ ∂R/∂ū** (``"prescribed"``, the prescribed values): each rank's
   ∂J/∂u − λᵀ∂R/∂u of its cells (the products' cotangent of u), summed over the ranks
   *before* the prescribed rows are picked — a prescribed node on an interface takes
   terms from every rank's cells (the adjoint's right-hand side has these rows zeroed,
   the gradient keeps them). Point loads do not depend on u.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from ..assembly.parameters import CELL, GLOBAL, NODE
from ..errors import InputError, SolverError
from ..functionals.compiled import partials
from ..sensitivity.adjoint import Gradient
from ..sensitivity.element_products import ResidualProducts
from .functionals import CellSums, plan
from .reductions import sum_to_all

__all__ = ["distributed_gradient", "GradientContext"]

_log = logging.getLogger("femopt.distributed")

#: compiled functionals kept per problem (the oldest are dropped)
_KEPT_FUNCTIONALS = 16

#: the name of the shape derivative (with respect to the node coordinates), as in fo.gradient
COORDINATES = "coordinates"

#: the name of the derivative with respect to the prescribed values, as in fo.gradient
PRESCRIBED = "prescribed"

#: ∂J/∂u this close to the load (relative) is the load: λ = u (round-off of assembling f twice)
_SAME_LOAD = 1e-10


class GradientContext:
    """What a DistributedProblem keeps between gradients: the local problem view, the
    residual products and the compiled cell sums of each functional."""

    def __init__(self, system):
        self.local_problem = system.local_problem
        self.products = ResidualProducts(self.local_problem)
        self._sums: dict = {}

    def cell_sums(self, functional) -> CellSums:
        key = id(functional)
        hit = self._sums.get(key)
        if hit is None or hit.functional is not functional:
            hit = CellSums(functional, self.local_problem)
            self._sums.pop(key, None)
            self._sums[key] = hit
            while len(self._sums) > _KEPT_FUNCTIONALS:      # functionals made anew in a loop
                self._sums.pop(next(iter(self._sums)))
        return hit


def _names(problem, wrt):
    if wrt is None:
        return list(problem.params)
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    for name in names:
        if name in (COORDINATES, PRESCRIBED):
            continue
        if not isinstance(name, str) or name not in problem.params:
            raise InputError(f"can not differentiate with respect to {name!r}: it is not a parameter of this "
                             f"problem (parameters: {sorted(problem.params)}, or {COORDINATES!r}, "
                             f"{PRESCRIBED!r})")
    if len(set(names)) != len(names):
        raise InputError(f"wrt names a parameter twice: {names}")
    return names


def _explicit_parts(system, context, functional, params, local_params, u_local, u_full, layout):
    """``(J, ∂J/∂u local (n_local_dofs,), {name: (indices, values)} of ∂J/∂p to sum)``."""
    PETSc, comm = system.PETSc, system.comm
    if plan(functional) == "cell sums":
        sums = context.cell_sums(functional)
        local = sums.local_values(u_local, local_params)
        totals = sum_to_all(PETSc, comm, np.arange(local.size), local, local.size)
        value, weights = sums.value_and_weights(totals)
        dJ_du, dJ_dp, dJ_dX = sums.local_partials(u_local, local_params, weights)
        explicit = {name: _local_entries(context, layout, name, v) for name, v in dJ_dp.items()}
        explicit[COORDINATES] = _node_entries(context.local_problem.local_nodes, dJ_dX)
        return value, dJ_du, explicit
    # replicated: every rank has all of J; rank 0 alone adds ∂J/∂p and ∂J/∂X to the sums
    value, du, dp, dX = partials(functional, system.problem, u_full, params)
    dJ_du = du[system.local.local_dofs]
    dJ_du[system.n_owned_dofs:] = 0.0                      # the owner adds each dof once
    mine = comm.getRank() == 0
    return value, dJ_du, {name: (np.arange(v.size) if mine else np.zeros(0, dtype=np.int64),
                                 v.ravel() if mine else np.zeros(0)) for name, v in {**dp, COORDINATES: dX}.items()}


def _node_entries(nodes, values):
    """Global flat indices and values of per-node rows ``values (len(nodes), k)``."""
    values = np.asarray(values, dtype=np.float64).reshape(len(nodes), -1)
    k = values.shape[1]
    return (nodes[:, None] * k + np.arange(k)).ravel(), values.ravel()


def _local_entries(context, layout, name, values):
    """Global flat indices and values of a local-shaped parameter array."""
    kind, shape = layout[name]
    values = np.asarray(values, dtype=np.float64)
    size = int(np.prod(shape, dtype=int))
    if kind == GLOBAL:
        return np.arange(size), values.ravel()
    ids = context.local_problem.cells if kind == CELL else context.local_problem.local_nodes
    flat = (ids[:, None] * size + np.arange(size)).ravel()
    return flat, values.reshape(len(ids), size).ravel()


def _global_shape(system, layout, name):
    mesh = system.problem.mesh
    if name == COORDINATES:
        return mesh.points.shape
    kind, shape = layout[name]
    lead = {GLOBAL: (), CELL: (mesh.n_cells,), NODE: (mesh.n_nodes,)}[kind]
    return lead + tuple(shape)


def _piece_total(system, layout, name, index, values):
    """On mesh pieces: the gradient in the piece's shapes — global parameters summed over
    the ranks, per-cell ones on the rank's cells, per-node ones and the coordinates on its
    local nodes, summed over the ranks sharing each node (every copy holds the total)."""
    mesh = system.problem.mesh
    kind, shape = (NODE, (mesh.dim,)) if name == COORDINATES else layout[name]
    lead = {GLOBAL: (), CELL: (mesh.n_cells,), NODE: (mesh.n_nodes,)}[kind]
    size = int(np.prod(lead + tuple(shape), dtype=int))
    if kind == GLOBAL:
        return sum_to_all(system.PETSc, system.comm, index, values, size).reshape(shape)
    local = np.zeros(size)
    np.add.at(local, np.asarray(index, dtype=np.int64), values)
    if kind == NODE:
        local = node_sums(system, local.reshape(mesh.n_nodes, -1))
    return local.reshape(lead + tuple(shape))


def node_sums(system, values):
    """``(n_local_nodes, k)`` per-node values summed over the ranks that hold each node,
    on every copy (a ghosted PETSc vector of block size k: reverse add, forward insert)."""
    PETSc, piece = system.PETSc, system.problem.mesh.piece
    values = np.asarray(values, dtype=np.float64)
    k = values.shape[1]
    ghosts = np.asarray(piece.global_nodes[piece.n_owned:], dtype=PETSc.IntType)
    vec = PETSc.Vec().createGhost(ghosts, (piece.n_owned * k, piece.n_nodes * k), bsize=k, comm=system.comm)
    with vec.localForm() as local:
        local.array[:] = values.ravel()
    vec.ghostUpdate(addv=PETSc.InsertMode.ADD_VALUES, mode=PETSc.ScatterMode.REVERSE)
    vec.ghostUpdate(addv=PETSc.InsertMode.INSERT_VALUES, mode=PETSc.ScatterMode.FORWARD)
    with vec.localForm() as local:
        total = local.array.reshape(-1, k).copy()
    vec.destroy()
    return total


def prescribed_sums(system, values):
    """``values`` (``(n_local_dofs,)``, the rank's part) summed over the ranks, at the
    problem's prescribed dofs (``problem.partition.prescribed``). A whole mesh: the same
    ``(n_prescribed,)`` on every rank; a mesh piece: the piece's prescribed dofs, a dof
    shared by ranks holding the total on each (reverse add, then forward insert)."""
    problem = system.problem
    prescribed = np.asarray(problem.partition.prescribed, dtype=np.int64)
    if problem.mesh.piece is not None:
        total = system._owned_sum(values)
        summed = system.local_field(total)[prescribed]
        total.destroy()
        return summed
    if prescribed.size == 0:                       # the same whole problem on every rank
        return np.zeros(0)
    position = np.full(problem.space.n_dofs, -1, dtype=np.int64)
    position[prescribed] = np.arange(prescribed.size)
    where = position[system.local.local_dofs]
    mine = where >= 0
    return sum_to_all(system.PETSc, system.comm, where[mine], np.asarray(values)[mine], prescribed.size)


def _adjoint(system, rhs, state):
    """λ (ghosted vector) for ``Kᵀ λ = rhs`` (prescribed rows of rhs zero)."""
    physics = system.problem.physics
    symmetric = bool(getattr(physics, "symmetric", False))
    ksp = system.ksp_at_solution()
    lam = system.create_vector()
    rhs_norm = float(rhs.norm())
    if rhs_norm == 0.0:
        return lam
    load = getattr(system, "_load_vector", None)
    if symmetric and getattr(physics, "linear", False) and not state["inhomogeneous"] and load is not None:
        # K u = b was solved; rhs == b (compliance's ∂J/∂u is the load) makes λ = u, exactly
        # as accurate as the state (a test against b, not K u: CG's own residual is larger)
        gap = rhs.copy()
        gap.axpy(-1.0, load)
        if float(gap.norm()) <= _SAME_LOAD * rhs_norm:
            _log.info("adjoint is the state itself (self-adjoint load): no solve")
            lam.array[:] = system.solution.array
            return lam
    start = time.perf_counter()
    if symmetric:
        system.krylov_solve(ksp, rhs, lam)
    else:
        ksp.solveTranspose(rhs, lam)
    system.timings["adjoint_solve"] = time.perf_counter() - start
    if ksp.getConvergedReason() < 0:
        raise SolverError(f"the adjoint solve (PETSc KSP {ksp.getType()}/{ksp.getPC().getType()}"
                          f"{'' if symmetric else ', transposed'}) did not converge: reason "
                          f"{ksp.getConvergedReason()} after {ksp.getIterationNumber()} iterations; "
                          "try solver='direct'")
    return lam


def distributed_gradient(system, functionals, names, params):
    """One :class:`~femopt.sensitivity.adjoint.Gradient` per functional, on every rank
    (values and gradients in femopt's ordering, the same on every rank)."""
    context = system.gradient_context()
    problem = system.problem
    params = problem.parameters(params)
    u_local = system.local_field()
    u_full = None
    on_pieces = problem.mesh.piece is not None
    replicated = [f for f in functionals if plan(f) == "replicated"]
    if replicated and on_pieces:
        raise InputError(f"{type(replicated[0]).__name__} is not a sum over cells, and on mesh pieces no rank "
                         "holds the whole mesh to evaluate it: use compliance, volume, mean, p_norm, "
                         "von_mises_p_norm or sums of them (see femopt.distributed.functionals)")
    if replicated:
        u_full = problem.space.as_vector(system.gather(system.solution))
    local_params = context.local_problem.localize(params)
    layout = context.local_problem.layout(params)
    level = system.load_level(params)
    state = {"inhomogeneous": bool(np.any(level.prescribed_local))}
    state["inhomogeneous"] = sum_to_all(system.PETSc, system.comm, [0], [float(state["inhomogeneous"])], 1)[0] > 0
    results = []
    for functional in functionals:
        value, dJ_du, explicit = _explicit_parts(system, context, functional, params, local_params, u_local, u_full,
                                                  layout)
        rhs = system._owned_sum(dJ_du)
        rhs.array[level.rows - system.first_dof] = 0.0
        lam = system.local_field(_adjoint(system, rhs, state))
        everything = COORDINATES in names or PRESCRIBED in names     # cotangents of X or u wanted
        cotangents = context.products.vjp(u_local, local_params, lam, only=None if everything else names)
        grads = {}
        for name in names:
            if name == PRESCRIBED:     # ∂J/∂u unzeroed: the prescribed rows are what is wanted
                grads[name] = prescribed_sums(system, dJ_du - cotangents.u)
                continue
            index_e, value_e = explicit.get(name, (np.zeros(0, dtype=np.int64), np.zeros(0)))
            if name == COORDINATES:
                index_r, value_r = _node_entries(context.local_problem.local_nodes, cotangents.coordinates)
            else:
                index_r, value_r = _local_entries(context, layout, name, cotangents.params[name])
            if on_pieces:
                grads[name] = _piece_total(system, layout, name, np.concatenate([index_e, index_r]),
                                           np.concatenate([value_e, -value_r]))
                continue
            shape = _global_shape(system, layout, name)
            total = sum_to_all(system.PETSc, system.comm, np.concatenate([index_e, index_r]),
                               np.concatenate([value_e, -value_r]), int(np.prod(shape, dtype=int)))
            grads[name] = total.reshape(shape)
        results.append(Gradient(value, grads, "adjoint"))
    return results
