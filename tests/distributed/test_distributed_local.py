"""The ranks' local assemblies (femopt's Assembler on each rank's cells) add up to the
serial assembly — residual and matrix, with boundary loads, per-cell and per-node
parameters. No MPI: the ranks are simulated in one process."""
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import femopt as fo
from femopt.distributed import partition_mesh
from femopt.distributed.local import LocalSystem
from femopt.mesh import box, rectangle
from femopt.physics import HeatConduction, LinearElasticity


def _elasticity():
    mesh = box((2.0, 1.0, 1.0), (5, 3, 3))
    problem = fo.Problem(mesh, LinearElasticity(E=2.0, nu=0.25))
    problem.fix("xmin").traction("xmax", [0.0, 0.1, -0.2]).pressure("ymax", 0.3)
    problem.body_force([0.0, 0.0, -1.0], cells=lambda x: x[:, 0] > 1.0)
    return problem, {"E": 1.0 + mesh.cell_centroids()[:, 0]}


def _heat():
    mesh = rectangle((2.0, 1.0), (7, 5), cell="tri3")
    problem = fo.Problem(mesh, HeatConduction(k=1.5))
    problem.fix("xmin", 2.0).convection("xmax", 4.0, 0.5).heat_flux("ymax", 1.0)
    problem.heat_source(fo.nodal_field(mesh.points[:, 1]))
    return problem, {}


@pytest.mark.parametrize("make", [_elasticity, _heat])
@pytest.mark.parametrize("n_parts", [2, 3])
def test_local_assemblies_sum_to_the_serial_assembly(make, n_parts):
    problem, overrides = make()
    params = problem.parameters(overrides)
    u = np.random.default_rng(0).standard_normal(problem.space.n_dofs)
    r_serial, K_serial = problem.assembler.residual_and_tangent(u, problem.split(params))
    numbering = partition_mesh(problem.mesh, n_parts, problem.space.n_components)
    r_sum = np.zeros_like(r_serial)
    K_sum = sp.csr_matrix(K_serial.shape)
    for rank in range(n_parts):
        local = LocalSystem(problem, numbering.piece(problem.mesh.cells, rank))
        r, K = local.residual_and_tangent(u[local.local_dofs], local.split(problem.split(params)))
        np.add.at(r_sum, local.local_dofs, r)
        K = K.tocoo()
        K_sum = K_sum + sp.csr_matrix((K.data, (local.local_dofs[K.row], local.local_dofs[K.col])),
                                      shape=K_serial.shape)
    scale = np.abs(K_serial).max()
    assert np.allclose(r_sum, r_serial, rtol=0, atol=1e-12 * scale * np.abs(u).max())
    assert abs(K_sum - K_serial).max() <= 1e-12 * scale


def test_import_femopt_does_not_load_the_distributed_stack():
    code = ("import sys, femopt; assert 'femopt.distributed' not in sys.modules; "
            "assert 'petsc4py' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr


def test_missing_petsc4py_names_the_install_command():
    code = ("import sys; sys.modules['petsc4py'] = None\n"
            "import femopt.distributed as d\n"
            "try:\n    d.DistributedProblem\nexcept ImportError as e:\n    print(e)\n"
            "else:\n    raise SystemExit('no ImportError')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "scripts/install_mpi_stack.sh" in out.stdout and "conda-forge" in out.stdout
