"""The code of docs/sensitivities.md runs (its blocks share one namespace, in order) and
its claims hold."""
import re
from pathlib import Path

import numpy as np

PAGE = Path(__file__).resolve().parents[2] / "docs" / "sensitivities.md"


def test_sensitivities_page_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) >= 5
    namespace = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    assert namespace["result"].passed                          # the Taylor test
    assert namespace["g"]["E"].shape == (namespace["mesh"].n_cells,)
    np.testing.assert_allclose(namespace["fit"].x, [1.5], rtol=1e-6)   # the calibration
