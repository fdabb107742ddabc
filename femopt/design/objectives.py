"""Objectives and constraints of a design, as ``x → (value, gradient)`` callables for
:func:`femopt.optimize.minimize`.

* :class:`Compliance`: structural (or thermal) compliance through a
  :class:`~femopt.design.CellScaledModel` (fast path: one factorization, no re-tracing).
* :class:`FunctionalObjective`: any femopt functional through the general adjoint
  (``femopt.sensitivity.gradient``) — nonlinear physics with load steps, stresses, point
  values, data misfits — with one or several problem parameters computed from the design.
* :class:`VolumeConstraint`: ρ-weighted volume fraction ≤ target, written g(x) ≤ 0.
* :class:`Sum`: the sum of objectives, e.g. a data misfit plus a regularization
  (``objective + Tikhonov(...)`` builds one).

Each chains the derivative with respect to the problem parameters back to the design
with the design's ``vjp`` (JAX), and has a ``fingerprint()`` (the mesh, problem, design
and its own settings; :mod:`femopt.design.fingerprint`) that minimize's checkpoint keeps
so that a checkpoint is never resumed by a different problem.
"""
from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..assembly.parameters import cell_field
from ..errors import InputError
from ..sensitivity import gradient as adjoint_gradient
from ..sensitivity.state import check_solve_options
from .fingerprint import describe, fingerprint_of, merge, name_of, problem_fingerprint

__all__ = ["Objective", "Sum", "Compliance", "FunctionalObjective", "VolumeConstraint"]


class Objective:
    """Base of femopt's ``x → (value, gradient)`` objectives: ``a + b`` is their
    :class:`Sum` (a plain function may stand on either side)."""

    def __add__(self, other):
        return Sum(self, other)

    def __radd__(self, other):
        return Sum(other, self)


class Sum(Objective):
    """x → (Σ_i f_i(x), Σ_i ∇f_i(x)) for objectives ``f_i: x → (value, gradient)``.

    Attributes:
        terms: the objectives (nested sums flattened).
        values: each term's value at the last evaluation (e.g. misfit and penalty apart,
            for a discrepancy-principle check).
    """

    def __init__(self, *terms):
        flat = []
        for term in terms:
            if isinstance(term, Sum):
                flat.extend(term.terms)
            elif callable(term):
                flat.append(term)
            else:
                raise InputError(f"Sum adds callables x -> (value, gradient), got {type(term).__name__}")
        if not flat:
            raise InputError("Sum needs at least one objective")
        self.terms = tuple(flat)
        self.values: list[float] = []

    def __call__(self, x):
        values, total = [], 0.0
        for term in self.terms:
            value, gradient = term(x)
            values.append(float(value))
            total = total + np.asarray(gradient, dtype=np.float64)
        self.values = values
        return float(sum(values)), total

    def fingerprint(self) -> dict[str, str]:
        """The terms' names and their merged fingerprints."""
        parts = [(f"term {i}", fingerprint_of(t)) for i, t in enumerate(self.terms)]
        return merge([("sum", {"sum": " + ".join(name_of(t) for t in self.terms)}), *parts])


def _design_fingerprint(design) -> dict[str, str]:
    return fingerprint_of(design) or {"design": "none" if design is None else name_of(design)}


class Compliance(Objective):
    """Compliance C(x) = f·u(E(ρ(x))) and dC/dx.

    Args:
        model: a :class:`~femopt.design.CellScaledModel` of the problem.
        design: the :class:`~femopt.design.DensityDesign`.
        sensitivity_filter: a :class:`~femopt.design.DensityFilter` to apply Sigmund's
            sensitivity filter to dC/dx (top88 ``ft = 1``; pair it with ``method="oc"``
            and a design without density filter).
        scale: the value and gradient are multiplied by this (MMA likes O(1..100)).

    Attributes:
        last: ``{"u": free dofs, "rho": densities, "E": stiffness}`` of the last evaluation.
    """

    def __init__(self, model, design, *, sensitivity_filter=None, scale: float = 1.0):
        if model.n_cells != design.mesh.n_cells:
            raise InputError(f"model has {model.n_cells} cells, design {design.mesh.n_cells}")
        self.model, self.design = model, design
        self.sensitivity_filter = sensitivity_filter
        self.scale = float(scale)
        self.last: dict = {}

    def __call__(self, x):
        rho, E = self.design(x)
        c, dc_dE, u = self.model.compliance(E)
        grad = self.design.vjp(x, property_bar=dc_dE)
        if self.sensitivity_filter is not None:
            active = self.design.active
            full = np.zeros(self.design.mesh.n_cells)
            full[active] = grad
            grad = self.sensitivity_filter.filter_sensitivity(self.design.expand(x), full)[active]
        self.last = {"u": u, "rho": rho, "E": E}
        return self.scale * c, self.scale * grad

    def fingerprint(self) -> dict[str, str]:
        """The problem, the design and the compliance's own settings."""
        flt = self.sensitivity_filter
        own = {"compliance": f"scale {describe(self.scale)}, parameter {self.model.parameter!r}, sensitivity filter "
                             + ("none" if flt is None else f"{type(flt).__name__}(radius={describe(flt.radius)})")}
        own["linear solver"] = describe(self.model.linear_solver, depth=1)
        return merge([("compliance", own), ("compliance", problem_fingerprint(self.model.problem)),
                      ("compliance", _design_fingerprint(self.design))])

    def state_dict(self) -> dict:
        """The model's warm start (:meth:`CellScaledModel.state_dict`), for the checkpoint."""
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output."""
        self.model.load_state_dict(state)


class FunctionalObjective(Objective):
    """``x → (scale · (J − shift), its gradient)`` for any functional J of a problem whose
    parameters are computed from the design; dJ/dx by femopt's general adjoint, then
    ``jax.vjp`` of the parameter map and the design's ``vjp``.

    Args:
        problem: the problem J is a functional of.
        functional: a femopt functional (``femopt.functionals``).
        design: a :class:`~femopt.design.DensityDesign` (outputs ``(ρ, E)``), or None: the
            design vector is itself the field (output ``(x,)``), as in a calibration.
        parameters: which problem parameters the design sets, and how:

            * a name: that parameter is the design's last output (the interpolated
              property E(ρ); x itself when ``design`` is None);
            * a dict ``{name: function of the design's outputs}``, e.g. both neo-Hookean
              constants from one SIMP factor, ``{"mu": lambda rho, s: mu0 * s,
              "lmbda": lambda rho, s: lmbda0 * s}``, or a stiffness and a stress weight,
              ``{"E": lambda rho, E: E, "w": lambda rho, E: rho**0.5 / E}``. The
              functions are written with ``jax.numpy`` (differentiated by ``jax.vjp``);
              values with one entry per cell are passed as cell fields.
        solve_options: keywords for ``problem.solve`` when the design is new, e.g.
            ``{"load_steps": 4, "initial": np.zeros(problem.space.n_dofs)}``; objectives
            of one problem at one design share the solve.
        scale, shift: value = scale · (J − shift); e.g. a constraint J ≤ J_max reads
            ``scale=1/J_max, shift=J_max``.

    Slower than :class:`Compliance` (a Newton solve and a traced residual per call) but
    valid for nonlinear physics and any functional.
    """

    def __init__(self, problem, functional, design, parameters, *, solve_options=None,
                 scale: float = 1.0, shift: float = 0.0):
        self.problem, self.functional, self.design = problem, functional, design
        if isinstance(parameters, str):
            self.names = (parameters,)
            maps = {parameters: lambda *outputs: outputs[-1]}
        elif isinstance(parameters, Mapping) and parameters:
            self.names = tuple(parameters)
            maps = dict(parameters)
            for name, function in maps.items():
                if not callable(function):
                    raise InputError(f"parameters[{name!r}] must be a function of the design's outputs, "
                                     f"got {type(function).__name__}")
        else:
            raise InputError("parameters must be a parameter name or a non-empty dict {name: function of the "
                             f"design's outputs}}, got {parameters!r}")
        for name in self.names:
            if name not in problem.params:
                raise InputError(f"{name!r} is not a parameter of the problem; it has {sorted(problem.params)}")
        self.solve_options = check_solve_options(problem, solve_options)
        self.scale, self.shift = float(scale), float(shift)
        self._forward = jax.jit(lambda outputs: {n: maps[n](*outputs) for n in self.names})
        self._backward = jax.jit(lambda outputs, bars: jax.vjp(
            lambda *o: {n: maps[n](*o) for n in self.names}, *outputs)[1](bars))

    def parameters(self, x) -> tuple[tuple, dict]:
        """The design's outputs and the problem parameters ``{name: value}`` at ``x``."""
        outputs = tuple(jnp.asarray(o) for o in (self.design(x) if self.design is not None
                                                 else (np.asarray(x, dtype=np.float64),)))
        params = {}
        for name, value in self._forward(outputs).items():
            value = np.asarray(value, dtype=np.float64)
            params[name] = cell_field(value) if value.shape[:1] == (self.problem.mesh.n_cells,) else value
        return outputs, params

    def __call__(self, x):
        outputs, params = self.parameters(x)
        g = adjoint_gradient(self.functional, self.problem, wrt=list(self.names), params=params,
                             solve_options=self.solve_options)
        bars = self._backward(outputs, {n: jnp.asarray(g[n]) for n in self.names})
        bars = [np.asarray(b) for b in bars]
        grad = bars[0] if self.design is None else self.design.vjp(x, *bars)
        return self.scale * (g.value - self.shift), self.scale * np.asarray(grad)

    def fingerprint(self) -> dict[str, str]:
        """The problem, the design, the functional and the settings of this objective."""
        own = {"functional": (f"{describe(self.functional)}, parameters {', '.join(self.names)}, scale "
                              f"{describe(self.scale)}, shift {describe(self.shift)}, solve options "
                              f"{describe(self.solve_options)}")}
        return merge([("functional", own), ("functional", problem_fingerprint(self.problem)),
                      ("functional", _design_fingerprint(self.design))])


class VolumeConstraint:
    """g(x) = V(ρ(x)) / (fraction · V_total) − 1 ≤ 0: the material volume fraction of the
    physical densities (passive solid included) at most ``fraction``."""

    def __init__(self, design, fraction: float):
        if not 0.0 < fraction <= 1.0:
            raise InputError(f"volume fraction must be in (0, 1], got {fraction!r}")
        self.design, self.fraction = design, float(fraction)
        self._weights = design.volumes / (design.volumes.sum() * self.fraction)

    def value(self, x) -> float:
        """g(x) without its gradient (cheap: no FE solve; optimality criteria bisect on it)."""
        # multiply-and-sum, not a BLAS dot: called ~30 times per OC step, and a threaded
        # BLAS call on a busy machine can cost milliseconds where this costs microseconds.
        return float(np.sum(self._weights * self.design.density(x)) - 1.0)

    def __call__(self, x):
        rho = self.design.density(x)
        return float(self._weights @ rho - 1.0), self.design.vjp(x, density_bar=self._weights)

    def fingerprint(self) -> dict[str, str]:
        """The design and the volume fraction."""
        return merge([("volume", {"volume fraction": describe(self.fraction)}),
                      ("volume", _design_fingerprint(self.design))])
