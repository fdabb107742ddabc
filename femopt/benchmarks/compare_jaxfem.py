"""JAX-FEM in ``femopt bench compare``: the cube solved and differentiated by JAX-FEM.

JAX-FEM is set up its own way: a subclass of its ``Problem`` whose ``get_tensor_map`` is
the linear-elastic stress of the displacement gradient and the cell's E (carried as an
internal variable at the quadrature points, ``set_params``), ``get_surface_maps`` the
traction on the faces its ``location_fns`` select, ``dirichlet_bc_info`` the clamped
components; its HEX8 takes the VTK/meshio node order (femopt's), so no permutation. The
solve is its ``solver`` (Newton with row elimination) behind its ``ad_wrapper``, whose
custom VJP solves the adjoint; the compliance ``f·u`` (f = minus its residual at u = 0)
is differentiated with ``jax.vjp`` of that wrapper.

Linear solver (``method``): ``"direct"`` is its ``umfpack_solver`` (SciPy's ``spsolve``,
SuperLU unless scikit-umfpack is installed); ``"petsc"`` its ``petsc_solver`` with its
defaults, PETSc BiCGStab(l) + ILU(0); ``"cg+amg"`` its ``petsc_solver`` with PETSc CG +
GAMG (no near-null space: JAX-FEM passes none); ``"jax"`` its overall default,
``jax_solver`` (BiCGStab + Jacobi in JAX, tolerance 1e-10). PETSc's KSP stops at rtol
1e-5 by default, too loose to check answers against femopt's, so ``rtol`` goes in
through PETSc's options database (``-ksp_rtol``, read by JAX-FEM's
``ksp.setFromOptions()``) for the duration of the run and is restored afterwards. On
the 52 728-dof cube (2 shared cores) "petsc" was the fastest of the iterative ones:
solve + gradient ~8 s warm against ~19 s for CG + GAMG and 19-30 s for "jax".

Phases, as for torch-fem: a first run on the mesh (JAX-FEM traces and compiles its cell
and face kernels; its times are reported in the note as "first call"), then the timed
run: ``solve`` = a new ``Problem`` built and solved through ``ad_wrapper`` (Newton: two
Jacobian assemblies and one linear solve for this linear problem), ``gradient`` = the
VJP (one Jacobian assembly, the adjoint solve and the parameter VJP). JAX-FEM has no call
that assembles the stiffness alone, so its assembly is not timed.

Import side effects handled here: ``import jax_fem`` prints a banner on stdout (caught),
sets NumPy's print options and the ``jax`` logger's level (both restored), and logs at
DEBUG on a handler of its own (quietened to WARNING during the run). It imports ``gmsh``
at import time for mesh generation this adapter never calls; when gmsh is not installed
an empty placeholder module stands in during that import only.

Licence: JAX-FEM is GPL-3.0. femopt only imports it at run time, in this optional
benchmark adapter, when the user has installed it; none of its code is vendored, copied
or adapted here, and femopt does not depend on it.

Install for the comparison: ``pip install jax-fem fenics-basix pyfiglet meshio`` (jax-fem
declares no dependencies of its own) plus petsc4py built against PETSc
(``bash scripts/install_mpi_stack.sh``). Checked against JAX-FEM 0.0.11 with JAX 0.10.2,
fenics-basix 0.11.0, petsc4py 3.18.5: compliance, displacement and gradient agree with
femopt's to ~1e-14 (direct) and ~1e-10 (PETSc, either preconditioner, at rtol 1e-10).
"""
from __future__ import annotations

import contextlib
import importlib
import io
import logging
import sys
import time
import types

import numpy as np

from .compare_peers import PeerUnavailable

__all__ = ["jaxfem_cube", "import_jaxfem", "JAXFEM_METHODS"]

#: ``method`` → (JAX-FEM solver_options, description)
JAXFEM_METHODS = {
    "direct": ({"umfpack_solver": {}}, "umfpack_solver (scipy spsolve)"),
    "petsc": ({"petsc_solver": {}}, "petsc_solver: PETSc BiCGStab(l) + ILU(0), its default"),
    "cg+amg": ({"petsc_solver": {"ksp_type": "cg", "pc_type": "gamg"}}, "petsc_solver: PETSc CG + GAMG"),
    "jax": ({"jax_solver": {"precond": True}}, "jax_solver: BiCGStab + Jacobi"),
}

#: a missing module named in jax_fem's ImportError → how to install it
_DEPENDENCY_HINTS = {
    "jax_fem": "pip install jax-fem fenics-basix pyfiglet; petsc4py: bash scripts/install_mpi_stack.sh",
    "basix": "pip install fenics-basix",
    "pyfiglet": "pip install pyfiglet",
    "meshio": "pip install meshio",
    "petsc4py": "petsc4py built against PETSc: bash scripts/install_mpi_stack.sh",
}

_modules: dict = {}


def import_jaxfem() -> dict:
    """JAX-FEM's pieces this adapter uses (``Problem``, ``Mesh``, ``ad_wrapper``, the
    ``jax_fem`` module), imported once, with the import's side effects undone.

    Raises:
        PeerUnavailable: JAX-FEM or one of the modules it imports is missing (the
            message names the module and how to install it), or its API is not the
            one this adapter was checked against.
    """
    if _modules:
        return _modules
    print_options = np.get_printoptions()
    jax_logger = logging.getLogger("jax")
    jax_level = jax_logger.level
    placeholder = _gmsh_placeholder()
    try:
        with contextlib.redirect_stdout(io.StringIO()):            # its banner
            jax_fem = importlib.import_module("jax_fem")
        logger = logging.getLogger(jax_fem.__name__)
        level = logger.level
        logger.setLevel(logging.WARNING)                           # its INFO lines while importing
        try:
            problem = importlib.import_module("jax_fem.problem")
            solver = importlib.import_module("jax_fem.solver")
            generate_mesh = importlib.import_module("jax_fem.generate_mesh")
        finally:
            logger.setLevel(level)
    except ImportError as error:
        missing = getattr(error, "name", None) or "jax_fem"
        hint = _DEPENDENCY_HINTS.get(missing.split(".")[0], f"pip install {missing.split('.')[0]}")
        what = "JAX-FEM is not installed" if missing.startswith("jax_fem") else \
            f"JAX-FEM needs the module {missing!r}, which is not installed"
        raise PeerUnavailable(f"{what} ({hint})") from error
    finally:
        np.set_printoptions(**print_options)
        jax_logger.setLevel(jax_level)
        if placeholder is not None and sys.modules.get("gmsh") is placeholder:
            del sys.modules["gmsh"]
    try:
        _modules.update(jax_fem=jax_fem, Problem=problem.Problem, Mesh=generate_mesh.Mesh,
                        ad_wrapper=solver.ad_wrapper)
    except AttributeError as error:
        raise PeerUnavailable(f"JAX-FEM lacks the API this adapter uses ({error}); it was checked "
                              "against JAX-FEM 0.0.11") from error
    return _modules


def _gmsh_placeholder():
    """An empty ``gmsh`` module in ``sys.modules`` when gmsh is not installed (JAX-FEM
    imports it for mesh generation only); None when the real one imports."""
    try:
        importlib.import_module("gmsh")
        return None
    except (ImportError, OSError):                 # OSError: the wheel's shared library
        sys.modules.pop("gmsh", None)
        placeholder = types.ModuleType("gmsh", "placeholder: gmsh is not installed")
        sys.modules["gmsh"] = placeholder
        return placeholder


def _cube_class(problem_base):
    """JAX-FEM's Problem for the cube: isotropic linear elasticity with a per-cell E."""
    import jax.numpy as jnp

    class ElasticCube(problem_base):
        def custom_init(self, nu, traction):
            self.nu = float(nu)
            self.traction = jnp.asarray(traction, dtype=jnp.float64)

        def get_tensor_map(self):
            def stress(u_grad, E):
                # lam, mu: Lamé parameters; eps: small strain
                lam = E * self.nu / ((1.0 + self.nu) * (1.0 - 2.0 * self.nu))
                mu = E / (2.0 * (1.0 + self.nu))
                eps = 0.5 * (u_grad + u_grad.T)
                return lam * jnp.trace(eps) * jnp.eye(self.dim) + 2.0 * mu * eps
            return stress

        def get_surface_maps(self):
            # JAX-FEM's residual is ∫σ:∇v + ∫s·v, so the traction t enters as s = -t
            return [lambda u, x: -self.traction]

        def set_params(self, params):
            # params (n_cells,) → E at every quadrature point (n_cells, n_quads)
            self.internal_vars = [params[:, None] * jnp.ones((1, self.fes[0].num_quads))]

    return ElasticCube


@contextlib.contextmanager
def _quiet_and_petsc_rtol(jax_fem, rtol):
    """JAX-FEM's logger at WARNING and PETSc's ``-ksp_rtol`` at ``rtol``, both restored."""
    logger = logging.getLogger(jax_fem.__name__)
    level = logger.level
    logger.setLevel(logging.WARNING)
    from petsc4py import PETSc

    options = PETSc.Options()
    previous = options.getString("ksp_rtol") if options.hasName("ksp_rtol") else None
    options.setValue("ksp_rtol", rtol)
    try:
        yield
    finally:
        logger.setLevel(level)
        if previous is None:
            options.delValue("ksp_rtol")
        else:
            options.setValue("ksp_rtol", previous)


def jaxfem_cube(points, cells, *, E, nu, traction, length, method="direct", rtol=1e-10) -> dict:
    """The cube with JAX-FEM on femopt's mesh; returns a dict like
    :func:`~femopt.benchmarks.compare_peers.skfem_cube`'s (``assembly_s`` NaN) plus
    ``note`` (the first call's times) and ``first_solve_s`` / ``first_gradient_s``.

    Args:
        points: ``(n_nodes, 3)``; cells: ``(n_cells, 8)`` in VTK order.
        traction: the traction vector ``(3,)`` on ``x = length``; ``x = 0`` is clamped.
        method: ``"direct"``, ``"petsc"``, ``"cg+amg"`` or ``"jax"`` (see the module
            docstring).
        rtol: PETSc's relative tolerance for ``"petsc"`` and ``"cg+amg"``.

    Raises:
        PeerUnavailable: JAX-FEM or a module it imports is missing, its API is not the
            one this adapter was checked against, or it failed on the cube.
        ValueError: an unknown ``method``.
    """
    if method not in JAXFEM_METHODS:
        raise ValueError(f"method={method!r} is not one of {sorted(JAXFEM_METHODS)}")
    modules = import_jaxfem()
    import jax
    import jax.flatten_util
    import jax.numpy as jnp

    solver_options, description = JAXFEM_METHODS[method]
    cube_class = _cube_class(modules["Problem"])
    mesh = modules["Mesh"](np.asarray(points, dtype=np.float64), np.asarray(cells, dtype=np.int64), ele_type="HEX8")
    atol = 1e-8 * float(length)

    def clamped(point):
        return jnp.isclose(point[0], 0.0, atol=atol)

    def loaded(point):
        return jnp.isclose(point[0], length, atol=atol)

    def zero(point):
        return 0.0

    def solve():
        problem = cube_class(mesh=mesh, vec=3, dim=3, ele_type="HEX8",
                             dirichlet_bc_info=[[clamped] * 3, [0, 1, 2], [zero] * 3],
                             location_fns=[loaded], additional_info=(nu, traction))
        modulus = jnp.full(problem.num_cells, float(E))
        problem.set_params(modulus)
        zeros = [jnp.zeros((problem.fes[0].num_total_nodes, 3))]
        force = -jax.flatten_util.ravel_pytree(problem.compute_residual(zeros))[0]
        forward = modules["ad_wrapper"](problem, dict(solver_options), dict(solver_options))
        solution, pullback = jax.vjp(forward, modulus)
        displacement = np.asarray(solution[0])
        return force, solution, displacement, pullback

    def differentiate(force, solution, pullback):
        gradient, = pullback([force.reshape(solution[0].shape)])
        return float(jnp.vdot(force, solution[0].reshape(-1))), np.asarray(gradient)

    try:
        with _quiet_and_petsc_rtol(modules["jax_fem"], rtol):
            times = []
            for _ in range(2):                                   # first call (compiles), then timed
                start = time.perf_counter()
                force, solution, displacement, pullback = solve()
                middle = time.perf_counter()
                compliance, gradient = differentiate(force, solution, pullback)
                times.append((middle - start, time.perf_counter() - middle))
    except (AssertionError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as error:
        raise PeerUnavailable(f"JAX-FEM failed on the cube ({type(error).__name__}: {error}); this adapter "
                              "was checked against JAX-FEM 0.0.11") from error
    (first_solve, first_gradient), (solve_s, gradient_s) = times
    return {"assembly_s": float("nan"), "solve_s": solve_s, "gradient_s": gradient_s,
            "compliance": compliance, "gradient": gradient, "displacement": displacement,
            "method": f"jax {jax.__version__}, {description}",
            "first_solve_s": first_solve, "first_gradient_s": first_gradient,
            "note": f"first call (compiles): solve {first_solve:.3g} s, gradient {first_gradient:.3g} s"}
