"""The heat-sink and 3D-cantilever topology examples at their small sizes."""
import pytest
from example_loader import load


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
