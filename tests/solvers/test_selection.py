"""The automatic solver choice and what it tells the solvers: near-null spaces from the
free dofs, the choice by dimension, size and symmetry (logged), preconditioner reuse."""
import logging

import numpy as np
import pytest
import scipy.sparse as sp

import femopt as fo
from femopt.fem.nullspace import rigid_body_modes
from femopt.solvers.linear import (AutoSolver, CGSolver, DirectSolver, PreconditionerReuse, SolverContext)
from femopt.solvers import selection


def context(dim, n_nodes, c, symmetric=True, free=None):
    points = np.random.default_rng(0).random((n_nodes, dim))
    free = np.arange(n_nodes * c) if free is None else free
    return SolverContext(points, c, free, symmetric)


@pytest.mark.parametrize("dim, n_nodes, c, symmetric, expected, modes", [
    (3, 12_000, 3, True, CGSolver, 6),            # 36k free dofs > 30k: AMG-CG, rigid-body modes
    (3, 12_000, 1, True, DirectSolver, None),      # 12k scalar dofs: direct
    (3, 40_000, 1, True, CGSolver, 1),             # scalar: the constant
    (3, 12_000, 3, False, DirectSolver, None),     # nonsymmetric: never CG
    (2, 90_000, 2, True, DirectSolver, None),      # 180k 2D dofs: direct
    (2, 110_000, 2, True, CGSolver, 3),
])
def test_auto_choice(dim, n_nodes, c, symmetric, expected, modes):
    solver, why = AutoSolver().choose(context(dim, n_nodes, c, symmetric))
    assert isinstance(solver, expected), why
    if modes is not None:
        assert solver.near_nullspace.shape == (n_nodes * c, modes)
    if not symmetric:
        assert solver.symmetric is False and "nonsymmetric" in why


@pytest.mark.parametrize("dim", [2, 3])
def test_rigid_body_modes_are_the_null_space_of_an_unsupported_stiffness(dim):
    mesh = (fo.mesh.rectangle(size=(2, 1), shape=(4, 2), cell="quad8") if dim == 2
            else fo.mesh.box(size=(2, 1, 1), shape=(2, 1, 1), cell="hex20"))
    problem = fo.Problem(mesh, fo.physics.LinearElasticity())
    _, K = problem.residual_and_tangent(np.zeros(problem.space.n_dofs))
    modes = rigid_body_modes(mesh.points)
    assert modes.shape[1] == (3 if dim == 2 else 6)
    assert np.abs(K @ modes).max() < 1e-12 * np.abs(K).max() * np.abs(modes).max()
    assert np.linalg.matrix_rank(modes) == modes.shape[1]


def test_context_near_nullspace_is_restricted_to_the_free_dofs():
    free = np.array([0, 1, 2, 5, 7, 8])
    ctx = context(3, 3, 3, free=free)
    assert np.array_equal(ctx.near_nullspace, rigid_body_modes(ctx.points)[free])


def test_unstructured_3d_gets_amg_with_rigid_body_modes():
    ctx = SolverContext(np.random.default_rng(0).random((12_000, 3)), 3, np.arange(36_000), True,
                        mesh=fo.mesh.box(shape=(2, 2, 2), cell="tet4"))
    solver, why = AutoSolver().choose(ctx)
    assert solver.preconditioner == "amg" and solver.near_nullspace.shape == (36_000, 6)
    assert "CG + smoothed-aggregation AMG (6 near-null-space modes)" in why


def test_problem_binds_auto_and_logs_the_choice(caplog):
    mesh = fo.mesh.box(size=(2, 1, 1), shape=(40, 16, 16), cell="hex8")     # 34 680 free dofs
    problem = fo.Problem(mesh, fo.physics.LinearElasticity())
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.0, -1.0])
    with caplog.at_level(logging.INFO, logger="femopt.solvers"):
        problem.solve()
    solver = problem.bound_linear_solver()
    assert isinstance(solver, CGSolver) and solver.preconditioner.name == "gmg"     # a structured lattice
    assert "3D structured hex8 mesh (40x16x16 lattice), symmetric, 34680 free dofs > 20000: CG + geometric multigrid" in caplog.text
    assert problem.state.factorization.last_iterations[0] < 25
    free = problem.partition.free
    residual = problem.residual(problem.state.u)[free]
    load = problem.residual(np.zeros(problem.space.n_dofs))[free]
    assert np.linalg.norm(residual) <= 1e-9 * np.linalg.norm(load)


def test_nonsymmetric_physics_gets_a_direct_solver():
    mesh = fo.mesh.rectangle(shape=(4, 4))
    problem = fo.Problem(mesh, fo.physics.HeatConduction(conductivity=lambda T, k: k * (1 + 0.1 * T)))
    assert isinstance(problem.bound_linear_solver(), DirectSolver)
    assert problem.bound_linear_solver().symmetric is False


def spd(n, shift):
    main = np.full(n, 2.0 + shift)
    return sp.diags([main, -np.ones(n - 1), -np.ones(n - 1)], [0, -1, 1]).tocsr()


def test_reuse_policy_keeps_the_preconditioner_while_iterations_stay_low():
    policy = PreconditionerReuse(max_growth=1.5, min_iterations=2)
    solver = CGSolver("jacobi", rtol=1e-10, reuse=policy)
    b = np.ones(200)
    first = solver.factorize(spd(200, 0.1))
    first.solve(b)
    second = solver.factorize(spd(200, 0.1001))
    assert second.reused and policy.setups == 1 and policy.reuses == 1
    second.solve(b)
    policy._last = 10 * policy._baseline                     # iterations grew a lot
    third = solver.factorize(spd(200, 0.1002))
    assert not third.reused and policy.setups == 2
    assert solver.factorize(spd(100, 0.1)).reused is False   # another size: a new set-up


def test_reuse_counters_round_trip():
    policy = PreconditionerReuse()
    policy.keep(lambda v: v, 10)
    policy.record(7)
    policy.record(9)
    other = PreconditionerReuse()
    other.load_state_dict(policy.state_dict())
    assert (other.setups, other._baseline, other._last) == (1, 7, 9)


def test_thresholds_are_the_documented_ones():
    assert selection.ITERATIVE_3D_MIN_DOFS == 30_000 and selection.ITERATIVE_2D_MIN_DOFS == 200_000


def test_a_3d_superlu_factorization_beyond_memory_is_refused(monkeypatch):
    mesh = fo.mesh.box(size=(2, 1, 1), shape=(8, 4, 4), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(), linear_solver=DirectSolver(backend="superlu"))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.0, -1.0])
    _, K = problem.residual_and_tangent(np.zeros(problem.space.n_dofs))
    A = problem.partition.free_block(K)
    solver = problem.bound_linear_solver()
    assert solver.dim == 3
    solver.factorize(A)                                           # fits
    monkeypatch.setenv("FEMOPT_MEMORY_LIMIT", "100K")
    with pytest.raises(fo.ResourceError, match=r"SuperLU factorization of 600 3D dofs.*linear_solver='cg'"):
        solver.factorize(A)


def test_a_kept_preconditioner_that_stops_helping_is_replaced_within_the_solve():
    policy = PreconditionerReuse(max_growth=1.5, min_iterations=2)
    solver = CGSolver("jacobi", rtol=1e-10, reuse=policy)
    b = np.ones(300)
    solver.factorize(spd(300, 0.5)).solve(b)
    baseline = policy._baseline
    scale = np.exp(np.random.default_rng(1).uniform(-4, 4, 300))      # a very different matrix
    A = sp.diags(np.sqrt(scale)) @ spd(300, 0.5) @ sp.diags(np.sqrt(scale))
    factorization = solver.factorize(A.tocsr())
    assert factorization.reused
    x = factorization.solve(b)
    assert np.linalg.norm(A @ x - b) <= 1e-9 * np.linalg.norm(b)
    assert policy.setups == 2 and not factorization.reused             # set up anew inside the solve
    assert policy.attempt_limit() is not None and baseline is not None


def test_geometric_multigrid_is_not_reused_by_default():
    from femopt.solvers.multigrid import gmg_solver

    mesh = fo.mesh.box(size=(2, 1, 1), shape=(8, 4, 4), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity())
    problem.fix("xmin")
    problem.linear_solver = gmg_solver(problem)
    assert problem.bound_linear_solver().reuse is None
    amg = CGSolver("amg").with_context(SolverContext(mesh.points, 3, problem.partition.free, True))
    assert isinstance(amg.reuse, PreconditionerReuse)
    assert CGSolver("amg", reuse=False).with_context(SolverContext(mesh.points, 3, problem.partition.free,
                                                                   True)).reuse is None
