"""Matrix-free operator against the assembled tangent, Chebyshev–Jacobi against dense
linear algebra, the two-level coarse matrix against Pᵀ K P of the assembled matrix, and
matrix-free CG against the direct solve of ``problem.solve``."""
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import femopt as fo
from femopt.errors import InputError, SolverError
from femopt.solvers.linear import CGSolver
from femopt.solvers.matrix_free import MatrixFreeOperator, matrix_free_solve
from femopt.solvers.matrix_free_chebyshev import ChebyshevJacobi, chebyshev, largest_ritz_value
from femopt.solvers.matrix_free_multigrid import TwoLevelMatrixFree, galerkin_coarse_matrix
from femopt.solvers.multigrid_grid import structured_grid, transfer_hierarchy

RNG_SEED = 3


def _cell_values(mesh, low=0.5, high=2.0):
    return np.random.default_rng(RNG_SEED).uniform(low, high, mesh.n_cells)


def elastic_hex8():
    """3D cantilever 4 x 1 x 1, fixed at x = 0, traction at x = 4, E per cell."""
    mesh = fo.mesh.box(size=(4.0, 1.0, 1.0), shape=(6, 2, 3), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.1, -1.0])
    problem.body_force([0.0, 0.0, -0.2])
    return problem, {"E": _cell_values(mesh)}


def elastic_quad4():
    """Plane-stress beam, fixed at x = 0 with a prescribed x-displacement, point load."""
    mesh = fo.mesh.rectangle(size=(4.0, 1.0), shape=(8, 3), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.25, plane="stress"))
    problem.fix("xmin", [0.01, 0.0])
    problem.point_load("xmax", [0.0, -0.3])
    return problem, {"E": _cell_values(mesh)}


def heat_hex8():
    """Conduction with a source, T = 1 at x = 0, convection at x = max; k per cell."""
    mesh = fo.mesh.box(size=(2.0, 1.0, 1.0), shape=(4, 3, 2), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin", 1.0)
    problem.heat_source(2.0)
    problem.convection("xmax", 3.0, 0.5)
    return problem, {"k": _cell_values(mesh)}


def heat_quad4():
    """2D conduction, T = x on x = 0 and y = 0 sides (non-uniform lifting), k per cell."""
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(5, 4), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin", lambda x: 1.0 + x[:, 1])
    problem.fix("ymin", lambda x: 1.0 + x[:, 0])
    problem.heat_source(1.0)
    return problem, {"k": _cell_values(mesh)}


CASES = {"elastic_hex8": elastic_hex8, "elastic_quad4": elastic_quad4, "heat_hex8": heat_hex8,
         "heat_quad4": heat_quad4}


def assembled(problem, params):
    r, K = problem.residual_and_tangent(np.zeros(problem.space.n_dofs), params)
    return K, problem.partition.free_block(K)


# -- the operator ------------------------------------------------------------------------
@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("chunk", [7, 4096])
def test_operator_matches_assembled_tangent(name, chunk):
    problem, params = CASES[name]()
    K, K_free = assembled(problem, params)
    operator = MatrixFreeOperator(problem, params, chunk=chunk)
    assert operator.shape == K_free.shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal(operator.shape[0])
    expected = K_free @ x
    assert np.linalg.norm(operator @ x - expected) <= 1e-13 * np.linalg.norm(expected)
    v = rng.standard_normal(problem.space.n_dofs)
    assert np.linalg.norm(operator.apply_full(v) - K @ v) <= 1e-13 * np.linalg.norm(K @ v)
    diagonal = K_free.diagonal()
    assert np.max(np.abs(operator.diagonal() - diagonal)) <= 1e-13 * np.max(np.abs(diagonal))


@pytest.mark.parametrize("name", CASES)
def test_residual_and_load_vector_match_assembly(name):
    problem, params = CASES[name]()
    operator = MatrixFreeOperator(problem, params, chunk=16)
    u = np.random.default_rng(1).standard_normal(problem.space.n_dofs)
    expected = problem.residual(u, params)
    assert np.linalg.norm(operator.residual(u) - expected) <= 1e-13 * np.linalg.norm(expected)
    K, K_free = assembled(problem, params)
    part = problem.partition
    lifting = operator.lifting()
    b = -(problem.residual(np.zeros(problem.space.n_dofs), params) + K @ lifting)[part.free]
    assert np.linalg.norm(operator.load_vector() - b) <= 1e-13 * np.linalg.norm(b)


def test_operator_rejects_nonlinear_physics_and_bad_chunk():
    mesh = fo.mesh.box(shape=(2, 2, 2), cell="hex8")
    nonlinear = fo.Problem(mesh, fo.physics.NeoHookean())
    with pytest.raises(InputError, match="linear physics"):
        MatrixFreeOperator(nonlinear)
    problem, params = elastic_hex8()
    with pytest.raises(InputError, match="chunk"):
        MatrixFreeOperator(problem, params, chunk=0)


def test_operator_memory_is_far_below_the_matrix():
    problem, params = elastic_hex8()
    operator = MatrixFreeOperator(problem, params)
    operator.diagonal()
    _, K_free = assembled(problem, params)
    matrix_bytes = K_free.data.nbytes + K_free.indices.nbytes + K_free.indptr.nbytes
    assert operator.nbytes < matrix_bytes / 4


# -- Chebyshev–Jacobi --------------------------------------------------------------------
def dense_preconditioner(apply, n):
    return np.column_stack([apply(e) for e in np.eye(n)])


@pytest.mark.parametrize("degree", [1, 3, 5])
def test_chebyshev_preconditioner_is_symmetric_positive_definite(degree):
    problem, params = heat_hex8()
    operator = MatrixFreeOperator(problem, params)
    apply = ChebyshevJacobi(degree).setup(operator)
    M = dense_preconditioner(apply, operator.shape[0])
    assert np.max(np.abs(M - M.T)) <= 1e-12 * np.max(np.abs(M))
    assert np.linalg.eigvalsh(0.5 * (M + M.T)).min() > 0


def test_lanczos_bound_brackets_largest_eigenvalue():
    problem, params = elastic_quad4()
    _, K_free = assembled(problem, params)
    A = K_free.toarray()
    inverse_diagonal = 1.0 / np.diag(A)
    scale = np.sqrt(inverse_diagonal)
    exact = np.linalg.eigvalsh(scale[:, None] * A * scale[None, :]).max()
    ritz = largest_ritz_value(lambda x: A @ x, inverse_diagonal, steps=20, seed=0)
    assert ritz <= exact * (1 + 1e-12)
    assert ritz >= 0.9 * exact
    again = largest_ritz_value(lambda x: A @ x, inverse_diagonal, steps=20, seed=0)
    assert again == ritz


def test_chebyshev_error_polynomial_is_small_on_the_target_interval():
    """For A = diag(λ), D = I: z = p(A) r, and 1 - λ p(λ) must be the scaled Chebyshev
    polynomial T_k((θ-λ)/δ) / T_k(θ/δ) with k = degree."""
    lower, upper, degree = 0.1, 2.0, 4
    lam = np.linspace(0.01, upper, 50)
    z = chebyshev(lambda x: lam * x, np.ones_like(lam), np.ones_like(lam), lower, upper, degree)
    theta, delta = 0.5 * (upper + lower), 0.5 * (upper - lower)
    T = np.polynomial.chebyshev.Chebyshev.basis(degree)
    expected = T((theta - lam) / delta) / T(theta / delta)
    assert np.allclose(1.0 - lam * z, expected, atol=1e-13)


def test_chebyshev_plugs_into_cg_solver_on_an_assembled_matrix():
    problem, params = elastic_hex8()
    _, K_free = assembled(problem, params)
    b = np.random.default_rng(2).standard_normal(K_free.shape[0])
    solver = CGSolver(preconditioner=ChebyshevJacobi(4), rtol=1e-10)
    x = solver.factorize(K_free).solve(b)
    assert np.linalg.norm(x - spla.spsolve(K_free.tocsc(), b)) <= 1e-7 * np.linalg.norm(x)


def test_chebyshev_rejects_bad_degree_and_ratio():
    with pytest.raises(InputError, match="degree"):
        ChebyshevJacobi(0)
    with pytest.raises(InputError, match="ratio"):
        ChebyshevJacobi(3, ratio=1.0)


# -- the solve ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, preconditioner", [(name, "chebyshev") for name in CASES]
                         + [("elastic_quad4", "jacobi"), ("heat_hex8", "none")])
def test_matrix_free_solve_matches_direct_solve(name, preconditioner):
    problem, params = CASES[name]()
    expected = problem.solve(params)
    field, report = matrix_free_solve(problem, params, rtol=1e-11, preconditioner=preconditioner, report=True)
    assert field.shape == expected.shape
    assert np.linalg.norm(field - expected) <= 1e-7 * np.linalg.norm(expected)
    assert report.relative_residual <= 1e-11
    assert 0 < report.iterations <= 2 * problem.partition.free.size  # round-off: CG may pass n


def test_chebyshev_needs_fewer_iterations_than_jacobi():
    problem, params = elastic_hex8()
    _, jacobi = matrix_free_solve(problem, params, preconditioner="jacobi", report=True)
    _, cheb = matrix_free_solve(problem, params, preconditioner=ChebyshevJacobi(5), report=True)
    assert cheb.iterations < 0.6 * jacobi.iterations


def test_matrix_free_solve_is_reproducible_bitwise():
    problem, params = elastic_quad4()
    first = matrix_free_solve(problem, params)
    second = matrix_free_solve(problem, params)
    assert np.array_equal(first, second)


def test_matrix_free_solve_reports_failure():
    problem, params = heat_quad4()
    with pytest.raises(SolverError, match="maxiter"):
        matrix_free_solve(problem, params, maxiter=2)
    field, report = matrix_free_solve(problem, params, maxiter=2, raise_on_failure=False, report=True)
    assert report.iterations == 2 and report.relative_residual > 1e-8
    x = problem.mesh.points[problem.mesh.node_tags["xmin"]]
    assert np.array_equal(field[problem.mesh.node_tags["xmin"]], 1.0 + x[:, 1])


def test_matrix_free_solve_rejects_bad_arguments():
    problem, params = heat_quad4()
    with pytest.raises(InputError, match="rtol"):
        matrix_free_solve(problem, params, rtol=0.0)
    with pytest.raises(InputError, match="maxiter"):
        matrix_free_solve(problem, params, maxiter=0)
    with pytest.raises(InputError, match="preconditioner"):
        matrix_free_solve(problem, params, preconditioner="amg")


def test_transpose_of_an_unsymmetric_linear_physics():
    """Diffusion plus advection b·∇T (linear, unsymmetric): rmatvec is K_ffᵀ y, and CG
    is refused."""
    import jax.numpy as jnp

    advection = fo.physics.custom_physics(
        parameters={"k": 1.0}, linear=True,
        flux=lambda g, T, x, p: p["k"] * g,
        source=lambda g, T, x, p: jnp.dot(jnp.array([3.0, -1.0]), g))
    mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(4, 3), cell="quad4")
    problem = fo.Problem(mesh, advection)
    problem.fix("xmin", 1.0)
    _, K_free = assembled(problem, {})
    operator = MatrixFreeOperator(problem)
    y = np.random.default_rng(4).standard_normal(operator.shape[0])
    assert np.linalg.norm(operator @ y - K_free @ y) <= 1e-13 * np.linalg.norm(K_free @ y)
    assert np.linalg.norm(operator.rmatvec(y) - K_free.T @ y) <= 1e-13 * np.linalg.norm(K_free.T @ y)
    assert np.linalg.norm(K_free @ y - K_free.T @ y) > 1e-3 * np.linalg.norm(K_free @ y)
    with pytest.raises(InputError, match="symmetric"):
        matrix_free_solve(problem)


# -- element matrices and the two-level preconditioner ------------------------------------
@pytest.mark.parametrize("name", CASES)
def test_element_matrices_sum_to_the_assembled_tangent(name):
    problem, params = CASES[name]()
    K, _ = assembled(problem, params)
    operator = MatrixFreeOperator(problem, params, chunk=5)
    rows, cols, values = [], [], []
    for dofs, K_e in operator.element_matrices():
        rows.append(np.broadcast_to(dofs[:, :, None], K_e.shape).ravel())
        cols.append(np.broadcast_to(dofs[:, None, :], K_e.shape).ravel())
        values.append(K_e.ravel())
    n = problem.space.n_dofs
    summed = sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    assert abs(summed - K).max() <= 1e-13 * abs(K).max()


@pytest.mark.parametrize("name", CASES)
def test_galerkin_coarse_matrix_without_the_fine_matrix(name):
    problem, params = CASES[name]()
    _, K_free = assembled(problem, params)
    operator = MatrixFreeOperator(problem, params, chunk=9)
    grid = structured_grid(problem.mesh)
    transfer = transfer_hierarchy(grid, operator.n_components, operator.free, coarse_dofs=1, max_levels=2)[0]
    expected = transfer.R @ K_free @ transfer.P
    coarse = galerkin_coarse_matrix(operator, transfer.P)
    assert abs(coarse - expected).max() <= 1e-13 * abs(expected).max()


@pytest.mark.parametrize("name", ["elastic_hex8", "heat_quad4"])
@pytest.mark.parametrize("direct_dofs", [10**6, 1])
def test_two_level_solve_matches_direct_solve(name, direct_dofs):
    problem, params = CASES[name]()
    expected = problem.solve(params)
    preconditioner = TwoLevelMatrixFree(direct_dofs=direct_dofs)
    field, report = matrix_free_solve(problem, params, rtol=1e-11, preconditioner=preconditioner, report=True)
    assert preconditioner.coarse_method == ("direct" if direct_dofs > 1 else "amg")
    assert np.linalg.norm(field - expected) <= 1e-7 * np.linalg.norm(expected)
    assert report.relative_residual <= 1e-10


def test_two_level_preconditioner_is_symmetric_positive_definite():
    problem, params = heat_quad4()
    operator = MatrixFreeOperator(problem, params)
    M = dense_preconditioner(TwoLevelMatrixFree().setup(operator), operator.shape[0])
    assert np.max(np.abs(M - M.T)) <= 1e-12 * np.max(np.abs(M))
    assert np.linalg.eigvalsh(0.5 * (M + M.T)).min() > 0


def test_two_level_needs_fewer_iterations_than_chebyshev():
    mesh = fo.mesh.box(size=(8.0, 4.0, 4.0), shape=(8, 4, 4), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.0, -1.0])
    _, cheb = matrix_free_solve(problem, report=True)
    _, two = matrix_free_solve(problem, preconditioner="two-level", report=True)
    assert two.iterations < 0.5 * cheb.iterations


def test_two_level_refuses_unstructured_meshes():
    mesh = fo.mesh.box(shape=(2, 2, 2), cell="tet4")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin")
    problem.heat_source(1.0)
    with pytest.raises(InputError, match="structured"):
        matrix_free_solve(problem, preconditioner="two-level")


# -- the benchmark -----------------------------------------------------------------------
def test_benchmark_runs_at_a_tiny_size_and_counts_nonzeros_exactly():
    from femopt.benchmarks import matrix_free as bench

    row = bench.run_case((3, 2, 2), repeat=1, preconditioners=("chebyshev", "two-level"))
    assert row["apply_error"] < 1e-13
    assert row["chebyshev_its"] > 0 and row["two-level_its"] > 0
    assert row["mf_bytes"] < row["csr_bytes"]
    assert "3x2x2" in bench.format_table([row])
    mesh = fo.mesh.box(size=(3.0, 2.0, 2.0), shape=(3, 2, 2), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity())
    _, K = problem.residual_and_tangent(np.zeros(problem.space.n_dofs))
    assert bench.lattice_nnz((3, 2, 2), 3) == K.nnz
