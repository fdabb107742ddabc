"""Build the documentation offline: the Markdown pages of docs/ and an API reference
generated from docstrings, as static HTML in docs/_build/.

    pip install -e ".[docs]" && python docs/build.py        # then open docs/_build/index.html

The API reference lists, for every public subpackage, the names in its ``__all__`` with
their signatures and docstrings — so it is exactly what a script can import.
"""
from __future__ import annotations

import html
import importlib
import inspect
import sys
from pathlib import Path

from markdown_it import MarkdownIt

DOCS = Path(__file__).resolve().parent
OUT = DOCS / "_build"
PACKAGES = ["femopt", "femopt.mesh", "femopt.fem", "femopt.physics", "femopt.assembly",
            "femopt.solvers", "femopt.functionals", "femopt.sensitivity", "femopt.design",
            "femopt.optimize", "femopt.calibration", "femopt.viz", "femopt.benchmarks"]
STYLE = ("body{font-family:sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45}"
         "pre,code{background:#f4f4f4}pre{padding:.6rem;overflow-x:auto}"
         "nav a{margin-right:1rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}")


def page(title: str, body: str, nav: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><nav>{nav}</nav>{body}</body></html>")


def api_section(module_name: str) -> str:
    module = importlib.import_module(module_name)
    parts = [f"<h1>{module_name}</h1><pre>{html.escape(inspect.getdoc(module) or '')}</pre>"]
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name, None)
        if obj is None or inspect.ismodule(obj):
            continue
        try:
            signature = str(inspect.signature(obj)) if callable(obj) else ""
        except (TypeError, ValueError):
            signature = ""
        kind = "class" if inspect.isclass(obj) else "def" if callable(obj) else ""
        doc = inspect.getdoc(obj) or "" if (inspect.isclass(obj) or callable(obj)) else repr(obj)
        parts.append(f"<h3 id='{name}'><code>{kind} {name}{html.escape(signature)}</code></h3>"
                     f"<pre>{html.escape(doc)}</pre>")
    return "\n".join(parts)


def main() -> int:
    sys.path.insert(0, str(DOCS.parent))
    OUT.mkdir(exist_ok=True)
    md = MarkdownIt("commonmark").enable("table")
    pages = sorted(DOCS.glob("*.md"))
    nav = "".join(f"<a href='{p.stem}.html'>{p.stem}</a>" for p in pages) + "<a href='api.html'>API</a>"
    for p in pages:
        (OUT / f"{p.stem}.html").write_text(page(p.stem, md.render(p.read_text()), nav))
    api = "\n<hr>\n".join(api_section(name) for name in PACKAGES)
    (OUT / "api.html").write_text(page("API reference", api, nav))
    index = DOCS.parent / "README.md"
    (OUT / "index.html").write_text(page("femopt", md.render(index.read_text()), nav))
    print(f"wrote {len(pages) + 2} pages to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
