"""Gradients of transient runs (discrete adjoint backward in time) against independent
answers: Taylor remainders of rate 2 for every kind of input (the gradient is checked
against re-solved runs only), agreement with the tangent-linear model forward in time,
the same gradient bit for bit under every checkpoint schedule with the number of states
held and of forward steps counted, a closed-form scalar case, and refused input."""
import numpy as np
import pytest

import femopt as fo
from femopt.errors import InputError
from femopt.functionals import (final_value, mean, p_norm, point_value, sensor_misfit, time_integral, time_mean,
                                time_peak, time_weighted)
from femopt.sensitivity import revolve_forward_steps, taylor_test, transient_directional_derivative

RNG = np.random.default_rng(7)


def conductivity(T, k, beta):
    """k(T) of the nonlinear case: one function for every test, so that its kernels
    compile once per session (a law's kernels are keyed by its conductivity function)."""
    return k * (1 + beta * T)


def heat_problem(nonlinear=False, n=(6, 3)):
    mesh = fo.mesh.rectangle(size=(1.0, 0.5), shape=n, cell="quad4")
    k = fo.cell_field(np.linspace(1.0, 2.0, mesh.n_cells))
    if nonlinear:
        physics = fo.physics.HeatConduction(k=k, beta=0.3, conductivity=conductivity)
    else:
        physics = fo.physics.HeatConduction(k=k)
    problem = fo.Problem(mesh, physics)
    problem.fix("xmin", 0.5)
    problem.heat_source(2.0)
    problem.convection("xmax", 3.0, 0.2, name="air")
    capacity = fo.nodal_field(np.linspace(1.0, 2.0, mesh.n_nodes))
    return mesh, problem, capacity


RUN = dict(t_end=0.5, steps=10, initial=lambda x: 1.0 + x[:, 0],
           loads={"heat_source": lambda t: 2.0 + np.sin(5.0 * t)}, prescribed=lambda t: 1.0 + t)


def functional(problem):
    return time_integral(mean(problem)) + 0.3 * final_value(p_norm(problem, 4.0))


def rerun(tp, J, name, value, run):
    """J of a fresh forward run with ``name`` set to ``value`` (no gradient taken)."""
    run = dict(run)
    if name == "initial":
        run["initial"] = value
    elif name == "prescribed":
        times = np.linspace(0.0, run["t_end"], run["steps"] + 1)
        run["prescribed"] = lambda x, t: value[int(np.argmin(np.abs(times - t)))]
    elif name in run.get("loads", {}):
        run["loads"] = {**run["loads"], name: value}
    else:
        marker = tp.problem.params.get(name) if name != "capacity" else tp.params["capacity"]
        kind = getattr(marker, "kind", None)
        wrapped = fo.cell_field(value) if kind == "cell" else fo.nodal_field(value) if kind == "node" else value
        run["params"] = {**run.get("params", {}), name: wrapped}
    if name == "coordinates":
        raise AssertionError("coordinates are perturbed by moving the nodes")
    return fo.transient_gradient(J, tp, wrt=[], **run).value


def base_value(tp, name, run, gradient):
    if name == "initial":
        return tp.problem.space.as_field(np.asarray([1.0 + x for x in tp.problem.mesh.points[:, 0]]))
    if name == "prescribed":
        times = np.linspace(0.0, run["t_end"], run["steps"] + 1)
        base = tp.problem.prescribed_values()
        return np.stack([base * (1.0 + t) for t in times])
    if name in run.get("loads", {}):
        times = np.linspace(0.0, run["t_end"], run["steps"] + 1)
        return np.array([run["loads"][name](t) for t in times])
    value = tp.params["capacity"] if name == "capacity" else tp.problem.params[name]
    return np.asarray(getattr(value, "values", value), dtype=np.float64).copy()


NAMES_LINEAR = ["k", "heat_source", "air.h", "air.ambient", "capacity", "initial", "prescribed"]


@pytest.mark.parametrize("nonlinear,theta", [(False, 0.5), (True, 1.0), (True, 0.6)])
def test_taylor_remainders_have_rate_two_for_every_input(nonlinear, theta):
    mesh, problem, capacity = heat_problem(nonlinear)
    tp = fo.TransientProblem(problem, capacity=capacity, theta=theta)
    J = functional(problem)
    g = fo.transient_gradient(J, tp, checkpoints=fo.Revolve(3), **RUN)
    names = NAMES_LINEAR + (["beta"] if nonlinear else [])
    for name in names:
        x0 = base_value(tp, name, RUN, g)
        dx = RNG.standard_normal(np.shape(x0)) * (0.2 * np.abs(x0).max() + 0.1)
        result = taylor_test(lambda x: rerun(tp, J, name, x, RUN), x0, dx, g[name], h0=0.05)
        assert result.passed, (name, result)


def test_coordinates_gradient_has_rate_two():
    mesh, problem, capacity = heat_problem(nonlinear=True)
    tp = fo.TransientProblem(problem, capacity=capacity, theta=0.5)
    J = functional(problem)
    # nodal values: an initial field given as f(x) would move with the nodes
    run = dict(RUN, initial=1.0 + mesh.points[:, 0])
    g = fo.transient_gradient(J, tp, wrt="coordinates", **run)
    X0 = mesh.points.copy()
    dX = 0.02 * RNG.standard_normal(X0.shape)

    def value(X):
        problem.move_nodes(X)
        try:
            return fo.transient_gradient(J, tp, wrt=[], **run).value
        finally:
            problem.move_nodes(X0)

    assert taylor_test(value, X0, dX, g["coordinates"], h0=0.5).passed


@pytest.mark.parametrize("nonlinear", [False, True])
def test_adjoint_agrees_with_the_tangent_linear_model(nonlinear):
    mesh, problem, capacity = heat_problem(nonlinear)
    tp = fo.TransientProblem(problem, capacity=capacity, theta=0.6)
    J = functional(problem) + sensor_misfit(problem, [[0.5, 0.25], [0.9, 0.1]], [0.07, 0.3, 0.5],
                                            np.ones((3, 2)), sigma=0.1)
    g = fo.transient_gradient(J, tp, **RUN)
    for name, gradient in g.grads.items():
        d = RNG.standard_normal(np.shape(gradient))
        value, dJ = transient_directional_derivative(J, tp, {name: d}, **RUN)
        assert value == g.value
        assert np.sum(gradient * d) == pytest.approx(dJ, rel=1e-10, abs=1e-14), name


@pytest.mark.parametrize("nonlinear", [False, True])
def test_every_schedule_gives_the_same_gradient_bit_for_bit(nonlinear):
    mesh, problem, capacity = heat_problem(nonlinear)
    tp = fo.TransientProblem(problem, capacity=capacity, theta=0.5)
    J = functional(problem)
    run = dict(RUN, steps=13)
    reference = fo.transient_gradient(J, tp, **run)
    assert reference.record.forward_steps == 13 and reference.record.max_states == 14
    for strategy in (fo.Revolve(1), fo.Revolve(2), fo.Revolve(4), fo.Revolve(3, where="disk"),
                     fo.StoreAll(where="disk"), fo.Revolve(50)):
        g = fo.transient_gradient(J, tp, checkpoints=strategy, **run)
        assert g.value == reference.value
        for name in reference.grads:
            assert np.array_equal(g[name], reference[name]), (strategy, name)
        record = g.record
        snapshots = min(strategy.snapshots, 13) if isinstance(strategy, fo.Revolve) else 13
        in_memory = 0 if strategy.where == "disk" else snapshots
        assert record.max_snapshots <= snapshots
        assert record.max_states <= in_memory + 2
        expected = revolve_forward_steps(13, strategy.snapshots) if isinstance(strategy, fo.Revolve) else 13
        assert record.forward_steps == expected
        assert record.adjoint_steps == 13


def test_scalar_decay_matches_the_closed_form():
    """One quad4 cell, insulated, ρc = c, uniform source q(t) = q: T_k = T_{k-1} + Δt q / c
    by backward Euler; J = T_n gives dJ/dq = t_end / c, dJ/dc = −q t_end / c², and dJ/d(T_0)
    sums to 1 over the nodes."""
    mesh = fo.mesh.rectangle(size=(2.0, 1.0), shape=(1, 1), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.heat_source(3.0)
    tp = fo.TransientProblem(problem, capacity=4.0)
    J = final_value(point_value(problem, [1.0, 0.5]))
    g = fo.transient_gradient(J, tp, wrt=["heat_source", "capacity", "initial"], t_end=2.0, steps=8, initial=1.0)
    assert g.value == pytest.approx(1.0 + 3.0 * 2.0 / 4.0, rel=1e-12)
    assert g["heat_source"] == pytest.approx(2.0 / 4.0, rel=1e-12)
    assert g["capacity"] == pytest.approx(-3.0 * 2.0 / 16.0, rel=1e-12)
    assert np.sum(g["initial"]) == pytest.approx(1.0, rel=1e-12)


def test_time_functionals_weigh_the_levels_as_documented():
    mesh, problem, capacity = heat_problem()
    tp = fo.TransientProblem(problem, capacity=capacity)
    run = dict(RUN, steps=6)
    states = tp.solve(**{k: v for k, v in run.items()}).states
    f = mean(problem)
    j = np.array([f(problem, s, tp.result.data.parameters(k)) for k, s in enumerate(states)])
    t = tp.result.times
    cases = {"integral": (time_integral(f), np.trapezoid(j, t)), "mean": (time_mean(f), np.trapezoid(j, t) / t[-1]),
             "final": (final_value(f), j[-1]), "weights": (time_weighted(f, np.arange(7.0)), np.arange(7.0) @ j),
             "peak": (time_peak(f, rho=1e3), j.max())}
    for how, (J, expected) in cases.items():
        value = fo.transient_gradient(J, tp, wrt=[], **run).value
        assert value == pytest.approx(expected, rel=1e-12 if how != "peak" else 1e-2), how
    peak = fo.transient_gradient(time_peak(f, rho=1e3), tp, wrt=[], **run).value
    assert j.max() <= peak <= j.max() + np.log(7) / 1e3


def test_sensor_misfit_interpolates_in_space_and_time():
    mesh, problem, capacity = heat_problem()
    tp = fo.TransientProblem(problem, capacity=capacity)
    run = dict(RUN, steps=5)
    result = tp.solve(**run)
    points = np.array([[0.3, 0.2], [0.8, 0.4]])
    times = np.array([0.0, 0.13, 0.5])
    truth = np.array([[np.interp(t, result.times, result.at(p)) for p in points] for t in times])
    data = truth + np.array([[0.1, -0.2], [0.3, 0.0], [0.05, 0.1]])
    sigma = np.array([0.5, 2.0])
    J = sensor_misfit(problem, points, times, data, sigma=sigma)
    expected = 0.5 * np.sum(((truth - data) / sigma) ** 2)
    assert fo.transient_gradient(J, tp, wrt=[], **run).value == pytest.approx(expected, rel=1e-12)


def test_refused_input_is_named():
    mesh, problem, capacity = heat_problem()
    tp = fo.TransientProblem(problem, capacity=capacity)
    with pytest.raises(InputError, match="trajectory functional"):
        fo.transient_gradient(mean(problem), tp, **RUN)
    with pytest.raises(InputError, match="can not differentiate with respect to 'E'"):
        fo.transient_gradient(time_integral(mean(problem)), tp, wrt="E", **RUN)
    with pytest.raises(InputError, match="checkpoints"):
        fo.transient_gradient(time_integral(mean(problem)), tp, checkpoints=20, **RUN)
    with pytest.raises(InputError, match="sample times must lie within the run"):
        fo.transient_gradient(sensor_misfit(problem, [[0.5, 0.2]], [0.7], [[1.0]]), tp, **RUN)
    with pytest.raises(InputError, match="observations must have shape"):
        sensor_misfit(problem, [[0.5, 0.2]], [0.1, 0.2], [1.0, 2.0])
    with pytest.raises(InputError, match="sigma"):
        sensor_misfit(problem, [[0.5, 0.2]], [0.1], [[1.0]], sigma=0.0)
    with pytest.raises(InputError, match="where"):
        fo.Revolve(3, where="tape")
    with pytest.raises(InputError, match="direction"):
        transient_directional_derivative(time_integral(mean(problem)), tp, {"k": np.ones(3)}, **RUN)


def test_jax_grad_through_a_transient_solve():
    """jax.grad of a JAX objective of every state: equal to transient_gradient of the same
    objective written as a trajectory functional, and rate 2 in a Taylor test."""
    import jax
    import jax.numpy as jnp
    mesh, problem, capacity = heat_problem(nonlinear=True)
    tp = fo.TransientProblem(problem, capacity=capacity, theta=0.5)
    node = int(mesh.nodes("xmax")[1])
    times = np.linspace(0.0, 0.5, 11)
    source = 2.0 + np.sin(5.0 * times)
    x0 = {"log_k": np.zeros(mesh.n_cells), "initial": 1.0 + mesh.points[:, 0], "source": source}

    def objective(x):
        U = fo.solve_transient(tp, {"k": fo.cell_field(jnp.exp(x["log_k"]))}, initial=x["initial"], t_end=0.5,
                               steps=10, loads={"heat_source": x["source"]}, prescribed=RUN["prescribed"])
        return U[-1, node]

    g = jax.grad(objective)(x0)
    dx = {name: RNG.standard_normal(np.shape(v)) * 0.3 for name, v in x0.items()}
    assert taylor_test(lambda x: float(objective(x)), x0, dx, g, h0=0.1).passed
    J = final_value(point_value(problem, mesh.points[node]))
    reference = fo.transient_gradient(J, tp, wrt=["k", "initial", "heat_source"], t_end=0.5, steps=10,
                                      initial=x0["initial"], loads={"heat_source": source},
                                      prescribed=RUN["prescribed"], params={"k": fo.cell_field(np.ones(mesh.n_cells))})
    assert float(objective(x0)) == pytest.approx(reference.value, rel=1e-13)
    np.testing.assert_allclose(g["log_k"], reference["k"], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(g["initial"], reference["initial"], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(g["source"], reference["heat_source"], rtol=1e-10, atol=1e-15)
    jitted = jax.jit(jax.grad(objective))(x0)
    np.testing.assert_allclose(jitted["log_k"], g["log_k"], rtol=1e-13)


@pytest.mark.parametrize("nonlinear", [False, True])
def test_steps_of_different_sizes(nonlinear):
    """Uneven time levels (a linear run keeps one factorization per step size; the adjoint
    solves with the matching one): Taylor rate 2 and the revolve gradient bitwise equal."""
    mesh, problem, capacity = heat_problem(nonlinear)
    tp = fo.TransientProblem(problem, capacity=capacity, theta=0.5)
    times = np.concatenate([np.linspace(0.0, 0.1, 6), np.linspace(0.1, 0.5, 5)[1:], [0.55, 0.7]])
    run = dict(times=times, initial=1.0, loads={"heat_source": lambda t: 2.0 + t})
    J = time_integral(mean(problem)) + sensor_misfit(problem, [[0.6, 0.3]], [0.33, 0.6], [[1.0], [1.1]], sigma=0.1)
    g = fo.transient_gradient(J, tp, wrt=["k", "capacity"], **run)
    again = fo.transient_gradient(J, tp, wrt=["k", "capacity"], checkpoints=fo.Revolve(3), **run)
    assert np.array_equal(g["k"], again["k"]) and np.array_equal(g["capacity"], again["capacity"])
    k0 = problem.params["k"].values
    dk = 0.3 * RNG.standard_normal(k0.shape)

    def value(k):
        return fo.transient_gradient(J, tp, wrt=[], params={"k": fo.cell_field(k)}, **run).value

    assert taylor_test(value, k0, dk, g["k"], h0=0.1).passed
