"""Element kernels and assembly against an independent reference.

The reference is written here from the weak form alone: a whole-cell residual summed
over quadrature points, ``jax.jacfwd`` of it for the tangent, ``vmap`` over cells, and a
dense scatter. Every kernel path of the assembler (the chunk kernels with
their symmetric and unsymmetric variants, the ``vmap`` kernels, boundary terms) must
match it to round-off on distorted cells of every element family.
"""
import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from femopt.assembly.assembler import Assembler, CellTerm, FacetTerm
from femopt.assembly.parameters import cell_field, nodal_field, split_parameters
from femopt.fem.space import FunctionSpace
from femopt.mesh.generators import box, rectangle
from femopt.physics import (HeatConduction, LinearElasticity, NeoHookean, StVenantKirchhoff,
                            custom_physics)
from femopt.physics.loads import Convection, Traction

RTOL = 1e-11


def distorted(cell, shape, seed=0, amount=0.08):
    """A small structured mesh with every node moved randomly (cells stay valid)."""
    make = rectangle if cell in ("tri3", "tri6", "quad4", "quad8", "quad9") else box
    mesh = make(shape=shape, cell=cell)
    rng = np.random.default_rng(seed)
    h = 1.0 / max(shape)
    points = mesh.points + rng.uniform(-amount * h, amount * h, mesh.points.shape)
    return mesh.with_points(points)


def reference_geometry(space, X):
    """Physical shape-function gradients (q, n, d) and weights × det J (q,) of one cell."""
    element, rule = space.element, space.quadrature
    dN = element.shape_gradients(rule.points)
    J = jnp.einsum("ai,qaj->qij", X, dN)                 # ∂x_i/∂ξ_j
    return jnp.einsum("qaj,qji->qai", dN, jnp.linalg.inv(J)), rule.weights * jnp.linalg.det(J)


def reference_residual(law, space, U, X, G, dx, p_cell, p_node):
    """Residual of one cell, (n, c), straight from the weak form: the sum over quadrature
    points of flux · ∇v + source · v.

    U (n, c) nodal values, X (n, d) node coordinates, G, dx from :func:`reference_geometry`,
    p_cell parameter values of this cell (globals included), p_node nodal values (n, ...)."""
    N = space.element.shape_functions(space.quadrature.points)
    c = U.shape[1]

    def at_point(N_q, G_q, dx_q):
        p = dict(p_cell)
        p.update({k: jnp.tensordot(N_q, v, axes=(0, 0)) for k, v in p_node.items()})
        grad_u, u, x = U.T @ G_q, N_q @ U, N_q @ X
        args = (grad_u[0], u[0]) if c == 1 else (grad_u, u)
        flux = law.flux(*args, x, p)
        source = law.source(*args, x, p)
        r = jnp.zeros(U.shape)
        if flux is not None:
            r = r + dx_q * G_q @ jnp.reshape(flux, (c, -1)).T
        if source is not None:
            r = r + dx_q * jnp.outer(N_q, jnp.broadcast_to(jnp.reshape(source, (-1,)), (c,)))
        return r

    return jnp.sum(jax.vmap(at_point)(N, G, dx), axis=0)


def reference_assembly(law, space, u, params):
    """Global residual and dense tangent by the reference kernel (vmap over cells)."""
    mesh = space.mesh
    c = space.n_components
    pg, pc, pn, _ = split_parameters(params, {k: np.shape(v) for k, v in law.parameters.items()},
                                     mesh.n_cells, mesh.n_nodes)
    U = np.asarray(u).reshape(mesh.n_nodes, c)[mesh.cells]
    X = mesh.points[mesh.cells]
    pce = {**{k: np.broadcast_to(v, (mesh.n_cells,) + np.shape(v)) for k, v in pg.items()},
           **{k: np.asarray(v) for k, v in pc.items()}}
    pne = {k: np.asarray(v)[mesh.cells] for k, v in pn.items()}

    def one(U, X, p_cell, p_node):
        G, dx = reference_geometry(space, X)
        res = lambda U: reference_residual(law, space, U, X, G, dx, p_cell, p_node)  # noqa: E731
        return res(U), jax.jacfwd(res)(U)

    # the meshes are tiny: compile the reference quickly rather than well
    fast_compile = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
    r_e, K_e = jax.jit(jax.vmap(one), compiler_options=fast_compile)(U, X, pce, pne)
    dofs = space.dof_map
    nd = dofs.shape[1]
    r = np.zeros(space.n_dofs)
    np.add.at(r, dofs, np.asarray(r_e).reshape(-1, nd))
    K = np.zeros((space.n_dofs, space.n_dofs))
    np.add.at(K, (dofs[:, :, None], dofs[:, None, :]), np.asarray(K_e).reshape(-1, nd, nd))
    return r, K


def compare(law, mesh, params=None, *, seed=1, scale=0.05, check_residual=False, **assembler_options):
    """Assemble with the assembler and with the reference; they agree to round-off.
    ``check_residual``: also check the residual-only kernel (one more compile)."""
    c = law.n_components(mesh.dim)
    space = FunctionSpace(mesh, c)
    params = dict(law.parameters, **(params or {}))
    u = np.random.default_rng(seed).normal(0.0, scale, space.n_dofs)
    split = split_parameters(params, {k: np.shape(v) for k, v in law.parameters.items()},
                             mesh.n_cells, mesh.n_nodes)[:3]
    assembler = Assembler(space, [CellTerm(law)], **assembler_options)
    r, K = assembler.residual_and_tangent(u, split)
    r_ref, K_ref = reference_assembly(law, space, u, params)
    np.testing.assert_allclose(r, r_ref, rtol=0, atol=RTOL * np.abs(r_ref).max())
    np.testing.assert_allclose(K.toarray(), K_ref, rtol=0, atol=RTOL * np.abs(K_ref).max())
    if check_residual:
        np.testing.assert_allclose(assembler.residual(u, split), r, rtol=0, atol=RTOL * np.abs(r).max())
    return assembler


def _nonlinear_custom():
    """Unsymmetric, every tangent term: flux and source depend on u and ∇u."""
    def flux(g, u, x, p):
        return p["a"] * (1.0 + u[0] ** 2) * g + p["b"] * jnp.outer(u, x)

    def source(g, u, x, p):
        return p["s"] * jnp.sin(u) + jnp.sum(g, axis=1) * u[::-1] + x[0]

    return custom_physics(components=2, parameters={"a": 1.3, "b": 0.4, "s": 0.7}, flux=flux, source=source)


def _scalar_custom():
    return custom_physics(parameters={"k": 2.0},
                          flux=lambda g, T, x, p: p["k"] * jnp.exp(0.3 * T) * g + 0.1 * T * x,
                          source=lambda g, T, x, p: T ** 3 - g @ g)


RNG = np.random.default_rng(3)

CASES = [
    # (id, law, cell, shape, parameter overrides)
    ("elastic-strain-tri3-fields", LinearElasticity(E=2.0, nu=0.3), "tri3", (3, 2),
     {"E": cell_field(RNG.uniform(1, 2, 12)), "nu": nodal_field(RNG.uniform(0.2, 0.35, 12))}),
    ("elastic-stress-quad9", LinearElasticity(E=2.0, nu=0.3, plane="stress"), "quad9", (2, 1), {}),
    ("elastic-3d-tet4", LinearElasticity(E=2.0, nu=0.3), "tet4", (1, 1, 1), {}),
    ("neo-hookean-hex8", NeoHookean(mu=1.0, lmbda=2.0), "hex8", (2, 1, 1), {}),
    ("neo-hookean-strain-quad4", NeoHookean(mu=1.0, lmbda=2.0), "quad4", (2, 1), {}),
    ("svk-tet4", StVenantKirchhoff(mu=1.0, lmbda=2.0), "tet4", (1, 1, 1), {}),
    ("svk-strain-tri6", StVenantKirchhoff(mu=1.0, lmbda=2.0), "tri6", (1, 1), {}),
    ("heat-quad4-nodal-k", HeatConduction(k=3.0), "quad4", (3, 2), {"k": nodal_field(RNG.uniform(1, 2, 12))}),
    ("heat-k(T)-hex20", HeatConduction(k=3.0, conductivity=lambda T, k: k * (1 + 0.5 * T ** 2)), "hex20", (1, 1, 1), {}),
    ("custom-vector-tri6", _nonlinear_custom(), "tri6", (2, 1), {}),
    ("custom-scalar-tet10", _scalar_custom(), "tet10", (1, 1, 1), {}),
]


@pytest.mark.parametrize("law,cell,shape,params", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_fast_kernels_match_reference(law, cell, shape, params):
    compare(law, distorted(cell, shape), params, check_residual=cell in ("tri3", "tri6"))


def test_laws_with_control_flow_linear_algebra_and_custom_derivatives():
    """Primitives without an entry-wise rule (loops, LU, ...) take the vmapped fallback
    of the interpreter; custom_jvp functions and traced selects work too."""
    def flux(g, T, x, p):
        det = jnp.linalg.det(jnp.outer(g, g) + jnp.eye(2))
        s = jax.lax.fori_loop(0, 3, lambda i, acc: 0.5 * acc + T, 0.0)
        return jax.nn.softplus(p["k"] * T) * g / det + s * g + jnp.where(T > 0, T, 0.1 * T) * x

    law = custom_physics(parameters={"k": 0.7}, flux=flux,
                         source=lambda g, T, x, p: jnp.tanh(T) * jnp.sum(g ** 2) + jnp.maximum(T, 0.2))
    compare(law, distorted("tri3", (2, 1)), scale=0.5)


def test_vmap_kernels_match_reference():
    compare(_nonlinear_custom(), distorted("tri3", (2, 1)), kernels="vmap")


def test_chunk_padding_gives_identical_results():
    mesh = distorted("quad4", (4, 3))  # 12 cells
    law = HeatConduction(k=3.0, conductivity=lambda T, k: k * (1 + 0.5 * T ** 2))
    space = FunctionSpace(mesh, 1)
    split = (dict(law.parameters), {}, {})
    u = np.random.default_rng(0).normal(0.0, 0.5, space.n_dofs)
    results = []
    for entries in (10**7, 5 * 16, 16):  # one chunk; 5 cells (3 padded); one cell
        r, K = Assembler(space, [CellTerm(law)], chunk_entries=entries).residual_and_tangent(u, split)
        results.append((r, K.toarray()))
    for r, K in results[1:]:
        np.testing.assert_allclose(r, results[0][0], rtol=0, atol=1e-14 * np.abs(r).max())
        np.testing.assert_allclose(K, results[0][1], rtol=0, atol=1e-14 * np.abs(K).max())


def test_small_meshes_of_different_sizes_share_one_compiled_kernel(caplog):
    law = HeatConduction(k=1.7, conductivity=lambda T, k: k * (1.0 + 0.25 * T))  # a law no other test uses
    compiled = []
    with jax.log_compiles(), caplog.at_level(logging.WARNING, logger="jax"):
        for shape in ((5, 4), (30, 20), (64, 64)):      # 20, 600, 4096 cells: one chunk size
            space = FunctionSpace(rectangle(shape=shape, cell="quad4"), 1)
            assembler = Assembler(space, [CellTerm(law)])
            assert assembler.chunk_size(assembler.blocks[0]) == 2048
            caplog.clear()
            assembler.residual_and_tangent(np.zeros(space.n_dofs), (dict(law.parameters), {}, {}))
            compiled.append(sum("Compiling jit(kernel)" in r.getMessage() for r in caplog.records))
    assert compiled == [1, 0, 0], f"chunk kernels compiled per mesh: {compiled}"


def test_cell_subsets_and_boundary_terms():
    """Terms on part of the mesh and facet terms scatter into the same pattern."""
    mesh = distorted("quad4", (3, 3))
    space = FunctionSpace(mesh, 1)
    law = HeatConduction(k=2.0)
    cells = np.array([0, 4, 5, 8])
    facets = mesh.facets("xmax")
    convection = Convection("conv")
    params = ({"k": 2.0, "conv.h": 1.5, "conv.ambient": 0.3}, {}, {})
    u = np.random.default_rng(2).normal(size=space.n_dofs)
    assembler = Assembler(space, [CellTerm(law, cells)], [FacetTerm(convection, facets)])
    r, K = assembler.residual_and_tangent(u, params)
    ref = Assembler(space, [CellTerm(law, cells)], [FacetTerm(convection, facets)], kernels="vmap")
    r_ref, K_ref = ref.residual_and_tangent(u, params)
    np.testing.assert_allclose(r, r_ref, atol=1e-13)
    np.testing.assert_allclose(K.toarray(), K_ref.toarray(), atol=1e-13)
    # the subset really is a subset: cells outside it contribute nothing
    r_all, _ = Assembler(space, [CellTerm(law)]).residual_and_tangent(u, params)
    assert not np.allclose(r_all, r)
    # facet part against a dense scatter of the one-facet kernels
    ft = Assembler(space, [], [FacetTerm(Traction("t"), facets)], kernels="vmap")
    rt, Kt = ft.residual_and_tangent(u, ({"t": np.array(2.0)}, {}, {}))
    expected = np.zeros(space.n_dofs)
    lengths = np.linalg.norm(np.diff(mesh.points[mesh.facet_nodes(facets)][:, :2], axis=1)[:, 0], axis=1)
    np.add.at(expected, mesh.facet_nodes(facets)[:, :2], -2.0 * lengths[:, None] / 2)
    np.testing.assert_allclose(rt, expected, atol=1e-13)
    assert Kt.nnz == 0 or np.abs(Kt.data).max() == 0.0
