"""The distributed benchmarks run end to end at a tiny size and agree with the serial path."""
import pytest

from femopt.distributed import INSTALL_HINT, petsc_available
from femopt.distributed.launch import find_mpirun

pytestmark = [pytest.mark.skipif(not petsc_available(), reason=f"petsc4py is not installed: {INSTALL_HINT}"),
              pytest.mark.skipif(find_mpirun() is None, reason=f"mpirun is not on PATH: {INSTALL_HINT}")]


def test_solve_benchmark_on_two_ranks_whole_mesh_and_pieces():
    from femopt.benchmarks.distributed import run_distributed_benchmark

    report = run_distributed_benchmark(shape=(6, 3, 3), ranks=(2,), timeout=300)
    for mesh in ("replicated", "pieces"):
        record = report["records"][f"2 ranks, {mesh}"]
        assert record["rel_diff_to_serial"] < 1e-6
        assert [r["mesh"] for r in record["per_rank"]] == [mesh, mesh]
        assert f"| 2 ranks, {mesh} |" in report["table"]


def test_topology_benchmark_on_two_ranks():
    from femopt.benchmarks.distributed_topopt import run_benchmark

    report = run_benchmark(shape=(6, 3, 3), ranks=(2,), iterations=2, timeout=300, meshes=("pieces",))
    assert len(report["records"]["2 ranks, pieces"]) == 2 and "| 2 ranks, pieces |" in report["table"]

