"""What femopt hands out is accepted where femopt takes such a thing: minimize takes a
ReducedFunctional, plot_history takes minimize's History (or its result); a function
returning a bare number is refused with a message saying what to return; results and
histories print in one line."""
import numpy as np
import pytest

import femopt as fo
from femopt import optimize as fopt
from femopt.errors import InputError


def quadratic(x):
    return float(np.sum((x - 0.3) ** 2)), 2.0 * (x - 0.3)


def test_minimize_takes_a_reduced_functional():
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(4, 4), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin", 0.0)
    problem.heat_source(1.0)
    reduced = fo.sensitivity.ReducedFunctional(fo.functionals.mean(problem), problem, "k")
    result = fopt.minimize(reduced, np.array([1.0]), method="L-BFGS-B", bounds=(0.5, 3.0))
    assert result.success and result.x[0] == pytest.approx(3.0)      # hotter with less conductivity


def test_a_bare_number_is_refused_by_name():
    with pytest.raises(InputError, match=r"the objective must return \(value, gradient\), got a float"):
        fopt.minimize(lambda x: float(np.sum(x ** 2)), np.zeros(3), method="L-BFGS-B")
    with pytest.raises(InputError, match=r"constraint 0 must return \(value, gradient\)"):
        fopt.minimize(quadratic, np.zeros(3), bounds=(0, 1), method="mma", constraints=[lambda x: 1.0])
    with pytest.raises(InputError, match="must be a function"):
        fopt.minimize(3.0, np.zeros(3))


def test_short_reprs_and_plot_history_of_a_result(tmp_path):
    result = fopt.minimize(quadratic, np.zeros(3), method="L-BFGS-B")
    text = repr(result)
    assert text.startswith("OptimizeResult(converged") and "\n" not in text and len(text) < 200
    assert repr(result.history).startswith(f"History({len(result.history)} iterations")
    fo.viz.plot_history(result.history, screenshot=tmp_path / "a.png")
    fo.viz.plot_history(result, screenshot=tmp_path / "b.png")
    assert (tmp_path / "a.png").stat().st_size > 0 and (tmp_path / "b.png").stat().st_size > 0


def test_problem_prints_in_one_line():
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(2, 2), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin", 0.0)
    problem.heat_source(1.0)
    assert repr(problem) == ("Problem(HeatConduction, 4 quad4 cells, 9 dofs (3 prescribed); VolumeLoad "
                             "'heat_source'; not solved)")
    problem.solve()
    assert repr(problem).endswith("; solved)")
