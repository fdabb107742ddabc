"""femopt on PETSc under MPI: the same script serially or with ``mpirun -n N``.

::

    from femopt.distributed import DistributedProblem
    u = DistributedProblem(problem).solve()       # problem: an ordinary femopt Problem

    mesh = femopt.distributed.box(size, shape)    # or: each rank builds only its piece

``import femopt`` does not import this package. The partition and numbering
(:mod:`.partition`, :mod:`.preallocation`) are plain NumPy and import without PETSc;
:class:`DistributedProblem` needs petsc4py and raises ImportError naming the install
command (``bash scripts/install_mpi_stack.sh``) when it is missing. See
docs/distributed.md. Topology optimization: :func:`minimize_compliance` (femopt's serial
route without petsc4py), docs/distributed_topology.md.
"""
from ._petsc import INSTALL_HINT, petsc_available
from .cells import cell_numbering
from .filter import filter_rows, ghost_cells
from .meshes import box, cut, rectangle
from .read import read
from .optimize import TopologyResult, minimize_compliance
from .partition import Numbering, RankPiece, bisect_cells, node_owners, partition_mesh

__all__ = ["DistributedProblem", "box", "rectangle", "cut", "read", "INSTALL_HINT", "petsc_available", "bisect_cells", "node_owners",
           "partition_mesh", "Numbering", "RankPiece", "minimize_compliance", "TopologyResult",
           "cell_numbering", "filter_rows", "ghost_cells", "write_pvtu"]


def __getattr__(name):
    if name == "write_pvtu":
        from .output import write_pvtu

        return write_pvtu
    if name in ("DistributedProblem", "SOLVERS"):
        from ._petsc import import_petsc

        import_petsc()          # ImportError naming the install command when petsc4py is missing
        from . import problem

        return getattr(problem, name)
    raise AttributeError(f"module 'femopt.distributed' has no attribute {name!r}")
