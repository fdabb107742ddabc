"""Build the documentation offline with Sphinx: the Markdown pages of docs/ (MyST) and an
API reference generated from the docstrings (autodoc + napoleon), as HTML in docs/_build/html.

    pip install -e ".[docs]" && python docs/build.py        # then open docs/_build/html/index.html

The API reference documents, for every public subpackage, the names in its ``__all__`` with
their methods, properties, signatures and cross-links — exactly what a script can import
(the pages are generated at each build by ``write_api_pages`` in docs/conf.py).

Options: ``--out DIR`` (default docs/_build/html), ``--warnings FILE`` (also write Sphinx's
warnings there), ``--clean`` (rebuild every page, not only the changed ones). Nothing is
fetched from the network.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
OUT = DOCS / "_build" / "html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="HTML output folder")
    parser.add_argument("--warnings", type=Path, help="write Sphinx's warnings to this file")
    parser.add_argument("--clean", action="store_true", help="rebuild every page")
    args = parser.parse_args(argv)
    try:
        from sphinx.cmd.build import build_main
    except ImportError:
        print("the docs need Sphinx and MyST: pip install -e \".[docs]\"", file=sys.stderr)
        return 2
    out = args.out.resolve()
    # Doctrees beside the HTML, so a build into a temporary folder leaves docs/ untouched.
    options = ["-b", "html", "-q", "-j", "1", "-d", str(out.parent / f"{out.name}.doctrees")]
    if args.warnings:
        options += ["-w", str(args.warnings)]
    if args.clean:
        options += ["-E"]
    status = build_main([*options, str(DOCS), str(out)])
    if status == 0:
        print(f"wrote {out / 'index.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
