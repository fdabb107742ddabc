"""Sphinx configuration: the Markdown pages of docs/ (MyST) and an API reference from the
docstrings (autodoc + napoleon for the Google style), built offline.

Build with ``python docs/build.py`` (see there). The API pages under ``docs/api/`` are
generated at every build from the ``__all__`` of each public subpackage (:func:`write_api_pages`),
so the reference lists exactly what a script can import; they are not kept in git.
"""
from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

import femopt  # noqa: E402

project = "femopt"
author = "femopt developers"
copyright = "femopt developers"
release = version = femopt.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# Offline: no intersphinx, no remote images; the default theme ships with Sphinx.
html_theme = "alabaster"
html_title = f"femopt {release}"
html_static_path: list[str] = []
# Files the pages name but do not embed (sensitivities.md: "docs/transient_bench.png").
html_extra_path = ["transient_bench.png"]
html_show_sourcelink = False
html_copy_source = False

# MyST: GitHub-style heading anchors so `page.md#a-heading` links resolve.
myst_heading_anchors = 3

# autodoc + napoleon (Google style: Args / Returns / Raises).
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "class"
autosummary_generate = False
autodoc_default_options = {"show-inheritance": True}
# Members inherited from Python's own types (Exception.with_traceback, tuple.count, ...) are
# noise; members inherited from femopt's classes (Problem's load verbs) are API. Given per
# autoclass directive: as a default, "inherited-members" would make automodule list members.
_BUILTIN_TYPES = sorted(name for name, obj in vars(builtins).items()
                        if isinstance(obj, type) and not name.startswith("_"))
CLASS_OPTIONS = ["   :members:", "   :inherited-members: " + ",".join(["object", *_BUILTIN_TYPES])]

# The public subpackages, in layer order: an object exported by several is documented at
# the first (its lowest layer) and linked from the others.
PACKAGES = ["femopt", "femopt.mesh", "femopt.fem", "femopt.physics", "femopt.assembly",
            "femopt.solvers", "femopt.problem", "femopt.functionals", "femopt.sensitivity",
            "femopt.design", "femopt.optimize", "femopt.calibration", "femopt.viz",
            "femopt.benchmarks"]
API = DOCS / "api"


def _public_names(module) -> list[str]:
    return [name for name in getattr(module, "__all__", []) if not name.startswith("_")]


def _homes() -> dict[int, str]:
    """Where each exported object is documented: the first subpackage (in layer order)
    exporting it, else the top level."""
    homes: dict[int, str] = {}
    for package in PACKAGES[1:] + PACKAGES[:1]:
        module = importlib.import_module(package)
        for name in _public_names(module):
            obj = getattr(module, name)
            if not inspect.ismodule(obj):
                homes.setdefault(id(obj), package)
    return homes


def _directive(obj) -> list[str]:
    if inspect.isclass(obj):
        return ["autoclass", *CLASS_OPTIONS]
    if inspect.isroutine(obj) or callable(obj):
        return ["autofunction"]
    # A constant: its value when short (a name, a tuple of names), else only its type.
    short = isinstance(obj, (str, int, float, tuple)) and len(repr(obj)) <= 80
    typed = ["   :no-value:", f"   :annotation: : {type(obj).__name__}"]
    return ["autodata"] + ([] if short else typed)


def _title(text: str) -> str:
    return f"{text}\n{'=' * len(text)}\n"


def api_page(package: str, homes: dict[int, str]) -> str:
    """The reST source of one package's API page."""
    module = importlib.import_module(package)
    lines = [_title(f"``{package}``"), f".. automodule:: {package}", "",
             f".. currentmodule:: {package}", ""]
    names = _public_names(module)
    if not hasattr(module, "__all__"):
        # A package without __all__ (benchmarks): its public modules, each by its own __all__.
        for info in pkgutil.iter_modules(module.__path__):
            if not info.name.startswith("_"):
                lines += [_title(f"``{package}.{info.name}``").replace("=", "-"),
                          f".. automodule:: {package}.{info.name}", "   :members:", ""]
        return "\n".join(lines)
    subpackages = [n for n in names if inspect.ismodule(getattr(module, n, None))]
    objects = [n for n in names if n not in subpackages and hasattr(module, n)]
    if subpackages:
        lines += ["Subpackages: " + ", ".join(f":mod:`{package}.{n}`" for n in subpackages), ""]
    if objects:
        lines += [".. autosummary::", "   :nosignatures:", ""] + [f"   {n}" for n in objects] + [""]
    elsewhere = [n for n in objects if homes.get(id(getattr(module, n))) != package]
    if elsewhere:
        lines += ["Also exported here, documented with their own layer: "
                  + ", ".join(f":obj:`{n} <{homes[id(getattr(module, n))]}.{n}>`"
                              for n in elsewhere) + ".", ""]
    for name in objects:
        obj = getattr(module, name)
        if homes.get(id(obj)) == package:
            directive, *options = _directive(obj)
            lines += [f".. {directive}:: {name}", *options, ""]
    return "\n".join(lines)


def _write_if_changed(path: Path, text: str) -> None:
    # Unchanged sources keep their mtime, so Sphinx does not re-read them.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_api_pages(app=None) -> None:
    """Write docs/api/index.rst and one page per package of :data:`PACKAGES`."""
    API.mkdir(exist_ok=True)
    homes = _homes()
    index = [_title("API reference"),
             "Every name a script can import, by layer: each page documents the ``__all__`` "
             "of one subpackage, with methods, properties and signatures.", "",
             ".. toctree::", "   :maxdepth: 1", ""] + [f"   {package}" for package in PACKAGES]
    pages = {"index.rst": "\n".join(index) + "\n"}
    pages.update({f"{package}.rst": api_page(package, homes) + "\n" for package in PACKAGES})
    for stale in set(p.name for p in API.glob("*.rst")) - set(pages):
        (API / stale).unlink()
    for name, text in pages.items():
        _write_if_changed(API / name, text)


def resolve_short_name(app, env, node, contnode):
    """Resolve a Python cross-reference that names an object by a path other than the one
    it is documented at (``~femopt.Mesh``, ``Mesh`` from another module, a private module
    path): the documented object whose dotted name ends like the target, closest to the
    referring module; unresolved when that is ambiguous."""
    if node.get("refdomain") != "py":
        return None
    from sphinx.util.nodes import make_refnode

    domain = env.get_domain("py")
    objtypes = set(domain.objtypes_for_role(node["reftype"]) or ())
    target = node["reftarget"].lstrip(".~")
    context = ".".join(filter(None, [node.get("py:module"), node.get("py:class")]))
    parts = target.split(".")
    # A dotted name outside femopt (np.linalg.norm) must not fall back on a femopt name.
    starts = range(len(parts)) if target.startswith("femopt.") or len(parts) == 1 else [0]
    for start in starts:
        suffix = ".".join(parts[start:])
        found = [(name, entry) for name, entry in domain.objects.items()
                 if (name == suffix or name.endswith("." + suffix))
                 and entry.objtype in objtypes and not entry.aliased]
        if not found:
            continue

        def closeness(item):
            name = item[0]
            shared = 0
            for a, b in zip(name.split("."), (context or target).split(".")):
                if a != b:
                    break
                shared += 1
            return shared

        best = max(closeness(item) for item in found)
        found = [item for item in found if closeness(item) == best]
        if len(found) != 1:
            return None
        name, entry = found[0]
        return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id,
                            contnode, name)
    return None


_LITERAL_DIRECTIVES = tuple(f".. {name}::" for name in ("code", "code-block", "sourcecode", "math",
                                                         "doctest", "testcode", "parsed-literal"))
_BAR_OR_ROLE = re.compile(r"(`[^`]*`)|\|")


def _literal_bars(line: str, in_code: bool) -> tuple[str, bool]:
    """``line`` with its bars outside code made literal; whether a ````code```` span is still
    open at its end (they may run over a line break)."""
    parts = line.split("``")
    for k, part in enumerate(parts):
        if (k % 2 == 1) == in_code:  # outside ``code``: keep `roles`, escape bars
            parts[k] = _BAR_OR_ROLE.sub(lambda m: m.group(1) or r"\|", part)
    return "``".join(parts), in_code != (len(parts) % 2 == 0)


def plain_docstring(app, what, name, obj, options, lines):
    """Read femopt's docstrings as they are written.

    * A constant has no docstring of its own; Python hands it its type's (``dict``'s), which
      is dropped.
    * Docstrings write math as plain text, ``|x|`` for a norm: in reST that is a
      substitution, so a bar outside code, literal blocks and tables is made literal.
    """
    if what == "data" and lines and obj.__doc__ == type(obj).__doc__:
        lines[:] = []
        return
    literal = None  # indentation of the paragraph that opened a literal block
    in_code = False  # inside a ``code`` span that began on an earlier line
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if not stripped:
            in_code = False
        if literal is not None:
            if not stripped or indent > literal:
                continue
            literal = None
        if stripped.endswith("::") and not stripped.startswith(".. ") \
                or stripped.startswith(_LITERAL_DIRECTIVES):
            literal = indent
        table_or_line_block = (stripped.startswith(("+", "| "))
                               or stripped[:1] == stripped[-1:] == "|")
        if not table_or_line_block and not stripped.startswith(">>>"):
            lines[i], in_code = _literal_bars(line, in_code)


def undocumented_methods(app, what, name, obj, skip, options):
    """List a class's public methods and properties even without a docstring: their
    signatures are API. (Plain attributes stay out: a class documents them in its
    docstring's Attributes section, and listing them again would describe them twice.)"""
    if not skip or what != "class" or name.startswith("_"):
        return None
    function = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
    module = getattr(function, "__module__", None) or ""
    if not (inspect.isroutine(function) and module.startswith("femopt")) or function.__doc__:
        return None
    owner = getattr(sys.modules.get(module), function.__qualname__.split(".")[0], None)
    if re.search(rf"^\s+{re.escape(name)}( \(.*\))?:", inspect.getdoc(owner) or "", re.M):
        return None  # a property the class docstring lists among its Attributes
    return False


def plain_signature(app, what, name, obj, options, signature, return_annotation):
    """A dataclass field made by a factory shows as ``<factory>``, which is no Python: ``...``."""
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "..."), return_annotation
    return None


def setup(app):
    app.connect("builder-inited", write_api_pages)
    app.connect("autodoc-process-docstring", plain_docstring)
    app.connect("autodoc-process-signature", plain_signature)
    app.connect("autodoc-skip-member", undocumented_methods)
    app.connect("missing-reference", resolve_short_name)
