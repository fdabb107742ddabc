"""Adjoint gradients of DistributedProblem under ``mpirun -n 2`` against femopt's serial
``fo.gradient``: with respect to per-cell fields (mu, k), per-node fields (E), global
constants (lmbda, nu, beta) and load magnitudes (tractions, heat flux and source, a point
load); functionals summed over the ranks' cells (compliance, von Mises p-norm, p-norm)
and replicated (a point value); a symmetric nonlinear problem, an unsymmetric one
(transposed solves with MUMPS and GMRES + GAMG), and a self-adjoint linear one (no
adjoint solve). Then central differences of the distributed gradient itself.

Skipped, with the reason and the install command, where petsc4py or mpirun is missing."""
from pathlib import Path

import numpy as np
import pytest

from femopt.distributed.functionals import plan
from mpi_helpers import needs_mpirun, needs_petsc
from mpi_helpers import run_cases as run_helper

SCRIPT = Path(__file__).with_name("mpi_cases_gradient.py")
TOLERANCE = 1e-8



def run_cases(tmp_path, which, ranks=2):
    return run_helper(SCRIPT, tmp_path, which, ranks)


@needs_petsc
@needs_mpirun
def test_two_rank_gradients_agree_with_the_serial_gradient(tmp_path):
    first, second = run_cases(tmp_path, "gradient")
    keys = [key for key in first if key.count("/") == 2]
    assert len(keys) == 8
    for key in keys:
        result = first[key]
        assert result["value_rel_diff"] < TOLERANCE, (key, result)
        for name, difference in result["rel_diff"].items():
            assert difference < TOLERANCE, (key, name, result)
        assert result == second[key]                       # every rank holds the same gradient
    shapes = first["neo_hookean/direct/compliance"]["shapes"]
    assert {k: v for k, v in shapes.items() if k != "coordinates"} == {"mu": [24], "lmbda": [], "t": [3]}
    assert shapes["coordinates"][1] == 3                                # the shape derivative, per node
    assert first["linear/cg/compliance"]["shapes"]["E"] == [63]      # per node
    assert first["linear/cg/compliance"]["adjoint_solved"] is False  # self-adjoint: λ = u
    assert first["heat_kT/direct/compliance"]["adjoint_solved"] is True
    fd = first["finite_difference"]
    assert abs(fd["adjoint"] - fd["central"]) <= 1e-7 * abs(fd["central"]), fd


def test_which_functionals_are_summed_over_the_cells():
    import femopt as fo
    from femopt import functionals as F
    from femopt.mesh import box
    from femopt.physics import LinearElasticity

    problem = fo.Problem(box(shape=(2, 1, 1)), LinearElasticity()).fix("xmin")
    summed = [F.compliance(), F.volume(), F.mean(problem, 0), F.p_norm(problem, 4.0, 1),
              F.von_mises_p_norm(problem), F.compliance() + 0.5 * F.volume()]
    replicated = [F.point_value(problem, [0.5, 0.5, 0.5], 0), F.von_mises_ks(problem),
                  F.compliance() + F.point_value(problem, [0.5, 0.5, 0.5], 0)]
    assert [plan(f) for f in summed] == ["cell sums"] * len(summed)
    assert [plan(f) for f in replicated] == ["replicated"] * len(replicated)


@needs_petsc
def test_one_rank_gradient_in_process_and_refusals():
    import femopt as fo
    from femopt import functionals as F
    from femopt.distributed import DistributedProblem
    from femopt.errors import InputError
    from femopt.mesh import box
    from femopt.physics import LinearElasticity

    mesh = box((2.0, 1.0, 1.0), (4, 2, 2))
    problem = fo.Problem(mesh, LinearElasticity(), linear_solver="direct")
    problem.fix("xmin").traction("xmax", [0.0, 0.0, -0.1], name="t")
    E = 1.0 + mesh.cell_centroids()[:, 0]
    serial = fo.gradient(F.volume(cells=[0, 5, 9]) + F.compliance(), problem, wrt=["E", "t"], params={"E": E})
    dp = DistributedProblem(problem, solver="direct")
    g = dp.gradient(F.volume(cells=[0, 5, 9]) + F.compliance(), wrt=["E", "t"], params={"E": E})
    assert g.value == pytest.approx(serial.value, rel=1e-12)
    for name in ("E", "t"):
        assert np.allclose(g[name], serial[name], rtol=1e-10, atol=1e-14 * np.abs(serial[name]).max())
    shape = dp.gradient(F.compliance(), wrt="coordinates", params={"E": E})
    serial_shape = fo.gradient(F.compliance(), problem, wrt="coordinates", params={"E": E})
    assert np.allclose(shape["coordinates"], serial_shape["coordinates"], rtol=1e-10,
                       atol=1e-12 * np.abs(serial_shape["coordinates"]).max())
    with pytest.raises(InputError, match="not a parameter"):
        dp.gradient(F.compliance(), wrt="young")
    with pytest.raises(InputError, match="solve_options"):
        dp.gradient(F.compliance(), params={"E": 2.0}, solve_options={"tol": 1})
    with pytest.raises(InputError, match="femopt Functional"):
        dp.gradient(lambda u: 0.0)
