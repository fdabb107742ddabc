"""Augmented Lagrangian of local stress constraints: the value against a hand-written
sum from the centroid stresses, Taylor tests (rate 2) of its one-adjoint gradient
through filter, projection and passive cells with active and inactive multipliers, and
the multiplier / penalty update."""
import numpy as np
import pytest

from femopt import design as fd
from femopt import optimize as fopt
from femopt.errors import CheckpointError, InputError
from femopt.sensitivity import taylor_test

from design_cases import tip_loaded_cantilever


@pytest.fixture(scope="module")
def cantilever():
    return tip_loaded_cantilever(8)


def _hand_value(model, design, x, limit, mask, lam, mu):
    """J from scratch: volume fraction plus the PHR penalty of g = m_E (s³ + s)."""
    rho, E = design(x)
    u, _ = model.solve(E)
    vm = fd.CentroidVonMises(model, solid=design.interpolation.E0)(u)
    s = vm[mask] / limit - 1.0
    g = E[mask] / design.interpolation.E0 * (s**3 + s)
    terms = np.where(g >= -lam / mu, lam * g + 0.5 * mu * g**2, -lam**2 / (2 * mu))
    return design.volumes @ rho / design.volumes.sum() + terms.mean(), g


def test_value_matches_hand_sum(cantilever):
    mesh, pb, model = cantilever
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 1.5),
                              interpolation=fd.SIMP(penalty=3.0, E0=2.0, Emin=1e-6))
    mask = np.arange(mesh.n_cells) != 5
    al = fd.LocalStressAugmentedLagrangian(model, design, 5.0, cells=mask, penalty=7.0)
    rng = np.random.default_rng(0)
    al.multipliers = rng.uniform(0.0, 0.3, mask.sum())
    x = rng.uniform(0.2, 1.0, design.n_design)
    expected, g = _hand_value(model, design, x, 5.0, mask, al.multipliers, 7.0)
    assert al(x)[0] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(al.last["g"], g, rtol=1e-12)
    assert np.any(g > 0) and np.any(g < -al.multipliers / 7.0)     # both branches of max()


def test_no_violation_no_multipliers_gives_the_objective(cantilever):
    mesh, pb, model = cantilever
    design = fd.DensityDesign(mesh)
    al = fd.LocalStressAugmentedLagrangian(model, design, 1e6)
    x = np.full(design.n_design, 0.6)
    value, grad = al(x)
    assert value == pytest.approx(0.6, rel=1e-12)
    np.testing.assert_allclose(grad, design.volumes / design.volumes.sum(), rtol=1e-10)


@pytest.mark.parametrize("variant", ["filter_zero_multipliers", "projection_passive_multipliers"])
def test_gradient_taylor(cantilever, variant):
    mesh, pb, model = cantilever
    kwargs = {"filter": fd.DensityFilter(mesh, 1.5)}
    if variant.startswith("projection"):
        kwargs.update(projection=4.0, solid=[mesh.n_cells - 1])
    design = fd.DensityDesign(mesh, **kwargs)
    al = fd.LocalStressAugmentedLagrangian(model, design, 2.0, cells=np.arange(mesh.n_cells - 2), penalty=50.0)
    rng = np.random.default_rng(3)
    if variant.endswith("_multipliers"):
        al.multipliers = rng.uniform(0.0, 2.0, al.multipliers.size)
    x0 = rng.uniform(0.3, 0.9, design.n_design)
    rates = taylor_test(al, x0, rng.standard_normal(design.n_design))
    assert rates.passed and min(rates.rates2) > 1.9


def test_update_rule(cantilever):
    mesh, pb, model = cantilever
    design = fd.DensityDesign(mesh)
    al = fd.LocalStressAugmentedLagrangian(model, design, 0.5, penalty=10.0, penalty_growth=1.1, max_penalty=11.5)
    al(np.full(design.n_design, 0.8))
    g = al.last["g"].copy()
    al.update()
    np.testing.assert_allclose(al.multipliers, np.maximum(10.0 * g, 0.0))
    assert al.penalty == pytest.approx(11.0)
    al.update(g=-np.ones_like(g))
    np.testing.assert_allclose(al.multipliers, np.maximum(np.maximum(10.0 * g, 0.0) - 11.0, 0.0))
    assert al.penalty == pytest.approx(11.5)                                # capped at μ_max


def test_rejects_bad_input(cantilever):
    mesh, pb, model = cantilever
    design = fd.DensityDesign(mesh)
    with pytest.raises(InputError, match="limit"):
        fd.LocalStressAugmentedLagrangian(model, design, -1.0)
    with pytest.raises(InputError, match="penalty"):
        fd.LocalStressAugmentedLagrangian(model, design, 1.0, penalty=10.0, max_penalty=1.0)
    al = fd.LocalStressAugmentedLagrangian(model, design, 1.0)
    with pytest.raises(InputError, match="before any evaluation"):
        al.update()
    with pytest.raises(InputError, match="one per stress cell"):
        al.update(g=np.zeros(3))


def _schedule_run(cantilever, max_iterations, checkpoint=None, resume=False):
    """A fresh AL + schedule (λ, μ updated every 3 iterations, β 1 → 4) run by MMA."""
    mesh, pb, model = cantilever
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 1.5),
                              projection=fd.Continuation(1.0, 2.0, every=4, maximum=4.0))
    al = fd.LocalStressAugmentedLagrangian(model, design, 1.5, cells=np.arange(mesh.n_cells - 1))
    schedule = fd.AugmentedLagrangianSchedule(al, every=3, design=design)
    result = fopt.minimize(al, np.full(design.n_design, 0.7), method=fopt.MMA(move=0.1), schedule=schedule,
                           max_iterations=max_iterations, tol_change=0.0, checkpoint=checkpoint, resume=resume)
    return result, al, schedule


def test_schedule_updates_every_few_iterations(cantilever):
    result, al, schedule = _schedule_run(cantilever, 7)
    # updates before iterations 3 and 6: two of them, μ grown twice from 10
    assert schedule.updates == 2 and al.penalty == pytest.approx(10.0 * 1.1**2)
    assert np.any(al.multipliers > 0)
    assert schedule.design.beta == 2.0 and schedule.max_stress_ratio() > 0       # β at iteration 6


@pytest.mark.parametrize("killed_after", [6, 7])
def test_killed_schedule_run_resumes_exactly(cantilever, tmp_path, killed_after):
    """A run stopped after 6 iterations (a multiplier update due when it resumes, from the
    restored constraint values) or 7 (between two updates) and resumed from its
    checkpoint by fresh objects ends where an uninterrupted run ends: λ, μ and the
    design are the same."""
    whole, al_whole, _ = _schedule_run(cantilever, 14)
    path = tmp_path / "al.npz"
    _schedule_run(cantilever, killed_after, checkpoint=path)
    resumed, al_resumed, schedule = _schedule_run(cantilever, 14, checkpoint=path, resume=True)
    assert schedule.updates == 4
    np.testing.assert_allclose(al_resumed.multipliers, al_whole.multipliers, rtol=1e-10, atol=1e-14)
    assert al_resumed.penalty == al_whole.penalty
    np.testing.assert_allclose(resumed.x, whole.x, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(resumed.history.objective, whole.history.objective, rtol=1e-10)


def test_schedule_state_must_fit(cantilever, tmp_path):
    mesh, pb, model = cantilever
    design = fd.DensityDesign(mesh)
    schedule = fd.AugmentedLagrangianSchedule(fd.LocalStressAugmentedLagrangian(model, design, 1.0), every=2)
    state = schedule.state_dict()
    state["multipliers"] = np.zeros(3)
    with pytest.raises(InputError, match="stress cells"):
        schedule.load_state_dict(state)
    with pytest.raises(InputError, match="every"):
        fd.AugmentedLagrangianSchedule(schedule.al, every=0)
    # a plain run's checkpoint has no schedule state to resume an AL run from
    path = tmp_path / "plain.npz"
    fopt.minimize(schedule.al, np.full(design.n_design, 0.5), method=fopt.MMA(), max_iterations=2, checkpoint=path)
    with pytest.raises(CheckpointError, match="schedule"):
        fopt.minimize(schedule.al, np.full(design.n_design, 0.5), method=fopt.MMA(), max_iterations=3,
                      checkpoint=path, resume=True, schedule=schedule)
    with pytest.raises(CheckpointError, match="no schedule state"):  # even when told to resume anyway
        fopt.minimize(schedule.al, np.full(design.n_design, 0.5), method=fopt.MMA(), max_iterations=3,
                      checkpoint=path, resume=True, schedule=schedule, check_fingerprint=False)
