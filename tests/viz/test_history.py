"""The optimization history picture: both input layouts, panels for the keys present,
a non-blank PNG, and clear errors."""
import numpy as np
import pytest
from PIL import Image

import femopt as fo
import femopt.viz as viz

RECORDS = [{"objective": 10.0 / (k + 1), "constraints": [0.2 - 0.1 * k, -0.3], "change": 0.5**k}
           for k in range(6)]


def test_records_and_columns_give_the_same_arrays():
    columns = {key: [r[key] for r in RECORDS] for key in RECORDS[0]}
    a, b = viz.history_arrays(RECORDS), viz.history_arrays(columns)
    assert a.keys() == b.keys() == {"objective", "constraints", "change", "iteration"}
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert a["constraints"].shape == (6, 2)
    np.testing.assert_array_equal(a["iteration"], np.arange(6))


def test_history_png_is_drawn(tmp_path):
    path = tmp_path / "history.png"
    figure = viz.plot_history(RECORDS, screenshot=path, title="run",
                              constraint_names=["volume", "stress"])
    assert len(figure.axes) == 3
    assert figure.axes[2].get_yscale() == "log"  # the change spans decades
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(float)
    assert pixels.shape[:2] == (600, 700)
    assert pixels.std() > 20
    coloured = (pixels.max(axis=2) - pixels.min(axis=2)) > 80  # the coloured curves
    assert coloured.mean() > 0.002


def test_only_the_panels_present_are_drawn(tmp_path):
    figure = viz.plot_history({"objective": [3.0, 2.0, 1.5], "change": [1.0, 0.1, 0.01],
                               "iteration": [1, 2, 3]}, screenshot=tmp_path / "h.png")
    assert [ax.get_ylabel() for ax in figure.axes] == ["objective", "change"]


def test_malformed_histories_are_rejected(monkeypatch):
    with pytest.raises(fo.InputError, match="none of the keys"):
        viz.plot_history({"loss": [1.0, 2.0]}, screenshot="never.png")
    with pytest.raises(fo.InputError, match="lengths"):
        viz.plot_history({"objective": [1.0, 2.0], "change": [1.0]}, screenshot="never.png")
    with pytest.raises(fo.InputError, match="same count"):
        viz.plot_history({"constraints": [[1.0, 2.0], [1.0]]}, screenshot="never.png")
    with pytest.raises(fo.InputError, match="2 names for 1"):
        viz.plot_history({"constraints": [0.1, 0.0]}, constraint_names=["a", "b"],
                         screenshot="never.png")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(fo.InputError, match="screenshot="):
        viz.plot_history(RECORDS)
