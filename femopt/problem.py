"""Problem: space + physics + supports + loads + parameters → state.

The one place where the layers meet. A problem owns the named parameters (material
constants and load magnitudes, each a default that a solve can override), the
Dirichlet conditions, and the last converged state with its factorization — which the
adjoint reuses.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .assembly.assembler import Assembler, CellTerm, FacetTerm
from .assembly.dirichlet import DofPartition
from .assembly.parameters import split_parameters
from .assembly.traced import has_energy, traced_energy, traced_residual
from .errors import InputError
from .fem.space import FunctionSpace
from .mesh.mesh import Mesh
from .physics.loads import Convection, HeatFlux, Pressure, Traction, VolumeLoad
from .solvers.continuation import load_stepping
from .solvers.linear import make_solver
from .solvers.newton import NewtonOptions, newton

__all__ = ["Problem", "State"]

_log = logging.getLogger("femopt.problem")


@dataclass
class State:
    """A converged solution and what produced it.

    Attributes:
        u: flat dof vector ``(n_dofs,)``.
        params: the parameter values used (name → array).
        factorization: factorization of the free–free tangent at ``u`` (reused by the adjoint).
        newton: the Newton result(s) — iteration history.
    """

    u: np.ndarray
    params: dict
    factorization: Any = None
    newton: list = field(default_factory=list)


class Problem:
    """A boundary-value problem ready to solve.

    Args:
        space: a :class:`FunctionSpace`, or a :class:`Mesh` (the space is then made with
            as many components as the physics needs).
        physics: the pointwise law (``LinearElasticity``, ``NeoHookean``,
            ``HeatConduction``, or your own :class:`~femopt.physics.Physics`).
        linear_solver: ``"auto"``, ``"direct"``, ``"cg"`` or a LinearSolver.
        newton: :class:`NewtonOptions` for nonlinear solves.
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
        self._point_shapes = {k: self._physics_point_shape(k, v) for k, v in physics.parameters.items()}
        self._load_names: set[str] = set()
        self._cell_terms = [CellTerm(physics)]
        self._facet_terms: list[FacetTerm] = []
        self._point_loads: list[tuple[str, np.ndarray, np.ndarray]] = []
        self._dirichlet: dict[int, float] = {}
        self._assembler: Assembler | None = None
        self._energy_jit = None
        self.state: State | None = None

    def _physics_point_shape(self, name, value):
        """Per-point shape of a physics parameter: declared by the physics
        (``parameter_shapes``), else that of its value — minus a leading cells/nodes axis
        when the value is a field."""
        declared = getattr(self.physics, "parameter_shapes", {}) or {}
        if name in declared:
            return tuple(declared[name])
        shape = np.shape(getattr(value, "values", value))
        if shape and shape[0] in (self.mesh.n_cells, self.mesh.n_nodes):
            return shape[1:]
        return shape

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
        comps = self.space._components(components)
        if callable(value):
            vals = np.asarray(value(self.mesh.points[nodes]), dtype=np.float64)
            vals = vals.reshape(len(nodes), -1)
            if vals.shape[1] == self.space.n_components and len(comps) != vals.shape[1]:
                vals = vals[:, comps]
        else:
            vals = np.asarray(value, dtype=np.float64)
        vals = np.broadcast_to(vals, (len(nodes), len(comps))) if vals.ndim < 2 or vals.shape[1:] == (len(comps),) \
            else vals
        if vals.shape != (len(nodes), len(comps)):
            raise InputError(f"fix(): value has shape {np.shape(value)}; expected a number, "
                             f"{len(comps)} numbers, or a function returning ({len(nodes)}, {len(comps)})")
        dofs = (nodes[:, None] * self.space.n_components + comps[None, :]).ravel()
        self._dirichlet.update(zip(dofs.tolist(), np.asarray(vals, dtype=np.float64).ravel().tolist()))
        self._invalidate(state=True)
        return self

    # -- loads ---------------------------------------------------------------------------
    def traction(self, selection, value, *, name: str | None = None) -> "Problem":
        """Dead traction (force per reference area) on boundary facets; ``value`` is a
        vector ``(n_components,)``, a field, or a function ``f(x)`` (JAX) scaled by the
        parameter ``name`` (default 1)."""
        return self._facet_load(Traction, selection, value, name or self._new_name("traction"),
                                (self.space.n_components,))

    def pressure(self, selection, value, *, name: str | None = None) -> "Problem":
        """Pressure on boundary facets (pushes against the outward normal)."""
        return self._facet_load(Pressure, selection, value, name or self._new_name("pressure"), ())

    def heat_flux(self, selection, value, *, name: str | None = None) -> "Problem":
        """Heat flux into the body through boundary facets (per unit area)."""
        return self._facet_load(HeatFlux, selection, value, name or self._new_name("heat_flux"), ())

    def convection(self, selection, h, ambient, *, name: str | None = None) -> "Problem":
        """Convective (Robin) cooling h (T − ambient); parameters ``<name>.h`` and
        ``<name>.ambient``."""
        name = name or self._new_name("convection")
        facets = self.mesh.facets(selection)
        load = Convection(name)
        for pname, value in zip(load.parameter_names(), (h, ambient)):
            self._add_parameter(pname, value, ())
        self._facet_terms.append(FacetTerm(load, facets))
        self._invalidate()
        return self

    def body_force(self, value, *, name: str = "body_force", cells=None) -> "Problem":
        """Force per unit volume: a vector, a per-cell/per-node field, or ``f(x)`` (JAX)."""
        return self._volume_load(value, name, (self.space.n_components,), cells)

    def heat_source(self, value, *, name: str = "heat_source", cells=None) -> "Problem":
        """Heat generated per unit volume: a number, a field, or ``f(x)`` (JAX)."""
        return self._volume_load(value, name, (), cells)

    def point_load(self, selection, value, *, name: str | None = None) -> "Problem":
        """A force on each selected node (``value`` per node, ``(n_components,)``)."""
        name = name or self._new_name("point_load")
        nodes = self.mesh.nodes(selection)
        self._add_parameter(name, value, (self.space.n_components,), fields=False)
        self._point_loads.append((name, nodes))
        self._invalidate()
        return self

    def _new_name(self, base):
        k = 0
        while f"{base}{k or ''}" in self.params:
            k += 1
        return f"{base}{k or ''}"

    def _add_parameter(self, name, value, point_shape, fields=True):
        if name in self.params:
            raise InputError(f"parameter name {name!r} is taken; pass name=... to choose another")
        value = np.asarray(value, dtype=np.float64)
        if not fields and value.shape != point_shape:
            raise InputError(f"{name!r}: expected shape {point_shape}, got {value.shape}")
        self.params[name] = value
        self._point_shapes[name] = tuple(point_shape)
        self._load_names.add(name)

    def _split_value(self, value, point_shape):
        if callable(value):
            return value, np.float64(1.0), ()
        return None, value, point_shape

    def _facet_load(self, cls, selection, value, name, point_shape):
        facets = self.mesh.facets(selection)
        fn, stored, ps = self._split_value(value, point_shape)
        self._add_parameter(name, stored, ps)
        self._facet_terms.append(FacetTerm(cls(name, fn), facets))
        self._invalidate()
        return self

    def _volume_load(self, value, name, point_shape, cells):
        fn, stored, ps = self._split_value(value, point_shape)
        self._add_parameter(name, stored, ps)
        cell_ids = None if cells is None else self.mesh.cells_where(cells) if callable(cells) else np.asarray(cells)
        self._cell_terms.append(CellTerm(VolumeLoad(name, fn), cell_ids))
        self._invalidate()
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
        for name, value in (overrides or {}).items():
            if name not in params:
                raise InputError(f"unknown parameter {name!r}; this problem has {sorted(params)}")
            params[name] = value
        return params

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
                (halved automatically when Newton fails on an increment).
            initial: starting field (default: the last converged state, else zero).
            raise_on_failure: raise NewtonError (default) or return the last iterate.

        The converged state (with the tangent's factorization) is kept in ``self.state``.
        """
        params = self.parameters(params)
        part = self.partition
        if part.free.size == self.space.n_dofs and not self.physics_allows_no_supports():
            _log.info("no Dirichlet conditions: the tangent may be singular (rigid-body modes)")
        if initial is not None:
            u0 = self.space.as_vector(initial)
        elif self.state is not None and self.state.u.size == self.space.n_dofs:
            u0 = self.state.u.copy()
        else:
            u0 = np.zeros(self.space.n_dofs)
        prescribed = self.prescribed_values()
        options = self.newton_options
        if getattr(self.physics, "linear", False):
            # An affine residual has one tangent: the factorization of the Newton step is
            # already the one at the solution, so don't assemble and factorize it again.
            options = replace(options, refactor_at_solution=False)

        def solve_at(load_factor, u_start_free):
            scaled = {k: (np.asarray(v) * load_factor if k in self._load_names else v) for k, v in params.items()}
            values = prescribed * load_factor
            split = self.split(scaled)
            f_point = self.external_point_forces(scaled)[part.free]

            def residual(u_free):
                return self.assembler.residual(part.expand(u_free, values), split)[part.free] - f_point

            def residual_and_jacobian(u_free):
                r, K = self.assembler.residual_and_tangent(part.expand(u_free, values), split)
                return r[part.free] - f_point, part.free_block(K)

            return newton(residual, residual_and_jacobian, u_start_free, options=options,
                          linear_solver=self.linear_solver, raise_on_failure=raise_on_failure,
                          energy=self._energy_merit(scaled, split, values, f_point))

        u0_free = u0[part.free]
        if load_steps <= 1:
            results = [solve_at(1.0, u0_free)]
        else:
            stepping = load_stepping(solve_at, u0_free, n_steps=load_steps, raise_on_failure=raise_on_failure)
            results = list(stepping.results)
        final = results[-1]
        u = part.expand(final.u, prescribed)
        if final.converged:
            self.state = State(u=u, params=params, factorization=final.factorization, newton=results)
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

    def physics_allows_no_supports(self) -> bool:
        """True when a problem without Dirichlet conditions is still well posed (e.g. a
        convection boundary)."""
        return bool(self._facet_terms) and any(isinstance(t.load, Convection) for t in self._facet_terms)
