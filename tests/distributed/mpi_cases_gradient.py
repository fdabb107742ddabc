"""Run under ``mpirun -n N`` by test_distributed_newton.py / test_distributed_gradient.py
(and serially by hand): nonlinear solves and adjoint gradients of DistributedProblem
against femopt's serial Problem.solve and fo.gradient. Every rank writes what it saw
to ``<out>.<rank>.json`` (rank 0's holds the comparisons), so a test can check that all
ranks agree — and a hang shows as a timeout.

    mpirun -n 2 python tests/distributed/mpi_cases_gradient.py out [newton|gradient ...]
"""
import json
import sys

import numpy as np

import femopt as fo
from femopt import functionals as F
from femopt.distributed import DistributedProblem
from femopt.errors import NewtonError
from femopt.mesh import box, rectangle
from femopt.physics import HeatConduction, LinearElasticity, NeoHookean
from femopt.solvers.newton import NewtonOptions


def _relative(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def neo_hookean():
    """3D HEX8 block in large deformation: clamped at xmin, a shear traction at xmax
    that bends it (the energy line search matters), per-cell shear modulus."""
    mesh = box((2.0, 1.0, 1.0), (6, 2, 2))
    problem = fo.Problem(mesh, NeoHookean(mu=1.0, lmbda=1.5), linear_solver="direct")
    problem.fix("xmin").traction("xmax", [0.0, 0.0, -0.1], name="t")
    mu = 1.0 + 0.3 * np.sin(3.0 * mesh.cell_centroids()[:, 0])
    return problem, {"mu": mu}


def heat_kT():
    """2D heat with k(T) = k (1 + beta T), k per cell: an unsymmetric tangent (GMRES or
    LU; the adjoint is a transposed solve)."""
    mesh = rectangle((2.0, 1.0), (12, 7))
    physics = HeatConduction(k=1.0, beta=0.5, conductivity=lambda T, k, beta: k * (1 + beta * T))
    problem = fo.Problem(mesh, physics, linear_solver="direct")
    problem.fix("xmin", 0.0).heat_flux("xmax", 2.0, name="q").heat_source(1.0, name="s")
    return problem, {"k": fo.cell_field(1.0 + 0.5 * mesh.cell_centroids()[:, 1])}


def linear_elasticity():
    """Linear 3D cantilever with a per-node Young's modulus and a point load: compliance
    is self-adjoint here (no adjoint solve)."""
    mesh = box((3.0, 1.0, 1.0), (6, 2, 2))
    problem = fo.Problem(mesh, LinearElasticity(E=1.0, nu=0.3), linear_solver="direct")
    problem.fix("xmin").traction("xmax", [0.0, 0.0, -1e-2], name="t")
    problem.point_load(lambda x: (x[:, 0] > 2.9) & (x[:, 1] > 0.9) & (x[:, 2] > 0.9), [0.0, -1e-2, 0.0], name="P")
    return problem, {"E": fo.nodal_field(1.0 + 0.2 * problem.mesh.points[:, 0])}


def newton_cases(out, rank):
    for name, make, solver in (("neo_hookean", neo_hookean, "direct"), ("neo_hookean", neo_hookean, "cg"),
                               ("heat_kT", heat_kT, "direct"), ("heat_kT", heat_kT, "cg")):
        problem, params = make()
        reference = problem.solve(params)
        dp = DistributedProblem(problem, solver=solver, rtol=1e-12)
        u = dp.solve(params)
        result = dp.newton_results[-1]
        out[f"{name}/{solver}"] = {
            "rel_diff": _relative(u, reference), "newton_iterations": result.n_iterations,
            "serial_iterations": sum(r.n_iterations for r in problem.state.newton),
            "merits": [it.merit for it in result.iterations], "ksp": dp.ksp.getType(),
            "ranks": dp.comm.getSize(), "owned_dofs": int(dp.n_owned_dofs)}
    # load steps, and a Newton that must fail: the same error on every rank
    problem, params = neo_hookean()
    reference = problem.solve(params)
    dp = DistributedProblem(problem, solver="direct")
    out["neo_hookean/load_steps"] = {"rel_diff": _relative(dp.solve(params, load_steps=3), reference),
                                     "steps": len(dp.newton_results)}
    failing = DistributedProblem(problem, solver="direct", newton=NewtonOptions(max_iterations=2))
    try:
        failing.solve(params, initial=np.zeros(problem.space.n_dofs))
    except NewtonError as error:
        out["failure"] = {"reason": error.reason, "history": len(error.history), "message": str(error)}


def gradient_cases(out, rank):
    cases = (("neo_hookean", neo_hookean, "direct", ["mu", "lmbda", "t", "coordinates"]),
             ("heat_kT", heat_kT, "direct", ["k", "beta", "q", "s"]),
             ("heat_kT", heat_kT, "cg", ["k", "beta", "q", "coordinates"]),
             ("linear", linear_elasticity, "cg", ["E", "nu", "t", "P", "coordinates"]))
    for name, make, solver, wrt in cases:
        problem, params = make()
        functionals = {"compliance": F.compliance()}
        if name == "neo_hookean":
            functionals["von_mises_p_norm"] = F.von_mises_p_norm(problem, 4.0)
            functionals["point_value"] = F.point_value(problem, [2.0, 0.5, 0.5], component=2)
        elif name == "heat_kT":
            functionals["p_norm"] = F.p_norm(problem, 6.0)
        dp = DistributedProblem(problem, solver=solver, rtol=1e-12)
        dp.solve(params, gather="none")
        for key, functional in functionals.items():
            serial = fo.gradient(functional, problem, wrt=wrt, params=params)
            dp.timings.pop("adjoint_solve", None)
            distributed = dp.gradient(functional, wrt=wrt)
            out[f"{name}/{solver}/{key}"] = {
                "value": distributed.value, "value_rel_diff": _relative(distributed.value, serial.value),
                "rel_diff": {n: _relative(distributed[n], serial[n]) for n in wrt},
                "shapes": {n: list(np.shape(distributed[n])) for n in wrt},
                "adjoint_solved": "adjoint_solve" in dp.timings,
                "checksum": float(sum(np.sum(distributed[n]) for n in wrt))}
    # central differences of the distributed gradient itself (per-cell mu, 2 ranks' cells)
    problem, params = neo_hookean()
    dp = DistributedProblem(problem, solver="direct", rtol=1e-12)
    functional = F.von_mises_p_norm(problem, 4.0)
    g = dp.gradient(functional, wrt=["mu"], params=params)
    direction = np.cos(2.0 * problem.mesh.cell_centroids()[:, 0])
    h = 1e-5
    plus = dp.gradient(functional, wrt=["mu"], params={"mu": params["mu"] + h * direction}).value
    minus = dp.gradient(functional, wrt=["mu"], params={"mu": params["mu"] - h * direction}).value
    out["finite_difference"] = {"adjoint": float(g["mu"] @ direction), "central": (plus - minus) / (2 * h)}


def main():
    out_name = sys.argv[1]
    wanted = [arg for arg in sys.argv[2:] if arg in ("newton", "gradient")] or ["newton", "gradient"]
    out = {}
    from petsc4py import PETSc

    rank = PETSc.COMM_WORLD.getRank()
    if "newton" in wanted:
        newton_cases(out, rank)
    if "gradient" in wanted:
        gradient_cases(out, rank)
    with open(f"{out_name}.{rank}.json", "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
