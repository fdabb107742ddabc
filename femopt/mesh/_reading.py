"""Opening a mesh file through meshio with femopt errors (private).

meshio fails on a bad file in many ways: ``ReadError``, ``ValueError``, ``IndexError``,
``KeyError``, XML ``ParseError``, ``UnicodeDecodeError``, a ``SystemExit`` after printing
to stdout. :func:`meshio_read` checks what it can before calling meshio (the file exists,
is a file, is not empty, has an extension meshio knows) and turns every failure into an
:class:`InputError` that names the file, the format it was read as and meshio's reason.

Gmsh files number nodes from 1, and meshio maps an element's node ids through a lookup
table, so a node id 0 (a file written 0-based) silently wraps around to the last node.
ASCII Gmsh files are therefore scanned first (:func:`gmsh_undefined_nodes`) for elements
that refer to node ids the ``$Nodes`` section does not define.
"""
from __future__ import annotations

from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import meshio
import numpy as np

from ._ids import describe_ids
from ..errors import InputError

__all__ = ["meshio_read", "gmsh_undefined_nodes"]

_FORMAT_NAMES = {"gmsh": "Gmsh MSH", "ansys": "ANSYS MSH", "vtu": "VTK XML (.vtu)",
                 "vtk": "legacy VTK", "xdmf": "XDMF", "abaqus": "Abaqus INP", "med": "MED",
                 "medit": "Medit", "nastran": "Nastran", "exodus": "Exodus"}


def _extension_formats(path: Path) -> list[str]:
    """meshio's formats for the file's extension ('.vol.gz' too); empty if unknown."""
    known = meshio.extension_to_filetypes
    formats, ext = [], ""
    for suffix in reversed(path.suffixes):
        ext = (suffix + ext).lower()
        formats += known.get(ext, [])
    return formats


def meshio_read(path: Path) -> meshio.Mesh:
    """``meshio.read(path)``, with every failure an :class:`InputError` naming the file.

    Raises:
        InputError: missing file, a directory, an empty file, an unknown extension, a
            Gmsh element referring to an undefined node, or a file meshio cannot parse.
    """
    where = f"cannot read mesh file {str(path)!r}"
    if not path.exists():
        broken = " (a symbolic link to a missing file)" if path.is_symlink() else ""
        raise InputError(f"{where}: no such file{broken}")
    if path.is_dir():
        raise InputError(f"{where}: it is a directory; expected a mesh file")
    formats = sorted(_extension_formats(path), key=lambda f: f != "gmsh")  # Gmsh before ANSYS
    if not formats:
        raise InputError(f"{where}: unknown extension {''.join(path.suffixes) or '(none)'!r}; "
                         "the extension picks the format: .msh (Gmsh), .vtu or .vtk (VTK), "
                         ".xdmf, .inp (Abaqus), .med, .mesh (Medit), .e (Exodus) or another of "
                         "meshio's (meshio.extension_to_filetypes)")
    expected = " or ".join(_FORMAT_NAMES.get(f, f) for f in formats)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InputError(f"{where}: {error.strerror or error}") from None
    if size == 0:
        raise InputError(f"{where}: the file is empty (0 bytes); expected {expected} data")
    if "gmsh" in formats:
        undefined = gmsh_undefined_nodes(path)
        if undefined:
            raise InputError(f"{where}: {undefined}")
    chatter = StringIO()
    try:
        # meshio prints its reasons and calls sys.exit when no reader fits the file.
        with redirect_stdout(chatter), redirect_stderr(chatter):
            raw = meshio.read(path)
    except (Exception, SystemExit) as error:
        said = " ".join(chatter.getvalue().split())
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if isinstance(error, (PermissionError, IsADirectoryError)):
            raise InputError(f"{where}: {error.strerror or error}") from None
        raise InputError(f"{where} as {expected}: the file is truncated, corrupt or in another "
                         f"format (meshio: {said or reason})") from None
    points = np.asarray(raw.points)
    if points.ndim != 2 or points.shape[1] not in (1, 2, 3) or points.dtype.kind not in "fiu":
        raise InputError(f"{where}: expected (n, 2) or (n, 3) numeric point coordinates, meshio "
                         f"read an array of shape {points.shape} and dtype {points.dtype}")
    return raw


def _section(lines, name: str):
    """The lines between ``$name`` and ``$Endname`` (stripped), or None."""
    try:
        start = lines.index(f"${name}")
        end = lines.index(f"$End{name}", start)
    except ValueError:
        return None
    return lines[start + 1:end]


def gmsh_undefined_nodes(path: Path) -> str | None:
    """For an ASCII Gmsh file (MSH 2 or 4.1): a description of the elements that refer to
    node ids the ``$Nodes`` section does not define, or of node ids below 1; else None
    (also for binary files and files that are not Gmsh's, which meshio judges)."""
    with open(path, "rb") as handle:
        stripped = [line.strip() for line in handle.read(4096).decode("latin-1").split("\n")]
        if "$MeshFormat" not in stripped[:50]:
            return None
        at = stripped.index("$MeshFormat")
        fields = stripped[at + 1].split() if at + 1 < len(stripped) else []
        if len(fields) < 2 or fields[1] != "0" or not (fields[0][:2] == "2." or fields[0] == "4.1"):
            return None
        handle.seek(0)
        lines = [line.strip() for line in handle.read().decode("latin-1").split("\n")]
    nodes, elements = _section(lines, "Nodes"), _section(lines, "Elements")
    if nodes is None or elements is None:
        return None  # meshio reports the missing section
    try:
        if fields[0] == "4.1":
            defined, rows = _gmsh4_nodes(nodes), _gmsh4_elements(elements)
        else:
            defined, rows = _gmsh2_nodes(nodes), _gmsh2_elements(elements)
        bad_elements, bad_nodes = _undefined(np.unique(defined), rows)
    except (ValueError, IndexError):
        return None  # malformed: meshio reports it
    if defined.size and defined.min() < 1:
        return (f"node ids must be >= 1 in a Gmsh file, found node id {int(defined.min())} in "
                "$Nodes (was the file written with 0-based ids?)")
    if not bad_elements.size:
        return None
    extent = f"{int(defined.min())}..{int(defined.max())}" if defined.size else "none"
    return (f"{bad_elements.size} element(s) refer to node ids that $Nodes does not define: "
            f"element ids {describe_ids(bad_elements)}, node ids {describe_ids(bad_nodes)}; "
            f"$Nodes defines {defined.size} nodes, ids {extent}")


def _undefined(defined: np.ndarray, rows, chunk: int = 1 << 16):
    """Element ids and node ids of the references (``rows`` yields ``(element id, node
    ids)``) missing from the sorted ``defined``; worked through in chunks."""
    bad_elements, bad_nodes, refs, owners = [], [], [], []

    def flush():
        ref, owner = np.array(refs, dtype=np.int64), np.array(owners, dtype=np.int64)
        where = np.minimum(np.searchsorted(defined, ref), max(defined.size - 1, 0))
        missing = (defined[where] != ref) if defined.size else np.ones(ref.size, dtype=bool)
        bad_elements.append(np.unique(owner[missing]))
        bad_nodes.append(np.unique(ref[missing]))
        refs.clear()
        owners.clear()

    for element, ids in rows:
        refs.extend(ids)
        owners.extend([element] * len(ids))
        if len(refs) > chunk:
            flush()
    flush()
    return np.unique(np.concatenate(bad_elements)), np.unique(np.concatenate(bad_nodes))


def _gmsh2_nodes(nodes) -> np.ndarray:
    """MSH 2 ``$Nodes``: ``n``, then ``tag x y z`` lines."""
    return np.array([int(line.split(None, 1)[0]) for line in nodes[1:1 + int(nodes[0])]],
                    dtype=np.int64)


def _gmsh2_elements(elements):
    """MSH 2 ``$Elements``: ``n``, then ``id type n_tags tags... node ids`` lines."""
    for line in elements[1:1 + int(elements[0])]:
        values = [int(v) for v in line.split()]
        yield values[0], values[3 + values[2]:]


def _gmsh4_nodes(nodes) -> np.ndarray:
    """MSH 4.1 ``$Nodes``: blocks of ``dim tag parametric n``, n tag lines, n coordinate lines."""
    defined, row = [], 1
    for _ in range(int(nodes[0].split()[0])):
        count = int(nodes[row].split()[3])
        defined.append(np.array([int(v) for v in nodes[row + 1:row + 1 + count]], dtype=np.int64))
        row += 1 + 2 * count
    return np.concatenate(defined) if defined else np.zeros(0, dtype=np.int64)


def _gmsh4_elements(elements):
    """MSH 4.1 ``$Elements``: blocks of ``dim tag type n``, then n ``id node ids`` lines."""
    row = 1
    for _ in range(int(elements[0].split()[0])):
        count = int(elements[row].split()[3])
        for line in elements[row + 1:row + 1 + count]:
            values = [int(v) for v in line.split()]
            yield values[0], values[1:]
        row += 1 + count
