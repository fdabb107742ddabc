"""Transient heat conduction (theta method) against answers found independently: the
plane wall's Fourier series, the semi-infinite body's erf, a wall whose faces warm at a
constant rate, uniform-temperature bodies integrated by hand (time-varying source,
ambient, heat flux), a much finer time step for k(T); plus the factorization count and
refused input."""
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erf

import femopt as fo
from femopt.benchmarks.cases_common import l2_error
from femopt.errors import InputError, NewtonError, ParameterError

ALPHA = 0.5                    # k / ρc
K, CAPACITY = 1.0, 2.0


def strip(n=16, cell="quad8", length=1.0):
    """A 1D wall ``[0, L]`` as a strip of n x 1 cells, with its heat-conduction problem."""
    mesh = fo.mesh.rectangle(size=(length, length / 8.0), shape=(n, 1), cell=cell)
    return mesh, fo.Problem(mesh, fo.physics.HeatConduction(k=K))


def square_body(h=None, ambient=None):
    """One quad4 cell (2 x 1): uniform fields stay uniform (every node has the same share
    of the volume and of the boundary)."""
    mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(1, 1), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=K))
    if h is not None:
        problem.convection(lambda x: np.ones(len(x), bool), h, ambient, name="air")
    return mesh, problem


def wall_series(x, t, terms=60):
    """Wall 0 < x < 1 at 1, both faces at 0 from t = 0 (Carslaw & Jaeger §3.3)."""
    n = 2 * np.arange(terms)[:, None] + 1
    return np.sum(4.0 / (n * np.pi) * np.sin(n * np.pi * x) * np.exp(-(n * np.pi) ** 2 * ALPHA * t), axis=0)


def test_plane_wall_follows_the_fourier_series():
    mesh, problem = strip()
    problem.fix("xmin", 0.0).fix("xmax", 0.0)
    result = fo.TransientProblem(problem, capacity=CAPACITY).solve(t_end=0.1, steps=200, initial=1.0)
    assert result.converged and result.n_steps == 200 and result.states.shape == (201, mesh.n_nodes)
    for k in (100, 200):
        error, norm = l2_error(mesh, result.field(k), lambda x: wall_series(x[:, 0], result.times[k]))
        assert error / norm < 5e-3
    assert result.at([0.5, 0.05])[-1] == pytest.approx(wall_series(np.array([0.5]), 0.1)[0], rel=5e-3)
    assert result.n_factorizations == 1


def test_semi_infinite_body_follows_erf():
    mesh, problem = strip(n=48, length=1.5)
    problem.fix("xmin", 0.0)
    result = fo.TransientProblem(problem, capacity=CAPACITY, theta=1.0).solve(t_end=0.02, steps=80, initial=1.0)
    exact = erf(mesh.points[:, 0] / (2.0 * np.sqrt(ALPHA * 0.02)))
    assert np.max(np.abs(result.final - exact)) < 5e-3
    assert result.states[0][mesh.nodes("xmin")] == pytest.approx(0.0)   # prescribed value at t_0


def ramp_series(x, t, beta, terms=40):
    """Wall whose faces warm as beta t from 0 (found by T = beta t + w, w = steady + sine series)."""
    n = 2 * np.arange(terms)[:, None] + 1
    series = np.sum(np.sin(n * np.pi * x) * np.exp(-(n * np.pi) ** 2 * ALPHA * t) / n ** 3, axis=0)
    return beta * t - beta * x * (1.0 - x) / (2.0 * ALPHA) + 4.0 * beta / (ALPHA * np.pi ** 3) * series


@pytest.mark.parametrize("form", ["scale", "values"])
def test_prescribed_values_that_change_in_time(form):
    beta = 3.0
    mesh, problem = strip()
    problem.fix("xmin", beta).fix("xmax", beta)
    prescribed = (lambda t: t) if form == "scale" else (lambda x, t: np.full(len(x), beta * t))
    result = fo.TransientProblem(problem, capacity=CAPACITY, theta=0.5).solve(
        t_end=0.2, steps=40, initial=0.0, prescribed=prescribed)
    error, norm = l2_error(mesh, result.final, lambda x: ramp_series(x[:, 0], 0.2, beta))
    assert error / norm < 1e-4
    assert result.states[10][mesh.nodes("xmax")] == pytest.approx(beta * result.times[10])
    assert result.n_factorizations == 1


def test_time_varying_source_on_an_insulated_body():
    """ρc dT/dt = q(t): backward Euler adds dt q(t_k) / ρc, Crank–Nicolson the mean of both ends."""
    times = np.array([0.0, 0.1, 0.3, 0.35, 0.6, 1.0])
    source = lambda t: 4.0 + 3.0 * np.sin(5.0 * t)                      # noqa: E731
    for theta in (1.0, 0.5):
        _, problem = square_body()
        problem.heat_source(1.0, name="q")
        result = fo.TransientProblem(problem, capacity=CAPACITY, theta=theta).solve(
            times, initial=10.0, loads={"q": source})
        T = [10.0]
        for t_prev, t in zip(times[:-1], times[1:]):
            T.append(T[-1] + (t - t_prev) * (theta * source(t) + (1 - theta) * source(t_prev)) / CAPACITY)
        assert result.states == pytest.approx(np.repeat(np.array(T)[:, None], 4, axis=1), rel=1e-10)


def test_time_varying_ambient_by_the_exact_recurrence():
    """Convection h (T − T∞(t)) on the whole boundary of one cell: with λ = h P / (ρc A),
    (T_k − T_{k-1}) / dt = −λ [θ (T_k − T∞(t_k)) + (1 − θ) (T_{k-1} − T∞(t_{k-1}))]."""
    h, times = 0.8, np.linspace(0.0, 2.0, 11)
    ambient = 20.0 + 5.0 * times ** 2                                  # one value per time level
    lam = h * 6.0 / (CAPACITY * 2.0)
    for theta in (0.5, 1.0):
        _, problem = square_body(h=h, ambient=0.0)
        result = fo.TransientProblem(problem, capacity=CAPACITY, theta=theta).solve(
            times, initial=50.0, loads={"air.ambient": ambient})
        T = [50.0]
        for k in range(1, times.size):
            dt = times[k] - times[k - 1]
            T.append((T[-1] / dt + lam * (theta * ambient[k] - (1 - theta) * (T[-1] - ambient[k - 1])))
                     / (1.0 / dt + lam * theta))
        assert result.states[:, 0] == pytest.approx(T, rel=1e-10)
        assert result.n_factorizations == 1                            # the ambient leaves K alone


def test_time_varying_heat_flux_conserves_energy_exactly():
    """∫ρc T changes by dt (θ Q(t_k) + (1 − θ) Q(t_{k-1})), Q = flux × face length."""
    mesh, problem = strip(n=6, cell="quad4")
    problem.heat_flux("xmin", 1.0, name="flux")
    flux = lambda t: 2.0 * np.cos(3.0 * t)                              # noqa: E731
    transient = fo.TransientProblem(problem, capacity=CAPACITY, theta=0.5)
    result = transient.solve(t_end=1.0, steps=7, initial=0.0, loads={"flux": flux})
    energy = transient.mass_matrix() @ result.states.T                  # (n_nodes, levels)
    energy = energy.sum(axis=0)
    width = 1.0 / 8.0
    t = result.times
    expected = np.concatenate([[0.0], np.cumsum(np.diff(t) * 0.5 * (flux(t[1:]) + flux(t[:-1])) * width)])
    assert energy == pytest.approx(expected, abs=1e-12)


def test_time_varying_convection_coefficient_refactorizes():
    _, problem = square_body(h=0.5, ambient=0.0)
    transient = fo.TransientProblem(problem, capacity=CAPACITY)
    result = transient.solve(t_end=1.0, steps=4, initial=1.0, loads={"air.h": lambda t: 0.5 + t})
    assert result.n_factorizations >= 4
    lam = lambda t: (0.5 + t) * 6.0 / (CAPACITY * 2.0)                 # noqa: E731
    T = 1.0
    for t in result.times[1:]:
        T = T / (1.0 + 0.25 * lam(t))
    assert result.final[0] == pytest.approx(T, rel=1e-10)


def nonlinear_wall(steps, theta=1.0, conductivity=lambda T, k: k * (1.0 + 2.0 * T)):
    """k(T) = k (1 + 2 T); the face x = 0 warms smoothly to 1, convection at x = 1."""
    mesh = fo.mesh.rectangle(size=(1.0, 0.125), shape=(8, 1), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=K, conductivity=conductivity))
    problem.fix("xmin", 1.0)
    problem.convection("xmax", 2.0, 0.0)
    return fo.TransientProblem(problem, capacity=CAPACITY, theta=theta).solve(
        t_end=0.5, steps=steps, initial=0.0, prescribed=lambda t: 1.0 - np.exp(-10.0 * t))


@pytest.mark.parametrize("theta, order", [(1.0, 1.0), (0.5, 2.0)])
def test_nonlinear_conductivity_converges_in_time(theta, order):
    """Observed order from three step sizes: |u_20 − u_40| / |u_40 − u_80| = 2^order."""
    runs = [nonlinear_wall(steps, theta) for steps in (20, 40, 80)]
    assert all(run.converged for run in runs)
    assert np.all(runs[0].newton_iterations >= 2)
    changes = [np.max(np.abs(a.final - b.final)) for a, b in zip(runs[:-1], runs[1:])]
    assert np.log2(changes[0] / changes[1]) == pytest.approx(order, abs=0.15)


def test_newton_path_agrees_with_the_linear_path():
    linear = nonlinear_wall(10, theta=0.5, conductivity=None).final
    newton = nonlinear_wall(10, theta=0.5, conductivity=lambda T, k: k + 0.0 * T).final
    assert newton == pytest.approx(linear, rel=1e-9, abs=1e-12)


def test_a_step_that_fails_names_the_step_and_time():
    conductivity = lambda T, k: k * jnp.sqrt(0.7 - T)                   # noqa: E731  (NaN above T = 0.7)
    with pytest.raises(NewtonError, match=r"theta step 4 of 10 \(t = 0.15 -> 0.2, dt = 0.05\): Newton") as caught:
        nonlinear_wall(10, conductivity=conductivity)
    assert caught.value.step == 4 and caught.value.reason == "non_finite"


def test_result_helpers(tmp_path):
    mesh, problem = strip(n=4, cell="quad4")
    problem.fix("xmin", 0.0)
    result = fo.TransientProblem(problem).solve([0.0, 0.1, 0.3], initial=lambda x: x[:, 0])
    assert result.field(0) == pytest.approx(mesh.points[:, 0])
    assert np.array_equal(result.field(-1), result.states[2])
    assert result.at([0.375, 0.0]) == pytest.approx(0.5 * (result.states[:, 1] + result.states[:, 2]))
    assert "2 steps" in repr(result)
    with pytest.raises(InputError, match="time level k"):
        result.field(3)
    with pytest.raises(InputError, match="not inside the mesh"):
        result.at([2.0, 0.0])


@pytest.mark.parametrize("make, message", [
    (lambda p: fo.TransientProblem(p, theta=0.2), r"theta must be a number in \[0.5, 1\]"),
    (lambda p: fo.TransientProblem(p, capacity=-1.0), "capacity"),
    (lambda p: fo.TransientProblem(p, capacity=float("nan")), "capacity"),
    (lambda p: fo.TransientProblem("problem"), "needs a steady femopt.Problem"),
    (lambda p: fo.TransientProblem(p).solve([0.0, 0.2, 0.1], initial=0.0), "increase strictly"),
    (lambda p: fo.TransientProblem(p).solve(initial=0.0), "give the time levels"),
    (lambda p: fo.TransientProblem(p).solve([0.0, 1.0], t_end=1.0, steps=2, initial=0.0), "not both"),
    (lambda p: fo.TransientProblem(p).solve(t_end=1.0, steps=0, initial=0.0), "steps must be a positive"),
    (lambda p: fo.TransientProblem(p).solve([0.0, 1.0], initial=np.zeros(3)), r"initial: expected .* got shape"),
    (lambda p: fo.TransientProblem(p).solve([0.0, 1.0], initial=lambda x: x[:2, 0]), "initial"),
    (lambda p: fo.TransientProblem(p).solve([0.0, 1.0], initial=0.0, params={"capacity": 0.0}), "capacity"),
    (lambda p: fo.TransientProblem(p).solve([0.0, 1.0], initial=0.0, loads={"nope": 1.0}), "unknown parameter"),
    (lambda p: fo.TransientProblem(p).solve([0.0, 1.0], initial=0.0, loads={"q": [1.0, 2.0, 3.0]}),
     "one value per time level"),
    (lambda p: fo.TransientProblem(p).solve([0.0, 1.0], initial=0.0, loads={"q": lambda t: np.nan}),
     r"loads\['q'\] at t = 0"),
    (lambda p: fo.TransientProblem(p).solve([0.0, 1.0], initial=0.0, loads={"capacity": lambda t: 1.0}),
     "capacity cannot change in time"),
    (lambda p: fo.TransientProblem(p).solve([0.0, 1.0], initial=0.0, prescribed=lambda x, y, t: 0.0),
     "prescribed must take"),
    (lambda p: fo.TransientProblem(p).solve([0.0, 1.0], initial=0.0, prescribed=lambda t: [1.0, 2.0]),
     "must return a number"),
])
def test_bad_input_is_refused_by_name(make, message):
    _, problem = strip(n=2, cell="quad4")
    problem.fix("xmin", 0.0).heat_source(1.0, name="q")
    with pytest.raises(InputError, match=message):
        make(problem)


def test_negative_capacity_is_a_parameter_error():
    _, problem = strip(n=2, cell="quad4")
    with pytest.raises(ParameterError, match="0 < capacity") as caught:
        fo.TransientProblem(problem, capacity=fo.cell_field(np.array([1.0, -1.0])))
    assert caught.value.name == "capacity" and caught.value.ids == (1,)
    fo.TransientProblem(problem, capacity=fo.cell_field(np.array([1.0, 0.0])))   # zero allowed in fields
