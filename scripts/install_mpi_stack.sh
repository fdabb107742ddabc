#!/usr/bin/env bash
# Install femopt's distributed stack on Debian/Ubuntu: PETSc + Open MPI from the
# distribution, then petsc4py (and mpi4py) built from source against them and against
# the NumPy of the current Python (Debian's own python3-petsc4py is built against
# Debian's NumPy, which is older than what current JAX needs).
#
#   bash scripts/install_mpi_stack.sh            # everything (about 3 min on 2 cores)
#   SKIP_MPI4PY=1 bash scripts/install_mpi_stack.sh   # petsc4py only (mpi4py is optional)
#   PYTHON=/path/to/python bash scripts/install_mpi_stack.sh
#
# Idempotent: steps already done are skipped. Prints each step; exits non-zero with the
# reason when a step fails. On clusters and non-Debian systems use conda-forge instead:
#   conda install -c conda-forge petsc petsc4py mpi4py      (see docs/distributed.md)
set -euo pipefail

PYTHON="${PYTHON:-python}"
say() { printf '[install_mpi_stack] %s\n' "$*"; }
fail() { printf '[install_mpi_stack] FAILED: %s\n' "$*" >&2; exit 1; }
timed() { local t0=$SECONDS; "$@"; say "  ... done in $((SECONDS - t0)) s"; }

command -v "$PYTHON" >/dev/null || fail "no Python '$PYTHON' (set PYTHON=...)"
command -v apt-get >/dev/null || fail "apt-get not found: this script is for Debian/Ubuntu. Elsewhere: conda install -c conda-forge petsc petsc4py mpi4py"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || fail "not root and no sudo: run as root, or install petsc-dev libopenmpi-dev openmpi-bin first"
    SUDO="sudo"
fi

# 1. PETSc (with MUMPS, hypre, SuperLU_DIST, PT-Scotch in Debian's build) and Open MPI
PACKAGES="petsc-dev libopenmpi-dev openmpi-bin"
if dpkg -s $PACKAGES >/dev/null 2>&1; then
    say "1/4 apt packages already installed: $PACKAGES"
else
    say "1/4 apt-get install $PACKAGES (about 130 packages, ~20 s from a fast mirror)"
    timed bash -c "$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null" \
        || fail "apt-get could not install $PACKAGES"
fi

# 2. PETSC_DIR of Debian's real-scalar PETSc and its version (petsc4py must match major.minor)
PETSC_DIR="$(ls -d /usr/lib/petscdir/petsc[0-9]*/*-real 2>/dev/null | sort -V | tail -n 1 || true)"
[ -n "$PETSC_DIR" ] && [ -f "$PETSC_DIR/include/petscversion.h" ] || fail "no PETSc under /usr/lib/petscdir after installing petsc-dev"
version_part() { awk -v key="PETSC_VERSION_$1" '$1 == "#define" && $2 == key {print $3}' "$PETSC_DIR/include/petscversion.h"; }
PETSC_VERSION="$(version_part MAJOR).$(version_part MINOR)"
export PETSC_DIR PETSC_ARCH=""
say "2/4 PETSC_DIR=$PETSC_DIR (PETSc $PETSC_VERSION.$(version_part SUBMINOR))"

# 3. petsc4py from source (no binary wheels exist on PyPI), against this PETSc and NumPy
installed="$("$PYTHON" -c 'import petsc4py, petsc4py.PETSc as P; print("%d.%d" % P.Sys.getVersion()[:2])' 2>/dev/null || true)"
if [ "$installed" = "$PETSC_VERSION" ]; then
    say "3/4 petsc4py for PETSc $PETSC_VERSION already importable"
else
    say "3/4 pip install petsc4py==$PETSC_VERSION.* (compiles a large C file: ~2.5 min on 2 cores)"
    # --no-build-isolation builds against the installed NumPy; it needs wheel in place
    # (the sdist ships its generated C, so no Cython is needed)
    timed "$PYTHON" -m pip install -q wheel || fail "pip could not install wheel"
    timed "$PYTHON" -m pip install -q --no-build-isolation --no-cache-dir "petsc4py==$PETSC_VERSION.*" \
        || fail "building petsc4py against $PETSC_DIR failed (see pip's output above)"
fi

# 4. mpi4py from source against the system MPI (optional: femopt.distributed does not need it)
if [ "${SKIP_MPI4PY:-0}" = "1" ]; then
    say "4/4 mpi4py skipped (SKIP_MPI4PY=1)"
elif "$PYTHON" -c 'import mpi4py.MPI' 2>/dev/null; then
    say "4/4 mpi4py already importable"
else
    say "4/4 pip install mpi4py from source against $(command -v mpicc) (~3-10 min on 2 cores)"
    timed "$PYTHON" -m pip install -q --no-cache-dir --no-binary mpi4py "mpi4py>=3.1" \
        || fail "building mpi4py failed (optional: rerun with SKIP_MPI4PY=1)"
fi

# check: PETSc loads, and two ranks talk (Open MPI needs permission as root, and
# oversubscription when there are fewer cores than ranks)
say "check: petsc4py imports and runs on 2 ranks"
"$PYTHON" -c 'from petsc4py import PETSc; print("[install_mpi_stack] petsc4py", PETSc.Sys.getVersion(), "MUMPS:", PETSc.Sys.hasExternalPackage("mumps"))' \
    || fail "petsc4py does not import"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
ranks="$(mpirun -n 2 --oversubscribe "$PYTHON" -c 'from petsc4py import PETSc; print(PETSc.COMM_WORLD.getSize())' | tr -d '\r' | sort -u | tr '\n' ' ')"
[ "$ranks" = "2 " ] || fail "mpirun -n 2 did not run petsc4py on 2 ranks: $ranks"
say "OK: run scripts with  mpirun -n 2 python script.py  (as root: export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)"
