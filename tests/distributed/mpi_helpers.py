"""What the MPI tests share: skips that name the missing piece and the install command,
and running a case script under ``mpirun`` that writes one JSON result per rank."""
import json
from pathlib import Path

import pytest

from femopt.distributed import INSTALL_HINT, petsc_available
from femopt.distributed.launch import find_mpirun, run_mpi

needs_petsc = pytest.mark.skipif(not petsc_available(), reason=f"petsc4py is not installed: {INSTALL_HINT}")
needs_mpirun = pytest.mark.skipif(find_mpirun() is None,
                                  reason=f"mpirun is not on PATH (no MPI installed): {INSTALL_HINT}")


def run_cases(script: Path, tmp_path, which, ranks=2):
    """Every rank's results of ``script <out> <which>`` (files ``<out>.<rank>.json``)."""
    out = tmp_path / "result"
    process = run_mpi(ranks, [script, out, which], timeout=300)
    assert process.returncode == 0, f"mpirun failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}"
    return [json.loads(Path(f"{out}.{rank}.json").read_text()) for rank in range(ranks)]
