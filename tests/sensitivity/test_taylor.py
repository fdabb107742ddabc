"""The verification tools themselves: a correct gradient passes with rate 2, a wrong one
fails with rate 1 — on analytic functions and on a finite-element gradient."""
import numpy as np
import pytest

import femopt as fo
from sensitivity_cases import case, functionals
from femopt.functionals.compiled import partials
from femopt.sensitivity import finite_difference_check, gradient, taylor_test


def f(x):
    return float(np.sum(np.sin(x) * x**2))


def grad_f(x):
    return np.cos(x) * x**2 + 2 * x * np.sin(x)


X = np.array([0.3, -1.2, 2.0])
DX = np.array([1.0, 0.5, -0.7])


def test_correct_gradient_has_rate_two():
    result = taylor_test(f, X, DX, grad_f(X))
    assert result.passed
    assert result.rate == pytest.approx(2.0, abs=0.05)
    np.testing.assert_allclose(result.rates1, 1.0, atol=0.05)
    assert "PASS" in str(result)


@pytest.mark.parametrize("wrong", [lambda g: 1.01 * g, lambda g: -g])
def test_wrong_gradient_fails_with_rate_one(wrong):
    result = taylor_test(f, X, DX, wrong(grad_f(X)))
    assert not result.passed
    assert result.rate < 1.5
    assert "FAIL" in str(result)


def test_a_slightly_wrong_gradient_fails_at_the_small_steps():
    # An error of 1e-3 in one entry hides behind the curvature at the first steps (rate
    # ≈ 2 there); the verdict uses the smallest steps, where it shows.
    result = taylor_test(f, X, DX, grad_f(X) + np.array([0, 1e-3, 0]), n_steps=8)
    assert result.rates2[0] > 1.8
    assert not result.passed and result.rate < 1.8


def test_noise_floor_from_the_caller():
    # f known to ~1e-9 only (an iterative solve): remainders below 10x that are not used
    noisy = lambda x: f(x) + 1e-9 * np.sin(1e6 * x.sum())   # noqa: E731
    result = taylor_test(noisy, X, DX, grad_f(X), n_steps=8, noise=1e-9)
    assert result.passed


def test_value_and_gradient_function_and_dicts():
    def both(x):
        return f(x["a"]) + 3 * x["b"], {"a": grad_f(x["a"]), "b": 3.0}

    result = taylor_test(both, {"a": X, "b": 0.5}, {"a": DX, "b": 1.0})
    assert result.passed
    # a direction naming a subset of x
    assert taylor_test(both, {"a": X, "b": 0.5}, {"a": DX}).passed


def test_affine_function_is_at_roundoff_and_passes():
    result = taylor_test(lambda x: float(3 * x.sum() + 1), X, DX, np.full(3, 3.0))
    assert result.at_roundoff and result.passed
    assert "round-off" in str(result)


def test_vector_valued_function_with_directional_derivative():
    def g(x):
        return np.array([x[0] * x[1], np.exp(x[2])])

    d = np.array([DX[0] * X[1] + X[0] * DX[1], np.exp(X[2]) * DX[2]])
    assert taylor_test(g, X, DX, derivative=d).passed
    assert not taylor_test(g, X, DX, derivative=1.1 * d).passed


def test_finite_difference_sweep():
    good = finite_difference_check(f, X, DX, grad_f(X))
    assert good.passed(1e-8) and good.best_error < 1e-9
    assert len(good.errors) == len(good.steps) == 6
    bad = finite_difference_check(f, X, DX, 1.001 * grad_f(X))
    assert not bad.passed(1e-6)
    assert "best relative error" in str(good)


def test_input_errors_are_named():
    with pytest.raises(fo.InputError, match="dx has shape"):
        taylor_test(f, X, DX[:2], grad_f(X))
    with pytest.raises(fo.InputError, match="not both"):
        taylor_test(f, X, DX, grad_f(X), derivative=1.0)
    with pytest.raises(fo.InputError, match="n_steps"):
        taylor_test(f, X, DX, grad_f(X), n_steps=2)


def test_a_wrong_finite_element_gradient_is_caught():
    # Dropping the adjoint term −λᵀ∂R/∂p leaves only the explicit ∂J/∂p: a classic bug.
    c = case("hyper2d")
    J = functionals("hyper2d")["misfit"]        # depends on mu through u only
    names = ["mu", "lmbda"]
    c.at_base()
    right = gradient(J, c.problem, wrt=names, params=c.params)
    _, _, explicit, _ = partials(J, c.problem, c.problem.state.u, c.problem.state.params)
    wrong = type(right)(right.value, {n: explicit[n] for n in names})
    assert c.taylor(J, names, gradient=right)[0].passed
    result, _ = c.taylor(J, names, gradient=wrong)
    assert not result.passed and result.rate < 1.3
