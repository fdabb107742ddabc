"""The JAX-FEM row of `femopt bench compare`: when JAX-FEM imports, a small cube solved
and differentiated its own way agrees with femopt's; when it (or a module it imports) is
missing, the row says "skipped" with the install hint."""
import sys

import numpy as np
import pytest

from femopt.benchmarks import compare
from femopt.benchmarks.compare_jaxfem import JAXFEM_METHODS, import_jaxfem, jaxfem_cube
from femopt.benchmarks.compare_peers import PeerUnavailable


def _jaxfem_or_skip():
    try:
        return import_jaxfem()
    except PeerUnavailable as reason:
        pytest.skip(f"JAX-FEM cannot run here: {reason}")


@pytest.fixture(scope="module")
def femopt_cube():
    return compare.cube_femopt(3, repeat=1)


def _geometry():
    return dict(E=compare.E, nu=compare.NU, traction=compare.TRACTION, length=1.0)


@pytest.mark.parametrize("method, rtol", [("direct", 1e-10), ("petsc", 1e-7), ("cg+amg", 1e-7)])
def test_femopt_and_jax_fem_agree_on_the_cube(femopt_cube, method, rtol):
    _jaxfem_or_skip()
    reference, mesh, displacement, gradient = femopt_cube
    peer = jaxfem_cube(mesh.points, mesh.cells, method=method, **_geometry())
    assert peer["compliance"] == pytest.approx(reference.answer, rel=rtol)
    np.testing.assert_allclose(peer["displacement"], displacement, rtol=0, atol=rtol * np.abs(displacement).max())
    np.testing.assert_allclose(peer["gradient"], gradient, rtol=0, atol=rtol * np.abs(gradient).max())
    assert peer["solve_s"] > 0 and peer["gradient_s"] > 0 and peer["first_solve_s"] > 0
    assert JAXFEM_METHODS[method][1] in peer["method"]


def test_jax_fem_import_leaves_numpy_and_jax_logging_as_they_were():
    import logging

    options, level = np.get_printoptions(), logging.getLogger("jax").level
    modules = _jaxfem_or_skip()
    assert np.get_printoptions() == options and logging.getLogger("jax").level == level
    assert {"Problem", "Mesh", "ad_wrapper"} <= set(modules)


def test_compare_row_for_jax_fem_is_ok_or_skipped_with_the_reason():
    rows = compare.run(sizes=(2,), mbb_shape=None, repeat=1)
    row, = [r for r in rows if r.library == "JAX-FEM"]
    try:
        import_jaxfem()
    except PeerUnavailable as reason:
        assert row.status == "skipped" and row.note == str(reason)
        return
    assert row.status == "ok", row.note
    assert "first call (compiles)" in row.note and np.isfinite(row.solve_ratio)


def test_jax_fem_imports_without_gmsh():
    import subprocess

    _jaxfem_or_skip()
    script = ("import sys; sys.modules['gmsh'] = None\n"          # `import gmsh` fails, as without gmsh
              "from femopt.benchmarks.compare_jaxfem import import_jaxfem\n"
              "modules = import_jaxfem()\n"
              "assert 'gmsh' not in sys.modules and 'Problem' in modules\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == ""                                   # its banner was caught


def test_missing_jax_fem_gives_a_skipped_row_with_the_install_hint(monkeypatch):
    from femopt.benchmarks import compare_jaxfem

    monkeypatch.setattr(compare_jaxfem, "_modules", {})
    monkeypatch.setitem(sys.modules, "jax_fem", None)          # `import jax_fem` now raises ImportError
    rows = compare.run(sizes=(2,), mbb_shape=None, repeat=1)
    row, = [r for r in rows if r.library == "JAX-FEM"]
    assert row.status == "skipped"
    assert row.note.startswith("JAX-FEM is not installed (pip install jax-fem fenics-basix")
    assert "install_mpi_stack.sh" in row.note


def test_missing_dependency_of_jax_fem_is_named(monkeypatch):
    from femopt.benchmarks import compare_jaxfem

    def import_module(name):
        if name.startswith("jax_fem"):
            raise ModuleNotFoundError("No module named 'basix'", name="basix")
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(compare_jaxfem, "_modules", {})
    monkeypatch.setattr(compare_jaxfem.importlib, "import_module", import_module)
    with pytest.raises(PeerUnavailable, match=r"needs the module 'basix'.*pip install fenics-basix"):
        import_jaxfem()
    assert sys.modules.get("gmsh") is None or sys.modules["gmsh"].__doc__ != "placeholder: gmsh is not installed"


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="not one of"):
        jaxfem_cube(np.zeros((8, 3)), np.arange(8)[None], E=1.0, nu=0.3, traction=(0, 0, -1), length=1.0,
                    method="lu")
