"""The JAX paths on a GPU: the chunk kernels and the matrix-free operator, on any device.

femopt runs JAX inside the element kernels and the matrix-free operator; the rest is
NumPy/SciPy on the host. This script times those two paths on whatever devices JAX sees
and says which device produced each figure, so one command measures a laptop's CPU and a
GPU machine (the tests never need a GPU). On a GPU machine, install JAX's CUDA build into
the same environment — femopt itself needs no change — and run:

    pip install -U "jax[cuda12]"
    python -m femopt.benchmarks.gpu --device both --json gpu.json     (or: femopt bench gpu ...)

``--device``: ``default`` is JAX's default device (the GPU when there is one), ``cpu`` /
``gpu`` that one (``gpu`` without one exits with status 2), ``both`` the CPU then the GPU
in the same run, with the GPU's speed-up. ``--shape NX NY NZ`` (repeatable): hex8 boxes,
default 40³, 80³, 120³ cells (up to 5.3 M dofs: enough work for a GPU); ``--quick``: one
tiny box. A size that runs out of device memory (``RESOURCE_EXHAUSTED``) is reported as
such and the run goes on. Times are medians of ``--repeat`` runs, after a first call.

Columns (one row per size, device and chunk size; ``x CPU``: the CPU's seconds over this
device's, with ``--device both``; ``peak GB``: the device's peak memory so far, where the
backend counts it — GPUs do, the CPU does not):

* kernel — the neo-Hookean HEX8 residual + tangent chunk kernel that
  :class:`~femopt.assembly.assembler.Assembler` compiles, run over every cell of the box
  on inputs put on the device beforehand (cell displacements and coordinates, chunk by
  chunk), kernel only: no host scatter, outputs stay on the device. ``compile s``: the
  first call of a chunk size; ``kernel s``: all chunks; ``M cells/s``: cells / kernel s.
  The assembler's own chunk is 2048 cells; a GPU wants larger ones (``--kernel-chunk``).
* matrix-free apply — :class:`~femopt.solvers.matrix_free.MatrixFreeOperator` of linear
  elasticity on the box of ``femopt bench matrix-free``, per ``--mf-chunk``: ``setup s``
  (operator + diagonal), ``1st apply s`` (compile + one product), ``apply s``, ``M dofs/s``
  (free dofs / apply s), ``vs CPU`` (|K x here - K x on the CPU| / |K x on the CPU|, same x).
* matrix-free solve — ``matrix_free_solve(problem, rtol=1e-8, preconditioner="chebyshev")``
  with the chunk whose apply was fastest: ``its``, ``setup s``, ``solve s`` (the CG loop,
  its compile included), ``MF res`` (|b - K u| / |b| recomputed with the operator), ``CSR
  res`` (the same with the CSR matrix assembled on the host: an independent check, up to
  ``--check-max-dofs``). CPU solves above ``--cpu-solve-max-dofs`` are skipped (a CPU solve
  of 120³ cells takes tens of minutes).

Run:  python -m femopt.benchmarks.gpu [--device both] [--shape 40 40 40 ...] [--quick] [--repeat 5]
      [--kernel-chunk 2048 16384] [--mf-chunk 2048 16384] [--no-solve] [--json FILE] (--help: all)
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections import deque

import jax
import numpy as np

from ..assembly.assembler import Assembler, CellTerm
from ..fem.space import FunctionSpace
from ..mesh import box
from ..physics import NeoHookean
from ..solvers.matrix_free import MatrixFreeOperator, matrix_free_solve
from .matrix_free import _problem
from .timing import median_seconds

__all__ = ["select_devices", "device_report", "measure_kernel", "measure_matrix_free",
           "run_gpu_benchmark", "format_tables", "main"]

DEFAULT_SHAPES = ((40, 40, 40), (80, 80, 80), (120, 120, 120))
QUICK_SHAPES = ((4, 4, 4),)
#: the assembler's chunk (MAX_CHUNK) and a GPU-sized one
DEFAULT_CHUNKS = (2048, 16384)
CHECK_MAX_DOFS = 1_000_000
CPU_SOLVE_MAX_DOFS = 1_000_000


class NoGPUError(RuntimeError):
    """``--device gpu`` on a machine where JAX sees no GPU."""


def _label(device) -> str:
    return f"{device.platform}:{device.id}"


def _is_cpu(label: str) -> bool:
    return label.startswith("cpu:")


def select_devices(choice: str):
    """Devices to run on for ``--device choice`` and a note (None, or why there is no GPU).

    Raises:
        NoGPUError: ``choice == "gpu"`` and JAX sees no GPU.
    """
    try:
        gpu = jax.devices("gpu")[0]
    except RuntimeError:  # what JAX raises when no GPU platform is installed or found
        gpu = None
    cpu = jax.devices("cpu")[0]
    note = None if gpu is not None else (
        f"no GPU found: JAX {jax.__version__} sees {jax.devices()}; install jax[cuda12] into this "
        f"environment for one")
    if choice == "gpu" and gpu is None:
        raise NoGPUError(note)
    devices = {"cpu": [cpu], "gpu": [gpu], "default": [jax.devices()[0]],
               "both": [cpu] if gpu is None else [cpu, gpu]}[choice]
    return devices, (note if choice in ("default", "both") else None)


def _memory(device):
    """Bytes in use / peak / limit on the device, or None where the backend keeps no count."""
    try:
        stats = device.memory_stats() or {}
    except (AttributeError, NotImplementedError, RuntimeError):
        stats = {}
    return None if not stats else {k: int(stats[k]) for k in ("bytes_in_use", "peak_bytes_in_use", "bytes_limit")
                                   if k in stats}


def _peak(device):
    return (_memory(device) or {}).get("peak_bytes_in_use")


def device_report(device) -> dict:
    """Platform, kind, default backend, x64, memory of one device."""
    return {"device": _label(device), "platform": device.platform, "kind": device.device_kind,
            "default_backend": jax.default_backend(), "x64": bool(jax.config.jax_enable_x64),
            "jax": jax.__version__, "memory": _memory(device)}


def _guarded(measure, row):
    """``row`` updated with ``measure()``'s figures, or with the error when it ran out of
    device (or host) memory; any other error propagates."""
    rows = []
    try:
        for figures in measure():
            rows.append(dict(row, **figures))
    except Exception as error:  # XlaRuntimeError has no stable import path across JAX versions
        if not (isinstance(error, MemoryError) or "RESOURCE_EXHAUSTED" in str(error)):
            raise
        gc.collect()
        rows.append(dict(row, error=f"out of memory: {str(error).splitlines()[0][:200]}"))
    return rows


# -- kernel ----------------------------------------------------------------------------------
def _kernel_inputs(shape, seed: int = 0):
    """Neo-Hookean assembler on a ``shape`` box of hex8 cells, its cell block, the cells'
    displacements and coordinates ``(n_cells, 8, 3)`` and the kernel's parameters."""
    mesh = box(size=(1.0, 1.0, 1.0), shape=shape, cell="hex8")
    space = FunctionSpace(mesh, 3)
    law = NeoHookean(mu=1.0, lmbda=2.0)
    u = np.random.default_rng(seed).normal(0.0, 0.02 / max(shape), (mesh.n_nodes, 3))
    params = ({k: np.float64(v) for k, v in law.parameters.items()}, {}, {})
    assembler = Assembler(space, [CellTerm(law)])   # no sparsity pattern: the kernel only
    block = assembler.blocks[0]
    return assembler, block, u[block.nodes], block.points, params


def _chunk_for(requested: int, count: int) -> int:
    """``requested``, or the power of two that holds ``count`` cells when smaller."""
    return min(int(requested), 1 << max(0, int(count - 1).bit_length()))


def measure_kernel(shape, device, chunks=DEFAULT_CHUNKS, repeat: int = 5):
    """Yield the figures of the residual + tangent chunk kernel on ``device`` per chunk
    size, on a ``shape`` box of hex8 cells. The cells are padded to whole chunks (copies
    of the last cell, as the assembler pads) and put on the device before timing; a run
    dispatches every chunk, two in flight, and waits for the last."""
    assembler, block, U, X, params = _kernel_inputs(shape)
    fn, _ = assembler._kernel(block, params, tangent=True)
    pg = jax.device_put(params[0], device)
    count = len(U)
    for chunk in sorted({_chunk_for(c, count) for c in chunks}):
        n_chunks = -(-count // chunk)
        take = np.minimum(np.arange(n_chunks * chunk), count - 1).reshape(n_chunks, chunk)
        U_chunks = [jax.device_put(U[t], device) for t in take]
        X_chunks = [jax.device_put(X[t], device) for t in take]
        start = time.perf_counter()
        jax.block_until_ready(fn(U_chunks[0], X_chunks[0], pg, {}, {}))
        first = time.perf_counter() - start

        def run():
            pending = deque()
            for U_c, X_c in zip(U_chunks, X_chunks):
                pending.append(fn(U_c, X_c, pg, {}, {}))
                if len(pending) > 2:
                    jax.block_until_ready(pending.popleft())
            jax.block_until_ready(list(pending))

        seconds = median_seconds(run, repeat)
        yield {"chunk": chunk, "chunks": n_chunks, "compile_s": first, "kernel_s": seconds,
               "Mcells_per_s": count / seconds / 1e6, "peak_bytes": _peak(device)}
        U_chunks = X_chunks = None   # this chunk size's inputs leave the device before the next


# -- matrix-free -----------------------------------------------------------------------------
def _relative(a, b) -> float:
    norm = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / (norm if norm > 0 else 1.0))


def _cpu_product(operator, x):
    """``K_ff x`` on the CPU, with the operator's arrays copied there (NumPy ``(n_free,)``)."""
    cpu = jax.devices("cpu")[0]
    arguments = jax.device_put(operator.arguments(), cpu)
    return np.asarray(jax.jit(operator.product)(jax.device_put(x, cpu), *arguments))


def _csr_residual(problem, x_free) -> float:
    """|K_ff x - f| / |f| with K assembled on the host (femopt's assembler, not the
    operator): ``f = -R(u_p)`` on the free dofs, ``u_p`` the prescribed values."""
    part = problem.partition
    lifting = part.expand(np.zeros(part.free.size), problem.prescribed_values())
    r, K = problem.residual_and_tangent(lifting)
    f = -r[part.free]
    return _relative(part.free_block(K) @ x_free, f)


def measure_matrix_free(shape, device, chunks=DEFAULT_CHUNKS, repeat: int = 5, *, solve: bool = True,
                        check_max_dofs: int = CHECK_MAX_DOFS):
    """Figures of the matrix-free operator on ``device``: ``(apply rows, solve rows)``.

    Every JAX array the operator and the solve create lands on ``device``
    (``jax.default_device``); the solve uses the chunk whose apply was fastest."""
    problem = _problem(shape)
    n_free = int(problem.partition.free.size)
    x_host = np.random.default_rng(0).standard_normal(n_free)
    fastest = {}

    def apply_rows():
        for chunk in sorted({_chunk_for(c, problem.mesh.n_cells) for c in chunks}):
            start = time.perf_counter()
            operator = MatrixFreeOperator(problem, chunk=chunk)
            operator.diagonal()
            setup = time.perf_counter() - start
            x = jax.device_put(x_host, device)
            start = time.perf_counter()
            y = np.asarray(operator.apply(x).block_until_ready())
            first = time.perf_counter() - start
            seconds = median_seconds(lambda: operator.apply(x).block_until_ready(), repeat)
            row = {"chunk": chunk, "free_dofs": n_free, "setup_s": setup, "first_apply_s": first,
                   "apply_s": seconds, "Mdofs_per_s": n_free / seconds / 1e6, "operator_bytes": operator.nbytes,
                   "peak_bytes": _peak(device)}
            if not _is_cpu(_label(device)):
                row["vs_cpu"] = _relative(y, _cpu_product(operator, x_host))
            if not fastest or seconds < fastest["apply_s"]:
                fastest.update(apply_s=seconds, chunk=chunk, operator=operator)
            yield row

    def solve_rows():
        field, report = matrix_free_solve(problem, rtol=1e-8, preconditioner="chebyshev", report=True,
                                          chunk=fastest["chunk"])
        x_free = np.asarray(field).reshape(-1)[problem.partition.free]
        operator = fastest["operator"]
        b = operator.load_vector()
        row = {"chunk": fastest["chunk"], "free_dofs": n_free, "iterations": report.iterations,
               "setup_s": report.setup_seconds, "solve_s": report.solve_seconds,
               "cg_residual": report.relative_residual,
               "mf_residual": _relative(np.asarray(operator.apply(jax.device_put(x_free, device))), b)}
        fastest.clear()   # the operator's device arrays go before the host assembly
        try:
            if problem.space.n_dofs <= check_max_dofs:
                row["csr_residual"] = _csr_residual(problem, x_free)
        except MemoryError as error:  # femopt's ResourceError: the host cannot hold the matrix
            row["csr_error"] = str(error).splitlines()[0]
        yield row

    base = {"shape": "x".join(map(str, shape)), "device": _label(device)}
    with jax.default_device(device):
        applies = _guarded(apply_rows, base)
        solves = _guarded(solve_rows, base) if solve and fastest else []
    return applies, solves


# -- the run ---------------------------------------------------------------------------------
def _add_speedups(rows, seconds_key, match=("shape", "chunk")):
    """``x_cpu`` on the rows of other devices: the CPU row's seconds over theirs."""
    cpu = {tuple(r.get(k) for k in match): r for r in rows if _is_cpu(r["device"]) and seconds_key in r}
    for r in rows:
        ref = cpu.get(tuple(r.get(k) for k in match))
        if ref is not None and not _is_cpu(r["device"]) and seconds_key in r:
            r["x_cpu"] = ref[seconds_key] / r[seconds_key]


def run_gpu_benchmark(shapes=DEFAULT_SHAPES, device="default", *, repeat: int = 5, kernel_chunks=DEFAULT_CHUNKS,
                      mf_chunks=DEFAULT_CHUNKS, solve: bool = True, check_max_dofs: int = CHECK_MAX_DOFS,
                      cpu_solve_max_dofs: int = CPU_SOLVE_MAX_DOFS, out=None) -> dict:
    """Every section for every shape (smallest first) and device; returns the report dict
    (``devices``, ``note``, ``kernel``, ``matrix_free_apply``, ``matrix_free_solve``,
    ``table``), also written as JSON to ``out``. Raises NoGPUError for a missing GPU."""
    devices, note = select_devices(device)
    report = {"note": note, "kernel": [], "matrix_free_apply": [], "matrix_free_solve": []}
    for shape in sorted((tuple(int(n) for n in s) for s in shapes), key=np.prod):
        for dev in devices:
            base = {"shape": "x".join(map(str, shape)), "device": _label(dev), "cells": int(np.prod(shape))}
            report["kernel"] += _guarded(lambda: measure_kernel(shape, dev, kernel_chunks, repeat), base)
            too_slow = _is_cpu(_label(dev)) and 3 * np.prod(np.add(shape, 1)) > cpu_solve_max_dofs
            applies, solves = measure_matrix_free(shape, dev, mf_chunks, repeat, solve=solve and not too_slow,
                                                  check_max_dofs=check_max_dofs)
            if solve and too_slow:
                solves = [dict(base, skipped=f"skipped: a CPU solve above --cpu-solve-max-dofs {cpu_solve_max_dofs}")]
            report["matrix_free_apply"] += applies
            report["matrix_free_solve"] += solves
    _add_speedups(report["kernel"], "kernel_s")
    _add_speedups(report["matrix_free_apply"], "apply_s")
    _add_speedups(report["matrix_free_solve"], "solve_s", match=("shape",))
    report["devices"] = [device_report(dev) for dev in devices]
    report["table"] = format_tables(report)
    if out:
        with open(out, "w") as f:
            json.dump(report, f, indent=2)
    return report


_GB = 1e9
_WHERE = [("shape", "shape", "{}"), ("device", "device", "{}")]
_SPEED = [("x_cpu", "x CPU", "{:.1f}"), ("peak_bytes", "peak GB", "{:.2f}")]
_KERNEL = _WHERE + [("cells", "cells", "{:d}"), ("chunk", "chunk", "{:d}"), ("chunks", "chunks", "{:d}"),
                    ("compile_s", "compile s", "{:.2f}"), ("kernel_s", "kernel s", "{:.4f}"),
                    ("Mcells_per_s", "M cells/s", "{:.2f}")] + _SPEED
_APPLY = _WHERE + [("free_dofs", "free dofs", "{:d}"), ("chunk", "chunk", "{:d}"), ("setup_s", "setup s", "{:.2f}"),
                   ("first_apply_s", "1st apply s", "{:.2f}"), ("apply_s", "apply s", "{:.4f}"),
                   ("Mdofs_per_s", "M dofs/s", "{:.2f}"), ("vs_cpu", "vs CPU", "{:.1e}")] + _SPEED
_SOLVE = _WHERE + [("free_dofs", "free dofs", "{:d}"), ("chunk", "chunk", "{:d}"), ("iterations", "its", "{:d}"),
                   ("setup_s", "setup s", "{:.2f}"), ("solve_s", "solve s", "{:.2f}"),
                   ("mf_residual", "MF res", "{:.1e}"), ("csr_residual", "CSR res", "{:.1e}")] + _SPEED[:1]


def _table(title, rows, columns) -> list[str]:
    """Aligned text table; missing figures as ``-``, an error row as its message."""
    header = [name for _, name, _ in columns]
    scale = lambda key, value: value / _GB if key.endswith("bytes") else value
    body = [[fmt.format(scale(k, r[k])) if r.get(k) is not None else "-" for k, _, fmt in columns] for r in rows]
    widths = [max(len(h), *(len(b[j]) for b in body)) if body else len(h) for j, h in enumerate(header)]
    lines = [title, "  ".join(h.rjust(w) for h, w in zip(header, widths))]
    for r, b in zip(rows, body):
        message = r.get("error") or r.get("skipped")
        lines.append(f"{r['shape']:>{widths[0]}}  {r['device']:>{widths[1]}}  {message}" if message
                     else "  ".join(v.rjust(w) for v, w in zip(b, widths)))
    return lines


def format_tables(report) -> str:
    """The report as the printed tables (see the module docstring for the columns)."""
    lines = ["devices (memory after the run, GB: in use / peak / limit)"]
    for d in report["devices"]:
        memory = " / ".join("-" if (d["memory"] or {}).get(k) is None else f"{d['memory'][k] / _GB:.2f}"
                            for k in ("bytes_in_use", "peak_bytes_in_use", "bytes_limit"))
        lines.append(f"  {d['device']:<8} {d['kind']:<24} default backend {d['default_backend']}, "
                     f"x64 {'on' if d['x64'] else 'OFF'}, memory {memory}")
    if report["note"]:
        lines.append(f"  {report['note']}")
    lines += _table("\nneo-Hookean HEX8 residual + tangent chunk kernel (device inputs, no scatter)",
                    report["kernel"], _KERNEL)
    lines += _table("\nmatrix-free K x, linear elasticity hex8", report["matrix_free_apply"], _APPLY)
    if report["matrix_free_solve"]:
        lines += _table("\nmatrix_free_solve, Chebyshev-Jacobi CG to rtol 1e-8 (solve s includes the CG "
                        "loop's compile)", report["matrix_free_solve"], _SOLVE)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="femopt bench gpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="default", choices=("default", "cpu", "gpu", "both"),
                        help="where to run (both: CPU and GPU, with the speed-up)")
    parser.add_argument("--shape", nargs=3, type=int, action="append", metavar=("NX", "NY", "NZ"),
                        help="hex8 cells per axis (repeatable; default 40³ 80³ 120³)")
    parser.add_argument("--quick", action="store_true", help="one tiny box (seconds)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per figure, median (default 5; 2 quick)")
    parser.add_argument("--kernel-chunk", type=int, nargs="+", default=list(DEFAULT_CHUNKS),
                        help="cells per kernel call")
    parser.add_argument("--mf-chunk", type=int, nargs="+", default=list(DEFAULT_CHUNKS),
                        help="cells per chunk of the matrix-free operator")
    parser.add_argument("--no-solve", action="store_true", help="skip matrix_free_solve")
    parser.add_argument("--check-max-dofs", type=int, default=CHECK_MAX_DOFS,
                        help="assemble the CSR matrix for the residual check up to this many dofs")
    parser.add_argument("--cpu-solve-max-dofs", type=int, default=CPU_SOLVE_MAX_DOFS,
                        help="run the CPU's matrix_free_solve up to this many dofs")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args(argv)
    if min(args.kernel_chunk + args.mf_chunk + sum(args.shape or [], []) + [args.repeat or 1]) < 1:
        parser.error("--shape, --kernel-chunk, --mf-chunk and --repeat take positive integers")
    shapes = QUICK_SHAPES if args.quick else (args.shape or DEFAULT_SHAPES)
    repeat = args.repeat or (2 if args.quick else 5)
    try:
        report = run_gpu_benchmark(shapes, args.device, repeat=repeat, kernel_chunks=args.kernel_chunk,
                                   mf_chunks=args.mf_chunk, solve=not args.no_solve,
                                   check_max_dofs=args.check_max_dofs,
                                   cpu_solve_max_dofs=args.cpu_solve_max_dofs, out=args.json)
    except NoGPUError as error:
        print(f"femopt bench gpu: --device gpu, but {error}", file=sys.stderr)
        return 2
    print("command: python -m femopt.benchmarks.gpu " + " ".join(sys.argv[1:] if argv is None else argv))
    print(report["table"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
