"""The heat-sink and 3D-cantilever topology examples at their small sizes."""
import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["heat_sink", "cantilever_3d_topology"])
def test_small_run(name, tmp_path, monkeypatch):
    monkeypatch.setenv("FEMOPT_EXAMPLE_SIZE", "small")
    monkeypatch.chdir(tmp_path)
    out = load(name).main()
    objective = out["result"].history.objective
    assert objective[-1] < 0.6 * objective[0]
    assert out["volume_fraction"] <= (0.4 if name == "heat_sink" else 0.3) + 1e-3
    assert out["density"].min() >= -1e-12 and out["density"].max() <= 1 + 1e-12
    for suffix in (".vtu", ".png"):
        assert (tmp_path / "femopt-output" / f"{name}{suffix}").stat().st_size > 0
