"""`femopt bench gpu` on a machine without a GPU: it runs on the CPU, says so, and its
matrix-free solve is checked against the CSR matrix assembled on the host."""
import json

import jax
import pytest

from femopt.benchmarks import gpu
from femopt.cli import main as cli_main


def _has_gpu():
    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


needs_no_gpu = pytest.mark.skipif(_has_gpu(), reason="checks what happens on a machine without a GPU")


@needs_no_gpu
@pytest.mark.parametrize("device", ["default", "both"])
def test_quick_run_reports_every_section_on_the_cpu(device, tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu.main(["--quick", "--device", device, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert {"devices", "note", "kernel", "matrix_free_apply", "matrix_free_solve", "table"} <= set(report)
    assert [d["platform"] for d in report["devices"]] == ["cpu"]
    assert report["devices"][0]["x64"] is True
    assert "no GPU found" in report["note"]
    for section, keys in (("kernel", ("compile_s", "kernel_s", "Mcells_per_s")),
                          ("matrix_free_apply", ("setup_s", "first_apply_s", "apply_s", "Mdofs_per_s")),
                          ("matrix_free_solve", ("iterations", "setup_s", "solve_s"))):
        assert report[section], section
        for row in report[section]:
            assert row["device"] == "cpu:0" and "error" not in row
            assert all(row[key] > 0 for key in keys), (section, row)
    (solve,) = report["matrix_free_solve"]
    assert solve["csr_residual"] < 1e-6 and solve["mf_residual"] < 1e-6
    printed = capsys.readouterr().out
    assert "cpu:0" in printed and "no GPU found" in printed and "M cells/s" in printed


@needs_no_gpu
def test_asking_for_a_gpu_without_one_exits_with_status_2(capsys):
    assert gpu.main(["--quick", "--device", "gpu"]) == 2
    assert "no GPU found" in capsys.readouterr().err
    assert cli_main(["bench", "gpu", "--device", "gpu"]) == 2
    assert "--device gpu, but no GPU found" in capsys.readouterr().err


def test_out_of_device_memory_is_reported_for_that_size_and_other_errors_propagate():
    def measure(error):
        yield {"kernel_s": 1.0}
        raise error

    base = {"shape": "9x9x9", "device": "gpu:0"}
    rows = gpu._guarded(lambda: measure(RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating")), base)
    assert rows[0] == dict(base, kernel_s=1.0)
    assert rows[1]["error"].startswith("out of memory: RESOURCE_EXHAUSTED")
    report = {"devices": [], "note": None, "kernel": rows, "matrix_free_apply": [], "matrix_free_solve": []}
    assert "9x9x9   gpu:0  out of memory" in gpu.format_tables(report)
    with pytest.raises(ValueError, match="a bug"):
        gpu._guarded(lambda: measure(ValueError("a bug")), base)


def test_speed_up_is_the_cpu_time_over_the_other_device_time_at_the_same_size():
    rows = [{"shape": "4x4x4", "chunk": 64, "device": "cpu:0", "kernel_s": 2.0},
            {"shape": "4x4x4", "chunk": 64, "device": "gpu:0", "kernel_s": 0.5},
            {"shape": "4x4x4", "chunk": 128, "device": "gpu:0", "kernel_s": 0.5}]
    gpu._add_speedups(rows, "kernel_s")
    assert "x_cpu" not in rows[0] and rows[1]["x_cpu"] == 4.0 and "x_cpu" not in rows[2]


_SECOND_DEVICE = """
import json
import jax
from femopt.assembly.assembler import Assembler
from femopt.benchmarks import gpu
from femopt.solvers.matrix_free import MatrixFreeOperator

stand_in = jax.devices("cpu")[1]
host = gpu._label
gpu._label = lambda device: "gpu:1" if device == stand_in else host(device)
gpu.select_devices = lambda choice: ([stand_in], None)
placed = {"kernel": set(), "apply": set()}   # ids of the devices that held the outputs

def recorded(name, fn):
    def call(*args):
        out = fn(*args)
        placed[name] |= {d.id for d in jax.tree_util.tree_leaves(out)[0].devices()}
        return out
    return call

kernel, apply = Assembler._kernel, MatrixFreeOperator.apply

def neo_hookean_kernel(self, block, *args, **kwargs):
    fn, rows = kernel(self, block, *args, **kwargs)   # the CSR check's own kernel runs on the host
    return (recorded("kernel", fn) if type(block.law).__name__ == "NeoHookean" else fn), rows

Assembler._kernel = neo_hookean_kernel
MatrixFreeOperator.apply = lambda self, x: recorded("apply", apply)(self, x)
report = gpu.run_gpu_benchmark([(2, 2, 2)], "gpu", repeat=1)
placed = {k: sorted(v) for k, v in placed.items()}
print(json.dumps(dict({k: report[k] for k in ("kernel", "matrix_free_apply", "matrix_free_solve")}, placed=placed)))
"""


def test_a_device_other_than_the_default_runs_every_section_and_is_compared_with_the_cpu(tmp_path):
    """Two host devices, the second labelled as a GPU: every section runs on it (inputs,
    operator and solve placed there, not on JAX's default device), and its product is
    compared with the one on the CPU."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", _SECOND_DEVICE], capture_output=True, text=True, env=env,
                         cwd=tmp_path, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    # the kernel's and the operator's outputs (the solve's Lanczos products too) on the stand-in only
    assert report.pop("placed") == {"kernel": [1], "apply": [1]}
    for section in report.values():
        assert [row["device"] for row in section] == ["gpu:1"] and "error" not in section[0]
    assert report["kernel"][0]["Mcells_per_s"] > 0
    assert report["matrix_free_apply"][0]["vs_cpu"] < 1e-12
    assert report["matrix_free_solve"][0]["csr_residual"] < 1e-6
