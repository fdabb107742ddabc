"""Second order: Hessian-vector products against finite differences of adjoint gradients
(Taylor rate 2), a dense Hessian, and SciPy's trust-region Newton-CG on a calibration."""
import numpy as np
import pytest
import scipy.optimize

import femopt as fo
from sensitivity_cases import case, functionals
from femopt import functionals as F
from femopt.sensitivity import ReducedFunctional, gradient, hessian, hessian_vector_product, taylor_test


def _gradient_at(c, J, names):
    """x → the adjoint gradient at the design x (flat)."""
    def grad(x):
        c._apply(x)
        try:
            params = c.params_of(x)
            c.problem.solve(params, load_steps=c.load_steps)
            g = gradient(J, c.problem, wrt=names, params=params)
        finally:
            c._apply({})
        return np.concatenate([np.ravel(g[n]) for n in names])
    return grad


@pytest.mark.parametrize("case_name, functional_name, names", [
    ("hyper2d", "misfit", ["mu", "lmbda", "traction", "prescribed"]),
    ("heat2d", "p_norm", ["k", "source", "air.h", "prescribed"]),
    ("elastic2d", "von_mises_p_norm", ["E", "nu", "coordinates"]),
    pytest.param("hyper3d", "compliance", ["mu", "lmbda", "coordinates"], marks=pytest.mark.slow),
    pytest.param("heat3d", "misfit", ["k", "source", "coordinates"], marks=pytest.mark.slow),
])
def test_hessian_vector_product_is_the_derivative_of_the_gradient(case_name, functional_name, names):
    c = case(case_name)
    J = functionals(case_name)[functional_name]
    c.at_base()
    direction = {n: c.directions[n] for n in names}
    hv = hessian_vector_product(J, c.problem, direction, params=c.params)
    assert {n: np.shape(v) for n, v in hv.items()} == {n: np.shape(v) for n, v in direction.items()}
    flat = np.concatenate([np.ravel(hv[n]) for n in names])
    result = taylor_test(_gradient_at(c, J, names), c.base(names), direction, derivative=flat)
    assert result.passed, str(result)


def test_dense_hessian_is_symmetric_and_matches_central_differences():
    c = case("heat2d")                      # nonlinear k(T), convection, nonzero prescribed T
    J = functionals("heat2d")["p_norm"]
    names = ["source", "flux", "air.h"]
    c.at_base()
    H = hessian(J, c.problem, wrt=names, params=c.params)
    assert H.shape == (3, 3)
    np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-12 * np.abs(H).max())

    def grad(values):
        params = dict(c.params, **dict(zip(names, values)))
        g = gradient(J, c.problem, wrt=names, params=params)
        return np.array([float(g[n]) for n in names])

    x0 = np.array([float(c.params[n]) for n in names])
    fd = np.empty((3, 3))
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1e-5 * x0[j]
        fd[:, j] = (grad(x0 + e) - grad(x0 - e)) / (2 * e[j])
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-7 * np.abs(H).max())


def test_trust_region_newton_cg_recovers_parameters_from_observations():
    c = case("heat2d")
    pb = c.problem
    truth = dict(c.params, source=40.0, flux=5.0)
    pb.solve(truth)
    points = np.array([[0.3, 0.25], [0.6, 0.1], [0.9, 0.4], [0.5, 0.85]])
    data = np.asarray(F.PointProbe(pb.mesh, points).values(pb, pb.state.u))[:, 0]
    J = F.misfit(pb, points, data, weights=100.0)
    rf = ReducedFunctional(J, pb, wrt=["source", "flux"], params=dict(c.params, source=30.0, flux=2.0))
    result = scipy.optimize.minimize(rf.fun, rf.x0, jac=rf.jac, hessp=rf.hessp, method="trust-ncg",
                                     options={"gtol": 1e-10})
    assert result.success, result.message
    np.testing.assert_allclose(result.x, [40.0, 5.0], rtol=1e-6)
    assert result.nit < 15
    assert rf.n_solves <= result.nfev + 1          # fun, jac and hessp at one x share a solve


def test_reduced_functional_round_trips_fields():
    c = case("elastic2d")
    rf = ReducedFunctional(functionals("elastic2d")["compliance"], c.problem, wrt=["E", "nu"], params=c.params)
    assert rf.x0.size == c.mesh.n_cells + 1
    params = rf.to_params(rf.x0)
    assert params["E"].kind == "cell"
    np.testing.assert_array_equal(params["E"].values, c.params["E"].values)
    g = rf.jac(rf.x0)
    c.at_base()
    expected = gradient(functionals("elastic2d")["compliance"], c.problem, wrt=["E", "nu"], params=c.params)
    np.testing.assert_allclose(g, np.concatenate([expected["E"], np.ravel(expected["nu"])]), rtol=1e-12)
    with pytest.raises(fo.InputError, match="varies parameters"):
        ReducedFunctional(functionals("elastic2d")["compliance"], c.problem, wrt=["coordinates"])
