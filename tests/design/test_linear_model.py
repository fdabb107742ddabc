"""CellScaledModel against femopt's general adjoint, and its input checks."""
import numpy as np
import pytest

import femopt as fo
from femopt import design as fd
from femopt import functionals, sensitivity
from femopt.errors import InputError


def elastic(cell="quad4"):
    mesh = fo.mesh.rectangle(size=(6, 3), shape=(6, 3), cell=cell)
    pb = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    pb.fix("xmin")
    pb.traction("xmax", [0.0, -1.0])
    return pb


def thermal():
    mesh = fo.mesh.rectangle(size=(1, 1), shape=(5, 5), cell="quad4")
    pb = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    pb.fix(lambda x: np.isclose(x[:, 0], 0) & (x[:, 1] < 0.5))
    pb.heat_source(1.0)
    return pb


@pytest.mark.parametrize("make,name", [(elastic, "E"), (thermal, "k")])
def test_compliance_and_gradient_match_the_general_adjoint(make, name):
    pb = make()
    model = fd.CellScaledModel(pb, name)
    s = np.random.default_rng(0).uniform(0.2, 1.0, pb.mesh.n_cells)
    c, dc, _ = model.compliance(s)
    g = sensitivity.gradient(functionals.compliance(), pb, wrt=name, params={name: fo.cell_field(s)})
    assert c == pytest.approx(g.value, rel=1e-10)
    np.testing.assert_allclose(dc, g[name], rtol=1e-8, atol=1e-12 * np.abs(dc).max())


def test_rejects_nonlinear_and_prescribed():
    mesh = fo.mesh.rectangle(shape=(3, 3))
    pb = fo.Problem(mesh, fo.physics.NeoHookean(mu=1.0, lmbda=1.0))
    pb.fix("xmin")
    with pytest.raises(InputError, match="nonlinear"):
        fd.CellScaledModel(pb, "mu")
    pb = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    pb.fix("xmin", 1.0)
    with pytest.raises(InputError, match="homogeneous"):
        fd.CellScaledModel(pb, "k")
    with pytest.raises(InputError, match="not a parameter"):
        fd.CellScaledModel(elastic(), "density")


def test_functional_objective_equals_the_fast_path():
    pb = elastic()
    design = fd.DensityDesign(pb.mesh, filter=fd.DensityFilter(pb.mesh, 1.5))
    x = np.random.default_rng(1).uniform(0.2, 0.9, design.n_design)
    fast = fd.Compliance(fd.CellScaledModel(pb, "E"), design)(x)
    general = fd.FunctionalObjective(pb, functionals.compliance(), design, "E")(x)
    assert general[0] == pytest.approx(fast[0], rel=1e-10)
    np.testing.assert_allclose(general[1], fast[1], rtol=1e-8, atol=1e-12 * np.abs(fast[1]).max())
