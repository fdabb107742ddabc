"""Problem: space + physics + supports + loads + parameters → state.

The one place where the layers meet. A problem owns the named parameters (material
constants and load magnitudes, each a default that a solve can override), the
Dirichlet conditions, and the last state with its factorization — which the adjoint
reuses. Every value is checked where it enters (set-up, ``fix``, the load verbs of
:mod:`.loads`, ``solve(params)``): finite, and admissible for the physics
(:mod:`femopt.physics.admissible`).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..mesh.pieces import require_whole
from .._progress import progress_output
from ..assembly.assembler import Assembler, CellTerm, FacetTerm
from ..assembly.dirichlet import DofPartition
from ..assembly.parameters import check_values, scale_value, split_parameters
from ..assembly.traced import has_energy, traced_energy, traced_residual
from ..errors import InputError, NewtonError, SingularJacobianError
from ..fem.space import FunctionSpace
from ..mesh.mesh import Mesh
from ..physics.loads import Convection
from ..solvers.continuation import load_stepping
from ..solvers.linear import SolverContext, empty_factorization, make_solver
from ..solvers.newton import NewtonOptions, newton
from .loads import LoadMethods
from .supports import free_parts, null_motions, orphan_nodes, singular_jacobian_error, tangled_cells
from .state import State
from .validate import as_overrides, fixed_components, initial_vector, physics_point_shapes, prescribed_values

__all__ = ["Problem"]

_log = logging.getLogger("femopt.problem")


#: Tangent entries this large are refused before the first factorization:
#: the norms of the solvers' checks square them past float64's range.
OVERFLOW_ENTRY = 1e150

class Problem(LoadMethods):
    """A boundary-value problem ready to solve.

    Args:
        space: a :class:`FunctionSpace`, or a :class:`Mesh` (the space is then made with
            as many components as the physics needs).
        physics: the pointwise law (``LinearElasticity``, ``NeoHookean``,
            ``HeatConduction``, or your own :class:`~femopt.physics.Physics`).
        linear_solver: ``"auto"``, ``"direct"``, ``"cg"`` or a LinearSolver.
        newton: :class:`NewtonOptions` for nonlinear solves.

    Raises:
        ParameterError: a default parameter value of the physics is not real numbers of
            its shape, not finite or not admissible (e.g. ``E <= 0``, ``nu >= 0.5`` in 3D).
    """

    def __init__(self, space, physics, *, linear_solver="auto", newton: NewtonOptions | None = None):
        if isinstance(space, Mesh):
            space = FunctionSpace(space, physics.n_components(space.dim))
        if not isinstance(space, FunctionSpace):
            raise InputError(f"Problem needs a FunctionSpace or a Mesh, got {type(space).__name__}")
        expected = physics.n_components(space.mesh.dim)
        if expected != space.n_components:
            raise InputError(f"{type(physics).__name__} needs {expected} component(s) but the space "
                             f"has {space.n_components}")
        physics.check_dimension(space.mesh.dim)
        self.space = space
        self.mesh = space.mesh
        self.physics = physics
        self.linear_solver = make_solver(linear_solver, n_hint=space.n_dofs)
        self.newton_options = newton or NewtonOptions()
        self.params: dict[str, Any] = dict(physics.parameters)
        self._point_shapes = physics_point_shapes(physics, self.mesh)
        self._load_names: set[str] = set()
        self._cell_terms = [CellTerm(physics)]
        self._facet_terms: list[FacetTerm] = []
        self._point_loads: list[tuple[str, np.ndarray, np.ndarray]] = []
        self._dirichlet: dict[int, float] = {}
        self._extra_rules: list = []
        self._free_parts = None
        self._assembler: Assembler | None = None
        self._energy_jit = None
        self.state: State | None = None
        self.check_parameters(self.params)

    # -- supports -----------------------------------------------------------------------
    def fix(self, selection, value=0.0, components=None) -> "Problem":
        """Prescribe the field on the nodes a selection picks.

        Args:
            selection: tag name, predicate ``f(x) -> mask`` on node coordinates, or node ids.
            value: a number, one number per selected component, or a function
                ``f(x) -> (n,)`` / ``(n, n_components)`` of the node coordinates.
            components: which components (default all), e.g. ``0`` or ``[0, 2]``.
        """
        nodes = self.mesh.nodes(selection)
        comps = fixed_components(self.space, components)
        vals = prescribed_values(value, self.mesh, nodes, comps, self.space.n_components)
        dofs = (nodes[:, None] * self.space.n_components + comps[None, :]).ravel()
        self._dirichlet.update(zip(dofs.tolist(), np.asarray(vals, dtype=np.float64).ravel().tolist()))
        self._invalidate(state=True)
        return self

    def move_nodes(self, points) -> "Problem":
        """Put the problem on moved node coordinates ``(n_nodes, dim)`` (same cells):
        the shape-optimization step. The moved mesh is validated first — inverted cells
        raise MeshError naming them and leave the problem as it was. Compiled kernels and
        the sparsity pattern are kept; the state is dropped (it belongs to the old shape)."""
        moved = self.mesh.with_points(points)
        pattern = self._assembler._pattern if self._assembler is not None else None
        self.mesh = moved
        self.space.mesh = moved
        self._invalidate()
        if pattern is not None:
            self.assembler._pattern = pattern
        self.state = None
        return self

    def _invalidate(self, state=False):
        self._assembler = None
        self._energy_jit = None
        self._free_parts = None
        if state:
            self._partition = None

    # -- assembly ------------------------------------------------------------------------
    @property
    def assembler(self) -> Assembler:
        if self._assembler is None:
            self._assembler = Assembler(self.space, self._cell_terms, self._facet_terms)
        return self._assembler

    @property
    def partition(self) -> DofPartition:
        if getattr(self, "_partition", None) is None:
            self._partition = DofPartition(self.space.n_dofs, np.fromiter(self._dirichlet, dtype=np.int64))
        return self._partition

    def prescribed_values(self) -> np.ndarray:
        """Values of the prescribed dofs, ordered like ``partition.prescribed``."""
        return np.array([self._dirichlet[d] for d in self.partition.prescribed.tolist()], dtype=np.float64)

    def parameters(self, overrides: Mapping[str, Any] | None = None) -> dict:
        """The problem's parameters with ``overrides`` applied (unknown names rejected)."""
        params = dict(self.params)
        for name, value in as_overrides(overrides).items():
            if name not in params:
                raise InputError(f"unknown parameter {name!r}; this problem has {sorted(params)}")
            params[name] = value
        return params

    def parameter_rules(self) -> list:
        """The rules values must meet: the physics' (``0 < E``...), the loads' (``0 <= h``)."""
        return list(self.physics.parameter_rules(self.mesh.dim)) + list(self._extra_rules)

    def check_parameters(self, params: Mapping[str, Any]) -> None:
        """Check values (any subset of the parameters) where they enter: finite, and
        admissible by :meth:`parameter_rules`.

        Raises:
            ParameterError: naming the parameter, the offending cell / node ids and the
                admissible range.
        """
        check_values(params, self._point_shapes, self.parameter_rules(), self.mesh.n_cells,
                     self.mesh.n_nodes, cells=self.mesh.cells)

    def split(self, params: Mapping[str, Any]):
        """Parameters sorted by kind for the kernels (see assembly.parameters)."""
        return split_parameters(params, self._point_shapes, self.mesh.n_cells, self.mesh.n_nodes)[:3]

    def external_point_forces(self, params) -> np.ndarray:
        """Global vector of point loads ``(n_dofs,)``."""
        f = np.zeros(self.space.n_dofs)
        c = self.space.n_components
        for name, nodes in self._point_loads:
            np.add.at(f, (nodes[:, None] * c + np.arange(c)).ravel(),
                      np.tile(np.asarray(params[name], dtype=np.float64), len(nodes)))
        return f

    def residual(self, u, params=None) -> np.ndarray:
        """Global residual ``(n_dofs,)`` at a flat dof vector (prescribed dofs included)."""
        params = self.parameters(params)
        return self.assembler.residual(u, self.split(params)) - self.external_point_forces(params)

    def residual_and_tangent(self, u, params=None):
        """Global residual ``(n_dofs,)`` and tangent (CSR) at a flat dof vector."""
        params = self.parameters(params)
        r, K = self.assembler.residual_and_tangent(u, self.split(params))
        return r - self.external_point_forces(params), K

    def traced_residual(self, u, params, X, *, loads_only: bool = False):
        """R(u, p, X) ``(n_dofs,)`` as a JAX function (for ``jax.vjp``/``jax.jvp``):
        the same residual Newton solves, point loads included."""
        c = self.space.n_components
        r = traced_residual(self.assembler, u, self.split(params), X, loads_only=loads_only)
        for name, nodes in self._point_loads:
            dofs = (nodes[:, None] * c + np.arange(c)).ravel()
            r = r.at[dofs].add(-jnp.tile(jnp.asarray(params[name]), len(nodes)))
        return r

    def external_loads(self, params, X):
        """Dead external load vector f(p, X) ``(n_dofs,)`` in JAX."""
        return -self.traced_residual(jnp.zeros(self.space.n_dofs), params, X, loads_only=True)

    # -- solve ---------------------------------------------------------------------------
    def solve(self, params: Mapping[str, Any] | None = None, *, load_steps: int = 1,
              initial=None, raise_on_failure: bool = True) -> np.ndarray:
        """Solve for the field; returns nodal values ``(n_nodes,)`` or ``(n_nodes, c)``.

        Args:
            params: parameter overrides for this solve (name → value).
            load_steps: apply loads and prescribed values in this many equal increments
                (a positive integer; halved automatically when Newton fails on one).
            initial: starting field (default: the last converged state, else zero).
            raise_on_failure: raise NewtonError (default), or return Newton's last iterate
                and leave ``self.state`` marked ``converged=False`` with the reason.

        The state (with the tangent's factorization) is kept in ``self.state``.

        Raises:
            InputError: ``params`` not a mapping, ``initial`` not ``n_dofs`` real numbers,
                or the mesh is one of several pieces of a distributed mesh (solve those
                with ``femopt.distributed.DistributedProblem``).
            ParameterError: a parameter value is not numbers, NaN/Inf or not admissible.
            SingularJacobianError: the tangent is singular; names the global dofs, nodes
                and components, and for unsupported parts the free rigid-body modes.
            NewtonError: Newton stopped without converging (``raise_on_failure``).

        A long factorization or CG solve (50 000 unknowns or more) shows a progress line
        on standard error when the script has not configured logging (see the guide).
        """
        with progress_output():
            return self._solve(params, load_steps, initial, raise_on_failure)

    def _solve(self, params, load_steps, initial, raise_on_failure):
        require_whole(self.mesh, "Problem.solve")
        if isinstance(load_steps, bool) or not isinstance(load_steps, (int, np.integer)) or load_steps < 1:
            raise InputError(f"load_steps must be a positive integer (1 = apply the full load at once), "
                             f"got {load_steps!r}")
        params = self.parameters(params)
        self.check_parameters(params)
        part = self.partition
        if initial is not None:
            u0 = initial_vector(initial, self.space)
        elif self.state is not None and self.state.converged and self.state.u.size == self.space.n_dofs:
            u0 = self.state.u.copy()
        else:
            u0 = np.zeros(self.space.n_dofs)
        prescribed = self.prescribed_values()
        options = self.newton_options
        if getattr(self.physics, "linear", False):
            # An affine residual has one tangent: the factorization of the Newton step is
            # already the one at the solution, so don't assemble and factorize it again.
            options = replace(options, refactor_at_solution=False)

        probed = []
        solver = self.bound_linear_solver()

        def solve_at(load_factor, u_start_free):
            scaled = {k: (scale_value(v, load_factor) if k in self._load_names else v) for k, v in params.items()}
            values = prescribed * load_factor
            split = self.split(scaled)
            f_point = self.external_point_forces(scaled)[part.free]

            def residual(u_free):
                return self.assembler.residual(part.expand(u_free, values), split)[part.free] - f_point

            def residual_and_jacobian(u_free):
                r, K = self.assembler.residual_and_tangent(part.expand(u_free, values), split)
                K_free = part.free_block(K)
                if not probed:
                    probed.append(True)
                    self._refuse_free_motions(K_free)
                return r[part.free] - f_point, K_free

            # tolerances relative to the size of what the residual sums at rest (free dofs 0)
            rest = part.expand(np.zeros_like(u_start_free), values)
            at_rest = np.linalg.norm(self.assembler.residual(rest, split, magnitude=True)[part.free]) \
                + np.linalg.norm(f_point)
            return newton(residual, residual_and_jacobian, u_start_free, options=options.scaled_to(at_rest),
                          linear_solver=solver, raise_on_failure=raise_on_failure,
                          energy=self._energy_merit(scaled, split, values, f_point))

        u0_free = u0[part.free]
        if part.free.size == 0:            # every dof prescribed: the field is the prescribed one
            self.state = State(part.expand(u0_free, prescribed), params, empty_factorization(), reason="prescribed")
            return self.space.as_field(self.state.u)
        try:
            if load_steps == 1:
                final = solve_at(1.0, u0_free)
                results, converged = [final], final.converged
                reason, message = final.reason, final.message
            else:
                stepping = load_stepping(solve_at, u0_free, n_steps=load_steps, raise_on_failure=raise_on_failure)
                results, converged = list(stepping.results), stepping.converged
                final = results[-1] if results else None
                reason = final.reason if converged else (stepping.cutbacks[-1].reason if stepping.cutbacks
                                                         else "max_iterations")
                message = final.message if converged else stepping.message
        except SingularJacobianError:
            raise
        except NewtonError as error:
            if error.reason == "singular":
                raise singular_jacobian_error(self, error) from error
            raise
        if converged:
            u = part.expand(final.u, prescribed)
            tangled = tangled_cells(self.mesh, u, self.physics)
            if tangled.size == 0:
                self.state = State(u=u, params=params, factorization=final.factorization, newton=results)
                return self.space.as_field(u)
            converged, reason = False, "inverted"
            message = (f"Newton converged to a state that inverts {tangled.size} cell(s) (det F <= 0 at nodes of "
                       f"cells {tangled[:10].tolist()}{' ...' if tangled.size > 10 else ''}): not a "
                       "physical solution. Apply the load in more steps (load_steps=), and check the material "
                       "(an energy that stays bounded as det F -> 0, e.g. lmbda > 0, cannot be tangled this way)")
            if raise_on_failure:
                raise NewtonError(message, history=final.iterations, reason=reason)
        last = final.u if (load_steps == 1 or reason == "inverted") else (
            stepping.u if stepping.u is not None else u0_free)
        u = part.expand(last, prescribed * (1.0 if load_steps == 1 else (stepping.load_factors or [0.0])[-1]))
        self.state = State(u=u, params=params, factorization=None, newton=results, converged=False,
                           reason=reason, message=message)
        _log.warning("Problem.solve did not converge (%s); returning the last iterate, marked "
                     "problem.state.converged = False: %s", reason, message)
        return self.space.as_field(u)

    def _energy_merit(self, params, split, prescribed_values, f_point_free):
        """The total potential Π(u_free) = Σ∫ψ − f·u when the problem is variational
        (energy physics, dead loads only), for Newton's line search; else None."""
        if self.physics.linear or not has_energy(self.assembler):
            return None
        part = self.partition
        X = jnp.asarray(self.mesh.points)
        f_ext = np.asarray(self.external_loads(params, X))
        if self._energy_jit is None:
            assembler = self.assembler
            self._energy_jit = jax.jit(lambda u, split: traced_energy(assembler, u, split, X))

        def energy(u_free):
            u = part.expand(u_free, prescribed_values)
            return float(self._energy_jit(jnp.asarray(u), split)) - float(f_ext @ u)

        return energy

    def bound_linear_solver(self, *, repeated_solves: bool = False):
        """``linear_solver`` bound to this system (free dofs, nodes, symmetry): "auto" chooses
        here, CG + AMG gets the near-null space. Kept while the supports and the solver stay
        the same, so a preconditioner can be reused from one solve to the next.
        ``repeated_solves``: many solves will follow each factorization (a linear
        transient run), which moves "auto" towards direct solvers."""
        key = (id(self.linear_solver), id(self.partition), bool(repeated_solves))
        bound = getattr(self, "_bound", None) or {}
        if bound.get("key") != (id(self.linear_solver), id(self.partition)):
            bound = {"key": (id(self.linear_solver), id(self.partition))}
        if key not in bound:
            symmetric = bool(getattr(self.physics, "symmetric", False))
            context = SolverContext(self.mesh.points, self.space.n_components, self.partition.free, symmetric,
                                    mesh=self.mesh, repeated_solves=bool(repeated_solves))
            bound[key] = self.linear_solver.with_context(context)
        self._bound = bound
        return bound[key]

    def _refuse_free_motions(self, K_free) -> None:
        """Before the first factorization of a solve: raise SingularJacobianError when a
        node belongs to no cell or the supports leave a part of the mesh a motion that
        the tangent does not resist (checked with a few mat-vecs, so springs and
        convection that hold a part are honoured). A direct solver would otherwise return
        an arbitrary rigid motion for a consistent load, and CG iterate to its limit."""
        largest = float(np.max(np.abs(K_free.data))) if K_free.nnz else 0.0
        if np.isfinite(largest) and largest >= OVERFLOW_ENTRY:
            raise InputError(f"the tangent (stiffness) matrix has entries of size {largest:.3g}: float64 "
                             "cannot form norms or pivots of such numbers (their squares overflow 1.8e308), so "
                             "the solve would fail with a misleading 'singular' message. Rescale the units of "
                             "the material constants and loads (e.g. MPa and mm instead of Pa and m).")
        part = self.partition
        c = self.space.n_components
        orphans = orphan_nodes(self.mesh.n_nodes, self.mesh.cells)
        loose = orphans.size and not np.all(np.isin((orphans[:, None] * c + np.arange(c)).ravel(), part.prescribed))
        if self._free_parts is None:
            self._free_parts = free_parts(self.mesh.points, self.mesh.cells, c, part.prescribed)
        unheld = null_motions(self, K_free, self._free_parts) if self._free_parts else []
        if loose or unheld:
            raise singular_jacobian_error(self, parts=unheld)

    def physics_allows_no_supports(self) -> bool:
        """Whether the problem is well posed without supports (a convection boundary)."""
        return bool(self._facet_terms) and any(isinstance(t.load, Convection) for t in self._facet_terms)

    def __repr__(self) -> str:
        loads = ", ".join(f"{kind} {name!r}" for kind, name, _ in self.loads()) or "no loads"
        return (f"Problem({type(self.physics).__name__}, {self.mesh.n_cells} {self.mesh.cell_type.name} cells, "
                f"{self.space.n_dofs} dofs ({self.partition.prescribed.size} prescribed); {loads}; "
                f"{'solved' if self.state is not None else 'not solved'})")
