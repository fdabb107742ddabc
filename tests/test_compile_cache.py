"""Compile once: the persistent compilation cache makes a second run of a script compile
nothing new, and FEMOPT_JAX_CACHE chooses or switches it off."""
import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, sys
from jax._src import monitoring
hits = []
monitoring.register_event_listener(lambda name, **kw: hits.append(name))
import jax
import femopt as fo
# Every compilation is written, however short: this test is about where the cache lives,
# not about femopt's 0.1 s threshold (on a busy machine a kernel compiles in 0.09 s or 0.11 s).
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
mesh = fo.mesh.rectangle(shape=(5, 3), cell="quad4")
problem = fo.Problem(mesh, fo.physics.HeatConduction())
problem.fix("xmin")
problem.heat_source(1.0)
problem.solve()
print(json.dumps({"dir": jax.config.jax_compilation_cache_dir,
                  "hits": sum("cache_hits" in h for h in hits)}))
"""


def run(cache):
    env = dict(os.environ, FEMOPT_JAX_CACHE=str(cache))
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_run_reads_the_cache(tmp_path):
    first = run(tmp_path)
    second = run(tmp_path)
    assert first["dir"] == str(tmp_path)
    assert any(tmp_path.iterdir())
    assert second["hits"] > first["hits"]


def test_cache_can_be_switched_off(tmp_path):
    assert not run("0")["dir"]
