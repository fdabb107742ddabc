"""The code of the "Material fields and regularization" section of docs/optimization.md
runs, and its calibration improves on the start."""
import re
from pathlib import Path

import numpy as np

PAGE = Path(__file__).resolve().parents[2] / "docs" / "optimization.md"


def section(text, heading):
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def test_regularization_section_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = section(PAGE.read_text(), "## Material fields and regularization")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    namespace = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    E, E_true = namespace["result"].x, namespace["E_true"]
    assert np.linalg.norm(E - E_true) < 0.75 * np.linalg.norm(1.0 - E_true)
    assert namespace["misfit_value"] > 0 and namespace["penalty_value"] > 0
