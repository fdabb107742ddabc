"""The documentation builds offline and its API reference covers every public name."""
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_offline(tmp_path):
    pytest.importorskip("markdown_it", reason="docs extra (markdown-it-py) not installed")
    run = subprocess.run([sys.executable, str(ROOT / "docs" / "build.py")], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    api = (ROOT / "docs" / "_build" / "api.html").read_text()
    for name in importlib.import_module("femopt").__all__:
        if not name.startswith("_") and name not in ("viz", "design", "optimize", "calibration", "benchmarks"):
            assert f"id='{name}'" in api or name in ("assembly", "fem", "functionals", "mesh",
                                                      "physics", "sensitivity", "solvers"), name
