"""OC, MMA and SciPy's methods on problems with known optima; driver behaviour."""
import numpy as np
import pytest

from femopt import optimize as fopt
from femopt.errors import InputError

from .problems import (CANTILEVER_OPTIMUM, CANTILEVER_X, Budget, cantilever_stiffness, cantilever_weight,
                       separable, separable_optimum)

C = np.array([1.0, 2.0, 4.0, 0.5, 3.0, 1.5])


SCIPY_TOLERANCES = {"SLSQP": {"ftol": 1e-12}, "trust-constr": {"gtol": 1e-10, "xtol": 1e-12}}


@pytest.mark.parametrize("method", ["oc", "mma", "SLSQP", "trust-constr"])
def test_separable_problem(method):
    total = 2.0
    result = fopt.minimize(separable(C), np.full(C.size, 0.3), constraints=[Budget(total)],
                           bounds=(1e-3, 1.0), method=method, max_iterations=300, tol_change=1e-7,
                           options=SCIPY_TOLERANCES.get(method))
    np.testing.assert_allclose(result.x, separable_optimum(C, total), rtol=2e-3)
    assert result.constraints[0] <= 1e-3


@pytest.mark.parametrize("method", ["mma", "SLSQP", "trust-constr"])
def test_svanberg_cantilever(method):
    result = fopt.minimize(cantilever_weight, np.full(5, 5.0), constraints=[cantilever_stiffness],
                           bounds=(1.0, 10.0), method=method, max_iterations=1000, tol_change=1e-6,
                           options=SCIPY_TOLERANCES.get(method))
    assert result.success, result.message
    assert result.fun == pytest.approx(CANTILEVER_OPTIMUM, abs=1e-3)
    np.testing.assert_allclose(result.x, CANTILEVER_X, atol=5e-3)


def test_mma_with_two_constraints_finds_the_vertex():
    # min -(x0 + x1) s.t. x0 + 2 x1 <= 4, 3 x0 + x1 <= 6: optimum at (1.6, 1.2).
    fun = lambda x: (-float(x.sum()), -np.ones(2))  # noqa: E731
    g1 = lambda x: ((x[0] + 2 * x[1]) / 4 - 1, np.array([0.25, 0.5]))  # noqa: E731
    g2 = lambda x: ((3 * x[0] + x[1]) / 6 - 1, np.array([0.5, 1 / 6]))  # noqa: E731
    result = fopt.minimize(fun, np.array([0.5, 0.5]), constraints=[g1, g2], bounds=(0.0, 5.0),
                           method="mma", max_iterations=200, tol_change=1e-7)
    np.testing.assert_allclose(result.x, [1.6, 1.2], atol=1e-4)


def test_mma_without_constraints_matches_an_inactive_one():
    # MMA with m = 0 (a penalty or augmented-Lagrangian objective): the same iterates as
    # with a constraint g = -1 that never binds, and the bound-constrained optimum
    target = np.array([0.2, 0.7, 1.5, -0.3])

    def objective(x):
        return float(np.sum(np.exp(x - target) - x)), np.exp(x - target) - 1.0

    def inactive(x):
        return -1.0, np.zeros(x.size)

    runs = [fopt.minimize(objective, np.full(4, 0.5), constraints=constraints, bounds=(0.0, 1.0),
                          method="mma", max_iterations=60, tol_change=1e-6)
            for constraints in ([], [inactive])]
    np.testing.assert_allclose(runs[0].x, runs[1].x, rtol=1e-8)
    # bounds exact; the interior optimum to ~0.005: with its asymptotes at their closest
    # (0.01 of the range, as in Svanberg's mmasub) plain MMA ends in a small limit cycle
    np.testing.assert_allclose(runs[0].x, np.clip(target, 0.0, 1.0), atol=6e-3)
    assert abs(runs[0].x[2] - 1.0) < 1e-6 and abs(runs[0].x[3]) < 1e-6


def test_lbfgsb_bounds_only():
    fun = lambda x: (float(np.sum((x - np.array([0.2, 2.0])) ** 2)), 2 * (x - np.array([0.2, 2.0])))  # noqa: E731
    result = fopt.minimize(fun, np.zeros(2), bounds=(0.0, 1.0), method="L-BFGS-B", tol_change=1e-9)
    np.testing.assert_allclose(result.x, [0.2, 1.0], atol=1e-6)


def test_history_callback_and_stop():
    seen = []

    def callback(info):
        seen.append((info.iteration, info.objective, info.change))
        return info.iteration == 2

    result = fopt.minimize(cantilever_weight, np.full(5, 5.0), constraints=[cantilever_stiffness],
                           bounds=(1.0, 10.0), method="mma", callback=callback)
    assert result.status == "callback" and result.iterations == 3 and not result.success
    h = result.history
    assert h.objective.shape == (3,) and h.constraints.shape == (3, 1) and h.grey_level.shape == (3,)
    assert [s[0] for s in seen] == [0, 1, 2]
    np.testing.assert_array_equal(h.change, [s[2] for s in seen])


def test_progress_is_logged(caplog):
    with caplog.at_level("INFO", logger="femopt.optimize"):
        fopt.minimize(cantilever_weight, np.full(5, 5.0), constraints=[cantilever_stiffness],
                      bounds=(1.0, 10.0), method="mma", max_iterations=3, report_every=2)
    lines = [r.message for r in caplog.records if r.message.startswith("it ")]
    assert len(lines) == 2 and "max g" in lines[0]


class Steps:
    """A schedule that changes nothing."""

    def set_iteration(self, iteration):
        pass

    def is_final(self, iteration):
        return True


def test_bad_input_is_rejected():
    f = separable(C)
    with pytest.raises(InputError, match="L-BFGS-B handles bounds only"):
        fopt.minimize(f, np.ones(6), constraints=[Budget(2.0)], method="L-BFGS-B")
    with pytest.raises(InputError, match="at most 1"):
        fopt.minimize(f, np.ones(6), constraints=[Budget(2.0), Budget(3.0)], bounds=(0, 1), method="oc")
    with pytest.raises(InputError, match="unknown method"):
        fopt.minimize(f, np.ones(6), method="newton")
    with pytest.raises(InputError, match="bounds"):
        fopt.minimize(f, np.ones(6), bounds=(1.0, 0.0))
    with pytest.raises(InputError, match="finite bounds"):
        fopt.minimize(f, np.ones(6), method="mma")
    with pytest.raises(InputError):
        fopt.MMA(move=2.0)
    with pytest.raises(InputError, match="options= are for SciPy's methods"):
        fopt.minimize(f, np.ones(6), bounds=(0, 1), method="mma", options={"ftol": 1e-9})
    with pytest.raises(InputError, match="cannot follow a schedule"):
        fopt.minimize(f, np.ones(6), method="SLSQP", schedule=Steps())


def test_non_finite_values_fail_clearly():
    fun = lambda x: (float("nan"), np.zeros_like(x))  # noqa: E731
    with pytest.raises(fopt.OptimizationError, match="non-finite"):
        fopt.minimize(fun, np.ones(3), bounds=(0, 2), method="mma")
    result = fopt.minimize(fun, np.ones(3), bounds=(0, 2), method="mma", raise_on_failure=False)
    assert result.status == "failed" and not result.success


def test_bad_designs_are_named():
    f = separable(C)
    x0 = np.full(6, 0.5)
    x0[[2, 4]] = [np.nan, np.inf]
    with pytest.raises(InputError, match=r"x0 has non-finite entries .* ids \[2, 4\]"):
        fopt.minimize(f, x0, method="mma")
    with pytest.raises(InputError, match=r"lower bounds are NaN at ids \[1\]"):
        fopt.minimize(f, np.full(6, 0.5), bounds=(np.array([0, np.nan, 0, 0, 0, 0]), 1.0), method="mma")
    with pytest.raises(InputError, match=r"upper bounds have shape \(5,\), the design x0 has 6 entries"):
        fopt.minimize(f, np.full(6, 0.5), bounds=(0.0, np.ones(5)), method="oc")
    with pytest.raises(InputError, match=r"ids \[3\]"):
        fopt.minimize(f, np.full(6, 0.5), bounds=(0.0, np.array([1, 1, 1, -1, 1, 1.0])))


@pytest.mark.parametrize("method", ["mma", "SLSQP"])
def test_a_gradient_of_the_wrong_length_is_named(method):
    short = lambda x: (float(np.sum(C / x)), (-C / x ** 2)[:5])  # noqa: E731
    with pytest.raises(InputError, match=r"objective returned a gradient of shape \(5,\); expected 6 entries"):
        fopt.minimize(short, np.full(6, 0.3), constraints=[Budget(2.0)], bounds=(1e-3, 1.0), method=method)

    def wide(x):
        return Budget(2.0).value(x), np.ones(7)

    with pytest.raises(InputError, match=r"constraint 0 returned a gradient of shape \(7,\); expected 6"):
        fopt.minimize(separable(C), np.full(6, 0.3), constraints=[wide], bounds=(1e-3, 1.0), method=method)


@pytest.mark.parametrize("method", ["mma", "SLSQP"])
def test_non_finite_gradient_entries_are_named(method):
    def holes(x):
        g = -C / x ** 2
        g[[1, 3]] = np.nan
        return float(np.sum(C / x)), g

    with pytest.raises(fopt.OptimizationError, match=r"objective gradient at entries \[1, 3\] \(2 of 6\)") as error:
        fopt.minimize(holes, np.full(6, 0.3), constraints=[Budget(2.0)], bounds=(1e-3, 1.0), method=method)
    assert error.value.history is not None
    result = fopt.minimize(holes, np.full(6, 0.3), constraints=[Budget(2.0)], bounds=(1e-3, 1.0), method=method,
                           raise_on_failure=False)
    assert result.status == "failed" and "[1, 3]" in result.message
