"""Newton on PETSc under ``mpirun -n 2`` against femopt's serial Newton: a neo-Hookean
3D block in large deformation (energy line search) and heat conduction with k(T) (an
unsymmetric tangent: LU through MUMPS, and GMRES + GAMG), with CG + GAMG and MUMPS; load
steps; a Newton failure raised alike on every rank (no hang).

Skipped, with the reason and the install command, where petsc4py or mpirun is missing."""
from pathlib import Path

import pytest

from mpi_helpers import needs_mpirun, needs_petsc
from mpi_helpers import run_cases as run_helper

SCRIPT = Path(__file__).with_name("mpi_cases_gradient.py")



def run_cases(tmp_path, which, ranks=2):
    return run_helper(SCRIPT, tmp_path, which, ranks)


@needs_petsc
@needs_mpirun
def test_two_rank_newton_agrees_with_the_serial_newton(tmp_path):
    ranks = run_cases(tmp_path, "newton")
    first, second = ranks
    for key in ("neo_hookean/direct", "neo_hookean/cg", "heat_kT/direct", "heat_kT/cg"):
        result = first[key]
        assert result["ranks"] == 2 and first[key]["owned_dofs"] > 0 and second[key]["owned_dofs"] > 0
        assert result["rel_diff"] < 1e-9, (key, result)
        # the same iterations as the serial Newton: the same tests, line search and merit
        assert result["newton_iterations"] == result["serial_iterations"], (key, result)
        assert second[key]["newton_iterations"] == result["newton_iterations"]
    assert "energy" in first["neo_hookean/direct"]["merits"]          # the bent block needs it
    assert first["heat_kT/cg"]["ksp"] == "gmres"                      # unsymmetric tangent: not CG
    assert first["neo_hookean/load_steps"] == {"rel_diff": pytest.approx(0, abs=1e-9), "steps": 3}
    # a failing Newton raises the same NewtonError on both ranks, with its history
    for result in ranks:
        assert result["failure"]["reason"] == "max_iterations"
        assert result["failure"]["history"] == 2
        assert "last residual norms" in result["failure"]["message"]
    assert first["failure"] == second["failure"]


@needs_petsc
def test_newton_options_are_checked():
    import femopt as fo
    from femopt.distributed import DistributedProblem
    from femopt.errors import InputError
    from femopt.mesh import box
    from femopt.physics import NeoHookean

    problem = fo.Problem(box(shape=(2, 1, 1)), NeoHookean()).fix("xmin")
    with pytest.raises(InputError, match="NewtonOptions"):
        DistributedProblem(problem, newton={"rtol": 1e-8})
    with pytest.raises(InputError, match="load_steps must be a positive integer"):
        DistributedProblem(problem).solve(load_steps=0)
