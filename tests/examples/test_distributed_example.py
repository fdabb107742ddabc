"""The distributed cantilever example at its small size: in this process (one rank, or
femopt's serial route without petsc4py) and under ``mpirun -n 2``, with the same design.
At this size CG meets an indefinite GAMG preconditioner after a few OC steps: the solve
must go on with flexible CG (it stopped with KSP_DIVERGED_INDEFINITE_PC before)."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
from example_loader import EXAMPLES, load

from femopt.distributed import INSTALL_HINT, petsc_available
from femopt.distributed.launch import find_mpirun, run_mpi


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The example's small run in this process (one rank, or the serial route), once."""
    folder = tmp_path_factory.mktemp("distributed_example")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FEMOPT_EXAMPLE_SIZE", "small")
        patch.chdir(folder)
        result = load("distributed_cantilever").main()
    return folder, result


def test_small_run_in_this_process(small_run, monkeypatch):
    tmp_path, result = small_run
    monkeypatch.setenv("FEMOPT_EXAMPLE_SIZE", "small")
    monkeypatch.chdir(tmp_path)
    assert result.iterations == 10
    assert result.history.objective[-1] < 0.6 * result.history.objective[0]
    assert result.volume_fraction <= 0.3 + 1e-3
    folder = tmp_path / "femopt-output" / "distributed_cantilever"
    assert (folder / "run.npz").stat().st_size > 0
    if result.ranks:                                   # the PETSc route writes the .pvtu
        assert (folder / "design.pvtu").stat().st_size > 0
    again = load("distributed_cantilever").main()      # resumed from the checkpoint: nothing to do
    np.testing.assert_array_equal(again.x, result.x)


@pytest.mark.skipif(not petsc_available(), reason=f"petsc4py is not installed: {INSTALL_HINT}")
@pytest.mark.skipif(find_mpirun() is None, reason=f"mpirun is not on PATH: {INSTALL_HINT}")
def test_two_ranks_give_the_one_rank_design(tmp_path, small_run):
    script = tmp_path / "run.py"
    script.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(EXAMPLES)!r})\n"
        "import distributed_cantilever as example\n"
        "from petsc4py import PETSc\n"
        "r = example.run((12, 6, 6), max_iterations=10, output_dir=sys.argv[1])\n"
        "json.dump({'compliance': r.compliance, 'x': r.x.tolist(), 'cells': r.cells.tolist(), 'ranks': r.ranks},\n"
        "          open(f'{sys.argv[2]}.{PETSc.COMM_WORLD.getRank()}', 'w'))\n")
    _, alone = small_run                               # one rank, in this process
    assert alone.ranks == 1 and alone.cells.size == 12 * 6 * 6
    designs, compliances = [np.asarray(alone.x)[np.argsort(alone.cells)]], [alone.compliance]
    for ranks in (2,):
        out = tmp_path / f"r{ranks}.json"
        process = run_mpi(ranks, [script, tmp_path / f"out{ranks}", out], timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])))
        assert process.returncode == 0, process.stderr[-3000:]
        parts = [json.loads(Path(f"{out}.{rank}").read_text()) for rank in range(ranks)]
        assert [p["ranks"] for p in parts] == [ranks] * ranks
        x = np.full(12 * 6 * 6, np.nan)
        for part in parts:                             # each rank: the design of its own cells
            x[part["cells"]] = part["x"]
        assert ranks == 1 or len(parts[0]["x"]) < x.size
        designs.append(x)
        compliances.append(parts[0]["compliance"])
    assert abs(compliances[1] / compliances[0] - 1) < 1e-6         # two ranks give the one-rank design
    np.testing.assert_allclose(designs[1], designs[0], atol=1e-6)
    assert (tmp_path / "out2" / "distributed_cantilever" / "design.pvtu").exists()
