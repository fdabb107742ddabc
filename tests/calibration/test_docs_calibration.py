"""The code of docs/calibration.md runs and its MAP point is one: the gradient vanishes
and the 95 % intervals hold the MAP values."""
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "calibration.md"


def test_calibration_page_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S):
        exec(compile(block, str(PAGE), "exec"), namespace)
    best, posterior = namespace["best"], namespace["posterior"]
    assert best.success and best.gradient_norm < 1e-5
    for (low, high), value in zip(posterior.interval(0.95), best.parameters.values()):
        assert low < value < high
