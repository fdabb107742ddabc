"""The density parametrization: interpolations, projection, passive cells, the JAX map
against its NumPy twin, and Taylor tests of the composed map x -> compliance."""
import numpy as np
import pytest

from femopt import design as fd
from femopt.errors import InputError
from femopt.sensitivity import taylor_test

from design_cases import tip_loaded_cantilever


def test_interpolations():
    rho = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(fd.SIMP(3.0, 1.0, 1e-9)(rho), [1e-9, 1e-9 + 0.125 * (1 - 1e-9), 1.0])
    np.testing.assert_allclose(fd.RAMP(8.0, 2.0, 0.0)(rho), [0.0, 2 * 0.5 / 5.0, 2.0])
    with pytest.raises(InputError):
        fd.SIMP(penalty=-1.0)


def test_heaviside_and_continuation():
    rho = np.linspace(0, 1, 11)
    for beta in (1.0, 8.0, 64.0):
        out = np.asarray(fd.heaviside(rho, beta, 0.5))
        assert out[0] == pytest.approx(0.0, abs=1e-14) and out[-1] == pytest.approx(1.0)
        assert np.all(np.diff(out) >= 0) and out[4] < 0.5 < out[6]
    schedule = fd.Continuation(1.0, 2.0, every=10, maximum=8.0)
    assert [schedule.value(k) for k in (0, 9, 10, 25, 30, 100)] == [1, 1, 2, 4, 8, 8]
    assert not schedule.is_final(29) and schedule.is_final(30)
    # far past the maximum (a long or resumed run): no overflow; a maximum between steps
    assert schedule.value(10**12) == 8.0
    assert fd.Continuation(1.0, 1.7, every=3, maximum=10.0).value(10**8) == 10.0


@pytest.fixture(scope="module")
def beam():
    return tip_loaded_cantilever(12)


@pytest.mark.parametrize("variant", ["density", "helmholtz", "projection", "passive", "ramp"])
def test_composed_map_taylor(beam, variant):
    mesh, _, model = beam
    kwargs = {"filter": fd.DensityFilter(mesh, 1.5)}
    if variant == "helmholtz":
        kwargs["filter"] = fd.HelmholtzFilter(mesh, 1.5)
    if variant == "projection":
        kwargs["projection"] = 4.0
    if variant == "passive":
        kwargs.update(solid=lambda c: c[:, 0] > 11, void=lambda c: (c[:, 0] < 2) & (c[:, 1] > 3))
    if variant == "ramp":
        kwargs["interpolation"] = fd.RAMP(q=5.0)
    design = fd.DensityDesign(mesh, **kwargs)
    objective = fd.Compliance(model, design)
    volume = fd.VolumeConstraint(design, 0.4)
    rng = np.random.default_rng(3)
    x0 = rng.uniform(0.3, 0.8, design.n_design)
    dx = rng.normal(size=design.n_design)
    for fn in (objective, volume):
        value, grad = fn(x0)
        assert taylor_test(lambda x: fn(x)[0], x0, dx, grad, h0=1e-2).passed


def test_numpy_density_equals_jax_map(beam):
    mesh = beam[0]
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 2.0), projection=8.0,
                              solid=[0, 1], void=np.arange(mesh.n_cells) == 5)
    x = np.random.default_rng(0).uniform(0, 1, design.n_design)
    np.testing.assert_allclose(design.density(x), design(x)[0], rtol=1e-13, atol=1e-15)
    rho = design.density(x)
    assert rho[0] == rho[1] == 1.0 and rho[5] == 0.0 and design.n_design == mesh.n_cells - 3


def test_design_rejects_bad_input(beam):
    mesh = beam[0]
    with pytest.raises(InputError, match="both solid and void"):
        fd.DensityDesign(mesh, solid=[0], void=[0])
    design = fd.DensityDesign(mesh)
    with pytest.raises(InputError, match="expected"):
        design(np.ones(3))
    with pytest.raises(InputError, match="volume fraction"):
        fd.VolumeConstraint(design, 1.5)
