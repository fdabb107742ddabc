"""The code in the user guide runs (blocks of one page share a namespace, in order)."""
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(page):
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


@pytest.mark.parametrize("name", ["guide.md"])
def test_guide_code_runs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    blocks = python_blocks(DOCS / name)
    assert blocks
    for block in blocks:
        exec(compile(block, f"{name}", "exec"), namespace)
