"""femopt.distributed on PETSc: in this process on one rank, and under ``mpirun -n 2``
against femopt's serial solve (direct solver) — 3D elasticity and 2D heat, CG + GAMG,
MUMPS, and PETSc options from the command line.

Skipped, with the reason and the install command, where petsc4py or mpirun is missing."""
import json
from pathlib import Path

import numpy as np
import pytest

import femopt as fo
from femopt.distributed.launch import run_mpi
from mpi_helpers import needs_mpirun, needs_petsc
from femopt.errors import InputError
from femopt.mesh import box
from femopt.physics import LinearElasticity, NeoHookean

SCRIPT = Path(__file__).with_name("mpi_cases.py")
TOLERANCE = 1e-8        # KSP rtol 1e-12: the solutions agree to far better than this



def _run(tmp_path, *args, ranks=2):
    out = tmp_path / "result.json"
    process = run_mpi(ranks, [SCRIPT, out, *args], timeout=300)
    assert process.returncode == 0, f"mpirun failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}"
    return json.loads(out.read_text())


@needs_petsc
@needs_mpirun
def test_two_ranks_agree_with_the_serial_solve(tmp_path):
    from petsc4py import PETSc

    results = _run(tmp_path, "cg", "direct")
    assert set(results) == {"cantilever/cg", "cantilever/direct", "heat/cg", "heat/direct"}
    for key, result in results.items():
        assert result["ranks"] == 2
        assert result["rel_diff"] < TOLERANCE, (key, result)
        start, middle, end = result["ownership_ranges"]
        assert start == 0 and 0 < middle < end                # both ranks own dofs
    assert results["cantilever/cg"]["ksp"] == "cg" and results["cantilever/cg"]["pc"] == "gamg"
    assert results["heat/direct"]["pc"] == "lu"
    if PETSc.Sys.hasExternalPackage("mumps"):
        assert results["heat/direct"]["factor"] == "mumps"


@needs_petsc
@needs_mpirun
def test_petsc_options_from_the_command_line(tmp_path):
    from petsc4py import PETSc

    if not PETSc.Sys.hasExternalPackage("mumps"):
        pytest.skip("this PETSc build has no MUMPS (parallel LU)")
    results = _run(tmp_path, "cg", "-femopt_ksp_type", "preonly", "-femopt_pc_type", "lu",
                   "-femopt_pc_factor_mat_solver_type", "mumps")
    for key, result in results.items():
        assert (result["ksp"], result["pc"], result["factor"]) == ("preonly", "lu", "mumps"), key
        assert result["rel_diff"] < TOLERANCE, (key, result)


@needs_petsc
def test_one_rank_in_process_matches_the_serial_solve():
    from femopt.distributed import DistributedProblem

    mesh = box((3.0, 1.0, 1.0), (6, 2, 2))
    problem = fo.Problem(mesh, LinearElasticity(), linear_solver="direct")
    problem.fix("xmin").fix("xmax", 0.01, components=0).body_force([0.0, 0.0, -0.1])
    reference = problem.solve()
    dp = DistributedProblem(problem, rtol=1e-12)
    u = dp.solve()
    assert np.linalg.norm(u - reference) < TOLERANCE * np.linalg.norm(reference)
    assert dp.solve(gather="none") is None
    assert np.allclose(dp.local_field(), dp.gather(dp.solution).ravel()[dp.local.local_dofs])
    assert {"partition", "assembly_kernels", "assembly_insert", "solver_setup", "solve"} <= set(dp.timings)


@needs_petsc
def test_refused_problems():
    from femopt.distributed import DistributedProblem

    mesh = box(shape=(2, 2, 2))
    with pytest.raises(InputError, match="newton must be a femopt NewtonOptions"):
        DistributedProblem(fo.Problem(mesh, NeoHookean()).fix("xmin"), newton={"rtol": 1e-8})
    with pytest.raises(InputError, match="no Dirichlet conditions"):
        DistributedProblem(fo.Problem(mesh, LinearElasticity()))
    with pytest.raises(InputError, match="solver must be one of"):
        DistributedProblem(fo.Problem(mesh, LinearElasticity()).fix("xmin"), solver="gmres")
    with pytest.raises(InputError, match="DistributedProblem needs a femopt Problem"):
        DistributedProblem(object())


def test_mpirun_environment_allows_root_and_containers():
    import os

    from femopt.distributed.launch import mpirun_environment

    env = mpirun_environment({"PATH": "/usr/bin"})
    assert env["PATH"] == "/usr/bin" and env["OMP_NUM_THREADS"] == "1"
    assert env["OMPI_MCA_btl_vader_single_copy_mechanism"] == "none"
    if os.geteuid() == 0:
        assert env["OMPI_ALLOW_RUN_AS_ROOT"] == env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] == "1"
    assert mpirun_environment({"OMP_NUM_THREADS": "4"})["OMP_NUM_THREADS"] == "4"   # the caller's wins
