"""The :class:`Mesh`: nodes, cells of one cell type, named tags, and selection of nodes,
facets and cells by tag name, predicate or ids.

A mesh is treated as immutable: its arrays are read-only, and ``tag_*``, ``with_points``
and ``submesh`` return a new mesh.
"""
from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from ._validation import (as_array, as_cells, as_facets, as_flag, as_ids, as_points, as_selected_ids,
                          as_tag_dict, check_connectivity, tag_name)
from .cell_types import CellType, cell_type as _lookup
from .coincident import check_mode, find_coincident, merge_coincident, report_coincident
from .quality import check_cells
from .topology import boundary_facets, unique_facets
from ..errors import InputError, MeshError

__all__ = ["Mesh"]

Predicate = Callable[[np.ndarray], np.ndarray]


class Mesh:
    """An unstructured mesh of one cell type.

    Args:
        points: ``(n_nodes, dim)`` coordinates, dim 1-3. Points with an all-zero third
            column are reduced to 2D for 2D cell types (what meshio returns for flat meshes).
        cells: ``(n_cells, n_nodes_per_cell)`` node ids in VTK / meshio ordering.
        cell_type: a :class:`CellType`, or a femopt (``"tri6"``) or meshio
            (``"triangle6"``) name.
        node_tags: ``{name: node ids}``.
        facet_tags: ``{name: (n, 2) (cell id, local facet id)}``.
        cell_tags: ``{name: cell ids}``.
        check: also reject inverted and degenerate cells (corner Jacobians; see
            :mod:`femopt.mesh.quality`) and look for coincident nodes.
        coincident: with ``check``, what distinct nodes at one position used by
            different cells (a crack; see :mod:`femopt.mesh.coincident`) do: ``"warn"``
            (a :class:`~femopt.mesh.coincident.CoincidentNodesWarning`), ``"error"``
            (:class:`MeshError`) or ``"ignore"`` (an intended crack).

    Attributes:
        points: ``(n_nodes, dim)`` float64, read-only.
        cells: ``(n_cells, n_nodes_per_cell)`` int64, read-only.
        cell_type: the :class:`CellType`.
        node_tags: ``{name: sorted unique int64 node ids}``.
        facet_tags: ``{name: (n, 2) int64 (cell id, local facet id)}``, sorted unique rows.
        cell_tags: ``{name: sorted unique int64 cell ids}``.

    Raises:
        MeshError: wrong shapes or dtypes, node ids out of range, repeated nodes in a
            cell, non-finite coordinates, a spatial dimension below the cell dimension,
            malformed tags; with ``check=True`` also inverted or degenerate cells, and
            coincident nodes with ``coincident="error"``.
    """

    def __init__(self, points, cells, cell_type, *, node_tags=None, facet_tags=None,
                 cell_tags=None, check: bool = True, coincident: str = "warn"):
        try:
            ctype = _lookup(cell_type)
        except ValueError as error:
            raise MeshError(str(error)) from None
        cells = as_cells(cells, ctype)
        points = as_points(points, ctype)
        check_connectivity(cells, ctype, len(points))
        check_mode(coincident)
        if as_flag(check, "check"):
            check_cells(points, cells, ctype)
            if coincident != "ignore":
                report_coincident(*find_coincident(points, cells, ctype), coincident)
        points.flags.writeable = False
        cells.flags.writeable = False
        self.points: np.ndarray = points
        self.cells: np.ndarray = cells
        self.cell_type: CellType = ctype
        n_nodes, n_cells = len(points), len(cells)
        self.node_tags = {name: as_ids(ids, n_nodes, f"node tag {name!r}", "node")
                          for name, ids in as_tag_dict(node_tags, "node_tags").items()}
        self.facet_tags = {name: as_facets(f, n_cells, ctype, f"facet tag {name!r}")
                           for name, f in as_tag_dict(facet_tags, "facet_tags").items()}
        self.cell_tags = {name: as_ids(ids, n_cells, f"cell tag {name!r}", "cell")
                          for name, ids in as_tag_dict(cell_tags, "cell_tags").items()}
        self._cache: dict = {}      # derived data of this topology: facet lists, sparsity patterns

    #: :class:`~femopt.mesh.pieces.MeshPiece` when this mesh is one rank's piece of a
    #: distributed mesh (see :meth:`as_piece`), else None
    piece = None

    def as_piece(self, piece) -> "Mesh":
        """This mesh as one rank's piece of a larger mesh (:mod:`femopt.mesh.pieces`):
        a copy with ``piece`` attached. Its boundary is then the whole mesh's
        (``piece.boundary``), and a selection may be empty on it.

        Raises:
            MeshError: ``piece`` does not fit this mesh's nodes and cells.
        """
        piece.check(self.n_nodes, self.n_cells)
        mesh = self._replace()
        mesh.piece = piece
        mesh._cache = {"boundary": np.asarray(piece.boundary, dtype=np.int64).reshape(-1, 2)}
        mesh._cache["boundary"].flags.writeable = False
        return mesh

    @property
    def dim(self) -> int:
        """Spatial dimension (columns of ``points``)."""
        return self.points.shape[1]

    @property
    def n_nodes(self) -> int:
        return self.points.shape[0]

    @property
    def n_cells(self) -> int:
        return self.cells.shape[0]

    def __repr__(self) -> str:
        tags = [f"{kind} tags {sorted(d)}" for kind, d in
                (("node", self.node_tags), ("facet", self.facet_tags), ("cell", self.cell_tags)) if d]
        return (f"Mesh({self.cell_type.name}, {self.n_cells} cells, {self.n_nodes} nodes, "
                f"dim={self.dim}{''.join(', ' + t for t in tags)})")

    # ----------------------------------------------------------------- geometry, topology
    def cell_centroids(self) -> np.ndarray:
        """Mean of each cell's corner nodes, ``(n_cells, dim)``."""
        return self.points[self.cells[:, : self.cell_type.n_corners]].mean(axis=1)

    def boundary_facets(self) -> np.ndarray:
        """Facets that belong to exactly one cell, ``(n, 2)`` (cell id, local facet id),
        sorted. Computed once and cached. On a piece of a distributed mesh: the whole
        mesh's boundary facets among the piece's cells (not those between ranks)."""
        if "boundary" not in self._cache:
            facets = boundary_facets(self.cells, self.cell_type, self.n_nodes)
            facets.flags.writeable = False
            self._cache["boundary"] = facets
        return self._cache["boundary"]

    def _all_facets(self) -> np.ndarray:
        if "all" not in self._cache:
            facets = unique_facets(self.cells, self.cell_type, self.n_nodes)
            facets.flags.writeable = False
            self._cache["all"] = facets
        return self._cache["all"]

    def facet_nodes(self, facets) -> np.ndarray:
        """Global node ids of facets, ``(n, n_facet_nodes)``, in facet-table order (the
        corners first; their order gives the outward normal).

        Args:
            facets: ``(n, 2)`` (cell id, local facet id).
        """
        facets = as_facets(facets, self.n_cells, self.cell_type, "facets", unique=False)
        table = np.array(self.cell_type.facets, dtype=np.int64)
        return self.cells[facets[:, :1], table[facets[:, 1]]]

    # ----------------------------------------------------------------------- selection
    def nodes(self, selection) -> np.ndarray:
        """Sorted unique node ids (int64) selected by

        * a tag name: a node tag, else the nodes of a facet tag, else of a cell tag;
        * a predicate ``f(x) -> bool mask``, called once with the ``(n_nodes, dim)``
          coordinates, e.g. ``lambda x: np.isclose(x[:, 0], 0.0)``;
        * an array of node ids, or a boolean mask of length ``n_nodes``.

        Raises:
            InputError: unknown tag name, malformed predicate result or ids, or an
                empty selection.
        """
        if isinstance(selection, str):
            if selection in self.node_tags:
                ids = self.node_tags[selection]
            elif selection in self.facet_tags:
                ids = np.unique(self.facet_nodes(self.facet_tags[selection]))
            elif selection in self.cell_tags:
                ids = np.unique(self.cells[self.cell_tags[selection]])
            else:
                raise InputError(f"no tag named {selection!r}; {self._available_tags()}")
        elif callable(selection):
            ids = np.flatnonzero(_call_predicate(selection, self.points, "nodes"))
        else:
            ids = as_selected_ids(selection, self.n_nodes, "node")
        return self._non_empty(ids.astype(np.int64), selection, "nodes")

    def facets(self, selection, boundary_only: bool = True) -> np.ndarray:
        """Facets ``(n, 2)`` (cell id, local facet id), sorted, selected by

        * a tag name: a facet tag, else the facets whose nodes all lie in a node tag;
        * a predicate ``f(x) -> bool mask`` called with the coordinates of the facets'
          nodes ``(n_facets * n_facet_nodes, dim)``: a facet is selected when it holds
          at ALL of its nodes (mid-edge nodes included);
        * an ``(n, 2)`` array of facets (validated).

        Args:
            boundary_only: with a predicate or node tag, search the boundary facets only;
                with False every facet once (an interior facet as seen from the
                lower-numbered of its two cells).

        Raises:
            InputError: unknown tag name, malformed input, or an empty selection.
        """
        if isinstance(selection, str) and selection in self.facet_tags:
            found = self.facet_tags[selection]
        elif isinstance(selection, str) and selection in self.node_tags:
            in_tag = np.zeros(self.n_nodes, dtype=bool)
            in_tag[self.node_tags[selection]] = True
            candidates = self.boundary_facets() if boundary_only else self._all_facets()
            found = candidates[in_tag[self.facet_nodes(candidates)].all(axis=1)]
        elif isinstance(selection, str):
            raise InputError(f"no facet or node tag named {selection!r}; {self._available_tags()}")
        elif callable(selection):
            candidates = self.boundary_facets() if boundary_only else self._all_facets()
            nodes = self.facet_nodes(candidates)
            mask = _call_predicate(selection, self.points[nodes.ravel()], "facets")
            found = candidates[mask.reshape(nodes.shape).all(axis=1)]
        else:
            found = as_facets(selection, self.n_cells, self.cell_type, "facets")
        return self._non_empty(np.asarray(found, dtype=np.int64), selection, "facets")

    def cells_where(self, predicate: Predicate) -> np.ndarray:
        """Ids of the cells whose centroid (corner mean) satisfies ``predicate``, which is
        called with the ``(n_cells, dim)`` centroids. Sorted int64.

        Raises:
            InputError: malformed predicate result or no cell selected.
        """
        if not callable(predicate):
            raise InputError(f"cells_where expects a predicate f(x) -> bool mask, got {predicate!r}")
        ids = np.flatnonzero(_call_predicate(predicate, self.cell_centroids(), "cells"))
        return self._non_empty(ids.astype(np.int64), predicate, "cells")

    def _cells(self, selection) -> np.ndarray:
        """Cell ids from a cell tag name, a centroid predicate or ids."""
        if isinstance(selection, str):
            if selection not in self.cell_tags:
                raise InputError(f"no cell tag named {selection!r}; {self._available_tags()}")
            return self._non_empty(self.cell_tags[selection], selection, "cells")
        if callable(selection):
            return self.cells_where(selection)
        ids = as_selected_ids(selection, self.n_cells, "cell")
        return self._non_empty(ids, selection, "cells")

    def _available_tags(self) -> str:
        return (f"available node tags {sorted(self.node_tags)}, facet tags "
                f"{sorted(self.facet_tags)}, cell tags {sorted(self.cell_tags)}")

    def _non_empty(self, found: np.ndarray, selection, what: str) -> np.ndarray:
        if len(found) == 0 and self.piece is None:     # a piece may hold none of a selection
            raise InputError(f"selection {_describe(selection)} selects no {what}; "
                             f"{self._available_tags()}")
        return found

    # ------------------------------------------------------------------ derived meshes
    def _replace(self, **changes) -> "Mesh":
        args = dict(points=self.points, cells=self.cells, cell_type=self.cell_type,
                    node_tags=self.node_tags, facet_tags=self.facet_tags,
                    cell_tags=self.cell_tags, check=False)
        args.update(changes)
        if self.piece is not None and (args["cells"] is not self.cells or len(args["points"]) != self.n_nodes):
            raise MeshError("a piece of a distributed mesh keeps its nodes and cells (its numbering across the "
                            "ranks depends on them): make the whole mesh smaller before it is distributed")
        mesh = Mesh(args.pop("points"), args.pop("cells"), args.pop("cell_type"), **args)
        if mesh.cells is self.cells:  # same topology: share the cache (facet lists, sparsity patterns)
            mesh._cache = self._cache
            mesh.piece = self.piece
            if getattr(self, "refinement", None) is not None and mesh.n_nodes == self.n_nodes:
                mesh.refinement = self.refinement    # the hierarchy is topological: tags, moved nodes
        return mesh

    def coincident_nodes(self, tol: float | None = None) -> np.ndarray:
        """Pairs of distinct nodes, both used by cells, at most ``tol`` apart (default
        ``1e-8`` times the shortest cell edge), ``(n_pairs, 2)`` int64 ``(lower, higher)``."""
        return find_coincident(self.points, self.cells, self.cell_type, tol)[0]

    def merge_coincident(self, tol: float | None = None) -> "Mesh":
        """The mesh with coincident nodes welded (see :meth:`coincident_nodes`).

        Each group of coincident nodes becomes its lowest id, at that node's position; the
        other nodes of the group are removed and the remaining nodes renumbered in their
        order. Node tags are remapped; cells keep their ids and order, so cell and facet
        tags are unchanged. Returns ``self`` when nothing is coincident.

        Raises:
            MeshError: a cell would list one node twice (two of its own nodes coincide),
                naming the cells.
        """
        merged = merge_coincident(self.points, self.cells, self.cell_type, self.node_tags, tol)
        if merged is None:
            return self
        points, cells, node_tags = merged
        return self._replace(points=points, cells=cells, node_tags=node_tags)

    def with_points(self, points) -> "Mesh":
        """The same cells and tags on new coordinates ``(n_nodes, dim)``, validated
        (including inverted / degenerate cells)."""
        points = as_array(points, "with_points: points", f"({self.n_nodes}, dim) coordinates")
        if points.ndim != 2 or points.shape[0] != self.n_nodes:
            raise MeshError(f"with_points expects ({self.n_nodes}, dim) points, got shape {points.shape}")
        # Topology is unchanged, so coincident nodes are not searched again (this runs in
        # every step of a shape optimization).
        return self._replace(points=points, check=True, coincident="ignore")

    def tag_nodes(self, name: str, selection) -> "Mesh":
        """A new mesh with node tag ``name`` set to ``self.nodes(selection)``."""
        return self._replace(node_tags={**self.node_tags, tag_name(name): self.nodes(selection)})

    def tag_facets(self, name: str, selection, boundary_only: bool = True) -> "Mesh":
        """A new mesh with facet tag ``name`` set to ``self.facets(selection, boundary_only)``."""
        facets = self.facets(selection, boundary_only=boundary_only)
        return self._replace(facet_tags={**self.facet_tags, tag_name(name): facets})

    def tag_cells(self, name: str, selection) -> "Mesh":
        """A new mesh with cell tag ``name``: ``selection`` is a cell tag name, a predicate
        on cell centroids, or cell ids."""
        return self._replace(cell_tags={**self.cell_tags, tag_name(name): self._cells(selection)})

    def submesh(self, selection) -> "Mesh":
        """The mesh of the selected cells (cell tag name, centroid predicate or ids),
        nodes renumbered in their original order. Tags are restricted to what remains
        (a tag may become empty); facets newly on the boundary are untagged."""
        keep = np.unique(self._cells(selection))
        cells = self.cells[keep]
        used = np.zeros(self.n_nodes, dtype=bool)
        used[cells.ravel()] = True
        new_node = np.cumsum(used) - 1
        new_cell = np.full(self.n_cells, -1, dtype=np.int64)
        new_cell[keep] = np.arange(len(keep))
        node_tags = {k: new_node[v[used[v]]] for k, v in self.node_tags.items()}
        cell_tags = {k: new_cell[v[new_cell[v] >= 0]] for k, v in self.cell_tags.items()}
        facet_tags = {}
        for name, facets in self.facet_tags.items():
            kept = facets[new_cell[facets[:, 0]] >= 0]
            facet_tags[name] = np.stack([new_cell[kept[:, 0]], kept[:, 1]], axis=1)
        return self._replace(points=self.points[used], cells=new_node[cells], node_tags=node_tags,
                             facet_tags=facet_tags, cell_tags=cell_tags)


def _describe(selection) -> str:
    if isinstance(selection, str):
        return repr(selection)
    if callable(selection):
        name = getattr(selection, "__name__", repr(selection))
        try:
            source = inspect.getsource(selection).strip()
        except (OSError, TypeError):
            return f"predicate {name}"
        return f"predicate {name} ({source[:120]})"
    array = np.asarray(selection)
    return f"array of shape {array.shape}"


def _call_predicate(predicate: Predicate, x: np.ndarray, what: str) -> np.ndarray:
    mask = np.asarray(predicate(x))
    if mask.shape != (len(x),) or mask.dtype != bool:
        raise InputError(
            f"the predicate {_describe(predicate)} selecting {what} must return a boolean mask "
            f"of shape ({len(x)},) for coordinates of shape {x.shape}, got dtype {mask.dtype} "
            f"and shape {mask.shape}; write it vectorized, e.g. lambda x: np.isclose(x[:, 0], 0.0)")
    return mask
