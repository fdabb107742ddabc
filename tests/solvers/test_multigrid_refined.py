"""Geometric multigrid on meshes made by fo.mesh.refine: the hierarchy the refinement
recorded is the multigrid hierarchy, for any cell shape (tets, triangles). Checked against
sparse direct solves of the same systems; iteration counts stay flat as levels are added."""
import logging

import numpy as np
import pytest

import femopt as fo
from femopt.errors import InputError
from femopt.solvers.multigrid import GeometricMultigrid, gmg_solver
from femopt.solvers.multigrid_refined import coarsest_mesh, refinement_depth, refinement_transfers


def cantilever(mesh, linear_solver, E=1.0):
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=E, nu=0.3), linear_solver=linear_solver)
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.0, -1.0])
    return problem


@pytest.fixture(scope="module")
def coarse_tets():
    return fo.mesh.box(size=(2.0, 1.0, 1.0), shape=(4, 2, 2), cell="tet4")


def test_refinement_chain_is_read_back(coarse_tets):
    fine = fo.mesh.refine(coarse_tets, 2)
    assert refinement_depth(fine) == 2 and refinement_depth(coarse_tets) == 0
    assert coarsest_mesh(fine) is coarse_tets


def test_transfers_keep_the_supports_and_reproduce_rigid_motions(coarse_tets):
    fine = fo.mesh.refine(coarse_tets, 2)
    problem = cantilever(fine, "direct")
    free = problem.partition.free
    transfers = refinement_transfers(fine, 3, free, coarse_dofs=1, max_levels=10)
    assert [t.P.shape for t in transfers] == [(free.size, transfers[0].P.shape[1]),
                                              (transfers[0].P.shape[1], transfers[1].P.shape[1])]
    # a translation of the free dofs is interpolated exactly (rows of P sum to 1 away
    # from the clamped side, where the fixed coarse dofs are dropped)
    P = transfers[0].P
    coarse_nodes, components = transfers[0].coarse_nodes, transfers[0].coarse_components
    shift = np.where(components == 2, 1.0, 0.0)
    fine_nodes, fine_components = free // 3, free % 3
    away = fine.points[fine_nodes, 0] > 0.5 + 1e-12      # no clamped node among the parents
    assert np.allclose((P @ shift)[away], np.where(fine_components == 2, 1.0, 0.0)[away])
    assert np.all(coarse_nodes < fine.refinement.coarse.n_nodes)   # coarse nodes are fine nodes 0..n_coarse-1


@pytest.mark.parametrize("levels", [2, 3])
def test_gmg_cg_matches_a_direct_solve_on_refined_tets(coarse_tets, levels):
    mesh = fo.mesh.refine(coarse_tets, levels)
    reference = cantilever(mesh, "direct").solve()
    probe = cantilever(mesh, "direct")
    solver = gmg_solver(probe, rtol=1e-10)
    problem = cantilever(mesh, solver)
    u = problem.solve()
    assert np.max(np.abs(u - reference)) <= 1e-8 * np.max(np.abs(reference))
    assert len(solver.preconditioner.level_dofs) == levels          # down to the 600-dof coarse mesh
    assert max(problem.state.factorization.last_iterations) <= 25   # 14 at 2 levels, 17 at 3


def test_gmg_on_refined_triangles_with_a_varying_stiffness():
    coarse = fo.mesh.rectangle(size=(2.0, 1.0), shape=(6, 3), cell="tri3")
    mesh = fo.mesh.refine(coarse, 4)
    E = np.where(mesh.points[mesh.cells].mean(axis=1)[:, 0] > 1.0, 1e-3, 1.0)   # soft half

    def problem(solver):
        p = fo.Problem(mesh, fo.physics.LinearElasticity(E=fo.cell_field(E), nu=0.3, plane="stress"),
                       linear_solver=solver)
        p.fix("xmin")
        p.traction("xmax", [0.0, -1e-3])
        return p

    reference = problem("direct").solve()
    solver = gmg_solver(problem("direct"), rtol=1e-10, coarse_dofs=100)
    u = problem(solver).solve()
    assert np.max(np.abs(u - reference)) <= 1e-7 * np.max(np.abs(reference))
    assert len(solver.preconditioner.level_dofs) == 5                  # 4 refinements, down to 6 x 3


def test_auto_chooses_multigrid_for_a_refined_mesh(coarse_tets, caplog):
    mesh = fo.mesh.refine(coarse_tets, 3)                    # 27 744 free dofs > 20 000
    with caplog.at_level(logging.INFO, logger="femopt.solvers"):
        problem = cantilever(mesh, "auto")
        u = problem.solve()
    assert "refined tet4 mesh (3x refined tet4 mesh)" in caplog.text
    assert "CG + geometric multigrid (3 levels)" in caplog.text
    assert np.all(np.isfinite(u))


def test_a_mesh_that_is_neither_refined_nor_a_lattice_is_refused(coarse_tets):
    problem = cantilever(coarse_tets, "direct")
    with pytest.raises(InputError, match="neither"):
        gmg_solver(problem)
    with pytest.raises(InputError, match="femopt.mesh.refine"):
        GeometricMultigrid(coarse_tets, 3, problem.partition.free)
