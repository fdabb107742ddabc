"""``femopt validate``: run the validation catalogue and judge it.

    femopt validate [--quick | --full] [--case NAME ...] [--list] [--out DIR]

Prints one table row per checked quantity (case, quantity, reference, computed, error,
observed and expected rate, tolerance, status, source), writes the same table as
``validation.csv`` and ``validation.md`` under ``--out`` when given, and exits with 1
when any case falls outside its tolerance or rate (or fails to run), 2 on a usage
error, else 0. Also runnable as ``python -m femopt.benchmarks.validate``.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from . import catalogue, report
from ..errors import InputError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="femopt validate",
        description="Run femopt's validation catalogue: problems with exact solutions at "
                    "successive refinements, errors and observed convergence rates.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="coarse refinements, about two minutes (default)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="more refinements and every element variant (slow)")
    parser.add_argument("--case", action="append", metavar="NAME", default=None,
                        help="run only this case (repeatable); see --list")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help="write validation.csv and validation.md into DIR")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress of each case")
    parser.set_defaults(mode="quick")
    return parser


def _listing() -> str:
    lines, group = [], None
    for c in catalogue.cases():
        if c.group != group:
            group = c.group
            lines.append(f"\n{group}:")
        if c.pending is not None:
            note = f"pending: {c.pending}"
        else:
            quick = "full mode only" if c.full_only else f"quick levels {list(c.levels['quick'])}"
            note = f"{quick}; full levels {list(c.levels['full'])}"
        lines.append(f"  {c.name:36s} {c.title}  [{note}]")
    return "\n".join(lines).lstrip("\n")


def main(argv=None) -> int:
    """Entry point of ``femopt validate``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.list:
        print(_listing())
        return 0
    try:
        selection = None if not args.case else [catalogue.get(name).name for name in args.case]
    except InputError as error:
        print(f"femopt validate: {error}", file=sys.stderr)
        return 2

    start = time.perf_counter()

    def progress(case, rows):
        statuses = ", ".join(sorted({r.status for r in rows}))
        print(f"  {case.name:38s} {statuses:8s} {rows[0].seconds:6.1f} s", file=sys.stderr, flush=True)

    print(f"femopt validate --{args.mode}", file=sys.stderr, flush=True)
    results = catalogue.run(selection, mode=args.mode, reporter=progress)
    elapsed = time.perf_counter() - start
    print(report.format_table(results))
    print(f"\n{report.summary(results)} in {elapsed:.0f} s ({args.mode} mode)")
    if args.out is not None:
        csv_path = report.write_csv(results, args.out / "validation.csv")
        md_path = report.write_markdown(results, args.out / "validation.md",
                                           title=f"femopt validation ({args.mode} mode)")
        print(f"wrote {csv_path} and {md_path}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
