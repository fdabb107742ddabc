"""Memory of the mesh on one rank: the whole box against one rank's piece of it.

A run whose ranks each build the whole mesh pays for the whole mesh on every rank; with
``femopt.distributed.box`` each rank builds its block only. This measures, in one process
(no MPI needed: the piece of rank 0 of N is built exactly as rank 0 would), the peak
memory (``tracemalloc``) and time of ``femopt.mesh.box(shape)`` and of
``femopt.mesh.box_piece(0, N, shape)`` for each N, and the piece's share of cells.

Run:  python -m femopt.benchmarks.mesh_pieces [--shape 160 160 160] [--ranks 1 2 8 64] [--cell hex8]
      femopt bench mesh-pieces ...
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc

__all__ = ["measure", "main"]


def _peak(build):
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    mesh = build()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = mesh.points.nbytes + mesh.cells.nbytes
    return mesh, peak / 2**20, held / 2**20, seconds


def measure(shape=(160, 160, 160), ranks=(1, 2, 8, 64), cell: str = "hex8") -> dict:
    """``{"whole": {...}, N: {...}}``: peak MB, arrays held MB, seconds and cells of the
    whole mesh and of rank 0's piece of N."""
    from femopt.mesh import box, box_piece

    whole, peak, held, seconds = _peak(lambda: box(shape=shape, cell=cell))
    records = {"whole": {"peak_mb": peak, "held_mb": held, "seconds": seconds, "cells": whole.n_cells}}
    del whole
    for n in ranks:
        piece, peak, held, seconds = _peak(lambda: box_piece(0, n, shape=shape, cell=cell))
        records[n] = {"peak_mb": peak, "held_mb": held, "seconds": seconds, "cells": piece.n_cells,
                      "ghost_nodes": piece.n_nodes - piece.piece.n_owned}
        del piece
    return records


def table(records, shape, cell) -> str:
    whole = records["whole"]
    lines = [f"{cell} box {'x'.join(map(str, shape))}: the mesh on one rank (tracemalloc peak while it is built, "
             "the points and cells it keeps)",
             "| mesh | cells | peak MB | held MB | seconds |", "| --- | --- | --- | --- | --- |",
             f"| whole (every rank, without pieces) | {whole['cells']} | {whole['peak_mb']:.0f} | "
             f"{whole['held_mb']:.0f} | {whole['seconds']:.2f} |"]
    for n, r in records.items():
        if n != "whole":
            lines.append(f"| rank 0's piece of {n} | {r['cells']} | {r['peak_mb']:.0f} | {r['held_mb']:.0f} | "
                         f"{r['seconds']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m femopt.benchmarks.mesh_pieces", description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[160, 160, 160])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 8, 64])
    parser.add_argument("--cell", default="hex8")
    args = parser.parse_args(argv)
    records = measure(tuple(args.shape), tuple(args.ranks), args.cell)
    print("command: python -m femopt.benchmarks.mesh_pieces " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(table(records, tuple(args.shape), args.cell))


if __name__ == "__main__":
    main()
