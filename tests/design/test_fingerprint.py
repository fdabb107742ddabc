"""Fingerprints of the design objectives: equal for two identical set-ups built apart,
and each setting that defines a run shows up, under its own name, when it changes. The
digest is checked against hashlib directly."""
import hashlib
import json

import numpy as np
import pytest

import femopt as fo
from femopt import design as fd
from femopt import functionals
from femopt.design.fingerprint import describe, digest, merge, name_of
from femopt.design.morph import LinearElasticMorph

from design_cases import tip_loaded_cantilever


def mbb(nx=12, ny=4, *, penalty=3.0, radius=1.5, fraction=0.5, load=-1.0, plane="stress", projection=None,
        solid=None, roller=True):
    mesh = fo.mesh.rectangle(size=(nx, ny), shape=(nx, ny), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane=plane))
    problem.fix(lambda x: np.isclose(x[:, 0], 0.0), components=0)
    problem.fix(lambda x: np.isclose(x[:, 0], nx) & np.isclose(x[:, 1], 0.0), components=1 if roller else None)
    problem.point_load(lambda x: np.isclose(x[:, 0], 0.0) & np.isclose(x[:, 1], ny), [0.0, load])
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, radius), interpolation=fd.SIMP(penalty=penalty),
                              projection=projection, solid=solid)
    model = fd.CellScaledModel(problem, "E")
    return fd.Compliance(model, design), fd.VolumeConstraint(design, fraction)


def changed(a, b):
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def test_digest_is_sha256_of_dtype_shape_and_bytes():
    a = np.arange(6.0).reshape(2, 3)
    expected = hashlib.sha256(b"<f8(2, 3)" + a.tobytes()).hexdigest()[:16]
    assert digest(a) == "sha256:" + expected
    assert digest(a) != digest(a.astype(np.float32)) != digest(a.reshape(3, 2))
    assert digest(a.T) == digest(np.ascontiguousarray(a.T))


def test_describe_and_names():
    assert describe(0.1) == "0.1" and describe(np.float64(2.5)) == "2.5" and describe(3) == "3"
    assert describe(np.array([1.0, 2.0])) == "[1.0, 2.0]"
    assert describe(np.zeros(50)).startswith("array(50,) sha256:")
    assert describe(fd.SIMP(penalty=3.0)) == "SIMP(penalty=3.0, E0=1.0, Emin=1e-09)"

    def compliance_of_beam(x):
        return 0.0, x

    assert name_of(compliance_of_beam) == "test_describe_and_names.<locals>.compliance_of_beam"
    assert name_of(fd.Tikhonov) == "Tikhonov"

    class Named:
        name = "my objective"

    assert name_of(Named()) == "my objective"


def test_merge_keeps_shared_entries_once_and_conflicts_per_role():
    merged = merge([("objective", {"mesh": "A", "filter": "r=1"}), ("constraint 0", {"mesh": "A", "filter": "r=2"})])
    assert merged == {"mesh": "A", "filter": "r=1", "constraint 0: filter": "r=2"}


def test_identical_setups_built_apart_agree():
    (c1, v1), (c2, v2) = mbb(), mbb()
    assert c1.fingerprint() == c2.fingerprint() and v1.fingerprint() == v2.fingerprint()
    json.dumps(c1.fingerprint())  # stored in the checkpoint's JSON metadata


@pytest.mark.parametrize("change, keys", [
    ({"nx": 4, "ny": 12}, ["loads", "mesh", "supports"]),   # MBB 12x4 -> 4x12: same sizes, other mesh
    ({"penalty": 4.0}, ["interpolation"]),
    ({"radius": 2.0}, ["filter"]),
    ({"load": -2.0}, ["problem parameters"]),
    ({"plane": "strain"}, ["physics"]),
    ({"roller": False}, ["supports"]),
    ({"projection": fd.Continuation(1.0, 2.0, every=10, maximum=8.0)}, ["projection"]),
    ({"solid": [0, 1]}, ["design"]),
])
def test_each_setting_shows_up(change, keys):
    (c0, v0), (c1, v1) = mbb(), mbb(**change)
    assert changed(c0.fingerprint(), c1.fingerprint()) == keys
    design_keys = [k for k in keys if k not in ("supports", "problem parameters", "physics", "loads")]
    assert changed(v0.fingerprint(), v1.fingerprint()) == design_keys


def test_volume_fraction_scale_and_solver():
    c0, v0 = mbb()
    _, v1 = mbb(fraction=0.4)
    assert changed(v0.fingerprint(), v1.fingerprint()) == ["volume fraction"]
    scaled = fd.Compliance(c0.model, c0.design, scale=10.0)
    assert changed(c0.fingerprint(), scaled.fingerprint()) == ["compliance"]
    cg = fd.Compliance(fd.CellScaledModel(c0.model.problem, "E", linear_solver="cg"), c0.design)
    assert changed(c0.fingerprint(), cg.fingerprint()) == ["linear solver"]


def test_sum_functional_objective_and_regularization():
    mesh = fo.mesh.rectangle(size=(6, 3), shape=(6, 3), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    problem.fix("xmin")
    problem.traction("xmax", [0.3, -1.0])
    misfit = fd.FunctionalObjective(problem, functionals.compliance(), None, "E")
    p_norm = fd.FunctionalObjective(problem, functionals.von_mises_p_norm(p=4.0), None, "E")
    assert changed(misfit.fingerprint(), p_norm.fingerprint()) == ["functional"]
    total = misfit + fd.Tikhonov(mesh, 1e-3)
    other = misfit + fd.Tikhonov(mesh, 1e-2)
    assert total.fingerprint()["sum"] == "FunctionalObjective + Tikhonov"
    assert changed(total.fingerprint(), other.fingerprint()) == ["Tikhonov"]
    assert changed(fd.TotalVariation(mesh, 1.0, epsilon=0.1).fingerprint(),
                   fd.TotalVariation(mesh, 1.0, epsilon=0.2).fingerprint()) == ["TotalVariation"]


def test_stress_objectives_and_schedule():
    mesh, _, model = tip_loaded_cantilever(6)
    design = fd.DensityDesign(mesh, filter=fd.DensityFilter(mesh, 1.5))
    a, b = (fd.LocalStressAugmentedLagrangian(model, design, limit) for limit in (5.0, 6.0))
    assert changed(a.fingerprint(), b.fingerprint()) == ["stress augmented Lagrangian"]
    assert "mesh" in a.fingerprint() and "filter" in a.fingerprint()
    s1, s2 = (fd.AugmentedLagrangianSchedule(a, every=k, design=design) for k in (5, 6))
    assert changed(s1.fingerprint(), s2.fingerprint()) == ["augmented Lagrangian schedule"]
    p8, p10 = (fd.StressConstraint(model, design, 5.0, p=p) for p in (8.0, 10.0))
    assert changed(p8.fingerprint(), p10.fingerprint()) == ["stress constraint"]


def test_shape_functional():
    mesh = fo.mesh.plate_with_hole(3.0, 3.0, 1.0, shape=(6, 3), cell="quad4", grading=2.0)
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    problem.fix("xsym", components=0)
    problem.fix("ysym", components=1)
    problem.traction("xmax", [2.0, 0.0])
    morph = LinearElasticMorph(mesh, "hole", fixed=["xmax", "ymax"], sliding={"xsym": 0, "ysym": 1})
    designs = [fd.ShapeDesign(mesh, fd.HoleShape(mesh, "hole", n_modes=k), morph) for k in (3, 4)]
    functional = functionals.von_mises_p_norm(p=4.0)
    a, b = (fd.ShapeFunctional(problem, functional, d) for d in designs)
    assert changed(a.fingerprint(), b.fingerprint()) == ["shape parametrization"]
    assert a.fingerprint()["mesh"] == designs[0].fingerprint()["mesh"]


def test_where_a_load_acts_is_part_of_the_fingerprint():
    import femopt as fo
    from femopt.design.fingerprint import problem_fingerprint

    def problem(side):
        p = fo.Problem(fo.mesh.rectangle(shape=(4, 2)), fo.physics.LinearElasticity())
        p.fix("xmin")
        p.traction(side, [0.0, -1.0])
        return p

    same, moved = problem_fingerprint(problem("xmax")), problem_fingerprint(problem("ymax"))
    assert same == problem_fingerprint(problem("xmax"))
    assert same["loads"] != moved["loads"] and same["problem parameters"] == moved["problem parameters"]
