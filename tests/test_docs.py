"""The code of every documentation page runs.

Every ```python block of every ``docs/*.md`` page and of the README is executed, the blocks of one page in
order in one namespace, in a fresh temporary folder (what they write lands there). A new
page is picked up by the glob. Code that is not meant to run (a shell command, printed
output) goes in a block of another language: ```bash, ```text.
"""
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [DOCS.parent / "README.md"]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```", flags=re.S | re.M)


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """``(line number of the block's first code line, code)`` of each python block."""
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, match.start(1)) + 1, match.group(1)) for match in FENCE.finditer(text)]


def test_pages_are_found():
    assert "guide.md" in {page.name for page in PAGES}
    assert python_blocks(DOCS / "guide.md")


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_code_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}"}
    for line, block in python_blocks(page):
        # padded with blank lines so that a traceback names the line of the .md file
        code = compile("\n" * (line - 1) + block, str(page), "exec")
        exec(code, namespace)
