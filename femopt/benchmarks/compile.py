"""Compile time against mesh size: ``femopt bench compile``.

Each size runs in a fresh Python process (nothing compiled in memory), as a
mesh-convergence study or a second run of a script would: one linear-elastic solve and
one compliance gradient on a quad9 square of ``n x n`` cells. Three columns per size:

* ``cold``: the persistent compilation cache off — what every first run pays;
* ``cached``: the same process again with the cache on and already filled (a second run);
* compile seconds as JAX reports them (``backend_compile`` events), and how many.

Usage::

    python -m femopt.benchmarks.compile [--sizes 8 16 17 32 64] [--cell quad9]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

__all__ = ["main", "measure"]

_CHILD = r"""
import json, sys, time
from jax._src import monitoring
events = []
monitoring.register_event_duration_secs_listener(lambda name, seconds, **kw: events.append((name, seconds)))
import femopt as fo
n, cell = int(sys.argv[1]), sys.argv[2]
t0 = time.perf_counter()
mesh = fo.mesh.rectangle(size=(1.0, 1.0), shape=(n, n), cell=cell)
problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
problem.fix("xmin")
problem.traction("xmax", [0.0, -1.0])
problem.solve()
solve = time.perf_counter() - t0
t1 = time.perf_counter()
fo.gradient(fo.functionals.compliance(), problem, wrt="E")
gradient = time.perf_counter() - t1
compiles = [s for name, s in events if "backend_compile" in name]
print(json.dumps({"solve": solve, "gradient": gradient, "compile": sum(compiles), "compiles": len(compiles)}))
"""


def _run(n, cell, cache):
    env = dict(os.environ, FEMOPT_JAX_CACHE=cache)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(n), cell], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(sizes, cell="quad9"):
    """Rows ``(n, cold, cached)``, each a dict of seconds (solve, gradient, compile) and
    the number of compilations."""
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for n in sizes:
            cold = _run(n, cell, "0")
            _run(n, cell, cache)                      # fill the cache
            rows.append((n, cold, _run(n, cell, cache)))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="femopt bench compile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 17, 32, 64])
    parser.add_argument("--cell", default="quad9")
    args = parser.parse_args(argv)
    print(f"{'n':>5} {'cells':>7} | {'cold solve':>10} {'gradient':>9} {'compile':>8} {'#':>3} | "
          f"{'cached solve':>12} {'gradient':>9} {'compile':>8} {'#':>3}")
    for n, cold, cached in measure(args.sizes, args.cell):
        print(f"{n:5d} {n * n:7d} | {cold['solve']:10.2f} {cold['gradient']:9.2f} {cold['compile']:8.2f} "
              f"{cold['compiles']:3d} | {cached['solve']:12.2f} {cached['gradient']:9.2f} "
              f"{cached['compile']:8.2f} {cached['compiles']:3d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
