"""`femopt bench compare`: the quick run writes its files, femopt and scikit-fem agree on
the same cube, and a missing peer becomes a "skipped" row with the reason."""
import csv
import sys

import numpy as np
import pytest

from femopt.benchmarks import compare
from femopt.benchmarks.compare_peers import PeerUnavailable, skfem_cube, skfem_node_order


def _rows(folder):
    with open(folder / "compare.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_quick_run_writes_table_and_plot(tmp_path, capsys, monkeypatch):
    # JAX-FEM compiles anew for every mesh size (~20 s for the three quick cubes); its row
    # is checked in test_compare_jaxfem.py, here it only has to appear
    def jaxfem_left_out(*args, **kwargs):
        raise PeerUnavailable("left out by this test")

    monkeypatch.setattr(compare, "jaxfem_cube", jaxfem_left_out)
    assert compare.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "compare.png").stat().st_size > 0
    rows = _rows(tmp_path)
    assert {r["library"] for r in rows} >= {"femopt", "numpy top88", "torch-fem", "JAX-FEM"}
    femopt_cubes = [r for r in rows if r["library"] == "femopt" and r["case"].startswith("cube")]
    assert len(femopt_cubes) == 3
    assert all(float(r[f"{p}_s"]) > 0 for r in femopt_cubes for p in compare.PHASES)
    assert all(r["status"] != "mismatch" for r in rows)
    assert "ratio to femopt" in capsys.readouterr().out


def test_femopt_and_scikit_fem_agree_on_the_cube():
    pytest.importorskip("skfem")
    reference, mesh, displacement, gradient = compare.cube_femopt(3, repeat=1)
    peer = skfem_cube(mesh.points, mesh.cells, E=compare.E, nu=compare.NU, traction=compare.TRACTION,
                      length=1.0, repeat=1)
    assert peer["compliance"] == pytest.approx(reference.answer, rel=1e-10)
    np.testing.assert_allclose(peer["displacement"], displacement, rtol=0, atol=1e-10 * np.abs(displacement).max())
    np.testing.assert_allclose(peer["gradient"], gradient, rtol=1e-9)


def test_amg_cg_path_of_scikit_fem_matches_its_direct_solve():
    pytest.importorskip("skfem")
    pytest.importorskip("pyamg")
    from femopt import mesh as meshes

    box = meshes.box(size=(1.0, 1.0, 1.0), shape=(3, 3, 3), cell="hex8")
    args = dict(E=1.0, nu=0.3, traction=(0.0, 0.0, -1.0), length=1.0, repeat=1)
    direct = skfem_cube(box.points, box.cells, method="direct", **args)
    iterative = skfem_cube(box.points, box.cells, method="cg+amg", **args)
    assert iterative["method"].startswith("pyamg")
    assert iterative["compliance"] == pytest.approx(direct["compliance"], rel=1e-8)


def test_node_order_maps_skfem_reference_nodes_onto_vtk_ones():
    skfem = pytest.importorskip("skfem")
    order = skfem_node_order(skfem)
    assert sorted(order) == list(range(8))
    assert order == [0, 4, 3, 1, 7, 5, 2, 6]


def test_missing_peer_gives_a_skipped_row_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "skfem", None)          # `import skfem` now raises ImportError
    rows = compare.run(sizes=(2,), mbb_shape=None, repeat=1, peers=("scikit-fem", "torch-fem"))
    skipped = [r for r in rows if r.library == "scikit-fem"]
    assert len(skipped) == 1 and skipped[0].status == "skipped"
    assert skipped[0].note == "scikit-fem is not installed (pip install scikit-fem)"
    assert "skipped: scikit-fem is not installed" in compare.table(rows)
    compare.write_csv(rows, tmp_path / "compare.csv")
    compare.write_plot(rows, tmp_path / "compare.png")
    assert (tmp_path / "compare.png").exists()


def test_disagreeing_answers_exit_non_zero(monkeypatch, capsys):
    real = compare.skfem_cube

    def off_by_a_bit(*args, **kwargs):
        result = real(*args, **kwargs)
        return {**result, "compliance": result["compliance"] * (1 + 1e-4)}

    pytest.importorskip("skfem")
    monkeypatch.setattr(compare, "skfem_cube", off_by_a_bit)
    assert compare.main(["--sizes", "2", "--no-mbb", "--repeat", "1", "--peers", "scikit-fem"]) == 1
    assert "answers disagree" in capsys.readouterr().out


def test_fit_exponent_recovers_a_power_law():
    dofs = np.array([1e3, 1e4, 1e5])
    assert compare.fit_exponent(dofs, 2e-6 * dofs**1.3) == pytest.approx(1.3)
    assert np.isnan(compare.fit_exponent(dofs[:1], [1.0]))


def test_femopt_and_torch_fem_agree_on_the_cube():
    pytest.importorskip("torchfem")
    from femopt.benchmarks.compare_torchfem import torchfem_cube

    reference, mesh, displacement, gradient = compare.cube_femopt(3, repeat=1)
    peer = torchfem_cube(mesh.points, mesh.cells, E=compare.E, nu=compare.NU, traction=compare.TRACTION,
                         length=1.0)
    assert peer["compliance"] == pytest.approx(reference.answer, rel=1e-10)
    np.testing.assert_allclose(peer["displacement"], displacement, rtol=0, atol=1e-10 * np.abs(displacement).max())
    np.testing.assert_allclose(peer["gradient"], gradient, rtol=1e-9)


def test_missing_torch_fem_gives_a_skipped_row(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchfem", None)
    rows = compare.run(sizes=(2,), mbb_shape=None, repeat=1, peers=("torch-fem",))
    skipped = [r for r in rows if r.library == "torch-fem"]
    assert len(skipped) == 1 and skipped[0].status == "skipped"
    assert skipped[0].note == "torch-fem is not installed (pip install torch-fem)"


def test_peers_option_runs_only_the_chosen_libraries(monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("a peer left out by --peers ran")

    monkeypatch.setattr(compare, "skfem_cube", must_not_run)
    monkeypatch.setattr(compare, "jaxfem_cube", must_not_run)
    rows = compare.run(sizes=(2,), mbb_shape=None, repeat=1, peers=("torch-fem",))
    assert [r.library for r in rows] == ["femopt", "torch-fem"]
    with pytest.raises(ValueError, match="not among"):
        compare.run(sizes=(2,), mbb_shape=None, peers=("FEniCS",))
