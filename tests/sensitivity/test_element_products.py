"""The element-level products equal JAX's derivatives of Problem.traced_residual, the
assembly layer's definition of R(u, p, X) — so no residual term is forgotten."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import femopt as fo
from sensitivity_cases import case
from femopt.sensitivity.element_products import _chunk_size, residual_products


def _arrays(params):
    return {k: jnp.asarray(getattr(v, "values", v), dtype=jnp.float64) for k, v in params.items()}


def _traced(pb, kinds):
    def R(u, p, X):
        p = {k: (fo.cell_field(v) if kinds.get(k) == "cell" else fo.nodal_field(v) if kinds.get(k) == "node"
                 else v) for k, v in p.items()}
        return pb.traced_residual(u, p, X)
    return R


def _setup(name):
    c = case(name)
    c.at_base()
    pb = c.problem
    rng = np.random.default_rng(0)
    u = pb.state.u + 0.01 * rng.standard_normal(pb.space.n_dofs)
    kinds = {k: getattr(v, "kind", None) for k, v in c.params.items()}
    p = _arrays(c.params)
    tangent = {k: rng.standard_normal(np.shape(v)) for k, v in p.items()}
    return c, pb, rng, u, kinds, p, tangent


@pytest.mark.parametrize("name", ["heat2d", pytest.param("elastic3d", marks=pytest.mark.slow)])
def test_vjp_and_jvp_equal_those_of_the_traced_residual(name):
    # heat2d: k(T), convection (state-dependent boundary term), flux, source, per-cell k;
    # elastic3d: per-node E, traction, a point load.
    c, pb, rng, u, kinds, p, dp = _setup(name)
    lam = rng.standard_normal(pb.space.n_dofs)
    du = rng.standard_normal(pb.space.n_dofs)
    X = jnp.asarray(pb.mesh.points)
    dX = rng.standard_normal(X.shape)
    R = _traced(pb, kinds)

    @jax.jit
    def reference(u, p, X):
        _, pullback = jax.vjp(R, u, p, X)
        return pullback(jnp.asarray(lam)), jax.jvp(R, (u, p, X), (jnp.asarray(du), dp, jnp.asarray(dX)))[1]

    (gu, gp, gX), dR = reference(jnp.asarray(u), p, X)
    products = residual_products(pb)
    ct = products.vjp(u, c.params, lam)
    np.testing.assert_allclose(ct.u, gu, atol=1e-12 * np.abs(gu).max())
    np.testing.assert_allclose(ct.coordinates, gX, atol=1e-12 * np.abs(gX).max())
    for k in p:
        np.testing.assert_allclose(ct.params[k], gp[k], atol=1e-12 * (np.abs(gp[k]).max() + 1), err_msg=k)
    mine = products.jvp(u, c.params, du=du, dparams=dp, dX=dX)
    np.testing.assert_allclose(mine, dR, atol=1e-12 * np.abs(dR).max())


@pytest.mark.slow
def test_second_order_product_equals_jvp_of_vjp_of_the_traced_residual():
    c, pb, rng, u, kinds, p, dp = _setup("hyper2d")
    lam = rng.standard_normal(pb.space.n_dofs)
    du = rng.standard_normal(pb.space.n_dofs)
    X = jnp.asarray(pb.mesh.points)
    dX = rng.standard_normal(X.shape)
    R = _traced(pb, kinds)

    @jax.jit
    def reference(u, p, X):
        pull = lambda u, p, X: jax.vjp(R, u, p, X)[1](jnp.asarray(lam))   # noqa: E731
        return jax.jvp(pull, (u, p, X), (jnp.asarray(du), dp, jnp.asarray(dX)))[1]

    hu, hp, hX = reference(jnp.asarray(u), p, X)
    h = residual_products(pb).hvp(u, c.params, lam, du=du, dparams=dp, dX=dX)
    np.testing.assert_allclose(h.u, hu, atol=1e-11 * np.abs(hu).max())
    np.testing.assert_allclose(h.coordinates, hX, atol=1e-11 * np.abs(hX).max())
    for k in p:
        np.testing.assert_allclose(h.params[k], hp[k], atol=1e-11 * (np.abs(hp[k]).max() + 1), err_msg=k)


def test_one_chunk_size_for_every_mesh_size():
    assert {_chunk_size(m) for m in (1, 64, 65, 1000, 10**6)} == {1024}


def test_a_physics_reading_a_parameter_it_does_not_declare():
    # The assembly hands every parameter to every law; the element products too, when a
    # law turns out to read one it did not declare (here the heat source's magnitude).
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(2, 2), cell="quad4")
    physics = fo.physics.custom_physics(parameters={"k": 1.0},
                                        flux=lambda g, T, x, p: p["k"] * (1.0 + 0.1 * p["heat_source"]) * g)
    pb = fo.Problem(mesh, physics)
    pb.fix("xmin").heat_source(2.0)
    J = fo.functionals.mean(pb)
    g = fo.sensitivity.gradient(J, pb, wrt="heat_source")
    result = fo.sensitivity.taylor_test(lambda q: J(pb, params={"heat_source": float(q)}), np.array(2.0),
                                        np.array(1.0), np.asarray(g["heat_source"]))
    assert result.passed, str(result)
