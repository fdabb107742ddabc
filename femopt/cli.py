"""Command line: ``femopt demo``, ``femopt validate``, ``femopt bench``.

    femopt demo [--out DIR] [--quick]        the main job: a design run that writes VTU + PNG
    femopt validate [--quick|--full] ...     the analytic benchmark catalogue (exit 1 on failure)
    femopt bench assembly|gradient|topopt|compile|multigrid|compare|matrix-free|gpu|transient|distributed|mesh-pieces|...    performance benchmarks
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

__all__ = ["main"]

_BENCHES = {
    "assembly": "femopt.benchmarks.assembly",
    "gradient": "femopt.benchmarks.gradient",
    "topopt": "femopt.benchmarks.topopt",
    "compile": "femopt.benchmarks.compile",
    "multigrid": "femopt.benchmarks.multigrid",
    "compare": "femopt.benchmarks.compare",
    "matrix-free": "femopt.benchmarks.matrix_free",
    "gpu": "femopt.benchmarks.gpu",
    "transient": "femopt.benchmarks.transient",
    "distributed": "femopt.benchmarks.distributed",
    "mesh-pieces": "femopt.benchmarks.mesh_pieces",
}


def _delegate(module: str, argv) -> int:
    mod = importlib.import_module(module)
    return int(mod.main(list(argv)) or 0)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="femopt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the demo design problem, write VTU + PNG")
    demo.add_argument("--out", default="femopt-output", help="output folder (default: femopt-output)")
    demo.add_argument("--quick", action="store_true", help="a coarse version (seconds)")
    sub.add_parser("validate", help="run the analytic benchmark catalogue", add_help=False)
    bench = sub.add_parser("bench", help="performance benchmarks", add_help=False)
    bench.add_argument("name", choices=sorted(_BENCHES))
    args, rest = parser.parse_known_args(argv)
    _configure_logging(args.verbose)
    try:
        if args.command == "demo":
            if rest:
                parser.error(f"unrecognized arguments: {' '.join(rest)}")
            from .demo import run_demo

            run_demo(args.out, quick=args.quick)
            return 0
        if args.command == "validate":
            return _delegate("femopt.benchmarks.validate", rest)
        return _delegate(_BENCHES[args.name], rest)
    except KeyboardInterrupt:
        sys.stderr.write(f"femopt {args.command}: interrupted (Ctrl-C); files written so far are kept\n")
        return 130


def _configure_logging(verbose: bool) -> None:
    """All of femopt's INFO records with ``-v``; otherwise its progress lines and warnings."""
    from ._progress import ProgressFilter

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s" if not verbose else "%(name)s: %(message)s"))
    if not verbose:
        handler.addFilter(ProgressFilter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("femopt").setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
