"""Problems set up on each rank's piece of the mesh (no rank holds the whole mesh):
``femopt.distributed.box`` / ``rectangle`` / ``cut`` + DistributedProblem, against
femopt's serial solve and ``fo.gradient`` on the whole mesh — under ``mpirun -n 2``, and
in this process on one rank (where the piece is the whole mesh).

Skipped, with the reason and the install command, where petsc4py or mpirun is missing."""
import json
from pathlib import Path

import numpy as np
import pytest

import femopt as fo
from femopt import functionals as F
from femopt.distributed import box, cut
from femopt.distributed.launch import run_mpi
from femopt.errors import InputError
from femopt.physics import LinearElasticity
from mpi_helpers import needs_mpirun, needs_petsc
from mpi_helpers import run_cases as run_helper

SCRIPT = Path(__file__).with_name("mpi_piece_cases.py")
TOLERANCE = 1e-8


@needs_petsc
@needs_mpirun
def test_two_ranks_on_pieces_agree_with_the_serial_solve_and_gradient(tmp_path):
    first, second = run_helper(SCRIPT, tmp_path, "solve", 2)
    assert set(first) == {"elastic/box/cg", "heat/rectangle/cg", "elastic/cut-tet4/direct"}
    for key, result in first.items():
        assert result["ranks"] == 2
        assert result["n_local_cells"] < result["n_cells"], key            # each rank holds a part
        assert result["local"] < TOLERANCE and result["all"] < TOLERANCE, (key, result)
        assert result["value"] < TOLERANCE, (key, result)
        for name, difference in result["grads"].items():
            assert difference < TOLERANCE, (key, name, result)
        for name, difference in second[key]["grads"].items():
            assert difference < TOLERANCE, (key, name, second[key])
    shapes = first["elastic/box/cg"]["shapes"]
    n_local = first["elastic/box/cg"]["n_local_cells"]
    assert shapes["E"] == [n_local] and shapes["nu"] == [] and shapes["t"] == [3]   # the piece's cells
    assert shapes["coordinates"] == first["elastic/box/cg"]["local_shape"]           # the piece's nodes


@needs_petsc
@needs_mpirun
def test_two_ranks_on_pieces_newton_reading_and_refusals(tmp_path):
    first, second = run_helper(SCRIPT, tmp_path, "newton,errors,read", 2)
    for result in (first, second):                    # a quad8 mesh file read by rank 0, sent in pieces
        assert result["tags"] == ["xmax", "xmin", "ymax", "ymin"] and result["natural"]
        solved = result["heat/read/cg"]
        assert solved["n_local_cells"] < solved["n_cells"]
        assert max(solved["local"], solved["all"], solved["value"], solved["grads"]["k"]) < TOLERANCE, solved
        assert "rank 0 could not read" in result["missing"] and "no such file" in result["missing"]
    result = first["neo_hookean/box/direct"]
    assert result["local"] < TOLERANCE and result["all"] < TOLERANCE, result
    assert max(result["grads"].values()) < TOLERANCE and result["value"] < TOLERANCE, result
    assert "not a sum over cells" in first["replicated"]
    assert "different values for shared dofs" in first["disagree"]
    assert "different values for shared dofs" in second["disagree"]


@needs_petsc
def test_one_rank_piece_is_the_whole_problem():
    from femopt.distributed import DistributedProblem

    mesh = box((3.0, 1.0, 1.0), (6, 2, 2))
    assert mesh.piece is not None and mesh.piece.n_ranks == 1
    whole = fo.mesh.box((3.0, 1.0, 1.0), (6, 2, 2))
    np.testing.assert_array_equal(mesh.points, whole.points)

    def make(m):
        return fo.Problem(m, LinearElasticity(E=2.0, nu=0.3)).fix("xmin").traction("xmax", [0.0, -1e-2, 0.0])

    reference = make(whole).solve()
    dp = DistributedProblem(make(mesh), solver="direct")
    np.testing.assert_allclose(dp.solve(), reference, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dp.solve(gather="all"), reference, rtol=1e-10, atol=1e-14)
    g = dp.gradient(F.compliance(), wrt=["E", "coordinates"])
    expected = fo.gradient(F.compliance(), make(whole), wrt=["E", "coordinates"])
    np.testing.assert_allclose(g.grads["coordinates"], expected.grads["coordinates"], rtol=1e-9, atol=1e-14)
    assert g.grads["E"] == pytest.approx(float(expected.grads["E"]), rel=1e-10)
    # the same script serially, without DistributedProblem: the one-rank piece is a mesh
    np.testing.assert_allclose(make(mesh).solve(), reference, rtol=1e-12, atol=1e-15)


@needs_petsc
def test_a_piece_refuses_cell_part_and_a_foreign_rank():
    from femopt.distributed import DistributedProblem
    from femopt.mesh import cut_piece

    whole = fo.mesh.box(shape=(4, 2, 2))
    mine = cut(whole)
    problem = fo.Problem(mine, LinearElasticity()).fix("xmin")
    with pytest.raises(InputError, match="already a piece"):
        DistributedProblem(problem, cell_part=np.zeros(whole.n_cells, dtype=int))
    other = fo.Problem(cut_piece(whole, 1, 2), LinearElasticity()).fix("xmin")
    with pytest.raises(InputError, match="piece 1 of 2, but it runs as rank 0 of 1"):
        DistributedProblem(other)


@needs_petsc
@needs_mpirun
def test_topology_optimization_on_pieces_and_a_resume_on_another_rank_count(tmp_path, monkeypatch):
    """5 OC iterations on 2 ranks' pieces, checkpointed; resumed in this process on one
    rank to 10: both agree with femopt's serial run (its own cells on each rank)."""
    import mpi_piece_topology_cases as cases

    work = tmp_path / "work"
    first, second = _run_topology(tmp_path, work)
    for result in (first, second):
        assert result["ranks"] == 2 and result["n_own"] < result["n_cells"]
        assert result["filter"] < 1e-13 and result["filter_transpose"] < 1e-13 and result["gathered"] == 0.0
        assert result["ghost_cells"] > 0
        assert result["oc"]["iterations"] == 5 and result["oc"]["x_shape"] == [result["n_own"]]
        for key in ("compliance", "design", "density"):
            assert result["oc"][key] < 1e-9, (key, result["oc"])
    assert (work / "pieces" / "design.pvtu").exists()
    out = tmp_path / "resumed"
    monkeypatch.setattr("sys.argv", ["cases", str(out), str(work), "10", "resume"])
    cases.main()
    resumed = json.loads(Path(f"{out}.0.json").read_text())
    assert resumed["ranks"] == 1 and resumed["oc"]["x_shape"] == [resumed["n_cells"]]
    assert resumed["oc"]["iterations"] == 10 and resumed["oc"]["this_run"] == 5
    for key in ("compliance", "design", "density"):
        assert resumed["oc"][key] < 1e-9, (key, resumed["oc"])


def _run_topology(tmp_path, work):
    out = tmp_path / "topology"
    process = run_mpi(2, [Path(__file__).with_name("mpi_piece_topology_cases.py"), out, work, "5"], timeout=300)
    assert process.returncode == 0, f"mpirun failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}"
    return [json.loads(Path(f"{out}.{rank}.json").read_text()) for rank in range(2)]


def test_pack_and_unpack_keep_names_dtypes_shapes_and_values():
    from femopt.distributed.transfer import pack, unpack

    arrays = {"points": np.random.default_rng(0).standard_normal((5, 3)), "cells": np.arange(12).reshape(3, 4),
              "flags": np.array([True, False]), "empty": np.zeros((0, 2), dtype=np.int64), "n": np.array(7),
              "name with:colon": np.frombuffer("hex8".encode(), dtype=np.uint8)}
    back = unpack(pack(arrays))
    assert list(back) == list(arrays)
    for name, value in arrays.items():
        assert back[name].dtype == value.dtype and back[name].shape == value.shape
        np.testing.assert_array_equal(back[name], value)
    with pytest.raises(InputError, match="2\\^53"):
        pack({"big": np.array([2 ** 60])})


def test_read_on_one_rank_is_the_whole_mesh(tmp_path):
    from femopt.distributed import read

    whole = fo.mesh.rectangle((2.0, 1.0), (5, 3), cell="tri6")
    fo.mesh.write(tmp_path / "plate.vtu", whole)
    piece = read(tmp_path / "plate.vtu")
    assert piece.piece is not None and piece.piece.n_ranks == 1 and piece.piece.n_owned == whole.n_nodes
    np.testing.assert_array_equal(piece.points, whole.points)
    np.testing.assert_array_equal(piece.cells, whole.cells)
    assert sorted(piece.facet_tags) == ["xmax", "xmin", "ymax", "ymin"]
