"""Assembly: element kernels from pointwise laws, CSR pattern and scatter, Dirichlet
elimination."""
from .assembler import Assembler, CellTerm, FacetTerm
from .dirichlet import DofPartition
from .parameters import cell_field, nodal_field
from .pattern import SparsityPattern, build_pattern

__all__ = ["Assembler", "CellTerm", "FacetTerm", "DofPartition", "cell_field", "nodal_field",
           "SparsityPattern", "build_pattern"]
