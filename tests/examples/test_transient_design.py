"""The transient thermal design example: its small run lowers the time-integrated
temperature of the component well below the uniform start's and the steady design's,
within the volume, and writes its outputs; a checkpointed transient optimization resumed
part-way ends bitwise equal to the uninterrupted run (as the steady ones do)."""
import numpy as np
from example_loader import load


def test_small_run(tmp_path, monkeypatch):
    monkeypatch.setenv("FEMOPT_EXAMPLE_SIZE", "small")
    monkeypatch.chdir(tmp_path)
    out = load("transient_design").main()
    assert out["objective"] < 0.5 * out["objective_uniform"]
    # the transient design is better in its own objective than the steady design, which
    # in turn is better at the steady (time-averaged) load
    assert out["objective"] < 0.95 * out["steady"]["objective"]
    assert out["steady"]["mean_temperature"] < out["mean_temperature"]
    assert out["volume_fraction"] <= 0.3 + 1e-3
    assert out["density"].min() >= -1e-12 and out["density"].max() <= 1 + 1e-12
    hot_spot = out["hot_spot"]
    assert hot_spot["transient design"].max() < 0.6 * hot_spot["uniform"].max()
    for suffix in (".vtu", ".png"):
        assert (tmp_path / "femopt-output" / f"transient_design{suffix}").stat().st_size > 0


def test_checkpointed_run_resumes_bitwise(tmp_path, monkeypatch):
    """Killed after 3 iterations, resumed to 6 (evaluating only iterations 3 to 5): the
    design and the history are those of the uninterrupted 6-iteration run, bit for bit,
    across steps of the penalty continuation (p = 1, 1.5, 2.25 every two iterations)."""
    example = load("transient_design")
    gradients = []
    transient_gradient = example.fo.transient_gradient

    def counted(functional, transient, wrt=None, **kwargs):
        if wrt:
            gradients.append(1)
        return transient_gradient(functional, transient, wrt, **kwargs)

    monkeypatch.setattr(example.fo, "transient_gradient", counted)

    def run(name, iterations, **kwargs):
        return example.run(n=12, steps=10, every=2, max_iterations=iterations, tol_change=0.0, compare_steady=False,
                           checkpoint=tmp_path / name, output_dir=None, **kwargs)["result"]

    full = run("full.npz", 6)
    killed = run("killed.npz", 3)
    gradients.clear()
    resumed = run("killed.npz", 6, resume=True)
    assert len(gradients) == 3
    assert killed.iterations == 3 and resumed.iterations == full.iterations == 6
    np.testing.assert_array_equal(resumed.x, full.x)
    np.testing.assert_array_equal(resumed.history.objective, full.history.objective)
    np.testing.assert_array_equal(resumed.history.constraints, full.history.constraints)
    np.testing.assert_array_equal(resumed.history.objective[:3], killed.history.objective)
