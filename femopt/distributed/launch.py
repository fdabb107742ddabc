"""Starting a script on N ranks from Python (tests, benchmarks): the ``mpirun`` command
line and environment that work on a workstation, in a container, and as root.

Open MPI refuses to run as root unless told (``--allow-run-as-root`` or
``OMPI_ALLOW_RUN_AS_ROOT=1`` with ``OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1``), and refuses more
ranks than cores unless oversubscription is allowed (``--oversubscribe``); MPICH needs
neither. Only the environment variables are used for root (both Open MPI 4 and 5 read
them); ``--oversubscribe`` is passed to Open MPI only. No ``print``: the caller reads
the result.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

__all__ = ["find_mpirun", "mpirun_command", "mpirun_environment", "run_mpi"]


def find_mpirun() -> str | None:
    """Path of ``mpirun`` (or ``mpiexec``), or None when neither is on PATH."""
    return shutil.which("mpirun") or shutil.which("mpiexec")


def _is_open_mpi(launcher: str) -> bool:
    try:
        out = subprocess.run([launcher, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "open mpi" in (out.stdout + out.stderr).lower() or "open-mpi" in (out.stdout + out.stderr).lower()


def mpirun_environment(base=None) -> dict:
    """``base`` (default ``os.environ``) plus what Open MPI needs as root and in a
    container: permission to run as root, no shared-memory single-copy (ptrace is often
    forbidden in containers), and one thread per rank for the BLAS below PETSc."""
    env = dict(os.environ if base is None else base)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def mpirun_command(n_ranks: int, args, *, launcher: str | None = None, python: str | None = None) -> list[str]:
    """``[mpirun, -n, N, (--oversubscribe), python, *args]``.

    Raises:
        FileNotFoundError: no mpirun / mpiexec on PATH.
    """
    launcher = launcher or find_mpirun()
    if launcher is None:
        raise FileNotFoundError("mpirun (or mpiexec) is not on PATH: install Open MPI or MPICH "
                                "(bash scripts/install_mpi_stack.sh)")
    command = [launcher, "-n", str(int(n_ranks))]
    if _is_open_mpi(launcher):
        command.append("--oversubscribe")
    return command + [python or sys.executable, *map(str, args)]


def run_mpi(n_ranks: int, args, *, timeout: float = 600, env=None, cwd=None) -> subprocess.CompletedProcess:
    """Run ``python *args`` on ``n_ranks`` ranks; returns the completed process (check
    ``returncode``, ``stdout``, ``stderr``)."""
    return subprocess.run(mpirun_command(n_ranks, args), env=mpirun_environment(env), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
