"""Threaded sparse products give exactly the single-threaded result (each row block is
computed by SciPy's own kernel), for any number of threads and blocks."""
import numpy as np
import pytest
import scipy.sparse as sp

from femopt.solvers import threaded
from femopt.solvers.threaded import ThreadedCSR, thread_count


@pytest.fixture
def matrix():
    rng = np.random.default_rng(0)
    A = sp.random(3000, 3000, density=0.03, random_state=rng, format="csr")
    return (A + A.T + sp.eye(3000) * 10).tocsr()


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_products_are_bitwise_the_single_threaded_ones(matrix, threads, monkeypatch):
    monkeypatch.setattr(threaded, "MIN_THREADED_NNZ", 0)
    x = np.random.default_rng(1).standard_normal(3000)
    op = ThreadedCSR(matrix, threads=threads)
    assert op.threads == threads
    assert np.array_equal(op @ x, matrix @ x)
    assert np.array_equal(op.matvec(x), matrix @ x)
    X = np.random.default_rng(2).standard_normal((3000, 2))
    assert np.array_equal(op @ X, matrix @ X)
    assert np.array_equal(op.diagonal(), matrix.diagonal())


def test_small_matrices_stay_on_the_calling_thread(matrix):
    assert ThreadedCSR(matrix[:10, :10], threads=4).threads == 1


def test_thread_count_follows_the_environment(monkeypatch):
    monkeypatch.setenv("FEMOPT_THREADS", "3")
    assert thread_count() == 3
    monkeypatch.setenv("FEMOPT_THREADS", "junk")
    assert thread_count() == 1
    monkeypatch.delenv("FEMOPT_THREADS")
    assert thread_count() >= 1


def test_blas_is_held_to_one_thread_inside_and_restored_after(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setenv("FEMOPT_THREADS", "2")
    before = [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    with threaded.single_threaded_blas():
        inside = [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    after = [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    assert all(n == 1 for n in inside) and after == before


def test_cg_with_threads_matches_cg_without(monkeypatch):
    import femopt as fo
    from femopt.solvers.linear import CGSolver

    mesh = fo.mesh.box(shape=(12, 6, 6), cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    problem.fix("xmin")
    _, K = problem.residual_and_tangent(np.zeros(problem.space.n_dofs))
    K = problem.partition.free_block(K)
    b = np.random.default_rng(0).standard_normal(K.shape[0])
    monkeypatch.setattr(threaded, "MIN_THREADED_NNZ", 0)
    x_threads = CGSolver("jacobi", rtol=1e-10).factorize(K).solve(b)
    monkeypatch.setenv("FEMOPT_THREADS", "1")
    x_single = CGSolver("jacobi", rtol=1e-10).factorize(K).solve(b)
    assert np.array_equal(x_threads, x_single)          # bitwise: each row block is SciPy's kernel
