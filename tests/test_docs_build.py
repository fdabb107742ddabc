"""The documentation builds offline with Sphinx, and its API reference documents methods with
their signatures, resolves cross-links, ships every image it shows and raises no warning
from the docstrings."""
import html
import inspect
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# A warning about the API reference: from a docstring (autodoc, napoleon), a generated API
# page or the extensions. Warnings about the Markdown pages are the pages' own business.
API_SOURCES = (str(ROOT / "femopt") + os.sep, str(DOCS / "api") + os.sep, str(DOCS / "conf.py"))


def about_the_api(warning: str) -> bool:
    return warning.startswith(API_SOURCES) or any(word in warning for word in
                                                 ("docstring of", "autodoc", "autosummary"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("sphinx", reason="docs extra (sphinx) not installed")
    pytest.importorskip("myst_parser", reason="docs extra (myst-parser) not installed")
    out = tmp_path_factory.mktemp("docs")
    warnings = out / "warnings.txt"
    start = time.perf_counter()
    run = subprocess.run([sys.executable, str(DOCS / "build.py"), "--out", str(out / "html"),
                          "--warnings", str(warnings)], capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    assert run.returncode == 0, run.stdout + run.stderr
    lines = warnings.read_text().splitlines() if warnings.exists() else []
    print(f"docs built in {seconds:.1f} s with {len(lines)} warning line(s)")
    return out / "html", lines


def text(fragment: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", fragment).split()))


def signature_of(page: str, anchor: str) -> str:
    match = re.search(rf'<dt class="sig[^"]*" id="{re.escape(anchor)}">(.*?)</dt>', page, re.S)
    assert match, f"{anchor} is not documented"
    return text(match.group(1))


def test_problem_methods_have_signatures(built):
    from femopt import Problem

    page = (built[0] / "api" / "femopt.problem.html").read_text()
    for method in ("fix", "traction", "heat_source", "convection", "solve"):
        shown = signature_of(page, f"femopt.problem.Problem.{method}")
        assert shown.startswith(f"{method} ("), shown
        for parameter in list(inspect.signature(getattr(Problem, method)).parameters)[1:]:
            assert parameter in shown, (method, parameter, shown)


def test_every_public_name_is_documented(built):
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_conf", DOCS / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    pages = built[0] / "api"
    documented = " ".join(p.read_text() for p in pages.glob("*.html"))
    for package in conf.PACKAGES:
        module = importlib.import_module(package)
        assert (pages / f"{package}.html").exists(), package
        for name in getattr(module, "__all__", []):
            if name.startswith("_") or inspect.ismodule(getattr(module, name)):
                continue
            anchor = rf'id="femopt\.[\w.]*\b{re.escape(name)}"'
            assert re.search(anchor, documented), f"{package}.{name}"


def test_cross_links_resolve(built):
    out = built[0]
    api = out / "api"
    top = (api / "femopt.html").read_text()
    # The top level re-exports Problem: its entry links to the class on the problem page.
    assert 'href="femopt.problem.html#femopt.problem.Problem"' in top
    checked = 0
    for page in [out / "index.html", *api.glob("*.html")]:
        for target, anchor in re.findall(r'<a class="reference internal" href="([^"#]*)#([^"]+)"',
                                         page.read_text()):
            linked = (page.parent / target) if target else page
            assert linked.exists(), (page.name, target)
            assert f'id="{anchor}"' in linked.read_text(), (page.name, target, anchor)
            checked += 1
    assert checked > 100


def test_every_image_is_in_the_build(built):
    out = built[0]
    shown = 0
    for page in out.rglob("*.html"):
        for source in re.findall(r'<img[^>]*\ssrc="([^"]+)"', page.read_text()):
            if not source.startswith(("http:", "https:", "data:")):
                assert (page.parent / source).is_file(), (page.relative_to(out), source)
                shown += 1
    if "![" in (DOCS / "gallery.md").read_text():
        assert shown > 0
    if (DOCS / "transient_bench.png").exists():
        assert (out / "transient_bench.png").is_file()


def test_no_warnings_from_the_api_reference(built):
    api_warnings = [line for line in built[1] if about_the_api(line)]
    assert not api_warnings, "\n".join(api_warnings)
