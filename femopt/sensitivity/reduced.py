"""j(x) = J(u(p(x)), p(x)) over one flat vector x, for ``scipy.optimize.minimize``.

``fun``, ``jac`` and ``hessp`` share the solve: each first brings the problem's state to
x (a Newton solve only when x changed), ``jac`` is one adjoint solve and ``hessp`` one
tangent and one second adjoint solve (:mod:`~femopt.sensitivity.hessian`), so the
trust-region Newton-CG methods (``trust-ncg``, ``trust-krylov``, ``Newton-CG``) get
exact second-order information at two triangular-solve pairs per product::

    rf = ReducedFunctional(misfit, problem, wrt=["E", "nu"])
    result = scipy.optimize.minimize(rf.fun, rf.x0, jac=rf.jac, hessp=rf.hessp, method="trust-ncg")
    problem.solve(rf.to_params(result.x))
"""
from __future__ import annotations

import numpy as np

from ..assembly.parameters import cell_field, nodal_field
from ..errors import InputError
from ..functionals.compiled import partials
from .adjoint import gradient
from .hessian import hessian_vector_product
from .state import COORDINATES, PRESCRIBED, ensure_state, unwrap, wrt_names

__all__ = ["ReducedFunctional"]


class ReducedFunctional:
    """A functional of a problem's parameters seen as a function of one flat vector.

    Args:
        functional: the :class:`~femopt.functionals.Functional` J.
        problem: the problem whose parameters vary.
        wrt: parameter names making up x, in this order (globals, cell or node fields;
            not ``"coordinates"`` or ``"prescribed"``, which a Problem can not change).
        params: values of the other parameters and the starting values of ``wrt``.

    Attributes:
        x0: the starting vector (``wrt`` values flattened and concatenated).
        n_solves: Newton solves made so far (a check that fun/jac/hessp share them).
    """

    def __init__(self, functional, problem, wrt, params=None):
        names = wrt_names(problem, wrt)
        for n in names:
            if n in (COORDINATES, PRESCRIBED):
                raise InputError(f"ReducedFunctional varies parameters; {n!r} is not one "
                                 "(use gradient() / hessian_vector_product() directly)")
        self.functional = functional
        self.problem = problem
        self.names = names
        self.base = problem.parameters(params)
        self.shapes = [np.shape(unwrap(self.base[n])) for n in names]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.x0 = np.concatenate([np.ravel(np.asarray(unwrap(self.base[n]), dtype=np.float64))
                                  for n in names]) if names else np.zeros(0)
        self.n_solves = 0

    def to_params(self, x) -> dict:
        """Parameter overrides for the vector ``x`` (field markers kept)."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != self.x0.shape:
            raise InputError(f"x has shape {x.shape}, expected {self.x0.shape}")
        out = dict(self.base)
        start = 0
        for n, shape, size in zip(self.names, self.shapes, self.sizes):
            value = x[start:start + size].reshape(shape)
            kind = getattr(self.base[n], "kind", None)
            out[n] = cell_field(value) if kind == "cell" else nodal_field(value) if kind == "node" else value
            start += size
        return out

    def _flatten(self, parts) -> np.ndarray:
        return np.concatenate([np.ravel(parts[n]) for n in self.names])

    def _at(self, x):
        params = self.to_params(x)
        before = self.problem.state
        ensure_state(self.problem, params)
        if self.problem.state is not before:
            self.n_solves += 1
        return params

    def fun(self, x) -> float:
        """j(x) (a solve when x is new; no adjoint)."""
        self._at(x)
        state = self.problem.state
        return partials(self.functional, self.problem, state.u, state.params)[0]

    def jac(self, x) -> np.ndarray:
        """∇j(x), flat (adjoint)."""
        return self.value_and_grad(x)[1]

    def value_and_grad(self, x):
        """``(j(x), ∇j(x))`` — for ``minimize(rf.value_and_grad, x0, jac=True)``."""
        params = self._at(x)
        g = gradient(self.functional, self.problem, self.names, params, method="adjoint")
        return g.value, self._flatten(g.grads)

    def hessp(self, x, v) -> np.ndarray:
        """∇²j(x) · v, flat (second-order adjoint)."""
        params = self._at(x)
        v = np.asarray(v, dtype=np.float64)
        direction, start = {}, 0
        for n, shape, size in zip(self.names, self.shapes, self.sizes):
            direction[n] = v[start:start + size].reshape(shape)
            start += size
        return self._flatten(hessian_vector_product(self.functional, self.problem, direction,
                                                    wrt=self.names, params=params))
