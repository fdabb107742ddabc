"""Linear solvers against dense numpy.linalg.solve, singular-matrix diagnostics, fallbacks."""
import gc
import logging
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from femopt.errors import InputError, SingularMatrixError, SolverError
from femopt.solvers import linear, linear_direct, linear_iterative
from femopt.solvers.linear import CGSolver, DirectSolver, Factorization, LinearSolver, make_solver

HAS_PYAMG = linear_iterative.import_pyamg() is not None


def laplacian_1d(n, neumann=False):
    """Second-difference matrix (n, n); Dirichlet ends, or pure Neumann (singular)."""
    A = sp.diags([-np.ones(n - 1), 2.0 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]).tolil()
    if neumann:
        A[0, 0] = A[n - 1, n - 1] = 1.0
    return A.tocsr()


def poisson(n, dim, neumann=False):
    """Finite-difference Laplacian on an n^dim grid, as a Kronecker sum, CSR (n^dim, n^dim)."""
    L = laplacian_1d(n, neumann)
    eye = sp.identity(n, format="csr")
    A = sp.csr_matrix((n**dim, n**dim))
    for axis in range(dim):
        term = sp.identity(1, format="csr")
        for other in range(dim):
            term = sp.kron(term, L if other == axis else eye, format="csr")
        A = A + term
    return A.tocsr()


def random_matrix(kind, n=80, seed=0):
    rng = np.random.default_rng(seed)
    B = sp.random(n, n, density=0.08, random_state=rng, format="csr")
    if kind == "spd":
        return (B @ B.T + 0.5 * sp.identity(n)).tocsr()
    return (B + sp.diags(rng.uniform(1.0, 2.0, n))).tocsr()


def relative_error(x, reference):
    return np.linalg.norm(x - reference) / np.linalg.norm(reference)


# -- direct solver ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["spd", "nonsymmetric"])
@pytest.mark.parametrize("symmetric", ["auto", False])
@pytest.mark.parametrize("n_rhs", [None, 3])
def test_direct_solve_and_transpose_match_dense(kind, symmetric, n_rhs):
    A = random_matrix(kind)
    dense = A.toarray()
    rng = np.random.default_rng(1)
    b = rng.standard_normal(A.shape[0] if n_rhs is None else (A.shape[0], n_rhs))
    fact = DirectSolver(symmetric=symmetric).factorize(A)
    x = fact.solve(b)
    y = fact.solve_transpose(b)
    assert x.shape == b.shape and y.shape == b.shape
    assert relative_error(x, np.linalg.solve(dense, b)) < 1e-10
    assert relative_error(y, np.linalg.solve(dense.T, b)) < 1e-10


def test_factorization_attributes():
    A = random_matrix("nonsymmetric")
    fact = make_solver("direct").factorize(A)
    assert isinstance(fact, Factorization) and isinstance(make_solver("direct"), LinearSolver)
    assert fact.shape == A.shape and fact.nnz == A.nnz
    assert fact.solver_name == "superlu"
    assert (fact.matrix != A).nnz == 0


def test_direct_accepts_coo_with_duplicates_and_leaves_it_unchanged():
    rows = np.array([0, 0, 1, 1, 2, 2, 0])
    cols = np.array([0, 1, 1, 2, 2, 0, 0])
    values = np.array([2.0, 1.0, 3.0, 1.0, 4.0, 1.0, 1.0])  # (0, 0) given twice: 2 + 1
    A = sp.coo_matrix((values, (rows, cols)), shape=(3, 3))
    before = A.copy()
    b = np.array([1.0, 2.0, 3.0])
    x = DirectSolver().factorize(A).solve(b)
    np.testing.assert_allclose(x, np.linalg.solve(A.toarray(), b), rtol=1e-12)
    assert A.nnz == before.nnz and np.array_equal(A.data, before.data)


def test_pure_neumann_matrix_is_singular():
    with pytest.raises(SingularMatrixError, match="singular.*supports"):
        DirectSolver().factorize(laplacian_1d(30, neumann=True))


def test_empty_row_is_listed():
    A = laplacian_1d(30).tolil()
    A[7, :] = 0.0
    with pytest.raises(SingularMatrixError, match=r"empty rows\): \[7\]") as info:
        DirectSolver().factorize(A.tocsr())
    assert 7 in info.value.dofs


def test_near_singular_matrix_detected_by_residual_check():
    # A 2D pure-Neumann Laplacian: SuperLU finds a tiny pivot, not an exact zero.
    fact = DirectSolver().factorize(poisson(12, 2, neumann=True))
    b = np.random.default_rng(0).standard_normal(fact.shape[0])
    with pytest.raises(SingularMatrixError, match="near-singular.*condition number"):
        fact.solve(b)


@pytest.mark.parametrize("module_names", [("sksparse", "sksparse.cholmod"), ("pypardiso",)])
def test_missing_optional_backend_falls_back_to_superlu(monkeypatch, caplog, module_names):
    for name in module_names:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import name` fail
    backend = "cholmod" if module_names[0] == "sksparse" else "pardiso"
    with caplog.at_level(logging.INFO, logger="femopt.solvers"):
        solver = DirectSolver(backend=backend)
    assert solver.backend_in_use == "superlu"
    assert "not importable" in caplog.text
    A = random_matrix("spd")
    b = np.ones(A.shape[0])
    fact = solver.factorize(A)
    assert fact.solver_name == "superlu"
    assert relative_error(fact.solve(b), np.linalg.solve(A.toarray(), b)) < 1e-10


def test_auto_backend_is_superlu_when_nothing_faster_is_installed(monkeypatch):
    for name in ("sksparse", "sksparse.cholmod", "pypardiso"):
        monkeypatch.setitem(sys.modules, name, None)
    assert DirectSolver().backend_in_use == "superlu"


class _NotPositiveDefinite(Exception):
    pass


def _fake_cholmod():
    """Stand-in for sksparse.cholmod with its API: cholesky(A) -> callable factor."""
    module = types.ModuleType("sksparse.cholmod")
    module.CholmodNotPositiveDefiniteError = _NotPositiveDefinite

    def cholesky(A):
        if np.linalg.eigvalsh(A.toarray()).min() <= 0:
            raise _NotPositiveDefinite("not positive definite")
        lu = spla.splu(sp.csc_matrix(A))
        return lambda b: lu.solve(b)

    module.cholesky = cholesky
    return module


def test_optional_cholmod_path_and_its_fallbacks(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "sksparse", types.ModuleType("sksparse"))
    monkeypatch.setitem(sys.modules, "sksparse.cholmod", _fake_cholmod())
    solver = DirectSolver(backend="cholmod")
    assert solver.backend_in_use == "cholmod"
    A = random_matrix("spd")
    b = np.random.default_rng(2).standard_normal((A.shape[0], 2))
    fact = solver.factorize(A)
    assert fact.solver_name == "cholmod"
    assert relative_error(fact.solve_transpose(b), np.linalg.solve(A.toarray(), b)) < 1e-10
    with caplog.at_level(logging.INFO, logger="femopt.solvers"):
        assert solver.factorize(random_matrix("nonsymmetric")).solver_name == "superlu"
        indefinite = (A - 3.0 * sp.identity(A.shape[0])).tocsr()
        assert solver.factorize(indefinite).solver_name == "superlu"
    assert "symmetric matrices only" in caplog.text and "not positive" in caplog.text


class _PardisoError(Exception):
    pass


class _FakePardiso:
    """pypardiso's API: PyPardisoSolver(mtype), factorize(A) then solve(A, b) reuses the
    factors, free_memory; the symmetric types (2: positive definite, -2: indefinite) read
    the upper triangle only, and type 2 fails on an indefinite matrix (MKL error -4)."""
    freed = 0

    def __init__(self, mtype=11):
        self.mtype = mtype

    def factorize(self, A):
        upper = sp.triu(A)
        assert self.mtype in (2, -2) and (sp.tril(A, -1)).nnz == 0, "symmetric types get the upper triangle"
        full = (upper + upper.T - sp.diags(upper.diagonal())).toarray()
        if self.mtype == 2 and np.linalg.eigvalsh(full).min() <= 0:
            raise _PardisoError("error -4")
        self.lu = spla.splu(sp.csc_matrix(full))

    def solve(self, A, b):
        return self.lu.solve(b)

    def get_iparm(self, i):
        return 0

    def free_memory(self, everything=False):
        type(self).freed += 1


def test_optional_pardiso_path(monkeypatch):
    module = types.ModuleType("pypardiso")
    module.PyPardisoSolver, module.PyPardisoError = _FakePardiso, _PardisoError
    monkeypatch.setitem(sys.modules, "pypardiso", module)
    solver = DirectSolver(backend="pardiso")
    A = random_matrix("spd")
    b = np.ones(A.shape[0])
    for matrix in (A, (A - 3.0 * sp.identity(A.shape[0])).tocsr()):   # Cholesky, then LDLᵀ
        fact = solver.factorize(matrix)
        assert fact.solver_name == "pardiso"
        assert relative_error(fact.solve_transpose(b), np.linalg.solve(matrix.toarray(), b)) < 1e-10
    freed = _FakePardiso.freed
    del fact
    gc.collect()
    assert _FakePardiso.freed > freed, "the MKL factors must be freed with the factorization"


def test_auto_backend_keeps_superlu_for_small_matrices(monkeypatch):
    module = types.ModuleType("pypardiso")
    module.PyPardisoSolver, module.PyPardisoError = _FakePardiso, _PardisoError
    monkeypatch.setitem(sys.modules, "pypardiso", module)
    monkeypatch.setitem(sys.modules, "sksparse", None)
    A = random_matrix("spd")
    assert DirectSolver().factorize(A).solver_name == "superlu"
    monkeypatch.setattr(linear_direct, "AUTO_FAST_PATH_MIN_DOFS", A.shape[0])
    assert DirectSolver().factorize(A).solver_name == "pardiso"


def test_real_pardiso_when_installed():
    pytest.importorskip("pypardiso")
    solver = DirectSolver(backend="pardiso")
    A = random_matrix("spd")
    b = np.random.default_rng(3).standard_normal(A.shape[0])
    for matrix in (A, (A - 3.0 * sp.identity(A.shape[0])).tocsr()):
        fact = solver.factorize(matrix)
        assert fact.solver_name == "pardiso"
        assert relative_error(fact.solve(b), np.linalg.solve(matrix.toarray(), b)) < 1e-10
    # singular matrices are left to SuperLU, which names the unconstrained dofs
    with pytest.raises(SingularMatrixError, match="singular.*supports"):
        solver.factorize(laplacian_1d(30, neumann=True))


def test_direct_rejects_bad_input():
    with pytest.raises(InputError, match="square"):
        DirectSolver().factorize(sp.random(3, 4, density=0.5, format="csr"))
    with pytest.raises(InputError, match="backend"):
        DirectSolver(backend="mumps")
    fact = DirectSolver().factorize(laplacian_1d(5))
    with pytest.raises(InputError, match=r"\(5,\) or \(5, k\)"):
        fact.solve(np.ones(4))


# -- make_solver ---------------------------------------------------------------------
def test_make_solver_names_and_instances():
    assert isinstance(make_solver(None), linear.AutoSolver)
    assert isinstance(make_solver("auto", n_hint=1000), linear.AutoSolver)
    assert isinstance(make_solver("auto", n_hint=1000, symmetric=True), DirectSolver)
    assert isinstance(make_solver("cg", preconditioner="jacobi"), CGSolver)
    solver = DirectSolver()
    assert make_solver(solver) is solver
    with pytest.raises(InputError, match="'auto', 'direct', 'cg'"):
        make_solver("umfpack")
    with pytest.raises(InputError, match="instance"):
        make_solver(solver, backend="superlu")
    with pytest.raises(InputError, match="does not accept"):
        make_solver("direct", preconditioner="amg")


def test_auto_solver_without_context_picks_by_size(monkeypatch):
    from femopt.solvers import linear_iterative

    n = linear.AUTO_DIRECT_MAX_DOFS + 1
    monkeypatch.setattr(linear_iterative, "import_pyamg", lambda: None)
    assert isinstance(linear.AutoSolver(n).choose(None)[0], DirectSolver)
    monkeypatch.setattr(linear_iterative, "import_pyamg", lambda: types.ModuleType("pyamg"))
    solver = linear.AutoSolver(n).choose(None)[0]
    assert isinstance(solver, CGSolver) and solver.preconditioner == "amg"
    assert isinstance(linear.AutoSolver(1000).choose(None)[0], DirectSolver)


# -- conjugate gradients -------------------------------------------------------------
@pytest.mark.parametrize("dim, n", [(2, 30), (3, 12)])
@pytest.mark.parametrize("preconditioner", ["jacobi", "ilu"])
def test_cg_poisson_matches_direct(dim, n, preconditioner):
    A = poisson(n, dim)
    rng = np.random.default_rng(3)
    b = rng.standard_normal((A.shape[0], 2))
    reference = spla.splu(A.tocsc()).solve(b)
    fact = CGSolver(preconditioner, rtol=1e-12).factorize(A)
    assert fact.solver_name == f"cg+{preconditioner}"
    assert relative_error(fact.solve(b), reference) < 1e-8
    assert relative_error(fact.solve_transpose(b[:, 0]), reference[:, 0]) < 1e-8


def test_cg_warm_start_reaches_the_same_solution_sooner():
    A = poisson(30, 2)
    rng = np.random.default_rng(5)
    b = rng.standard_normal((A.shape[0], 2))
    reference = spla.splu(A.tocsc()).solve(b)
    fact = CGSolver("jacobi", rtol=1e-10).factorize(A)
    fact.solve(b)
    cold = list(fact.last_iterations)
    nearby = reference * (1.0 + 1e-4 * rng.standard_normal(reference.shape))
    x = fact.solve(b, guess=nearby)
    assert relative_error(x, reference) < 1e-7
    assert all(w < c for w, c in zip(fact.last_iterations, cold)), (fact.last_iterations, cold)
    with pytest.raises(InputError, match="initial guess.*shape"):
        fact.solve(b, guess=nearby[:, 0])
    direct = DirectSolver().factorize(A)          # a direct solver ignores the guess
    np.testing.assert_array_equal(direct.solve(b, guess=np.zeros_like(b)), direct.solve(b))


@pytest.mark.skipif(not HAS_PYAMG, reason="pyamg not installed (optional extra femopt[amg])")
@pytest.mark.parametrize("dim, n", [(2, 40), (3, 14)])
def test_cg_amg_poisson_converges_faster_than_jacobi(dim, n):
    A = poisson(n, dim)
    b = np.random.default_rng(4).standard_normal(A.shape[0])
    reference = spla.splu(A.tocsc()).solve(b)
    amg = CGSolver("amg", rtol=1e-12).factorize(A)
    jacobi = CGSolver("jacobi", rtol=1e-12).factorize(A)
    assert amg.solver_name == "cg+amg"
    assert relative_error(amg.solve(b), reference) < 1e-8
    jacobi.solve(b)
    assert amg.last_iterations[0] < jacobi.last_iterations[0] / 2


@pytest.mark.skipif(not HAS_PYAMG, reason="pyamg not installed (optional extra femopt[amg])")
def test_cg_amg_with_near_nullspace():
    A = poisson(20, 2)
    b = np.ones(A.shape[0])
    fact = CGSolver("amg", near_nullspace=np.ones((A.shape[0], 1))).factorize(A)
    assert relative_error(fact.solve(b), spla.splu(A.tocsc()).solve(b)) < 1e-8
    with pytest.raises(InputError, match="rows"):
        CGSolver("amg", near_nullspace=np.ones((5, 1))).factorize(A)


def test_cg_amg_without_pyamg_falls_back_to_jacobi(monkeypatch, caplog):
    monkeypatch.setattr(linear_iterative, "import_pyamg", lambda: None)
    with caplog.at_level(logging.WARNING, logger="femopt.solvers"):
        fact = CGSolver("amg").factorize(poisson(10, 2))
    assert fact.solver_name == "cg+jacobi"
    assert "pyamg is not installed" in caplog.text


def test_cg_non_convergence_raises():
    fact = CGSolver("jacobi", maxiter=2).factorize(poisson(20, 2))
    with pytest.raises(SolverError, match=r"did not converge in 2 iterations: relative residual"):
        fact.solve(np.ones(fact.shape[0]))


def test_cg_zero_diagonal_is_singular():
    A = laplacian_1d(10).tolil()
    A[4, :] = 0.0
    A[:, 4] = 0.0
    with pytest.raises(SingularMatrixError) as info:
        CGSolver("jacobi").factorize(A.tocsr())
    assert info.value.dofs == (4,)
