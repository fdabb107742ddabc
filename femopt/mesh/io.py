"""Reading and writing meshes through meshio, with their named tags.

Tag encoding, chosen so that node, facet and cell tags survive a round trip:

* Gmsh ``.msh`` (written as MSH 2.2 ASCII, whose elements carry their physical group;
  meshio's MSH 4.1 writer drops physical groups unless given gmsh entities): physical
  groups named through ``field_data``. A facet tag is a group of facet elements
  (dimension ``cell dim - 1``), a cell tag a group of duplicate volume elements (as
  Gmsh itself writes an element that is in several groups), a node tag a group of
  ``vertex`` elements. Node tags equal to the nodes of the facet tag of the same name
  are not written: reading derives a node tag for every facet tag. Where two kinds of
  tag share a name (meshio keeps one group per name) the cell or node tag is written
  as ``cell:NAME`` / ``node:NAME``, and the prefix is removed on reading.
* Every other format but XDMF (``.vtu``, ``.vtk``, ...): 0/1 int32 indicator arrays.
  ``cell_tag:NAME`` and ``facet_tag:NAME`` are cell data, ``node_tag:NAME`` point data.
  Tagged facets are written as one extra block of facet cells after the volume cells
  (it shows in ParaView; threshold on a ``facet_tag:`` array to see a tag).
* XDMF (``.xdmf``, ``.xmf``) holds the volume cells only: meshio writes several cell
  blocks as one "Mixed" topology that its own reader cannot read back. A facet tag is
  the int32 cell data ``facet_bits:NAME``, whose bit ``f`` is set in the cells whose
  local facet ``f`` is tagged (0 on untagged cells): exact, one grid, and ParaView shows
  it as a cell array (threshold above 0 for the cells that carry the tag). Cell and node
  tags are indicator arrays as above.

A facet is written with the nodes of :meth:`Mesh.facet_nodes`, whose cyclic order
names the cell it faces out of; reading matches facets to cells by their corners and
uses that order to pick the side of an interior facet.
"""
from __future__ import annotations

import logging
from pathlib import Path

import meshio
import numpy as np

from ._ids import describe_ids
from ._reading import meshio_read
from .cell_types import CELL_TYPES, CellType, cell_type as _lookup, from_meshio_name
from .coincident import find_coincident, report_coincident
from .mesh import Mesh
from .topology import match_facets, row_ids
from ..errors import InputError, MeshError

__all__ = ["read", "write"]

log = logging.getLogger("femopt.mesh")

_PREFIX = {"node": "node_tag:", "facet": "facet_tag:", "cell": "cell_tag:"}
_FACET_BITS = "facet_bits:"
_XDMF = (".xdmf", ".xmf")
# Coordinates along an axis that vary by less than this, relative to the largest extent
# or coordinate, count as constant (a flat mesh written with round-off in z).
_FLAT_RTOL = 1e-12


def read(path, cell_type=None, *, merge_coincident: bool = False) -> Mesh:
    """Read a mesh file through meshio.

    The cells are the blocks of the highest-dimensional supported cell type (or of
    ``cell_type``), merged; a cell listed twice (Gmsh lists an element once per physical
    group) becomes one cell. Gmsh physical groups and femopt's indicator arrays become
    tags (see the module docstring). Nodes are kept as in the file, unused ones too, so
    that point data read elsewhere stays aligned (unless ``merge_coincident`` removes some).

    Points of 2D cells that all share one z (a flat mesh away from z = 0), and of 1D
    cells that lie on the x axis, lose their constant coordinates. Cells of a lower
    dimension than their points (a surface in 3D, curves only) are refused unless
    ``cell_type`` asks for them: usually the file lacks its area or volume cells.

    Args:
        path: the file; meshio picks the format from the extension.
        cell_type: the cell type to read (femopt or meshio name) when the file holds
            several of the same dimension.
        merge_coincident: weld distinct nodes at one position (see
            :meth:`Mesh.merge_coincident`); by default they give a
            :class:`~femopt.mesh.coincident.CoincidentNodesWarning` naming the file.

    Raises:
        InputError: unreadable file (missing, a directory, empty, unknown extension,
            truncated or corrupt; the message names the file and the expected format),
            Gmsh elements that refer to undefined nodes, no supported cells, several
            candidate cell types, cells of a lower dimension than the points, or tagged
            facets that are not facets of any cell.
        MeshError: the cells fail :class:`Mesh` validation (e.g. inverted cells), or
            merging makes a cell list a node twice.
    """
    path = Path(path)
    raw = meshio_read(path)
    blocks = [(block.type, np.asarray(block.data, dtype=np.int64)) for block in raw.cells]
    ctype = _pick_cell_type(blocks, cell_type, path)
    cells, offsets, cell_of_row = _merge_volume_blocks(blocks, ctype, len(raw.points), path)
    found = _collect_tags(raw, blocks, ctype, offsets, cell_of_row)
    facet_tags = {}
    for name, parts in found["facet"].items():
        facet_rows = np.concatenate(parts)
        facets = match_facets(cells, ctype, len(raw.points), facet_rows)
        missing = np.flatnonzero(facets[:, 0] < 0)
        if missing.size:
            raise InputError(f"{str(path)!r}: {missing.size} element(s) of facet tag {name!r} "
                             f"are not facets of any {ctype.name} cell, nodes "
                             f"{describe_ids(facet_rows[missing[0]])} first")
        facet_tags[name] = facets
    points = _flattened(np.asarray(raw.points), cells, ctype, path, explicit=cell_type is not None)
    try:
        mesh = Mesh(points, cells, ctype, facet_tags=facet_tags, coincident="ignore",
                    node_tags={k: np.concatenate(v) for k, v in found["node"].items()},
                    cell_tags={k: np.concatenate(v) for k, v in found["cell"].items()})
        if merge_coincident:
            mesh = mesh.merge_coincident()
    except MeshError as error:
        raise MeshError(f"{str(path)!r}: {error}", cells=error.cells) from None
    if not merge_coincident:
        report_coincident(*find_coincident(mesh.points, mesh.cells, ctype), "warn", where=repr(str(path)))
    if "gmsh:physical" in raw.cell_data:
        for name in [n for n, f in mesh.facet_tags.items() if n not in mesh.node_tags and len(f)]:
            mesh = mesh.tag_nodes(name, name)
    unused = mesh.n_nodes - len(np.unique(mesh.cells))
    if unused:
        log.warning("%s: %d node(s) belong to no %s cell", path, unused, ctype.name)
    return mesh


def _flattened(points: np.ndarray, cells: np.ndarray, ctype: CellType, path, explicit: bool):
    """Drop trailing coordinates that are constant over the used nodes (beyond the cell
    dimension); refuse cells of a lower dimension than the points unless ``explicit``."""
    if points.ndim != 2 or points.shape[1] <= ctype.dim:
        return points
    used = np.unique(cells)
    if used.size == 0 or used[-1] >= len(points) or not np.all(np.isfinite(points[used])):
        return points  # Mesh names the bad cells or nodes
    spread = np.ptp(points[used], axis=0)
    scale = max(float(spread.max()), float(np.abs(points[used]).max()))
    keep = points.shape[1]
    while keep > ctype.dim and spread[keep - 1] <= _FLAT_RTOL * scale:
        keep -= 1
    if keep > ctype.dim and not explicit:
        raise InputError(
            f"{str(path)!r}: its highest-dimensional cells are {ctype.name} ({ctype.dim}D) but "
            f"their nodes span {keep}D (coordinate ranges {spread.tolist()}); femopt solves on "
            f"cells of the full dimension, so the file probably lacks its "
            f"{'area or volume' if ctype.dim == 1 else 'volume'} cells (in Gmsh, put them in a "
            f"physical group or set Mesh.SaveAll = 1). Pass cell_type={ctype.name!r} to read "
            "these cells anyway")
    if keep < points.shape[1] and np.any(points[used[0], keep:] != 0.0):
        log.info("%s: coordinates %d.. of the %s nodes are constant, %s; dropped", path, keep,
                 ctype.name, points[used[0], keep:].tolist())
    return points if keep == points.shape[1] else np.ascontiguousarray(points[:, :keep])


def _merge_volume_blocks(blocks, ctype: CellType, n_points: int, path):
    """Concatenate the blocks of ``ctype``; a cell listed twice (same nodes) becomes one.

    Returns:
        cells ``(n_cells, n_nodes_per_cell)``, ``{block index: first row}``, and the cell
        id of every concatenated row.
    """
    volume = [i for i, (name, _) in enumerate(blocks) if from_meshio_name(name) is ctype]
    offsets = dict(zip(volume, np.cumsum([0] + [len(blocks[i][1]) for i in volume])))
    rows = np.concatenate([blocks[i][1] for i in volume])
    if rows.size and (rows.min() < 0 or rows.max() >= n_points):
        bad = np.flatnonzero(np.any((rows < 0) | (rows >= n_points), axis=1))
        raise InputError(f"{str(path)!r}: {bad.size} {ctype.meshio_name} cell(s) refer to node "
                         f"ids the file does not define (it has {n_points} points, ids 0.."
                         f"{n_points - 1}): cells {describe_ids(bad)} in file order")
    ids = row_ids(np.sort(rows, axis=1), n_points)
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first)  # distinct cells in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rows[first[order]], offsets, rank[inverse.ravel()]


def _collect_tags(raw: meshio.Mesh, blocks, ctype: CellType, offsets, cell_of_row) -> dict:
    """Gmsh physical groups and femopt indicator arrays, as
    ``{"node" | "facet" | "cell": {name: [node ids | facet node rows | cell ids, ...]}}``."""
    found = {"node": {}, "facet": {}, "cell": {}}

    def add(kind, name, values):
        prefix = f"{kind}:"  # written by _gmsh_blocks where kinds share a name
        name = name[len(prefix):] if name.startswith(prefix) else name
        found[kind].setdefault(name, []).append(values)

    def block_kind(i, name):
        if i in offsets:
            return "cell"
        block_dim = 0 if name == "vertex" else getattr(from_meshio_name(name), "dim", None)
        if block_dim == ctype.dim - 1 and block_dim > 0:
            return "facet"
        return "node" if name == "vertex" else None

    def rows_of(kind, i, selected):
        if kind == "cell":
            return cell_of_row[offsets[i] + selected]
        if kind == "facet":
            return blocks[i][1][selected]
        return np.unique(blocks[i][1][selected])

    physical = raw.cell_data.get("gmsh:physical")
    if physical is not None:
        names = {(int(dim), int(tag)): name for name, (tag, dim) in
                 ((n, np.asarray(v).ravel()[:2]) for n, v in raw.field_data.items())}
        for i, (name, _) in enumerate(blocks):
            kind = block_kind(i, name)
            if kind is None:
                continue
            dim = {"cell": ctype.dim, "facet": ctype.dim - 1, "node": 0}[kind]
            groups = np.asarray(physical[i]).ravel()
            for tag in np.unique(groups[groups > 0]):
                label = names.get((dim, int(tag)), f"physical_{int(tag)}")
                add(kind, label, rows_of(kind, i, np.flatnonzero(groups == tag)))
    table = np.array(ctype.facets, dtype=np.int64)
    for key, per_block in raw.cell_data.items():
        if key.startswith(_FACET_BITS):  # XDMF: bit f of a cell's value = its local facet f
            for i in offsets:
                bits = np.asarray(per_block[i]).ravel().astype(np.int64)
                for local in range(ctype.n_facets):
                    selected = np.flatnonzero((bits >> local) & 1)
                    add("facet", key[len(_FACET_BITS):], blocks[i][1][selected][:, table[local]])
        for kind in ("cell", "facet"):
            if key.startswith(_PREFIX[kind]):
                for i, (name, _) in enumerate(blocks):
                    if block_kind(i, name) == kind:
                        selected = np.flatnonzero(np.asarray(per_block[i]).ravel())
                        add(kind, key[len(_PREFIX[kind]):], rows_of(kind, i, selected))
    for key, values in raw.point_data.items():
        if key.startswith(_PREFIX["node"]):
            add("node", key[len(_PREFIX["node"]):], np.flatnonzero(np.asarray(values).ravel()))
    return found


def _pick_cell_type(blocks, wanted, path) -> CellType:
    present = {from_meshio_name(name) for name, _ in blocks} - {None}
    listing = sorted({f"{name} ({len(data)})" for name, data in blocks})
    if wanted is not None:
        try:
            ctype = _lookup(wanted)
        except ValueError as error:
            raise InputError(str(error)) from None
        if ctype not in present:
            raise InputError(f"{str(path)!r} has no {ctype.name} ({ctype.meshio_name}) cells; "
                             f"cell blocks found: {listing}")
        return ctype
    if not present:
        raise InputError(f"{str(path)!r} has no cells of a supported type; cell blocks found: "
                         f"{listing or 'none'}; femopt supports {sorted(CELL_TYPES)}. A file "
                         "of points or vertices only usually lacks its area or volume cells "
                         "(in Gmsh, put them in a physical group or set Mesh.SaveAll = 1)")
    top = max(c.dim for c in present)
    candidates = sorted(c.name for c in present if c.dim == top)
    if len(candidates) > 1:
        raise InputError(f"{str(path)!r} mixes cell types {candidates}; a Mesh holds one: pass "
                         f"cell_type= to pick one")
    return CELL_TYPES[candidates[0]]


def write(path, mesh: Mesh, point_data=None, cell_data=None) -> None:
    """Write a mesh, its tags and fields through meshio (format from the extension).

    Args:
        path: the file. ``.msh`` is written as Gmsh MSH 2.2 ASCII, mesh and tags only
            (no fields).
        mesh: the mesh.
        point_data: ``{name: (n_nodes,) or (n_nodes, k)}``; 2-vectors on a 2D mesh are
            padded to 3 components so that ParaView can warp by them.
        cell_data: ``{name: (n_cells, ...)}`` for the cells (tagged facets written
            alongside get NaN, or 0 for integer data).

    Raises:
        InputError: wrongly shaped data, a data name that collides with the tag
            encoding, or a file meshio cannot write (the reason included).
    """
    if isinstance(path, Mesh) or not isinstance(mesh, Mesh):
        raise InputError(f"write(path, mesh, ...) takes the file first and the Mesh second, got "
                         f"{type(path).__name__} and {type(mesh).__name__}")
    path = Path(path)
    points = np.zeros((mesh.n_nodes, 3))
    points[:, : mesh.dim] = mesh.points
    point_data = _checked(point_data, mesh.n_nodes, "point_data", mesh.dim)
    cell_data = _checked(cell_data, mesh.n_cells, "cell_data", mesh.dim)
    gmsh = path.suffix.lower() == ".msh"
    encode = _gmsh_blocks if gmsh else _xdmf_blocks if path.suffix.lower() in _XDMF else _indicator_blocks
    if gmsh and (point_data or cell_data):
        # meshio 5.3 writes ASCII data sections as "np.float64(...)" under NumPy 2 and
        # misaligns element data of several blocks on reading: neither round-trips.
        raise InputError(f"cannot write fields to the Gmsh file {str(path)!r}: .msh holds the "
                         f"mesh and its tags only; write fields to a .vtu file")
    blocks, tag_cell_data, tag_point_data, field_data = encode(mesh)
    sizes = [len(data) for _, data in blocks]
    padded = {name: [values] + [_filler(values, n) for n in sizes[1:]]
              for name, values in cell_data.items()}
    raw = meshio.Mesh(points, blocks, point_data={**point_data, **tag_point_data},
                      cell_data={**padded, **tag_cell_data}, field_data=field_data)
    options = {"file_format": "gmsh22", "binary": False} if gmsh else {}
    try:
        meshio.write(path, raw, **options)
    except Exception as error:  # meshio raises many types (unknown format, missing h5py, ...)
        raise InputError(f"cannot write mesh file {str(path)!r}: {type(error).__name__}: {error}") from error


def _checked(data, n: int, what: str, dim: int) -> dict:
    out = {}
    for name, values in (data or {}).items():
        values = np.asarray(values)
        if not isinstance(name, str) or name.startswith(tuple(_PREFIX.values()) + (_FACET_BITS, "gmsh:")):
            raise InputError(f"{what} name {name!r} is not allowed (names starting with "
                             f"{sorted(_PREFIX.values()) + [_FACET_BITS]} or 'gmsh:' encode tags)")
        if values.ndim == 0 or values.shape[0] != n:
            raise InputError(f"{what}[{name!r}] must have {n} rows, got shape {values.shape}")
        if dim == 2 and values.ndim == 2 and values.shape[1] == 2:
            values = np.concatenate([values, np.zeros((n, 1), dtype=values.dtype)], axis=1)
        out[name] = values
    return out


def _filler(values: np.ndarray, n: int) -> np.ndarray:
    fill = np.nan if values.dtype.kind in "fc" else 0
    return np.full((n,) + values.shape[1:], fill, dtype=values.dtype)


def _facet_meshio_name(mesh: Mesh) -> str:
    return CELL_TYPES[mesh.cell_type.facet_type].meshio_name


def _indicator_blocks(mesh: Mesh, with_facets: bool = True):
    """Volume block plus one block of all tagged facets; 0/1 indicator arrays."""
    blocks = [(mesh.cell_type.meshio_name, mesh.cells)]
    tagged = [f for f in mesh.facet_tags.values() if len(f)] if with_facets else []
    facets = np.unique(np.concatenate(tagged), axis=0) if tagged else np.zeros((0, 2), np.int64)
    if len(facets):
        blocks.append((_facet_meshio_name(mesh), mesh.facet_nodes(facets)))
    sizes = [len(data) for _, data in blocks]
    cell_data = {}
    for name, ids in mesh.cell_tags.items():
        parts = [np.zeros(n, dtype=np.int32) for n in sizes]
        parts[0][ids] = 1
        cell_data[_PREFIX["cell"] + name] = parts
    for name, tag in (mesh.facet_tags if with_facets else {}).items():
        parts = [np.zeros(n, dtype=np.int32) for n in sizes]
        if len(tag):
            key = facets[:, 0] * mesh.cell_type.n_facets + facets[:, 1]
            parts[1][np.isin(key, tag[:, 0] * mesh.cell_type.n_facets + tag[:, 1])] = 1
        cell_data[_PREFIX["facet"] + name] = parts
    point_data = {}
    for name, ids in mesh.node_tags.items():
        indicator = np.zeros(mesh.n_nodes, dtype=np.int32)
        indicator[ids] = 1
        point_data[_PREFIX["node"] + name] = indicator
    return blocks, cell_data, point_data, {}


def _xdmf_blocks(mesh: Mesh):
    """The volume block only (meshio writes several blocks as an XDMF "Mixed" topology
    that its reader cannot read back); facet tags as per-cell bit masks."""
    blocks, cell_data, point_data, _ = _indicator_blocks(mesh, with_facets=False)
    for name, tag in mesh.facet_tags.items():
        bits = np.zeros(mesh.n_cells, dtype=np.int32)
        np.bitwise_or.at(bits, tag[:, 0], (1 << tag[:, 1]).astype(np.int32))
        cell_data[_FACET_BITS + name] = [bits]
    return blocks, cell_data, point_data, {}


def _gmsh_blocks(mesh: Mesh):
    """Volume block, then one block per tag, each a physical group."""
    blocks = [(mesh.cell_type.meshio_name, mesh.cells)]
    physical = [np.zeros(mesh.n_cells, dtype=np.int32)]
    field_data = {}

    def group(label, dim, meshio_name, data):
        tag = len(field_data) + 1
        field_data[label] = np.array([tag, dim])
        blocks.append((meshio_name, data))
        physical.append(np.full(len(data), tag, dtype=np.int32))

    for name, facets in mesh.facet_tags.items():
        if len(facets):
            group(name, mesh.cell_type.dim - 1, _facet_meshio_name(mesh), mesh.facet_nodes(facets))
    for name, ids in mesh.cell_tags.items():
        if len(ids):
            label = f"cell:{name}" if name in field_data else name
            group(label, mesh.cell_type.dim, mesh.cell_type.meshio_name, mesh.cells[ids])
    for name, ids in mesh.node_tags.items():
        facets = mesh.facet_tags.get(name)
        if facets is not None and len(facets) and np.array_equal(np.unique(mesh.facet_nodes(facets)), ids):
            continue  # reading derives it from the facet tag
        if len(ids):
            label = f"node:{name}" if name in field_data or f"cell:{name}" in field_data else name
            group(label, 0, "vertex", ids[:, None])
    cell_data = {"gmsh:physical": physical, "gmsh:geometrical": [p.copy() for p in physical]}
    return blocks, cell_data, {}, field_data
