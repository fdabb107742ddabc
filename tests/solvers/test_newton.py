"""Newton (convergence rate, line search, failures) and load stepping, on problems with
known solutions."""
import logging

import numpy as np
import pytest
import scipy.sparse as sp

from femopt.errors import InputError, NewtonError, SingularMatrixError
from femopt.solvers.continuation import Cutback, load_stepping
from femopt.solvers.newton import FAILURE_REASONS, NewtonIteration, NewtonOptions, NewtonResult, newton


def scalar_problem(function, derivative):
    """(residual, residual_and_jacobian) of a scalar equation f(u) = 0, as 1-vectors."""
    def residual(u):
        with np.errstate(all="ignore"):
            return np.array([function(u[0])])

    def residual_and_jacobian(u):
        with np.errstate(all="ignore"):
            return residual(u), sp.csr_matrix([[derivative(u[0])]])

    return residual, residual_and_jacobian


class CubicSystem:
    """r(u) = A u + u^3 - b with A the 1D Laplacian (n interior points): a stiffening
    reaction-diffusion problem whose root u* = 3 sin(pi x) is set through b."""

    def __init__(self, n=40, amplitude=3.0):
        x = np.linspace(0.0, 1.0, n + 2)[1:-1]
        h = x[1] - x[0]
        self.A = (sp.diags([-np.ones(n - 1), 2.0 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]) / h**2).tocsr()
        self.solution = amplitude * np.sin(np.pi * x)
        self.b = self.A @ self.solution + self.solution**3

    def residual(self, u):
        return self.A @ u + u**3 - self.b

    def jacobian(self, u):
        return (self.A + sp.diags(3.0 * u**2)).tocsr()

    def residual_and_jacobian(self, u):
        return self.residual(u), self.jacobian(u)


def test_cubic_system_converges_quadratically(caplog):
    problem = CubicSystem()
    with caplog.at_level(logging.DEBUG, logger="femopt.newton"):
        result = newton(problem.residual, problem.residual_and_jacobian, np.zeros(40))
    assert isinstance(result, NewtonResult) and result.converged and result.reason == "residual"
    np.testing.assert_allclose(result.u, problem.solution, atol=1e-9)
    assert result.n_iterations <= 8
    assert all(isinstance(it, NewtonIteration) for it in result.iterations)
    full_steps = [it for it in result.iterations if it.step_length == 1.0]
    assert len(full_steps) >= 3
    # quadratic convergence: ||r_k|| <= C ||r_{k-1}||^2 with one bounded C ...
    quadratic = [it.quadratic_ratio for it in full_steps]
    assert max(quadratic) < 1e-2 and max(quadratic) / min(quadratic) < 10
    # ... so the last reduction is far beyond linear convergence
    assert result.iterations[-1].ratio < 1e-4
    assert result.residual_norm <= 1e-10 * result.initial_residual_norm + 1e-10
    newton_lines = [r for r in caplog.records if r.name == "femopt.newton"]
    assert len(newton_lines) == result.n_iterations + 1


@pytest.mark.parametrize("linear_solver", ["direct", "cg"])
def test_factorization_is_at_the_solution(linear_solver):
    problem = CubicSystem()
    options = NewtonOptions() if linear_solver == "direct" else NewtonOptions(rtol=1e-9)
    solver = "direct" if linear_solver == "direct" else "cg"
    result = newton(problem.residual, problem.residual_and_jacobian, np.zeros(40), options=options,
                    linear_solver=solver)
    x = np.random.default_rng(0).standard_normal(40)
    K = problem.jacobian(result.u)
    np.testing.assert_allclose(result.factorization.solve(K @ x), x, rtol=1e-8)
    np.testing.assert_allclose(result.factorization.solve_transpose(K.T @ x), x, rtol=1e-8)


def test_without_refactor_the_factorization_is_at_the_previous_iterate():
    problem = CubicSystem()
    options = NewtonOptions(refactor_at_solution=False)
    result = newton(problem.residual, problem.residual_and_jacobian, np.zeros(40), options=options)
    x = np.ones(40)
    error = np.linalg.norm(result.factorization.solve(problem.jacobian(result.u) @ x) - x)
    assert error > 1e-10


def test_linear_problem_takes_one_iteration_and_no_extra_assembly():
    problem = CubicSystem(n=30)
    calls = {"residual": 0, "residual_and_jacobian": 0}

    def residual(u):
        calls["residual"] += 1
        return problem.A @ u - problem.b

    def residual_and_jacobian(u):
        calls["residual_and_jacobian"] += 1
        return problem.A @ u - problem.b, problem.A

    for refactor, assemblies in ((False, 1), (True, 2)):
        calls.update(residual=0, residual_and_jacobian=0)
        result = newton(residual, residual_and_jacobian, np.zeros(30),
                        options=NewtonOptions(refactor_at_solution=refactor))
        assert result.converged and result.n_iterations == 1
        assert calls == {"residual": 1, "residual_and_jacobian": assemblies}
        exact = np.linalg.solve(problem.A.toarray(), problem.b)
        np.testing.assert_allclose(result.u, exact, rtol=1e-12)


def test_line_search_rescues_arctan_that_diverges_without_it():
    residual, residual_and_jacobian = scalar_problem(np.arctan, lambda u: 1.0 / (1.0 + u * u))
    u0 = np.array([2.0])
    result = newton(residual, residual_and_jacobian, u0)
    assert result.converged and abs(result.u[0]) < 1e-10
    assert result.iterations[0].line_search_steps >= 1 and result.iterations[0].step_length < 1.0
    with pytest.raises(NewtonError) as info:
        newton(residual, residual_and_jacobian, u0, options=NewtonOptions(line_search=False))
    assert info.value.reason in FAILURE_REASONS
    # without the line search the iterates run away: |u_1| > |u_0| (2 -> -3.5 -> 14 ...)
    assert abs(info.value.history[0].increment_norm) > 5.0
    assert u0[0] == 2.0


def test_failure_carries_reason_history_and_last_iterate():
    problem = CubicSystem()
    u0 = np.full(40, 0.5)
    kept = u0.copy()
    options = NewtonOptions(max_iterations=2)
    with pytest.raises(NewtonError, match=r"after 2 iterations \(max_iterations\).*residual norms") as info:
        newton(problem.residual, problem.residual_and_jacobian, u0, options=options)
    error = info.value
    assert error.reason == "max_iterations" and len(error.history) == 2
    assert isinstance(error.history[-1], NewtonIteration)
    assert error.last_u.shape == (40,) and not np.array_equal(error.last_u, u0)
    np.testing.assert_array_equal(u0, kept)
    result = newton(problem.residual, problem.residual_and_jacobian, u0, options=options,
                    raise_on_failure=False)
    assert not result.converged and result.reason == "max_iterations"
    np.testing.assert_array_equal(result.u, error.last_u)
    np.testing.assert_array_equal(u0, kept)


def test_nan_trial_residual_shortens_the_step():
    # log(u) = 0 from u = 10: the full step lands at u = -13, where log is NaN.
    residual, residual_and_jacobian = scalar_problem(np.log, lambda u: 1.0 / u)
    result = newton(residual, residual_and_jacobian, np.array([10.0]))
    assert result.converged and result.u[0] == pytest.approx(1.0, abs=1e-12)
    assert result.iterations[0].line_search_steps >= 1


def test_nan_at_the_start_is_reported():
    residual, residual_and_jacobian = scalar_problem(np.log, lambda u: 1.0 / u)
    with pytest.raises(NewtonError, match="NaN") as info:
        newton(residual, residual_and_jacobian, np.array([-1.0]))
    assert info.value.reason == "non_finite"


def test_singular_jacobian():
    def residual(u):
        return np.array([u[0] - 1.0, (u[1] - 1.0) ** 2 + 1.0])

    def residual_and_jacobian(u):  # d r_1 / d u_1 = 0 at u_1 = 1: an empty row
        return residual(u), sp.diags([1.0, 2.0 * (u[1] - 1.0)]).tocsr()

    with pytest.raises(NewtonError, match="singular") as info:
        newton(residual, residual_and_jacobian, np.array([0.0, 1.0]))
    assert info.value.reason == "singular"
    assert isinstance(info.value.__cause__, SingularMatrixError)
    assert info.value.__cause__.dofs == (1,)


def test_wrong_jacobian_fails_in_the_line_search_not_by_a_false_convergence():
    residual, _ = scalar_problem(lambda u: u - 1.0, None)
    for jacobian in (-1.0, 1e12):  # an ascent direction; a round-off-sized step with |r| = 1
        def residual_and_jacobian(u, jacobian=jacobian):
            return residual(u), sp.csr_matrix([[jacobian]])

        with pytest.raises(NewtonError, match="descent direction") as info:
            newton(residual, residual_and_jacobian, np.array([0.0]))
        assert info.value.reason == "line_search"


def test_backtracking_step_minimizes_the_interpolating_model():
    from femopt.solvers.line_search import backtrack as _backtrack

    # phi(a) = 1 - 2a + 4a^2 is its own quadratic model: minimizer 1/4.
    assert _backtrack(1.0, 3.0, None, 1.0) == pytest.approx(0.25)
    # phi(a) = 1 - 2a + 20a^3 is its own cubic model: minimizer sqrt(2/60).
    phi = lambda a: 1.0 - 2.0 * a + 20.0 * a**3  # noqa: E731
    assert _backtrack(0.5, phi(0.5), (1.0, phi(1.0)), 1.0) == pytest.approx(np.sqrt(2.0 / 60.0))
    # clipped to [0.1, 0.5] of the current step; a NaN trial halves it
    assert _backtrack(1.0, 1e6, None, 1.0) == pytest.approx(0.1)
    assert _backtrack(1.0, 1.0 + 1e-9, None, 1.0) == pytest.approx(0.5)
    assert _backtrack(0.8, np.nan, None, 1.0) == pytest.approx(0.4)


def test_energy_step_minimizes_the_quadratic_through_the_trial():
    from femopt.solvers.line_search import energy_backtrack

    # E(a) = -2a + 4a^2 (E(0) = 0, E'(0) = -2): minimizer 1/4, inside [0.1, 0.5]
    assert energy_backtrack(1.0, 2.0, 0.0, -2.0) == pytest.approx(0.25)
    # E(a) = -2a + 40a^2: minimizer 0.025, clipped to 0.1; no minimum or NaN: 0.1
    assert energy_backtrack(1.0, 38.0, 0.0, -2.0) == pytest.approx(0.1)
    assert energy_backtrack(0.5, -2.0, 0.0, -2.0) == pytest.approx(0.05)
    assert energy_backtrack(0.5, np.inf, 0.0, -2.0) == pytest.approx(0.05)


def test_converges_by_increment_at_a_residual_floor():
    # r(u) = u - 1 + 1e-12 cos(1e12 u): a residual that cannot go below ~1e-12 (like
    # round-off in an assembled residual), with the exact part's Jacobian.
    residual, residual_and_jacobian = scalar_problem(lambda u: u - 1.0 + 1e-12 * np.cos(1e12 * u),
                                                     lambda u: 1.0)
    options = NewtonOptions(atol=0.0, rtol=1e-15)
    result = newton(residual, residual_and_jacobian, np.array([0.0]), options=options)
    assert result.converged and result.reason == "increment"
    assert abs(result.u[0] - 1.0) < 1e-11


def test_start_at_the_solution():
    problem = CubicSystem()
    result = newton(problem.residual, problem.residual_and_jacobian, problem.solution.copy())
    assert result.converged and result.n_iterations == 0 and result.factorization is not None


def test_bad_input():
    problem = CubicSystem()
    for bad in (dict(rtol=-1.0), dict(armijo=0.7), dict(max_iterations=0), dict(max_line_search=1.5)):
        with pytest.raises(InputError):
            NewtonOptions(**bad)
    with pytest.raises(InputError, match="residual must have shape"):
        newton(lambda u: np.zeros(41), problem.residual_and_jacobian, np.zeros(40))
    with pytest.raises(InputError, match=r"\(40, 40\) Jacobian"):
        newton(problem.residual, lambda u: (problem.residual(u), sp.identity(39)), np.zeros(40))
    with pytest.raises(InputError, match="1D"):
        newton(problem.residual, problem.residual_and_jacobian, np.zeros((40, 1)))


# -- load stepping -------------------------------------------------------------------
class SpringChain:
    """n exponentially stiffening springs in series (force sinh(elongation)), fixed at the
    left, pulled by a force F at the right: every spring carries F, u_i = i asinh(F)."""

    def __init__(self, n=10, force=1e6):
        self.n, self.force = n, force

    def residual(self, u, load_factor):
        tension = np.sinh(np.diff(u, prepend=0.0))
        r = tension.copy()
        r[:-1] -= tension[1:]
        r[-1] -= load_factor * self.force
        return r

    def jacobian(self, u):
        stiffness = np.cosh(np.diff(u, prepend=0.0))
        main = stiffness.copy()
        main[:-1] += stiffness[1:]
        return sp.diags([-stiffness[1:], main, -stiffness[1:]], [-1, 0, 1], format="csr")

    def solution(self, load_factor):
        return np.arange(1, self.n + 1) * np.arcsinh(load_factor * self.force)

    def solve_at(self, load_factor, u_start):
        with np.errstate(all="ignore"):
            return newton(lambda u: self.residual(u, load_factor),
                          lambda u: (self.residual(u, load_factor), self.jacobian(u)), u_start)


def test_load_stepping_solves_what_one_step_cannot():
    chain = SpringChain()
    u0 = np.zeros(chain.n)
    with pytest.raises(NewtonError):
        chain.solve_at(1.0, u0)
    stepping = load_stepping(chain.solve_at, u0, n_steps=10)
    assert stepping.converged and stepping.load_factors[-1] == 1.0
    np.testing.assert_allclose(stepping.u, chain.solution(1.0), rtol=1e-12)
    for load_factor, state in zip(stepping.load_factors, stepping.states):
        np.testing.assert_allclose(state, chain.solution(load_factor), rtol=1e-10)
    assert stepping.cutbacks and all(isinstance(c, Cutback) for c in stepping.cutbacks)
    assert len(stepping.results) == len(stepping.load_factors) == len(stepping.histories)
    assert stepping.final is stepping.results[-1]
    assert np.all(u0 == 0.0)


def test_cutbacks_halve_and_grow_back():
    problem = CubicSystem(n=20)
    converged = [0.0]
    attempts = []

    def solve_at(load_factor, u_start):
        attempts.append(load_factor)
        if load_factor - converged[-1] > 0.15:  # pretend Newton cannot take big increments
            raise NewtonError("increment too large", reason="max_iterations")
        result = newton(lambda u: problem.residual(u) + (1.0 - load_factor) * problem.b,
                        lambda u: (problem.residual(u) + (1.0 - load_factor) * problem.b,
                                   problem.jacobian(u)), u_start)
        converged.append(load_factor)
        return result

    stepping = load_stepping(solve_at, np.zeros(20), n_steps=4)
    assert stepping.converged and stepping.load_factors == converged[1:]
    np.testing.assert_allclose(stepping.u, problem.solution, atol=1e-9)
    assert np.all(np.diff([0.0] + stepping.load_factors) <= 0.15)
    assert stepping.cutbacks[0] == Cutback(0.0, 0.25, "max_iterations")
    assert attempts[:3] == [0.25, 0.125, 0.125 + 0.1875]  # halved, then grown by 1.5


def test_load_stepping_gives_up_with_the_last_converged_state():
    u0 = np.arange(3.0)

    def solve_at(load_factor, u_start):
        if load_factor > 0.5:
            raise NewtonError("diverged", reason="line_search")
        return NewtonResult(u=u_start + load_factor, converged=True, iterations=[], reason="residual",
                            factorization=None, residual_norm=0.0, initial_residual_norm=0.0)

    with pytest.raises(NewtonError, match=r"load factor 0\.5.*last converged load factor 0\.5") as info:
        load_stepping(solve_at, u0, n_steps=2, max_cutbacks=3)
    load_factor, state = info.value.last_converged
    assert load_factor == 0.5 and np.array_equal(state, u0 + 0.5)
    assert info.value.reason == "line_search"
    np.testing.assert_array_equal(u0, np.arange(3.0))
    partial = load_stepping(solve_at, u0, n_steps=2, max_cutbacks=3, raise_on_failure=False)
    assert not partial.converged and partial.load_factors == [0.5] and len(partial.cutbacks) == 4


def test_non_converged_result_counts_as_a_failed_increment():
    chain = SpringChain()

    def solve_at(load_factor, u_start):
        with np.errstate(all="ignore"):
            return newton(lambda u: chain.residual(u, load_factor),
                          lambda u: (chain.residual(u, load_factor), chain.jacobian(u)), u_start,
                          raise_on_failure=False)

    stepping = load_stepping(solve_at, np.zeros(chain.n), n_steps=5)
    assert stepping.converged and stepping.cutbacks
    np.testing.assert_allclose(stepping.u, chain.solution(1.0), rtol=1e-12)
