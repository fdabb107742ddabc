"""petsc4py on demand, with the install command in the error when it is missing."""
from __future__ import annotations

import sys

__all__ = ["INSTALL_HINT", "import_petsc", "petsc_available"]

INSTALL_HINT = ("install the MPI stack with `bash scripts/install_mpi_stack.sh` (Debian/Ubuntu: PETSc, "
                "Open MPI, petsc4py built against them, mpi4py), or on a cluster "
                "`conda install -c conda-forge petsc4py mpi4py`; see docs/distributed.md")


def import_petsc():
    """``petsc4py.PETSc``, initialized with ``sys.argv`` so that PETSc options given on the
    command line (``-femopt_ksp_type preonly ...``) reach PETSc's options database.

    Raises:
        ImportError: petsc4py is not installed (or does not load), naming the install command.
    """
    try:
        import petsc4py
    except ImportError as error:
        raise ImportError(f"femopt.distributed needs petsc4py, which is not installed: {INSTALL_HINT}") from error
    if "petsc4py.PETSc" not in sys.modules:
        try:
            petsc4py.init(sys.argv)
        except Exception:  # already initialized by the user's own import: keep theirs
            pass
    try:
        from petsc4py import PETSc
    except ImportError as error:
        raise ImportError(f"petsc4py is installed but does not load ({error}); it must be built against "
                          f"the PETSc and NumPy in use: {INSTALL_HINT}") from error
    return PETSc


def petsc_available() -> bool:
    """Whether petsc4py imports (without initializing PETSc)."""
    try:
        import petsc4py  # noqa: F401
    except ImportError:
        return False
    return True
