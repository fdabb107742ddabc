"""Run under ``mpirun -n N`` by test_distributed_prescribed.py (and serially by hand):
``DistributedProblem.gradient(functional, wrt="prescribed")`` — the derivative with respect
to the prescribed values — against femopt's serial ``fo.gradient(..., wrt="prescribed")``,
on the whole (replicated) mesh and on mesh pieces, and by central differences. Every rank
writes what it saw to ``<out>.<rank>.json``.

    mpirun -n 2 python tests/distributed/mpi_cases_prescribed.py out [whole|pieces|fd ...]
"""
import json
import sys

import numpy as np

import femopt as fo
from femopt import functionals as F
from femopt.distributed import DistributedProblem, box, rectangle
from femopt.mesh import box as whole_box, rectangle as whole_rectangle
from femopt.physics import HeatConduction, LinearElasticity, NeoHookean

PRESCRIBED = "prescribed"


def _relative(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)) if b.size else 0.0


def elastic(mesh, pulled=True):
    """3D box clamped at xmin; xmax pulled by a prescribed displacement and ymin's y moved
    (a support across the ranks' interface), or neither; a traction on zmax (whose
    prescribed edges make ∂J/∂ū ≠ 0)."""
    problem = fo.Problem(mesh, LinearElasticity(E=1.0, nu=0.3), linear_solver="direct")
    problem.fix("xmin")
    if pulled:
        problem.fix("xmax", [0.01, 0.0, -0.005]).fix("ymin", 0.002, components=1)
    problem.traction("zmax", [0.0, 0.0, -1e-2], name="t")
    return problem, {"E": 1.0 + 0.5 * np.sin(mesh.cell_centroids()[:, 0])}


def heat(mesh):
    """2D heat: T = 1 on xmin, 0 on ymin (the corner: 0), a source, a flux on ymax."""
    problem = fo.Problem(mesh, HeatConduction(k=2.0), linear_solver="direct")
    problem.fix("xmin", 1.0).fix("ymin", 0.0).heat_flux("ymax", 0.5, name="q").heat_source(1.0, name="s")
    return problem, {}


def neo_hookean(mesh):
    """Large deformation: clamped at xmin, xmax and ymin's y displaced, a traction on zmax."""
    problem = fo.Problem(mesh, NeoHookean(mu=1.0, lmbda=1.5), linear_solver="direct")
    problem.fix("xmin").fix("xmax", [0.05, 0.0, -0.05]).fix("ymin", 0.01, components=1)
    problem.traction("zmax", [0.0, 0.0, -0.05], name="t")
    return problem, {"mu": 1.0 + 0.3 * np.sin(3.0 * mesh.cell_centroids()[:, 0])}


def _functionals(problem, name):
    """The functionals a case checks (cell sums: compliance, mean, p-norms)."""
    if name == "heat/cg":
        return {"p_norm": F.p_norm(problem, 6.0)}
    if name == "heat/direct":
        return {"mean": F.mean(problem), "p_norm": F.p_norm(problem, 6.0)}
    if name == "neo_hookean":
        return {"von_mises_p_norm": F.von_mises_p_norm(problem, 4.0)}
    return {"compliance": F.compliance()}


def whole_cases():
    mesh3, mesh_nh, mesh2 = whole_box((3.0, 1.0, 1.0), (6, 2, 2)), whole_box((2.0, 1.0, 1.0), (4, 2, 2)), \
        whole_rectangle((2.0, 1.0), (12, 7))
    cases = (("elastic", lambda: elastic(mesh3), "cg", [PRESCRIBED, "E", "t"]),
             ("elastic_homogeneous", lambda: elastic(mesh3, pulled=False), "cg", [PRESCRIBED]),
             ("heat/cg", lambda: heat(mesh2), "cg", [PRESCRIBED]),
             ("heat/direct", lambda: heat(mesh2), "direct", [PRESCRIBED, "q", "coordinates"]),
             ("neo_hookean", lambda: neo_hookean(mesh_nh), "direct", [PRESCRIBED, "mu"]))
    out = {}
    for name, make, solver, wrt in cases:
        problem, params = make()
        dp = DistributedProblem(problem, solver=solver, rtol=1e-12)
        dp.solve(params, gather="none")
        for key, functional in _functionals(problem, name).items():
            serial = fo.gradient(functional, problem, wrt=wrt, params=params)
            dp.timings.pop("adjoint_solve", None)
            got = dp.gradient(functional, wrt=wrt)
            out[f"{name.split('/')[0]}/{solver}/{key}"] = {
                "rel_diff": {n: _relative(got[n], serial[n]) for n in wrt},
                "value_rel_diff": _relative(got.value, serial.value),
                "shape": list(np.shape(got[PRESCRIBED])), "n_prescribed": int(problem.partition.prescribed.size),
                "norm": float(np.abs(serial[PRESCRIBED]).max()), "adjoint_solved": "adjoint_solve" in dp.timings,
                "checksum": float(np.sum(got[PRESCRIBED]))}
    return out


def _piece_compare(make, whole, piece, solver, functionals):
    serial, params = make(whole)
    problem, local_params = make(piece)
    dp = DistributedProblem(problem, solver=solver, rtol=1e-12)
    dp.solve(local_params, gather="none")
    c = problem.space.n_components
    position = np.full(serial.space.n_dofs, -1, dtype=np.int64)
    position[serial.partition.prescribed] = np.arange(serial.partition.prescribed.size)
    local = problem.partition.prescribed
    natural = piece.piece.natural_nodes[local // c] * c + local % c
    out = {}
    for key, functional in functionals(problem).items():
        reference = fo.gradient(functional, serial, wrt=PRESCRIBED, params=params)[PRESCRIBED]
        got = dp.gradient(functional, wrt=[PRESCRIBED], params=local_params)[PRESCRIBED]
        expected = reference[position[natural]]
        out[key] = {"rel_diff": float(np.abs(got - expected).max() / np.abs(reference).max()),
                    "shape": list(np.shape(got)), "n_prescribed": int(local.size),
                    "on_ghost_nodes": int(np.sum(local // c >= piece.piece.n_owned)),
                    "unmapped": int(np.sum(position[natural] < 0))}
    return out


def piece_cases():
    size3, shape3, size2, shape2 = (4.0, 1.0, 1.0), (8, 3, 2), (2.0, 1.0), (17, 9)
    results = {}
    for key, value in _piece_compare(elastic, whole_box(size3, shape3), box(size3, shape3), "cg",
                                     lambda p: _functionals(p, "elastic")).items():
        results[f"elastic/box/cg/{key}"] = value
    for key, value in _piece_compare(heat, whole_rectangle(size2, shape2), rectangle(size2, shape2), "direct",
                                     lambda p: _functionals(p, "heat/direct")).items():
        results[f"heat/rectangle/direct/{key}"] = value
    nh = (2.0, 1.0, 1.0), (4, 2, 2)
    for key, value in _piece_compare(neo_hookean, whole_box(*nh), box(*nh), "direct",
                                     lambda p: _functionals(p, "neo_hookean")).items():
        results[f"neo_hookean/box/direct/{key}"] = value
    return results


def finite_difference():
    """Central difference of J in one prescribed value, on a node both ranks' cells touch
    (ymin at x = 1: the bisection cuts the rectangle there)."""
    mesh = whole_rectangle((2.0, 1.0), (12, 7))
    problem, _ = heat(mesh)
    functional = F.p_norm(problem, 6.0)
    dp = DistributedProblem(problem, solver="direct")
    dp.solve(gather="none")
    node = int(np.flatnonzero(np.isclose(mesh.points[:, 0], 1.0) & np.isclose(mesh.points[:, 1], 0.0))[0])
    g = dp.gradient(functional, wrt=PRESCRIBED)[PRESCRIBED]
    entry = float(g[int(np.flatnonzero(problem.partition.prescribed == node)[0])])
    ranks_touching = dp._global_count(int(np.isin(node, mesh.cells[dp.piece.cells]).any()))
    h, values = 1e-4, []
    for value in (h, -h):
        problem.fix([node], value)
        dp.solve(gather="none")
        values.append(dp.gradient(functional, wrt=PRESCRIBED).value)
    problem.fix([node], 0.0)
    return {"adjoint": entry, "central": (values[0] - values[1]) / (2 * h), "ranks_touching": ranks_touching}


def main():
    out_name = sys.argv[1]
    wanted = [name for arg in sys.argv[2:] for name in arg.split(",")] or ["whole", "pieces", "fd"]
    out = {}
    for name in wanted:
        if name == "fd":
            out["finite_difference"] = finite_difference()
        else:
            out.update({"whole": whole_cases, "pieces": piece_cases}[name]())
    from petsc4py import PETSc

    with open(f"{out_name}.{PETSc.COMM_WORLD.getRank()}.json", "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
