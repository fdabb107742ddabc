"""``DistributedProblem.gradient(functional, wrt="prescribed")``, the derivative with
respect to the prescribed values, against femopt's serial ``fo.gradient(...,
wrt="prescribed")``: under ``mpirun -n 2`` on the whole (replicated) mesh — linear
elasticity with prescribed displacements (and with homogeneous supports, where λ = u),
2D heat with CG and MUMPS, neo-Hookean — and on mesh pieces (``femopt.distributed.box`` /
``rectangle``), where each rank holds its piece's prescribed dofs and shared ones hold
the total; a central difference on a prescribed node both ranks' cells touch; and in this
process on one rank.

Skipped, with the reason and the install command, where petsc4py or mpirun is missing."""
from pathlib import Path

import numpy as np
import pytest

import femopt as fo
from femopt import functionals as F
from femopt.physics import HeatConduction, LinearElasticity
from mpi_helpers import needs_mpirun, needs_petsc
from mpi_helpers import run_cases

SCRIPT = Path(__file__).with_name("mpi_cases_prescribed.py")
TOLERANCE = 1e-8


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Both ranks' results of every case (one mpirun: the JAX compilations are shared)."""
    return run_cases(SCRIPT, tmp_path_factory.mktemp("prescribed"), "whole,fd,pieces", 2)


@needs_petsc
@needs_mpirun
def test_two_ranks_whole_mesh_prescribed_gradient_is_the_serial_one(two_ranks):
    first, second = two_ranks
    keys = [key for key in first if key.count("/") == 2 and "/box/" not in key and "/rectangle/" not in key]
    assert sorted(keys) == sorted(["elastic/cg/compliance", "elastic_homogeneous/cg/compliance", "heat/cg/p_norm",
                                   "heat/direct/mean", "heat/direct/p_norm", "neo_hookean/direct/von_mises_p_norm"])
    for key in keys:
        result = first[key]
        assert result["value_rel_diff"] < TOLERANCE, (key, result)
        for name, difference in result["rel_diff"].items():
            assert difference < TOLERANCE, (key, name, result)
        assert result["shape"] == [result["n_prescribed"]] and result["norm"] > 0, (key, result)
        assert result == second[key]                     # the same numbers on every rank
    assert first["elastic_homogeneous/cg/compliance"]["adjoint_solved"] is False     # λ = u
    assert first["elastic/cg/compliance"]["adjoint_solved"] is True                   # prescribed ≠ 0


@needs_petsc
@needs_mpirun
def test_two_ranks_on_pieces_prescribed_gradient_entry_by_entry(two_ranks):
    keys = [key for key in two_ranks[0] if "/box/" in key or "/rectangle/" in key]
    assert sorted(keys) == ["elastic/box/cg/compliance", "heat/rectangle/direct/mean", "heat/rectangle/direct/p_norm",
                            "neo_hookean/box/direct/von_mises_p_norm"]
    for key in keys:
        for result in (rank[key] for rank in two_ranks):
            assert result["rel_diff"] < TOLERANCE, (key, result)
            assert result["shape"] == [result["n_prescribed"]] and result["unmapped"] == 0, (key, result)
        # a support crosses the interface: some prescribed dofs are shared by the ranks
        assert sum(rank[key]["on_ghost_nodes"] for rank in two_ranks) > 0, key


@needs_petsc
@needs_mpirun
def test_two_ranks_prescribed_gradient_central_difference(two_ranks):
    fd = two_ranks[0]["finite_difference"]
    assert fd == two_ranks[1]["finite_difference"]
    assert fd["ranks_touching"] == 2                 # the node is on the ranks' interface
    assert abs(fd["adjoint"] - fd["central"]) <= 1e-7 * abs(fd["central"]), fd


@needs_petsc
def test_one_rank_prescribed_gradient_in_process():
    from femopt.distributed import DistributedProblem, rectangle
    from femopt.errors import InputError
    from femopt.mesh import box

    mesh = box((2.0, 1.0, 1.0), (4, 2, 2))
    problem = fo.Problem(mesh, LinearElasticity(), linear_solver="direct")
    problem.fix("xmin").fix("xmax", [0.01, 0.0, 0.0]).traction("zmax", [0.0, 0.0, -0.1], name="t")
    functional = F.compliance() + F.von_mises_p_norm(problem, 4.0)
    serial = fo.gradient(functional, problem, wrt=["prescribed", "t"])
    dp = DistributedProblem(problem, solver="direct")
    g = dp.gradient(functional, wrt=["t", "prescribed"])
    assert g["prescribed"].shape == problem.partition.prescribed.shape
    np.testing.assert_allclose(g["prescribed"], serial["prescribed"], rtol=1e-10,
                               atol=1e-12 * np.abs(serial["prescribed"]).max())
    np.testing.assert_allclose(g["t"], serial["t"], rtol=1e-10, atol=1e-14)
    assert np.abs(dp.gradient(functional, wrt="prescribed")["prescribed"] - g["prescribed"]).max() == 0.0
    with pytest.raises(InputError, match="twice"):
        dp.gradient(functional, wrt=["prescribed", "prescribed"])

    # a one-rank piece (the whole rectangle) with a support on two sides
    def heat(m):
        return fo.Problem(m, HeatConduction(k=2.0), linear_solver="direct").fix("xmin", 1.0).fix("ymin", 0.0) \
            .heat_source(1.0)

    whole = fo.mesh.rectangle((2.0, 1.0), (6, 4))
    piece = rectangle((2.0, 1.0), (6, 4))
    assert piece.piece is not None and piece.piece.n_ranks == 1
    local, serial = heat(piece), heat(whole)
    expected = fo.gradient(F.p_norm(serial, 6.0), serial, wrt="prescribed")["prescribed"]
    got = DistributedProblem(local, solver="direct").gradient(F.p_norm(local, 6.0), wrt="prescribed")["prescribed"]
    natural = piece.piece.natural_nodes[local.partition.prescribed]           # one component: dof = node
    position = {dof: i for i, dof in enumerate(serial.partition.prescribed.tolist())}
    np.testing.assert_allclose(got, expected[[position[d] for d in natural.tolist()]], rtol=1e-10, atol=1e-14)
