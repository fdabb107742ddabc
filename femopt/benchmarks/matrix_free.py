"""Matrix-free operator against the assembled CSR matrix, 3D elasticity on hex8.

A linear-elastic cube of n_x x n_y x n_z unit hex8 cells (E = 1, ν = 0.3), fixed at
x = 0, a downward traction on x = n_x. Per size:

* ``apply``: seconds per matrix-free product ``K_ff x`` (median of ``--repeat``, after
  one compiling call), and seconds per CSR product ``K_ff @ x`` (SciPy) when assembled;
* ``bytes``: arrays held by :class:`~femopt.solvers.matrix_free.MatrixFreeOperator`
  (node ids, coordinates, parameters, free ids, diagonal) against the free-free CSR
  matrix (data + indices + indptr, measured when assembled, else estimated from the
  lattice's exact number of non-zeros at 12 bytes each: float64 value + int32 index);
* ``cg``: iterations, set-up and CG seconds of
  :func:`~femopt.solvers.matrix_free.matrix_free_solve` to rtol 1e-8 with each
  ``--preconditioner``: ``chebyshev`` (Chebyshev–Jacobi degree 4; CG as one compiled
  JAX loop, its compile time included) and ``two-level`` (matrix-free Chebyshev
  smoothing, degree 3, + Galerkin coarse level built cell by cell; SciPy CG);
* ``rss``: the process's peak resident memory after the size (grows monotonically).

Run (several ``--shape`` groups run one after the other, smallest first)::

    python -m femopt.benchmarks.matrix_free [--shape 40 40 40 ...] [--repeat 5]
        [--no-assemble] [--preconditioner chebyshev two-level | none] [--chunk 2048]
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from .timing import median_seconds

__all__ = ["run_case", "lattice_nnz", "main"]


def lattice_nnz(shape, n_components: int) -> int:
    """Non-zeros of the full hex8 stiffness on an ``shape`` lattice: node pairs sharing a
    cell, per axis ``3 (n + 1) - 2`` index pairs with ``|i - j| <= 1``."""
    pairs = int(np.prod([3 * (n + 1) - 2 for n in shape]))
    return pairs * n_components * n_components


def _problem(shape):
    import femopt as fo

    mesh = fo.mesh.box(size=shape, shape=shape, cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.0, -1.0])
    return problem


def run_case(shape, *, repeat: int = 5, assemble: bool = True, preconditioners=("chebyshev", "two-level"),
             chunk: int = 2048) -> dict:
    """One size: the figures listed in the module docstring, as a dict."""
    import jax.numpy as jnp

    from femopt.solvers.matrix_free import MatrixFreeOperator, matrix_free_solve

    problem = _problem(shape)
    row = {"shape": "x".join(map(str, shape)), "free_dofs": int(problem.partition.free.size)}
    start = time.perf_counter()
    operator = MatrixFreeOperator(problem, chunk=chunk)
    operator.diagonal()
    row["setup_s"] = time.perf_counter() - start
    x = jnp.asarray(np.random.default_rng(0).standard_normal(operator.shape[0]))
    start = time.perf_counter()
    operator.apply(x).block_until_ready()
    row["compile_s"] = time.perf_counter() - start
    row["mf_apply_s"] = median_seconds(lambda: operator.apply(x).block_until_ready(), repeat)
    row["mf_bytes"] = operator.nbytes
    row["csr_bytes_est"] = 12 * lattice_nnz(shape, 3) + 4 * (problem.space.n_dofs + 1)
    if assemble:
        start = time.perf_counter()
        _, K = problem.residual_and_tangent(np.zeros(problem.space.n_dofs))
        K_free = problem.partition.free_block(K)
        row["assemble_s"] = time.perf_counter() - start
        row["csr_bytes"] = K_free.data.nbytes + K_free.indices.nbytes + K_free.indptr.nbytes
        x_np = np.asarray(x)
        row["csr_apply_s"] = median_seconds(lambda: K_free @ x_np, repeat)
        row["apply_error"] = float(np.linalg.norm(np.asarray(operator.apply(x)) - K_free @ x_np)
                                   / np.linalg.norm(K_free @ x_np))
        del K, K_free
    for name in preconditioners:
        _, report = matrix_free_solve(problem, rtol=1e-8, chunk=chunk, preconditioner=name, report=True)
        row[f"{name}_its"] = report.iterations
        row[f"{name}_setup_s"] = report.setup_seconds
        row[f"{name}_cg_s"] = report.solve_seconds
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return row


_COLUMNS = [("shape", "shape", "{}"), ("free_dofs", "free dofs", "{:d}"), ("setup_s", "setup s", "{:.2f}"),
            ("compile_s", "1st apply s", "{:.2f}"), ("mf_apply_s", "MF apply s", "{:.4f}"),
            ("csr_apply_s", "CSR apply s", "{:.4f}"), ("apply_error", "rel diff", "{:.1e}"),
            ("mf_bytes", "MF MB", "{:.1f}"), ("csr_bytes", "CSR MB", "{:.1f}"),
            ("csr_bytes_est", "CSR MB est", "{:.1f}"), ("assemble_s", "assemble s", "{:.2f}"),
            ("chebyshev_its", "cheb its", "{:d}"), ("chebyshev_setup_s", "cheb setup s", "{:.1f}"),
            ("chebyshev_cg_s", "cheb CG s", "{:.1f}"), ("two-level_its", "2L its", "{:d}"),
            ("two-level_setup_s", "2L setup s", "{:.1f}"), ("two-level_cg_s", "2L CG s", "{:.1f}"),
            ("peak_rss_mb", "peak RSS MB", "{:.0f}")]


def format_table(rows) -> str:
    """Rows as an aligned text table (missing figures as ``-``; bytes shown in MB)."""
    def cell(row, key, fmt):
        if key not in row:
            return "-"
        value = row[key] / 1e6 if key.endswith("bytes") or key == "csr_bytes_est" else row[key]
        return fmt.format(value)

    header = [title for _, title, _ in _COLUMNS]
    body = [[cell(row, key, fmt) for key, _, fmt in _COLUMNS] for row in rows]
    widths = [max(len(h), *(len(b[j]) for b in body)) for j, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(b, widths)) for b in body]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m femopt.benchmarks.matrix_free", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", nargs=3, type=int, action="append", metavar=("NX", "NY", "NZ"),
                        help="cells per axis (repeatable; default 20 20 20)")
    parser.add_argument("--repeat", type=int, default=5, help="timed products per size (median)")
    parser.add_argument("--no-assemble", action="store_true", help="skip the CSR matrix (large sizes)")
    parser.add_argument("--preconditioner", nargs="+", default=["chebyshev", "two-level"],
                        choices=["chebyshev", "two-level", "none"],
                        help="matrix-free CG solves to run ('none' alone: no solve)")
    parser.add_argument("--chunk", type=int, default=2048, help="cells per chunk of the operator")
    args = parser.parse_args(argv)
    preconditioners = [] if args.preconditioner == ["none"] else args.preconditioner
    rows = [run_case(tuple(shape), repeat=args.repeat, assemble=not args.no_assemble,
                     preconditioners=preconditioners, chunk=args.chunk)
            for shape in (args.shape or [[20, 20, 20]])]
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
