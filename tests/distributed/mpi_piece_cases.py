"""Run under ``mpirun -n N`` by test_distributed_pieces.py (and serially by hand): problems
set up on each rank's piece only (``femopt.distributed.box`` / ``rectangle`` / ``cut``,
no rank holds the whole mesh in the box cases) against femopt's serial solve and
``fo.gradient`` on the whole mesh. Every rank writes what it saw to ``<out>.<rank>.json``.

    mpirun -n 2 python tests/distributed/mpi_piece_cases.py out [solve|newton|errors|read|newton,errors ...]
"""
import json
import sys
from pathlib import Path

import numpy as np

import femopt as fo
from femopt import functionals as F
from femopt.distributed import DistributedProblem, box, cut, read, rectangle
from femopt.errors import InputError
from femopt.mesh import box as whole_box, rectangle as whole_rectangle
from femopt.physics import HeatConduction, LinearElasticity, NeoHookean


def _relative(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _elastic(mesh):
    problem = fo.Problem(mesh, LinearElasticity(E=1.0, nu=0.3), linear_solver="direct")
    problem.fix("xmin").traction("xmax", [0.0, 0.0, -1e-3], name="t").body_force([0.0, -1e-4, 0.0])
    # a per-cell field and a per-node field, both from positions: the same on every rank
    params = {"E": 1.0 + 0.5 * np.sin(mesh.cell_centroids()[:, 0])}
    return problem, params


def _heat(mesh):
    problem = fo.Problem(mesh, HeatConduction(k=2.0), linear_solver="direct")
    problem.fix("xmin", 1.0).fix("ymin", 0.0).heat_flux("ymax", 0.5).convection("xmax", 3.0, 0.2)
    problem.heat_source(fo.nodal_field(1.0 + mesh.points[:, 0] * mesh.points[:, 1]))
    return problem, {}


def _neo_hookean(mesh):
    problem = fo.Problem(mesh, NeoHookean(mu=1.0, lmbda=1.5), linear_solver="direct")
    problem.fix("xmin").traction("xmax", [0.0, 0.0, -0.1], name="t")
    return problem, {"mu": 1.0 + 0.3 * np.sin(3.0 * mesh.cell_centroids()[:, 0])}


def _compare(name, make, whole, piece, solver, wrt, functional):
    serial, params = make(whole)
    reference = serial.solve(params)
    problem, local_params = make(piece)
    dp = DistributedProblem(problem, solver=solver, rtol=1e-12)
    u = dp.solve(local_params)                       # default: the field on the piece's nodes
    everything = dp.solve(local_params, gather="all")
    mine = piece.piece
    out = {"local": _relative(u, reference[mine.natural_nodes]), "all": _relative(everything, reference),
           "local_shape": list(np.shape(u)), "ranks": dp.comm.getSize(), "n_local_cells": int(piece.n_cells),
           "n_cells": int(mine.n_cells)}
    if wrt:
        g = dp.gradient(functional, wrt=wrt, params=local_params)
        reference_g = fo.gradient(functional, serial, wrt=wrt, params=params)
        out["value"] = _relative(g.value, reference_g.value)
        out["grads"] = {}
        for key in wrt:
            expected = np.asarray(reference_g.grads[key])
            got = np.asarray(g.grads[key])
            if key == "coordinates":
                expected = expected[mine.natural_nodes]
            elif got.shape[:1] == (piece.n_cells,) and expected.shape[:1] == (whole.n_cells,):
                expected = expected[mine.natural_cells]
            out["grads"][key] = _relative(got, expected)
            out.setdefault("shapes", {})[key] = list(got.shape)
    return out


def solve_cases():
    shape3, shape2 = (8, 3, 4), (17, 9)
    results = {
        "elastic/box/cg": _compare("elastic", _elastic, whole_box((4.0, 1.0, 1.0), shape3),
                                   box((4.0, 1.0, 1.0), shape3), "cg", ["E", "nu", "t", "coordinates"],
                                   F.compliance()),
        "heat/rectangle/cg": _compare("heat", _heat, whole_rectangle((2.0, 1.0), shape2),
                                      rectangle((2.0, 1.0), shape2), "cg", ["k", "coordinates"],
                                      F.compliance()),
    }
    # a read mesh, cut by coordinate bisection (here made, then cut: the same on every rank)
    whole = whole_box((2.0, 1.0, 1.0), (5, 3, 3), cell="tet4")
    results["elastic/cut-tet4/direct"] = _compare("elastic", _elastic, whole, cut(whole), "direct",
                                                  ["E", "coordinates"], F.compliance())
    return results


def newton_cases():
    shape = (6, 2, 2)
    return {"neo_hookean/box/direct": _compare("nh", _neo_hookean, whole_box((2.0, 1.0, 1.0), shape),
                                               box((2.0, 1.0, 1.0), shape), "direct", ["mu", "lmbda", "t"],
                                               F.compliance())}


def read_cases(folder):
    """A mesh file read by rank 0 and sent out in pieces (tags included), solved."""
    from petsc4py import PETSc

    whole = whole_rectangle((2.0, 1.0), (17, 9), cell="quad8")
    path = f"{folder}/plate.vtu"
    if PETSc.COMM_WORLD.getRank() == 0:
        Path(folder).mkdir(parents=True, exist_ok=True)
        fo.mesh.write(path, whole)
    piece = read(path)
    out = {"tags": sorted(piece.facet_tags), "natural": bool(np.array_equal(
        piece.points, whole.points[piece.piece.natural_nodes]))}
    out["heat/read/cg"] = _compare("heat", _heat, whole, piece, "cg", ["k"], F.compliance())
    try:
        read(f"{folder}/missing.vtu")
    except InputError as error:
        out["missing"] = str(error)
    return out


def error_cases():
    out = {}
    mesh = box((2.0, 1.0, 1.0), (4, 2, 2))
    problem = fo.Problem(mesh, LinearElasticity()).fix("xmin").traction("xmax", [0.0, 0.0, -1.0])
    dp = DistributedProblem(problem, solver="direct")
    try:
        dp.gradient(F.from_function(lambda p, u, q, X: u.sum()))
    except InputError as error:
        out["replicated"] = str(error)
    # supports that disagree between ranks: rank 0 fixes its nodes at x = 1 to 0, the others to 1
    rank = mesh.piece.rank
    odd = fo.Problem(mesh, LinearElasticity()).fix("xmin").fix(lambda x: np.isclose(x[:, 0], 1.0), float(rank))
    try:
        DistributedProblem(odd, solver="direct").solve()
    except InputError as error:
        out["disagree"] = str(error)
    return out


def main():
    out = sys.argv[1]
    which = [name for arg in sys.argv[2:] for name in arg.split(",")] or ["solve"]
    results = {}
    for name in which:
        if name == "read":
            results.update(read_cases(f"{out}.files"))
            continue
        results.update({"solve": solve_cases, "newton": newton_cases, "errors": error_cases}[name]())
    from petsc4py import PETSc

    with open(f"{out}.{PETSc.COMM_WORLD.getRank()}.json", "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
