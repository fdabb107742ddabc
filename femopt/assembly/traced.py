"""The global residual R(u, p, X) as one JAX function, for sensitivities.

Assembly for Newton runs chunked in NumPy land (fast, memory-bounded). Sensitivities need
the residual's derivatives with respect to parameters and node coordinates, applied to
one vector: λᵀ ∂R/∂p by ``jax.vjp`` (adjoint) or ∂R/∂p · δp by ``jax.jvp`` (direct).
This module writes R with the very same one-cell kernels, vmapped over every cell of
each term and scattered with ``.at[].add`` — so the derivative is of exactly the
residual Newton solved, loads and their position dependence included.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from ..physics.loads import BoundaryLoad, VolumeLoad
from .kernels import PointLaw, _point_params as point_parameters, cell_residual, facet_residual, geometry

__all__ = ["traced_residual", "traced_energy", "has_energy", "is_dead_load"]


def is_dead_load(law) -> bool:
    """True for loads that do not depend on the state (body forces, sources, tractions,
    pressures and fluxes on the reference configuration)."""
    return isinstance(law, VolumeLoad) or (isinstance(law, BoundaryLoad) and not law.uses_value)


def _block_residual(block, c, U_all, X, pg, pc, pn):
    nodes = block.nodes
    Ue, Xe = U_all[nodes], X[nodes]
    pce = {k: v[block.cells] for k, v in pc.items()}
    pne = {k: v[nodes] for k, v in pn.items()}
    if block.kind == "cell":
        one = partial(cell_residual, PointLaw(block.law, c), block.tables)
    else:
        one = partial(facet_residual, block.law, block.tables)
    return jax.vmap(one, in_axes=(0, 0, None, 0, 0))(Ue, Xe, pg, pce, pne)


def traced_residual(assembler, u, split_params, X, *, loads_only: bool = False):
    """Σ over the assembler's terms of the cell/facet residuals, ``(n_dofs,)``, in JAX.

    Args:
        assembler: the :class:`Assembler` whose terms to evaluate.
        u: ``(n_dofs,)`` full dof vector.
        split_params: ``(global, per-cell, per-node)`` parameter dicts.
        X: ``(n_nodes, dim)`` node coordinates.
        loads_only: keep only dead loads (then the result is −f_ext).
    """
    space = assembler.space
    c = space.n_components
    U_all = jnp.reshape(u, (space.mesh.n_nodes, c))
    pg, pc, pn = split_params
    r = jnp.zeros(space.n_dofs, dtype=jnp.result_type(u, X, float))
    for block in assembler.blocks:
        if loads_only and not is_dead_load(block.law):
            continue
        r_e = _block_residual(block, c, U_all, X, pg, pc, pn)
        r = r.at[block.dofs.ravel()].add(jnp.reshape(r_e, (-1,)))
    return r


def traced_energy(assembler, u, split_params, X):
    """Σ over the assembler's energy-based cell terms of ∫ ψ(∇u, u, x, p) dx, in JAX.

    Terms without an energy (loads, flux-only physics) contribute nothing here: the
    caller adds the potential of the dead loads, −f·u."""
    space = assembler.space
    c = space.n_components
    U_all = jnp.reshape(u, (space.mesh.n_nodes, c))
    pg, pc, pn = split_params
    total = jnp.zeros((), dtype=jnp.result_type(u, X, float))
    for block in assembler.blocks:
        energy = getattr(block.law, "energy", None)
        if block.kind != "cell" or energy is None:
            continue
        tables = block.tables
        nodes = block.nodes
        pce = {k: v[block.cells] for k, v in pc.items()}
        pne = {k: v[nodes] for k, v in pn.items()}

        def one(U, Xc, pcc, pnc, energy=energy, tables=tables):
            G, wJ = geometry(tables, Xc)
            g = jnp.einsum("qai,ak->qki", G, U)
            uq, xq = tables.N @ U, tables.N @ Xc

            def at_point(g, uu, x, N_q):
                p = point_parameters(pg, pcc, pnc, N_q)
                return energy(g[0], uu[0], x, p) if c == 1 else energy(g, uu, x, p)

            return wJ @ jax.vmap(at_point)(g, uq, xq, tables.N)

        total = total + jnp.sum(jax.vmap(one)(U_all[nodes], X[nodes], pce, pne))
    return total


def has_energy(assembler) -> bool:
    """True when the problem is variational: the physics has an energy and every other
    term is a dead load (so the total potential is Σ∫ψ − f·u)."""
    physics_terms = [b for b in assembler.blocks if not is_dead_load(b.law)]
    return bool(physics_terms) and all(
        b.kind == "cell" and getattr(b.law, "energy", None) is not None for b in physics_terms)
