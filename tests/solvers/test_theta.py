"""The theta stepper on systems of ordinary differential equations with known answers:
the exact discrete recurrence, the order of accuracy, one factorization for a linear
system, Newton failures named by step and time, and refused input."""
import numpy as np
import pytest
import scipy.sparse as sp

from femopt.errors import InputError, NewtonError
from femopt.solvers.linear import DirectSolver
from femopt.solvers.theta import ThetaStepper, check_theta, check_times


class CountingSolver(DirectSolver):
    """SuperLU that counts its factorizations."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def _factorize(self, A):
        self.count += 1
        return super()._factorize(A)


def decay(rate=3.0, mass=2.0, load=np.sin):
    """m u' + rate u − load(t) = 0 as a 1-dof system: (residual, residual_and_jacobian, M)."""
    def residual(u, t):
        return rate * u - load(t)

    def residual_and_jacobian(u, t):
        return residual(u, t), sp.csr_matrix([[rate]])

    return residual, residual_and_jacobian, sp.csr_matrix([[mass]])


def recurrence(theta, times, u0, rate=3.0, mass=2.0, load=np.sin):
    """The theta method of m u' + rate u = load(t), written out for one unknown."""
    u = u0
    for t_prev, t in zip(times[:-1], times[1:]):
        dt = t - t_prev
        u = (mass * u / dt + theta * load(t) - (1 - theta) * (rate * u - load(t_prev))) / (mass / dt + theta * rate)
    return u


@pytest.mark.parametrize("linear", [True, False], ids=["linear", "newton"])
@pytest.mark.parametrize("theta", [1.0, 0.5, 0.7])
def test_matches_the_discrete_recurrence(theta, linear):
    times = np.concatenate([np.linspace(0.0, 0.5, 6), [0.55, 0.7, 1.0]])      # variable steps too
    stepper = ThetaStepper(*decay(), times, theta=theta, linear=linear)
    run = stepper.run(np.array([1.0]))
    assert run.converged and len(run.steps) == times.size - 1 and run.states.shape == (times.size, 1)
    assert run.states[-1, 0] == pytest.approx(recurrence(theta, times, 1.0), rel=1e-12)
    assert run.states[0, 0] == 1.0


@pytest.mark.parametrize("theta, order", [(1.0, 1.0), (0.5, 2.0)])
def test_order_of_accuracy_on_a_decaying_system(theta, order):
    """u' = −A u for a 1D Laplacian with a smooth start: errors at t = 1 fall like dt^order."""
    n = 20
    A = (sp.diags([-np.ones(n - 1), 2.0 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]) * 10.0).tocsr()
    eigenvalues, vectors = np.linalg.eigh(A.toarray())
    u0 = vectors[:, 0] + 0.5 * vectors[:, 1]
    exact = vectors @ (np.exp(-eigenvalues) * (vectors.T @ u0))
    errors = []
    for steps in (10, 20, 40):
        stepper = ThetaStepper(lambda u, t: A @ u, lambda u, t: (A @ u, A), sp.identity(n, format="csr"),
                               np.linspace(0.0, 1.0, steps + 1), theta=theta, linear=True)
        errors.append(np.linalg.norm(stepper.run(u0).states[-1] - exact))
    rates = np.log2(np.asarray(errors[:-1]) / errors[1:])
    assert rates == pytest.approx(order, abs=0.1)


def test_linear_system_factorizes_once_per_step_size():
    solver = CountingSolver()
    times = np.linspace(0.0, 1.0, 51)                 # sizes equal to round-off: one factorization
    stepper = ThetaStepper(*decay(), times, theta=0.5, linear=True, linear_solver=solver)
    run = stepper.run(np.array([1.0]))
    assert solver.count == stepper.n_factorizations == 1
    assert all(step.factorization is stepper.factorization(1) for step in run.steps)
    assert solver.count == 1                           # asking again factorizes nothing
    assert run.states[-1, 0] == pytest.approx(recurrence(0.5, times, 1.0), rel=1e-12)

    solver = CountingSolver()
    times = np.array([0.0, 0.1, 0.2, 0.4, 0.7, 0.8])    # three sizes: 0.1, 0.2, 0.3
    ThetaStepper(*decay(), times, linear=True, linear_solver=solver).run(np.array([1.0]))
    assert solver.count == 3


def test_factorization_is_the_step_matrix_for_the_adjoint():
    times = np.linspace(0.0, 1.0, 5)
    stepper = ThetaStepper(*decay(rate=3.0, mass=2.0), times, theta=0.5, linear=True)
    g = np.array([1.5])
    # (M / dt + θ K)^T λ = g
    assert stepper.factorization(2).solve_transpose(g) == pytest.approx(g / (2.0 / 0.25 + 0.5 * 3.0))
    with pytest.raises(InputError, match="linear systems"):
        ThetaStepper(*decay(), times).factorization(1)


def test_nonlinear_steps_run_newton_from_the_previous_state():
    """m u' + u^3 = 0 has u = 1 / sqrt(1 + 2 t / m) for u(0) = 1."""
    def residual(u, t):
        return u ** 3

    def residual_and_jacobian(u, t):
        return u ** 3, sp.csr_matrix([[3.0 * u[0] ** 2]])

    errors = []
    for steps in (20, 40):
        times = np.linspace(0.0, 2.0, steps + 1)
        run = ThetaStepper(residual, residual_and_jacobian, sp.csr_matrix([[1.0]]), times, theta=0.5).run(
            np.array([1.0]))
        assert all(step.converged and step.n_iterations >= 2 for step in run.steps)
        errors.append(abs(run.states[-1, 0] - 1.0 / np.sqrt(5.0)))
    assert np.log2(errors[0] / errors[1]) == pytest.approx(2.0, abs=0.1)


def test_forcing_enters_each_step_with_its_times():
    times = np.array([0.0, 0.5, 1.5, 2.0])
    seen = []

    def forcing(t_prev, t):
        seen.append((t_prev, t))
        return np.array([-(t - t_prev)])

    run = ThetaStepper(lambda u, t: 0.0 * u, lambda u, t: (0.0 * u, sp.csr_matrix([[0.0]])), sp.csr_matrix([[1.0]]),
                       times, linear=True, forcing=forcing).run(np.array([0.0]))
    # u_k = u_{k-1} + dt * (t_k - t_{k-1})
    assert run.states[:, 0] == pytest.approx([0.0, 0.25, 1.25, 1.5])
    assert seen == [(0.0, 0.5), (0.5, 1.5), (1.5, 2.0)]


def test_a_failed_step_names_the_step_and_time():
    def residual(u, t):
        return u - 1.0 if t < 0.25 else np.full_like(u, np.nan)

    def residual_and_jacobian(u, t):
        return residual(u, t), sp.csr_matrix([[1.0]])

    times = np.linspace(0.0, 0.5, 6)
    stepper = ThetaStepper(residual, residual_and_jacobian, sp.csr_matrix([[1.0]]), times)
    with pytest.raises(NewtonError, match=r"theta step 3 of 5 \(t = 0.2 -> 0.3") as caught:
        stepper.run(np.array([0.0]))
    assert caught.value.step == 3 and caught.value.time == pytest.approx(0.3)
    assert caught.value.reason == "non_finite"

    run = stepper.run(np.array([0.0]), raise_on_failure=False)
    assert not run.converged and "theta step 3" in run.message
    assert len(run.steps) == 2 and run.states.shape == (3, 1)


@pytest.mark.parametrize("theta", [0.3, 1.5, -1.0, "0.5", True, None, float("nan")])
def test_theta_outside_half_to_one_is_refused(theta):
    with pytest.raises(InputError, match=r"theta must be a number in \[0.5, 1\].*Crank-Nicolson"):
        check_theta(theta)


@pytest.mark.parametrize("times, message", [
    ([0.0, 0.1, 0.1, 0.2], r"increase strictly: t\[1\] = 0.1 is followed by t\[2\] = 0.1"),
    ([0.0, -1.0], "increase strictly"),
    ([0.0], "at least two time levels"),
    ([[0.0, 1.0]], "1D array"),
    ([0.0, np.inf], "NaN or Inf"),
    ("abc", "numbers"),
])
def test_bad_times_are_refused(times, message):
    with pytest.raises(InputError, match=message):
        check_times(times)


def test_bad_mass_and_state_are_refused():
    residual, jacobian, mass = decay()
    with pytest.raises(InputError, match="square scipy.sparse"):
        ThetaStepper(residual, jacobian, np.eye(1), [0.0, 1.0])
    stepper = ThetaStepper(residual, jacobian, mass, [0.0, 1.0])
    with pytest.raises(InputError, match=r"initial state must have shape \(1,\)"):
        stepper.run(np.zeros(2))
    with pytest.raises(InputError, match="step k must be in 1 ... 1"):
        stepper.step(2, np.zeros(1))
