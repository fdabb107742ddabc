"""femopt.solve inside jax.grad: user JAX code (SIMP interpolation, a filter, two load
cases, a regularizer) composed with the adjoint; under jit and vmap; forward mode refused."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import femopt as fo
from sensitivity_cases import case
from femopt.physics import LinearElasticity
from femopt.sensitivity import gradient, solve, taylor_test


@pytest.fixture(scope="module")
def plate():
    mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(4, 2), cell="quad4")
    pb = fo.Problem(mesh, LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    pb.fix("xmin").traction("xmax", [0.0, -0.1])
    pb.solve()
    return pb


def _simp(rho):
    return 1e-3 + rho**3


def _objective(pb):
    f = pb.external_loads(pb.parameters(), jnp.asarray(pb.mesh.points))
    neighbours = jnp.asarray(np.roll(np.eye(pb.mesh.n_cells), 1, axis=1))

    def objective(rho):
        smooth = 0.5 * rho + 0.5 * neighbours @ rho                # a (crude) filter, in JAX
        u = solve(pb, {"E": fo.cell_field(_simp(smooth))})
        return f @ u + 0.1 * jnp.sum((rho - 0.5) ** 2)             # compliance + regularizer
    return objective


def test_grad_through_solve_passes_taylor_and_matches_the_adjoint(plate):
    objective = _objective(plate)
    rho = jnp.asarray(np.linspace(0.3, 0.9, plate.mesh.n_cells))
    value, g = jax.value_and_grad(objective)(rho)
    drho = np.random.default_rng(0).standard_normal(rho.shape) * 0.1
    result = taylor_test(lambda r: float(objective(jnp.asarray(r))), np.asarray(rho), drho, np.asarray(g))
    assert result.passed, str(result)
    # the same chain rule by hand: dC/dE from the adjoint, then through filter and SIMP
    neighbours = np.roll(np.eye(plate.mesh.n_cells), 1, axis=1)
    smooth = 0.5 * np.asarray(rho) + 0.5 * neighbours @ np.asarray(rho)
    dC_dE = gradient(fo.functionals.compliance(), plate, wrt="E", params={"E": _simp(smooth)})["E"]
    by_hand = (0.5 * np.eye(len(rho)) + 0.5 * neighbours).T @ (dC_dE * 3 * smooth**2) + 0.2 * (np.asarray(rho) - 0.5)
    np.testing.assert_allclose(np.asarray(g), by_hand, rtol=1e-10)


def test_under_jit_and_vmap(plate):
    objective = _objective(plate)
    rho = jnp.full(plate.mesh.n_cells, 0.6)
    eager = jax.grad(objective)(rho)
    jitted = jax.jit(jax.value_and_grad(objective))
    value, g = jitted(rho)
    np.testing.assert_allclose(np.asarray(g), np.asarray(eager), rtol=1e-12)
    value2, g2 = jitted(rho * 1.1)                    # second call: no retrace, new solve
    assert float(value2) != pytest.approx(float(value))
    batch = jnp.stack([rho, rho * 1.1])
    values = jax.vmap(objective)(batch)               # solves one after the other
    np.testing.assert_allclose(np.asarray(values), [float(value), float(value2)], rtol=1e-12)


def test_two_load_cases_in_one_objective(plate):
    # Two solves of one problem in one objective: each backward pass re-solves its own state.
    def objective(E):
        u1 = solve(plate, {"E": E, "traction": jnp.array([0.0, -0.1])})
        u2 = solve(plate, {"E": E, "traction": jnp.array([0.1, 0.0])})
        return jnp.sum(u1**2) + 2.0 * jnp.sum(u2**2)

    E = jnp.asarray(np.linspace(0.8, 1.2, plate.mesh.n_cells))
    g = jax.grad(objective)(E)
    dE = np.random.default_rng(1).standard_normal(E.shape) * 0.05
    result = taylor_test(lambda e: float(objective(jnp.asarray(e))), np.asarray(E), dE, np.asarray(g))
    assert result.passed, str(result)


def test_nonlinear_solve_with_fields_and_a_load_magnitude():
    c = case("hyper2d")                         # neo-Hookean, mu per cell, lmbda per node
    mu0 = np.asarray(c.params["mu"].values)

    def objective(p):
        u = solve(c.problem, {"mu": fo.cell_field(p[0] * mu0), "lmbda": c.params["lmbda"],
                              "traction": jnp.array([p[1], -0.05])})
        return jnp.sum(jnp.sin(10 * u))

    p0 = np.array([1.0, 0.3])
    g = jax.grad(objective)(jnp.asarray(p0))
    # h up to 0.1: the remainders stay well above the Newton tolerance's noise
    result = taylor_test(lambda p: float(objective(jnp.asarray(p))), p0, np.array([0.1, 0.05]), np.asarray(g),
                         h0=0.1)
    assert result.passed, str(result)
    c.at_base()


def test_forward_mode_and_unknown_names_are_refused(plate):
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(lambda E: solve(plate, {"E": E}), (jnp.asarray(1.0),), (jnp.asarray(1.0),))
    with pytest.raises(fo.InputError, match="unknown parameter 'rho'"):
        solve(plate, {"rho": 1.0})
