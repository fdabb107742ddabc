"""Taylor tests (rate 2) of adjoint gradients: every built-in functional × every kind of
design quantity (global, per-cell and per-node parameters, load magnitudes, prescribed
values, node coordinates) × linear elasticity, neo-Hookean (load steps) and nonlinear heat
conduction, in 2D and 3D. Cases and the driver: sensitivity_cases.py."""
import numpy as np
import pytest

from sensitivity_cases import CASES, CHECKED, case, functional_names, functionals

PAIRS = [(c, f) for c in CASES for f in functional_names(c)]
FAST = [(c, f) for c in CASES for f in CHECKED[c]]
SLOW = [pytest.param(*p, marks=pytest.mark.slow) for p in PAIRS if p not in FAST]


def _parameter_names(c):
    return list(c.params) + ["prescribed"]


@pytest.mark.parametrize("case_name, functional_name", FAST + SLOW)
def test_gradient_wrt_parameters_and_prescribed_values(case_name, functional_name):
    c = case(case_name)
    result, _ = c.taylor(functionals(case_name)[functional_name], _parameter_names(c))
    assert result.passed, f"{case_name} / {functional_name}:\n{result}"


@pytest.mark.parametrize("case_name, functional_name", FAST + SLOW)
def test_shape_derivative(case_name, functional_name):
    c = case(case_name)
    result, _ = c.taylor(functionals(case_name)[functional_name], ["coordinates"])
    assert result.passed, f"{case_name} / {functional_name}:\n{result}"


@pytest.mark.parametrize("case_name", CASES)
def test_each_design_quantity_separately(case_name):
    # One gradient for every quantity, then a Taylor test along each one alone: a wrong
    # term can not hide behind the others.
    c = case(case_name)
    J = functionals(case_name)[CHECKED[case_name][0]]
    names = _parameter_names(c) + ["coordinates"]
    c.at_base()
    from femopt.sensitivity import gradient

    g = gradient(J, c.problem, wrt=names, params=c.params)
    failures = []
    for n in names:
        result, _ = c.taylor(J, [n], gradient=g)
        if not result.passed:
            failures.append(f"{n}:\n{result}")
    assert not failures, "\n".join(failures)
    assert {n: np.shape(g[n]) for n in names} == {n: np.shape(v) for n, v in c.base(names).items()}
