"""Newton near the round-off floor: the energy line search must not stall on energy
differences below the energy's round-off, and a stop by the increment test must say that
the residual tolerance was not met."""
import numpy as np
import pytest
import scipy.sparse as sp

from femopt.solvers.newton import NewtonOptions, newton

N = 50
RNG = np.random.default_rng(0)
SOFTNESS = np.logspace(-6, -4, N)
SOLUTION = 0.1 * RNG.standard_normal(N)
START = SOLUTION + 0.5 * RNG.standard_normal(N)


def residual(u):
    e = u - SOLUTION
    return SOFTNESS * (e + e**3)


def residual_and_jacobian(u):
    e = u - SOLUTION
    return residual(u), sp.diags(SOFTNESS * (1.0 + 3.0 * e**2)).tocsr()


def energy_with_round_off(u, amplitude=1e-13):
    """The exact potential of ``residual`` plus a deterministic wobble of the size of the
    round-off of a 1e3-sized energy summed over many cells."""
    e = u - SOLUTION
    return 1e3 + np.sum(SOFTNESS * (0.5 * e * e + 0.25 * e**4)) + amplitude * np.sin(1e13 * np.sum(u))


def test_energy_line_search_does_not_stall_at_round_off():
    # Before: 9 iterations creeping at |r| = 2.5e-11 with tiny steps, then "converged" by
    # the increment test 250x above the requested tolerance.
    result = newton(residual, residual_and_jacobian, START, NewtonOptions(atol=1e-13, rtol=0.0), "direct",
                    energy=energy_with_round_off)
    assert result.converged and result.reason == "residual"
    assert result.residual_norm <= 1e-13
    assert result.n_iterations <= 6
    assert [it.merit for it in result.iterations][:3] == ["energy"] * 3
    assert result.iterations[-1].merit == "residual"
    assert all(it.step_length == 1.0 for it in result.iterations)


def test_increment_stop_says_the_residual_test_was_not_met():
    floor = 1e-11

    def noisy(u):                       # a residual with a round-off floor of ~1e-11
        return residual(u) + floor * np.sin(1e12 * u)

    def noisy_and_jacobian(u):
        return noisy(u), residual_and_jacobian(u)[1]

    result = newton(noisy, noisy_and_jacobian, START, NewtonOptions(atol=1e-13, rtol=0.0, inc_tol=1e-6),
                    "direct")
    assert result.converged and result.reason == "increment"
    assert result.residual_norm > 1e-13
    assert "the residual test was NOT met" in result.message
    assert f"{result.residual_norm:.3e}" in result.message


def test_increment_test_waits_while_the_residual_still_falls():
    # |du| is tiny relative to |u| (u ~ 1e3) but Newton is still converging quadratically:
    # the old increment test stopped here with |r| far above the tolerance.
    shift = 1e3

    def shifted(u):
        return residual(u - shift)

    def shifted_and_jacobian(u):
        return shifted(u), residual_and_jacobian(u - shift)[1]

    result = newton(shifted, shifted_and_jacobian, START + shift, NewtonOptions(atol=1e-14, rtol=0.0), "direct")
    assert result.reason == "residual" and result.residual_norm <= 1e-14


@pytest.mark.parametrize("amplitude", [0.0, 1e-13, 1e-11])
def test_energy_and_residual_merits_reach_the_same_solution(amplitude):
    result = newton(residual, residual_and_jacobian, START, NewtonOptions(atol=1e-13, rtol=0.0), "direct",
                    energy=lambda u: energy_with_round_off(u, amplitude))
    assert np.allclose(result.u, SOLUTION, atol=1e-8)


def test_a_load_below_the_absolute_tolerance_is_still_solved():
    """A start whose residual is below atol is not a solution: a linear problem with tiny
    loads (small units) used to return u = 0."""
    import femopt as fo

    mesh = fo.mesh.rectangle(shape=(4, 2), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, -1e-12])
    u = problem.solve()
    reference = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    reference.fix("xmin")
    reference.traction("xmax", [0.0, -1.0])
    np.testing.assert_allclose(u, 1e-12 * reference.solve(), rtol=1e-8, atol=1e-22)


def test_a_floor_far_above_the_requested_tolerance_ends_newton_with_a_warning(caplog):
    # Tiny loads on a stiff law: the residual's round-off is 1e-4 of the load, far above
    # any relative tolerance and the increment test's 1e-6 (seen with neo-Hookean at
    # strains of 1e-12: mu (F - F^-T) rounds at eps mu). Newton must stop there and say so.
    floor = 1e-4 * np.linalg.norm(residual(np.zeros(N)))

    def noisy(u):
        return residual(u) + floor * np.sin(1e12 * u) / np.sqrt(N)

    def noisy_and_jacobian(u):
        return noisy(u), residual_and_jacobian(u)[1]

    with caplog.at_level("WARNING", logger="femopt.newton"):
        result = newton(noisy, noisy_and_jacobian, np.zeros(N), NewtonOptions(), "direct")
    assert result.converged and result.reason == "increment"
    assert result.n_iterations < 15
    assert "round-off floor" in result.message and "NOT met" in result.message
    assert "round-off floor" in caplog.text
    assert np.max(np.abs(result.u - SOLUTION)) <= 1e-2 * np.max(np.abs(SOLUTION))


def test_slow_but_steady_convergence_is_not_taken_for_a_floor():
    # A Jacobian 40 % too stiff: each step cuts |r| by ~0.4 only (ratio > 0.5 never holds
    # for long); Newton must iterate on to the real tolerance, not stop at 1e-3.
    def stiff_jacobian(u):
        r, K = residual_and_jacobian(u)
        return r, (K * 1.4).tocsr()

    result = newton(residual, stiff_jacobian, START, NewtonOptions(rtol=1e-10, max_iterations=200), "direct")
    assert result.converged and result.reason == "residual"
